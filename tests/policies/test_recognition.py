"""The pack judges what a resource is, not what it is called.

A user's own resource type built on pulumi-flow's providers (`class GpuBox(pulumi.dynamic.Resource)` with
`FlowTaskProvider`, registered as `mycorp:GpuBox`) carries a bid's properties, so it is judged as a bid: the issue's
8xa100 at $17 against a $25 floor is refused. The whole suite also runs under such types (test_hostings.py).
"""

from __future__ import annotations

from pulumi_flow_policies import bid_floor, budget, volumes
from pulumi_flow_policies._props import is_task, is_volume

from .conftest import CLUSTER, VOLUME, Res, resource_args, stack_args, task, violations

GPU_BOX = "mycorp:GpuBox"
# What a TrainingCluster component records of its arguments: an instance type and a price, but no bid of its own.
CLUSTER_COMPONENT = {"instance_type": "8xa100", "num_instances": 4, "max_price_per_hour": 17.0, "volumes": [],
                     "region": None, "replacement": "delete-first"}
OWNER = {"token": "0123456789abcdef"}


def test_an_under_bid_under_another_type_token_is_refused() -> None:
    under = task(instance_type="8xa100", max_price_per_hour=17.0)
    (message,) = violations(bid_floor.policy, resource_args(GPU_BOX, under, name="box"))
    assert "box: infrastructure bids $17.00/instance-hour for 8xa100" in message and "$25.00" in message


def test_the_budget_counts_a_bid_under_another_type_token() -> None:
    stack = [Res(GPU_BOX, "box", task(instance_type="8xa100", max_price_per_hour=30.0, num_instances=2))]
    (message,) = violations(budget.policy, stack_args(stack, {"max_hourly_spend": 59.99}))
    assert "box $30.00 x 2" in message


def test_a_volume_under_another_type_token_is_judged() -> None:
    unprotected = resource_args("mycorp:Disk", VOLUME, name="disk", protect=False)
    assert len(violations(volumes.protected_policy, unprotected)) == 1


def test_a_bid_that_cannot_be_read_fails_closed() -> None:
    broken = task(max_price_per_hour="fifty")
    (message,) = violations(bid_floor.policy, resource_args(GPU_BOX, broken, name="box"))
    assert message.startswith("cannot check box: property 'max_price_per_hour' is 'fifty'")


def test_a_component_and_an_owner_are_not_bids() -> None:
    component = resource_args("mycorp:index:Cluster", CLUSTER_COMPONENT)
    assert not is_task(component) and not is_volume(component)
    assert violations(bid_floor.policy, component) == []
    stack = [Res("mycorp:index:Cluster", "cluster", CLUSTER_COMPONENT), Res(GPU_BOX, "box", CLUSTER),
             Res("flow:index:Owner", "owner", OWNER)]
    assert violations(budget.policy, stack_args(stack, {"max_hourly_spend": 100.0})) == [], \
        "the component's price counted as a second bid"
