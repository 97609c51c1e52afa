"""stack-hourly-budget: what the stack's bids can cost per hour stays within a budget."""

from __future__ import annotations

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)

from pulumi_flow_policies._props import TASK_TYPE, TERMINAL_STATUSES, Malformed, guarded, number, text

NAME = "stack-hourly-budget"


def validate(args: StackValidationArgs, report: ReportViolation) -> None:
    budget = number(args.get_config() or {}, "max_hourly_spend")
    if budget is None:
        return  # no budget configured: nothing to say
    total = 0.0
    lines: list[str] = []
    for resource in args.resources:
        if resource.resource_type != TASK_TYPE:
            continue
        if text(resource.props, "status") in TERMINAL_STATUSES:
            continue  # finished work no longer bills
        bid = number(resource.props, "max_price_per_hour")
        if bid is None:
            raise Malformed("max_price_per_hour", None, f"the bid of {resource.name}")
        count = number(resource.props, "num_instances", default=1.0) or 1.0
        total += bid * count
        lines.append(f"{resource.name} ${bid:.2f} x {count:g}")
    if total > budget:
        report(f"the stack's bids add up to ${total:.2f}/hour ({', '.join(lines)}), over the budget "
               f"max_hourly_spend=${budget:.2f}. Fix: lower bids or instance counts, or raise max_hourly_spend "
               f"in --policy-pack-config", None)


policy = StackValidationPolicy(
    name=NAME,
    description="The sum over live tasks of bid x instances must not exceed max_hourly_spend (USD/hour). "
                "With no budget configured the policy reports nothing.",
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(properties={
        "max_hourly_spend": {"type": "number", "exclusiveMinimum": 0,
                             "description": "USD per hour the stack's bids may add up to."},
    }),
    validate=guarded(validate),
)
