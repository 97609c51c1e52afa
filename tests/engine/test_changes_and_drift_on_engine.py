"""Changes and drift through the real engine: in-place reprice, replacement, preemption, out-of-band edits."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from pulumi_flow import DataVolumes, DataVolumesArgs, TrainingCluster, TrainingClusterArgs
from pulumi_flow.engines.pulumi_cli import PulumiCli, Transcript
from pulumi_flow.resources import TASK_TYPE
from pulumi_flow.testing.emulator import RunningEmulator
from tests.engine.conftest import PACK

pytestmark = pytest.mark.engine

A100X8 = "it_Sg1nDx1I8NFep60J"


def cluster_program() -> None:
    """A cluster whose type and bid come from stack config, so a test can change them between runs."""
    config = pulumi.Config()
    scratch = config.get_bool("scratch")
    storage = DataVolumes("storage", DataVolumesArgs(volumes={"data": 100, **({"scratch": 50} if scratch else {})},
                                                     protect=False))
    cluster = TrainingCluster("gpu", TrainingClusterArgs(
        instance_type=config.get("instance_type") or "8xa100",
        num_instances=2,
        max_price_per_hour=config.get_float("bid") or 30.0,
        volumes=[storage.mount("data", "/data"), *([storage.mount("scratch", "/mnt/scratch")] if scratch else [])],
        replacement=config.get("replacement") or "delete-first",
    ))
    pulumi.export("unmounted_volume_ids", cluster.unmounted_volume_ids)
    pulumi.export("task_id", cluster.task_id)
    pulumi.export("status", cluster.status)
    pulumi.export("public_ips", cluster.public_ips)
    pulumi.export("bid", cluster.max_price_per_hour)


def outputs(result: Any) -> dict[str, Any]:
    return {key: value.value for key, value in result.outputs.items()}


def writes(mithril: RunningEmulator) -> list[tuple[str, str]]:
    return [(r["method"], r["path"]) for r in mithril.control.write_requests()]


@pytest.fixture
def cluster_stack(engine: PulumiCli, mithril: RunningEmulator) -> Any:
    stack = engine.stack("dev", project="flow-cluster", program=cluster_program, env=mithril.env)
    stack.up(policy_packs=[PACK])
    mithril.control.clear_requests()
    return stack


def test_a_bid_change_is_one_patch_of_the_same_bid(cluster_stack: Any, mithril: RunningEmulator) -> None:
    (before,) = mithril.control.live_bids()
    cluster_stack.set_config("bid", pulumi.automation.ConfigValue("32.5"))

    planned = Transcript()
    cluster_stack.preview(policy_packs=[PACK], **planned.hooks())
    assert planned.steps(TASK_TYPE) == [("update", "gpu-task")]
    assert writes(mithril) == []

    applied = Transcript()
    up = cluster_stack.up(policy_packs=[PACK], **applied.hooks())
    assert applied.steps(TASK_TYPE) == [("update", "gpu-task")]
    assert writes(mithril) == [("PATCH", f"/v2/spot/bids/{before['fid']}")]
    (after,) = mithril.control.live_bids()
    assert after["fid"] == before["fid"] and after["limit_price"] == "$32.50"
    assert outputs(up)["task_id"] == before["fid"] and outputs(up)["bid"] == 32.5


def test_a_volume_added_to_a_live_cluster_is_attached_in_place_and_taken_away_the_same_way(
        cluster_stack: Any, mithril: RunningEmulator) -> None:
    (before,) = mithril.control.live_bids()
    cluster_stack.set_config("scratch", pulumi.automation.ConfigValue("true"))

    planned = Transcript()
    cluster_stack.preview(policy_packs=[PACK], **planned.hooks())
    assert planned.steps(TASK_TYPE) == [("update", "gpu-task")], "the new volume's id is unknown: still no replace"
    assert writes(mithril) == []

    applied = Transcript()
    up = cluster_stack.up(policy_packs=[PACK], **applied.hooks())
    assert applied.steps(TASK_TYPE) == [("update", "gpu-task")]
    booted = before["launch_specification"]["volumes"]
    (scratch,) = [v for v in mithril.control.live_volumes() if v["fid"] not in booted]
    assert writes(mithril) == [("POST", "/v2/volumes"), ("PATCH", f"/v2/spot/bids/{before['fid']}")]
    (after,) = mithril.control.live_bids()
    assert after["fid"] == before["fid"] and after["instances"] == before["instances"], "the same machines"
    assert after["launch_specification"]["volumes"] == [*booted, scratch["fid"]]
    assert outputs(up)["unmounted_volume_ids"] == [scratch["fid"]]

    mithril.control.clear_requests()
    cluster_stack.set_config("scratch", pulumi.automation.ConfigValue("false"))
    applied = Transcript()
    up = cluster_stack.up(policy_packs=[PACK], **applied.hooks())
    assert applied.steps(TASK_TYPE) == [("update", "gpu-task")]
    # Detached first (the engine updates before it deletes), so the volume is free when it is deleted.
    assert writes(mithril) == [("PATCH", f"/v2/spot/bids/{before['fid']}"), ("DELETE", f"/v2/volumes/{scratch['fid']}")]
    (last,) = mithril.control.live_bids()
    assert last["launch_specification"]["volumes"] == booted
    assert outputs(up)["unmounted_volume_ids"] == []


def test_an_instance_type_change_replaces_the_bid_old_one_first(cluster_stack: Any, mithril: RunningEmulator) -> None:
    (before,) = mithril.control.live_bids()
    cluster_stack.set_config("instance_type", pulumi.automation.ConfigValue("8xh100"))
    cluster_stack.set_config("bid", pulumi.automation.ConfigValue("60"))

    applied = Transcript()
    up = cluster_stack.up(policy_packs=[PACK], **applied.hooks())
    # Delete-before-replace, as the engine plans it: the old bid goes first, then the new one is made.
    assert [op for op, _ in applied.steps(TASK_TYPE)] == ["delete-replaced", "replace", "create-replacement"]
    (after,) = mithril.control.live_bids()
    assert after["fid"] != before["fid"] and outputs(up)["task_id"] == after["fid"]
    assert mithril.backend.instance_types[after["instance_type"]].name == "h100-80gb.sxm.8x"
    order = writes(mithril)
    cancel, place = ("DELETE", f"/v2/spot/bids/{before['fid']}"), ("POST", "/v2/spot/bids")
    assert cancel in order and place in order and order.index(cancel) < order.index(place), order


def task_state(stack: Any) -> dict[str, Any]:
    """The FlowTask's outputs as the engine recorded them (what `pulumi stack export` shows)."""
    (task,) = [r for r in stack.export_stack().deployment["resources"]
               if r["type"] == TASK_TYPE]
    return dict(task["outputs"])


def test_preemption_and_recovery_show_after_one_refresh_each(cluster_stack: Any, mithril: RunningEmulator) -> None:
    (bid,) = mithril.control.live_bids()
    region = bid["region"]
    mithril.control.set_market(A100X8, region, 4000)  # $40/instance-hour: above the $30 bid

    cluster_stack.refresh()
    state = task_state(cluster_stack)
    assert (state["status"], state["bid_status"], state["public_ips"]) == ("preempted", "Open", [])
    cluster_stack.refresh()
    assert task_state(cluster_stack)["status"] == "preempted", "a second refresh of the same cloud says the same"
    # `--run-program` re-runs the program, so the stack's outputs follow too.
    cluster_stack.refresh(run_program=True)
    assert cluster_stack.outputs()["status"].value == "preempted"

    mithril.control.set_market(A100X8, region, 1600)
    cluster_stack.refresh(run_program=True)
    state = {o: v.value for o, v in cluster_stack.outputs().items()}
    assert state["status"] == "running" and len(state["public_ips"]) == 2
    assert state["task_id"] == bid["fid"], "Mithril re-allocated the same bid"
    assert set(state["public_ips"]).isdisjoint(bid_ips(mithril, bid["fid"], "STATUS_PREEMPTED"))


def bid_ips(mithril: RunningEmulator, bid_id: str, status: str) -> set[str]:
    return {i["ssh_destination"] for i in mithril.backend.list_instances([bid_id]) if i["status"] == status}


def test_out_of_band_reprice_shows_and_up_restores_it(cluster_stack: Any, mithril: RunningEmulator) -> None:
    (bid,) = mithril.control.live_bids()
    mithril.control.set_limit_price(bid["fid"], "$35.00")

    refreshed = Transcript()
    cluster_stack.refresh(**refreshed.hooks())
    assert refreshed.steps(TASK_TYPE) == [("update", "gpu-task")]
    assert task_state(cluster_stack)["max_price_per_hour"] == 35
    applied = Transcript()
    cluster_stack.up(policy_packs=[PACK], **applied.hooks())
    assert applied.steps(TASK_TYPE) == [("update", "gpu-task")]
    (after,) = mithril.control.live_bids()
    assert after["fid"] == bid["fid"] and after["limit_price"] == "$30.00"


def test_a_bid_terminated_behind_our_back_is_recreated(cluster_stack: Any, mithril: RunningEmulator) -> None:
    (bid,) = mithril.control.live_bids()
    mithril.control.terminate(bid["fid"])

    log = Transcript()
    up = cluster_stack.up(policy_packs=[PACK], refresh=True, **log.hooks())
    assert up.summary.resource_changes is not None and up.summary.resource_changes.get("create") == 1
    (after,) = mithril.control.live_bids()
    assert after["fid"] != bid["fid"] and outputs(up)["task_id"] == after["fid"]


def test_a_volume_deleted_behind_our_back_is_reported(cluster_stack: Any, mithril: RunningEmulator) -> None:
    (volume,) = mithril.control.live_volumes()
    mithril.control.delete_volume(volume["fid"])

    log = Transcript()
    refresh = cluster_stack.refresh(**log.hooks())
    assert refresh.summary.resource_changes is not None and refresh.summary.resource_changes.get("delete") == 1
    assert "storage-data" in log.text and "deleted" in log.text
    urns = [r["urn"] for r in cluster_stack.export_stack().deployment["resources"]]
    assert not any(u.endswith("::storage-data") for u in urns), "state no longer claims the volume"


def paused_cluster_program() -> None:
    config = pulumi.Config()
    cluster = TrainingCluster("gpu", TrainingClusterArgs(instance_type="8xa100", num_instances=2,
                                                         max_price_per_hour=30.0,
                                                         paused=config.get_bool("paused") or False))
    pulumi.export("task_id", cluster.task_id)
    pulumi.export("public_ips", cluster.public_ips)


def test_pause_and_resume_as_code(engine: PulumiCli, mithril: RunningEmulator) -> None:
    stack = engine.stack("dev", project="flow-pause", program=paused_cluster_program, env=mithril.env)
    (bid_id,) = [outputs(stack.up(policy_packs=[PACK]))["task_id"]]
    mithril.control.clear_requests()

    stack.set_config("paused", pulumi.automation.ConfigValue("true"))
    applied = Transcript()
    stack.up(policy_packs=[PACK], **applied.hooks())
    assert applied.steps(TASK_TYPE) == [("update", "gpu-task")]
    assert writes(mithril) == [("PATCH", f"/v2/spot/bids/{bid_id}")]
    assert mithril.backend.get_bid(bid_id)["status"] == "Paused"

    mithril.control.pause(bid_id, paused=False)  # resumed outside Pulumi: drift the next refresh reports
    refreshed = Transcript()
    stack.refresh(**refreshed.hooks())
    assert refreshed.steps(TASK_TYPE) == [("update", "gpu-task")]
    stack.up(policy_packs=[PACK])
    assert mithril.backend.get_bid(bid_id)["status"] == "Paused", "up restored what the program says"

    stack.set_config("paused", pulumi.automation.ConfigValue("false"))
    resumed = outputs(stack.up(policy_packs=[PACK]))
    assert resumed["task_id"] == bid_id and len(resumed["public_ips"]) == 2
    assert mithril.backend.get_bid(bid_id)["status"] == "Allocated"


def test_create_first_replacement_keeps_the_old_machines_until_the_new_ones_run(
        cluster_stack: Any, mithril: RunningEmulator) -> None:
    cluster_stack.set_config("replacement", pulumi.automation.ConfigValue("create-first"))
    settled = Transcript()
    cluster_stack.up(policy_packs=[PACK], **settled.hooks())
    assert settled.steps(TASK_TYPE) == [], "choosing how to replace changes nothing by itself"
    (before,) = mithril.control.live_bids()
    mithril.control.clear_requests()

    cluster_stack.set_config("instance_type", pulumi.automation.ConfigValue("8xh100"))
    cluster_stack.set_config("bid", pulumi.automation.ConfigValue("60"))
    applied = Transcript()
    up = cluster_stack.up(policy_packs=[PACK], **applied.hooks())
    assert [op for op, _ in applied.steps(TASK_TYPE)] == ["create-replacement", "replace", "delete-replaced"]
    order = writes(mithril)
    place, cancel = ("POST", "/v2/spot/bids"), ("DELETE", f"/v2/spot/bids/{before['fid']}")
    assert order.index(place) < order.index(cancel), order
    (after,) = mithril.control.live_bids()
    assert after["fid"] != before["fid"] and outputs(up)["task_id"] == after["fid"]


def timeouts_program() -> None:
    TrainingCluster("gpu", TrainingClusterArgs(instance_type="8xa100", max_price_per_hour=30.0),
                    pulumi.ResourceOptions(custom_timeouts=pulumi.CustomTimeouts(create="1m")))


def test_custom_timeouts_warn_that_ready_timeout_minutes_governs(engine: PulumiCli,
                                                                 mithril: RunningEmulator) -> None:
    stack = engine.stack("dev", project="flow-timeouts", program=timeouts_program, env=mithril.env)
    log = Transcript()
    stack.preview(**log.hooks())
    assert "custom_timeouts has no effect on pulumi-flow tasks" in log.text
    assert "ready_timeout_minutes" in log.text
