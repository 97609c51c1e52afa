"""`FlowSpotPoolProvider` against the emulator: a GPU target across regions and types, refilled, never exceeded."""

from __future__ import annotations

from typing import Any

import pytest

from pulumi_flow import naming
from pulumi_flow.provider.pool import FlowSpotPoolProvider, slot_prefix
from pulumi_flow.testing.emulator import RunningEmulator
from tests.provider.conftest import OTHER_OWNER, OWNER

A, B = "us-central1-a", "eu-central1-a"


def checked_pool(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"target_gpus": 16, "max_price_per_gpu_hour": 3.5, "instance_types": ["8xh100", "8xa100"],
                            "regions": [A, B], "pool_name": "gpus-1a2b3c4d", "ready_timeout_minutes": 0.2,
                            "owner": OWNER}
    result = FlowSpotPoolProvider().check({}, {**base, **changes})
    assert result.failures == [], result.failures
    return result.inputs


@pytest.fixture
def pool_provider() -> FlowSpotPoolProvider:
    provider = FlowSpotPoolProvider()
    provider.poll_interval_seconds = 0.05
    return provider


def _live(mithril: RunningEmulator) -> dict[str, dict[str, Any]]:
    return {str(b["fid"]): b for b in mithril.control.live_bids()}


def _placements(mithril: RunningEmulator) -> list[tuple[str, str]]:
    types = {row["fid"]: row["name"] for row in mithril.backend.list_instance_types()}
    return sorted((b["region"], types[b["instance_type"]]) for b in mithril.control.live_bids())


def test_a_pool_reaches_its_target_in_the_first_region_with_room_and_never_above_the_ceiling(
        mithril: RunningEmulator, pool_provider: FlowSpotPoolProvider) -> None:
    mithril.control.set_capacity(A, 0)  # region A has nothing
    props = checked_pool()
    created = pool_provider.create(props)
    outs = created.outs
    assert (outs["gpus_held"], outs["unfilled_gpus"]) == (16, 0)
    assert outs["gpus_by_placement"] == {f"{B}/8xh100": 16}, "region A had no room: B, first type"
    assert _placements(mithril) == [(B, "h100-80gb.sxm.8x")] * 2
    assert {b["limit_price"] for b in mithril.control.live_bids()} == {"$28.00"}, "3.50 x 8 GPUs, never above"
    assert all(slot["status"] == "held" and slot["public_ips"] for slot in outs["slots"])
    assert outs["max_hourly_usd"] == 56.0 and outs["hourly_usd"] == 51.20
    assert created.id == "gpus-1a2b3c4d"
    assert all(b["name"].startswith(slot_prefix(props)) for b in mithril.control.live_bids())


def test_after_k_preemptions_one_up_places_exactly_k_bids_elsewhere(
        mithril: RunningEmulator, pool_provider: FlowSpotPoolProvider) -> None:
    props = checked_pool(target_gpus=32, instance_types=["8xh100"])
    created = pool_provider.create(props)
    assert created.outs["gpus_by_placement"] == {f"{A}/8xh100": 32}
    mithril.control.clear_requests()
    preempted = mithril.control.set_capacity(A, 2)  # A keeps room for 2 of each type: the 2 newest lose theirs
    assert len(preempted) == 2
    refreshed = pool_provider.read(created.id, {**props, **created.outs})
    assert refreshed.outs["gpus_held"] == 16 and refreshed.outs["unfilled_gpus"] == 16
    assert sorted(s["status"] for s in refreshed.outs["slots"]) == ["held", "held", "preempted", "preempted"]
    assert pool_provider.diff(created.id, refreshed.outs, props).changes, "below target: up refills"

    mithril.control.clear_requests()
    updated = pool_provider.update(created.id, refreshed.outs, props)
    placed = [r for r in mithril.control.write_requests() if r["method"] == "POST" and r["path"] == "/v2/spot/bids"]
    cancelled = [r for r in mithril.control.write_requests() if r["method"] == "DELETE"]
    assert (len(placed), len(cancelled)) == (2, 2), "exactly k new bids, the k preempted ones cancelled first"
    assert updated.outs["gpus_by_placement"] == {f"{A}/8xh100": 16, f"{B}/8xh100": 16}
    assert updated.outs["unfilled_gpus"] == 0 and len(_live(mithril)) == 4
    assert not pool_provider.diff(created.id, updated.outs, props).changes


def test_types_are_tried_in_order_and_a_market_over_the_ceiling_is_passed_over(
        mithril: RunningEmulator, pool_provider: FlowSpotPoolProvider) -> None:
    mithril.control.set_market("8xh100", A, 2_900)  # $3.625/GPU-h, over the $3.50 ceiling
    outs = pool_provider.create(checked_pool(regions=[A])).outs
    assert outs["gpus_by_placement"] == {f"{A}/8xa100": 16}
    assert {b["limit_price"] for b in mithril.control.live_bids()} == {"$28.00"}


def test_no_room_anywhere_is_recorded_as_unfilled_and_the_next_up_tries_again(
        mithril: RunningEmulator, pool_provider: FlowSpotPoolProvider) -> None:
    for region in (A, B):
        mithril.control.set_capacity(region, 1)
    props = checked_pool(target_gpus=24, regions=[], instance_types=["8xh100"])
    created = pool_provider.create(props)
    assert (created.outs["gpus_held"], created.outs["unfilled_gpus"]) == (16, 8), "one per region, then no room"
    assert pool_provider.diff(created.id, created.outs, props).changes
    mithril.control.set_capacity(B, 2)
    updated = pool_provider.update(created.id, {**props, **created.outs}, props)
    assert (updated.outs["gpus_held"], updated.outs["unfilled_gpus"]) == (24, 0)


def test_a_lower_target_cancels_the_newest_and_a_new_ceiling_reprices_in_place(
        mithril: RunningEmulator, pool_provider: FlowSpotPoolProvider) -> None:
    props = checked_pool(target_gpus=24)
    created = pool_provider.create(props)
    before = {s["slot"]: s["bid_id"] for s in created.outs["slots"]}
    lower = checked_pool(target_gpus=16, max_price_per_gpu_hour=3.333)
    updated = pool_provider.update(created.id, {**props, **created.outs}, lower)
    assert {s["slot"]: s["bid_id"] for s in updated.outs["slots"]} == {0: before[0], 1: before[1]}
    assert {b["fid"]: b["limit_price"] for b in mithril.control.live_bids()} == {
        before[0]: "$26.66", before[1]: "$26.66"}, "3.333 x 8 = 26.664: rounded down, never above the ceiling"


def test_delete_cancels_every_bid_of_the_pool_and_none_of_another_states(
        mithril: RunningEmulator, pool_provider: FlowSpotPoolProvider) -> None:
    ours, theirs = checked_pool(target_gpus=8), checked_pool(target_gpus=8, owner=OTHER_OWNER)
    created = pool_provider.create(ours)
    other = pool_provider.create(theirs)
    assert slot_prefix(ours) != slot_prefix(theirs) and ours["pool_name"] == theirs["pool_name"]
    pool_provider.delete(created.id, {**ours, **created.outs})
    assert list(_live(mithril)) == [other.outs["slots"][0]["bid_id"]]


def test_a_pool_that_cannot_be_made_of_whole_instances_is_refused_by_check() -> None:
    result = FlowSpotPoolProvider().check({}, {"target_gpus": 12, "max_price_per_gpu_hour": 3.5,
                                               "instance_types": ["8xh100"], "pool_name": "p-1", "owner": OWNER})
    assert [(f.property, f.reason) for f in result.failures] == [(
        "target_gpus", "12: cannot be made of whole instances of 8xh100 (8 GPUs each). Fix: use a multiple of 8, or "
        "add an instance type with fewer GPUs")]
    assert naming.OWNER in result.inputs


def test_a_preemption_in_progress_shows_on_refresh_and_its_machines_still_count(
        mithril: RunningEmulator, pool_provider: FlowSpotPoolProvider) -> None:
    """Mithril's notice before it takes the machines (bid status `Preempting`) is read on refresh, from the same one
    read of the project as every other bid: a task says `preempting` and keeps its addresses; a pool's slot says
    `preempting` and still counts, so nothing is placed for it yet."""
    from pulumi_flow.provider import FlowTaskProvider
    from tests.provider.conftest import checked_task

    mithril.backend.settings.preemption_notice = 600
    tasks = FlowTaskProvider()
    task_props = checked_task(num_instances=1)
    task = tasks.create(task_props)
    props = checked_pool(target_gpus=8, instance_types=["8xh100"], regions=[A])
    pool = pool_provider.create(props)
    mithril.control.set_market("8xa100", A, 3_100)  # over the task's $30.00
    mithril.control.set_market("8xh100", A, 2_900)  # over the pool's $28.00
    seen = tasks.read(task.id, {**task_props, **task.outs}).outs
    assert (seen["status"], seen["bid_status"], seen["public_ips"]) == ("preempting", "Preempting",
                                                                         task.outs["public_ips"])
    refreshed = pool_provider.read(pool.id, {**props, **pool.outs}).outs
    assert [s["status"] for s in refreshed["slots"]] == ["preempting"]
    assert (refreshed["gpus_held"], refreshed["unfilled_gpus"]) == (8, 0)
    assert not pool_provider.diff(pool.id, refreshed, props).changes
