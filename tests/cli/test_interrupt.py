"""Ctrl-C during `pulumi-flow run`: everything created is torn down, exit 130 within 10 s, no traceback.

The emulator holds the bid `Open` (allocation delay of an hour), so the run is provably inside the
provider's wait for machines when SIGINT arrives; the test waits on the emulator's state, not on time.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pulumi_flow.emulator import Settings
from pulumi_flow.testing.emulator import RunningEmulator, running_emulator
from pulumi_flow.testing.languages import build_python

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).parent / "pulumi-flow"


@pytest.fixture
def slow_mithril(tmp_path: Path) -> Iterator[RunningEmulator]:
    with running_emulator(Settings(allocation_delay=3600.0, boot_delay=0.0), flow_dir=str(tmp_path / "flow"),
                          set_environ=False) as mithril:
        yield mithril


def start_run(mithril: RunningEmulator, *args: str, engine: str = "builtin", env: dict[str, str] | None = None,
              program: Path = ROOT / "examples" / "complete") -> subprocess.Popen[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("MITHRIL_", "FLOW_"))}
    return subprocess.Popen([str(SCRIPT), "run", str(program), "--engine", engine, *args], cwd=ROOT,
                            env={**base, **mithril.env, **(env or {})}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_ctrl_c_while_machines_are_awaited_tears_everything_down(slow_mithril: RunningEmulator) -> None:
    run = start_run(slow_mithril)
    backend = slow_mithril.backend
    placed = backend.wait_for(lambda: bool(backend.bids) and len(backend.volumes) == 2, timeout=120)
    assert placed, "the run created the volumes and placed the bid"

    run.send_signal(signal.SIGINT)
    out, err = run.communicate(timeout=10)  # within 10 s, or this raises

    assert run.returncode == 130, (out, err)
    assert "Traceback" not in out + err
    assert "torn down: 0 bids, 2 volumes" in out, "the bid cancelled itself; the volumes were torn down"
    assert slow_mithril.control.live_bids() == [] and slow_mithril.control.live_volumes() == []


def test_teardown_goes_past_a_failing_delete_and_reports_it(slow_mithril: RunningEmulator) -> None:
    slow_mithril.control.call("POST", "settings", {"allocation_delay": 0})
    slow_mithril.control.add_fault(kind="status", method="DELETE", path="/v2/volumes/.*", status=400, times=99)
    run = start_run(slow_mithril)
    out, err = run.communicate(timeout=120)
    assert run.returncode == 2, (out, err)
    assert "torn down: 1 bid, 0 volumes" in out, "the bid went although both volume deletes failed"
    assert out.count("could not delete FlowVolume vol_") == 2
    assert "teardown left 2 resources live on Mithril" in err
    assert slow_mithril.control.live_bids() == [] and len(slow_mithril.control.live_volumes()) == 2


def test_a_second_ctrl_c_stops_the_teardown_and_says_what_is_left(slow_mithril: RunningEmulator) -> None:
    slow_mithril.control.add_fault(kind="delay", method="DELETE", path="/v2/volumes/.*", delay=5.0, times=99)
    run = start_run(slow_mithril)
    backend = slow_mithril.backend
    assert backend.wait_for(lambda: bool(backend.bids) and len(backend.volumes) == 2, timeout=120)
    run.send_signal(signal.SIGINT)
    # The bid cancels itself first; then the teardown's first volume delete hangs in the delayed request.
    assert backend.wait_for(lambda: all(not b.live for b in backend.bids.values()), timeout=10)
    run.send_signal(signal.SIGINT)
    out, err = run.communicate(timeout=10)
    assert run.returncode == 130, (out, err)
    # Before the teardown began it is skipped, during it it stops: either way, what is left is named.
    (line,) = [line for line in out.splitlines() if line.startswith("second Ctrl-C: ")]
    left = line.split("still live on Mithril: ", 1)[1].split(", ")
    assert left and sorted(left) == sorted(v["fid"] for v in slow_mithril.control.live_volumes())
    assert "Traceback" not in out + err


def test_ctrl_c_on_the_real_engine_leaves_nothing_live(slow_mithril: RunningEmulator, pulumi_cli: Path,
                                                      tmp_path: Path) -> None:
    """The CLI is stopped (its waiting create cannot be cancelled, so Pulumi's second Ctrl-C follows), then
    the teardown cancels the bid that create placed, which the state knows only as a pending create. The project
    has its virtualenv, so the program runs by its language host, as `pulumi up` there would."""
    program = build_python(ROOT / "examples" / "complete", tmp_path).directory
    run = start_run(slow_mithril, engine="pulumi", env={"PULUMI_FLOW_CLI_DIR": str(pulumi_cli)}, program=program)
    backend = slow_mithril.backend
    assert backend.wait_for(lambda: bool(backend.bids) and len(backend.volumes) == 2, timeout=120)

    run.send_signal(signal.SIGINT)
    # About 10 s measured on 2 cores: a second's grace for the CLI, then cancel, export, unprotect, destroy.
    out, err = run.communicate(timeout=20)
    assert run.returncode == 130, (out, err)
    assert "by its language host" in out.splitlines()[0]
    # The CLI narrates what its language host printed when stopped, as `pulumi up` does; pulumi-flow adds none.
    assert "Traceback" not in err
    assert "torn down: 1 bid, 2 volumes" in out
    assert slow_mithril.control.live_bids() == [] and slow_mithril.control.live_volumes() == []
