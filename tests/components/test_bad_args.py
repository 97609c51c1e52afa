"""Component arguments are checked at construction: before anything is registered or requested."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pulumi_flow import (
    DataVolumes,
    DataVolumesArgs,
    InputError,
    TrainingCluster,
    TrainingClusterArgs,
    TrainingJob,
    TrainingJobArgs,
    VolumeSpec,
)
from pulumi_flow.engines.builtin import StackError, run_stack
from pulumi_flow.resources import TASK_TYPE, VOLUME_TYPE
from pulumi_flow.testing.emulator import RunningEmulator


def _cluster(**kw: Any) -> Callable[[], Any]:
    return lambda: TrainingCluster("c", TrainingClusterArgs(**{"instance_type": "8xa100", **kw}))


def _job(**kw: Any) -> Callable[[], Any]:
    return lambda: TrainingJob("j", TrainingJobArgs(**{"command": "python t.py", "instance_type": "4xa100", **kw}))


def _with_volumes(make: Callable[[DataVolumes], Any], spec: Any = None) -> Callable[[], Any]:
    def program() -> Any:
        volumes = DataVolumes("s", DataVolumesArgs(volumes=spec or {"data": 100, "models": 100}))
        return make(volumes)
    return program


def _regional(region_a: str, region_b: str) -> Callable[[], Any]:
    def program() -> Any:
        a = DataVolumes("a", DataVolumesArgs(volumes={"x": 10}, region=region_a))
        b = DataVolumes("b", DataVolumesArgs(volumes={"y": 10}, region=region_b))
        return TrainingCluster("c", TrainingClusterArgs(instance_type="8xa100",
                                                        volumes=[a.mount("x", "/data"), b.mount("y", "/mnt/y")]))
    return program


# (case, program, text the error must contain)
CASES: list[tuple[str, Callable[[], Any], str]] = [
    ("bare family", _cluster(instance_type="h100"), "TrainingClusterArgs.instance_type='h100'"),
    ("bare family fix", _cluster(instance_type="h100"), "'8xh100'"),
    ("malformed type", _cluster(instance_type="8x"), "instance_type='8x'"),
    ("zero bid", _cluster(max_price_per_hour=0), "TrainingClusterArgs.max_price_per_hour=0"),
    ("text bid", _cluster(max_price_per_hour="50"), "must be a number"),
    ("no threshold family", _cluster(instance_type="8xh200"), "'h200'"),
    ("no threshold fix", _cluster(instance_type="8xb200"), "explicit max_price_per_hour"),
    ("101 nodes", _cluster(num_instances=101), "TrainingClusterArgs.num_instances=101"),
    ("fractional nodes", _cluster(num_instances=1.5), "whole number"),
    ("env number", _cluster(env={"SEED": 1}), "TrainingClusterArgs.env.SEED"),
    ("timeout zero", _cluster(ready_timeout_minutes=0), "ready_timeout_minutes=0"),
    ("region malformed", _cluster(region="Central US"), "TrainingClusterArgs.region"),
    ("volumes not mounts", _cluster(volumes=["vol_123"]), "VolumeMount"),
    ("mount /models", _with_volumes(lambda v: v.mount("models", "/models")), "use '/mnt/models'"),
    ("relative mount", _with_volumes(lambda v: v.mount("data", "data")), "mount.path='data'"),
    ("unknown volume", _with_volumes(lambda v: v.mount("logs", "/data")), "mount.name='logs'"),
    ("same path twice", _with_volumes(lambda v: TrainingCluster("c", TrainingClusterArgs(
        instance_type="8xa100", volumes=[v.mount("data", "/data"), v.mount("models", "/data")]))), "mounted twice"),
    ("nested paths", _with_volumes(lambda v: TrainingCluster("c", TrainingClusterArgs(
        instance_type="8xa100", volumes=[v.mount("data", "/mnt/a"), v.mount("models", "/mnt/a/b")]))), "nested"),
    ("block on 4 nodes", _with_volumes(lambda v: TrainingCluster("c", TrainingClusterArgs(
        instance_type="8xa100", num_instances=4, volumes=[v.mount("data", "/data")])),
        {"data": VolumeSpec(100, interface="block")}), "interface='file'"),
    ("volumes in two regions", _regional("us-central1-a", "eu-central1-a"), "different regions"),
    ("region contradicts volumes", lambda: TrainingCluster("c", TrainingClusterArgs(
        instance_type="8xa100", region="eu-central1-a",
        volumes=[DataVolumes("s", DataVolumesArgs(volumes={"d": 1}, region="us-central1-a")).mount("d", "/data")])),
     "differs from the mounted volumes' region"),
    ("volume size zero", lambda: DataVolumes("s", DataVolumesArgs(volumes={"data": 0})), "size_gb=0"),
    ("volume size too big", lambda: DataVolumes("s", DataVolumesArgs(volumes={"data": 16385})), "16384"),
    ("volume bad interface", lambda: DataVolumes("s", DataVolumesArgs(volumes={"d": {"size_gb": 1,
                                                                                   "interface": "nfs"}})), "'nfs'"),
    ("volume bad name", lambda: DataVolumes("s", DataVolumesArgs(volumes={"Data_1": 10})), "volumes['Data_1']"),
    ("no volumes", lambda: DataVolumes("s", DataVolumesArgs(volumes={})), "must map volume names"),
    ("job empty command", _job(command=""), "TrainingJobArgs.command=''"),
    ("job bad wait", _job(wait="forever"), "TrainingJobArgs.wait='forever'"),
    ("job bad priority", _job(priority="urgent"), "TrainingJobArgs.priority='urgent'"),
    ("job run time", _job(max_run_time_hours=500), "168"),
    ("job nan bid", _job(max_price_per_hour=float("nan")), "finite"),
]


# Programs whose only resource is the bad one: even `pulumi up` stops before any request. Where
# a program registers DataVolumes and then mounts wrongly, `up` may create the volumes before the
# program fails (as with any Pulumi program); `pulumi preview` catches every case for free.
SINGLE_RESOURCE = {c[0] for c in CASES if c[1].__qualname__.startswith(("_cluster", "_job"))
                   or c[0].startswith(("volume ", "no volumes"))}


RUNS = [(*case, True) for case in CASES] + [(*case, False) for case in CASES if case[0] in SINGLE_RESOURCE]


@pytest.mark.parametrize(("case", "program", "needle", "preview"), RUNS,
                         ids=[f"{r[0]}-{'preview' if r[3] else 'up'}" for r in RUNS])
def test_bad_component_arguments(mithril: RunningEmulator, case: str, program: Callable[[], Any], needle: str,
                                 preview: bool) -> None:
    with pytest.raises(StackError) as caught:
        run_stack(program, preview=preview)
    cause = caught.value.__cause__
    assert isinstance(cause, InputError), f"expected an InputError, got {cause!r}"
    assert needle in str(cause)
    assert "Fix:" in str(cause)
    assert mithril.control.requests() == [], "no request may reach Mithril"


def test_error_comes_before_registration(mithril: RunningEmulator) -> None:
    """What the engine's monitor received before the bad cluster: the volumes, and nothing of the cluster."""

    def program() -> None:
        DataVolumes("fine", DataVolumesArgs(volumes={"d": 1}))
        TrainingCluster("bad", TrainingClusterArgs(instance_type="h100"))

    with pytest.raises(StackError) as caught:
        run_stack(program, preview=True)
    registered = sorted((r.type, r.name) for r in caught.value.registrations)
    assert ("flow:index:DataVolumes", "fine") in registered and (VOLUME_TYPE, "fine-d") in registered
    assert not [r for r in registered if "TrainingCluster" in r[0] or r[0] == TASK_TYPE]
