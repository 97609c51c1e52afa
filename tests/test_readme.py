"""The README opens with exactly two commands, and CI runs the second one verbatim."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAIN_JOB = "pip install . && pulumi-flow run examples/complete"
TESTS = 'pip install -e ".[test]" && python -m pytest -q'


def _opening_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", text, re.S)
    assert block is not None and text.index("```bash") < text.index("\n## "), "the README opens with commands"
    return [line.split("  #")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_readme_opens_with_the_main_job_and_the_tests() -> None:
    assert _opening_commands() == [MAIN_JOB, TESTS]


def test_ci_runs_the_readme_test_command() -> None:
    run = (ROOT / ".ci" / "run").read_text()
    assert TESTS in run.splitlines()
    assert "python3 -m venv" in run, "a fresh virtualenv, so a missing install step fails CI"


def test_the_readmes_pool_chaos_replay_command_runs_one_seed() -> None:
    """The README's command that replays one chaos seed of the spot pool, run as written."""
    text = (ROOT / "README.md").read_text()
    command = re.search(r"`(POOL_CHAOS_SEED=\d+ python -m pytest [^`]*)`", text)
    assert command is not None, "the README names the replay command"
    done = subprocess.run(["bash", "-c", command.group(1)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "1 passed" in done.stdout, done.stdout[-3000:]
