"""allowed-regions: tasks, reservations and volumes only where the platform team allows (data residency, quotas)."""

from __future__ import annotations

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from pulumi_flow_policies._props import (
    Malformed,
    guarded,
    is_pool,
    is_reservation,
    is_task,
    is_volume,
    items,
    report_here,
    text,
)

NAME = "allowed-regions"


def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not (is_task(args) or is_volume(args) or is_reservation(args) or is_pool(args)):
        return
    allowed = (args.get_config() or {}).get("regions")
    if not allowed:
        return  # nothing configured: every region is allowed
    if isinstance(allowed, str) or not all(isinstance(r, str) for r in allowed):
        raise Malformed("regions", allowed, "a list of region names")
    if is_pool(args):
        listed = [str(r) for r in items(args.props, "regions")]
        outside = [r for r in listed if r not in allowed]
        if not listed:
            report_here(report, f"{args.name} is a spot pool with no regions, so it may place bids outside "
                                f"{sorted(allowed)}. Fix: set regions to some of them")
        elif outside:
            report_here(report, f"{args.name} may place bids in {', '.join(outside)}, outside the allowed regions "
                                f"{sorted(allowed)}. Fix: keep only allowed regions in its regions")
        return
    region = text(args.props, "region") or text(args.props, "resolved_region")
    if region is None:
        report_here(report,
                    f"{args.name} names no region, so Mithril may place it outside {sorted(allowed)}. Fix: set region "
                    f"(on DataVolumes; tasks follow their volumes)")
    elif region not in allowed:
        report_here(report,
                    f"{args.name} is in {region}, outside the allowed regions {sorted(allowed)}. Fix: set region to "
                    f"one of them")


policy = ResourceValidationPolicy(
    name=NAME,
    description="Tasks, reservations and volumes must be in one of the configured regions, and a spot pool may list "
                "only those; with none configured, any region.",
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(properties={
        "regions": {"type": "array", "items": {"type": "string"}, "default": [],
                    "description": "Allowed Mithril regions, e.g. [\"us-central1-a\"]."},
    }),
    validate=guarded(validate),
)
