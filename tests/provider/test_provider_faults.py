"""The providers' write paths under faults, as users would see them: what Mithril keeps, what state is told,
and what an error says (never the API key)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pulumi_flow.emulator import Settings
from pulumi_flow.provider import (
    BidLookupError,
    CreateRolledBackError,
    FlowProviderError,
    FlowTaskProvider,
    FlowVolumeProvider,
    NoAnswerError,
    StillBillingError,
)
from pulumi_flow.provider.task import bid_name
from pulumi_flow.testing.emulator import TEST_API_KEY, RunningEmulator, running_emulator

from .conftest import checked_task, checked_volume

LEAK = f"internal error; request was authorised with {TEST_API_KEY}"


@pytest.mark.parametrize("paused", [True, False])
def test_a_pause_or_resume_whose_answer_was_lost_is_checked_against_mithril(
        paused: bool, task_provider: FlowTaskProvider, mithril: RunningEmulator) -> None:
    created = task_provider.create(checked_task(paused=not paused))
    news = task_provider.check(created.outs, {**created.outs, "paused": paused}).inputs
    mithril.control.add_fault(kind="accept_then_fail", method="PATCH", path=f"/v2/spot/bids/{created.id}",
                              status=502, times=10)
    result = task_provider.update(created.id, created.outs, news)
    assert result.outs["bid_status"] == ("Paused" if paused else "Allocated")
    assert (mithril.backend.get_bid(created.id)["status"] == "Paused") is paused
    if not paused:
        assert result.outs["status"] == "running", "a resume returns once the machines run again"


def test_a_diff_against_unknown_values_plans_the_change_it_may_be() -> None:
    provider = FlowTaskProvider()
    olds = checked_task()
    unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
    diff = provider.diff("bid_1", olds, {**olds, "image": unknown, "max_price_per_hour": unknown})
    assert diff.changes and diff.replaces == ["image"]
    assert provider.diff("bid_1", olds, {**olds, "max_price_per_hour": unknown}).replaces == []
    assert provider.diff("bid_1", olds, {**olds, "max_price_per_hour": unknown}).changes


def test_a_volume_size_is_compared_as_a_number_and_an_unknown_size_may_replace() -> None:
    provider = FlowVolumeProvider()
    olds = checked_volume(region="us-central1-a")
    assert not provider.diff("vol_1", olds, {**olds, "size_gb": 100.0}).changes
    unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
    assert provider.diff("vol_1", olds, {**olds, "size_gb": unknown}).replaces == ["size_gb"]
    opted_in = {**olds, "size_gb": 100, "allow_replacement": True}
    assert provider.diff("vol_1", {**olds, "size_gb": None}, opted_in).replaces == ["size_gb"]
    assert provider.diff("vol_1", olds, {**olds, "volume_name": unknown}).changes


def test_a_replaced_volume_is_created_before_the_old_one_is_deleted() -> None:
    """The old volume and its data stay until the new one exists."""
    provider = FlowVolumeProvider()
    olds = checked_volume(region="us-central1-a")
    diff = provider.diff("vol_1", olds, {**olds, "size_gb": 200, "allow_replacement": True})
    assert diff.replaces == ["size_gb"] and diff.delete_before_replace is False


def test_a_rename_is_made_in_place_on_mithril(volume_provider: FlowVolumeProvider, mithril: RunningEmulator) -> None:
    created = volume_provider.create(checked_volume(region="us-central1-a"))
    news = volume_provider.check(created.outs, {**created.outs, "volume_name": "renamed-1a2b3c4d",
                                                "auto_named": False}).inputs
    mithril.control.clear_requests()
    result = volume_provider.update(created.id, created.outs, news)
    assert [(r["method"], r["path"]) for r in mithril.control.write_requests()] == [
        ("PATCH", f"/v2/volumes/{created.id}")]
    assert result.outs["volume_name"] == "renamed-1a2b3c4d" and result.outs["volume_id"] == created.id
    assert [v["name"] for v in mithril.control.live_volumes()] == ["renamed-1a2b3c4d"]


def test_a_rename_of_a_volume_deleted_behind_our_back_says_to_refresh(volume_provider: FlowVolumeProvider,
                                                                      mithril: RunningEmulator) -> None:
    created = volume_provider.create(checked_volume(region="us-central1-a"))
    mithril.control.delete_volume(created.id)
    news = {**created.outs, "size_gb": 100}
    with pytest.raises(FlowProviderError, match=rf"^volume {created.id} no longer exists. Fix: run `pulumi refresh`$"):
        volume_provider.update(created.id, created.outs, news)


def test_a_volume_recreated_after_a_delete_is_a_new_volume(volume_provider: FlowVolumeProvider,
                                                           mithril: RunningEmulator) -> None:
    """A fresh idempotency key per create: Mithril must not answer the second create with the deleted volume."""
    first = volume_provider.create(checked_volume(region="us-central1-a"))
    volume_provider.delete(first.id, first.outs)
    second = volume_provider.create(checked_volume(region="us-central1-a"))
    assert second.id != first.id
    assert [v["fid"] for v in mithril.control.live_volumes()] == [second.id]


def test_a_volume_created_by_an_earlier_run_is_adopted_despite_a_warm_cache(
        volume_provider: FlowVolumeProvider, mithril: RunningEmulator, flow_client: Any) -> None:
    inputs = checked_volume(region="us-central1-a", auto_named=True)  # a generated name, carrying its owner's tag
    flow_client.volumes.list()  # the SDK's on-disk cache now holds a list without it
    mithril.backend.create_volume({"name": inputs["volume_name"], "size_gb": 100, "disk_interface": "File",
                                   "region": "us-central1-a", "project": "proj_emulator0001"})
    created = volume_provider.create(inputs)
    assert [v["fid"] for v in mithril.control.live_volumes()] == [created.id]


@pytest.mark.parametrize(("status", "kind"), [(504, "accept_then_fail"), (404, "status")])
def test_a_volume_delete_whose_answer_was_lost_or_not_found_is_done(
        status: int, kind: str, volume_provider: FlowVolumeProvider, mithril: RunningEmulator) -> None:
    created = volume_provider.create(checked_volume(region="us-central1-a"))
    if kind == "status":
        mithril.control.delete_volume(created.id)
        volume_provider.read(created.id, created.outs)
    mithril.control.add_fault(kind=kind, method="DELETE", path=f"/v2/volumes/{created.id}", status=status, times=10)
    volume_provider.delete(created.id, created.outs)
    assert mithril.control.live_volumes() == []


def test_a_volume_delete_mithril_refuses_fails_and_the_volume_stays(volume_provider: FlowVolumeProvider,
                                                                    mithril: RunningEmulator) -> None:
    created = volume_provider.create(checked_volume(region="us-central1-a"))
    mithril.control.add_fault(kind="status", method="DELETE", path=f"/v2/volumes/{created.id}", status=500,
                              times=100)
    with pytest.raises(Exception):  # noqa: B017 - the SDK's error for a 500, after its retries
        volume_provider.delete(created.id, created.outs)
    assert [v["fid"] for v in mithril.control.live_volumes()] == [created.id]


def test_a_volume_whose_user_cannot_be_read_is_not_deleted(volume_provider: FlowVolumeProvider,
                                                           task_provider: FlowTaskProvider,
                                                           mithril: RunningEmulator) -> None:
    """Data first: a bid that cannot be read counts as live."""
    volume = volume_provider.create(checked_volume(region="us-central1-a"))
    task = task_provider.create(checked_task(volumes=[{"volume_id": volume.id, "mount_path": "/data"}]))
    mithril.control.add_fault(kind="status", method="GET", path="/v2/spot/bids.*", status=500, times=1000)
    with pytest.raises(FlowProviderError, match=f"refusing to delete volume {volume.id} .*live task\\(s\\) {task.id} "):
        volume_provider.delete(volume.id, volume.outs)
    assert [v["fid"] for v in mithril.control.live_volumes()] == [volume.id]


def _volume_ops(provider: FlowVolumeProvider, created: Any) -> dict[str, Callable[[], object]]:
    renamed = {**created.outs, "volume_name": "renamed-1a2b3c4d"}
    return {"creating volume": lambda: provider.create(checked_volume(volume_name="other-1a2b3c4d",
                                                                      region="us-central1-a")),
            "renaming volume": lambda: provider.update(created.id, created.outs, renamed),
            "deleting volume": lambda: provider.delete(created.id, created.outs)}


@pytest.mark.parametrize("operation", ["creating volume", "renaming volume", "deleting volume"])
def test_a_volume_error_names_the_operation_and_never_the_key(operation: str, volume_provider: FlowVolumeProvider,
                                                              mithril: RunningEmulator) -> None:
    created = volume_provider.create(checked_volume(region="us-central1-a"))
    mithril.control.add_fault(kind="status", method="*", path="/v2/volumes.*", status=400, body=LEAK, times=1000)
    with pytest.raises(Exception) as caught:
        _volume_ops(volume_provider, created)[operation]()
    text = f"{caught.value} {caught.value!r} {caught.value.__cause__!r} {caught.value.__context__!r}"
    assert TEST_API_KEY not in text
    assert operation in str(caught.value)


def _name_conflicts(mithril: RunningEmulator, times: int) -> Callable[[], list[dict[str, Any]]]:
    """Mithril answers the next `times` bid POSTs that the bid's name is taken, yet lists no live bid of that
    name (it ended in between). Returns a reader of the bid POSTs made."""
    mithril.control.add_fault(kind="status", method="POST", path="/v2/spot/bids", status=400,
                              body="bid name already used", times=times)
    return lambda: [r for r in mithril.control.write_requests() if r["path"] == "/v2/spot/bids"]


def test_a_name_conflict_with_no_bid_of_ours_is_tried_again(task_provider: FlowTaskProvider,
                                                            mithril: RunningEmulator) -> None:
    posts = _name_conflicts(mithril, times=1)
    created = task_provider.create(checked_task())
    assert [b["fid"] for b in mithril.control.live_bids()] == [created.id]
    assert len(posts()) == 2


def test_a_name_conflict_that_keeps_coming_back_is_named_after_three_tries(task_provider: FlowTaskProvider,
                                                                          mithril: RunningEmulator) -> None:
    posts = _name_conflicts(mithril, times=3)
    with pytest.raises(FlowProviderError) as caught:
        task_provider.create(checked_task())
    assert str(caught.value).startswith("could not place the bid for task 'gpu-infra-1a2b3c4d."), caught.value
    assert "kept reappearing" in str(caught.value)
    assert caught.value.fix.startswith("cancel it with `flow cancel gpu-infra-1a2b3c4d."), caught.value.fix
    assert len(posts()) == 3 and mithril.control.live_bids() == []


def test_a_create_mithril_refuses_names_the_task_and_the_reason(task_provider: FlowTaskProvider,
                                                                mithril: RunningEmulator) -> None:
    mithril.control.add_fault(kind="status", method="POST", path="/v2/spot/bids", status=403, body="project suspended")
    with pytest.raises(FlowProviderError) as caught:
        task_provider.create(checked_task())
    assert str(caught.value).startswith("creating Flow task 'gpu-infra-1a2b3c4d': "), caught.value
    assert "project suspended" in str(caught.value)
    assert mithril.control.live_bids() == []


@pytest.mark.parametrize("operation", ["updating Flow task", "deleting Flow task"])
def test_a_task_error_names_the_operation_and_never_the_key(operation: str, task_provider: FlowTaskProvider,
                                                            mithril: RunningEmulator) -> None:
    created = task_provider.create(checked_task())
    mithril.control.add_fault(kind="status", method="*", path="/v2/spot/bids.*", status=400, body=LEAK, times=1000)
    with pytest.raises(Exception) as caught:
        if operation.startswith("updating"):
            news = task_provider.check(created.outs, {**created.outs, "max_price_per_hour": 31.0}).inputs
            task_provider.update(created.id, created.outs, news)
        else:
            task_provider.delete(created.id, created.outs)
    text = f"{caught.value} {caught.value!r} {caught.value.__cause__!r} {caught.value.__context__!r}"
    assert TEST_API_KEY not in text
    assert operation in str(caught.value)


def test_a_lost_lookup_error_says_what_failed_and_that_the_next_up_adopts(task_provider: FlowTaskProvider,
                                                                          mithril: RunningEmulator) -> None:
    inputs = checked_task()
    mithril.control.add_fault(kind="accept_then_fail", method="POST", path="/v2/spot/bids", status=502)
    mithril.control.add_fault(kind="status", method="GET", path="/v2/spot/bids", status=503, skip=1, times=50)
    with pytest.raises(BidLookupError) as caught:
        task_provider.create(inputs)
    message = str(caught.value)
    assert "got no answer and Mithril could not be asked whether it was placed (" in message
    assert "(NoneType" not in message and ": None)" not in message, message
    assert caught.value.name == bid_name(inputs) and caught.value.cause.startswith("APIError: "), caught.value.cause


def test_a_refused_bid_is_called_refused_even_when_mithril_cannot_be_read_after_it(
        task_provider: FlowTaskProvider, mithril: RunningEmulator) -> None:
    mithril.control.add_fault(kind="status", method="POST", path="/v2/spot/bids", status=400,
                              body="launch specification rejected")
    mithril.control.add_fault(kind="status", method="GET", path="/v2/spot/bids", status=503, skip=1, times=50)
    with pytest.raises(FlowProviderError) as caught:
        task_provider.create(checked_task())
    message = str(caught.value)
    assert "Mithril refused the bid for task 'gpu-infra-1a2b3c4d" in message, message
    assert isinstance(caught.value, NoAnswerError) and caught.value.cause.startswith("APIError: "), caught.value
    name = bid_name(checked_task())
    assert caught.value.fix == f"if `flow status` shows a bid named {name!r}, run `pulumi up` again to adopt it"
    assert "(HTTP 400, APIError: " in message
    assert "launch specification rejected" in message
    assert "got no answer" not in message
    assert mithril.control.live_bids() == []


def test_a_cancel_whose_answers_are_all_lost_is_done_once_mithril_shows_it_terminated(
        task_provider: FlowTaskProvider, mithril: RunningEmulator) -> None:
    created = task_provider.create(checked_task())
    mithril.control.add_fault(kind="accept_then_fail", method="DELETE", path=f"/v2/spot/bids/{created.id}",
                              status=502, times=100)
    task_provider.delete(created.id, created.outs)
    assert mithril.control.live_bids() == []


def test_a_cancel_whose_connection_drops_is_tried_again(task_provider: FlowTaskProvider,
                                                        mithril: RunningEmulator) -> None:
    created = task_provider.create(checked_task())
    mithril.control.add_fault(kind="drop", method="DELETE", path=f"/v2/spot/bids/{created.id}")
    task_provider.delete(created.id, created.outs)
    assert mithril.control.live_bids() == []
    assert len([r for r in mithril.control.requests() if r["method"] == "DELETE"]) == 2


def test_a_cancel_answered_not_found_means_gone(task_provider: FlowTaskProvider, mithril: RunningEmulator) -> None:
    created = task_provider.create(checked_task())
    mithril.control.add_fault(kind="status", method="DELETE", path=f"/v2/spot/bids/{created.id}", status=404,
                              times=100)
    task_provider.delete(created.id, created.outs)  # Mithril says there is no such bid: nothing to cancel
    assert mithril.control.call("GET", "faults")[0]["fired"] == 1, "the 404 answered the first cancel, and was final"


def test_a_bid_mithril_no_longer_knows_is_deleted_even_when_its_cancel_keeps_failing(
        task_provider: FlowTaskProvider, mithril: RunningEmulator) -> None:
    created = task_provider.create(checked_task())
    mithril.control.forget_bid(created.id)  # gone from Mithril: a read answers 404
    mithril.control.add_fault(kind="status", method="DELETE", path=f"/v2/spot/bids/{created.id}", status=409,
                              body="bid is locked", times=100)
    task_provider.delete(created.id, created.outs)  # the read after the refused cancel shows nothing to cancel
    deletes = [r for r in mithril.control.write_requests() if r["method"] == "DELETE"]
    assert len(deletes) == 1, "one refused cancel, then the read showed the bid gone: no second cancel"


def test_a_cancel_mithril_keeps_refusing_fails_and_names_why(task_provider: FlowTaskProvider,
                                                             mithril: RunningEmulator) -> None:
    created = task_provider.create(checked_task())
    mithril.control.add_fault(kind="status", method="DELETE", path=f"/v2/spot/bids/{created.id}", status=409,
                              body="bid is locked", times=100)
    with pytest.raises(Exception) as caught:
        task_provider.delete(created.id, created.outs)
    assert "deleting Flow task" in str(caught.value)
    assert [b["fid"] for b in mithril.control.live_bids()] == [created.id]


def test_a_failed_create_whose_cleanup_cancel_fails_says_the_bid_may_still_bill(
        task_provider: FlowTaskProvider, mithril: RunningEmulator) -> None:
    """Never "nothing is left billing" about a bid Mithril would not cancel: Pulumi records nothing of it."""
    mithril.backend.settings.allocation_delay = 3600.0  # never allocated: the wait times out
    mithril.control.add_fault(kind="status", method="DELETE", path="/v2/spot/bids/.*", status=409, times=100)
    with pytest.raises(StillBillingError) as caught:
        task_provider.create(checked_task(ready_timeout_minutes=0.01, num_instances=1))
    (live,) = mithril.control.live_bids()
    assert caught.value.bid_id == live["fid"] and caught.value.refusal.startswith("Mithril refused 4 cancels")
    assert str(caught.value).endswith(
        f"; bid {live['fid']} could NOT be cancelled (Mithril refused 4 cancels, the last with APIError: API error "
        f"409: {{\"detail\": \"injected fault 409\"}}) and may still bill, and Pulumi will not record it. Fix: "
        f"cancel it with `flow cancel {live['fid']}`"), caught.value
    assert "was not running within" in str(caught.value)
    assert len([r for r in mithril.control.write_requests() if r["method"] == "DELETE"]) == 4


@pytest.mark.parametrize("gone", ["answered 404", "terminated, answers lost"])
def test_a_failed_create_whose_bid_is_already_gone_says_nothing_is_left_billing(
        gone: str, task_provider: FlowTaskProvider, mithril: RunningEmulator) -> None:
    mithril.backend.settings.allocation_delay = 3600.0  # never allocated: the wait times out
    if gone == "answered 404":
        mithril.control.add_fault(kind="status", method="DELETE", path="/v2/spot/bids/.*", status=404, times=100)
    else:
        mithril.control.add_fault(kind="accept_then_fail", method="DELETE", path="/v2/spot/bids/.*", status=502,
                                  times=100)
    with pytest.raises(CreateRolledBackError) as caught:
        task_provider.create(checked_task(ready_timeout_minutes=0.01, num_instances=1))
    assert caught.value.bid_id in mithril.backend.bids, "the id of the bid the create placed and cancelled"
    assert caught.value.problem.endswith(f"bid {caught.value.bid_id} was cancelled, nothing is left billing")
    assert caught.value.fix == "raise max_price_per_hour or ready_timeout_minutes", "the timeout's own fix is kept"
    if gone == "terminated, answers lost":
        assert mithril.control.live_bids() == []


def test_only_a_volume_of_our_name_and_shape_is_adopted(volume_provider: FlowVolumeProvider,
                                                        mithril: RunningEmulator) -> None:
    mithril.backend.create_volume({"name": "someone-else", "size_gb": 100, "disk_interface": "File",
                                   "region": "us-central1-a", "project": "proj_emulator0001"})
    created = volume_provider.create(checked_volume(region="us-central1-a"))
    assert sorted(v["name"] for v in mithril.control.live_volumes()) == ["data-1a2b3c4d", "someone-else"]
    assert mithril.backend.list_volumes()[-1]["fid"] == created.id


def test_every_user_that_cannot_be_read_is_named(volume_provider: FlowVolumeProvider,
                                                 task_provider: FlowTaskProvider, mithril: RunningEmulator) -> None:
    volume = volume_provider.create(checked_volume(region="us-central1-a"))
    mount = [{"volume_id": volume.id, "mount_path": "/data"}]
    first = task_provider.create(checked_task(num_instances=1, volumes=mount))
    second = task_provider.create(checked_task(num_instances=1, volumes=mount, task_name="second-1a2b3c4d"))
    mithril.control.add_fault(kind="status", method="GET", path="/v2/spot/bids.*", status=500, times=1000)
    with pytest.raises(FlowProviderError) as caught:
        volume_provider.delete(volume.id, volume.outs)
    assert first.id in str(caught.value) and second.id in str(caught.value)


# A key in no known format: only the provider's own knowledge of the key (not the `fkey_` pattern) can scrub it.
ODD_KEY = "mithril-secret-7f3a9c2e41d8"


@pytest.fixture
def odd_key_mithril(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningEmulator]:
    settings = Settings(api_key=ODD_KEY, allocation_delay=0.0, boot_delay=0.0)
    with running_emulator(settings, flow_dir=str(tmp_path / "odd-flow")) as running:
        monkeypatch.setenv("MITHRIL_API_KEY", ODD_KEY)
        yield running


@pytest.mark.parametrize("operation", ["creating volume", "renaming volume", "deleting volume",
                                       "creating Flow task", "updating Flow task", "deleting Flow task"])
def test_an_api_that_echoes_the_key_never_gets_it_into_an_error(operation: str,
                                                                odd_key_mithril: RunningEmulator) -> None:
    volumes, tasks = FlowVolumeProvider(), FlowTaskProvider()
    volume = volumes.create(checked_volume(region="us-central1-a"))
    task = tasks.create(checked_task())
    echo = f"bad request from key {ODD_KEY}"
    for path in ("/v2/volumes.*", "/v2/spot/bids.*"):
        odd_key_mithril.control.add_fault(kind="status", method="*", path=path, status=400, body=echo, times=1000)
    run: dict[str, Callable[[], object]] = {
        **_volume_ops(volumes, volume),
        "creating Flow task": lambda: tasks.create(checked_task(task_name="other-1a2b3c4d")),
        "updating Flow task": lambda: tasks.update(task.id, task.outs, {**task.outs, "max_price_per_hour": 31.0}),
        "deleting Flow task": lambda: tasks.delete(task.id, task.outs),
    }
    with pytest.raises(FlowProviderError) as caught:
        run[operation]()
    text = f"{caught.value} {caught.value!r} {caught.value.__cause__!r} {caught.value.__context__!r}"
    assert ODD_KEY not in text and "[secret]" in text, text
    # A refused bid request says so, and what to do if it was placed (see place_bid); every other error names
    # its operation.
    expected = {"creating Flow task": "Mithril refused the bid for task 'other-1a2b3c4d",
                "creating volume": "creating volume 'other-1a2b3c4d'",
                "renaming volume": f"renaming volume {volume.id}", "deleting volume": f"deleting volume {volume.id}",
                "updating Flow task": f"updating Flow task {task.id}",
                "deleting Flow task": f"deleting Flow task {task.id}"}
    assert str(caught.value).startswith(expected[operation])


def test_a_volume_already_gone_at_delete_is_done_without_asking_again(volume_provider: FlowVolumeProvider,
                                                                      mithril: RunningEmulator) -> None:
    """A 404 to the DELETE is the answer: the volume is gone, even if Mithril cannot be read right after."""
    created = volume_provider.create(checked_volume(region="us-central1-a"))
    mithril.control.add_fault(kind="status", method="DELETE", path=f"/v2/volumes/{created.id}", status=404, times=1)
    # The delete's own look-up passes; every read after the 404 fails.
    mithril.control.add_fault(kind="status", method="GET", path="/v2/volumes.*", status=500, skip=1, times=1000)
    volume_provider.delete(created.id, created.outs)
