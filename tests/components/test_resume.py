"""The resume wrapper as a shell script in a temporary directory: a trainer killed at 50 random points (mid-step and
mid-checkpoint-write included) resumes each time from its newest complete checkpoint, never from scratch and never
from a torn one, and knows how many times it restarted."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pulumi_flow import DataVolumes, DataVolumesArgs, InputError, TrainingJob, TrainingJobArgs
from pulumi_flow.components.resume import resume_wrapper
from pulumi_flow.engines.builtin import run_stack
from pulumi_flow.testing.emulator import RunningEmulator

# One step per checkpoint: it reads where to start, writes `step-N.tmp`, then renames it to `step-N`. It kills itself
# (SIGKILL, as a preemption does) after KILL_AT writes, before or after the rename.
TRAINER = r"""
import os, signal, sys
start = 0
latest = os.environ["FLOW_LATEST_CHECKPOINT"]
if latest:
    start = int(open(latest).read()) + 1
with open(os.environ["LOG"], "a") as log:
    log.write(f"{os.environ['FLOW_RESTART_COUNT']} {start} {os.environ['MODE']}\n")
kill_at, torn = int(os.environ["KILL_AT"]), os.environ["TORN"] == "1"
for step in range(start, 200):
    path = os.path.join(os.environ["FLOW_CHECKPOINT_DIR"], f"step-{step:04d}")
    with open(path + ".tmp", "w") as out:
        out.write(str(step))
    if step - start == kill_at and torn:
        os.kill(os.getpid(), signal.SIGKILL)  # mid-write: only the .tmp exists
    os.rename(path + ".tmp", path)
    if step - start == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
sys.exit(0)
"""


def test_a_job_killed_at_50_random_points_resumes_from_its_newest_checkpoint(tmp_path: Path) -> None:
    checkpoints, log = tmp_path / "checkpoints", tmp_path / "log"
    trainer = tmp_path / "train.py"
    trainer.write_text(TRAINER)
    python = sys.executable
    script = resume_wrapper(f"MODE=fresh {python} {trainer}", f"MODE=resume {python} {trainer}", str(checkpoints))
    chosen = random.Random(24)
    kills = [(chosen.randrange(0, 4), chosen.random() < 0.5) for _ in range(50)]
    completed = -1  # the newest step whose checkpoint was complete
    for attempt, (kill_at, torn) in enumerate(kills):
        done = subprocess.run(["bash", "-c", script], env={"PATH": "/usr/bin:/bin", "LOG": str(log),
                              "KILL_AT": str(kill_at), "TORN": "1" if torn else "0"}, capture_output=True, text=True)
        assert done.returncode == -9 or done.returncode == 137, done.stderr
        restarts, start, mode = log.read_text().splitlines()[-1].split()
        assert (int(restarts), int(start)) == (attempt, completed + 1), "resumed from the newest complete checkpoint"
        assert mode == ("fresh" if attempt == 0 else "resume")
        completed = int(start) + kill_at - (1 if torn else 0)
    assert sorted(p.name for p in checkpoints.iterdir() if not p.name.endswith(".tmp")) == [
        ".pulumi-flow", *[f"step-{step:04d}" for step in range(completed + 1)]]


def test_the_first_start_of_an_empty_volume_runs_the_command_and_a_missing_resume_command_reruns_it(
        tmp_path: Path) -> None:
    script = resume_wrapper('echo "fresh $FLOW_RESTART_COUNT [$FLOW_LATEST_CHECKPOINT]"', None, str(tmp_path / "ck"))
    first = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True)
    assert first.stdout == "fresh 0 []\n"
    (tmp_path / "ck" / "model.pt").write_text("weights")
    (tmp_path / "ck" / "model-2.pt.partial").write_text("half")
    second = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True)
    assert second.stdout == f"fresh 1 [{tmp_path / 'ck' / 'model.pt'}]\n"


def test_a_job_with_a_checkpoint_runs_the_wrapper_and_caps_preemptions(mithril: RunningEmulator) -> None:
    def program() -> None:
        volumes = DataVolumes("store", DataVolumesArgs(volumes={"ckpt": 100}))
        TrainingJob("train", TrainingJobArgs(
            command="python train.py", resume_command="python train.py --resume \"$FLOW_LATEST_CHECKPOINT\"",
            instance_type="8xa100", max_price_per_hour=20.0, max_run_time_hours=24, max_preemptions=3,
            checkpoint=volumes.mount("ckpt", "/mnt/checkpoints")))

    run = run_stack(program, preview=True)
    task = run.named("train-task").inputs
    assert task["command"] == resume_wrapper("python train.py", "python train.py --resume \"$FLOW_LATEST_CHECKPOINT\"",
                                             "/mnt/checkpoints")
    assert [m["mount_path"] for m in task["volumes"]] == ["/mnt/checkpoints"], "the checkpoint volume is mounted"
    assert task["max_preemptions"] == 3
    assert mithril.control.requests() == []


@pytest.mark.parametrize(("changes", "field"), [
    ({"resume_command": "python train.py --resume"}, "TrainingJobArgs.resume_command"),
    ({"checkpoint": "/mnt/checkpoints"}, "TrainingJobArgs.checkpoint"),
])
def test_resuming_needs_a_checkpoint_volume(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InputError) as refused:
        TrainingJobArgs(command="python train.py", instance_type="8xa100", **changes)
    assert refused.value.field == field
