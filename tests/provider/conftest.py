"""Provider fixtures: checked inputs and in-process providers against the emulator."""

from __future__ import annotations

from typing import Any

import pytest

from pulumi_flow.provider import FlowTaskProvider, FlowVolumeProvider


def checked_task(**changes: Any) -> dict[str, Any]:
    # 12 s to machines: the emulator allocates and boots in 0.1 s, so a wait that lasts that long has hung (a
    # mutant that never lets it finish fails in seconds, not at pytest-timeout's limit).
    base: dict[str, Any] = {"role": "infrastructure", "instance_type": "8xa100", "num_instances": 2,
                            "max_price_per_hour": 30.0, "command": "sleep infinity",
                            "task_name": "gpu-infra-1a2b3c4d", "ready_timeout_minutes": 0.2}
    result = FlowTaskProvider().check({}, {**base, **changes})
    assert result.failures == [], result.failures
    return result.inputs


def checked_volume(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"volume_name": "data-1a2b3c4d", "size_gb": 100}
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
