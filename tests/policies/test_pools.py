"""What the pack says of a spot pool: one compliant pool, then one mutation per violation, for each policy that
judges pools (bid floor, budget, regions, volume region)."""

from __future__ import annotations

from typing import Any

from pulumi_flow_policies import bid_floor, budget, regions, volumes

from .conftest import (
    CLUSTER,
    POOL,
    POOL_TYPE,
    TASK_TYPE,
    VOLUME,
    VOLUME_TYPE,
    Res,
    resource_args,
    stack_args,
    violations,
)


def pool(**changes: Any) -> dict[str, Any]:
    return {**POOL, **changes}


def test_a_compliant_pool_passes_every_policy_that_judges_pools() -> None:
    assert violations(bid_floor.policy, resource_args(POOL_TYPE, POOL)) == []
    assert violations(regions.policy, resource_args(POOL_TYPE, POOL, config={
        "regions": ["us-central1-a", "eu-central1-a"]})) == []
    assert violations(budget.policy, stack_args([Res(POOL_TYPE, "gpus", POOL)], {"max_hourly_spend": 224.0})) == []
    mounted = pool(volumes=[{"volume_id": "vol_1", "mount_path": "/data", "interface": "file"}])
    assert violations(volumes.region_policy, stack_args([Res(VOLUME_TYPE, "v", VOLUME),
                                                         Res(POOL_TYPE, "gpus", mounted, mounts=["v"])])) == []


def test_a_ceiling_under_the_floor_of_any_of_its_types_names_the_least_ceiling() -> None:
    # h100's floor is $6.25/GPU-hour, a100's $3.125: $5.00 passes for a100 only.
    (message,) = violations(bid_floor.policy, resource_args(POOL_TYPE, pool(max_price_per_gpu_hour=5.0), name="gpus"))
    assert message == ("gpus: the spot pool's ceiling $5.00/GPU-hour is below the on-demand floor per GPU of 8xh100 "
                       "$6.25; its bids there would be preempted whenever the market rises. Fix: set "
                       "max_price_per_gpu_hour to at least $6.25, or drop those instance types")
    assert violations(bid_floor.policy, resource_args(POOL_TYPE, pool(max_price_per_gpu_hour=5.0,
                                                                      instance_types=["4xa100"]))) == []


def test_a_pool_of_a_family_with_no_threshold_fails_closed() -> None:
    (message,) = violations(bid_floor.policy, resource_args(POOL_TYPE, pool(instance_types=["8xb200"])))
    assert "b200" in message


def test_a_pools_target_times_its_ceiling_counts_against_the_budget() -> None:
    stack = [Res(POOL_TYPE, "gpus", POOL), Res(TASK_TYPE, "cluster", CLUSTER)]
    (message,) = violations(budget.policy, stack_args(stack, {"max_hourly_spend": 323.99}))
    assert "$324.00/hour" in message and "gpus at most $224.00 (target GPUs x ceiling)" in message


def test_a_pool_listing_a_region_outside_the_allowed_ones_or_none_is_refused() -> None:
    config = {"regions": ["us-central1-a"]}
    (outside,) = violations(regions.policy, resource_args(POOL_TYPE, POOL, name="gpus", config=config))
    assert "gpus may place bids in eu-central1-a, outside the allowed regions ['us-central1-a']" in outside
    (anywhere,) = violations(regions.policy, resource_args(POOL_TYPE, pool(regions=[]), name="gpus", config=config))
    assert "gpus is a spot pool with no regions" in anywhere


def test_a_pool_whose_regions_miss_its_volumes_region_is_refused() -> None:
    mounted = pool(regions=["eu-central1-a"],
                   volumes=[{"volume_id": "vol_1", "mount_path": "/data", "interface": "file"}])
    (message,) = violations(volumes.region_policy, stack_args([Res(VOLUME_TYPE, "v", VOLUME),
                                                               Res(POOL_TYPE, "gpus", mounted, mounts=["v"])]))
    assert "gpus is a spot pool in eu-central1-a but mounts v in us-central1-a" in message
