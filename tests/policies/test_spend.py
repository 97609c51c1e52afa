"""stack-spend-cap and bid-near-market: one compliant case, then one mutation per violation."""

from __future__ import annotations

import pytest

from pulumi_flow_policies import spend

from .conftest import (
    CLUSTER,
    JOB,
    TASK_TYPE,
    UNKNOWN,
    VOLUME,
    VOLUME_TYPE,
    Res,
    reports,
    stack_args,
    task,
    violations,
)

# A cluster that has run a while: 2 instances paying the market ($40) under a $50 bid, $1,000 spent so far.
RUNNING = task(CLUSTER, spend_usd=1000.0, market_price_per_hour=40.0, status="running", task_id="bid_1")
STACK = [Res(TASK_TYPE, "cluster", RUNNING), Res(VOLUME_TYPE, "data", VOLUME)]
# 30 days of it at what it pays now: 2 x $40 x 720 h.
MONTH = 57600.0


def test_within_both_caps() -> None:
    assert violations(spend.spend_policy, stack_args(STACK, {"max_total_usd": 1000.0, "max_30_day_usd": MONTH})) == []


def test_no_cap_reports_nothing() -> None:
    assert violations(spend.spend_policy, stack_args([Res(TASK_TYPE, "c", task(spend_usd=1e9))])) == []


def test_spent_over_the_total_cap() -> None:
    (message,) = violations(spend.spend_policy, stack_args(STACK, {"max_total_usd": 999.99}))
    assert "the stack has spent $1,000.00: $1,000.00, over max_total_usd=$999.99" in message


def test_added_capacity_counts_30_days_of_its_bid_against_the_total() -> None:
    """A create in this preview has no spend yet: it is judged on spend so far plus its first 30 days at its bid."""
    adding = [*STACK, Res(TASK_TYPE, "job", JOB)]  # $6 x 1 x 720 h = $4,320
    assert violations(spend.spend_policy, stack_args(adding, {"max_total_usd": 5320.0})) == []
    (message,) = violations(spend.spend_policy, stack_args(adding, {"max_total_usd": 5319.99}))
    assert "plus 30 days of the capacity this adds (job $4,320.00): $5,320.00" in message


def test_the_next_30_days_over_the_monthly_cap() -> None:
    (message,) = violations(spend.spend_policy, stack_args(STACK, {"max_30_day_usd": MONTH - 0.01}))
    assert "(cluster $80.00/hour) come to $57,600.00, over max_30_day_usd=$57,599.99" in message


def test_an_update_in_preview_is_judged_on_its_bid() -> None:
    """Its cost outputs are unknown until `up`: the bid, the most it can pay, stands in for the market."""
    repriced = task(RUNNING, spend_usd=UNKNOWN, market_price_per_hour=UNKNOWN, status=UNKNOWN)
    (message,) = violations(spend.spend_policy, stack_args([Res(TASK_TYPE, "cluster", repriced)],
                                                          {"max_30_day_usd": MONTH}))
    assert "(cluster $100.00/hour) come to $72,000.00" in message


@pytest.mark.parametrize("stopped", [{"paused": True}, {"status": "cancelled"}])
def test_paused_and_finished_tasks_bill_nothing_more(stopped: dict[str, object]) -> None:
    still = [Res(TASK_TYPE, "cluster", task(RUNNING, **stopped))]
    assert violations(spend.spend_policy, stack_args(still, {"max_30_day_usd": 0.01, "max_total_usd": 1000})) == []


def near(props: dict[str, object], config: dict[str, object] | None = None) -> list[tuple[str, str | None]]:
    """bid-near-market on a stack of one task, `cluster`: what it reports, and the URN it files each under."""
    return reports(spend.near_market_policy, stack_args([Res(TASK_TYPE, "cluster", props), Res(VOLUME_TYPE, "data",
                                                                                             VOLUME)], config))


def test_a_bid_well_above_the_market_is_fine() -> None:
    assert near(RUNNING) == []  # $50 vs $40: 25%


def test_a_bid_within_the_margin_of_the_market_is_advised() -> None:
    ((message, urn),) = near(task(RUNNING, market_price_per_hour=46.0))
    assert urn is not None and urn.endswith("::cluster"), "filed under the task"
    assert message == ("cluster bids $50.00/instance-hour and the market is $46.00: 8.7% above it, within "
                       "margin_percent=10, so a small rise preempts it. Fix: raise max_price_per_hour to at least "
                       "$50.60")


@pytest.mark.parametrize("passed_over", [
    Res(VOLUME_TYPE, "data", VOLUME), Res(TASK_TYPE, "fresh", CLUSTER), Res(TASK_TYPE, "safe", RUNNING)],
    ids=["not a task", "no market yet", "well above the market"])
def test_a_task_passed_over_does_not_hide_the_ones_after_it(passed_over: Res) -> None:
    stack = [passed_over, Res(TASK_TYPE, "close", task(RUNNING, market_price_per_hour=46.0))]
    ((message, _),) = reports(spend.near_market_policy, stack_args(stack))
    assert message.startswith("close bids $50.00/instance-hour")


def test_the_margin_is_configurable_and_a_new_bid_has_no_market_yet() -> None:
    close = task(RUNNING, market_price_per_hour=46.0)
    assert near(close, {"margin_percent": 5}) == []
    assert near(CLUSTER) == []


def test_every_new_and_running_task_is_named_and_a_paused_one_does_not_hide_the_rest() -> None:
    stack = [Res(TASK_TYPE, "paused", task(RUNNING, paused=True)), Res(TASK_TYPE, "cluster", RUNNING),
             Res(TASK_TYPE, "job", JOB), Res(TASK_TYPE, "job2", JOB)]
    total, monthly = violations(spend.spend_policy, stack_args(stack, {"max_total_usd": 1.0, "max_30_day_usd": 1.0}))
    assert "(job $4,320.00, job2 $4,320.00)" in total and "spent $2,000.00" in total and "$10,640.00, over" in total
    assert "(cluster $80.00/hour, job $6.00/hour, job2 $6.00/hour) come to $66,240.00" in monthly


def test_a_task_with_spend_but_no_market_yet_is_judged_on_its_bid() -> None:
    older = {k: v for k, v in RUNNING.items() if k != "market_price_per_hour"}
    (message,) = violations(spend.spend_policy, stack_args([Res(TASK_TYPE, "c", older)], {"max_30_day_usd": 1.0}))
    assert "(c $100.00/hour)" in message


@pytest.mark.parametrize(("change", "named"), [
    ({"num_instances": 1.5}, "'num_instances' is 1.5, expected a whole number of instances of c"),
    ({"num_instances": 0}, "'num_instances' is 0.0, expected a whole number of instances of c"),
    ({"max_price_per_hour": None}, "'max_price_per_hour' is None, expected the bid of c"),
])
def test_a_malformed_task_is_a_violation_that_names_the_property(change: dict[str, object], named: str) -> None:
    (message,) = violations(spend.spend_policy, stack_args([Res(TASK_TYPE, "c", task(RUNNING, **change))],
                                                          {"max_30_day_usd": 1e9}))
    assert f"cannot check the stack: property {named}." in message


def test_an_instance_count_left_out_is_one() -> None:
    single = {k: v for k, v in RUNNING.items() if k != "num_instances"}
    (message,) = violations(spend.spend_policy, stack_args([Res(TASK_TYPE, "c", single)], {"max_30_day_usd": 1.0}))
    assert "(c $40.00/hour)" in message


def test_the_margin_is_a_strict_percentage_of_the_market() -> None:
    at_margin = task(RUNNING, market_price_per_hour=40.0)  # $50 is exactly 25% above $40
    assert near(at_margin, {"margin_percent": 25}) == []
    ((message, _),) = near(at_margin, {"margin_percent": 25.5})
    assert "25.0% above it, within margin_percent=25.5" in message and "at least $50.20" in message
    cheap = task(RUNNING, max_price_per_hour=1.05, market_price_per_hour=1.0)
    assert "5.0% above it" in near(cheap)[0][0]


def test_a_finished_task_is_past_preemption() -> None:
    done = task(RUNNING, market_price_per_hour=49.0, status="cancelled")
    assert near(done) == []


def test_the_margin_is_a_hundredth_of_the_market_per_percent() -> None:
    close = task(RUNNING, market_price_per_hour=40.0)  # the floor at 25.2% is $50.08, above the $50 bid
    assert near(close, {"margin_percent": 25.2})
