"""reservation-commitment-cap, and reservations in stack-hourly-budget: one compliant case, then one mutation per
violation."""

from __future__ import annotations

from typing import Any

import pytest

from pulumi_flow_policies import budget, reservations

from .conftest import CLUSTER, RESERVATION, RESERVATION_TYPE, TASK_TYPE, UNKNOWN, Res, stack_args, violations

STACK = [Res(RESERVATION_TYPE, "reserved", RESERVATION), Res(TASK_TYPE, "cluster", CLUSTER)]


def test_within_the_cap() -> None:
    assert violations(reservations.policy, stack_args(STACK, {"max_committed_usd": 3072.0})) == []


def test_no_cap_reports_nothing() -> None:
    assert violations(reservations.policy, stack_args(STACK)) == []


def test_a_commitment_over_the_cap() -> None:
    (message,) = violations(reservations.policy, stack_args(STACK, {"max_committed_usd": 3071.99}))
    assert "commit it to $3,072.00 (reserved $3,072.00), over max_committed_usd=$3,071.99" in message


def test_a_new_reservation_is_judged_on_the_most_it_can_commit() -> None:
    """No committed total before it exists: its ceiling x quantity x hours ($40 x 2 x 48 h = $3,840)."""
    new = {key: value for key, value in RESERVATION.items()
           if key not in ("reservation_id", "status", "unit_price", "committed_usd", "starts_at", "ends_at")}
    assert violations(reservations.policy, stack_args([Res(RESERVATION_TYPE, "new", new)],
                                                      {"max_committed_usd": 3840.0})) == []
    (message,) = violations(reservations.policy, stack_args([Res(RESERVATION_TYPE, "new", new)],
                                                            {"max_committed_usd": 3839.99}))
    assert "(new at most $3,840.00)" in message


def test_an_extension_in_preview_is_judged_on_its_ceiling_over_its_new_hours() -> None:
    longer = {**RESERVATION, "duration_hours": 72.0, "committed_usd": UNKNOWN, "status": UNKNOWN}
    (message,) = violations(reservations.policy, stack_args([Res(RESERVATION_TYPE, "reserved", longer)],
                                                            {"max_committed_usd": 5000.0}))
    assert "(reserved at most $5,760.00)" in message, "$40 x 2 x 72 h"


def test_an_end_time_instead_of_a_duration() -> None:
    dated = {**RESERVATION, "duration_hours": None, "committed_usd": None, "start_time": "2030-01-01T00:00:00Z",
             "end_time": "2030-01-02T00:00:00Z"}
    (message,) = violations(reservations.policy, stack_args([Res(RESERVATION_TYPE, "dated", dated)],
                                                            {"max_committed_usd": 1919.99}))
    assert "(dated at most $1,920.00)" in message, "$40 x 2 x 24 h"


def test_an_ended_reservation_is_not_counted() -> None:
    ended = {**RESERVATION, "status": "Ended"}
    assert violations(reservations.policy, stack_args([Res(RESERVATION_TYPE, "old", ended)],
                                                      {"max_committed_usd": 1.0})) == []


def test_a_reservation_without_an_end_is_malformed() -> None:
    endless = {**RESERVATION, "duration_hours": None, "committed_usd": None, "ends_at": None}
    (message,) = violations(reservations.policy, stack_args([Res(RESERVATION_TYPE, "endless", endless)],
                                                            {"max_committed_usd": 1.0}))
    assert "end_time" in message


def test_the_hourly_budget_counts_a_running_reservation_at_its_unit_price() -> None:
    """The cluster bids $50 x 2, the reservation costs $32 x 2 an hour while it runs: $164.00."""
    assert violations(budget.policy, stack_args(STACK, {"max_hourly_spend": 164.0})) == []
    (message,) = violations(budget.policy, stack_args(STACK, {"max_hourly_spend": 163.99}))
    assert "reserved reserved $64.00" in message and "$164.00/hour" in message


def test_the_hourly_budget_leaves_out_a_reservation_not_started() -> None:
    later = {**RESERVATION, "status": "Pending"}
    assert violations(budget.policy, stack_args([Res(RESERVATION_TYPE, "later", later)],
                                                {"max_hourly_spend": 0.01})) == []


# -- consider-reservation ----------------------------------------------------------------------------
# CLUSTER is 2 x 8xh100; the built-in reserved figure for h100 is $6.25 per GPU-hour, $50.00 per instance-hour.
PAID_UNDER = {**CLUSTER, "status": "running", "spend_usd": 4999.99, "running_hours": 100.0}


def test_a_spot_cluster_that_paid_under_the_reserved_price_is_fine() -> None:
    assert violations(reservations.advisor_policy, stack_args([Res(TASK_TYPE, "cluster", PAID_UNDER)])) == []


def test_a_spot_cluster_that_paid_the_reserved_price_is_told_of_reservations() -> None:
    paid = {**PAID_UNDER, "spend_usd": 5000.0}
    (message,) = violations(reservations.advisor_policy, stack_args([Res(TASK_TYPE, "cluster", paid)]))
    assert "cluster has paid $50.00 per instance-hour on average over 100 instance-hours of spot, at or above the " \
           "reserved price $50.00 for 8xh100" in message
    assert "capacity=ReservedCapacity(max_unit_price=50" in message


def test_the_reserved_price_can_be_configured_and_short_histories_are_not_judged() -> None:
    stack = [Res(TASK_TYPE, "cluster", PAID_UNDER)]
    assert violations(reservations.advisor_policy, stack_args(stack, {"thresholds": {"h100": 6.0}}))
    short = {**PAID_UNDER, "spend_usd": 1000.0, "running_hours": 10.0}
    assert violations(reservations.advisor_policy, stack_args([Res(TASK_TYPE, "cluster", short)])) == []
    assert violations(reservations.advisor_policy, stack_args([Res(TASK_TYPE, "cluster", short)],
                                                              {"min_running_hours": 10}))


def test_finished_work_and_preview_unknowns_are_not_judged() -> None:
    over = {**PAID_UNDER, "spend_usd": 9000.0}
    for props in ({**over, "status": "cancelled"}, {**over, "spend_usd": UNKNOWN}, {**over, "role": "workload"}):
        assert violations(reservations.advisor_policy, stack_args([Res(TASK_TYPE, "cluster", props)])) == []


# -- what a reservation commits, from each way its window and size can be given -----------------------------------
NEW = {key: value for key, value in RESERVATION.items()
       if key not in ("reservation_id", "status", "unit_price", "committed_usd", "starts_at", "ends_at",
                      "duration_hours")}


def test_a_window_given_by_its_end_is_counted_to_the_minute() -> None:
    """$40 x 2 instances x 12.5 h (from its start to its end) = $1,000.00."""
    window = {**NEW, "start_time": "2030-01-01T00:00:00Z", "end_time": "2030-01-01T12:30:00+00:00"}
    stack = [Res(RESERVATION_TYPE, "new", window)]
    assert violations(reservations.policy, stack_args(stack, {"max_committed_usd": 1000.0})) == []
    (message,) = violations(reservations.policy, stack_args(stack, {"max_committed_usd": 999.99}))
    assert "(new at most $1,000.00)" in message


@pytest.mark.parametrize(("changes", "named"), [
    ({"quantity": 0}, "'quantity' is 0.0, expected a whole number of instances of new"),
    ({"quantity": 1.5}, "'quantity' is 1.5, expected a whole number of instances of new"),
    ({"end_time": "next week"}, "'end_time' is 'next week', expected an ISO 8601 time"),
    ({}, "'end_time' is None, expected the end of new (or duration_hours)"),
])
def test_a_malformed_window_or_size_is_named(changes: dict[str, Any], named: str) -> None:
    (message,) = violations(reservations.policy, stack_args([Res(RESERVATION_TYPE, "new", {**NEW, **changes})],
                                                            {"max_committed_usd": 1.0}))
    assert named in message
