"""pytest plugin (registered through the `pytest11` entry point): fixtures for stacks on Mithril.

    def test_my_stack(mithril):
        bid = mithril.control.live_bids()
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pulumi_flow.testing.emulator import RunningEmulator, running_emulator


@pytest.fixture
def mithril(tmp_path: Path) -> Iterator[RunningEmulator]:
    """A fresh Mithril emulator; the Flow SDK in this process points at it (own FLOW_DIR)."""
    with running_emulator(flow_dir=str(tmp_path / "flow")) as running:
        yield running
