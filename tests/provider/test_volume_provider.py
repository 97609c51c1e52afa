"""FlowVolumeProvider against the emulator: volumes hold data, so the rules are conservative."""

from __future__ import annotations

import pytest

from pulumi_flow import declarations as d
from pulumi_flow.engines.plugins import UNKNOWN
from pulumi_flow.naming import OWNER_RE, owner_tag
from pulumi_flow.provider import FlowProviderError, FlowTaskProvider, FlowVolumeProvider, VolumeReplacementRefusedError
from pulumi_flow.testing.emulator import RunningEmulator

from .conftest import OWNER, checked_task, checked_volume


def test_create_read_delete(volume_provider: FlowVolumeProvider, mithril: RunningEmulator) -> None:
    created = volume_provider.create(checked_volume(size_gb=500, interface="block", region="us-central1-a"))
    assert created.outs == {"volume_name": "data-1a2b3c4d", "size_gb": 500, "interface": "block",
                            "region": "us-central1-a", "allow_replacement": False, "auto_named": None,
                            "owner": OWNER, "volume_id": created.id,
                            "attached_to": []}
    assert volume_provider.read(created.id, created.outs).outs == created.outs
    volume_provider.delete(created.id, created.outs)
    assert mithril.control.live_volumes() == []


def test_no_region_goes_to_mithril_region_then_to_a_gpu_region(volume_provider: FlowVolumeProvider,
                                                               mithril: RunningEmulator,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MITHRIL_REGION", "us-central5-a")  # the SDK's default region: storage only
    assert volume_provider.create(checked_volume(volume_name="a-1")).outs["region"] == "us-central5-a"
    monkeypatch.delenv("MITHRIL_REGION")
    gpu_regions = {row["region"] for row in mithril.backend.availability()}
    assert volume_provider.create(checked_volume(volume_name="b-1")).outs["region"] in gpu_regions


def test_region_left_out_never_forces_replacement(volume_provider: FlowVolumeProvider) -> None:
    inputs = checked_volume()
    olds = {**inputs, "region": "eu-central1-a", "volume_id": "vol_1", "size_gb": 100.0}
    assert volume_provider.diff("vol_1", olds, inputs).changes is False
    assert volume_provider.diff("vol_1", olds, {**inputs, "region": "eu-central1-a"}).changes is False
    opted_in = {**inputs, "allow_replacement": True}
    assert volume_provider.diff("vol_1", olds, {**opted_in, "region": "us-central1-a"}).replaces == ["region"]
    assert volume_provider.diff("vol_1", olds, {**opted_in, "interface": "block"}).replaces == ["interface"]


@pytest.mark.parametrize(("key", "value"), [("region", "us-central1-a"), ("interface", "block"), ("size_gb", 200)])
def test_every_replacing_change_needs_the_opt_in_whatever_the_old_input_was(
        volume_provider: FlowVolumeProvider, key: str, value: object) -> None:
    """The volume was created with no region (its input is null): pinning another region still moves it, which is a
    new EMPTY volume. `check` cannot see where it is; `diff` can, and refuses before anything is replaced."""
    inputs = checked_volume()  # region left out, as state records it
    assert inputs["region"] is None
    olds = {**inputs, "region": "eu-central1-a", "volume_id": "vol_1"}  # outputs: where Mithril put it
    with pytest.raises(VolumeReplacementRefusedError, match=f"cannot change a volume's {key}.*allow_replacement=True"
                       ) as refused:
        volume_provider.diff("vol_1", olds, {**inputs, key: value})
    assert refused.value.key == key
    assert refused.value.problem.startswith(f"volume 'data-1a2b3c4d': {olds[key]!r} -> {value!r}: "), refused.value


def test_a_replacing_value_unknown_at_preview_is_judged_when_known(volume_provider: FlowVolumeProvider) -> None:
    inputs = checked_volume()
    olds = {**inputs, "region": "eu-central1-a", "volume_id": "vol_1"}
    assert volume_provider.diff("vol_1", olds, {**inputs, "size_gb": UNKNOWN}).replaces == ["size_gb"]


def test_deleted_behind_our_back_reads_gone(volume_provider: FlowVolumeProvider, mithril: RunningEmulator) -> None:
    created = volume_provider.create(checked_volume())
    volume_provider.read(created.id, created.outs)  # warm the SDK cache (volumes: 90 s)
    mithril.control.delete_volume(created.id)
    assert volume_provider.read(created.id, created.outs).id == ""
    volume_provider.delete(created.id, created.outs)


def test_ambiguous_create_adopts_the_volume(volume_provider: FlowVolumeProvider, mithril: RunningEmulator) -> None:
    mithril.control.add_fault(kind="accept_then_fail", method="POST", path="/v2/volumes", status=502)
    created = volume_provider.create(checked_volume(region="us-central1-a"))
    assert mithril.control.call("GET", "faults")[0]["fired"] == 1
    assert [v["fid"] for v in mithril.control.live_volumes()] == [created.id]


def test_a_create_rate_limited_after_mithril_made_the_volume_leaves_one_volume(
        volume_provider: FlowVolumeProvider, mithril: RunningEmulator) -> None:
    # The SDK retries a POST after a 429. When the 429 came after Mithril made the volume, the retry must be
    # recognised as the same request (its Idempotency-Key), or the first volume is left behind, billing.
    mithril.control.add_fault(kind="accept_then_fail", method="POST", path="/v2/volumes", status=429)
    created = volume_provider.create(checked_volume(region="us-central1-a"))
    posts = [r for r in mithril.control.write_requests() if r["method"] == "POST"]
    assert len(posts) == 2, posts
    assert [v["fid"] for v in mithril.control.live_volumes()] == [created.id]


def test_create_after_lost_answer_on_an_earlier_run_adopts(volume_provider: FlowVolumeProvider,
                                                          mithril: RunningEmulator) -> None:
    # A generated name carries the owner's tag: the volume an earlier, killed create made is provably this state's.
    inputs = checked_volume(region="us-central1-a", auto_named=True)
    assert inputs["volume_name"].endswith(f"-{owner_tag(OWNER)}")
    mithril.control.add_fault(kind="accept_then_fail", method="POST", path="/v2/volumes", status=502)
    # The lookup before the POST passes; every lookup after it fails.
    mithril.control.add_fault(kind="status", method="GET", path="/v2/volumes", status=500, skip=1, times=30)
    with pytest.raises(FlowProviderError):
        volume_provider.create(inputs)
    assert [f["fired"] > 0 for f in mithril.control.call('GET', 'faults')] == [True, True]
    assert len(mithril.control.live_volumes()) == 1, "the lost answer left a volume on Mithril"
    mithril.control.clear_faults()
    created = volume_provider.create(inputs)
    assert [v["fid"] for v in mithril.control.live_volumes()] == [created.id]


def test_delete_refused_while_a_live_task_mounts_it(volume_provider: FlowVolumeProvider,
                                                   mithril: RunningEmulator) -> None:
    task_provider = FlowTaskProvider()
    task_provider.poll_interval_seconds = 0.05
    volume = volume_provider.create(checked_volume(region="us-central1-a"))
    task = task_provider.create(checked_task(volumes=[{"volume_id": volume.id, "mount_path": "/data"}]))
    mithril.control.clear_requests()
    with pytest.raises(FlowProviderError, match=f"refusing to delete volume {volume.id}.*{task.id}"):
        volume_provider.delete(volume.id, volume.outs)
    assert not [r for r in mithril.control.write_requests() if r["method"] == "DELETE"]
    task_provider.delete(task.id, task.outs)
    volume_provider.delete(volume.id, volume.outs)
    assert mithril.control.live_volumes() == []


def test_import_reads_inputs(volume_provider: FlowVolumeProvider, mithril: RunningEmulator) -> None:
    created = volume_provider.create(checked_volume(region="us-central1-a"))
    imported = volume_provider.read(created.id, {})
    assert imported.inputs == {"volume_name": "data-1a2b3c4d", "size_gb": 100, "interface": "file",
                               "region": "us-central1-a", "auto_named": False}


@pytest.mark.parametrize(("key", "value"), [("size_gb", 200), ("interface", "block"), ("region", "eu-central1-a")])
def test_a_change_that_would_replace_a_volume_is_refused_at_check(key: str, value: object) -> None:
    """Mithril cannot resize or move a volume: replacing it means a new empty one. Refused, unless opted in."""
    provider = FlowVolumeProvider()
    olds = checked_volume(region="us-central1-a")
    refused = provider.check(olds, {**olds, key: value})
    assert [f.property for f in refused.failures] == [key]
    assert "new EMPTY volume" in refused.failures[0].reason and "allow_replacement=True" in refused.failures[0].reason

    allowed = provider.check(olds, {**olds, key: value, "allow_replacement": True})
    assert allowed.failures == []
    assert provider.diff("vol_1", olds, allowed.inputs).replaces == [key]


def test_a_rename_and_a_first_create_are_not_refused() -> None:
    provider = FlowVolumeProvider()
    olds = checked_volume()
    renamed = provider.check(olds, {**olds, "volume_name": "renamed-1a2b3c4d", "auto_named": False})
    assert renamed.failures == []
    diff = provider.diff("vol_1", olds, renamed.inputs)
    assert diff.changes and diff.replaces == []
    assert provider.check({}, {"volume_name": "fresh-1a2b3c4d", "size_gb": 100}).failures == []


def test_the_delete_guard_reads_mithril_now_not_the_sdks_cache(volume_provider: FlowVolumeProvider,
                                                               mithril: RunningEmulator) -> None:
    """The bid that mounted the volume ended elsewhere (another tool, a finished job) a moment after the guard
    saw it live: the SDK's HTTP cache would still say live and refuse a delete that is safe."""
    task_provider = FlowTaskProvider()
    task_provider.poll_interval_seconds = 0.05
    volume = volume_provider.create(checked_volume(region="us-central1-a"))
    task = task_provider.create(checked_task(volumes=[{"volume_id": volume.id, "mount_path": "/data"}]))
    with pytest.raises(FlowProviderError, match="refusing to delete"):
        volume_provider.delete(volume.id, volume.outs)  # the guard reads the bid: live
    mithril.control.terminate(task.id)  # ended outside this process's SDK
    volume_provider.delete(volume.id, volume.outs)
    assert mithril.control.live_volumes() == []


def test_a_refused_replacement_says_what_would_be_lost_and_both_ways_out() -> None:
    provider = FlowVolumeProvider()
    olds = checked_volume(region="us-central1-a")
    (failure,) = provider.check(olds, {**olds, "size_gb": 200}).failures
    assert (failure.property, failure.reason) == ("size_gb", (
        "100 -> 200: Mithril cannot change a volume's size_gb; applying this creates a new EMPTY volume and deletes "
        "'data-1a2b3c4d' with its data. Fix: keep size_gb=100, or, to accept losing the data, set "
        "allow_replacement=True on this volume"))


def test_volume_inputs_name_what_is_unknown_or_missing() -> None:
    provider = FlowVolumeProvider()
    failures = provider.check({}, {"size_gb": 10, "bogus": 1, "__provider": "pickled provider"}).failures
    assert [(f.property, f.reason) for f in failures] == [
        ("bogus", f"1: is not a FlowVolume input. Fix: use only {', '.join(d.VOLUME.input_keys)}"),
        ("volume_name", "None: is required. Fix: set volume_name on the FlowVolume"),
    ]
    inputs = provider.check({}, {"volume_name": "a-1", "size_gb": 10}).inputs
    owner = inputs.pop("owner")  # none given: one is drawn for this volume
    assert OWNER_RE.fullmatch(owner)
    assert inputs == {"volume_name": "a-1", "size_gb": 10, "interface": "file", "region": None,
                      "allow_replacement": False, "auto_named": None}


def test_check_keeps_a_generated_volume_name_already_in_state() -> None:
    """A newer naming scheme must never rename, and so replace, a volume that exists."""
    provider = FlowVolumeProvider()
    olds = {**checked_volume(region="us-central1-a"), "auto_named": True}
    news = provider.check(olds, {**olds, "volume_name": "data-99999999", "auto_named": True}).inputs
    assert news["volume_name"] == "data-1a2b3c4d"


def test_a_volume_made_again_after_a_delete_is_a_new_live_volume(volume_provider: FlowVolumeProvider,
                                                                 mithril: RunningEmulator) -> None:
    """The same inputs, created twice: a request key derived from them would get the deleted volume back."""
    props = checked_volume(region="us-central1-a")
    first = volume_provider.create(props)
    volume_provider.delete(first.id, first.outs)
    second = volume_provider.create(props)
    assert second.id != first.id and [v["fid"] for v in mithril.control.live_volumes()] == [second.id]


def test_a_refused_delete_names_every_task_that_mounts_the_volume(volume_provider: FlowVolumeProvider,
                                                                  task_provider: FlowTaskProvider,
                                                                  mithril: RunningEmulator) -> None:
    volume = volume_provider.create(checked_volume(region="us-central1-a"))
    mount = [{"volume_id": volume.id, "mount_path": "/data"}]
    first = task_provider.create(checked_task(volumes=mount, num_instances=1))
    second = task_provider.create(checked_task(volumes=mount, num_instances=1, task_name="other-1a2b3c4d"))
    with pytest.raises(FlowProviderError) as refused:
        volume_provider.delete(volume.id, volume.outs)
    users = sorted([first.id, second.id])
    assert f"live task(s) {users[0]}, {users[1]} still mount it" in str(refused.value) or \
        f"live task(s) {users[1]}, {users[0]} still mount it" in str(refused.value)
    assert str(refused.value).startswith(f"refusing to delete volume {volume.id} ({volume.outs['volume_name']})")
