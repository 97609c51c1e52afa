"""Every value argument of every Args class may be a Pulumi Output, and reaches Mithril's inputs as its value.

Each case builds one component with one argument wrapped in `Output.from_input` (known, as an Output of
another resource is once that resource exists) and checks what the provider's `check` recorded for it.
Structural arguments (which volumes exist, resource options) must be plain: those cases check the error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi
import pytest

from pulumi_flow import (
    DataVolumes,
    DataVolumesArgs,
    TrainingCluster,
    TrainingClusterArgs,
    TrainingJob,
    TrainingJobArgs,
    VolumeSpec,
)
from pulumi_flow.engines.builtin import run_stack
from pulumi_flow.resources import TASK_TYPE, VOLUME_TYPE
from pulumi_flow.testing.emulator import RunningEmulator
from pulumi_flow.validation import InputError


def out(value: Any) -> pulumi.Output[Any]:
    return pulumi.Output.from_input(value)


CLUSTER = {"instance_type": "8xa100", "max_price_per_hour": 30.0}
JOB = {"command": "python train.py", "instance_type": "4xa100", "max_price_per_hour": 9.0}

# (argument, value, the FlowTask input it lands in, the value expected there)
CLUSTER_CASES: list[tuple[str, Any, str, Any]] = [
    ("instance_type", "h100:8", "instance_type", "8xh100"),
    ("num_instances", 3, "num_instances", 3),
    ("max_price_per_hour", 31.5, "max_price_per_hour", 31.5),
    ("region", "eu-central1-a", "region", "eu-central1-a"),
    ("image", "nvcr.io/nvidia/pytorch:24.05-py3", "image", "nvcr.io/nvidia/pytorch:24.05-py3"),
    ("startup_script", "pip install -r requirements.txt", "command", "pip install -r requirements.txt\nsleep infinity"),
    ("ssh_keys", ["sshkey_abc"], "ssh_keys", ["sshkey_abc"]),
    ("env", {"WANDB_PROJECT": "llm"}, "env", {"WANDB_PROJECT": "llm"}),
    ("ready_timeout_minutes", 45.0, "ready_timeout_minutes", 45.0),
]
JOB_CASES: list[tuple[str, Any, str, Any]] = [
    ("command", "python eval.py", "command", "python eval.py"),
    ("instance_type", "a100:4", "instance_type", "4xa100"),
    ("num_instances", 2, "num_instances", 2),
    ("max_price_per_hour", 12.25, "max_price_per_hour", 12.25),
    ("image", "python:3.12", "image", "python:3.12"),
    ("env", {"A": "1"}, "env", {"A": "1"}),
    ("ssh_keys", ["sshkey_abc"], "ssh_keys", ["sshkey_abc"]),
    ("max_run_time_hours", 12.0, "max_run_time_hours", 12.0),
    ("region", "us-central1-a", "region", "us-central1-a"),
    ("wait", "running", "wait_until", "running"),
    ("ready_timeout_minutes", 20.0, "ready_timeout_minutes", 20.0),
]


def checked_task_inputs(program: Callable[[], None], mithril: RunningEmulator) -> dict[str, Any]:
    run = run_stack(program, preview=True)
    (task,) = [r for r in run.resources if r.type == TASK_TYPE]
    assert task.checked_inputs is not None, "the provider's check ran"
    assert mithril.control.requests() == []
    return task.checked_inputs


@pytest.mark.parametrize(("argument", "value", "key", "expected"), CLUSTER_CASES, ids=[c[0] for c in CLUSTER_CASES])
def test_every_cluster_argument_may_be_an_output(argument: str, value: Any, key: str, expected: Any,
                                                 mithril: RunningEmulator) -> None:
    def program() -> None:
        TrainingCluster("c", TrainingClusterArgs(**{**CLUSTER, argument: out(value)}))

    assert checked_task_inputs(program, mithril)[key] == expected


@pytest.mark.parametrize(("argument", "value", "key", "expected"), JOB_CASES, ids=[c[0] for c in JOB_CASES])
def test_every_job_argument_may_be_an_output(argument: str, value: Any, key: str, expected: Any,
                                             mithril: RunningEmulator) -> None:
    def program() -> None:
        TrainingJob("j", TrainingJobArgs(**{**JOB, argument: out(value)}))

    assert checked_task_inputs(program, mithril)[key] == expected


def test_a_default_bid_follows_an_output_priority_and_instance_type(mithril: RunningEmulator) -> None:
    def program() -> None:
        TrainingJob("j", TrainingJobArgs(command="python x.py", instance_type=out("8xh100"), priority=out("high")))

    assert checked_task_inputs(program, mithril)["max_price_per_hour"] == 128.0  # Flow's high tier: $16/GPU-hour


@pytest.mark.parametrize(("argument", "value", "key", "expected"), [
    ("size_gb", 750, "size_gb", 750), ("interface", "block", "interface", "block"),
])
def test_volume_spec_arguments_may_be_outputs(argument: str, value: Any, key: str, expected: Any,
                                              mithril: RunningEmulator) -> None:
    def program() -> None:
        spec = {"size_gb": 100, "interface": "file", argument: out(value)}
        DataVolumes("v", DataVolumesArgs(volumes={"data": VolumeSpec(**spec)}, region=out("us-central1-a")))

    run = run_stack(program, preview=True)
    (volume,) = [r for r in run.resources if r.type == VOLUME_TYPE]
    assert volume.checked_inputs is not None
    assert volume.checked_inputs[key] == expected and volume.checked_inputs["region"] == "us-central1-a"


@pytest.mark.parametrize(("build", "field"), [
    (lambda: DataVolumesArgs(volumes=out({"data": 100})), "DataVolumesArgs.volumes"),
    (lambda: DataVolumesArgs(volumes={"data": 100}, protect=out(True)), "DataVolumesArgs.protect"),
])
def test_structural_arguments_must_be_plain_and_say_so(build: Callable[[], Any], field: str) -> None:
    with pytest.raises(InputError) as caught:
        build()
    assert caught.value.field == field and "Output" in str(caught.value)
