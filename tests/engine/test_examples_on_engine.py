"""Every example through the real Pulumi CLI: preview, up, no-change runs, refresh, destroy, with the pack."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
from pulumi import automation as auto

from pulumi_flow.engines.pulumi_cli import PulumiCli, Transcript
from pulumi_flow.testing.emulator import RunningEmulator
from pulumi_flow.testing.languages import build_python
from tests.engine.conftest import EXAMPLES, PACK, PACK_NAME

pytestmark = pytest.mark.engine


@attrs.frozen
class Expected:
    """What an example must leave on Mithril, and which outputs it exports."""

    resources: int  # stack + components + their owners + custom resources: what `preview` plans to create
    bids: list[tuple[str, int, str]]  # (instance type name, instance count, limit price)
    volume_sizes: list[int]
    outputs: Callable[[dict[str, Any], RunningEmulator], None]
    protected_volumes: bool


def complete_outputs(outputs: dict[str, Any], mithril: RunningEmulator) -> None:
    (bid,) = mithril.control.live_bids()
    volumes = {v["fid"] for v in mithril.control.live_volumes()}
    assert outputs["cluster_id"] == bid["fid"]
    assert sorted(outputs["gpu_ips"]) == sorted(
        i["ssh_destination"] for i in mithril.backend.list_instances([bid["fid"]]))
    assert len(outputs["gpu_ips"]) == 4
    assert set(outputs["storage_ids"]) == {"data", "models"} and set(outputs["storage_ids"].values()) == volumes
    assert sorted(bid["launch_specification"]["volumes"]) == sorted(volumes)
    assert outputs["hourly_bid"] == 200


def complete_component_inputs(deployment: dict[str, Any]) -> None:
    """The components record what they were asked for, as pulumi-eks does: `pulumi stack export` shows it."""
    resources = {r["type"]: r for r in deployment["resources"]}
    cluster = resources["flow:index:TrainingCluster"]["inputs"]
    assert (cluster["instance_type"], cluster["num_instances"], cluster["max_price_per_hour"]) == ("8xa100", 4, 50)
    assert [(m["name"], m["mount_path"]) for m in cluster["volumes"]] == [("data", "/data"), ("models", "/mnt/models")]
    volumes = resources["flow:index:DataVolumes"]["inputs"]
    assert {k: v["size_gb"] for k, v in volumes["volumes"].items()} == {"data": 1000, "models": 500}
    assert volumes["protect"] is True


def complete_cost_outputs(deployment: dict[str, Any], mithril: RunningEmulator) -> None:
    """What the cluster has cost, in state on the task and on the component that owns it, from Mithril's history."""
    (task,) = [r for r in deployment["resources"] if r["type"].endswith("flow:Task")]
    (cluster,) = [r for r in deployment["resources"] if r["type"] == "flow:index:TrainingCluster"]
    charged = mithril.backend.instance_pricing_history(bid=task["id"])
    assert len(charged) == 4 and all(row["events"] for row in charged), "each instance billed from its allocation"
    for outputs in (task["outputs"], cluster["outputs"]):
        assert outputs["spend_usd"] >= 0 and outputs["preemptions"] == 0 and outputs.get("last_preempted_at") is None
        assert outputs["market_price_per_hour"] == market_of(task["id"], mithril)


def market_of(bid_id: str, mithril: RunningEmulator) -> float:
    """What the bid's market charges per instance-hour now, from the emulator's auction."""
    bid = mithril.backend.get_bid(bid_id)
    return mithril.backend.market_cents[(bid["instance_type"], bid["region"])] / 100


def quickstart_outputs(outputs: dict[str, Any], mithril: RunningEmulator) -> None:
    (bid,) = mithril.control.live_bids()
    assert outputs["task_id"] == bid["fid"] and len(outputs["public_ips"]) == 1
    assert outputs["bid_per_hour"] == 25


def reserved_outputs(outputs: dict[str, Any], mithril: RunningEmulator) -> None:
    """The complete example's outputs, from a reservation: its id, its instances' addresses, unit price x 4."""
    (held,) = mithril.backend.list_reservations()
    volumes = {v["fid"] for v in mithril.control.live_volumes()}
    assert outputs["cluster_id"] == held["fid"] and held["instance_quantity"] == 4
    assert sorted(outputs["gpu_ips"]) == sorted(i["ssh_destination"] for i in mithril.backend.list_instances()
                                                if i["fid"] in held["instances"])
    assert len(outputs["gpu_ips"]) == 4
    assert set(outputs["storage_ids"].values()) == volumes == set(held["launch_specification"]["volumes"])
    assert outputs["hourly_bid"] == 4 * float(held["unit_price"].removeprefix("$")) <= 4 * 40


def training_job_outputs(outputs: dict[str, Any], mithril: RunningEmulator) -> None:
    (bid,) = mithril.control.live_bids()
    (volume,) = mithril.control.live_volumes()
    assert outputs["job_id"] == bid["fid"] and outputs["data_volume"] == volume["fid"]
    assert bid["launch_specification"]["volumes"] == [volume["fid"]]
    assert outputs["job_status"] in ("pending", "running")


# examples/complete runs as users type it, `pulumi install` included (tests/engine/test_readme_path_on_engine.py),
# with these same checks; the other two run here from their directory too, by the Python language host, in the
# virtualenv `build_python` links (what `pulumi install` would make, without waiting for pip).
EXAMPLES_EXPECTED = {
    "quickstart": Expected(4, [("a100-80gb.sxm.8x", 1, "$25.00")], [], quickstart_outputs, False),
    "training-job": Expected(7, [("a100-80gb.sxm.4x", 1, "$9.00")], [1000], training_job_outputs, True),
    "reserved": Expected(8, [], [500, 1000], reserved_outputs, True),
}


def live_summary(mithril: RunningEmulator) -> tuple[list[tuple[str, int, str]], list[int]]:
    bids = sorted((mithril.backend.instance_types[b["instance_type"]].name, b["instance_quantity"], b["limit_price"])
                  for b in mithril.control.live_bids())
    return bids, sorted(v["capacity_gb"] for v in mithril.control.live_volumes())


@pytest.mark.parametrize("example", sorted(EXAMPLES_EXPECTED))
def test_example_lifecycle_on_the_real_engine(example: str, engine: PulumiCli, mithril: RunningEmulator,
                                              tmp_path: Path) -> None:
    expected = EXAMPLES_EXPECTED[example]
    stack = build_python(EXAMPLES / example, tmp_path).stack(engine, mithril)

    # 1. preview with the pack: the plan, the pack's verdicts, and not one write to Mithril.
    preview_log = Transcript()
    preview = stack.preview(policy_packs=[PACK], **preview_log.hooks())
    assert preview.change_summary == {"create": expected.resources}
    assert f"{PACK_NAME}@v0.1.0" in preview_log.text, "the CLI loaded and ran the policy pack"
    assert [e for e in preview_log.policy_violations() if e.enforcement_level == "mandatory"] == []
    assert mithril.control.write_requests() == []

    # 2. up with the pack: exactly the bids and volumes the program describes.
    up = stack.up(policy_packs=[PACK])
    assert up.summary.result == "succeeded" and up.summary.resource_changes == {"create": expected.resources}
    assert live_summary(mithril) == (expected.bids, expected.volume_sizes)
    outputs = {key: value.value for key, value in up.outputs.items()}
    expected.outputs(outputs, mithril)

    # 3. Nothing to do afterwards: preview, refresh and up all agree with Mithril.
    mithril.control.clear_requests()
    again = stack.preview(policy_packs=[PACK], expect_no_changes=True)
    assert again.change_summary == {"same": expected.resources}
    refresh = stack.refresh(expect_no_changes=True)
    assert refresh.summary.resource_changes == {"same": expected.resources}
    second = stack.up(policy_packs=[PACK], expect_no_changes=True)
    assert second.summary.resource_changes == {"same": expected.resources}
    assert mithril.control.write_requests() == [], "no-change runs write nothing"
    assert live_summary(mithril) == (expected.bids, expected.volume_sizes)

    # 6. destroy: protected data volumes stop it, as Pulumi's `protect` does, until unprotected.
    if expected.protected_volumes:
        with pytest.raises(auto.CommandError, match="protected"):
            stack.destroy()
        assert live_summary(mithril)[1] == expected.volume_sizes, "no data volume was deleted"
        assert {r["status"] for r in mithril.backend.list_reservations()} <= {"Active"}, "no reservation was ended"
        engine.run(stack, "state", "unprotect", "--all", "--yes")
    stack.destroy()
    assert mithril.control.live_bids() == [] and mithril.control.live_volumes() == []
    assert [r["status"] for r in mithril.backend.list_reservations()] in ([], ["Canceled"]), "its instances ended"
