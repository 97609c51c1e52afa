"""Each scripted fault does to the real SDK what it says: the emulator's fault API is trustworthy."""

from __future__ import annotations

import time
from typing import Any

import pytest

from pulumi_flow.emulator import FaultPlan
from pulumi_flow.testing.emulator import RunningEmulator


def _faults(mithril: RunningEmulator) -> list[dict[str, Any]]:
    return mithril.control.call("GET", "faults")  # type: ignore[no-any-return]


def test_5xx_on_get_is_retried_by_the_sdk(flow_client: Any, mithril: RunningEmulator) -> None:
    mithril.control.add_fault(kind="status", method="GET", path="/v2/volumes", status=503)
    assert flow_client.volumes.list() == []
    assert _faults(mithril)[0]["fired"] == 1
    assert [r["status"] for r in mithril.control.requests() if r["path"] == "/v2/volumes"] == [503, 200]


@pytest.mark.real_retry_pauses
def test_429_retry_after_is_honoured(flow_client: Any, mithril: RunningEmulator) -> None:
    mithril.control.add_fault(kind="status", method="GET", path="/v2/volumes", status=429, retry_after=0.5)
    started = time.monotonic()
    flow_client.volumes.list()
    assert time.monotonic() - started >= 0.5
    assert _faults(mithril)[0]["fired"] == 1


def test_5xx_on_post_is_not_retried(flow_client: Any, mithril: RunningEmulator) -> None:
    from flow.errors import FlowError

    mithril.control.add_fault(kind="status", method="POST", path="/v2/volumes", status=500)
    with pytest.raises(FlowError):
        flow_client.volumes.create(10, name="xyz", interface="file", region="us-central1-a")
    assert mithril.control.live_volumes() == []
    assert [r["status"] for r in mithril.control.requests() if r["method"] == "POST"] == [500]


def test_accept_then_fail_takes_effect_but_answers_an_error(flow_client: Any, mithril: RunningEmulator) -> None:
    from flow.errors import FlowError

    mithril.control.add_fault(kind="accept_then_fail", method="POST", path="/v2/volumes", status=502)
    with pytest.raises(FlowError):
        flow_client.volumes.create(10, name="lost-answer", interface="file", region="us-central1-a")
    assert [v["name"] for v in mithril.control.live_volumes()] == ["lost-answer"]


def test_dropped_connection_surfaces_as_a_network_error(flow_client: Any, mithril: RunningEmulator) -> None:
    """The SDK retries status codes, not a connection closed mid-request: callers must cope."""
    from flow.errors import NetworkError

    mithril.control.add_fault(kind="drop", method="GET", path="/v2/volumes")
    with pytest.raises(NetworkError):
        flow_client.volumes.list()
    assert flow_client.volumes.list() == [], "the next request goes through"


def test_delay_slows_a_request(flow_client: Any, mithril: RunningEmulator) -> None:
    mithril.control.add_fault(kind="delay", method="GET", path="/v2/volumes", delay=0.4)
    started = time.monotonic()
    flow_client.volumes.list()
    assert time.monotonic() - started >= 0.4


def test_delay_beyond_the_client_timeout(flow_client: Any, mithril: RunningEmulator,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The request still reaches the backend after the client gave up: an ambiguous failure."""
    import httpx
    from flow.adapters.http import client as http_client
    from flow.errors import FlowError

    monkeypatch.setattr(http_client, "_DEFAULT_TIMEOUT", httpx.Timeout(0.5, connect=0.5))
    http_client.HttpClientPool.clear_pool()
    import flow

    mithril.control.add_fault(kind="delay", method="POST", path="/v2/volumes", delay=1.0)
    with flow.Flow() as client, pytest.raises(FlowError):
        client.volumes.create(10, name="slow", interface="file", region="us-central1-a")
    # The delayed request lands after the client gave up: wait for the emulator to have served it.
    assert mithril.backend.wait_for(lambda: any(v.name == "slow" for v in mithril.backend.volumes.values()), 10)
    assert [v["name"] for v in mithril.control.live_volumes()] == ["slow"]
    http_client.HttpClientPool.clear_pool()


def test_skip_and_times(mithril: RunningEmulator) -> None:
    plan = FaultPlan()
    plan.add({"kind": "status", "path": "/a", "skip": 1, "times": 2})
    fired = [plan.take("GET", "/a") is not None for _ in range(5)]
    assert fired == [False, True, True, False, False]


@pytest.mark.parametrize("rule", [{"kind": "explode"}, {"kind": "status", "status": 200}, {"kind": "status", "x": 1},
                                  {"kind": "delay", "delay": -1}, {"kind": "status", "path": "("}])
def test_bad_fault_rules_are_422(mithril: RunningEmulator, rule: dict[str, Any]) -> None:
    import urllib.error

    with pytest.raises(urllib.error.HTTPError) as caught:
        mithril.control.add_fault(**rule)
    assert caught.value.code == 422


def test_pause_and_unpause(flow_client: Any, mithril: RunningEmulator) -> None:
    from flow import TaskConfig

    task = flow_client.run(TaskConfig(name="p", unique_name=False, command="sleep infinity", instance_type="8xa100",
                                      max_price_per_hour=30.0, upload_code=False))
    mithril.control.call("POST", "settings", {"allocation_delay": 0})  # allocated on the next read
    assert mithril.backend.get_bid(task.task_id)["status"] == "Allocated"
    mithril.control.pause(task.task_id)
    assert mithril.backend.get_bid(task.task_id)["status"] == "Paused"
    assert mithril.backend.list_instances([task.task_id])[0]["status"] == "STATUS_PAUSED"
    mithril.control.pause(task.task_id, paused=False)
    assert mithril.backend.get_bid(task.task_id)["status"] == "Allocated", "resume gives the machines back"
    assert mithril.backend.list_instances([task.task_id])[0]["status"] == "STATUS_NEW", "booting again"
