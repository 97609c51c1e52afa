"""Fixtures for tests on the real Pulumi CLI and engine (through `pulumi.automation`).

The CLI comes from the `pulumi_cli` fixture (tests/conftest.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pulumi_flow.emulator import Settings
from pulumi_flow.engines.pulumi_cli import PulumiCli
from pulumi_flow.testing.emulator import RunningEmulator, running_emulator

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
# The pack by its executable launcher: the CLI starts it itself (see policies/pulumi-analyzer-flow).
PACK = str(ROOT / "policies" / "pulumi-analyzer-flow")
PACK_NAME = "pulumi-flow-policies"

pytestmark = pytest.mark.engine


@pytest.fixture
def engine(pulumi_cli: Path, tmp_path: Path) -> Iterator[PulumiCli]:
    yield PulumiCli(pulumi_cli, home=tmp_path / "pulumi-home", backend=tmp_path / "pulumi-state")


@pytest.fixture
def mithril(tmp_path: Path) -> Iterator[RunningEmulator]:
    """An emulator that allocates and boots on its next request: what `up` records is settled, so a
    no-change refresh right after it is deterministic. (Overrides the plugin's `mithril` here.)"""
    with running_emulator(Settings(allocation_delay=0.0, boot_delay=0.0), flow_dir=str(tmp_path / "flow")) as running:
        yield running
