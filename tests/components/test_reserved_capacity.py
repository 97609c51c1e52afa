"""`TrainingCluster(capacity=ReservedCapacity(...))`: the same cluster on a reservation instead of a spot bid, with
the same outputs, under Pulumi mocks whose resource hook runs the real providers against the emulator."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from pulumi_flow import (
    DataVolumes,
    DataVolumesArgs,
    InputError,
    ReservedCapacity,
    TrainingCluster,
    TrainingClusterArgs,
)
from pulumi_flow.components._task import OUTPUTS
from pulumi_flow.engines.builtin import UNKNOWN, run_stack
from pulumi_flow.resources import OWNER_TYPE, RESERVATION_TYPE, TASK_TYPE, VOLUME_TYPE
from pulumi_flow.testing.emulator import RunningEmulator

REGION = "us-central1-a"


def mixed_program() -> None:
    """One cluster reserved and one on spot, mounting the same file volume."""
    storage = DataVolumes("storage", DataVolumesArgs(volumes={"data": 100}, region=REGION))
    reserved = TrainingCluster("reserved", TrainingClusterArgs(
        instance_type="8xa100", num_instances=2, startup_script="echo ready", env={"STAGE": "prod"},
        volumes=[storage.mount("data", "/data")],
        capacity=ReservedCapacity(max_unit_price=40.0, duration_hours=24)))
    spot = TrainingCluster("spot", TrainingClusterArgs(
        instance_type="8xa100", num_instances=1, max_price_per_hour=50.0, volumes=[storage.mount("data", "/data")]))
    for key in OUTPUTS:
        pulumi.export(f"reserved_{key}", getattr(reserved, key))
    pulumi.export("spot_task_id", spot.task_id)


def test_a_preview_plans_a_protected_reservation_and_spends_nothing(mithril: RunningEmulator) -> None:
    run = run_stack(mixed_program, preview=True)
    kinds = sorted((r.type, r.name) for r in run.resources)
    assert kinds == sorted([
        (VOLUME_TYPE, "storage-data"), (RESERVATION_TYPE, "reserved-reservation"), (TASK_TYPE, "spot-task"),
        ("flow:index:DataVolumes", "storage"), ("flow:index:TrainingCluster", "reserved"),
        ("flow:index:TrainingCluster", "spot"),
        (OWNER_TYPE, "storage-owner"), (OWNER_TYPE, "reserved-owner"), (OWNER_TYPE, "spot-owner")])
    reservation = run.named("reserved-reservation")
    assert reservation.parent == run.named("reserved").urn and reservation.protect is True
    inputs = reservation.inputs
    assert (inputs["instance_type"], inputs["quantity"], inputs["region"]) == ("8xa100", 2, REGION)
    assert (inputs["duration_hours"], inputs["max_unit_price"], inputs["paused"]) == (24.0, 40.0, False)
    assert inputs["command"] == "echo ready\nsleep infinity" and inputs["env"] == {"STAGE": "prod"}
    assert [(m["mount_path"], m["interface"]) for m in inputs["mounts"]] == [("/data", "file")]
    assert inputs.get("startup_script") is None and inputs["volumes"] == []
    assert run.outputs["reserved_task_id"] is UNKNOWN
    assert mithril.control.requests() == [], "a preview must not talk to Mithril at all"


def test_up_reserves_the_machines_and_the_outputs_keep_their_shape(mithril: RunningEmulator) -> None:
    run = run_stack(mixed_program)
    (held,) = mithril.backend.list_reservations()
    (bid,) = mithril.control.live_bids()
    (volume,) = mithril.control.live_volumes()
    assert held["launch_specification"]["volumes"] == bid["launch_specification"]["volumes"] == [volume["fid"]]
    assert held["instance_quantity"] == 2 and held["status"] == "Active"
    out = {key: run.outputs[f"reserved_{key}"] for key in OUTPUTS}
    assert out["task_id"] == held["fid"] and run.outputs["spot_task_id"] == bid["fid"]
    assert out["status"] == "running" and sorted(out["instance_ids"]) == sorted(held["instances"])
    assert len(out["private_ips"]) == 2 and (out["ssh_user"], out["ssh_port"]) == ("ubuntu", 22)
    assert (out["max_price_per_hour"], out["market_price_per_hour"], out["hourly_bid"]) == (32.0, 32.0, 64.0)
    assert (out["preemptions"], out["preempted_hours"], out["last_preempted_at"]) == (0, 0.0, None)
    child = run.named("reserved-reservation").outputs
    assert (out["spend_usd"], out["running_hours"]) == (child["spend_usd"], child["active_instance_hours"])
    assert set(out) == set(OUTPUTS), "the same outputs as a cluster on spot"


def test_a_price_above_the_ceiling_fails_the_up_and_commits_nothing(mithril: RunningEmulator) -> None:
    def program() -> None:
        TrainingCluster("reserved", TrainingClusterArgs(
            instance_type="8xa100", region=REGION, capacity=ReservedCapacity(max_unit_price=31.99, duration_hours=4)))

    with pytest.raises(Exception, match=r"max_unit_price=\$31\.99: .* is \$32\.00 per instance-hour, above it"):
        run_stack(program)
    assert mithril.backend.list_reservations() == []


@pytest.mark.parametrize(("args", "field", "reason"), [
    ({"max_price_per_hour": 50.0}, "TrainingClusterArgs.max_price_per_hour", "is a spot bid"),
    ({"region": None}, "TrainingClusterArgs.region", "is required with capacity=ReservedCapacity"),
    ({"capacity": {"max_unit_price": 40}}, "capacity", "must be a ReservedCapacity or None"),
])
def test_bad_arguments_are_refused_by_name_before_anything_is_registered(args: dict[str, Any], field: str,
                                                                         reason: str) -> None:
    base: dict[str, Any] = {"instance_type": "8xa100", "region": REGION,
                            "capacity": ReservedCapacity(max_unit_price=40.0, duration_hours=4)}
    with pytest.raises(InputError) as refused:
        TrainingCluster("reserved", TrainingClusterArgs(**{**base, **args}))
    assert (refused.value.field, reason in refused.value.reason) == (field, True), refused.value


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"max_unit_price": 40.0}, "ReservedCapacity.end_time"),
    ({"max_unit_price": 40.0, "duration_hours": 4, "end_time": "2030-01-01T00:00:00Z"}, "ReservedCapacity.end_time"),
    ({"max_unit_price": 40.0, "start_time": "2030-01-02T00:00:00Z", "end_time": "2030-01-01T00:00:00Z"},
     "ReservedCapacity.end_time"),
    ({"max_unit_price": -1, "duration_hours": 4}, "ReservedCapacity.max_unit_price"),
    ({"max_unit_price": 40.0, "duration_hours": 4, "start_time": "tomorrow"}, "ReservedCapacity.start_time"),
])
def test_a_reserved_capacity_checks_its_own_fields(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(InputError) as refused:
        ReservedCapacity(**kwargs)
    assert refused.value.field == field
