"""infrastructure-bid-floor: persistent clusters bid at least the on-demand threshold."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import attrs
from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from pulumi_flow import pricing
from pulumi_flow.money import as_number, cents_up, maybe_usd, show
from pulumi_flow_policies._props import (
    Malformed,
    amount,
    config_mapping,
    guarded,
    is_pool,
    is_task,
    items,
    report_here,
    text,
)

NAME = "infrastructure-bid-floor"


def _settings(args: ResourceValidationArgs) -> tuple[dict[str, Decimal], Decimal, bool]:
    """(thresholds, margin, whether the config changed the built-in figures)."""
    overrides = {str(family): _positive(figure, f"thresholds.{family}", "a positive USD per GPU-hour")
                 for family, figure in config_mapping(args, "thresholds").items()}
    config = args.get_config() or {}
    margin = Decimal(1) if config.get("margin") is None else _positive(config["margin"], "margin",
                                                                        "a positive multiplier")
    return pricing.merged_thresholds(overrides), margin, bool(overrides) or margin != 1


def _positive(value: object, key: str, expected: str) -> Decimal:
    """A positive exact figure from the pack's config; zero would make every bid pass."""
    figure = maybe_usd(value)
    if figure is None or figure <= 0:
        raise Malformed(key, value, expected)
    return figure


@attrs.frozen
class Floor:
    """The least bid per instance-hour the policy accepts, exactly, and how it was computed."""

    amount: Decimal
    how: str
    configured: bool

    @property
    def least_bid(self) -> Decimal:
        return cents_up(self.amount)


def _floor(args: ResourceValidationArgs) -> Floor | None:
    """The floor for an infrastructure task; None when the rule does not apply."""
    props = args.props
    if text(props, "role") != "infrastructure":
        return None
    instance_type = text(props, "instance_type")
    if instance_type is None:
        raise Malformed("instance_type", None, "an instance type such as '8xh100'")
    thresholds, margin, configured = _settings(args)
    try:
        family, count = pricing.gpu_family_and_count(instance_type)
    except ValueError as exc:
        raise Malformed("instance_type", instance_type, f"a counted instance type ({exc})") from None
    if family not in thresholds:
        raise pricing.MissingThresholdError(family, instance_type, thresholds)
    how = f"{count} GPUs x {show(thresholds[family])}/GPU-hour" + (f" x margin {margin}" if margin != 1 else "")
    return Floor(pricing.on_demand_threshold(instance_type, thresholds, margin), how, configured)


def _pool_floors(args: ResourceValidationArgs) -> dict[str, Decimal]:
    """A pool's floor per GPU-hour for each of its instance types (a pool is infrastructure: it holds capacity)."""
    thresholds, margin, _ = _settings(args)
    floors: dict[str, Decimal] = {}
    for index, instance_type in enumerate(items(args.props, "instance_types")):
        if not isinstance(instance_type, str):
            raise Malformed(f"instance_types[{index}]", instance_type, "an instance type such as '8xh100'")
        try:
            family, count = pricing.gpu_family_and_count(instance_type)
        except ValueError as exc:
            raise Malformed(f"instance_types[{index}]", instance_type, f"a counted instance type ({exc})") from None
        if family not in thresholds:
            raise pricing.MissingThresholdError(family, instance_type, thresholds)
        floors[instance_type] = pricing.on_demand_threshold(instance_type, thresholds, margin) / count
    return floors


def _validate_pool(args: ResourceValidationArgs, report: ReportViolation) -> None:
    ceiling = amount(args.props, "max_price_per_gpu_hour")
    if ceiling is None:
        raise Malformed("max_price_per_gpu_hour", None, "the pool's ceiling in USD per GPU-hour")
    under = {t: floor for t, floor in _pool_floors(args).items() if ceiling < floor}
    if under:
        least = max(under.values())
        shown = ", ".join(f"{t} {show(floor)}" for t, floor in under.items())
        report_here(report,
            f"{args.name}: the spot pool's ceiling {show(ceiling)}/GPU-hour is below the on-demand floor per GPU of "
            f"{shown}; its bids there would be preempted whenever the market rises. Fix: set max_price_per_gpu_hour "
            f"to at least {show(least)}, or drop those instance types")


def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if is_pool(args):
        try:
            _validate_pool(args, report)
        except pricing.MissingThresholdError as exc:
            report_here(report, f"{args.name}: {exc}")  # fail closed: no figure means no judgement
        return
    if not is_task(args):
        return
    try:
        floor = _floor(args)
    except pricing.MissingThresholdError as exc:
        report_here(report, f"{args.name}: {exc}")  # fail closed: no figure means no judgement
        return
    if floor is None:
        return
    bid = amount(args.props, "max_price_per_hour")
    if bid is None:
        raise Malformed("max_price_per_hour", None, "the bid in USD per instance-hour")
    if bid < floor.amount:
        origin = ("the thresholds and margin in --policy-pack-config" if floor.configured
                  else "pulumi-flow's built-in thresholds")
        report_here(report,
            f"{args.name}: infrastructure bids {show(bid)}/instance-hour for {args.props['instance_type']}, below the "
            f"on-demand floor {show(floor.amount)} ({floor.how}, from {origin}); a spot bid under it gets preempted "
            f"when the market rises and persistent work is lost. Fix: set max_price_per_hour to at least "
            f"{floor.least_bid} (the least whole-cent bid at or above the floor)")


def remediate(args: ResourceValidationArgs) -> Mapping[str, Any] | None:
    """Raise an under-bid to the threshold (when a team sets the level to `remediate`)."""
    if not is_task(args):
        return None
    try:
        floor = _floor(args)
        bid = amount(args.props, "max_price_per_hour")
    except (Malformed, pricing.MissingThresholdError):
        return None  # nothing safe to write: validation reports it
    if floor is None or bid is None or bid >= floor.amount:
        return None
    return {**args.props, "max_price_per_hour": as_number(floor.least_bid)}


policy = ResourceValidationPolicy(
    name=NAME,
    description="Infrastructure (role=infrastructure) must bid at least the on-demand threshold for its GPUs: "
                "per-GPU-hour figure x GPUs per instance x margin; a spot pool's ceiling per GPU-hour, at least that "
                "figure x margin for every instance type it may use.",
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(properties={
        "thresholds": {
            "type": "object",
            "description": "USD per GPU-hour by GPU family, merged over the defaults "
                           f"{ {k: float(v) for k, v in pricing.DEFAULT_THRESHOLDS_PER_GPU_HOUR.items()} }.",
            "additionalProperties": {"type": "number", "exclusiveMinimum": 0},
            "default": {},
        },
        "margin": {"type": "number", "exclusiveMinimum": 0, "default": 1.0,
                   "description": "Multiplier on the threshold, e.g. 1.2 for 20% headroom."},
        "source": {"type": "string", "description": "Where the thresholds came from (`pulumi-flow prices`)."},
        "generated_at": {"type": "string", "description": "When they were read (UTC, ISO 8601)."},
    }),
    validate=guarded(validate),
    # The SDK's hint says awaitable, its analyzer takes a plain mapping too (and so does this).
    remediate=remediate,  # type: ignore[arg-type]
)
