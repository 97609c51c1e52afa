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

import attrs
import pytest

from pulumi_flow.testing.emulator import RunningEmulator, running_emulator
from pulumi_flow.testing.stack import StackTester


@pytest.fixture
def mithril(tmp_path: Path) -> Iterator[RunningEmulator]:
    """A fresh Mithril emulator; the Flow SDK in this process points at it (own FLOW_DIR), and the providers in
    this process forget the records they shared from an earlier one (which may have had the same address) and close
    the reading client they kept for it."""
    from pulumi_flow.provider.records import forget_shared_records
    from pulumi_flow.provider.session import close_reading_sessions

    forget_shared_records()
    with running_emulator(flow_dir=str(tmp_path / "flow")) as running:
        yield running
    close_reading_sessions()


@attrs.define
class QuickRetries:
    """What `quick_retries` did: how much shorter the pauses are, and every pause the Flow SDK asked for."""

    factor: float
    asked: list[float] = attrs.field(factory=list)


class _SleepsShortened:
    """The `time` module as the Flow SDK's HTTP client sees it under `quick_retries`: `sleep` is shortened."""

    def __init__(self, record: QuickRetries) -> None:
        self._record = record

    def sleep(self, seconds: float) -> None:
        self._record.asked.append(seconds)
        time.sleep(seconds * self._record.factor)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> QuickRetries:
    """Retry pauses in this process, 100 times shorter: the providers' own and the Flow SDK's HTTP backoff
    (its documented seam: the caller's `time.sleep`). Every retry still happens, in the same order, so a test
    of a fault that clears after the third attempt sees the third attempt, just not seconds later. Waits for
    machines (poll intervals, ready timeouts) are not touched."""
    import flow.adapters.http.client as sdk_http
    import flow.utils.retry as sdk_retry

    from pulumi_flow.provider import base

    record = QuickRetries(factor=0.01)
    monkeypatch.setattr(base, "RETRY_PAUSE_SECONDS", base.RETRY_PAUSE_SECONDS * record.factor)
    monkeypatch.setattr(sdk_http, "time", _SleepsShortened(record))
    monkeypatch.setattr(sdk_retry, "time", _SleepsShortened(record))  # its decorator's pauses (a dropped connection)
    return record


@pytest.fixture
def pulumi_flow_stack(mithril: RunningEmulator) -> StackTester:
    """Run stack programs in-process with the real providers against `mithril`; judge them with the pack."""
    return StackTester(mithril)
