"""What only the plugin does, over its gRPC protocol: its identity and schema, names for resources declared
without one, secrets kept secret, and clear refusals."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2

from pulumi_flow import __version__
from pulumi_flow.emulator import Settings
from pulumi_flow.engines.plugins import FlowPluginProcess, ProviderError, secret, to_struct
from pulumi_flow.plugin import schema
from pulumi_flow.resources import PLUGIN_TASK_TYPE, PLUGIN_VOLUME_TYPE
from pulumi_flow.testing.emulator import TEST_API_KEY, RunningEmulator, running_emulator

pytestmark = pytest.mark.slow

CLUSTER = {"role": "infrastructure", "instance_type": "8xa100", "num_instances": 1, "max_price_per_hour": 30,
           "ready_timeout_minutes": 1}


@pytest.fixture
def plugin(mithril: RunningEmulator) -> Iterator[FlowPluginProcess]:
    env = {k: v for k, v in mithril.env.items() if k != "MITHRIL_API_KEY"}
    with FlowPluginProcess(PLUGIN_TASK_TYPE, env) as process:
        process.configure({"apiKey": secret(TEST_API_KEY)})
        yield process


def test_identity_and_schema(plugin: FlowPluginProcess) -> None:
    assert plugin.version() == __version__
    assert plugin.schema() == schema.build()


def test_a_task_without_a_name_is_named_from_its_urn_once(plugin: FlowPluginProcess,
                                                          mithril: RunningEmulator) -> None:
    first = plugin.check("trainer", CLUSTER)
    assert first.failures == []
    name = first.inputs["task_name"]
    assert name.startswith("trainer-") and first.inputs["auto_named"] is True
    with FlowPluginProcess(PLUGIN_TASK_TYPE, dict(mithril.env), stack="prod") as other_stack:
        assert other_stack.check("trainer", CLUSTER).inputs["task_name"] not in (name, None)
    # Re-checked with what state holds, the name stays (Pulumi's auto-naming rule).
    assert plugin.check("trainer", CLUSTER, olds=first.inputs).inputs["task_name"] == name
    given = plugin.check("trainer", {**CLUSTER, "task_name": "mine"})
    assert given.inputs["task_name"] == "mine" and given.inputs["auto_named"] is False


def test_bad_input_is_refused_by_field_before_any_request(plugin: FlowPluginProcess,
                                                          mithril: RunningEmulator) -> None:
    checked = plugin.check("trainer", {**CLUSTER, "max_price_per_hour": True, "role": "workload"})
    fields = sorted(field for field, _ in checked.failures)
    assert fields == ["command", "max_price_per_hour"]
    assert "True" in dict(checked.failures)["max_price_per_hour"]
    assert mithril.control.requests() == []


def test_a_secret_input_stays_secret_in_the_outputs(plugin: FlowPluginProcess, mithril: RunningEmulator) -> None:
    inputs = plugin.check("trainer", CLUSTER).inputs
    response = plugin._call("Create", provider_pb2.CreateRequest(
        urn=plugin.urn("trainer"), properties=to_struct({**inputs, "env": secret({"WANDB_API_KEY": "wb-123"})})))
    env = response.properties.fields["env"].struct_value.fields
    assert env[rpc._special_sig_key].string_value == rpc._special_secret_sig
    assert "wb-123" not in str(response.properties.fields["task_name"])
    plugin.delete("trainer", response.id, plugin.read("trainer", response.id, inputs)[1])
    assert mithril.control.live_bids() == []


def test_a_type_it_does_not_serve_is_named(mithril: RunningEmulator) -> None:
    with FlowPluginProcess("flow:index:Bucket", dict(mithril.env)) as process, \
            pytest.raises(ProviderError, match=r"no custom resource 'flow:index:Bucket'.*flow:index:Task"):
        process.check("b", {})


def test_volume_read_after_deletion_behind_our_back_says_gone(mithril: RunningEmulator) -> None:
    with FlowPluginProcess(PLUGIN_VOLUME_TYPE, dict(mithril.env)) as volumes:
        volumes.configure({})
        inputs = volumes.check("data", {"size_gb": 100}).inputs
        volume_id, outs = volumes.create("data", inputs)
        mithril.control.delete_volume(volume_id)
        assert volumes.read("data", volume_id, outs) == ("", {})


def test_the_engines_cancel_ends_a_wait_and_leaves_no_bid(tmp_path: Path) -> None:
    """Ctrl-C in `pulumi up` makes the engine call Cancel: a create waiting for machines stops and cancels its bid."""
    import threading

    from google.protobuf import empty_pb2

    never = Settings(allocation_delay=3600.0)  # the bid stays Open: `up` would wait for ready_timeout_minutes
    with running_emulator(never, flow_dir=str(tmp_path / "flow")) as mithril, \
            FlowPluginProcess(PLUGIN_TASK_TYPE, dict(mithril.env)) as plugin:
        plugin.configure({})
        inputs = plugin.check("trainer", {**CLUSTER, "ready_timeout_minutes": 30}).inputs
        outcome: list[BaseException] = []

        def create() -> None:
            try:
                plugin.create("trainer", inputs)
            except ProviderError as err:
                outcome.append(err)

        worker = threading.Thread(target=create)
        worker.start()
        assert mithril.backend.wait_for(lambda: bool(mithril.backend.bids), timeout=30), "the bid was placed"
        plugin._call("Cancel", empty_pb2.Empty())
        worker.join(timeout=30)
        assert not worker.is_alive(), "Cancel ended the wait"
        (error,) = outcome
        assert "interrupted while waiting" in str(error) and "was cancelled, nothing is left billing" in str(error)
        assert mithril.control.live_bids() == []


def test_custom_timeouts_bound_the_wait_for_machines_and_the_bid_is_cancelled(tmp_path: Path) -> None:
    """`customTimeouts: {create: 2s}` reaches Create as its timeout: `up` gives up then, not after
    ready_timeout_minutes, and the bid it placed is cancelled."""
    never = Settings(allocation_delay=3600.0)
    with running_emulator(never, flow_dir=str(tmp_path / "flow")) as mithril, \
            FlowPluginProcess(PLUGIN_TASK_TYPE, dict(mithril.env)) as plugin:
        plugin.configure({})
        inputs = plugin.check("trainer", {**CLUSTER, "ready_timeout_minutes": 30}).inputs
        with pytest.raises(ProviderError) as caught:
            plugin._call("Create", provider_pb2.CreateRequest(urn=plugin.urn("trainer"), properties=to_struct(inputs),
                                                             timeout=2))
        message = caught.value.details
        assert "was not running within 2 seconds" in message, message
        assert "Fix: raise max_price_per_hour or the resource's customTimeouts" in message
        assert "was cancelled, nothing is left billing" in message
        assert len(mithril.backend.bids) == 1 and mithril.control.live_bids() == []


def test_a_provider_error_reaches_the_engine_as_the_message_alone(plugin: FlowPluginProcess,
                                                                 mithril: RunningEmulator) -> None:
    """What `pulumi up` prints under the resource: the provider's sentence with its fix, no Python traceback."""
    inputs = plugin.check("trainer", {**CLUSTER, "max_price_per_hour": 5}).inputs
    with pytest.raises(ProviderError) as refused:
        plugin.create("trainer", inputs)
    assert refused.value.details.startswith("max_price_per_hour=$5.00: below the market for 8xa100")
    assert "Fix: set max_price_per_hour to at least 16.00" in refused.value.details
    assert "Traceback" not in refused.value.details and 'File "' not in refused.value.details
    assert "Unexpected" not in refused.value.details
    assert mithril.control.live_bids() == []
