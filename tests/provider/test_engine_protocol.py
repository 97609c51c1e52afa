"""The providers driven exactly as the engine drives them, over gRPC, in both hostings: the dynamic
provider (`python -u -m pulumi.dynamic`, the provider pickled into each request) and the `flow` provider
plugin (`python -m pulumi_flow.plugin`, as `pulumi-resource-flow`). One implementation, the same answers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pulumi_flow.emulator.models import PROJECT_ID
from pulumi_flow.engines.plugins import UNKNOWN, DynamicProviderProcess, FlowPluginProcess, ProviderError, secret
from pulumi_flow.provider import FlowTaskProvider, FlowVolumeProvider
from pulumi_flow.resources import PLUGIN_TASK_TYPE, PLUGIN_VOLUME_TYPE, TASK_TYPE, VOLUME_TYPE
from pulumi_flow.testing.emulator import TEST_API_KEY, RunningEmulator

pytestmark = pytest.mark.slow

CLUSTER = {"role": "infrastructure", "instance_type": "h100:8", "num_instances": 2, "max_price_per_hour": 50,
           "command": "sleep infinity", "task_name": "gpu-infra-1a2b3c4d"}


def _without_key(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k != "MITHRIL_API_KEY"}


@pytest.fixture
def engine_env(mithril: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment the CLI would pass: emulator URL and project, the key only via config."""
    monkeypatch.delenv("MITHRIL_API_KEY")
    return _without_key(dict(mithril.env))


HOSTINGS = ["dynamic", "plugin"]


def _process(hosting: str, kind: str, env: dict[str, str], *, key: bool = True) -> DynamicProviderProcess:
    """The engine configures a dynamic provider with the stack's config (`flow:apiKey`) and a package's
    provider with its own inputs (`apiKey`): the secret key arrives either way, never from the environment."""
    if hosting == "plugin":
        process: DynamicProviderProcess = FlowPluginProcess(
            PLUGIN_TASK_TYPE if kind == "task" else PLUGIN_VOLUME_TYPE, env).start()
        process.configure({"apiKey": secret(TEST_API_KEY)} if key else {})
    else:
        provider = FlowTaskProvider() if kind == "task" else FlowVolumeProvider()
        process = DynamicProviderProcess(provider, TASK_TYPE if kind == "task" else VOLUME_TYPE, env).start()
        process.configure({"flow:apiKey": secret(TEST_API_KEY)} if key else {})
    return process


@pytest.fixture(params=HOSTINGS)
def tasks(engine_env: dict[str, str], request: pytest.FixtureRequest) -> Iterator[DynamicProviderProcess]:
    process = _process(request.param, "task", engine_env)
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(params=HOSTINGS)
def volumes(engine_env: dict[str, str], request: pytest.FixtureRequest) -> Iterator[DynamicProviderProcess]:
    process = _process(request.param, "volume", engine_env)
    try:
        yield process
    finally:
        process.stop()


def test_task_lifecycle_over_grpc(tasks: DynamicProviderProcess, mithril: RunningEmulator) -> None:
    checked = tasks.check("gpu-infra", CLUSTER)
    assert checked.failures == []
    assert checked.inputs["instance_type"] == "8xh100"
    assert checked.inputs["wait_until"] == "running"

    task_id, outs = tasks.create("gpu-infra", checked.inputs)
    assert task_id.startswith("bid_")
    assert outs["status"] == "running" and len(outs["public_ips"]) == 2 and len(outs["private_ips"]) == 2
    assert outs["max_price_per_hour"] == 50.0 and outs["market_price_per_hour"] == 24.0
    assert [b["fid"] for b in mithril.control.live_bids()] == [task_id]

    assert tasks.diff("gpu-infra", task_id, outs, checked.inputs).changes is False
    repriced = {**checked.inputs, "max_price_per_hour": 65.0}
    diff = tasks.diff("gpu-infra", task_id, outs, repriced)
    assert diff.changes and diff.replaces == []
    outs = tasks.update("gpu-infra", task_id, outs, repriced)
    assert mithril.backend.get_bid(task_id)["limit_price"] == "$65.00"
    assert outs["task_id"] == task_id

    resized = {**checked.inputs, "num_instances": 4}
    diff = tasks.diff("gpu-infra", task_id, outs, resized)
    assert diff.replaces == ["num_instances"] and diff.delete_before_replace

    read_id, read_outs = tasks.read("gpu-infra", task_id, outs)
    assert read_id == task_id and read_outs["public_ips"] == outs["public_ips"]

    tasks.delete("gpu-infra", task_id, outs)
    assert mithril.control.live_bids() == []
    assert tasks.read("gpu-infra", task_id, outs)[0] == ""
    tasks.delete("gpu-infra", task_id, outs)  # already gone is success


def test_preview_unknowns_pass_check_and_force_replace_in_diff(tasks: DynamicProviderProcess,
                                                               mithril: RunningEmulator) -> None:
    checked = tasks.check("gpu-infra", {**CLUSTER, "max_price_per_hour": UNKNOWN, "region": UNKNOWN})
    assert checked.failures == []
    assert checked.inputs["max_price_per_hour"] is not None
    diff = tasks.diff("gpu-infra", "bid_x", {**CLUSTER, "region": "us-central1-a"}, {**CLUSTER, "region": UNKNOWN})
    assert "region" in diff.replaces
    assert mithril.control.requests() == [], "check and diff must not talk to Mithril"


def test_check_failures_cross_the_wire_with_field_names(tasks: DynamicProviderProcess) -> None:
    checked = tasks.check("bad", {**CLUSTER, "instance_type": "h100", "max_price_per_hour": -1})
    fields = dict(checked.failures)
    assert set(fields) == {"instance_type", "max_price_per_hour"}
    assert "8xh100" in fields["instance_type"] and "-1" in fields["max_price_per_hour"]


def test_a_volume_added_to_a_live_task_over_grpc_is_one_patch(tasks: DynamicProviderProcess,
                                                              mithril: RunningEmulator) -> None:
    """What `pulumi up` sends when a program mounts one more volume on a live cluster: a preview's diff with the
    new volume's id unknown, then the update with it known. Both hostings plan an update and make one PATCH."""
    data, scratch = (str(mithril.backend.create_volume({"name": name, "size_gb": 10, "disk_interface": "File",
                                                         "region": "us-central1-a", "project": PROJECT_ID})["fid"])
                     for name in ("data", "scratch"))
    mounts = [{"volume_id": data, "mount_path": "/data"}]
    checked = tasks.check("gpu-infra", {**CLUSTER, "volumes": mounts}).inputs
    task_id, outs = tasks.create("gpu-infra", checked)
    assert (outs["boot_volume_ids"], outs["unmounted_volume_ids"]) == ([data], [])
    planned = {**checked, "volumes": [*checked["volumes"], {"volume_id": UNKNOWN, "mount_path": "/mnt/s",
                                                             "interface": "file"}]}
    diff = tasks.diff("gpu-infra", task_id, outs, planned)
    assert diff.changes and diff.replaces == []
    news = tasks.check("gpu-infra", {**CLUSTER, "volumes": [*mounts, {"volume_id": scratch, "mount_path": "/mnt/s"}]})
    assert news.failures == []
    mithril.control.clear_requests()
    outs = tasks.update("gpu-infra", task_id, outs, news.inputs)
    assert [(w["method"], w["path"]) for w in mithril.control.write_requests()] == [
        ("PATCH", f"/v2/spot/bids/{task_id}")]
    assert (outs["boot_volume_ids"], outs["unmounted_volume_ids"]) == ([data], [scratch])
    tasks.delete("gpu-infra", task_id, outs)


def test_volume_lifecycle_over_grpc(volumes: DynamicProviderProcess, mithril: RunningEmulator) -> None:
    checked = volumes.check("data", {"volume_name": "data-1a2b3c4d", "size_gb": 1000})
    assert checked.failures == [] and checked.inputs["interface"] == "file"
    volume_id, outs = volumes.create("data", checked.inputs)
    assert outs["region"] in {"us-central1-a", "eu-central1-a"}, "a region that sells GPUs"
    assert volumes.diff("data", volume_id, outs, checked.inputs).changes is False
    bigger = volumes.diff("data", volume_id, outs, {**checked.inputs, "size_gb": 2000, "allow_replacement": True})
    assert bigger.replaces == ["size_gb"]
    with pytest.raises(ProviderError, match=r"cannot change a volume's size_gb.*allow_replacement=True"):
        volumes.diff("data", volume_id, outs, {**checked.inputs, "size_gb": 2000})
    renamed = {**checked.inputs, "volume_name": "renamed-data"}
    assert volumes.diff("data", volume_id, outs, renamed).replaces == []
    outs = volumes.update("data", volume_id, outs, renamed)
    assert mithril.control.live_volumes()[0]["name"] == "renamed-data"
    volumes.delete("data", volume_id, outs)
    assert mithril.control.live_volumes() == []
    volumes.delete("data", volume_id, outs)


@pytest.mark.parametrize("hosting", HOSTINGS)
def test_missing_key_is_a_clear_error_before_any_request(mithril: RunningEmulator, engine_env: dict[str, str],
                                                         hosting: str) -> None:
    process = _process(hosting, "task", engine_env, key=False)
    try:
        inputs = process.check("gpu-infra", CLUSTER).inputs
        with pytest.raises(ProviderError, match="no Mithril API key"):
            process.create("gpu-infra", inputs)
    finally:
        process.stop()
    assert mithril.control.requests() == []


@pytest.mark.parametrize("hosting", HOSTINGS)
def test_environment_key_works_without_config(mithril: RunningEmulator, hosting: str) -> None:
    process = _process(hosting, "task", dict(mithril.env), key=False)
    try:
        inputs = process.check("job", {**CLUSTER, "role": "workload", "num_instances": 1}).inputs
        task_id, outs = process.create("job", inputs)
        assert outs["status"] in ("pending", "provisioning", "running")
        process.delete("job", task_id, outs)
    finally:
        process.stop()
    assert mithril.control.live_bids() == []




def test_a_provider_error_reaches_the_engine_as_its_message_alone(volumes: DynamicProviderProcess,
                                                                   mithril: RunningEmulator) -> None:
    """What the engine prints for a refused change: the message and its fix, not a Python traceback around them
    (pulumi.dynamic's servicer formats every error with its traceback; the flow plugin never did)."""
    checked = volumes.check("data", {"volume_name": "data-1a2b3c4d", "size_gb": 1000})
    volume_id, outs = volumes.create("data", checked.inputs)
    with pytest.raises(ProviderError) as refused:
        volumes.diff("data", volume_id, outs, {**checked.inputs, "size_gb": 2000})
    assert refused.value.details.startswith("volume 'data-1a2b3c4d': 1000.0 -> 2000.0: Mithril cannot change")
    assert "Traceback" not in refused.value.details and ".py\", line" not in refused.value.details
    volumes.delete("data", volume_id, outs)
