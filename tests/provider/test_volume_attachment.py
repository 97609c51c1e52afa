"""A task's volumes changed on the live bid: attached and detached in place where Mithril can (one PATCH of the
bid's volume list, the machines kept), replaced where it cannot (the startup script fixed at creation mounts them)."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi.runtime.rpc import UNKNOWN

from pulumi_flow.emulator.models import PROJECT_ID
from pulumi_flow.provider import FlowProviderError, FlowTaskProvider, FlowVolumeProvider
from pulumi_flow.provider.task import volume_change
from pulumi_flow.testing.emulator import RunningEmulator

from .conftest import checked_task, checked_volume

REGION = "us-central1-a"


def mount(volume_id: str, path: str, interface: str = "file") -> dict[str, Any]:
    return {"volume_id": volume_id, "mount_path": path, "interface": interface}


A, B, C = mount("vol_a", "/data"), mount("vol_b", "/mnt/b"), mount("vol_c", "/mnt/c")


@pytest.mark.parametrize(("olds", "news", "planned"), [
    ({"volumes": [A], "boot_volume_ids": ["vol_a"]}, [A], None),
    ({"volumes": [A, B], "boot_volume_ids": ["vol_a", "vol_b"]}, [B, A], None),  # order alone changes nothing
    ({"volumes": [A], "boot_volume_ids": ["vol_a"]}, [A, B], "update"),
    ({"volumes": [], "boot_volume_ids": []}, [B], "update"),
    # A volume made in the same `up`: its id is unknown in the preview, and it is an addition.
    ({"volumes": [A], "boot_volume_ids": ["vol_a"]}, [A, mount(UNKNOWN, "/mnt/new")], "update"),
    ({"volumes": [A, B], "boot_volume_ids": ["vol_a"]}, [A], "update"),  # attached in place: detached in place
    ({"volumes": [A, B], "boot_volume_ids": ["vol_a"]}, [A, C], "update"),
    ({"volumes": [A, B], "boot_volume_ids": ["vol_a"]}, [B], "replace"),  # the startup script mounts vol_a
    ({"volumes": [A], "boot_volume_ids": ["vol_a"]}, [mount(UNKNOWN, "/data")], "replace"),  # a volume replaced
    ({"volumes": [A], "boot_volume_ids": ["vol_a"]}, [mount("vol_a", "/mnt/elsewhere")], "replace"),
    ({"volumes": [A], "boot_volume_ids": ["vol_a"]}, [mount("vol_a", "/data", "block")], "replace"),
    ({"volumes": [A, B], "boot_volume_ids": []}, [A, mount("vol_b", "/mnt/b2")], "replace"),  # moved, even so
    ({"volumes": [A], "boot_volume_ids": ["vol_a"]}, UNKNOWN, "replace"),  # anything may come
    ({"volumes": [A], "boot_volume_ids": ["vol_a"]}, [A, UNKNOWN], "update"),  # a mount unknown as a whole
    ({"volumes": [A], "boot_volume_ids": ["vol_a"]}, [UNKNOWN], "replace"),
    # State written before the boot mounts were recorded: every recorded mount counts as one (fail closed).
    ({"volumes": [A, B]}, [A], "replace"),
    ({"volumes": [A]}, [A, B], "update"),
])
def test_what_a_change_of_volumes_does(olds: dict[str, Any], news: Any, planned: str | None) -> None:
    change = volume_change(olds, {"volumes": news})
    assert (change.value if change is not None else None) == planned
    diff = FlowTaskProvider().diff("bid_1", {**checked_task(), **olds}, {**checked_task(), "volumes": news})
    assert diff.changes is (planned is not None)
    assert diff.replaces == (["volumes"] if planned == "replace" else [])


@pytest.fixture
def volumes(volume_provider: FlowVolumeProvider, mithril: RunningEmulator) -> dict[str, str]:
    """Three file volumes in REGION and one elsewhere, by name: their ids."""
    made = {name: volume_provider.create(checked_volume(volume_name=f"{name}-1", region=region)).id
            for name, region in [("a", REGION), ("b", REGION), ("c", REGION), ("far", "eu-central1-a")]}
    return made


def writes(mithril: RunningEmulator) -> list[tuple[str, str]]:
    return [(w["method"], w["path"]) for w in mithril.control.write_requests()]


def test_a_volume_added_to_a_live_cluster_is_one_patch_and_the_machines_stay(
        task_provider: FlowTaskProvider, volumes: dict[str, str], mithril: RunningEmulator) -> None:
    data, scratch = mount(volumes["a"], "/data"), mount(volumes["b"], "/mnt/scratch")
    created = task_provider.create(checked_task(volumes=[data]))
    assert (created.outs["boot_volume_ids"], created.outs["unmounted_volume_ids"]) == ([volumes["a"]], [])
    news = task_provider.check(created.outs, {**created.outs, "volumes": [data, scratch]}).inputs
    diff = task_provider.diff(created.id, created.outs, news)
    assert diff.changes and diff.replaces == []
    mithril.control.clear_requests()

    added = task_provider.update(created.id, created.outs, news)
    assert writes(mithril) == [("PATCH", f"/v2/spot/bids/{created.id}")], "one PATCH, no cancel, no new bid"
    bid = mithril.backend.get_bid(created.id)
    assert bid["launch_specification"]["volumes"] == [volumes["a"], volumes["b"]]
    assert added.outs["instance_ids"] == created.outs["instance_ids"] and added.outs["status"] == "running"
    # Attached, and honest about it: the machines' startup script mounts only what the bid was created with.
    assert added.outs["boot_volume_ids"] == [volumes["a"]]
    assert added.outs["unmounted_volume_ids"] == [volumes["b"]]
    assert added.outs["volumes"] == [data, scratch]
    read = task_provider.read(created.id, added.outs)
    assert (read.outs["boot_volume_ids"], read.outs["unmounted_volume_ids"]) == ([volumes["a"]], [volumes["b"]])
    assert task_provider.diff(created.id, read.outs, news).changes is False, "a refresh finds what `up` made"

    # Taken away again: the same, one PATCH.
    mithril.control.clear_requests()
    back = task_provider.check(read.outs, {**read.outs, "volumes": [data]}).inputs
    assert task_provider.diff(created.id, read.outs, back).replaces == []
    removed = task_provider.update(created.id, read.outs, back)
    assert writes(mithril) == [("PATCH", f"/v2/spot/bids/{created.id}")]
    assert mithril.backend.get_bid(created.id)["launch_specification"]["volumes"] == [volumes["a"]]
    assert removed.outs["unmounted_volume_ids"] == [] and removed.outs["instance_ids"] == created.outs["instance_ids"]
    # What the startup script mounts cannot go in place: the plan replaces the task.
    gone = task_provider.check(removed.outs, {**removed.outs, "volumes": [scratch]}).inputs
    assert task_provider.diff(created.id, removed.outs, gone).replaces == ["volumes"]


def test_a_volume_in_another_region_is_refused_before_anything_is_written(
        task_provider: FlowTaskProvider, volumes: dict[str, str], mithril: RunningEmulator) -> None:
    created = task_provider.create(checked_task(volumes=[mount(volumes["a"], "/data")]))
    news = task_provider.check(created.outs, {**created.outs, "volumes": [
        mount(volumes["a"], "/data"), mount(volumes["far"], "/mnt/far")]}).inputs
    mithril.control.clear_requests()
    with pytest.raises(FlowProviderError, match=rf"volumes\[1\]: volume '{volumes['far']}' is in 'eu-central1-a'.*"
                                                rf"runs in '{REGION}'.*create the volume in '{REGION}'"):
        task_provider.update(created.id, created.outs, news)
    assert writes(mithril) == []


def test_an_attachment_whose_answer_was_lost_is_checked_against_mithril(
        task_provider: FlowTaskProvider, volumes: dict[str, str], mithril: RunningEmulator) -> None:
    created = task_provider.create(checked_task(volumes=[mount(volumes["a"], "/data")]))
    news = task_provider.check(created.outs, {**created.outs, "volumes": [
        mount(volumes["a"], "/data"), mount(volumes["b"], "/mnt/b")]}).inputs
    mithril.control.add_fault(kind="accept_then_fail", method="PATCH", path=f"/v2/spot/bids/{created.id}",
                              status=502, times=10)
    updated = task_provider.update(created.id, created.outs, news)
    assert updated.outs["unmounted_volume_ids"] == [volumes["b"]]
    assert mithril.backend.get_bid(created.id)["launch_specification"]["volumes"] == [volumes["a"], volumes["b"]]
    assert [b["fid"] for b in mithril.control.live_bids()] == [created.id]


def test_an_attachment_mithril_refuses_fails_the_update_and_nothing_changes(
        task_provider: FlowTaskProvider, volumes: dict[str, str], mithril: RunningEmulator) -> None:
    created = task_provider.create(checked_task(volumes=[mount(volumes["a"], "/data")]))
    news = task_provider.check(created.outs, {**created.outs, "volumes": [
        mount(volumes["a"], "/data"), mount(volumes["b"], "/mnt/b")]}).inputs
    mithril.control.add_fault(kind="status", method="PATCH", path=f"/v2/spot/bids/{created.id}", status=422,
                              times=10)
    with pytest.raises(Exception):  # noqa: B017 - whatever the SDK raises, the engine records no update
        task_provider.update(created.id, created.outs, news)
    assert mithril.backend.get_bid(created.id)["launch_specification"]["volumes"] == [volumes["a"]]


def test_a_volume_detached_behind_our_back_shows_on_refresh_and_up_attaches_it_again(
        task_provider: FlowTaskProvider, volumes: dict[str, str], mithril: RunningEmulator) -> None:
    data, extra = mount(volumes["a"], "/data"), mount(volumes["c"], "/mnt/c")
    created = task_provider.create(checked_task(volumes=[data, extra]))
    mithril.backend.update_bid(created.id, {"volumes": [volumes["c"]]})  # someone else's PATCH
    read = task_provider.read(created.id, created.outs)
    assert read.inputs is not None and read.inputs["volumes"] == [extra], "refresh shows the drift"
    news = task_provider.check(read.inputs, {**read.inputs, "volumes": [data, extra]}).inputs
    diff = task_provider.diff(created.id, read.outs, news)
    assert diff.changes and diff.replaces == []
    mithril.control.clear_requests()
    task_provider.update(created.id, read.outs, news)
    assert writes(mithril) == [("PATCH", f"/v2/spot/bids/{created.id}")]
    # Back in its place: the startup script's block devices follow the order it was created with.
    assert mithril.backend.get_bid(created.id)["launch_specification"]["volumes"] == [volumes["a"], volumes["c"]]


def test_volumes_keep_their_places_on_the_bid_and_one_made_since_the_create_is_found(
        task_provider: FlowTaskProvider, volumes: dict[str, str], mithril: RunningEmulator) -> None:
    """The startup script's volumes first, then those attached since, then the new ones; and a volume made
    elsewhere after the task's create listed the volumes (the Flow SDK keeps that list 90 s) is attached, not
    called missing."""
    a, b = mount(volumes["a"], "/data"), mount(volumes["b"], "/mnt/b")
    created = task_provider.create(checked_task(volumes=[a]))
    made_elsewhere = mithril.backend.create_volume({"name": "late-1", "size_gb": 10, "disk_interface": "File",
                                                    "region": REGION, "project": PROJECT_ID})
    late = mount(str(made_elsewhere["fid"]), "/mnt/late")
    added = task_provider.update(created.id, created.outs, {**created.outs, "volumes": [a, b]})
    again = task_provider.update(created.id, added.outs, {**added.outs, "volumes": [late, b, a]})
    assert mithril.backend.get_bid(created.id)["launch_specification"]["volumes"] == [
        volumes["a"], volumes["b"], late["volume_id"]]
    assert again.outs["unmounted_volume_ids"] == [volumes["b"], late["volume_id"]]


def test_a_missing_volume_is_refused_by_its_place_before_anything_is_written(
        task_provider: FlowTaskProvider, volumes: dict[str, str], mithril: RunningEmulator) -> None:
    created = task_provider.create(checked_task(volumes=[mount(volumes["a"], "/data")]))
    mithril.control.clear_requests()
    with pytest.raises(FlowProviderError) as refused:
        task_provider.update(created.id, created.outs, {**created.outs, "volumes": [
            mount(volumes["a"], "/data"), mount("vol_gone", "/mnt/gone")]})
    assert refused.value.problem == "volumes[1]: volume 'vol_gone' (mounted at /mnt/gone) does not exist on Mithril"
    assert refused.value.fix == "run `pulumi refresh` so the volume is recreated, or remove the mount"
    assert writes(mithril) == []


def test_an_update_that_turns_out_to_need_a_new_bid_is_refused_before_anything_is_written(
        task_provider: FlowTaskProvider, volumes: dict[str, str], mithril: RunningEmulator) -> None:
    """Planned as an attachment while a volume's id was unknown, it turns out to move a volume the startup script
    mounts: the update says so and changes nothing (the engine cannot turn an update into a replacement)."""
    created = task_provider.create(checked_task(volumes=[mount(volumes["a"], "/data")]))
    mithril.control.clear_requests()
    moved = [mount(volumes["a"], "/mnt/elsewhere")]
    with pytest.raises(FlowProviderError) as refused:
        task_provider.update(created.id, created.outs, {**created.outs, "volumes": moved})
    assert refused.value.problem == (f"volumes: {moved} moves or takes away a volume the startup script of bid "
                                     f"{created.id} mounts, which Mithril cannot change in place")
    assert refused.value.fix == "run `pulumi up` again: the plan then replaces the task"
    assert writes(mithril) == []
