"""One small interface to run a stack, and the neutral records every engine answers in.

Two engines implement it: the built-in engine (`builtin.py`: the program in-process, Pulumi's mocks in front of
the real providers, the pack launched as the CLI launches it) and the Pulumi CLI (`pulumi_cli.py`: the real
engine through the Automation API, with a private home and file backend). `pulumi-flow run` is one pipeline
over this interface; each engine supplies only what differs: how it runs, and how it is stopped.
"""

from __future__ import annotations

import abc
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from pulumi_flow.engines.plugins import Verdict


@attrs.define
class Registration:
    """One resource of a stack as an engine saw it: options, inputs (and the provider's checked inputs), outputs."""

    urn: str
    type: str
    name: str
    custom: bool
    parent: str | None
    inputs: dict[str, Any]
    protect: bool
    depends_on: list[str]
    ignore_changes: list[str]
    retain_on_delete: bool
    custom_timeouts: dict[str, str] | None
    delete_before_replace: bool
    property_dependencies: dict[str, list[str]] = attrs.Factory(dict)
    id: str = ""
    outputs: dict[str, Any] = attrs.Factory(dict)
    checked_inputs: dict[str, Any] | None = None


@attrs.frozen
class Created:
    """Something an `up` made on Mithril: its type (as the teardown names it), its id, and its outputs."""

    type: str
    id: str
    outputs: Mapping[str, Any] = attrs.field(factory=dict, eq=False)


@attrs.frozen
class UnrecordedCreate:
    """A create that failed after it may have reached Mithril (an answer lost, a stop): the engine has no id for
    what it may have made, only its checked inputs, from which the bid's or volume's owned name follows."""

    type: str
    name: str
    inputs: Mapping[str, Any]


@attrs.frozen
class Unfound:
    """A failed create whose bid or volume could not be looked up, so it may be live; `name` is its name on
    Mithril, `why` the lookup's error."""

    type: str
    name: str
    why: str


@attrs.frozen
class Failed:
    """A delete that failed; `why` is the provider's error."""

    type: str
    id: str
    why: str


@attrs.frozen
class TearDown:
    """What a teardown removed, what it could not delete, and what it could not even find out about."""

    deleted: list[Created]
    failed: list[Failed] = attrs.Factory(list)
    unfound: list[Unfound] = attrs.Factory(list)

    def count(self, resource_type: str) -> int:
        return sum(d.type == resource_type for d in self.deleted)


@attrs.define
class StackRun:
    """The neutral view of a stack after a preview or an up: its resources, exports and what it created."""

    project: str
    stack: str
    preview: bool
    resources: list[Registration]
    outputs: dict[str, Any]
    created: list[Created] = attrs.Factory(list)

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.resources if r.type == type_]

    def named(self, name: str) -> Registration:
        matches = [r for r in self.resources if r.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources named {name!r}: {[r.name for r in self.resources]}")
        return matches[0]

    def children(self, parent: Registration) -> list[Registration]:
        return [r for r in self.resources if r.parent == parent.urn]

    def by_urn(self, urn: str) -> Registration:
        return next(r for r in self.resources if r.urn == urn)


@attrs.frozen
class Outcome:
    """What a preview or an up gave: the stack as it stands (None where the engine keeps no view of a preview)
    and the pack's verdicts."""

    run: StackRun | None
    verdicts: list[Verdict] = attrs.Factory(list)

    @property
    def blocked(self) -> bool:
        return any(v.blocking for v in self.verdicts)


class PolicyBlocked(Exception):
    """The engine refused to go on: a mandatory policy was violated; `verdicts` says why. Nothing more was created."""

    def __init__(self, message: str, verdicts: list[Verdict]) -> None:
        super().__init__(message)
        self.verdicts = verdicts


class ProgramError(Exception):
    """The user's program raised. Run in this process, `error` is what it raised (for its type and the program's
    own line); run by its language host, it is out of reach, and `reported` is the engine's account of it."""

    def __init__(self, error: BaseException | None = None, *, reported: str = "") -> None:
        super().__init__(str(error) if error is not None else reported)
        self.error = error
        self.reported = reported.strip()

    def describe(self, main: Path) -> str:
        if self.error is not None:
            return describe_program_error(self.error, main)
        if "\n" in self.reported:  # a traceback, which the engine has printed where the user reads it
            return "the program failed: its error and traceback are in the Pulumi CLI's diagnostics above"
        return f"the program failed: {self.reported}"


def describe_program_error(exc: BaseException, main: Path) -> str:
    """`the program failed: TypeError: ... (__main__.py:12)`: the innermost frame in the program's own directory.
    An InputError already names the field, the value and the fix, so it is said as it is."""
    from pulumi_flow.validation import InputError

    where = ""
    home = main.parent.resolve()
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if Path(frame.filename).resolve().is_relative_to(home):
            where = f" ({frame.filename}:{frame.lineno})"
            break
    kind = "" if isinstance(exc, InputError) else f"{type(exc).__name__}: "
    return f"the program failed: {kind}{exc}{where}"


class Engine(abc.ABC):
    """Runs one stack of one program. Used as a context manager around the whole run, teardown included.

    `preview` and `up` raise `ProgramError` when the program fails, `PolicyBlocked` when the engine refuses a
    resource, and anything else when the engine itself fails. After `up` (whatever it raised), `tear_down`
    removes everything it made, and `live` names what is still there."""

    #: One line for the user: which engine this is.
    description: str
    #: Whether the engine prints its own progress (the pipeline then shows no spinner of its own).
    narrates: bool = False

    @abc.abstractmethod
    def preview(self, *, policies: bool) -> Outcome: ...

    @abc.abstractmethod
    def up(self, *, policies: bool) -> Outcome: ...

    @abc.abstractmethod
    def tear_down(self) -> TearDown:
        """Delete what `up` made (tasks before the volumes they mount), past any failure, every failure reported."""

    @abc.abstractmethod
    def live(self) -> list[str]:
        """What this run made that is still live on Mithril, as ids (or `maybe <name>` where only a name is known)."""

    @abc.abstractmethod
    def stop(self) -> None:
        """The user's first Ctrl-C: end every wait, start nothing new; what was made stays for the teardown."""

    def abandon(self) -> None:  # noqa: B027 - a no-op is the right default: most engines have nothing more to stop
        """A second Ctrl-C while the engine still runs: stop now, whatever is left."""

    def kept(self) -> str:
        """For `--keep`: where what was made can be found again."""
        return ""

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

