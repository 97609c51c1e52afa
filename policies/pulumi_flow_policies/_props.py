"""Reading resource properties defensively, the way every policy in this pack needs to.

Inside a policy, values are pulumi_policy proxies (`_DictProxy`, `_ListProxy`), not dicts and
lists, and reading an unknown raises `UnknownValueError`, which the SDK turns into an advisory
"can't run policy during preview". That error must pass through untouched. Anything else odd
in a property is a `Malformed` that the policy reports as a violation naming the property.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from pulumi_policy import ReportViolation, ResourceValidationArgs, StackValidationArgs
from pulumi_policy.policy import _NotApplicableError
from pulumi_policy.proxy import UnknownValueError

from pulumi_flow.money import NotMoneyError, usd
from pulumi_flow.resources import POOL_TYPES, RESERVATION_TYPES, TASK_TYPES, VOLUME_TYPES

TERMINAL_STATUSES = ("completed", "failed", "cancelled")


# What a Flow task's properties always carry (its provider's `check` fills them in), and what no component's do:
# a resource with `instance_type` and one of these is a bid, whatever its type token says (a user's own resource
# type built on `FlowTaskProvider` is still judged). Volumes likewise.
TASK_MARKS = ("role", "task_name", "bid_name", "task_id")
VOLUME_MARKS = ("volume_name",)
RESERVATION_MARKS = ("reservation_name", "reservation_id")
POOL_MARKS = ("pool_name", "pool_id")
ENDED_RESERVATIONS = ("Canceled", "Ended")


class _Judged(Protocol):
    resource_type: str
    props: Mapping[str, Any]


def _has(props: Mapping[str, Any], key: str) -> bool:
    return isinstance(props, Mapping) and key in props


def is_task(resource: _Judged) -> bool:
    """A Flow task (a Mithril bid): either hosting's type, or any resource whose properties make a bid."""
    if resource.resource_type in TASK_TYPES:
        return True
    props = resource.props
    return _has(props, "instance_type") and any(_has(props, key) for key in TASK_MARKS)


def is_volume(resource: _Judged) -> bool:
    """A Mithril volume: either hosting's type, or any resource whose properties make one."""
    if resource.resource_type in VOLUME_TYPES:
        return True
    props = resource.props
    return _has(props, "size_gb") and any(_has(props, key) for key in VOLUME_MARKS) and not is_task(resource)


def is_reservation(resource: _Judged) -> bool:
    """Mithril reserved instances: either hosting's type, or any resource whose properties make a reservation."""
    if resource.resource_type in RESERVATION_TYPES:
        return True
    props = resource.props
    return _has(props, "instance_type") and any(_has(props, key) for key in RESERVATION_MARKS) \
        and not is_task(resource)


def is_pool(resource: _Judged) -> bool:
    """A spot pool (a GPU target held on many bids): its type, or any resource whose properties make one."""
    if resource.resource_type in POOL_TYPES:
        return True
    props = resource.props
    return _has(props, "target_gpus") and _has(props, "max_price_per_gpu_hour") \
        and any(_has(props, key) for key in POOL_MARKS)


def pool_hourly(props: Mapping[str, Any], name: str) -> Decimal:
    """The most a pool can cost per hour: its target GPUs x its ceiling per GPU-hour."""
    ceiling = amount(props, "max_price_per_gpu_hour")
    gpus = number(props, "target_gpus")
    if ceiling is None:
        raise Malformed("max_price_per_gpu_hour", None, f"the ceiling of {name} in USD per GPU-hour")
    if gpus is None or gpus < 0 or not gpus.is_integer():
        raise Malformed("target_gpus", props.get("target_gpus"), f"the whole number of GPUs {name} holds")
    return ceiling * int(gpus)


Args = TypeVar("Args", ResourceValidationArgs, StackValidationArgs)


class Malformed(Exception):
    """A property has a shape the policy cannot judge."""

    def __init__(self, key: str, value: object, expected: str) -> None:
        super().__init__(f"property {key!r} is {_plain(value)!r}, expected {expected}")


def _plain(value: object) -> object:
    """The value as users wrote it: the SDK's proxies (`_DictProxy`, `_ListProxy`) have no readable repr."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [_plain(item) for item in value]
    return value


def number(props: Mapping[str, Any], key: str, *, default: float | None = None) -> float | None:
    value = props.get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        raise Malformed(key, value, "a number")
    if isinstance(value, int | float):
        result = float(value)
    elif isinstance(value, str):
        try:
            result = float(value.strip().lstrip("$"))
        except ValueError:
            raise Malformed(key, value, "a number") from None
    else:
        raise Malformed(key, value, "a number")
    if not math.isfinite(result):
        raise Malformed(key, value, "a finite number")
    return result


def amount(props: Mapping[str, Any], key: str, *, default: Decimal | None = None) -> Decimal | None:
    """A money property as an exact decimal (`pulumi_flow.money.usd`), e.g. a bid or a budget."""
    value = props.get(key)
    if value is None:
        return default
    try:
        return usd(value)
    except NotMoneyError:
        raise Malformed(key, value, "a finite number of US dollars") from None


def text(props: Mapping[str, Any], key: str) -> str | None:
    value = props.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise Malformed(key, value, "a string")
    return value


def items(props: Mapping[str, Any], key: str) -> list[Any]:
    value = props.get(key)
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise Malformed(key, value, "a list")
    return list(value)


def mapping(value: object, key: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise Malformed(key, value, "a mapping")
    return value


def instance_count(props: Mapping[str, Any], name: str) -> int:
    """A task's instances: one when left out, else a whole number of at least one."""
    count = number(props, "num_instances", default=1.0) or 0.0
    if not count.is_integer() or count < 1:
        raise Malformed("num_instances", count, f"a whole number of instances of {name}")
    return int(count)


def report_here(report: ReportViolation, message: str) -> None:
    """File `message` under what is being judged: the engine puts a report without a URN under the resource a
    resource policy judged, or the stack for a stack policy."""
    report(message, None)


def guarded(validate: Callable[[Args, ReportViolation], None]) -> Callable[[Args, ReportViolation], None]:
    """No exception but the SDK's own may leave a policy: one would fail the engine's whole call."""

    @functools.wraps(validate)
    def wrapper(args: Args, report: ReportViolation) -> None:
        try:
            validate(args, report)
        except (UnknownValueError, _NotApplicableError):
            raise  # the SDK reports these itself: an advisory "can't run during preview", or "not applicable"
        except Malformed as exc:
            report_here(report,
                        f"cannot check {getattr(args, 'name', 'the stack')}: {exc}. Fix: pass a well-formed value "
                        f"(pulumi-flow's providers normalise these; was this resource edited by hand?)")
        except Exception as exc:  # noqa: BLE001 - a crash would fail the engine's whole call: report it
            report_here(report, f"policy could not evaluate this resource ({type(exc).__name__}: {exc})")

    return wrapper


def config_mapping(args: ResourceValidationArgs | StackValidationArgs, key: str) -> Mapping[str, Any]:
    config = args.get_config() or {}
    value = config.get(key)
    return value if isinstance(value, Mapping) else {}
