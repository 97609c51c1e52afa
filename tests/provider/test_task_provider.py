"""FlowTaskProvider against the emulator: the semantics the engine relies on."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from pulumi_flow.provider import FlowProviderError, FlowTaskProvider, FlowVolumeProvider, StillBillingError
from pulumi_flow.provider.task import bid_name
from pulumi_flow.testing.emulator import RunningEmulator

from .conftest import bid_whose_answer_and_lookups_were_lost, checked_task, checked_volume

A100_8X = "it_Sg1nDx1I8NFep60J"


def test_create_waits_until_every_instance_runs(task_provider: FlowTaskProvider, mithril: RunningEmulator) -> None:
    created = task_provider.create(checked_task(num_instances=3))
    assert created.outs["status"] == "running" and created.outs["bid_status"] == "Allocated"
    assert len(created.outs["public_ips"]) == 3 and len(set(created.outs["private_ips"])) == 3
    assert created.outs["task_name"] == "gpu-infra-1a2b3c4d"
    bid = mithril.backend.get_bid(created.id)
    assert bid["name"] == created.outs["bid_name"] == bid_name(created.outs), "the SDK's random suffix is off"
    assert re.fullmatch(r"gpu-infra-1a2b3c4d\.[0-9a-f]{8}", bid["name"])


def test_workload_submits_with_terminate_on_exit(task_provider: FlowTaskProvider, mithril: RunningEmulator) -> None:
    created = task_provider.create(checked_task(role="workload", num_instances=1, max_run_time_hours=2))
    assert created.outs["wait_until"] == "submitted"
    script = mithril.backend.get_bid(created.id)["launch_specification"]["startup_script"]
    assert mithril.backend.list_api_keys(), "terminate_on_exit makes the SDK mint a per-task key"
    assert script


def test_reprice_is_a_patch_not_a_new_bid(task_provider: FlowTaskProvider, mithril: RunningEmulator) -> None:
    inputs = checked_task()
    created = task_provider.create(inputs)
    mithril.control.clear_requests()
    updated = task_provider.update(created.id, created.outs, {**inputs, "max_price_per_hour": 42.0})
    assert updated.outs["max_price_per_hour"] == 42.0
    writes = mithril.control.write_requests()
    assert [(w["method"], w["path"]) for w in writes] == [("PATCH", f"/v2/spot/bids/{created.id}")]
    assert mithril.backend.get_bid(created.id)["limit_price"] == "$42.00"


def test_identical_inputs_give_no_diff_and_type_change_replaces_old_first(task_provider: FlowTaskProvider) -> None:
    inputs = checked_task()
    olds = {**inputs, "task_id": "bid_1", "num_instances": 2.0, "max_price_per_hour": 30}  # wire floats
    assert task_provider.diff("bid_1", olds, inputs).changes is False
    diff = task_provider.diff("bid_1", olds, {**inputs, "instance_type": "8xh100", "env": {"A": "1"}})
    assert set(diff.replaces) == {"instance_type", "env"} and diff.delete_before_replace is True


def test_refresh_of_preempted_cluster_shows_it_then_new_addresses(task_provider: FlowTaskProvider,
                                                                  mithril: RunningEmulator) -> None:
    created = task_provider.create(checked_task())
    mithril.backend.settings.allocation_delay = 5.0
    mithril.control.preempt(created.id)
    read = task_provider.read(created.id, created.outs)
    assert read.id == created.id, "a preempted cluster stays in state"
    assert read.outs["status"] == "preempted" and read.outs["bid_status"] == "Open"
    assert read.outs["public_ips"] == [] and read.outs["instance_ids"] == []
    mithril.backend.settings.allocation_delay = 0.0
    mithril.backend.settings.boot_delay = 0.0
    again = task_provider.read(created.id, read.outs)
    assert again.outs["status"] == "running"
    assert again.outs["public_ips"] and not set(again.outs["public_ips"]) & set(created.outs["public_ips"])


def test_cluster_terminated_behind_our_back_is_gone(task_provider: FlowTaskProvider,
                                                   mithril: RunningEmulator) -> None:
    created = task_provider.create(checked_task())
    task_provider.read(created.id, created.outs)  # warm the SDK's cache: the read after must not trust it
    mithril.control.terminate(created.id)
    assert task_provider.read(created.id, created.outs).id == ""


def test_cluster_deleted_entirely_is_gone(task_provider: FlowTaskProvider, mithril: RunningEmulator) -> None:
    created = task_provider.create(checked_task())
    mithril.control.forget_bid(created.id)
    assert task_provider.read(created.id, created.outs).id == ""
    task_provider.delete(created.id, created.outs)  # already gone is success


def test_finished_workload_is_kept_with_terminal_status(task_provider: FlowTaskProvider,
                                                        mithril: RunningEmulator) -> None:
    created = task_provider.create(checked_task(role="workload", num_instances=1, wait_until="running"))
    mithril.control.terminate(created.id)  # the command exited; terminate_on_exit ended the bid
    read = task_provider.read(created.id, created.outs)
    assert read.id == created.id
    assert read.outs["status"] == "cancelled" and read.outs["bid_status"] == "Terminated"
    assert task_provider.diff(created.id, read.outs, checked_task(role="workload", num_instances=1,
                                                                  wait_until="running")).changes is False


def test_wait_completed_returns_terminal_workload(task_provider: FlowTaskProvider, mithril: RunningEmulator) -> None:
    import threading

    def finish_soon() -> None:
        backend = mithril.backend
        if backend.wait_for(lambda: any(b.status == "Allocated" for b in backend.bids.values()), 30):
            mithril.control.terminate(next(iter(backend.bids)))

    worker = threading.Thread(target=finish_soon)
    worker.start()
    created = task_provider.create(checked_task(role="workload", num_instances=1, wait_until="completed"))
    worker.join()
    assert created.outs["status"] == "cancelled"


def test_out_of_band_price_change_shows_on_refresh(task_provider: FlowTaskProvider, mithril: RunningEmulator) -> None:
    inputs = checked_task()
    created = task_provider.create(inputs)
    mithril.control.set_limit_price(created.id, "$99.00")
    read = task_provider.read(created.id, created.outs)
    assert read.outs["max_price_per_hour"] == 99.0
    diff = task_provider.diff(created.id, read.outs, inputs)
    assert diff.changes and diff.replaces == [], "the next up puts the price back in place"


def test_paused_bid_reads_paused(task_provider: FlowTaskProvider, mithril: RunningEmulator) -> None:
    created = task_provider.create(checked_task())
    mithril.control.pause(created.id)
    read = task_provider.read(created.id, created.outs)
    assert read.id == created.id and read.outs["bid_status"] == "Paused" and read.outs["public_ips"] == []
    assert read.inputs is not None and read.inputs["paused"] is True, "a pause made elsewhere is input drift"
    diff = task_provider.diff(created.id, read.outs, created.outs)
    assert diff.changes and diff.replaces == [], "the next up resumes it in place"


def test_pause_and_resume_are_one_patch_of_the_same_bid(task_provider: FlowTaskProvider,
                                                        mithril: RunningEmulator) -> None:
    inputs = checked_task()
    created = task_provider.create(inputs)
    paused_inputs = task_provider.check(created.outs, {**created.outs, "paused": True}).inputs
    diff = task_provider.diff(created.id, created.outs, paused_inputs)
    assert diff.changes and diff.replaces == []

    mithril.control.clear_requests()
    paused = task_provider.update(created.id, created.outs, paused_inputs)
    assert [(r["method"], r["path"]) for r in mithril.control.write_requests()] == [
        ("PATCH", f"/v2/spot/bids/{created.id}")]
    assert paused.outs["bid_status"] == "Paused" and paused.outs["paused"] is True
    assert mithril.backend.get_bid(created.id)["instances"] == created.outs["instance_ids"], "machines kept"

    resumed = task_provider.update(created.id, paused.outs, {**paused_inputs, "paused": False})
    assert resumed.outs["status"] == "running" and len(resumed.outs["public_ips"]) == 2, "up waits for them"
    assert [b["fid"] for b in mithril.control.live_bids()] == [created.id]


def test_a_cluster_declared_paused_is_placed_and_paused(task_provider: FlowTaskProvider,
                                                        mithril: RunningEmulator) -> None:
    created = task_provider.create(checked_task(paused=True))
    assert mithril.backend.get_bid(created.id)["status"] == "Paused"
    assert created.outs["paused"] is True and created.outs["bid_status"] == "Paused"


def test_state_without_paused_is_not_a_change() -> None:
    provider = FlowTaskProvider()
    news = checked_task()
    olds = {k: val for k, val in news.items() if k != "paused"}  # written before `paused` existed
    assert not provider.diff("bid_1", olds, news).changes


def test_unallocatable_bid_times_out_and_is_cancelled(task_provider: FlowTaskProvider,
                                                      mithril: RunningEmulator) -> None:
    mithril.control.set_market(A100_8X, "us-central1-a", 2_900)
    mithril.control.set_market(A100_8X, "eu-central1-a", 2_900)
    inputs = checked_task(max_price_per_hour=30.0, ready_timeout_minutes=0.01, num_instances=1)
    # Raise the market above the bid once it is placed: the SDK refuses below-market bids itself.
    mithril.backend.settings.allocation_delay = 0.5
    original = mithril.backend.create_bid

    def create_then_outbid(body, key):  # type: ignore[no-untyped-def]
        result = original(body, key)
        mithril.backend.set_market_price(A100_8X, body["region"], 5_000)
        return result

    mithril.backend.create_bid = create_then_outbid  # type: ignore[method-assign]
    with pytest.raises(FlowProviderError, match=r"was not running within .* nothing is left billing"):
        task_provider.create(inputs)
    assert mithril.control.live_bids() == []


def test_ambiguous_create_adopts_instead_of_bidding_twice(task_provider: FlowTaskProvider,
                                                          mithril: RunningEmulator) -> None:
    mithril.control.add_fault(kind="accept_then_fail", method="POST", path="/v2/spot/bids", status=502)
    created = task_provider.create(checked_task())
    assert mithril.control.call("GET", "faults")[0]["fired"] == 1
    live = mithril.control.live_bids()
    assert [b["fid"] for b in live] == [created.id]


def test_a_lost_answer_adopts_our_bid_not_an_earlier_one_of_another_task(task_provider: FlowTaskProvider,
                                                                         mithril: RunningEmulator) -> None:
    """The look-up after a lost answer goes by our bid's name: another task's live bid, placed before ours, is
    neither adopted nor touched."""
    other = task_provider.create(checked_task(task_name="other-1a2b3c4d", num_instances=1))
    mithril.control.add_fault(kind="accept_then_fail", method="POST", path="/v2/spot/bids", status=502)
    ours = task_provider.create(checked_task())
    assert ours.id != other.id and ours.outs["task_name"] == "gpu-infra-1a2b3c4d"
    assert sorted(b["fid"] for b in mithril.control.live_bids()) == sorted([other.id, ours.id])
    assert [b["instance_quantity"] for b in mithril.control.live_bids() if b["fid"] == ours.id] == [2]


def test_a_retry_adopts_our_bid_when_another_tasks_newer_bid_is_listed_first(task_provider: FlowTaskProvider,
                                                                             mithril: RunningEmulator) -> None:
    """Mithril lists the newest bid first: the retried create's look-up must go by our bid's name."""
    inputs = checked_task()
    ours = bid_whose_answer_and_lookups_were_lost(task_provider, mithril, inputs)
    other = task_provider.create(checked_task(task_name="other-1a2b3c4d", num_instances=1))
    assert mithril.backend.list_bids()[0]["fid"] == other.id, "the other task's bid is listed first"
    assert task_provider.create(inputs).id == ours
    assert sorted(b["fid"] for b in mithril.control.live_bids()) == sorted([ours, other.id])


def test_create_retried_after_lost_answer_and_failed_lookup_gives_one_bid(task_provider: FlowTaskProvider,
                                                                          mithril: RunningEmulator) -> None:
    inputs = checked_task()
    left = bid_whose_answer_and_lookups_were_lost(task_provider, mithril, inputs)
    created = task_provider.create(inputs)  # the next `pulumi up`
    assert created.id == left
    assert [b["fid"] for b in mithril.control.live_bids()] == [created.id]


def test_recreate_after_delete_is_a_new_bid(task_provider: FlowTaskProvider, mithril: RunningEmulator) -> None:
    inputs = checked_task()
    first = task_provider.create(inputs)
    task_provider.delete(first.id, first.outs)
    second = task_provider.create(inputs)
    assert second.id != first.id and second.outs["status"] == "running"


def test_task_runs_in_its_volumes_region(task_provider: FlowTaskProvider, volume_provider: FlowVolumeProvider,
                                         mithril: RunningEmulator) -> None:
    volume = volume_provider.create(checked_volume(region="eu-central1-a"))
    created = task_provider.create(checked_task(volumes=[{"volume_id": volume.id, "mount_path": "/data"}]))
    assert created.outs["resolved_region"] == "eu-central1-a"


def test_volumes_in_two_regions_are_refused_before_bidding(task_provider: FlowTaskProvider,
                                                           volume_provider: FlowVolumeProvider,
                                                           mithril: RunningEmulator) -> None:
    a = volume_provider.create(checked_volume(volume_name="a-1", region="eu-central1-a"))
    b = volume_provider.create(checked_volume(volume_name="b-1", region="us-central1-a"))
    mithril.control.clear_requests()
    with pytest.raises(FlowProviderError, match="different regions"):
        task_provider.create(checked_task(volumes=[{"volume_id": a.id, "mount_path": "/data"},
                                                   {"volume_id": b.id, "mount_path": "/mnt/b"}]))
    assert mithril.control.write_requests() == []


def test_region_that_contradicts_volumes_is_refused(task_provider: FlowTaskProvider,
                                                    volume_provider: FlowVolumeProvider,
                                                    mithril: RunningEmulator) -> None:
    volume = volume_provider.create(checked_volume(region="eu-central1-a"))
    with pytest.raises(FlowProviderError, match=r"region='us-central1-a'.*set region='eu-central1-a'"):
        task_provider.create(checked_task(region="us-central1-a",
                                          volumes=[{"volume_id": volume.id, "mount_path": "/data"}]))
    assert mithril.control.live_bids() == []


def test_import_reads_inputs_from_mithril(task_provider: FlowTaskProvider, mithril: RunningEmulator) -> None:
    created = task_provider.create(checked_task())
    imported = task_provider.read(created.id, {})
    assert imported.inputs is not None
    assert imported.inputs["instance_type"] == "8xa100" and imported.inputs["num_instances"] == 2
    assert imported.inputs["max_price_per_hour"] == 30.0


def test_a_retried_create_adopts_its_own_bid_and_nothing_else(task_provider: FlowTaskProvider,
                                                               mithril: RunningEmulator) -> None:
    """Adopt-on-retry takes only this resource's own bid: same name (so the same specification)
    and the same price. A look-alike is left alone, with an error that says what to do."""
    inputs = checked_task(max_price_per_hour=40.0)
    first = task_provider.create(inputs)
    mithril.control.add_fault(kind="accept_then_fail", method="POST", path="/v2/spot/bids", status=502)
    adopted = task_provider.create(inputs)  # a retried create meets its own live bid by name
    assert adopted.id == first.id and [b["fid"] for b in mithril.control.live_bids()] == [first.id]

    mithril.control.set_limit_price(first.id, "$33.00")  # same name, another price: not this bid
    with pytest.raises(FlowProviderError, match=r"bids \$33.00, not \$40.00.*left untouched"):
        task_provider.create(inputs)
    assert [(b["fid"], b["limit_price"]) for b in mithril.control.live_bids()] == [(first.id, "$33.00")]

    other = task_provider.create(checked_task(command="python serve.py", max_price_per_hour=40.0))
    assert other.id != first.id, "another specification is another name: placed beside, never adopted"
    assert sorted(b["fid"] for b in mithril.control.live_bids()) == sorted([first.id, other.id])


def test_a_strangers_bid_under_our_task_name_is_never_adopted(task_provider: FlowTaskProvider,
                                                             mithril: RunningEmulator, flow_client: Any) -> None:
    """Someone runs `flow run` with our task name (and even our machines): it is not ours."""
    import flow

    inputs = checked_task()
    stranger = flow_client.run(flow.TaskConfig(
        name=inputs["task_name"], unique_name=False, command="python other.py", instance_type="8xa100",
        num_instances=2, max_price_per_hour=30.0, upload_code=False))
    ours = task_provider.create(inputs)
    assert ours.id != stranger.task_id
    assert sorted(b["fid"] for b in mithril.control.live_bids()) == sorted([ours.id, stranger.task_id])


@pytest.mark.parametrize(("key", "value"), [("wait_until", "submitted"), ("ready_timeout_minutes", 90.0)])
def test_changing_only_how_up_waits_is_no_change(key: str, value: object) -> None:
    provider = FlowTaskProvider()
    olds = checked_task()
    news = provider.check(olds, {**olds, key: value}).inputs
    assert news[key] == value
    diff = provider.diff("bid_1", olds, news)
    assert not diff.changes and diff.replaces == []


@pytest.mark.parametrize(("key", "value"), [
    ("image", "nvcr.io/nvidia/pytorch:24.05-py3"), ("command", "python serve.py"), ("env", {"A": "1"}),
    ("ssh_keys", ["sshkey_abc"]), ("max_run_time_hours", 5.0), ("task_name", "other-1a2b3c4d"),
    ("role", "workload"), ("num_instances", 3), ("region", "eu-central1-a"), ("instance_type", "8xh100"),
])
def test_a_change_of_what_runs_replaces_the_bid_old_one_first(key: str, value: object) -> None:
    """The machines keep what they were started with: any change of it is a replacement, never an update."""
    provider = FlowTaskProvider()
    olds = checked_task()
    news = provider.check(olds, {**olds, key: value}).inputs
    diff = provider.diff("bid_1", olds, news)
    assert diff.changes and diff.replaces == [key] and diff.delete_before_replace


@pytest.mark.parametrize(("old", "new"), [(50.0, 50.01), (50.0, 50.4), (52.49, 52.5)])
def test_a_reprice_by_cents_is_an_update_and_is_sent_to_the_cent(
        old: float, new: float, task_provider: FlowTaskProvider, mithril: RunningEmulator) -> None:
    created = task_provider.create(checked_task(max_price_per_hour=old))
    news = task_provider.check(created.outs, {**created.outs, "max_price_per_hour": new}).inputs
    diff = task_provider.diff(created.id, created.outs, news)
    assert diff.changes and diff.replaces == []
    task_provider.update(created.id, created.outs, news)
    assert mithril.backend.get_bid(created.id)["limit_price"] == f"${new:.2f}"


def test_an_under_market_bid_is_judged_by_the_market_where_it_would_run(task_provider: FlowTaskProvider,
                                                                        mithril: RunningEmulator) -> None:
    """A task pinned to a region is refused by that region's market, and told that region's least bid; the
    same bid unpinned clears a cheaper region's market and runs there."""
    mithril.control.set_market(A100_8X, "us-central1-a", 1_650)
    mithril.control.set_market(A100_8X, "eu-central1-a", 1_000)
    with pytest.raises(FlowProviderError) as caught:
        task_provider.create(checked_task(max_price_per_hour=12.0, region="us-central1-a"))
    message = str(caught.value)
    assert "now us-central1-a $16.50 per instance-hour" in message and "eu-central1-a" not in message, message
    assert "Fix: set max_price_per_hour to at least 16.50" in message
    assert [r for r in mithril.control.write_requests() if r["path"] == "/v2/spot/bids"] == [], "nothing placed"
    created = task_provider.create(checked_task(max_price_per_hour=12.0))
    assert created.outs["resolved_region"] == "eu-central1-a"


def test_the_bid_name_is_the_task_name_and_a_digest_of_what_runs() -> None:
    """Adoption after a lost answer goes by this name: the same machines give the same name, other machines
    another, and a reprice (made in place) keeps it."""
    inputs = checked_task()
    name = bid_name(inputs)
    assert name.startswith("gpu-infra-1a2b3c4d.") and name == bid_name(checked_task())
    assert bid_name({**inputs, "max_price_per_hour": 31.0}) == name
    for key, value in (("image", "ubuntu:24.04"), ("num_instances", 3), ("command", "python train.py"),
                       ("instance_type", "8xh100")):
        assert bid_name({**inputs, key: value}) != name, key
    assert bid_name({**inputs, "task_name": "other-1a2b3c4d"}).startswith("other-1a2b3c4d.")


def test_an_under_market_bid_names_the_market_and_the_least_bid_that_allocates(
        task_provider: FlowTaskProvider, mithril: RunningEmulator) -> None:
    mithril.control.set_market(A100_8X, "us-central1-a", 1_650)
    mithril.control.set_market(A100_8X, "eu-central1-a", 1_800)
    with pytest.raises(FlowProviderError) as caught:
        task_provider.create(checked_task(max_price_per_hour=5.0))
    message = str(caught.value)
    assert "max_price_per_hour=$5.00" in message and "below the market for 8xa100" in message
    assert "eu-central1-a $18.00, us-central1-a $16.50" in message
    assert "least bid that would be allocated is $16.50" in message and "nothing was placed" in message
    assert mithril.control.write_requests() == [] and mithril.control.live_bids() == []


def test_an_unknown_region_is_refused_at_check_from_the_sdks_region_data() -> None:
    result = FlowTaskProvider().check({}, {**checked_task(), "region": "us-east9-z"})
    assert [f.property for f in result.failures] == ["region"]
    assert "us-central5-a" in result.failures[0].reason, "the SDK's own list is named"


def test_create_first_never_adopts_the_bid_it_replaces(task_provider: FlowTaskProvider,
                                                       mithril: RunningEmulator) -> None:
    """A forced replacement (`pulumi up --replace`) of identical machines: the new create would meet the old
    bid by name; adopting it would let the engine delete it. Refused, with what to do."""
    inputs = checked_task(replacement="create-first")
    old = task_provider.create(inputs)
    with pytest.raises(FlowProviderError, match=r"replacement='create-first'.*Fix: use replacement='delete-first'"):
        task_provider.create(inputs)
    assert [b["fid"] for b in mithril.control.live_bids()] == [old.id]
    assert task_provider.diff(old.id, old.outs, {**inputs, "command": "python x.py"}).delete_before_replace is False
    assert task_provider.diff(old.id, old.outs, {**checked_task(), "command": "python x.py"}).delete_before_replace


def test_a_reprice_mithril_refuses_fails_the_update_and_the_old_bid_stands(
        task_provider: FlowTaskProvider, mithril: RunningEmulator) -> None:
    """State must not record a price Mithril never took: the update fails, and the live bid keeps its price."""
    created = task_provider.create(checked_task(max_price_per_hour=30.0))
    news = task_provider.check(created.outs, {**created.outs, "max_price_per_hour": 31.5}).inputs
    mithril.control.add_fault(kind="status", method="PATCH", path=f"/v2/spot/bids/{created.id}", status=422,
                              times=10)
    with pytest.raises(Exception):  # noqa: B017 - whatever the SDK raises, the engine records no update
        task_provider.update(created.id, created.outs, news)
    assert mithril.backend.get_bid(created.id)["limit_price"] == "$30.00"


def test_a_reprice_whose_answer_was_lost_is_checked_against_mithril_not_retried_blind(
        task_provider: FlowTaskProvider, mithril: RunningEmulator) -> None:
    created = task_provider.create(checked_task(max_price_per_hour=30.0))
    news = task_provider.check(created.outs, {**created.outs, "max_price_per_hour": 31.5}).inputs
    mithril.control.add_fault(kind="accept_then_fail", method="PATCH", path=f"/v2/spot/bids/{created.id}",
                              status=502, times=10)
    result = task_provider.update(created.id, created.outs, news)
    assert result.outs["max_price_per_hour"] == 31.5
    assert mithril.backend.get_bid(created.id)["limit_price"] == "$31.50"
    assert [b["fid"] for b in mithril.control.live_bids()] == [created.id]


def test_a_pause_mithril_refuses_fails_the_update(task_provider: FlowTaskProvider, mithril: RunningEmulator) -> None:
    created = task_provider.create(checked_task())
    news = task_provider.check(created.outs, {**created.outs, "paused": True}).inputs
    mithril.control.add_fault(kind="status", method="PATCH", path=f"/v2/spot/bids/{created.id}", status=422,
                              times=10)
    with pytest.raises(Exception):  # noqa: B017 - whatever the SDK raises, the engine records no update
        task_provider.update(created.id, created.outs, news)
    assert mithril.backend.get_bid(created.id)["status"] != "Paused"


def test_delete_cancels_the_bid_and_a_bid_already_gone_counts_as_deleted(
        task_provider: FlowTaskProvider, mithril: RunningEmulator) -> None:
    created = task_provider.create(checked_task())
    task_provider.delete(created.id, created.outs)
    assert mithril.control.live_bids() == []
    task_provider.delete(created.id, created.outs)  # again: nothing to do, no error
    gone = task_provider.create(checked_task(task_name="gone-1a2b3c4d"))
    mithril.control.forget_bid(gone.id)
    task_provider.delete(gone.id, gone.outs)


def test_delete_that_mithril_keeps_refusing_fails_loudly(task_provider: FlowTaskProvider,
                                                         mithril: RunningEmulator) -> None:
    """A bid still billing after `destroy` must not vanish from state."""
    created = task_provider.create(checked_task())
    mithril.control.add_fault(kind="status", method="DELETE", path=f"/v2/spot/bids/{created.id}", status=500,
                              times=100)
    with pytest.raises(StillBillingError) as caught:
        task_provider.delete(created.id, created.outs)
    assert caught.value.bid_id == created.id and "500" in caught.value.refusal, caught.value
    assert [b["fid"] for b in mithril.control.live_bids()] == [created.id]


def _startup_script(bid: dict[str, Any]) -> str:
    """The script Mithril runs on the machines, with the parts the Flow SDK packs (base64, gzip) unpacked."""
    import base64
    import binascii
    import gzip

    script = bid["launch_specification"]["startup_script"]
    unpacked = [script]
    for packed in re.findall(r"'([A-Za-z0-9+/=\n]{16,})'", script) + re.findall(
            r"'EOF_COMPRESSED_SCRIPT'\n([A-Za-z0-9+/=\n]+?)\nEOF_COMPRESSED_SCRIPT", script):
        try:
            raw = base64.b64decode(packed, validate=False)
            unpacked.append((gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode())
        except (binascii.Error, UnicodeDecodeError, OSError):
            continue
    return "\n".join(unpacked)


def test_the_project_directory_never_goes_to_the_machines(task_provider: FlowTaskProvider,
                                                          mithril: RunningEmulator, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The provider runs in the Pulumi project's directory, beside the stack's config: the Flow SDK can pack the
    working directory into the startup script (`upload_code`), and nothing of it may reach Mithril."""
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  flow:apiKey:\n    secure: v1:ciphertext-7f3a9c\n")
    monkeypatch.chdir(tmp_path)
    created = task_provider.create(checked_task())
    script = _startup_script(mithril.backend.get_bid(created.id))
    assert "Pulumi.dev.yaml" not in script and "ciphertext-7f3a9c" not in script
    assert "sleep infinity" in script, "the unpacked script is the one that runs the command"


def test_what_mithril_receives_is_every_input_as_written(task_provider: FlowTaskProvider,
                                                         volume_provider: FlowVolumeProvider,
                                                         mithril: RunningEmulator) -> None:
    volume = volume_provider.create(checked_volume(region="us-central1-a"))
    created = task_provider.create(checked_task(
        role="workload", num_instances=1, max_run_time_hours=2, image="nvcr.io/nvidia/pytorch:24.05-py3",
        env={"WANDB_PROJECT": "llm"}, ssh_keys=["sshkey_abc"], command="python train.py --lr 3e-4",
        region="us-central1-a", max_price_per_hour=30.004,
        volumes=[{"volume_id": volume.id, "mount_path": "/data", "interface": "file"}]))
    bid = mithril.backend.get_bid(created.id)
    assert (bid["name"], bid["limit_price"], bid["instance_quantity"], bid["region"]) == (
        bid_name(created.outs), "$30.01", 1, "us-central1-a")
    assert bid["launch_specification"]["volumes"] == [volume.id]
    assert "sshkey_abc" in bid["launch_specification"]["ssh_keys"]
    script = _startup_script(bid)
    for expected in ("export WANDB_PROJECT='llm'", "nvcr.io/nvidia/pytorch:24.05-py3", "python train.py --lr 3e-4",
                     "Mounting: /data", '"$((NOW + 7200))"'):
        assert expected in script, expected
    assert created.outs["max_price_per_hour"] == 30.01


def test_infrastructure_runs_without_a_deadline_on_several_machines(task_provider: FlowTaskProvider,
                                                                    mithril: RunningEmulator) -> None:
    created = task_provider.create(checked_task(num_instances=3, env={"A": "1"}, command="python serve.py"))
    bid = mithril.backend.get_bid(created.id)
    assert bid["instance_quantity"] == 3
    script = _startup_script(bid)
    assert '"$((NOW + ' not in script and "export A='1'" in script and "python serve.py" in script


@pytest.mark.parametrize(("theirs", "why"), [
    ({"num_instances": 3}, "it has 3 instances, not 2"),
    ({"region": "eu-central1-a"}, "it is in 'eu-central1-a', not 'us-central1-a'"),
    ({"instance_type": "8xh100", "max_price_per_hour": 60.0}, "its instance type 'it_"),
    ({"max_price_per_hour": 31.0}, "it bids $31.00, not $30.00"),
])
def test_a_look_alike_bid_with_our_bid_name_is_refused_with_what_differs(
        theirs: dict[str, Any], why: str, task_provider: FlowTaskProvider, mithril: RunningEmulator,
        flow_client: Any) -> None:
    """Even a bid carrying our exact bid name is adopted only if it is the bid this resource would place."""
    import flow

    inputs = checked_task(region="us-central1-a")
    spec = {"instance_type": "8xa100", "num_instances": 2, "max_price_per_hour": 30.0, "region": "us-central1-a",
            **theirs}
    look_alike = flow_client.run(flow.TaskConfig(
        name=bid_name(inputs), unique_name=False, command="sleep infinity", upload_code=False, **spec))
    with pytest.raises(FlowProviderError) as caught:
        task_provider.create(inputs)
    assert str(caught.value).startswith(
        f"a live bid named {bid_name(inputs)!r} ({look_alike.task_id}) exists, but {why}")
    if "instance type" in why:
        assert re.search(r"its instance type 'it_\w+' is not '8xa100', so it is", str(caught.value))
    assert str(caught.value).endswith(
        f"so it is not this resource's bid and is left untouched. Fix: if it is a leftover of this stack, cancel it "
        f"(`flow cancel {look_alike.task_id}`) and run `pulumi up` again")
    assert [b["fid"] for b in mithril.control.live_bids()] == [look_alike.task_id]


def test_a_bid_left_by_an_earlier_try_of_this_very_resource_is_adopted(task_provider: FlowTaskProvider,
                                                                      mithril: RunningEmulator,
                                                                      flow_client: Any) -> None:
    import flow

    inputs = checked_task(num_instances=1, region="us-central1-a")
    earlier = flow_client.run(flow.TaskConfig(
        name=bid_name(inputs), unique_name=False, command="sleep infinity", upload_code=False,
        instance_type="8xa100", num_instances=1, max_price_per_hour=30.0, region="us-central1-a"))
    assert task_provider.create(inputs).id == earlier.task_id
    assert [b["fid"] for b in mithril.control.live_bids()] == [earlier.task_id]


def test_an_ambiguous_create_adopts_its_own_bid_not_a_strangers(task_provider: FlowTaskProvider,
                                                                mithril: RunningEmulator, flow_client: Any) -> None:
    import flow

    stranger = flow_client.run(flow.TaskConfig(name="someone-else", unique_name=False, command="sleep infinity",
                                               upload_code=False, instance_type="8xa100", num_instances=2,
                                               max_price_per_hour=30.0))
    mithril.control.add_fault(kind="accept_then_fail", method="POST", path="/v2/spot/bids", status=502)
    ours = task_provider.create(checked_task())
    assert ours.id != stranger.task_id
    assert mithril.backend.get_bid(ours.id)["name"] == ours.outs["bid_name"]
    assert sorted(b["fid"] for b in mithril.control.live_bids()) == sorted([ours.id, stranger.task_id])


def test_a_job_preempted_past_max_preemptions_is_cancelled_on_refresh_and_says_why(
        task_provider: FlowTaskProvider, mithril: RunningEmulator) -> None:
    # Machines at once (and again at once after each preemption), so every preemption finds the bid allocated.
    mithril.backend.settings.allocation_delay = mithril.backend.settings.boot_delay = 0.0
    job = checked_task(role="workload", command="python train.py", max_run_time_hours=24, max_preemptions=1,
                       num_instances=1, wait_until="running")
    created = task_provider.create(job)
    mithril.control.preempt(created.id)
    once = task_provider.read(created.id, created.outs)
    assert (once.outs["preemptions"], once.outs["stop_reason"]) == (1, None), "at the limit: it goes on"
    assert [b["fid"] for b in mithril.control.live_bids()] == [created.id]

    mithril.control.preempt(created.id)
    twice = task_provider.read(created.id, once.outs)
    assert twice.id == created.id, "a job the provider ended stays in state, with why"
    assert twice.outs["status"] == "cancelled" and twice.outs["preemptions"] == 2
    assert twice.outs["stop_reason"] == "preempted 2 times, over max_preemptions=1: cancelled by pulumi-flow on " \
                                        "refresh"
    assert mithril.control.live_bids() == [], "billing stopped"
    later = task_provider.read(created.id, twice.outs)
    assert later.outs["stop_reason"] == twice.outs["stop_reason"], "the reason stays through later refreshes"


def test_max_preemptions_is_for_jobs(task_provider: FlowTaskProvider, mithril: RunningEmulator) -> None:
    failures = task_provider.check({}, {"role": "infrastructure", "instance_type": "8xa100", "max_price_per_hour": 30,
                                        "task_name": "gpu-1a2b3c4d", "max_preemptions": 2}).failures
    assert [(f.property, "applies to workloads" in f.reason) for f in failures] == [("max_preemptions", True)]
    assert mithril.control.requests() == []


def test_a_pinned_region_with_room_gets_the_bid_though_another_has_more(task_provider: FlowTaskProvider,
                                                                        mithril: RunningEmulator) -> None:
    """The Flow SDK scores regions by capacity and price, and refused a pinned region that did not score best ("No
    8xa100 instances available in the requested region") though it had room: the bid now names its region in the
    SDK's own constraints, and goes there."""
    mithril.control.set_capacity("eu-central1-a", 2)
    created = task_provider.create(checked_task(region="eu-central1-a"))
    (bid,) = mithril.control.live_bids()
    assert bid["region"] == created.outs["resolved_region"] == "eu-central1-a" and bid["limit_price"] == "$30.00"
