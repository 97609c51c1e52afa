"""Dollars spent: `stack-spend-cap` on what the stack has cost and will cost, and the advisory `bid-near-market`
on a bid so close to the market that a small rise preempts it.

Both read the cost outputs the task provider keeps from Mithril's history (`spend_usd`, `market_price_per_hour`,
updated on create, update and refresh). Capacity that has none yet (a create in this preview) or whose outputs the
preview cannot know (an update) is judged on its bid: the most it can pay.
"""

from __future__ import annotations

from collections.abc import Mapping
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

from pulumi_flow.money import HOURS_IN_30_DAYS, show
from pulumi_flow_policies._props import (
    TERMINAL_STATUSES,
    Malformed,
    amount,
    guarded,
    instance_count,
    is_task,
    number,
    report_here,
    text,
)

SPEND_CAP = "stack-spend-cap"
NEAR_MARKET = "bid-near-market"
DEFAULT_MARGIN_PERCENT = 10


def _known(props: Mapping[str, Any], key: str) -> Decimal | None:
    """A cost output, or None where there is none yet or the preview cannot know it."""
    try:
        return amount(props, key)
    except UnknownValueError:
        return None


def _status(props: Mapping[str, Any]) -> str | None:
    try:
        return text(props, "status")
    except UnknownValueError:
        return None  # an update in preview: live until it says otherwise


def validate_spend(args: StackValidationArgs, report: ReportViolation) -> None:
    config = args.get_config() or {}
    total_cap, monthly_cap = amount(config, "max_total_usd"), amount(config, "max_30_day_usd")
    if total_cap is None and monthly_cap is None:
        return  # no cap configured: nothing to say
    spent, added, coming = Decimal(0), Decimal(0), Decimal(0)
    new: list[str] = []
    running: list[str] = []
    for resource in args.resources:
        if not is_task(resource):
            continue
        props = resource.props
        spend = _known(props, "spend_usd")
        spent += spend or 0
        if _status(props) in TERMINAL_STATUSES or props.get("paused") is True:
            continue  # finished work, and a paused bid, bill nothing from here on
        bid = amount(props, "max_price_per_hour")
        if bid is None:
            raise Malformed("max_price_per_hour", None, f"the bid of {resource.name}")
        market = _known(props, "market_price_per_hour")
        hourly = (market if market is not None and spend is not None else bid) * instance_count(props, resource.name)
        coming += hourly * HOURS_IN_30_DAYS
        running.append(f"{resource.name} {show(hourly)}/hour")
        if spend is None:
            added += hourly * HOURS_IN_30_DAYS
            new.append(f"{resource.name} {show(hourly * HOURS_IN_30_DAYS)}")
    if total_cap is not None and spent + added > total_cap:
        adding = f" plus 30 days of the capacity this adds ({', '.join(new)})" if new else ""
        report_here(report, f"the stack has spent {show(spent)}{adding}: {show(spent + added)}, over "
                            f"max_total_usd={show(total_cap)}. Fix: remove or pause capacity, or raise "
                            f"max_total_usd in --policy-pack-config")
    if monthly_cap is not None and coming > monthly_cap:
        report_here(report, f"the next 30 days at what the stack's live tasks pay now ({', '.join(running)}) come to "
                            f"{show(coming)}, over max_30_day_usd={show(monthly_cap)}. Fix: lower instance counts or "
                            f"bids, pause capacity, or raise max_30_day_usd in --policy-pack-config")


def validate_near_market(args: StackValidationArgs, report: ReportViolation) -> None:
    """A stack policy, filed under each task: the market a task pays is an output, and the engine gives a resource
    policy only the resource's inputs."""
    margin = Decimal(str(number(args.get_config() or {}, "margin_percent", default=DEFAULT_MARGIN_PERCENT)))
    for resource in args.resources:
        if not is_task(resource) or _status(resource.props) in TERMINAL_STATUSES:
            continue
        market = _known(resource.props, "market_price_per_hour")
        if market is None or market == 0:
            continue  # no market read yet: the bid floor judges a new bid
        bid = amount(resource.props, "max_price_per_hour")
        if bid is None or bid >= market * (1 + margin / 100):
            continue
        headroom = (bid - market) / market * 100
        report(f"{resource.name} bids {show(bid)}/instance-hour and the market is {show(market)}: {headroom:.1f}% "
               f"above it, within margin_percent={margin}, so a small rise preempts it. Fix: raise "
               f"max_price_per_hour to at least {show(market * (1 + margin / 100))}", resource.urn)


spend_policy = StackValidationPolicy(
    name=SPEND_CAP,
    description="What the stack has spent (its tasks' spend_usd) plus 30 days of the capacity it adds must stay "
                "within max_total_usd, and 30 days of its live tasks at what they pay now within max_30_day_usd. "
                "With neither configured the policy reports nothing.",
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(properties={
        "max_total_usd": {"type": "number", "exclusiveMinimum": 0,
                          "description": "USD the stack may have spent, counting 30 days of capacity it adds."},
        "max_30_day_usd": {"type": "number", "exclusiveMinimum": 0,
                           "description": "USD the stack's live tasks may cost over the next 30 days."},
    }),
    validate=guarded(validate_spend),
)

near_market_policy = StackValidationPolicy(
    name=NEAR_MARKET,
    description="A bid within margin_percent of the market its task last paid is one small rise from preemption.",
    enforcement_level=EnforcementLevel.ADVISORY,
    config_schema=PolicyConfigSchema(properties={
        "margin_percent": {"type": "number", "minimum": 0, "default": DEFAULT_MARGIN_PERCENT,
                           "description": "How far above the market, in percent, a bid must be."},
    }),
    validate=guarded(validate_near_market),
)
