"""pytest plugin (registered through the `pytest11` entry point): fixtures for stacks on Mithril.

    def test_my_stack(pulumi_flow_stack):
        run = pulumi_flow_stack.up("path/to/pulumi/project")
        assert run.outputs["gpu_ips"]
        assert pulumi_flow_stack.blocking(run) == []
        assert pulumi_flow_stack.mithril.control.live_bids()
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pulumi_flow.testing.emulator import RunningEmulator, running_emulator
from pulumi_flow.testing.stack import StackTester


@pytest.fixture
def mithril(tmp_path: Path) -> Iterator[RunningEmulator]:
    """A fresh Mithril emulator; the Flow SDK in this process points at it (own FLOW_DIR)."""
    with running_emulator(flow_dir=str(tmp_path / "flow")) as running:
        yield running


class _ShortSleeps:
    """The `time` module, but `sleep` lasts `factor` as long."""

    def __init__(self, factor: float) -> None:
        self.factor = factor

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds * self.factor)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> float:
    """Retry pauses in this process, 100 times shorter: the providers' own and the Flow SDK's HTTP backoff
    (its documented seam: the caller's `time.sleep`). Every retry still happens, in the same order, so a test
    of a fault that clears after the third attempt sees the third attempt, just not seconds later. Waits for
    machines (poll intervals, ready timeouts) are not touched. Returns the factor."""
    import flow.adapters.http.client as sdk_http

    from pulumi_flow.provider import base

    factor = 0.01
    monkeypatch.setattr(base, "RETRY_PAUSE_SECONDS", base.RETRY_PAUSE_SECONDS * factor)
    monkeypatch.setattr(sdk_http, "time", _ShortSleeps(factor))
    return factor


@pytest.fixture
def pulumi_flow_stack(mithril: RunningEmulator) -> StackTester:
    """Run stack programs in-process with the real providers against `mithril`; judge them with the pack."""
    return StackTester(mithril)
