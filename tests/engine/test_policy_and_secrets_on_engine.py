"""The pack's verdicts and the API key's secrecy, as the real CLI reports and records them."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto

from pulumi_flow.emulator import Settings
from pulumi_flow.engines.pulumi_cli import PulumiCli, Transcript
from pulumi_flow.testing.emulator import RunningEmulator, running_emulator
from tests.engine.conftest import EXAMPLES, PACK

pytestmark = pytest.mark.engine

H100X8 = "it_5ECSoHQjLBzrp5YM"
KEY = "fkey_engine_s3cr3t_" + secrets.token_hex(12)


def test_underbid_is_rejected_by_name_and_nothing_is_created(engine: PulumiCli, mithril: RunningEmulator) -> None:
    stack = engine.project_stack(EXAMPLES / "underbid", env=mithril.env)
    log = Transcript()
    with pytest.raises(auto.CommandError) as failed:
        stack.preview(policy_packs=[PACK], **log.hooks())
    mandatory = [e for e in log.policy_violations() if e.enforcement_level == "mandatory"]
    assert [e.policy_name for e in mandatory] == ["infrastructure-bid-floor"]
    assert "$30" in mandatory[0].message and "$50" in mandatory[0].message
    assert "infrastructure-bid-floor" in str(failed.value)
    with pytest.raises(auto.CommandError, match="infrastructure-bid-floor"):
        stack.up(policy_packs=[PACK])
    assert mithril.control.write_requests() == [] and mithril.control.live_bids() == []


def test_a_prices_config_from_the_market_changes_the_verdict(engine: PulumiCli, mithril: RunningEmulator,
                                                             tmp_path: Path) -> None:
    """`pulumi-flow prices --out` reads Mithril's reserved prices; where H100s are cheap, $30 for 8 is enough."""
    for region in ("us-central1-a", "eu-central1-a"):
        mithril.control.set_market(H100X8, region, 1200)  # $1.50/GPU-hour spot, so $3.00 reserved
    config = tmp_path / "thresholds.json"
    command = [str(Path(sys.executable).parent / "pulumi-flow"), "prices", "--out", str(config)]
    subprocess.run(command, check=True, capture_output=True, text=True, env={**os.environ, **mithril.env})
    assert json.loads(config.read_text())["infrastructure-bid-floor"]["thresholds"]["h100"] == 3.0

    stack = engine.project_stack(EXAMPLES / "underbid", env=mithril.env)
    log = Transcript()
    preview = stack.preview(policy_packs=[PACK], policy_pack_configs=[str(config)], **log.hooks())
    assert preview.change_summary == {"create": 4}
    assert [e for e in log.policy_violations() if e.enforcement_level == "mandatory"] == []
    assert "pulumi-flow-policies" in log.text, "the pack did run"


@pytest.fixture
def keyed(tmp_path: Path) -> Iterator[RunningEmulator]:
    """An emulator that answers only KEY, and no key anywhere in the environment."""
    assert "MITHRIL_API_KEY" not in os.environ
    with running_emulator(Settings(allocation_delay=0.0, boot_delay=0.0, api_key=KEY),
                          flow_dir=str(tmp_path / "flow"), set_environ=False) as mithril:
        yield mithril


def assert_no_key(where: str, text: str) -> None:
    assert KEY not in text and KEY[len("fkey_"):] not in text, f"the API key leaked into {where}"


def every_file(*roots: Path) -> Iterator[tuple[Path, str]]:
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file():
                yield path, path.read_text(errors="replace")


def test_a_secret_config_key_never_reaches_state_logs_or_errors(engine: PulumiCli, keyed: RunningEmulator,
                                                                tmp_path: Path) -> None:
    env = {k: v for k, v in keyed.env.items() if k != "MITHRIL_API_KEY"}
    stack = engine.project_stack(EXAMPLES / "quickstart", env=env, secrets={"flow:apiKey": KEY})

    up = stack.up(policy_packs=[PACK], log_verbosity=9, log_to_std_err=True, log_flow=True)
    (bid,) = keyed.control.live_bids()
    assert up.outputs["task_id"].value == bid["fid"], "the key from config reached Mithril"
    seen: dict[str, Any] = {"up stdout": up.stdout, "up stderr (engine log, -v=9)": up.stderr,
                            # As a user types it: the Automation API's export_stack() passes --show-secrets.
                            "pulumi stack export": engine.run(stack, "stack", "export").stdout}
    assert '"ciphertext"' in seen["pulumi stack export"], "the key is in state, encrypted (provider config)"
    assert "Configure" in up.stderr or "configure" in up.stderr.lower(), "the verbose engine log was captured"

    keyed.control.add_fault(kind="status", method="PATCH", path="/v2/spot/bids/.*", status=400,
                            body=f"rejected Authorization: Bearer {KEY}")
    stack.set_config("bid", auto.ConfigValue("26"))
    stack.workspace.program = lambda: _quickstart_with_bid()
    with pytest.raises(auto.CommandError) as failed:
        stack.up(policy_packs=[PACK])
    assert "rejected Authorization" in str(failed.value), "the echoing error reached the user"
    seen["failed up"] = str(failed.value)

    for where, text in seen.items():
        assert_no_key(where, text)
    for path, text in every_file(engine.backend, engine.home, Path(stack.workspace.work_dir)):
        assert_no_key(str(path), text)


def _quickstart_with_bid() -> None:
    import pulumi

    from pulumi_flow import TrainingCluster, TrainingClusterArgs

    cluster = TrainingCluster("gpu-node", TrainingClusterArgs(
        instance_type="8xa100", max_price_per_hour=pulumi.Config().require_float("bid")))
    pulumi.export("task_id", cluster.task_id)


def _secret_pin_program() -> None:
    import pulumi

    from pulumi_flow import TrainingCluster, TrainingClusterArgs

    # A number where a string belongs, inside a secret: the error must say which variable, never its value.
    TrainingCluster("gpu-node", TrainingClusterArgs(instance_type="8xa100", max_price_per_hour=25.0,
                                                    env=pulumi.Output.secret({"DB_PIN": 98765432})))


@pytest.mark.parametrize("hosting", ["dynamic", "plugin"])
def test_a_secret_input_is_never_repeated_in_an_error(engine: PulumiCli, mithril: RunningEmulator,
                                                      hosting: str) -> None:
    stack = engine.stack("dev", project="pin", program=_secret_pin_program, env=mithril.env,
                         config={"flow:hosting": hosting})
    with pytest.raises(auto.CommandError) as failed:
        stack.up(policy_packs=[PACK])
    text = str(failed.value)
    assert "env.DB_PIN" in text and "[secret]: must be a string, not a float" in text, text[-3000:]
    assert "98765432" not in text
    assert mithril.control.write_requests() == []


def _gpu_box_program() -> None:
    import pulumi.dynamic

    from pulumi_flow.provider import FlowTaskProvider

    class GpuBox(pulumi.dynamic.Resource, module="mycorp", name="GpuBox"):
        """A team's own resource type on pulumi-flow's provider: a bid, whatever its type token says."""

        def __init__(self, name: str) -> None:
            super().__init__(FlowTaskProvider(), name, {
                "role": "infrastructure", "instance_type": "8xa100", "max_price_per_hour": 17.0,
                "task_name": "box-1a2b3c4d", "task_id": None, "status": None})

    GpuBox("box")


def test_a_bid_under_a_type_of_its_own_is_judged_as_a_bid(engine: PulumiCli, mithril: RunningEmulator) -> None:
    """An 8xA100 bid at $17 against its $25 floor, as `pulumi-python:dynamic/mycorp:GpuBox`: refused, nothing placed."""
    stack = engine.stack("dev", project="box", program=_gpu_box_program, env=mithril.env)
    log = Transcript()
    with pytest.raises(auto.CommandError):
        stack.up(policy_packs=[PACK], **log.hooks())
    mandatory = [e for e in log.policy_violations() if e.enforcement_level == "mandatory"]
    assert [e.policy_name for e in mandatory] == ["infrastructure-bid-floor"]
    assert "$17.00" in mandatory[0].message and "$25.00" in mandatory[0].message
    assert mithril.control.write_requests() == [] and mithril.control.live_bids() == []


def _taken_name_program() -> None:
    from pulumi_flow import FlowVolume, FlowVolumeArgs

    FlowVolume("data", FlowVolumeArgs(size_gb=100, volume_name="team-data", region="us-central1-a"))


def test_a_provider_error_reads_as_its_message_not_a_traceback(engine: PulumiCli,
                                                               mithril: RunningEmulator) -> None:
    """Another state's volume holds the name this program chose: refused with the id and the fix, and the user reads
    that message, not a Python traceback around it (the dynamic provider's servicer would print one)."""
    mithril.backend.create_volume({"name": "team-data", "size_gb": 100, "disk_interface": "File",
                                   "region": "us-central1-a", "project": "proj_emulator0001"})
    stack = engine.stack("dev", project="taken", program=_taken_name_program, env=mithril.env)
    with pytest.raises(auto.CommandError) as failed:
        stack.up(policy_packs=[PACK])
    text = str(failed.value)
    assert "volume_name='team-data': a volume of that name already exists" in text, text[-3000:]
    assert "Traceback" not in text and 'File "' not in text, text[-3000:]
    assert len(mithril.control.live_volumes()) == 1
