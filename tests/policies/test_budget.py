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
