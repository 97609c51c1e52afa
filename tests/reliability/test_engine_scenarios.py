"""Preemption, drift, idempotency, data safety and bad input, through `python -m pulumi.dynamic`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pulumi_flow.engines.plugins import DynamicProviderProcess, ProviderError, secret
from pulumi_flow.provider import FlowTaskProvider, FlowVolumeProvider
from pulumi_flow.resources import TASK_TYPE, VOLUME_TYPE
from pulumi_flow.testing.emulator import TEST_API_KEY, RunningEmulator

from ..provider.test_bad_inputs import GOOD_TASK, GOOD_VOLUME, TASK_CASES, VOLUME_CASES

pytestmark = pytest.mark.slow

CLUSTER = {"role": "infrastructure", "instance_type": "8xh100", "num_instances": 2, "max_price_per_hour": 50.0,
           "command": "sleep infinity", "task_name": "scenario-1a2b3c4d", "ready_timeout_minutes": 1}


@pytest.fixture
def engine(mithril: RunningEmulator) -> Iterator[tuple[DynamicProviderProcess, DynamicProviderProcess]]:
    env = {k: v for k, v in mithril.env.items() if k != "MITHRIL_API_KEY"}
    with DynamicProviderProcess(FlowTaskProvider(), TASK_TYPE, env) as tasks, \
            DynamicProviderProcess(FlowVolumeProvider(), VOLUME_TYPE, env) as volumes:
        for process in (tasks, volumes):
            process.configure({"flow:apiKey": secret(TEST_API_KEY)})
        yield tasks, volumes


def _cluster(tasks: DynamicProviderProcess, **changes: Any) -> tuple[str, dict[str, Any], dict[str, Any]]:
    inputs = tasks.check("gpu", {**CLUSTER, **changes}).inputs
    task_id, outs = tasks.create("gpu", inputs)
    return task_id, outs, inputs


def test_preemption_then_reallocation(engine: Any, mithril: RunningEmulator) -> None:
    tasks, _ = engine
    task_id, outs, _ = _cluster(tasks)
    mithril.backend.settings.allocation_delay = 30.0
    mithril.control.preempt(task_id)
    read_id, preempted = tasks.read("gpu", task_id, outs)
    assert read_id == task_id and preempted["status"] == "preempted"
    assert preempted["public_ips"] == [] and preempted["private_ips"] == []
    mithril.backend.settings.allocation_delay = 0.0
    mithril.backend.settings.boot_delay = 0.0
    _, again = tasks.read("gpu", task_id, preempted)
    assert again["status"] == "running" and len(again["public_ips"]) == 2
    assert not set(again["public_ips"]) & set(outs["public_ips"])


def test_terminated_behind_our_back_is_gone_and_recreated(engine: Any, mithril: RunningEmulator) -> None:
    tasks, _ = engine
    task_id, outs, inputs = _cluster(tasks)
    mithril.control.terminate(task_id)
    assert tasks.read("gpu", task_id, outs)[0] == ""
    new_id, new_outs = tasks.create("gpu", inputs)  # the next `pulumi up`
    assert new_id != task_id and new_outs["status"] == "running"
    assert [b["fid"] for b in mithril.control.live_bids()] == [new_id]


def test_drift_price_pause_and_volume_deletion(engine: Any, mithril: RunningEmulator) -> None:
    tasks, volumes = engine
    task_id, outs, inputs = _cluster(tasks)
    mithril.control.set_limit_price(task_id, "$77.00")
    _, drifted = tasks.read("gpu", task_id, outs)
    assert drifted["max_price_per_hour"] == 77.0
    diff = tasks.diff("gpu", task_id, drifted, inputs)
    assert diff.changes and diff.replaces == []
    mithril.control.pause(task_id)
    _, paused = tasks.read("gpu", task_id, drifted)
    assert paused["bid_status"] == "Paused" and paused["public_ips"] == []

    volume_inputs = volumes.check("v", GOOD_VOLUME).inputs
    volume_id, volume_outs = volumes.create("v", volume_inputs)
    mithril.control.delete_volume(volume_id)
    assert volumes.read("v", volume_id, volume_outs)[0] == ""


def test_ambiguous_create_and_repeated_delete(engine: Any, mithril: RunningEmulator) -> None:
    tasks, _ = engine
    mithril.control.add_fault(kind="accept_then_fail", method="POST", path="/v2/spot/bids", status=502)
    task_id, outs, _ = _cluster(tasks)
    assert [b["fid"] for b in mithril.control.live_bids()] == [task_id]
    tasks.delete("gpu", task_id, outs)
    tasks.delete("gpu", task_id, outs)
    assert mithril.control.live_bids() == []


def test_mounted_volume_is_never_deleted(engine: Any, mithril: RunningEmulator) -> None:
    tasks, volumes = engine
    volume_id, volume_outs = volumes.create("v", volumes.check("v", {**GOOD_VOLUME, "region": "us-central1-a"}).inputs)
    task_id, outs, _ = _cluster(tasks, volumes=[{"volume_id": volume_id, "mount_path": "/data"}])
    with pytest.raises(ProviderError, match="refusing to delete volume"):
        volumes.delete("v", volume_id, volume_outs)
    assert [v["fid"] for v in mithril.control.live_volumes()] == [volume_id]
    tasks.delete("gpu", task_id, outs)
    volumes.delete("v", volume_id, volume_outs)


def test_bad_input_tables_cost_nothing_over_grpc(engine: Any, mithril: RunningEmulator) -> None:
    tasks, volumes = engine
    for case, changes, field, _ in TASK_CASES:
        failures = dict(tasks.check("bad", {**GOOD_TASK, **changes}).failures)
        assert field in failures, case
    for case, changes, field, _ in VOLUME_CASES:
        failures = dict(volumes.check("bad", {**GOOD_VOLUME, **changes}).failures)
        assert field in failures, case
    assert mithril.control.requests() == [], "no request at all: not a write, not a read"
