"""Provider fixtures: checked inputs and in-process providers against the emulator."""

from __future__ import annotations

from typing import Any

import pytest

from pulumi_flow.provider import FlowProviderError, FlowTaskProvider, FlowVolumeProvider
from pulumi_flow.testing.emulator import RunningEmulator

# One state's owner token: what every bid and volume these fixtures make carries (see pulumi_flow.naming).
OWNER = "0123456789abcdef"
OTHER_OWNER = "fedcba9876543210"


def checked_task(**changes: Any) -> dict[str, Any]:
    # 12 s to machines: the emulator allocates and boots in 0.1 s, so a wait that lasts that long has hung (a
    # mutant that never lets it finish fails in seconds, not at pytest-timeout's limit).
    base: dict[str, Any] = {"role": "infrastructure", "instance_type": "8xa100", "num_instances": 2,
                            "max_price_per_hour": 30.0, "command": "sleep infinity",
                            "task_name": "gpu-infra-1a2b3c4d", "ready_timeout_minutes": 0.2, "owner": OWNER}
    result = FlowTaskProvider().check({}, {**base, **changes})
    assert result.failures == [], result.failures
    return result.inputs


def checked_volume(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"volume_name": "data-1a2b3c4d", "size_gb": 100, "owner": OWNER}
    result = FlowVolumeProvider().check({}, {**base, **changes})
    assert result.failures == [], result.failures
    return result.inputs


@pytest.fixture
def task_provider() -> FlowTaskProvider:
    provider = FlowTaskProvider()
    provider.poll_interval_seconds = 0.05
    return provider


@pytest.fixture
def volume_provider() -> FlowVolumeProvider:
    return FlowVolumeProvider()


def bid_whose_answer_and_lookups_were_lost(task_provider: FlowTaskProvider, mithril: RunningEmulator,
                                            inputs: dict[str, Any]) -> str:
    """A create whose bid Mithril placed, but whose answer was lost and every lookup after it failed: the
    error tells the user to run `pulumi up` again, and the bid is live. Its id."""
    mithril.control.add_fault(kind="accept_then_fail", method="POST", path="/v2/spot/bids", status=502)
    # The SDK's own name check before the POST passes; every lookup after the lost answer fails.
    mithril.control.add_fault(kind="status", method="GET", path="/v2/spot/bids", status=503, skip=1, times=50)
    with pytest.raises(FlowProviderError, match="run `pulumi up` again"):
        task_provider.create(inputs)
    assert all(f["fired"] > 0 for f in mithril.control.call("GET", "faults"))
    mithril.control.clear_faults()
    (left,) = mithril.control.live_bids()
    return str(left["fid"])
