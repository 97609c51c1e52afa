"""block-volume-single-attach, volume-region-match, data-volume-protected."""

from __future__ import annotations

from pulumi_flow_policies import volumes

from .conftest import (
    CLUSTER,
    JOB,
    RESERVATION,
    RESERVATION_TYPE,
    TASK_TYPE,
    VOLUME,
    VOLUME_TYPE,
    Res,
    resource_args,
    stack_args,
    task,
    violations,
)

BLOCK = {**VOLUME, "interface": "block", "volume_id": "vol_b"}


def _mount(volume_id: str = "vol_1") -> list[dict[str, str]]:
    return [{"volume_id": volume_id, "mount_path": "/data", "interface": "file"}]


# -- block-volume-single-attach ------------------------------------------------------------------

def test_block_compliant_single_instance_task() -> None:
    stack = [Res(VOLUME_TYPE, "b", BLOCK), Res(TASK_TYPE, "t", task(num_instances=1), mounts=["b"])]
    assert violations(volumes.block_policy, stack_args(stack)) == []


def test_block_on_multi_instance_task() -> None:
    stack = [Res(VOLUME_TYPE, "b", BLOCK), Res(TASK_TYPE, "t", task(num_instances=2), mounts=["b"])]
    (message,) = violations(volumes.block_policy, stack_args(stack))
    assert "t has 2 instances" in message and "block volume b" in message


def test_block_on_two_live_tasks_found_by_volume_id() -> None:
    stack = [Res(VOLUME_TYPE, "b", BLOCK),
             Res(TASK_TYPE, "t1", task(num_instances=1, volumes=_mount("vol_b"))),
             Res(TASK_TYPE, "t2", task(JOB, volumes=_mount("vol_b")))]
    (message,) = violations(volumes.block_policy, stack_args(stack))
    assert "mounted by 2 live tasks (t1, t2)" in message


def test_block_shared_with_a_finished_workload_is_fine() -> None:
    stack = [Res(VOLUME_TYPE, "b", BLOCK), Res(TASK_TYPE, "t1", task(num_instances=1), mounts=["b"]),
             Res(TASK_TYPE, "t2", task(JOB, status="cancelled"), mounts=["b"])]
    assert violations(volumes.block_policy, stack_args(stack)) == []


def test_block_judged_on_what_a_reservation_mounts_or_attaches_while_it_lasts() -> None:
    """A reservation's `mounts` are mounts and its `volumes` ids: either way it holds the volume."""
    two = Res(RESERVATION_TYPE, "r", {**RESERVATION, "mounts": _mount("vol_b")})
    (message,) = violations(volumes.block_policy, stack_args([Res(VOLUME_TYPE, "b", BLOCK), two]))
    assert "r has 2 instances" in message and "block volume b" in message
    one = Res(RESERVATION_TYPE, "r", {**RESERVATION, "quantity": 1, "volumes": ["vol_b"]})
    stack = [Res(VOLUME_TYPE, "b", BLOCK), one, Res(TASK_TYPE, "t", task(num_instances=1, volumes=_mount("vol_b")))]
    (message,) = violations(volumes.block_policy, stack_args(stack))
    assert "mounted by 2 live tasks (r, t)" in message
    ended = Res(RESERVATION_TYPE, "r", {**RESERVATION, "status": "Ended", "mounts": _mount("vol_b")})
    assert violations(volumes.block_policy, stack_args([Res(VOLUME_TYPE, "b", BLOCK), ended])) == []


def test_file_volumes_may_be_shared() -> None:
    stack = [Res(VOLUME_TYPE, "f", VOLUME), Res(TASK_TYPE, "t1", CLUSTER, mounts=["f"]),
             Res(TASK_TYPE, "t2", JOB, mounts=["f"])]
    assert violations(volumes.block_policy, stack_args(stack)) == []


# -- volume-region-match --------------------------------------------------------------------------

def test_region_compliant_and_no_region_follows_the_volumes() -> None:
    stack = [Res(VOLUME_TYPE, "v", VOLUME), Res(TASK_TYPE, "t", task(region="us-central1-a"), mounts=["v"]),
             Res(TASK_TYPE, "u", task(region=None), mounts=["v"])]
    assert violations(volumes.region_policy, stack_args(stack)) == []


def test_region_task_elsewhere() -> None:
    stack = [Res(VOLUME_TYPE, "v", VOLUME), Res(TASK_TYPE, "t", task(region="eu-central1-a"), mounts=["v"])]
    (message,) = violations(volumes.region_policy, stack_args(stack))
    assert "t runs in eu-central1-a but mounts v in us-central1-a" in message


def test_region_resolved_after_create_counts() -> None:
    stack = [Res(VOLUME_TYPE, "v", VOLUME),
             Res(TASK_TYPE, "t", task(resolved_region="eu-central1-a", volumes=_mount("vol_1")))]
    assert violations(volumes.region_policy, stack_args(stack))


def test_region_of_a_reservation_and_its_volumes() -> None:
    here = Res(RESERVATION_TYPE, "r", {**RESERVATION, "mounts": _mount("vol_1")})
    assert violations(volumes.region_policy, stack_args([Res(VOLUME_TYPE, "v", VOLUME), here])) == []
    elsewhere = Res(RESERVATION_TYPE, "r", {**RESERVATION, "region": "eu-central1-a", "volumes": ["vol_1"]})
    (message,) = violations(volumes.region_policy, stack_args([Res(VOLUME_TYPE, "v", VOLUME), elsewhere]))
    assert "r runs in eu-central1-a but mounts v in us-central1-a" in message


def test_region_volumes_split_across_regions() -> None:
    stack = [Res(VOLUME_TYPE, "a", VOLUME), Res(VOLUME_TYPE, "b", {**VOLUME, "region": "eu-central1-a",
                                                                   "volume_id": "vol_2"}),
             Res(TASK_TYPE, "t", CLUSTER, mounts=["a", "b"])]
    (message,) = violations(volumes.region_policy, stack_args(stack))
    assert "different regions" in message


# -- data-volume-protected ------------------------------------------------------------------------

def test_protected_volume_is_compliant() -> None:
    assert violations(volumes.protected_policy, resource_args(VOLUME_TYPE, VOLUME, protect=True)) == []


def test_unprotected_volume() -> None:
    (message,) = violations(volumes.protected_policy, resource_args(VOLUME_TYPE, VOLUME, name="scratch"))
    assert "volume scratch is not protected" in message


def test_malformed_mounts_are_violations() -> None:
    stack = [Res(VOLUME_TYPE, "v", VOLUME), Res(TASK_TYPE, "t", task(volumes="vol_1"))]
    (message,) = violations(volumes.region_policy, stack_args(stack))
    assert "property 'volumes'" in message


def test_preview_unknown_volume_ids_still_judged_through_dependencies() -> None:
    from .conftest import UNKNOWN

    block = {**BLOCK, "volume_id": UNKNOWN}
    stack = [Res(VOLUME_TYPE, "b", block),
             Res(TASK_TYPE, "t", task(num_instances=2, volumes=[{"volume_id": UNKNOWN, "mount_path": "/data",
                                                                   "interface": "block"}]), mounts=["b"])]
    (message,) = violations(volumes.block_policy, stack_args(stack))
    assert "t has 2 instances" in message
