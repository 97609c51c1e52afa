"""infrastructure-bid-floor: one compliant case, then one mutation per violation."""

from __future__ import annotations

import pytest
from pulumi_policy.proxy import UnknownValueError

from pulumi_flow_policies import bid_floor

from .conftest import CLUSTER, JOB, TASK_TYPE, UNKNOWN, VOLUME, VOLUME_TYPE, resource_args, task, violations

POLICY = bid_floor.policy


def test_compliant_cluster_at_the_threshold() -> None:
    assert violations(POLICY, resource_args(TASK_TYPE, CLUSTER)) == []


@pytest.mark.parametrize(("instance_type", "threshold"), [("8xa100", 25.0), ("8xh100", 50.0), ("4xa100", 12.5)])
def test_thresholds_per_instance_type(instance_type: str, threshold: float) -> None:
    at = resource_args(TASK_TYPE, task(instance_type=instance_type, max_price_per_hour=threshold))
    under = resource_args(TASK_TYPE, task(instance_type=instance_type, max_price_per_hour=threshold - 0.01))
    assert violations(POLICY, at) == []
    assert len(violations(POLICY, under)) == 1


def test_underbid_message_states_resource_bid_threshold_and_fix() -> None:
    (message,) = violations(POLICY, resource_args(TASK_TYPE, task(max_price_per_hour=20.0), name="gpu-task"))
    assert "gpu-task" in message and "$20.00" in message and "$50.00" in message
    assert "Fix: set max_price_per_hour to at least 50.00" in message


def test_unknown_gpu_family_fails_closed_with_how_to_configure() -> None:
    (message,) = violations(POLICY, resource_args(TASK_TYPE, task(instance_type="8xh200", max_price_per_hour=500)))
    assert "'h200'" in message and '"thresholds"' in message


def test_configured_threshold_covers_a_new_family() -> None:
    config = {"thresholds": {"h200": 7.5}}
    assert violations(POLICY, resource_args(TASK_TYPE, task(instance_type="8xh200", max_price_per_hour=60.0),
                                            config=config)) == []
    assert violations(POLICY, resource_args(TASK_TYPE, task(instance_type="8xh200", max_price_per_hour=59.0),
                                            config=config))


def test_margin_and_threshold_overrides_merge_over_defaults() -> None:
    assert violations(POLICY, resource_args(TASK_TYPE, task(max_price_per_hour=55.0), config={"margin": 1.2}))
    assert violations(POLICY, resource_args(TASK_TYPE, task(max_price_per_hour=60.0), config={"margin": 1.2})) == []
    cheap_h100 = {"thresholds": {"H100": 5.0}}
    assert violations(POLICY, resource_args(TASK_TYPE, task(max_price_per_hour=40.0), config=cheap_h100)) == []
    assert violations(POLICY, resource_args(TASK_TYPE, task(instance_type="8xa100", max_price_per_hour=24.0),
                                            config=cheap_h100)), "a100 keeps its default"


def test_workloads_and_volumes_are_not_subject() -> None:
    assert violations(POLICY, resource_args(TASK_TYPE, task(JOB, max_price_per_hour=1.0))) == []
    assert violations(POLICY, resource_args(VOLUME_TYPE, VOLUME)) == []


def test_unknown_bid_raises_the_sdks_preview_error() -> None:
    with pytest.raises(UnknownValueError):
        violations(POLICY, resource_args(TASK_TYPE, task(max_price_per_hour=UNKNOWN)))


@pytest.mark.parametrize("bad", [{"max_price_per_hour": "fifty"}, {"max_price_per_hour": None},
                                 {"instance_type": 8}, {"instance_type": "h100"}, {"max_price_per_hour": [1]}])
def test_malformed_shapes_are_violations_not_crashes(bad: dict[str, object]) -> None:
    (message,) = violations(POLICY, resource_args(TASK_TYPE, task(**bad)))
    assert "cannot check" in message and "property" in message


def test_malformed_config_is_reported() -> None:
    (message,) = violations(POLICY, resource_args(TASK_TYPE, CLUSTER, config={"thresholds": {"h100": -1}}))
    assert "thresholds.h100" in message


def test_remediation_raises_the_bid_to_the_threshold() -> None:
    fixed = bid_floor.remediate(resource_args(TASK_TYPE, task(max_price_per_hour=20.0)))
    assert fixed is not None and fixed["max_price_per_hour"] == 50.0
    assert bid_floor.remediate(resource_args(TASK_TYPE, CLUSTER)) is None
    assert bid_floor.remediate(resource_args(TASK_TYPE, task(JOB, max_price_per_hour=1.0))) is None
