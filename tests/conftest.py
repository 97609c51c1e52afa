"""Shared fixtures. The `mithril` fixture itself comes from pulumi_flow's pytest plugin."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from pulumi_flow.testing.emulator import RunningEmulator

# Tests must never reach a real Mithril through a developer's environment.
for _var in ("MITHRIL_API_KEY", "MITHRIL_API_URL", "MITHRIL_PROJECT", "MITHRIL_REGION", "FLOW_PROVIDER"):
    os.environ.pop(_var, None)


@pytest.fixture
def flow_client(mithril: RunningEmulator) -> Iterator[object]:
    """A real Flow SDK client pointed at the emulator."""
    import flow

    with flow.Flow() as client:
        yield client
