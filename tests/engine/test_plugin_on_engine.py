"""The `flow` provider plugin on the real engine: YAML programs, the pack on `flow:index:*`, import.

The CLI starts `pulumi-resource-flow` (this Python's console script, found on PATH) for the `flow`
package; the YAML language host (`pulumi-language-yaml`, built by scripts/install-pulumi) runs the
programs and reads the schema from the plugin. Nothing here is Python-hosted but the plugin itself.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi import automation as auto

from pulumi_flow.engines.pulumi_cli import PulumiCli, Transcript
from pulumi_flow.provider.session import Credentials, open_flow
from pulumi_flow.testing.emulator import RunningEmulator
from tests.engine.conftest import EXAMPLES, PACK, PACK_NAME

pytestmark = pytest.mark.engine

PLUGIN_TYPES = {"flow:index:Task", "flow:index:Volume"}


def copy_example(name: str, tmp_path: Path) -> Path:
    """A private copy: the Automation API writes the stack's settings file beside Pulumi.yaml."""
    return Path(shutil.copytree(EXAMPLES / name, tmp_path / name))


def deployed(stack: Any) -> dict[str, dict[str, Any]]:
    return {r["urn"].rsplit("::", 1)[-1]: r for r in stack.export_stack().deployment["resources"]}


def refused_preview(stack: Any, tmp_path: Path, config: dict[str, Any]) -> Any:
    """A preview with the pack under `config` (`--policy-pack-config`), which must fail: its one mandatory
    violation."""
    path = tmp_path / "policy-config.json"
    path.write_text(json.dumps(config))
    log = Transcript()
    with pytest.raises(auto.CommandError):
        stack.preview(policy_packs=[PACK], policy_pack_configs=[str(path)], **log.hooks())
    (refused,) = [e for e in log.policy_violations() if e.enforcement_level == "mandatory"]
    return refused


def live(mithril: RunningEmulator) -> tuple[list[tuple[str, int, str]], list[int]]:
    bids = sorted((mithril.backend.instance_types[b["instance_type"]].name, b["instance_quantity"], b["limit_price"])
                  for b in mithril.control.live_bids())
    return bids, sorted(v["capacity_gb"] for v in mithril.control.live_volumes())


def test_yaml_quickstart_lifecycle(engine: PulumiCli, mithril: RunningEmulator, tmp_path: Path) -> None:
    stack = engine.local_stack(copy_example("yaml", tmp_path), env=mithril.env)

    log = Transcript()
    preview = stack.preview(policy_packs=[PACK], **log.hooks())
    assert preview.change_summary == {"create": 4}
    assert sorted(name for op, name in log.steps() if op == "create") == [
        "default", "flow-yaml-quickstart-dev", "gpu-node", "gpu-node-owner", "gpu-node-task"]  # `default`: the plugin
    assert f"{PACK_NAME}@v0.1.0" in log.text, "the CLI loaded and ran the policy pack"
    assert "using pulumi-resource-flow from $PATH" in log.text, "found on PATH, as the README says"
    assert mithril.control.write_requests() == [], "a preview places no bid"

    up = stack.up(policy_packs=[PACK])
    assert up.summary.resource_changes == {"create": 4}
    (bid,) = mithril.control.live_bids()
    outputs = {key: value.value for key, value in up.outputs.items()}
    assert outputs["taskId"] == bid["fid"] and len(outputs["publicIps"]) == 1 and outputs["bidPerHour"] == 25
    assert live(mithril) == ([("a100-80gb.sxm.8x", 1, "$25.00")], [])
    state = deployed(stack)
    assert state["gpu-node-task"]["type"] == "flow:index:Task" and state["gpu-node-task"]["id"] == bid["fid"]
    assert "__provider" not in state["gpu-node-task"]["inputs"], "no pickled provider in state"
    # The plugin-hosted task reads its cost from Mithril's history as the dynamic one does, and its component says so.
    task_outputs, node_outputs = state["gpu-node-task"]["outputs"], state["gpu-node"]["outputs"]
    assert task_outputs["spend_usd"] >= 0 and task_outputs["preemptions"] == 0
    assert node_outputs["spend_usd"] == task_outputs["spend_usd"] and node_outputs["market_price_per_hour"] == 16.0

    mithril.control.clear_requests()
    assert stack.preview(policy_packs=[PACK], expect_no_changes=True).change_summary == {"same": 4}
    assert stack.refresh(expect_no_changes=True).summary.resource_changes == {"same": 4}
    assert mithril.control.write_requests() == [], "no-change runs write nothing"

    stack.destroy()
    assert mithril.control.live_bids() == []


def test_yaml_complete_mounts_volumes_across_languages(engine: PulumiCli, mithril: RunningEmulator,
                                                       tmp_path: Path) -> None:
    """The seed's complete example from YAML: volume ids flow from DataVolumes into the cluster's mounts."""
    stack = engine.local_stack(copy_example("yaml-complete", tmp_path), env=mithril.env)
    assert stack.preview(policy_packs=[PACK]).change_summary == {"create": 8}
    assert mithril.control.write_requests() == []

    up = stack.up(policy_packs=[PACK])
    (bid,) = mithril.control.live_bids()
    volumes = {v["fid"] for v in mithril.control.live_volumes()}
    outputs = {key: value.value for key, value in up.outputs.items()}
    assert live(mithril) == ([("a100-80gb.sxm.8x", 4, "$50.00")], [500, 1000])
    assert outputs["clusterId"] == bid["fid"] and outputs["hourlyBid"] == 200 and len(outputs["gpuIps"]) == 4
    assert set(outputs["storageIds"]) == {"data", "models"} and set(outputs["storageIds"].values()) == volumes
    assert sorted(bid["launch_specification"]["volumes"]) == sorted(volumes)
    state = deployed(stack)
    assert [m["mount_path"] for m in state["gpu-infra-task"]["inputs"]["volumes"]] == ["/data", "/mnt/models"]
    assert state["storage-data"]["protect"] is True, "data volumes are protected, as from Python"

    assert stack.preview(policy_packs=[PACK], expect_no_changes=True).change_summary == {"same": 8}

    with pytest.raises(auto.CommandError, match="protected"):
        stack.destroy()
    engine.run(stack, "state", "unprotect", "--all", "--yes")
    stack.destroy()  # the task goes first: the volumes' provider refuses to delete a mounted volume
    assert mithril.control.live_bids() == [] and mithril.control.live_volumes() == []


def test_yaml_reserved_runs_the_complete_example_on_a_reservation_judged_by_the_pack(
        engine: PulumiCli, mithril: RunningEmulator, tmp_path: Path) -> None:
    """The same complete example from YAML on reserved capacity: the outputs keep their shape, the pack judges the
    cluster's reservation by what it commits, and protection keeps the commitment from `pulumi destroy`."""
    stack = engine.local_stack(copy_example("yaml-reserved", tmp_path), env=mithril.env)
    refused = refused_preview(stack, tmp_path, {"reservation-commitment-cap": {"max_committed_usd": 20_000}})
    assert refused.policy_name == "reservation-commitment-cap" and "gpu-infra-reservation" in refused.message
    assert "$26,880.00" in refused.message, "at most $40 x 4 instances x 168 hours"
    assert mithril.control.write_requests() == []

    assert stack.preview(policy_packs=[PACK]).change_summary == {"create": 8}
    up = stack.up(policy_packs=[PACK])
    (held,) = mithril.backend.list_reservations()
    volumes = {v["fid"] for v in mithril.control.live_volumes()}
    outputs = {key: value.value for key, value in up.outputs.items()}
    assert mithril.control.live_bids() == [] and held["status"] == "Active" and held["instance_quantity"] == 4
    assert outputs["clusterId"] == held["fid"] and len(outputs["gpuIps"]) == 4
    assert outputs["hourlyBid"] == 4 * float(held["unit_price"].removeprefix("$"))
    assert set(outputs["storageIds"].values()) == volumes == set(held["launch_specification"]["volumes"])
    state = deployed(stack)
    assert [m["mount_path"] for m in state["gpu-infra-reservation"]["inputs"]["mounts"]] == ["/data", "/mnt/models"]
    assert state["gpu-infra-reservation"]["protect"] is True, "a commitment is protected, as from Python"
    assert stack.refresh(expect_no_changes=True).summary.resource_changes == {"same": 8}
    assert stack.preview(policy_packs=[PACK], expect_no_changes=True).change_summary == {"same": 8}

    with pytest.raises(auto.CommandError, match="protected"):
        stack.destroy()
    assert mithril.backend.get_reservation(held["fid"])["status"] == "Active"
    engine.run(stack, "state", "unprotect", "--all", "--yes")
    stack.destroy()  # the reservation's instances end before the volumes they mount are deleted
    assert mithril.backend.get_reservation(held["fid"])["status"] == "Canceled"
    assert mithril.control.live_volumes() == []


def test_yaml_pool_holds_its_target_in_its_volumes_region_judged_by_the_pack(
        engine: PulumiCli, mithril: RunningEmulator, tmp_path: Path) -> None:
    """A SpotPool from YAML, through the plugin's construct and its `Pool` resource: the pack judges it (its ceiling
    against the floor of each type, its most per hour against the budget), it follows its volume's region, a preview
    then finds nothing to change, and destroy ends its bids."""
    stack = engine.local_stack(copy_example("yaml-pool", tmp_path), env=mithril.env)
    refused = refused_preview(stack, tmp_path, {"stack-hourly-budget": {"max_hourly_spend": 200}})
    assert refused.policy_name == "stack-hourly-budget" and "gpus-pool at most $208.00 (target GPUs x ceiling)" in \
        refused.message
    assert mithril.control.write_requests() == []

    up = stack.up(policy_packs=[PACK])
    outputs = {key: value.value for key, value in up.outputs.items()}
    (volume,) = mithril.control.live_volumes()
    bids = mithril.control.live_bids()
    assert outputs["gpusByPlacement"] == {"eu-central1-a/8xh100": 32}, "the first region does not hold the volume"
    assert (outputs["gpusHeld"], outputs["unfilledGpus"], outputs["maxHourlyUsd"]) == (32, 0, 208.0)
    assert len(bids) == 4 and all(b["launch_specification"]["volumes"] == [volume["fid"]] for b in bids)
    assert deployed(stack)["gpus-pool"]["type"] == "flow:index:Pool"
    assert stack.preview(policy_packs=[PACK], expect_no_changes=True).change_summary == {"same": 7}
    engine.run(stack, "state", "unprotect", "--all", "--yes")
    stack.destroy()
    assert mithril.control.live_bids() == [] and mithril.control.live_volumes() == []


def test_yaml_underbid_is_rejected_by_the_pack(engine: PulumiCli, mithril: RunningEmulator,
                                               tmp_path: Path) -> None:
    program = copy_example("yaml", tmp_path)
    settings = yaml.safe_load((program / "Pulumi.yaml").read_text())
    settings["resources"]["gpu-node"]["properties"]["maxPricePerHour"] = 5
    (program / "Pulumi.yaml").write_text(yaml.safe_dump(settings))
    stack = engine.local_stack(program, env=mithril.env)

    for operation in (stack.preview, stack.up):
        log = Transcript()
        with pytest.raises(auto.CommandError):
            operation(policy_packs=[PACK], **log.hooks())
        mandatory = [e for e in log.policy_violations() if e.enforcement_level == "mandatory"]
        assert [e.policy_name for e in mandatory] == ["infrastructure-bid-floor"]
        assert "$5.00" in mandatory[0].message and "gpu-node-task" in mandatory[0].message
    assert mithril.control.write_requests() == [] and mithril.control.live_bids() == []


def _outside_pulumi(mithril: RunningEmulator) -> tuple[str, str]:
    """A volume and a bid made with the Flow SDK, as a team had them before adopting Pulumi."""
    from flow.sdk.models import TaskConfig

    flow = open_flow(Credentials.resolve(environ=mithril.env))
    volume = flow.volumes.create(100, name="legacy-data", interface="file", region="us-central1-b")
    task = flow.run(TaskConfig(name="legacy-train", instance_type="8xa100", num_instances=1, max_price_per_hour=40.0,
                               command="sleep infinity", region="us-central1-a", upload_code=False))
    return str(volume.volume_id), str(task.task_id)


def test_import_adopts_volumes_and_bids_and_the_next_preview_is_clean(
        engine: PulumiCli, mithril: RunningEmulator, tmp_path: Path) -> None:
    volume_id, bid_id = _outside_pulumi(mithril)
    program = copy_example("yaml", tmp_path)
    stack = engine.local_stack(program, env=mithril.env)
    stack.up(policy_packs=[PACK])
    mithril.control.clear_requests()

    generated: dict[str, Any] = {}
    for resource_type, name, resource_id in (("flow:index:Volume", "data", volume_id),
                                             ("flow:index:Task", "legacy", bid_id)):
        imported = engine.run(stack, "import", resource_type, name, resource_id, "--yes")
        code = yaml.safe_load(imported.stdout[imported.stdout.index("resources:"):])
        generated.update(code["resources"])
    assert mithril.control.write_requests() == [], "import only reads"
    assert generated["data"]["properties"] == {"volume_name": "legacy-data", "size_gb": 100, "interface": "file",
                                               "region": "us-central1-b"}
    assert generated["legacy"]["properties"]["max_price_per_hour"] == 40

    settings = yaml.safe_load((program / "Pulumi.yaml").read_text())
    settings["resources"].update(generated)
    (program / "Pulumi.yaml").write_text(yaml.safe_dump(settings))
    clean = stack.preview(policy_packs=[PACK], expect_no_changes=True)
    assert clean.change_summary == {"same": 6}  # stack, component, its owner, its task, and the two imports
    state = deployed(stack)
    assert (state["data"]["id"], state["legacy"]["id"]) == (volume_id, bid_id)
    assert {state["data"]["type"], state["legacy"]["type"]} == PLUGIN_TYPES


def test_a_python_stack_moves_to_the_plugin_and_back_without_replacing_anything(
        engine: PulumiCli, mithril: RunningEmulator) -> None:
    """A stack made with the dynamic resources (today's default) opts into the plugin with `flow:hosting`."""
    stack = engine.project_stack(EXAMPLES / "complete", env=mithril.env)
    stack.up(policy_packs=[PACK])
    before = live(mithril), sorted(b["fid"] for b in mithril.control.live_bids())
    types = {r["type"] for r in stack.export_stack().deployment["resources"]}
    assert {"pulumi-python:dynamic/flow:Task", "pulumi-python:dynamic/flow:Volume"} <= types

    for hosting, expected_types in (("plugin", PLUGIN_TYPES),
                                    ("dynamic", {"pulumi-python:dynamic/flow:Task",
                                                 "pulumi-python:dynamic/flow:Volume"})):
        stack.set_config("flow:hosting", auto.ConfigValue(value=hosting))
        mithril.control.clear_requests()
        planned = stack.preview(policy_packs=[PACK])
        assert planned.change_summary == {"same": 8}, f"moving to {hosting} replaces nothing"
        moved = stack.up(policy_packs=[PACK])
        assert moved.summary.resource_changes == {"same": 8}
        assert mithril.control.write_requests() == [], "the move is a change of state only, not of Mithril"
        assert (live(mithril), sorted(b["fid"] for b in mithril.control.live_bids())) == before
        resources = stack.export_stack().deployment["resources"]
        assert {r["type"] for r in resources if r["type"].endswith(("Task", "Volume"))} == expected_types
        assert {r["type"] for r in resources if r["type"].endswith("Owner")} == {
            "flow:index:Owner" if hosting == "plugin" else "pulumi-python:dynamic/flow:Owner"}
        pickled = [r["urn"] for r in resources if "__provider" in r.get("inputs", {})]
        assert bool(pickled) == (hosting == "dynamic"), "plugin-hosted state holds no pickled code"
        assert stack.preview(policy_packs=[PACK], expect_no_changes=True).change_summary == {"same": 8}

    stack.set_config("flow:hosting", auto.ConfigValue(value="plugin"))
    stack.up(policy_packs=[PACK])
    engine.run(stack, "state", "unprotect", "--all", "--yes")
    stack.destroy()  # by the plugin now
    assert mithril.control.live_bids() == [] and mithril.control.live_volumes() == []


def test_a_project_plugin_path_pins_the_plugin_and_the_path_warning_goes(engine: PulumiCli,
                                                                         mithril: RunningEmulator,
                                                                         tmp_path: Path) -> None:
    """README "Every Pulumi language": `plugins.providers[].path` in Pulumi.yaml, as written there."""
    program = copy_example("yaml", tmp_path)
    settings = yaml.safe_load((program / "Pulumi.yaml").read_text())
    plugin = shutil.which("pulumi-resource-flow")
    assert plugin is not None, "pip installs the plugin as a console script"
    settings["plugins"] = {"providers": [{"name": "flow", "path": str(Path(plugin).parent)}]}
    (program / "Pulumi.yaml").write_text(yaml.safe_dump(settings))
    stack = engine.local_stack(program, env=mithril.env)
    log = Transcript()
    stack.preview(policy_packs=[PACK], **log.hooks())
    assert "gpu-node-task" in log.text, "the plugin served the program"
    assert "from $PATH" not in log.text
    assert mithril.control.write_requests() == []


def test_custom_timeouts_end_the_wait_for_machines_and_cancel_the_bid(engine: PulumiCli, mithril: RunningEmulator,
                                                                      tmp_path: Path) -> None:
    program = copy_example("yaml", tmp_path)
    settings = yaml.safe_load((program / "Pulumi.yaml").read_text())
    settings["resources"]["gpu-node"]["options"] = {"customTimeouts": {"create": "3s"}}
    (program / "Pulumi.yaml").write_text(yaml.safe_dump(settings))
    mithril.backend.settings.allocation_delay = 3600.0  # never allocated: ready_timeout_minutes is 30
    stack = engine.local_stack(program, env=mithril.env)
    log = Transcript()
    with pytest.raises(auto.CommandError):
        stack.up(**log.hooks())
    assert "was not running within 3 seconds" in log.text, log.text
    assert "Fix: raise max_price_per_hour or the resource's customTimeouts" in log.text
    assert "was cancelled, nothing is left billing" in log.text
    assert len(mithril.backend.bids) == 1 and mithril.control.live_bids() == []
    assert not [r for r in deployed(stack).values() if r["type"] in PLUGIN_TYPES], "state records no bid"


def test_a_bad_component_input_is_named_as_the_program_wrote_it(engine: PulumiCli, mithril: RunningEmulator,
                                                                 tmp_path: Path) -> None:
    program = copy_example("yaml", tmp_path)
    settings = yaml.safe_load((program / "Pulumi.yaml").read_text())
    settings["resources"]["gpu-node"]["properties"].update(numInstances=0)
    (program / "Pulumi.yaml").write_text(yaml.safe_dump(settings))
    stack = engine.local_stack(program, env=mithril.env)
    log = Transcript()
    with pytest.raises(auto.CommandError):
        stack.preview(**log.hooks())
    assert "property numInstances with value 0 has a problem" in log.text and "must be from 1 to 100" in log.text
    assert "Fix:" in log.text and "Traceback" not in log.text and "TrainingClusterArgs" not in log.text
    assert mithril.control.requests() == [], "refused before any request"


JOB_PROGRAM = """
name: flow-yaml-job
runtime: yaml
resources:
  data:
    type: flow:index:DataVolumes
    properties:
      volumes: {data: {sizeGb: 100}}
      protect: false
  train:
    type: flow:index:TrainingJob
    properties:
      command: python train.py --epochs 3
      instanceType: 4xa100
      maxPricePerHour: 9
      maxRunTimeHours: 2
      env: {WANDB_PROJECT: llm}
      image: nvcr.io/nvidia/pytorch:24.05-py3
      volumes:
        - volumeId: ${data.volumeIds["data"]}
          mountPath: /data
outputs:
  jobId: ${train.taskId}
  status: ${train.status}
"""


def test_a_yaml_training_job_runs_its_command_with_its_volume(engine: PulumiCli, mithril: RunningEmulator,
                                                              tmp_path: Path) -> None:
    program = tmp_path / "job"
    program.mkdir()
    (program / "Pulumi.yaml").write_text(JOB_PROGRAM)
    stack = engine.local_stack(program, env=mithril.env)
    up = stack.up(policy_packs=[PACK])
    assert up.summary.resource_changes == {"create": 7}  # stack, 2 components, their owners, volume, task
    (bid,) = mithril.control.live_bids()
    (volume,) = mithril.control.live_volumes()
    assert up.outputs["jobId"].value == bid["fid"] and up.outputs["status"].value in ("pending", "running")
    assert (bid["limit_price"], bid["launch_specification"]["volumes"]) == ("$9.00", [volume["fid"]])
    script = _unpacked(bid["launch_specification"]["startup_script"])
    for expected in ("python train.py --epochs 3", "nvcr.io/nvidia/pytorch:24.05-py3", "WANDB_PROJECT='llm'",
                     "Mounting: /data", '"$((NOW + 7200))"'):
        assert expected in script, expected
    task = deployed(stack)["train-task"]
    assert (task["type"], task["inputs"]["role"], task["inputs"]["max_run_time_hours"]) == (
        "flow:index:Task", "workload", 2)
    assert stack.preview(expect_no_changes=True).change_summary == {"same": 7}
    stack.destroy()
    assert mithril.control.live_bids() == [] and mithril.control.live_volumes() == []


def _unpacked(script: str) -> str:
    from tests.provider.test_task_provider import _startup_script

    return _startup_script({"launch_specification": {"startup_script": script}})
