"""Every example in examples/ runs here, in-process, with the real providers against the emulator."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pulumi_flow.engines.builtin import UNKNOWN, evaluate_policies, run_stack
from pulumi_flow.testing.emulator import RunningEmulator

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


PYTHON_EXAMPLES = ["complete", "quickstart", "reserved", "spot-pool", "training-job", "underbid"]
# Every other language's example, and the engine test that runs it.
OTHER_EXAMPLES = {"yaml": ("yaml", "test_plugin_on_engine.py"), "yaml-complete": ("yaml", "test_plugin_on_engine.py"),
                  "yaml-reserved": ("yaml", "test_plugin_on_engine.py"),
                  "yaml-pool": ("yaml", "test_plugin_on_engine.py"),
                  "typescript": ("nodejs", "test_languages_on_engine.py"), "go": ("go", "test_languages_on_engine.py")}


def test_every_python_example_is_a_pulumi_python_project() -> None:
    names = sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir())
    assert names == sorted([*PYTHON_EXAMPLES, *OTHER_EXAMPLES])
    for name in PYTHON_EXAMPLES:
        project = (EXAMPLES / name / "Pulumi.yaml").read_text()
        assert f"name: flow-{name}" in project and "name: python" in project
        requirements = [line for line in (EXAMPLES / name / "requirements.txt").read_text().splitlines()
                        if line and not line.startswith("#")]
        assert requirements == ["../.."], "pulumi-flow from this clone: it is not on PyPI"


def test_every_other_language_example_is_run_on_the_engine() -> None:
    engine_tests = Path(__file__).resolve().parents[1] / "engine"
    for name, (runtime, test_file) in OTHER_EXAMPLES.items():
        settings = yaml.safe_load((EXAMPLES / name / "Pulumi.yaml").read_text())
        declared = settings["runtime"]["name"] if isinstance(settings["runtime"], dict) else settings["runtime"]
        assert declared == runtime and settings["name"].startswith("flow-"), name
        assert f'"{name}"' in (engine_tests / test_file).read_text(), f"{test_file} runs examples/{name}"


def test_complete_example_ends_with_real_bids_and_volumes(mithril: RunningEmulator) -> None:
    run = run_stack(EXAMPLES / "complete", project="flow-complete")

    bids = mithril.control.live_bids()
    assert len(bids) == 1, "one cluster bid, nothing else"
    bid = bids[0]
    assert bid["instance_quantity"] == 4 and bid["limit_price"] == "$50.00"
    assert mithril.backend.instance_types[bid["instance_type"]].name == "a100-80gb.sxm.8x"
    volumes = {v["fid"]: v for v in mithril.control.live_volumes()}
    assert sorted(v["capacity_gb"] for v in volumes.values()) == [500, 1000]
    assert sorted(bid["launch_specification"]["volumes"]) == sorted(volumes)
    assert {v["region"] for v in volumes.values()} == {bid["region"]}

    assert run.outputs["cluster_id"] == bid["fid"]
    assert sorted(run.outputs["gpu_ips"]) == sorted(
        i["ssh_destination"] for i in mithril.backend.list_instances([bid["fid"]]))
    assert set(run.outputs["storage_ids"]) == {"data", "models"}
    assert set(run.outputs["storage_ids"].values()) == set(volumes)
    assert run.outputs["hourly_bid"] == 200.0


def test_complete_example_preview_spends_nothing(mithril: RunningEmulator) -> None:
    run = run_stack(EXAMPLES / "complete", project="flow-complete", preview=True)
    assert run.outputs["cluster_id"] is UNKNOWN and run.outputs["hourly_bid"] == 200.0
    assert len(run.resources) == 7  # 2 components, their 2 owners, 1 bid and 2 volumes
    assert mithril.control.requests() == []


def test_quickstart_bids_the_threshold(mithril: RunningEmulator) -> None:
    run = run_stack(EXAMPLES / "quickstart", project="flow-quickstart")
    (bid,) = mithril.control.live_bids()
    assert bid["limit_price"] == "$25.00" and bid["instance_quantity"] == 1
    assert run.outputs["task_id"] == bid["fid"] and len(run.outputs["public_ips"]) == 1
    assert run.outputs["bid_per_hour"] == 25.0


def test_training_job_runs_with_terminate_on_exit(mithril: RunningEmulator) -> None:
    run = run_stack(EXAMPLES / "training-job", project="flow-training-job")
    (bid,) = mithril.control.live_bids()
    assert bid["limit_price"] == "$9.00"
    assert mithril.backend.list_api_keys(), "terminate_on_exit: the SDK minted the task's own key"
    assert run.outputs["job_id"] == bid["fid"]
    assert run.outputs["data_volume"] == bid["launch_specification"]["volumes"][0]


@pytest.mark.parametrize("preview", [True, False])
def test_underbid_example_is_a_valid_program(mithril: RunningEmulator, preview: bool) -> None:
    """Without the policy pack, Mithril would take this bid: the danger is real."""
    run = run_stack(EXAMPLES / "underbid", project="flow-underbid", preview=preview)
    assert run.named("cheap-cluster-task").inputs["max_price_per_hour"] == 30.0
    assert len(mithril.control.live_bids()) == (0 if preview else 1)


POLICIES = Path(__file__).resolve().parents[2] / "policies"


@pytest.mark.parametrize("example", ["complete", "quickstart", "reserved", "spot-pool", "training-job"])
def test_compliant_examples_pass_the_policy_pack(mithril: RunningEmulator, example: str) -> None:
    run = run_stack(EXAMPLES / example, project=f"flow-{example}")
    verdicts = evaluate_policies(run, POLICIES)
    assert [v for v in verdicts if v.blocking] == []


def test_underbid_example_is_rejected_by_the_pack(mithril: RunningEmulator) -> None:
    """As with `pulumi up --policy-pack`, the pack judges the preview, before anything is placed."""
    run = run_stack(EXAMPLES / "underbid", project="flow-underbid", preview=True)
    verdicts = evaluate_policies(run, POLICIES)
    blocking = [v for v in verdicts if v.blocking]
    assert [v.policy for v in blocking] == ["infrastructure-bid-floor"]
    assert "$30.00" in blocking[0].message and "$50.00" in blocking[0].message
    assert mithril.control.live_bids() == [], "judged in preview: no bid was ever placed"


def test_underbid_with_budget_and_advisory_override(mithril: RunningEmulator) -> None:
    run = run_stack(EXAMPLES / "underbid", project="flow-underbid", preview=True)
    verdicts = evaluate_policies(run, POLICIES, {
        "infrastructure-bid-floor": {"enforcementLevel": "advisory"},
        "stack-hourly-budget": {"enforcementLevel": "mandatory", "max_hourly_spend": 50.0},
    })
    assert {(v.policy, v.level) for v in verdicts} == {("infrastructure-bid-floor", "advisory"),
                                                       ("stack-hourly-budget", "mandatory")}
