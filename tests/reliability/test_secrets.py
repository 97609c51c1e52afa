"""The API key appears nowhere: pickled provider, inputs, outputs, errors, logs, the SDK's files."""

from __future__ import annotations

import base64
import json
import logging
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pulumi_flow.emulator import Settings
from pulumi_flow.engines.builtin import run_stack
from pulumi_flow.engines.plugins import DynamicProviderProcess, ProviderError, secret
from pulumi_flow.provider import FlowProviderError, FlowTaskProvider, FlowVolumeProvider
from pulumi_flow.resources import TASK_TYPE, VOLUME_TYPE
from pulumi_flow.testing.emulator import RunningEmulator, running_emulator

pytestmark = pytest.mark.slow

KEY = "fkey_s3cr3t_" + secrets.token_hex(12)
CLUSTER = {"role": "infrastructure", "instance_type": "8xa100", "num_instances": 1, "max_price_per_hour": 30.0,
           "command": "sleep infinity", "task_name": "secret-test-1a2b3c4d", "ready_timeout_minutes": 1}


@pytest.fixture
def keyed(tmp_path: Path) -> Iterator[RunningEmulator]:
    """An emulator that accepts only KEY, so every request provably carried it."""
    with running_emulator(Settings(allocation_delay=0.05, boot_delay=0.05, api_key=KEY),
                          flow_dir=str(tmp_path / "flow"), set_environ=False) as mithril:
        yield mithril


def assert_no_key(where: str, value: Any) -> None:
    text = value if isinstance(value, str) else json.dumps(value, default=repr)
    assert KEY not in text, f"the API key leaked into {where}"
    assert KEY[len("fkey_"):] not in text, f"the API key (without prefix) leaked into {where}"


def lifecycle(process: DynamicProviderProcess, mithril: RunningEmulator) -> list[Any]:
    """Everything a state file would hold after create, update, refresh; plus error texts."""
    seen: list[Any] = []
    checked = process.check("c", CLUSTER)
    seen.append(checked.inputs)
    task_id, outs = process.create("c", checked.inputs)
    seen.append(outs)
    outs = process.update("c", task_id, outs, {**checked.inputs, "max_price_per_hour": 31.0})
    seen.append(outs)
    seen.append(process.read("c", task_id, outs)[1])
    mithril.control.add_fault(kind="status", method="POST", path="/v2/spot/bids", status=500,
                              body=f"upstream rejected Authorization: Bearer {KEY}")
    with pytest.raises(ProviderError) as caught:
        process.create("d", {**checked.inputs, "task_name": "other-1a2b3c4d"})
    assert "upstream rejected" in caught.value.details, "the echoing error did reach the provider"
    seen.append(caught.value.details)
    mithril.control.clear_faults()
    process.delete("c", task_id, outs)
    return seen


def test_key_from_secret_config_never_leaks(keyed: RunningEmulator) -> None:
    env = {k: v for k, v in keyed.env.items() if k != "MITHRIL_API_KEY"}
    with DynamicProviderProcess(FlowTaskProvider(), TASK_TYPE, env) as process:
        process.configure({"flow:apiKey": secret(KEY)})
        seen = lifecycle(process, keyed)
        stderr = process.stderr()
        pickled = base64.b64decode(process.serialized)
    for index, item in enumerate(seen):
        assert_no_key(f"provider answer #{index}", item)
    assert_no_key("the provider process's log", stderr)
    assert KEY.encode() not in pickled
    assert keyed.control.live_bids() == []


def test_key_from_environment_never_leaks(keyed: RunningEmulator) -> None:
    with DynamicProviderProcess(FlowTaskProvider(), TASK_TYPE, {**keyed.env, "MITHRIL_API_KEY": KEY}) as process:
        process.configure({})
        seen = lifecycle(process, keyed)
        stderr = process.stderr()
    for index, item in enumerate(seen):
        assert_no_key(f"provider answer #{index}", item)
    assert_no_key("the provider process's log", stderr)


def test_wrong_key_error_names_no_key(keyed: RunningEmulator) -> None:
    wrong = "fkey_wrong_" + secrets.token_hex(8)
    env = {**keyed.env, "MITHRIL_API_KEY": wrong}
    with DynamicProviderProcess(FlowVolumeProvider(), VOLUME_TYPE, env) as process:
        process.configure({})
        inputs = process.check("v", {"volume_name": "data-1a2b3c4d", "size_gb": 10}).inputs
        with pytest.raises(ProviderError) as caught:
            process.create("v", inputs)
    assert wrong not in caught.value.details and wrong[5:] not in caught.value.details


def test_in_process_logs_state_and_files(keyed: RunningEmulator, monkeypatch: pytest.MonkeyPatch,
                                         caplog: pytest.LogCaptureFixture) -> None:
    for key, value in keyed.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MITHRIL_API_KEY", KEY)
    caplog.set_level(logging.DEBUG)
    from pulumi_flow import DataVolumes, DataVolumesArgs, TrainingCluster, TrainingClusterArgs

    def program() -> None:
        volumes = DataVolumes("s", DataVolumesArgs(volumes={"d": 10}, protect=False))
        TrainingCluster("c", TrainingClusterArgs(instance_type="8xa100", volumes=[volumes.mount("d", "/data")]))

    run = run_stack(program)
    for reg in run.resources:
        assert_no_key(f"state of {reg.name}", {"inputs": reg.inputs, "outputs": reg.outputs})
    assert_no_key("log records", "\n".join(r.getMessage() for r in caplog.records))
    provider = FlowTaskProvider()
    with pytest.raises(FlowProviderError) as caught:
        _raise_with_key(provider)
    assert_no_key("an exception", str(caught.value))
    for path in Path(keyed.env["FLOW_DIR"]).rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), f"the key is on disk in {path}"


def _raise_with_key(provider: FlowTaskProvider) -> None:
    """An SDK error whose text carries the key must reach the engine scrubbed."""
    from pulumi_flow.provider.session import scrubbed

    with scrubbed(provider.credentials.api_key, "testing"):
        raise RuntimeError(f"request failed: Authorization: Bearer {KEY}")
