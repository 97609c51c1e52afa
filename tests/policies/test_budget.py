"""stack-hourly-budget."""

from __future__ import annotations

import pytest
from pulumi_policy.proxy import UnknownValueError

from pulumi_flow_policies import budget

from .conftest import CLUSTER, JOB, TASK_TYPE, UNKNOWN, VOLUME, VOLUME_TYPE, Res, stack_args, task, violations

POLICY = budget.policy
STACK = [Res(TASK_TYPE, "cluster", CLUSTER), Res(TASK_TYPE, "job", JOB), Res(VOLUME_TYPE, "data", VOLUME)]


def test_no_budget_reports_nothing() -> None:
    assert violations(POLICY, stack_args(STACK)) == []


def test_within_budget() -> None:
    assert violations(POLICY, stack_args(STACK, {"max_hourly_spend": 106.0})) == []  # 50x2 + 6x1


def test_over_budget_names_the_total_and_each_bid() -> None:
    (message,) = violations(POLICY, stack_args(STACK, {"max_hourly_spend": 105.0}))
    assert "$106.00/hour" in message and "cluster $50.00 x 2" in message and "max_hourly_spend=$105.00" in message


def test_finished_workloads_do_not_count() -> None:
    done = [Res(TASK_TYPE, "cluster", CLUSTER), Res(TASK_TYPE, "job", task(JOB, status="cancelled"))]
    assert violations(POLICY, stack_args(done, {"max_hourly_spend": 100.0})) == []


def test_unknown_bid_is_the_sdks_preview_error() -> None:
    with pytest.raises(UnknownValueError):
        violations(POLICY, stack_args([Res(TASK_TYPE, "c", task(max_price_per_hour=UNKNOWN))],
                                      {"max_hourly_spend": 10.0}))


def test_malformed_bid_is_a_violation() -> None:
    (message,) = violations(POLICY, stack_args([Res(TASK_TYPE, "c", task(max_price_per_hour="lots"))],
                                               {"max_hourly_spend": 10.0}))
    assert "max_price_per_hour" in message


def test_a_paused_cluster_costs_nothing_and_is_named() -> None:
    """Mithril bills nothing while a bid is paused: the budget counts it at $0, not at its bid."""
    paused = [Res(TASK_TYPE, "cluster", task(paused=True)), Res(TASK_TYPE, "job", JOB)]
    assert violations(POLICY, stack_args(paused, {"max_hourly_spend": 6.0})) == []
    (message,) = violations(POLICY, stack_args(paused, {"max_hourly_spend": 5.0}))
    assert "$6.00/hour" in message and "cluster paused $0.00" in message


def test_money_is_summed_exactly() -> None:
    """Three bids of $0.10 are $0.30, not 0.30000000000000004 over a $0.30 budget."""
    dimes = [Res(TASK_TYPE, f"c{i}", task(JOB, max_price_per_hour=0.1)) for i in range(3)]
    assert violations(POLICY, stack_args(dimes, {"max_hourly_spend": 0.3})) == []
