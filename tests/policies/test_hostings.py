"""The pack judges plugin-hosted resources (`flow:index:Task|Volume`), and a user's own resource types built on
pulumi-flow's providers, exactly as dynamic ones: the whole policy suite runs again with those types, and must pass
case for case."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def _pytest(*args: str, hosting: str) -> str:
    run = subprocess.run([sys.executable, "-m", "pytest", str(HERE), "-p", "no:cacheprovider", "--deselect",
                          f"tests/policies/{Path(__file__).name}", *args],
                         env={**os.environ, "PULUMI_FLOW_TEST_HOSTING": hosting}, capture_output=True, text=True,
                         cwd=HERE.parents[1])
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    return run.stdout


@pytest.mark.parametrize("hosting", ["plugin", "custom"])
def test_every_policy_case_passes_with_other_types(hosting: str) -> None:
    collected = _pytest("--collect-only", "-q", hosting="dynamic")
    cases = int(re.search(r"(\d+)(?:/\d+)? tests? collected", collected).group(1))  # type: ignore[union-attr]
    outcome = _pytest("-q", hosting=hosting)
    assert re.search(rf"\b{cases} passed", outcome) and "skipped" not in outcome and "failed" not in outcome, (
        cases, outcome[-2000:])
