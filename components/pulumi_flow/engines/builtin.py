"""The built-in engine: a Pulumi program in-process, with our real providers behind Pulumi's mocks.

`run_stack(program)` registers every resource through a mock monitor whose resource hook
runs the real `FlowTask`/`FlowVolume` provider: `check` always (bad input fails the run as it
would fail `pulumi up`), and `create` against Mithril (the emulator, or whatever
`MITHRIL_API_URL` points to) unless `preview=True`. It returns every registration with its
options, inputs and outputs, and the stack's exports, ready for the policy pack.

This replaces the seed pattern of monkeypatching `flow.run` with a lambda: what runs is what
`pulumi up` would run, minus the engine's state file.
"""

from __future__ import annotations

import asyncio
import contextlib
import runpy
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import ResourceProvider
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from pulumi_flow.engines._engine import (
    Created,
    Engine,
    Failed,
    Outcome,
    PolicyBlocked,
    ProgramError,
    Registration,
    StackRun,
    TearDown,
    Unfound,
    UnrecordedCreate,
)
from pulumi_flow.engines.plugins import Verdict
from pulumi_flow.provider import (
    CreateRolledBackError,
    FlowOwnerProvider,
    FlowReservationProvider,
    FlowTaskProvider,
    FlowVolumeProvider,
)
from pulumi_flow.provider.pool import FlowSpotPoolProvider, slot_prefix
from pulumi_flow.provider.task import STOP_WAITING
from pulumi_flow.resources import (
    OWNER_TYPE,
    OWNER_TYPES,
    POOL_TYPE,
    RESERVATION_TYPE,
    STACK_TYPE,
    TASK_TYPE,
    VOLUME_TYPE,
)
from pulumi_flow.validation import is_unknown

PROVIDERS: Mapping[str, Callable[[], ResourceProvider]] = {
    TASK_TYPE: FlowTaskProvider, VOLUME_TYPE: FlowVolumeProvider, OWNER_TYPE: FlowOwnerProvider,
    RESERVATION_TYPE: FlowReservationProvider, POOL_TYPE: FlowSpotPoolProvider}
# What a teardown deletes, in order: what runs on the volumes before the volumes.
TEARDOWN_ORDER = (TASK_TYPE, RESERVATION_TYPE, POOL_TYPE, VOLUME_TYPE)


class _Unknown:
    """A value a preview cannot know yet (Pulumi shows it as `[unknown]`)."""

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN = _Unknown()


SETTLE_SECONDS = 60.0


class StackError(Exception):
    """The program failed as `pulumi up` would fail: bad input, a provider error, or a crash.

    `created` lists what was created before the failure, as the engine's
    state would after a partial `up`; `unrecorded` the creates that failed, whose bid or volume may exist."""

    created: list[Created]
    registrations: list[Registration]
    unrecorded: list[UnrecordedCreate]

    def __init__(self, message: str, created: list[Created] | None = None,
                 registrations: list[Registration] | None = None,
                 unrecorded: list[UnrecordedCreate] | None = None) -> None:
        super().__init__(message)
        self.created = list(created or [])
        self.registrations = list(registrations or [])  # what the monitor received before the failure
        self.unrecorded = list(unrecorded or [])


class ProviderMocks(pulumi.runtime.Mocks):
    """`new_resource` runs our provider's `check`, then `create` unless previewing."""

    def __init__(self, preview: bool, poll_interval_seconds: float | None = None,
                 judge: Judge | None = None, project: str = "project", stack: str = "dev") -> None:
        self.preview = preview
        self.judge = judge
        self.project, self.stack = project, stack
        self.poll_interval_seconds = poll_interval_seconds
        self.created: list[Created] = []
        self.unrecorded: list[UnrecordedCreate] = []
        self.checked: dict[tuple[str, str], dict[str, Any]] = {}
        self._in_flight = 0
        self._settled = threading.Condition()

    def settle(self, timeout: float) -> bool:
        """Wait until no create is running (each records what it made, or cleans up after itself)."""
        with self._settled:
            return self._settled.wait_for(lambda: self._in_flight == 0, timeout)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        inputs = {k: v for k, v in args.inputs.items() if k != "__provider"}
        factory = PROVIDERS.get(args.typ)
        if factory is None:
            return (f"{args.name}-id" if args.custom else None), inputs
        provider = factory()
        if self.poll_interval_seconds is not None and isinstance(provider, FlowTaskProvider | FlowReservationProvider
                                                                    | FlowSpotPoolProvider):
            provider.poll_interval_seconds = self.poll_interval_seconds  # what waits for machines polls
        checked = provider.check({}, inputs)
        if checked.failures:
            problems = "; ".join(f"{f.property}: {f.reason}" for f in checked.failures)
            raise StackError(f"{args.typ} {args.name!r} failed check: {problems}")
        self.checked[(args.typ, args.name)] = dict(checked.inputs)
        if self.preview:
            # The engine never calls create in a preview: outputs stay unknown, as there.
            return None, {k: v for k, v in checked.inputs.items() if v is not None}
        if STOP_WAITING.is_set():
            raise StackError(f"{args.typ} {args.name!r} not created: the run was interrupted")
        if self.judge is not None:
            # As the real engine does per resource: what the preview could not judge (a price from another
            # resource's output) is judged on its known inputs before it is created, and a refusal creates nothing.
            self.judge(f"urn:pulumi:{self.stack}::{self.project}::{args.typ}::{args.name}", args.typ, args.name,
                       dict(checked.inputs))
        with self._settled:
            self._in_flight += 1
        try:
            created = provider.create(checked.inputs)
            if args.typ not in OWNER_TYPES:  # an owner is only a token in state: nothing on Mithril to tear down
                self.created.append(Created(args.typ, created.id, dict(created.outs or {})))
        except CreateRolledBackError:
            raise  # it cancelled what it placed
        except BaseException:
            self.unrecorded.append(UnrecordedCreate(args.typ, args.name, dict(checked.inputs)))
            raise
        finally:
            with self._settled:
                self._in_flight -= 1
                self._settled.notify_all()
        return created.id, created.outs or {}

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


# Called with (urn, type, name, checked inputs) before each create; raises to refuse it.
Judge = Callable[[str, str, str, dict[str, Any]], None]


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """Records what `MockResourceArgs` leaves out: parent, protect, depends_on and the rest."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.registrations: dict[str, Registration] = {}
        self.component_outputs: dict[str, dict[str, Any]] = {}
        self.errors: list[BaseException] = []

    def RegisterResource(self, request: Any) -> Any:
        try:
            response = super().RegisterResource(request)
        except BaseException as exc:
            self.errors.append(exc)
            raise
        if request.type == STACK_TYPE:
            return response
        from pulumi.runtime import rpc

        timeouts = request.customTimeouts
        self.registrations[response.urn] = Registration(
            urn=response.urn, type=request.type, name=request.name, custom=bool(request.custom),
            parent=request.parent or None, inputs=rpc.deserialize_properties(request.object),
            protect=bool(request.protect), depends_on=list(request.dependencies),
            ignore_changes=list(request.ignoreChanges), retain_on_delete=bool(request.retainOnDelete),
            custom_timeouts={k: getattr(timeouts, k) for k in ("create", "update", "delete")
                             if getattr(timeouts, k)} or None if timeouts else None,
            delete_before_replace=bool(request.deleteBeforeReplace),
            property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
            id=response.id, outputs=dict(self.resources[response.urn].state),
        )
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:
        from pulumi.runtime import rpc

        self.component_outputs[request.urn] = rpc.deserialize_properties(request.outputs, keep_unknowns=True)
        return super().RegisterResourceOutputs(request)


def _resolve(value: Any) -> Any:
    """An export's value, or UNKNOWN where a preview could not know it."""
    output = pulumi.Output.from_input(value)

    async def get() -> Any:
        known = await output.is_known()
        return await output.future() if known else UNKNOWN

    return get()


@contextmanager
def _mocked(mocks: ProviderMocks, monitor: RecordingMonitor, project: str, stack: str, preview: bool,
            config: Mapping[str, Any]) -> Iterator[None]:
    from pulumi.runtime import config as pulumi_config

    saved_config = dict(pulumi_config.CONFIG.get())
    pulumi_settings.ROOT.set(None)
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=preview, monitor=monitor)
    # As Pulumi's own `mocks.test` does: the outputs a program before this one left (failed ones re-raise when awaited)
    # are not this program's.
    pulumi_settings.SETTINGS.outputs.clear()
    pulumi_config.set_all_config({key if ":" in key else f"{project}:{key}": value for key, value in config.items()})
    try:
        yield
    finally:
        pulumi_config.set_all_config(saved_config)


def _drop_leftover_tasks() -> None:
    """A failed program leaves tasks on the event loop (outputs waiting on the failed registration); cancelled here,
    they cannot resume inside the next program run in this process."""
    loop = asyncio.get_event_loop()
    leftovers = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in leftovers:
        task.cancel()
    if leftovers and not loop.is_running():
        loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))


def run_stack(program: Callable[[], Any] | str | Path, *, project: str = "project", stack: str = "dev",
              preview: bool = False, config: Mapping[str, Any] | None = None,
              poll_interval_seconds: float | None = 0.1, judge: Judge | None = None) -> StackRun:
    """Run `program` (a function, or a Pulumi project directory / `__main__.py`) in-process; `judge` sees each
    resource's checked inputs before it is created and may refuse it by raising."""
    mocks = ProviderMocks(preview, poll_interval_seconds, judge, project, stack)
    monitor = RecordingMonitor(mocks)
    exports: dict[str, Any] = {}

    def body() -> Any:
        if callable(program):
            program()
        else:
            path = Path(program)
            main = path / "__main__.py" if path.is_dir() else path
            sys.path.insert(0, str(main.parent))
            try:
                runpy.run_path(str(main), run_name="__main__")
            finally:
                sys.path.remove(str(main.parent))
        root = pulumi_settings.get_root_resource()
        stack_outputs: dict[str, Any] = dict(getattr(root, "outputs", {}) or {})

        async def gather() -> None:
            for key, value in stack_outputs.items():
                exports[key] = await _resolve(value)

        return asyncio.ensure_future(gather())

    with _mocked(mocks, monitor, project, stack, preview, config or {}):
        try:
            _sync_await(run_pulumi_func(lambda: _sync_await(body())))
        except Exception as exc:  # noqa: BLE001 - reported as the stack's failure, cause kept
            # Creates still running in parallel finish (or clean up after themselves) first, so that
            # `created` is everything there is to tear down.
            mocks.settle(SETTLE_SECONDS)
            _drop_leftover_tasks()
            errors = monitor.errors or [exc]
            raise StackError(f"the program failed: {errors[0]}", mocks.created,
                             list(monitor.registrations.values()), mocks.unrecorded) from errors[0]
        if monitor.errors:
            mocks.settle(SETTLE_SECONDS)
            _drop_leftover_tasks()
            raise StackError(f"the program failed: {monitor.errors[0]}", mocks.created,
                             list(monitor.registrations.values()), mocks.unrecorded) from monitor.errors[0]
    resources = list(monitor.registrations.values())
    for reg in resources:
        if not reg.custom and reg.urn in monitor.component_outputs:
            reg.outputs = monitor.component_outputs[reg.urn]
        reg.checked_inputs = mocks.checked.get((reg.type, reg.name))
    return StackRun(project=project, stack=stack, preview=preview, resources=resources, outputs=exports,
                    created=list(mocks.created))


def tear_down(created: Sequence[Created], deleted: list[Created] | None = None,
              unrecorded: Sequence[UnrecordedCreate] = ()) -> TearDown:
    """Delete what a run created, tasks before the volumes they mount, past any failure: every one is
    tried and every failure reported. `deleted` fills as it goes, so an interrupted teardown still says
    what it did. Each create in `unrecorded` is looked up by its owned name on Mithril and removed too."""
    done = deleted if deleted is not None else []
    failed: list[Failed] = []
    unfound: list[Unfound] = []
    for typ in TEARDOWN_ORDER:
        for made in reversed(created):
            if made.type != typ:
                continue
            try:
                PROVIDERS[typ]().delete(made.id, dict(made.outputs))
            except Exception as exc:  # noqa: BLE001 - reported with the rest; the others are still tried
                failed.append(Failed(typ, made.id, str(exc)))
                continue
            done.append(made)
        for attempt in unrecorded:
            if attempt.type != typ:
                continue
            provider = PROVIDERS[typ]()
            try:
                found = provider.delete_unrecorded(attempt.inputs)  # type: ignore[attr-defined]
            except Exception as exc:  # noqa: BLE001 - reported with the rest; the others are still tried
                unfound.append(Unfound(typ, owned_name(attempt), str(exc)))
                continue
            if found is not None:
                done.append(Created(typ, found))
    return TearDown(done, failed, unfound)


def owned_name(attempt: UnrecordedCreate) -> str:
    """The name on Mithril of what an unrecorded create may have made."""
    from pulumi_flow.provider.task import bid_name

    if attempt.type == TASK_TYPE:
        return bid_name(attempt.inputs)
    if attempt.type == POOL_TYPE:
        return f"{slot_prefix(attempt.inputs)}*"
    return str(attempt.inputs.get("reservation_name" if attempt.type == RESERVATION_TYPE else "volume_name"))


def _wire(value: Any) -> Any:
    """Plain JSON for the analyzer: preview unknowns become the engine's unknown sentinel."""
    from pulumi_flow.engines.plugins import UNKNOWN as WIRE_UNKNOWN

    if value is UNKNOWN or is_unknown(value):
        return WIRE_UNKNOWN
    if isinstance(value, Mapping):
        return {str(k): _wire(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_wire(v) for v in value]
    return value


@contextmanager
def _policy_pack(pack_dir: str | Path | None, project: str, stack: str, dry_run: bool,
                 policy_config: Mapping[str, Mapping[str, Any]] | None) -> Iterator[Any]:
    """The pack (pulumi-flow's own unless `pack_dir`), launched as the CLI launches it and configured."""
    import tempfile

    from pulumi_flow.engines.plugins import PolicyPackProcess

    with tempfile.TemporaryDirectory(prefix="pulumi-flow-pack-") as scratch:
        if pack_dir is None:
            from pulumi_flow_policies.pack import write_pack

            pack_dir = write_pack(scratch)
        with PolicyPackProcess(pack_dir, project=project, stack=stack, dry_run=dry_run) as pack:
            pack.configure(policy_config or {})
            yield pack


def _stack_resource(reg: Registration, properties: Mapping[str, Any]) -> Any:
    from pulumi_flow.engines.plugins import StackResource

    return StackResource(type=reg.type, name=reg.name, urn=reg.urn, properties=_wire(properties),
                         protect=reg.protect, parent=reg.parent or "", dependencies=tuple(reg.depends_on),
                         property_dependencies={k: tuple(v) for k, v in reg.property_dependencies.items()})


def evaluate_policies(run: StackRun, pack_dir: str | Path | None = None,
                      policy_config: Mapping[str, Mapping[str, Any]] | None = None) -> list[Any]:
    """The policy pack's verdicts on this run, from the pack launched as the CLI launches it:
    `Analyze` on each resource's checked inputs, then `AnalyzeStack` on the final state."""
    with _policy_pack(pack_dir, run.project, run.stack, run.preview, policy_config) as pack:
        verdicts = []
        for reg in run.resources:
            verdicts.extend(pack.analyze(_stack_resource(reg, reg.checked_inputs or reg.inputs)))
        verdicts.extend(pack.analyze_stack([_stack_resource(reg, reg.outputs) for reg in run.resources]))
    return verdicts


@contextmanager
def policy_judge(pack_dir: str | Path | None, project: str, stack: str,
                 policy_config: Mapping[str, Mapping[str, Any]] | None = None) -> Iterator[Judge]:
    """A `judge` for `run_stack`: the pack's `Analyze` on each resource's checked inputs before its create, which
    raises `PolicyBlocked` on a mandatory violation (the real engine does the same per resource during `up`)."""
    from pulumi_flow.engines.plugins import StackResource

    with _policy_pack(pack_dir, project, stack, False, policy_config) as pack:
        def judge(urn: str, resource_type: str, name: str, inputs: dict[str, Any]) -> None:
            verdicts = pack.analyze(StackResource(type=resource_type, name=name, urn=urn, properties=_wire(inputs)))
            if any(v.blocking for v in verdicts):
                raise PolicyBlocked(f"{name!r} not created: blocked by mandatory policy "
                                    + "; ".join(f"{v.policy}: {v.message}" for v in verdicts if v.blocking), verdicts)

        yield judge


class BuiltinEngine(Engine):
    """The built-in engine: the program in this process, Pulumi's mocks in front of the real providers (check
    always, create only on `up`), and the pack launched as the CLI launches it, per resource before its create
    and on the result. It keeps no state: what `up` made is known from this run alone."""

    description = "built-in (in-process, Pulumi's mocks and the real providers)"

    def __init__(self, program: Path, *, project: str, stack: str, config: Mapping[str, str],
                 pack_dir: str | Path | None = None,
                 policy_config: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.program, self.project, self.stack = program, project, stack
        self.config, self.pack_dir, self.policy_config = dict(config), pack_dir, dict(policy_config or {})
        self._created: list[Created] = []
        self._unrecorded: list[UnrecordedCreate] = []
        self._deleted: list[Created] = []

    def preview(self, *, policies: bool) -> Outcome:
        try:
            run = run_stack(self.program, project=self.project, stack=self.stack, preview=True, config=self.config)
        except StackError as exc:
            raise ProgramError(exc.__cause__ or exc) from exc
        return Outcome(run, self._verdicts(run) if policies else [])

    def up(self, *, policies: bool) -> Outcome:
        try:
            with contextlib.ExitStack() as judging:
                judge = judging.enter_context(policy_judge(self.pack_dir, self.project, self.stack,
                                                           self.policy_config)) if policies else None
                run = run_stack(self.program, project=self.project, stack=self.stack, preview=False,
                                config=self.config, judge=judge)
        except StackError as exc:
            self._created, self._unrecorded = exc.created, exc.unrecorded
            if isinstance(exc.__cause__, PolicyBlocked):
                raise exc.__cause__ from None
            raise ProgramError(exc.__cause__ or exc) from exc
        self._created = list(run.created)
        return Outcome(run, self._verdicts(run) if policies else [])

    def _verdicts(self, run: StackRun) -> list[Verdict]:
        return evaluate_policies(run, self.pack_dir, self.policy_config)

    def tear_down(self) -> TearDown:
        return tear_down(self._created, self._deleted, self._unrecorded)

    def live(self) -> list[str]:
        return ([made.id for made in self._created if made not in self._deleted]
                + [f"maybe {owned_name(attempt)}" for attempt in self._unrecorded])

    def stop(self) -> None:
        STOP_WAITING.set()

    def kept(self) -> str:
        count = len(self._created)
        if not count:
            return ""
        return f"kept {count} resource{'' if count == 1 else 's'} running; no Pulumi state tracks them"

    def __enter__(self) -> BuiltinEngine:
        STOP_WAITING.clear()
        return self

    def __exit__(self, *exc: object) -> None:
        STOP_WAITING.clear()


__all__ = [
    "UNKNOWN",
    "BuiltinEngine",
    "PolicyBlocked",
    "ProviderMocks",
    "RecordingMonitor",
    "Registration",
    "StackError",
    "StackRun",
    "UnrecordedCreate",
    "evaluate_policies",
    "policy_judge",
    "run_stack",
]
