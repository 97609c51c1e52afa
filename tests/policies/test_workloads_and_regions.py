"""workload-runtime-cap and allowed-regions."""

from __future__ import annotations

from pulumi_flow_policies import regions, workloads

from .conftest import (
    CLUSTER,
    JOB,
    RESERVATION,
    RESERVATION_TYPE,
    TASK_TYPE,
    VOLUME,
    VOLUME_TYPE,
    resource_args,
    task,
    violations,
)


def test_workload_with_cap_is_compliant() -> None:
    assert violations(workloads.policy, resource_args(TASK_TYPE, JOB)) == []


def test_workload_without_cap() -> None:
    (message,) = violations(workloads.policy, resource_args(TASK_TYPE, task(JOB, max_run_time_hours=None),
                                                            name="train"))
    assert "workload train has no max_run_time_hours" in message


def test_infrastructure_needs_no_cap() -> None:
    assert violations(workloads.policy, resource_args(TASK_TYPE, CLUSTER)) == []


def test_regions_unconfigured_allows_all() -> None:
    assert violations(regions.policy, resource_args(TASK_TYPE, task(region="eu-central1-a"))) == []


def test_regions_allowed_and_denied() -> None:
    config = {"regions": ["us-central1-a"]}
    assert violations(regions.policy, resource_args(VOLUME_TYPE, VOLUME, config=config)) == []
    (message,) = violations(regions.policy, resource_args(TASK_TYPE, task(region="eu-central1-a"), config=config))
    assert "outside the allowed regions" in message
    (message,) = violations(regions.policy, resource_args(TASK_TYPE, CLUSTER, config=config))
    assert "names no region" in message
    assert violations(regions.policy, resource_args(RESERVATION_TYPE, RESERVATION, config=config)) == []
    (message,) = violations(regions.policy, resource_args(RESERVATION_TYPE, {**RESERVATION, "region": "eu-central1-a"},
                                                          config=config))
    assert "is in eu-central1-a, outside the allowed regions ['us-central1-a']" in message


def test_regions_malformed_config() -> None:
    (message,) = violations(regions.policy, resource_args(TASK_TYPE, CLUSTER, config={"regions": "us"}))
    assert "regions" in message
