"""Shared fixtures. The `mithril` fixture itself comes from pulumi_flow's pytest plugin."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from pulumi_flow.engines.pulumi_cli import find_cli
from pulumi_flow.testing.emulator import RunningEmulator

ROOT = Path(__file__).resolve().parents[1]

# Tests must never reach a real Mithril through a developer's environment.
for _var in ("MITHRIL_API_KEY", "MITHRIL_API_URL", "MITHRIL_PROJECT", "MITHRIL_REGION", "FLOW_PROVIDER"):
    os.environ.pop(_var, None)


@pytest.fixture(autouse=True)
def _quick_retries(request: pytest.FixtureRequest) -> None:
    """Every in-process test retries at once (the same attempts, not seconds apart): see `quick_retries`.
    Providers in other processes (the gRPC and engine tests) keep the real pauses, and so does a test marked
    `real_retry_pauses` (one that measures a pause)."""
    if request.node.get_closest_marker("real_retry_pauses") is None:
        request.getfixturevalue("quick_retries")


@pytest.fixture
def flow_client(mithril: RunningEmulator) -> Iterator[object]:
    """A real Flow SDK client pointed at the emulator."""
    import flow

    with flow.Flow() as client:
        yield client


@pytest.fixture(scope="session")
def pulumi_cli() -> Path:
    """The real Pulumi CLI: PULUMI_FLOW_CLI_DIR, else what `scripts/install-pulumi` finds or builds (pulumi
    on PATH when new enough, else a build from Go modules cached per version). Without Go and without a
    CLI, the tests that need it fail with the script's message, which says what to install: never a skip."""
    if os.environ.get("PULUMI_FLOW_CLI_DIR"):
        return find_cli()
    done = subprocess.run([str(ROOT / "scripts" / "install-pulumi")], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail(f"no Pulumi CLI for the engine tests:\n{done.stderr}", pytrace=False)
    return find_cli(done.stdout.strip().splitlines()[-1])
