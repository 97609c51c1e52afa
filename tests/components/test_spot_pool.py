"""`SpotPool`: a GPU target across regions and instance types, under Pulumi mocks whose resource hook runs the real
providers against the emulator (the built-in engine): preview spends nothing, up holds the target, bad input is
refused at construction."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from pulumi_flow import DataVolumes, DataVolumesArgs, InputError, SpotPool, SpotPoolArgs
from pulumi_flow.components.pool import OUTPUTS
from pulumi_flow.engines.builtin import UNKNOWN, run_stack
from pulumi_flow.resources import OWNER_TYPE, POOL_TYPE, VOLUME_TYPE
from pulumi_flow.testing.emulator import RunningEmulator

A, B = "us-central1-a", "eu-central1-a"


def pool_program() -> None:
    storage = DataVolumes("storage", DataVolumesArgs(volumes={"ckpt": 100}, region=B))
    pool = SpotPool("gpus", SpotPoolArgs(
        target_gpus=24, max_price_per_gpu_hour=3.5, instance_types=["8xh100", "4xa100"], regions=[A, B],
        volumes=[storage.mount("ckpt", "/mnt/ckpt")], command="python serve.py", ready_timeout_minutes=1))
    for key in OUTPUTS:
        pulumi.export(key, getattr(pool, key))


def test_a_preview_plans_the_pool_and_spends_nothing(mithril: RunningEmulator) -> None:
    run = run_stack(pool_program, preview=True)
    assert sorted((r.type, r.name) for r in run.resources) == sorted([
        ("flow:index:DataVolumes", "storage"), (VOLUME_TYPE, "storage-ckpt"), (OWNER_TYPE, "storage-owner"),
        ("flow:index:SpotPool", "gpus"), (OWNER_TYPE, "gpus-owner"), (POOL_TYPE, "gpus-pool")])
    pool = run.named("gpus-pool")
    assert pool.parent == run.named("gpus").urn
    assert (pool.inputs["target_gpus"], pool.inputs["instance_types"], pool.inputs["regions"]) == (
        24, ["8xh100", "4xa100"], [A, B])
    assert [m["mount_path"] for m in pool.inputs["volumes"]] == ["/mnt/ckpt"]
    assert run.outputs["gpus_held"] is UNKNOWN
    assert mithril.control.requests() == [], "a preview must not talk to Mithril at all"


def test_up_holds_the_target_in_the_volumes_region_and_the_outputs_say_so(mithril: RunningEmulator) -> None:
    run = run_stack(pool_program)
    outs = run.outputs
    assert (outs["gpus_held"], outs["unfilled_gpus"]) == (24, 0)
    assert outs["gpus_by_placement"] == {f"{B}/8xh100": 24}, "A is first, but the volume is in B"
    assert outs["max_hourly_usd"] == 84.0 and outs["hourly_usd"] == 76.80
    (volume,) = mithril.control.live_volumes()
    bids = mithril.control.live_bids()
    assert len(bids) == 3 and all(b["launch_specification"]["volumes"] == [volume["fid"]] for b in bids)
    assert {s["slot"] for s in outs["slots"]} == {0, 1, 2} and outs["pool_id"] == run.named("gpus-pool").id


@pytest.mark.parametrize(("changes", "field", "problem"), [
    ({"target_gpus": 12, "instance_types": ["8xh100"]}, "SpotPoolArgs.target_gpus",
     "cannot be made of whole instances of 8xh100 (8 GPUs each)"),
    ({"max_price_per_gpu_hour": 0}, "SpotPoolArgs.max_price_per_gpu_hour",
     "must be a positive, finite price in USD per GPU-hour"),
    ({"instance_types": []}, "SpotPoolArgs.instance_types", "must name at least one of the instance types"),
    ({"instance_types": ["h100"]}, "SpotPoolArgs.instance_types[0]", "names no GPU count"),
    ({"regions": ["us-central1-a", "us-central1-a"]}, "SpotPoolArgs.regions", "names us-central1-a more than once"),
])
def test_bad_input_is_refused_at_construction_by_name(changes: dict[str, Any], field: str, problem: str) -> None:
    args: dict[str, Any] = {"target_gpus": 16, "max_price_per_gpu_hour": 3.5, "instance_types": ["8xh100"],
                            **changes}
    with pytest.raises(InputError) as refused:
        SpotPoolArgs(**args)
    assert refused.value.field == field and problem in refused.value.problem
