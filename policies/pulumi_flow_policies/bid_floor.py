"""infrastructure-bid-floor: persistent clusters bid at least the on-demand threshold."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from pulumi_flow import pricing
from pulumi_flow_policies._props import TASK_TYPE, Malformed, config_mapping, guarded, number, text

NAME = "infrastructure-bid-floor"


def _settings(args: ResourceValidationArgs) -> tuple[dict[str, float], float]:
    overrides: dict[str, float] = {}
    for family, figure in config_mapping(args, "thresholds").items():
        value = number({"figure": figure}, "figure")
        if value is None or value <= 0:
            raise Malformed(f"thresholds.{family}", figure, "a positive USD per GPU-hour")
        overrides[str(family)] = value
    margin = number(args.get_config() or {}, "margin", default=1.0)
    if margin is None or margin <= 0:
        raise Malformed("margin", margin, "a positive multiplier")
    return pricing.merged_thresholds(overrides), margin


def _floor(args: ResourceValidationArgs) -> tuple[float, str] | None:
    """(threshold, how it was computed) for an infrastructure task; None when the rule does not apply."""
    props = args.props
    if text(props, "role") != "infrastructure":
        return None
    instance_type = text(props, "instance_type")
    if instance_type is None:
        raise Malformed("instance_type", None, "an instance type such as '8xh100'")
    thresholds, margin = _settings(args)
    try:
        family, count = pricing.gpu_family_and_count(instance_type)
    except ValueError as exc:
        raise Malformed("instance_type", instance_type, f"a counted instance type ({exc})") from None
    if family not in thresholds:
        raise pricing.MissingThresholdError(family, instance_type, thresholds)
    floor = round(thresholds[family] * count * margin, 2)
    return floor, f"{count} GPUs x ${thresholds[family]:g}/GPU-hour" + (f" x margin {margin:g}" if margin != 1 else "")


def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != TASK_TYPE:
        return
    try:
        floor = _floor(args)
    except pricing.MissingThresholdError as exc:
        report(f"{args.name}: {exc}", args.urn)  # fail closed: no figure means no judgement
        return
    if floor is None:
        return
    threshold, how = floor
    bid = number(args.props, "max_price_per_hour")
    if bid is None:
        raise Malformed("max_price_per_hour", None, "the bid in USD per instance-hour")
    if bid < threshold:
        report(
            f"{args.name}: infrastructure bids ${bid:.2f}/instance-hour for {args.props['instance_type']}, below the "
            f"on-demand threshold ${threshold:.2f} ({how}); a spot bid under it gets preempted when the market rises "
            f"and persistent work is lost. Fix: set max_price_per_hour to at least {threshold:.2f} (a TrainingCluster "
            f"without max_price_per_hour bids the threshold)", args.urn)


def remediate(args: ResourceValidationArgs) -> Mapping[str, Any] | None:
    """Raise an under-bid to the threshold (when a team sets the level to `remediate`)."""
    if args.resource_type != TASK_TYPE:
        return None
    try:
        floor = _floor(args)
        bid = number(args.props, "max_price_per_hour")
    except (Malformed, pricing.MissingThresholdError):
        return None  # nothing safe to write: validation reports it
    if floor is None or bid is None or bid >= floor[0]:
        return None
    return {**args.props, "max_price_per_hour": floor[0]}


policy = ResourceValidationPolicy(
    name=NAME,
    description="Infrastructure (role=infrastructure) must bid at least the on-demand threshold for its GPUs: "
                "per-GPU-hour figure x GPUs per instance x margin.",
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(properties={
        "thresholds": {
            "type": "object",
            "description": "USD per GPU-hour by GPU family, merged over the defaults "
                           f"{dict(pricing.DEFAULT_THRESHOLDS_PER_GPU_HOUR)}.",
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
