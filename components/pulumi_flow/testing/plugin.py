"""pytest plugin (registered through the `pytest11` entry point): fixtures for stacks on Mithril.

    def test_my_stack(pulumi_flow_stack):
        run = pulumi_flow_stack.up("path/to/pulumi/project")
        assert run.outputs["gpu_ips"]
        assert pulumi_flow_stack.blocking(run) == []
        assert pulumi_flow_stack.mithril.control.live_bids()
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pulumi_flow.testing.emulator import RunningEmulator, running_emulator
from pulumi_flow.testing.stack import StackTester


@pytest.fixture
def mithril(tmp_path: Path) -> Iterator[RunningEmulator]:
    """A fresh Mithril emulator; the Flow SDK in this process points at it (own FLOW_DIR)."""
    with running_emulator(flow_dir=str(tmp_path / "flow")) as running:
        yield running


@pytest.fixture
def pulumi_flow_stack(mithril: RunningEmulator) -> StackTester:
    """Run stack programs in-process with the real providers against `mithril`; judge them with the pack."""
    return StackTester(mithril)
