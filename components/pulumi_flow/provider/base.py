"""What both dynamic providers share: credentials from `configure`, nothing pickled, rule checks."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Collection, Mapping
from typing import Any

from pulumi.dynamic import CheckFailure, CheckResult, ConfigureRequest, ResourceProvider

from pulumi_flow import validation as v
from pulumi_flow.declarations import Declaration
from pulumi_flow.naming import AUTO_NAMED, OWNER, keep_auto_name, keep_owner, owner_tagged_volume_name
from pulumi_flow.provider.errors import FlowProviderError
from pulumi_flow.provider.session import CONFIG_KEYS, Credentials

# Our own retries (reads through a blip, a cancel, the lookup of a bid whose answer was lost) pause a little
# longer after each failure, on top of the Flow SDK's HTTP backoff. Tests shrink it (`quick_retries`).
RETRY_PAUSE_SECONDS = 0.5


def pause_before_retry(attempt: int) -> None:
    """Wait before retry number `attempt + 1`: 0.5 s, then 1 s, then 1.5 s."""
    time.sleep(RETRY_PAUSE_SECONDS * (attempt + 1))


def apply_rules(inputs: dict[str, Any], rules: Mapping[str, Callable[[Any, str], Any]],
                errors: list[v.InputError], *, skip_none: Collection[str] = ()) -> None:
    """Normalise each known input in place with its rule; collect every failure, not just the first."""
    for key, rule in rules.items():
        value = inputs.get(key)
        if (value is None and key in skip_none) or v.is_unknown(value):
            continue
        try:
            inputs[key] = rule(value, key)
        except v.InputError as err:
            errors.append(err)


def declared_inputs(declaration: Declaration, news: Mapping[str, Any],
                    kind: str) -> tuple[dict[str, Any], list[v.InputError]]:
    """A resource's inputs as `check` starts them: each declared one, filled in where left out, an error for every
    key that is not an input (outputs and the pickled provider aside), and one for every required input left out."""
    filled = declaration.filled()
    inputs = {key: filled[key] if news.get(key) is None else news[key] for key in declaration.input_keys}
    errors = [v.InputError(key, news[key], f"is not a {kind} input", f"use only {', '.join(declaration.input_keys)}")
              for key in sorted(set(news) - set(declaration.input_keys) - set(declaration.output_keys)
                                - {"__provider"})]
    errors += [v.InputError(key, None, "is required", f"set {key} on the {kind}")
               for key in declaration.required if inputs[key] is None]
    return inputs, errors


def recorded_inputs(props: Mapping[str, Any], keys: Collection[str]) -> dict[str, Any]:
    """The inputs a create, update or read records. An owner token is recorded only where there is one: state
    written before owner tokens existed then refreshes with no change."""
    return {k: props.get(k) for k in keys if k != OWNER or props.get(OWNER) is not None}


def tag_new_auto_name(olds: Mapping[str, Any], inputs: dict[str, Any], key: str) -> None:
    """A volume or reservation about to be created with a generated name gets its owner's tag, so that only this
    state can ever take it for its own (after a create whose answer was lost). A name already in state is kept as it
    is, and a name the user chose is theirs: such a resource is never adopted by name."""
    name, owner = inputs.get(key), inputs.get(OWNER)
    if olds.get(key) or not inputs.get(AUTO_NAMED) or not isinstance(name, str) \
            or not isinstance(owner, str) or v.is_unknown(owner):
        return
    inputs[key] = owner_tagged_volume_name(name, owner)


class FlowProvider(ResourceProvider):
    """The provider object is pickled into state, so it carries nothing: the key it learns from
    `configure` stays in the provider process, and `__getstate__` drops it anyway."""

    serialize_as_secret_always = False  # nothing secret inside; keep state readable
    name_key: str  # the input that names the resource on Mithril (auto-named unless given)

    def __init__(self) -> None:
        self._config: dict[str, Any] = {}

    def configure(self, req: ConfigureRequest) -> None:
        self._config = {key: req.config.get(key) for key in CONFIG_KEYS.values()}

    @property
    def credentials(self) -> Credentials:
        return Credentials.resolve(getattr(self, "_config", {}))

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._config = {}

    def check_inputs(self, news: Mapping[str, Any]) -> tuple[dict[str, Any], list[v.InputError]]:
        raise NotImplementedError

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        inputs, errors = self.check_inputs(news)
        keep_auto_name(olds or {}, inputs, self.name_key)
        keep_owner(olds or {}, inputs)
        return CheckResult(inputs, [CheckFailure(e.field, e.reason) for e in errors])


def report_messages_not_tracebacks() -> None:
    """In `python -m pulumi.dynamic` (the process the engine starts for dynamic resources), send a provider
    error to the engine as its message alone, as the `flow` plugin does.

    pulumi.dynamic's servicer answers every exception with `traceback.format_exc()`, so the user reads a Python
    traceback around a message that already says what failed and the fix. The gRPC handlers are bound when the
    server starts, before any of our code is loaded; what is looked up on each call is the `traceback` module of
    the servicer's own module, so that is where this steps in. Only our own errors (`FlowProviderError`, whose text
    is scrubbed and written for users) lose the traceback; any other exception is a bug and keeps it."""
    main = sys.modules.get("__main__")
    if getattr(main, "DynamicResourceProviderServicer", None) is None:
        return
    if isinstance(getattr(main, "traceback", None), _PlainTracebacks):
        return
    main.traceback = _PlainTracebacks()  # type: ignore[union-attr]


class _PlainTracebacks:
    """The `traceback` module, but `format_exc()` of a `FlowProviderError` is its message alone."""

    def __getattr__(self, name: str) -> Any:
        import traceback

        return getattr(traceback, name)

    @staticmethod
    def format_exc(*args: Any, **kwargs: Any) -> str:
        import traceback

        error = sys.exc_info()[1]
        if isinstance(error, FlowProviderError):
            return str(error)
        return traceback.format_exc(*args, **kwargs)


report_messages_not_tracebacks()
