"""stack-hourly-budget: what the stack's bids can cost per hour stays within a budget."""

from __future__ import annotations

from decimal import Decimal

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)

from pulumi_flow.money import show
from pulumi_flow_policies._props import (
    TERMINAL_STATUSES,
    Malformed,
    amount,
    guarded,
    instance_count,
    is_pool,
    is_reservation,
    is_task,
    pool_hourly,
    report_here,
    text,
)
from pulumi_flow_policies.reservations import reservation_hourly

NAME = "stack-hourly-budget"


def validate(args: StackValidationArgs, report: ReportViolation) -> None:
    budget = amount(args.get_config() or {}, "max_hourly_spend")
    if budget is None:
        return  # no budget configured: nothing to say
    total = Decimal(0)
    lines: list[str] = []
    for resource in args.resources:
        if not is_task(resource):
            continue
        if text(resource.props, "status") in TERMINAL_STATUSES:
            continue  # finished work no longer bills
        if resource.props.get("paused") is True:
            lines.append(f"{resource.name} paused $0.00")
            continue  # Mithril bills nothing for a paused bid
        bid = amount(resource.props, "max_price_per_hour")
        if bid is None:
            raise Malformed("max_price_per_hour", None, f"the bid of {resource.name}")
        count = instance_count(resource.props, resource.name)
        total += bid * count
        lines.append(f"{resource.name} {show(bid)} x {count}")
    for resource in args.resources:
        if is_pool(resource):
            most = pool_hourly(resource.props, resource.name)
            total += most
            lines.append(f"{resource.name} at most {show(most)} (target GPUs x ceiling)")
            continue
        if not is_reservation(resource):
            continue
        hourly = reservation_hourly(resource.props, resource.name)
        if hourly is not None:
            total += hourly
            lines.append(f"{resource.name} reserved {show(hourly)}")
    if total > budget:
        report_here(report, f"the stack's bids add up to {show(total)}/hour ({', '.join(lines)}), over the budget "
               f"max_hourly_spend={show(budget)}. Fix: lower bids or instance counts, or raise max_hourly_spend "
               f"in --policy-pack-config")


policy = StackValidationPolicy(
    name=NAME,
    description="The sum over live tasks of bid x instances, over running reservations of their unit price x "
                "instances (paused ones too: the commitment stands), and over spot pools of target GPUs x ceiling, "
                "must not exceed max_hourly_spend (USD/hour). With no budget configured the policy reports nothing.",
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(properties={
        "max_hourly_spend": {"type": "number", "exclusiveMinimum": 0,
                             "description": "USD per hour the stack's bids may add up to."},
    }),
    validate=guarded(validate),
)
