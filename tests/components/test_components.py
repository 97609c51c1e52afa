"""Components under Pulumi mocks whose resource hook runs the real providers.

Preview runs prove three things at once: the tree and each child's inputs (asserted on the
recorded registrations, no `apply` involved, so nothing can pass silently), that `check`
accepted them, and that not one request reached Mithril.
"""

from __future__ import annotations

import re

import pulumi
import pytest

from pulumi_flow import (
    DataVolumes,
    DataVolumesArgs,
    TrainingCluster,
    TrainingClusterArgs,
    TrainingJob,
    TrainingJobArgs,
    VolumeSpec,
)
from pulumi_flow.engines.builtin import UNKNOWN, run_stack
from pulumi_flow.resources import OWNER_TYPE, TASK_TYPE, VOLUME_TYPE
from pulumi_flow.testing.emulator import RunningEmulator


def seed_program() -> None:
    volumes = DataVolumes("storage", DataVolumesArgs(volumes={"data": 1000, "models": 500}))
    cluster = TrainingCluster("gpu-infra", TrainingClusterArgs(
        instance_type="8xa100", num_instances=4, max_price_per_hour=50.0,
        volumes=[volumes.mount("data", "/data"), volumes.mount("models", "/mnt/models")]))
    job = TrainingJob("train", TrainingJobArgs(
        command="python train.py", instance_type="4xa100", max_price_per_hour=15.0,
        volumes=[volumes.mount("data", "/data")], max_run_time_hours=24))
    pulumi.export("gpu_ips", cluster.public_ips)
    pulumi.export("hourly_bid", cluster.hourly_bid)
    pulumi.export("job_status", job.status)


def test_preview_tree_inputs_and_no_requests(mithril: RunningEmulator) -> None:
    run = run_stack(seed_program, preview=True)

    kinds = sorted((r.type, r.name) for r in run.resources)
    assert kinds == sorted([
        (VOLUME_TYPE, "storage-data"), (VOLUME_TYPE, "storage-models"),
        (TASK_TYPE, "gpu-infra-task"), (TASK_TYPE, "train-task"),
        ("flow:index:DataVolumes", "storage"), ("flow:index:TrainingCluster", "gpu-infra"),
        ("flow:index:TrainingJob", "train"),
        (OWNER_TYPE, "storage-owner"), (OWNER_TYPE, "gpu-infra-owner"), (OWNER_TYPE, "train-owner"),
    ])
    for child, parent in (("storage-data", "storage"), ("gpu-infra-task", "gpu-infra"), ("train-task", "train"),
                          ("storage-owner", "storage"), ("gpu-infra-owner", "gpu-infra"), ("train-owner", "train")):
        assert run.named(child).parent == run.named(parent).urn

    cluster = run.named("gpu-infra-task").inputs
    assert cluster["role"] == "infrastructure" and cluster["instance_type"] == "8xa100"
    assert cluster["num_instances"] == 4 and cluster["max_price_per_hour"] == 50.0
    assert cluster["command"] == "sleep infinity" and cluster["wait_until"] == "running"
    assert [(m["mount_path"], m["interface"]) for m in cluster["volumes"]] == [("/data", "file"),
                                                                                ("/mnt/models", "file")]
    assert re.fullmatch(r"gpu-infra-task-[0-9a-f]{8}", cluster["task_name"])

    job = run.named("train-task").inputs
    assert job["role"] == "workload" and job["max_run_time_hours"] == 24 and job["wait_until"] == "submitted"
    assert run.named("storage-data").inputs["size_gb"] == 1000

    assert run.outputs["gpu_ips"] is UNKNOWN, "a preview cannot know addresses"
    assert run.outputs["hourly_bid"] == 200.0
    assert mithril.control.requests() == [], "a preview must not talk to Mithril at all"


def test_up_creates_bids_and_volumes_with_outputs(mithril: RunningEmulator) -> None:
    run = run_stack(seed_program)
    bids = {b["name"]: b for b in mithril.control.live_bids()}
    assert sorted(bids) == sorted([run.named("gpu-infra-task").outputs["bid_name"],
                                   run.named("train-task").outputs["bid_name"]])
    for task in ("gpu-infra-task", "train-task"):
        assert run.named(task).outputs["bid_name"].startswith(run.named(task).inputs["task_name"] + ".")
    assert len(mithril.control.live_volumes()) == 2
    assert len(run.outputs["gpu_ips"]) == 4
    assert run.outputs["hourly_bid"] == 200.0
    cluster_outputs = run.named("gpu-infra").outputs
    assert cluster_outputs["max_price_per_hour"] == 50.0 and len(cluster_outputs["private_ips"]) == 4
    assert cluster_outputs["task_id"] == run.named("gpu-infra-task").id


def test_volume_children_are_protected_by_default_and_can_opt_out(mithril: RunningEmulator) -> None:
    def program() -> None:
        DataVolumes("kept", DataVolumesArgs(volumes={"data": 10}))
        DataVolumes("scratch", DataVolumesArgs(volumes={"tmp": 10}, protect=False))
        DataVolumes("forced", DataVolumesArgs(volumes={"x": 10}, protect=False), pulumi.ResourceOptions(protect=True))

    run = run_stack(program, preview=True)
    assert run.named("kept-data").protect is True
    assert run.named("scratch-tmp").protect is False
    assert run.named("forced-x").protect is True


def test_options_reach_the_children(mithril: RunningEmulator) -> None:
    def program() -> None:
        guard = DataVolumes("guard", DataVolumesArgs(volumes={"g": 10}))
        volumes = DataVolumes("storage", DataVolumesArgs(volumes={"data": 10}))
        TrainingCluster("gpu", TrainingClusterArgs(instance_type="8xh100", volumes=[volumes.mount("data", "/data")]),
                        pulumi.ResourceOptions(
                            depends_on=[guard], ignore_changes=["max_price_per_hour"], retain_on_delete=True,
                            custom_timeouts=pulumi.CustomTimeouts(create="45m"), protect=True))

    run = run_stack(program, preview=True)
    task = run.named("gpu-task")
    assert task.protect is True, "protect is inherited from the component"
    assert task.ignore_changes == ["max_price_per_hour"]
    assert task.retain_on_delete is True
    assert task.custom_timeouts == {"create": "45m"}
    deps = set(task.depends_on)
    assert run.named("guard-g").urn in deps, "the component's depends_on (Pulumi expands it to the children)"
    assert run.named("storage-data").urn in deps, "and the mounted volume, so it outlives the task"


def test_cluster_without_bid_bids_the_on_demand_threshold(mithril: RunningEmulator) -> None:
    def program() -> None:
        TrainingCluster("h", TrainingClusterArgs(instance_type="h100:8"))
        TrainingCluster("a", TrainingClusterArgs(instance_type="4xa100", num_instances=2))

    run = run_stack(program, preview=True)
    assert run.named("h-task").inputs["max_price_per_hour"] == 50.0
    assert run.named("a-task").inputs["max_price_per_hour"] == 12.5
    assert run.named("a").outputs["hourly_bid"] == 25.0


def test_output_inputs_are_not_branched_on(mithril: RunningEmulator) -> None:
    def program() -> None:
        instance_type = pulumi.Output.from_input("h100:8")
        TrainingCluster("gpu", TrainingClusterArgs(instance_type=instance_type,
                                                   num_instances=pulumi.Output.from_input(2)))

    run = run_stack(program, preview=True)
    inputs = run.named("gpu-task").inputs
    assert inputs["instance_type"] == "h100:8", "passed through as given; the provider normalises it"
    assert inputs["max_price_per_hour"] == 50.0, "threshold computed inside apply, not by branching"


def test_job_default_bid_is_flows_priority_tier(mithril: RunningEmulator) -> None:
    def program() -> None:
        TrainingJob("med", TrainingJobArgs(command="python t.py", instance_type="4xa100"))
        TrainingJob("low", TrainingJobArgs(command="python t.py", instance_type="8xh100", priority="low"))

    run = run_stack(program, preview=True)
    assert run.named("med-task").inputs["max_price_per_hour"] == 24.0  # a100 med $6/GPU-hour x 4
    assert run.named("low-task").inputs["max_price_per_hour"] == 32.0  # h100 low $4/GPU-hour x 8


def test_startup_script_runs_before_keep_alive(mithril: RunningEmulator) -> None:
    def program() -> None:
        TrainingCluster("gpu", TrainingClusterArgs(instance_type="8xa100", startup_script="pip install torch\n"))

    run = run_stack(program, preview=True)
    assert run.named("gpu-task").inputs["command"] == "pip install torch\nsleep infinity"


def test_block_volume_on_single_node_cluster_is_fine(mithril: RunningEmulator) -> None:
    def program() -> None:
        volumes = DataVolumes("s", DataVolumesArgs(volumes={"scratch": VolumeSpec(100, interface="block")}))
        TrainingCluster("one", TrainingClusterArgs(instance_type="8xa100", volumes=[volumes.mount("scratch", "/data")]))

    run = run_stack(program)
    assert run.named("s-scratch").outputs["interface"] == "block"
    assert run.named("one-task").outputs["status"] == "running"


@pytest.mark.parametrize("wait", ["submitted", "running"])
def test_job_wait_modes(mithril: RunningEmulator, wait: str) -> None:
    def program() -> None:
        TrainingJob("j", TrainingJobArgs(command="python t.py", instance_type="1xa100", max_price_per_hour=3.0,
                                         wait=wait))

    run = run_stack(program)
    status = run.named("j-task").outputs["status"]
    assert status == "running" if wait == "running" else status in ("pending", "provisioning", "running")
