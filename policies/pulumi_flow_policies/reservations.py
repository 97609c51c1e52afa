"""`reservation-commitment-cap`: what the stack's reservations commit it to stays within a cap; and the advisory
`consider-reservation`: a spot cluster whose market has cost at least what reserved capacity would.

A reservation's whole total is owed once it is made, so it is judged on that total: the `committed_usd` Mithril
reports once it exists, and before that (a create in this preview, or an extension whose outputs the preview cannot
know) on the most it can commit: `max_unit_price` x quantity x its hours.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from pulumi_flow import pricing
from pulumi_flow.money import show
from pulumi_flow_policies._props import (
    ENDED_RESERVATIONS,
    TERMINAL_STATUSES,
    Malformed,
    amount,
    config_mapping,
    guarded,
    is_reservation,
    is_task,
    number,
    report_here,
    text,
)

NAME = "reservation-commitment-cap"
ADVISOR = "consider-reservation"
DEFAULT_MIN_HOURS = 24
SECONDS_IN_HOUR = Decimal(3600)


def _known(read: Any) -> Any:
    try:
        return read()
    except UnknownValueError:
        return None


def _moment(props: Mapping[str, Any], key: str) -> datetime | None:
    value = _known(lambda: text(props, key))
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Malformed(key, value, "an ISO 8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def hours_of(props: Mapping[str, Any], name: str) -> Decimal:
    """The hours a reservation asks for: `duration_hours`, else from its start (or now) to `end_time`."""
    duration = _known(lambda: number(props, "duration_hours"))
    if duration is not None:
        return Decimal(str(duration))
    end = _moment(props, "end_time") or _moment(props, "ends_at")
    if end is None:
        raise Malformed("end_time", None, f"the end of {name} (or duration_hours)")
    start = _moment(props, "start_time") or _moment(props, "starts_at") or datetime.now(timezone.utc)
    return max(Decimal(str((end - start).total_seconds())) / SECONDS_IN_HOUR, Decimal(0))


def quantity_of(props: Mapping[str, Any], name: str) -> int:
    count = number(props, "quantity", default=1)
    if count is None or count < 1 or count != int(count):
        raise Malformed("quantity", props.get("quantity"), f"a whole number of instances of {name}")
    return int(count)


def commitment(props: Mapping[str, Any], name: str) -> tuple[Decimal, bool]:
    """(what the reservation commits the stack to, whether that is the most it can be rather than Mithril's
    figure)."""
    committed = _known(lambda: amount(props, "committed_usd"))
    if committed is not None:
        return committed, False
    ceiling = amount(props, "max_unit_price")
    if ceiling is None:
        raise Malformed("max_unit_price", None, f"the price ceiling of {name}")
    return ceiling * quantity_of(props, name) * hours_of(props, name), True


def reservation_hourly(props: Mapping[str, Any], name: str) -> Decimal | None:
    """What a reservation costs an hour while it runs (its unit price, or before it exists its ceiling, x its
    instances), or None when it does not run now: not started, or over."""
    status = _known(lambda: text(props, "status"))
    if status in (*ENDED_RESERVATIONS, "Pending"):
        return None
    start = _moment(props, "start_time")
    if status is None and start is not None and start > datetime.now(timezone.utc):
        return None  # a new one that starts later
    unit = _known(lambda: amount(props, "unit_price")) or amount(props, "max_unit_price")
    if unit is None:
        raise Malformed("max_unit_price", None, f"the price ceiling of {name}")
    return unit * quantity_of(props, name)


def validate(args: StackValidationArgs, report: ReportViolation) -> None:
    cap = amount(args.get_config() or {}, "max_committed_usd")
    if cap is None:
        return  # no cap configured: nothing to say
    total = Decimal(0)
    lines: list[str] = []
    for resource in args.resources:
        if not is_reservation(resource) or _known(lambda r=resource: text(r.props, "status")) in ENDED_RESERVATIONS:
            continue
        committed, at_most = commitment(resource.props, resource.name)
        total += committed
        lines.append(f"{resource.name} {'at most ' if at_most else ''}{show(committed)}")
    if total > cap:
        report_here(report, f"the stack's reservations commit it to {show(total)} ({', '.join(lines)}), over "
                            f"max_committed_usd={show(cap)}. Fix: reserve fewer instances or hours, lower "
                            f"max_unit_price, or raise max_committed_usd in --policy-pack-config")


policy = StackValidationPolicy(
    name=NAME,
    description="What the stack's reservations commit it to (Mithril's committed total, or before it exists the most "
                "it can be: max_unit_price x quantity x hours) must stay within max_committed_usd. With no cap "
                "configured the policy reports nothing.",
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(properties={
        "max_committed_usd": {"type": "number", "exclusiveMinimum": 0,
                              "description": "USD the stack's reservations may commit it to, in all."},
    }),
    validate=guarded(validate),
)


def validate_advisor(args: StackValidationArgs, report: ReportViolation) -> None:
    """A stack policy, filed under each task: what a task has paid is an output, and the engine gives a resource policy
    only the resource's inputs. The reserved price per GPU-hour is the bid floor's on-demand figure (the pack's
    `thresholds`, which `pulumi-flow prices --out` reads from Mithril's reserved prices)."""
    config = args.get_config() or {}
    min_hours = Decimal(str(number(config, "min_running_hours", default=DEFAULT_MIN_HOURS)))
    thresholds = pricing.merged_thresholds(config_mapping(args, "thresholds"))
    for resource in args.resources:
        props = resource.props
        if not is_task(resource) or _known(lambda p=props: text(p, "role")) != "infrastructure":
            continue
        if _known(lambda p=props: text(p, "status")) in TERMINAL_STATUSES:
            continue
        spent = _known(lambda p=props: amount(p, "spend_usd"))
        hours = _known(lambda p=props: number(p, "running_hours"))
        if spent is None or not hours or Decimal(str(hours)) < min_hours:
            continue  # not enough history to say what the market costs this cluster
        instance_type = str(text(props, "instance_type"))
        try:
            reserved = pricing.on_demand_threshold(instance_type, thresholds)
        except (ValueError, pricing.MissingThresholdError):
            continue  # the bid floor reports a type it has no figure for
        paid = spent / Decimal(str(hours))
        if paid >= reserved:
            report(f"{resource.name} has paid {show(paid)} per instance-hour on average over {hours:g} "
                   f"instance-hours of spot, at or above the reserved price {show(reserved)} for {instance_type}: "
                   f"reserved capacity would cost no more and cannot be preempted. Fix: run it with "
                   f"capacity=ReservedCapacity(max_unit_price={reserved}, duration_hours=...)", resource.urn)


advisor_policy = StackValidationPolicy(
    name=ADVISOR,
    description="A spot cluster whose market has averaged at or above the reserved price for its type, over at least "
                "min_running_hours of history, would cost no more on a reservation, which nobody can preempt.",
    enforcement_level=EnforcementLevel.ADVISORY,
    config_schema=PolicyConfigSchema(properties={
        "min_running_hours": {"type": "number", "minimum": 0, "default": DEFAULT_MIN_HOURS,
                              "description": "Instance-hours of spot history a cluster needs before it is judged."},
        "thresholds": {"type": "object", "additionalProperties": {"type": "number", "exclusiveMinimum": 0},
                       "description": "Reserved price per GPU-hour by GPU family, e.g. {\"h100\": 4.0}, over "
                                      "pulumi-flow's built-in figures (as `pulumi-flow prices --out` writes them)."},
    }),
    validate=guarded(validate_advisor),
)
