"""The benchmarks the README quotes run as written, at their smallest (their figures are measured, not tested)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_refresh_benchmark_runs_and_reads_the_live_bids_only(pulumi_cli: Path) -> None:
    """`python bench/refresh.py` on the real CLI, with a project past: it finishes (it once waited forever for
    machines the emulator had no room for), and the refresh it measures reads 4 listings, the instances and the
    two history routes, whatever the cancelled bids."""
    done = subprocess.run([sys.executable, "bench/refresh.py", "--clusters", "1", "--repeat", "1", "--old-bids", "2"],
                          cwd=ROOT, env={**os.environ, "PULUMI_FLOW_CLI_DIR": str(pulumi_cli)},
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert lines[0] == "1 one-node clusters, 2 cancelled bids in the project, median of 1"
    (refresh,) = [line for line in lines if line.startswith("  pulumi refresh: ")]
    assert refresh.split(": ", 1)[1].split(", ") == [
        "GET /v2/spot/bids 4", "GET /v2/instances 1", "GET /v2/instances/pricing/history 1",
        "GET /v2/instances/status/history 1"]
