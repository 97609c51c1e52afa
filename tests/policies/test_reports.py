"""What each policy reports, word for word, for each malformed or violating input, and which resource it files
the report under. Users read these messages in `pulumi preview`: a wrong property name, value or fix in them
misleads, and a zero in the pack's configuration must never become a $0 floor."""

from __future__ import annotations

from typing import Any

import pytest

from pulumi_flow_policies import bid_floor, budget, regions, volumes

from .conftest import (
    CLUSTER,
    TASK_TYPE,
    UNKNOWN,
    VOLUME,
    VOLUME_TYPE,
    Res,
    reports,
    resource_args,
    stack_args,
    task,
    urn_of,
)

UNKNOWN_ID = UNKNOWN

FIX = "Fix: pass a well-formed value (pulumi-flow's providers normalise these; was this resource edited by hand?)"


def _malformed(subject: str, key: str, value: str, expected: str) -> str:
    return f"cannot check {subject}: property {key!r} is {value}, expected {expected}. {FIX}"


@pytest.mark.parametrize(("changes", "key", "value", "expected"), [
    ({"instance_type": None}, "instance_type", "None", "an instance type such as '8xh100'"),
    ({"instance_type": "h100"}, "instance_type", "'h100'",
     "a counted instance type (instance type 'h100' names no GPU count; the threshold is per GPU, so write e.g. "
     "'8xh100')"),
    ({"max_price_per_hour": None}, "max_price_per_hour", "None", "the bid in USD per instance-hour"),
    ({"max_price_per_hour": "abc"}, "max_price_per_hour", "'abc'", "a finite number of US dollars"),
    ({"max_price_per_hour": True}, "max_price_per_hour", "True", "a finite number of US dollars"),
    ({"role": 7}, "role", "7.0", "a string"),
])
def test_bid_floor_names_the_malformed_property_and_its_value(changes: dict[str, Any], key: str, value: str,
                                                              expected: str) -> None:
    got = reports(bid_floor.policy, resource_args(TASK_TYPE, task(**changes)))
    assert got == [(_malformed("res", key, value, expected), None)]


@pytest.mark.parametrize(("config", "key", "value", "expected"), [
    ({"thresholds": {"h100": 0}}, "thresholds.h100", "0", "a positive USD per GPU-hour"),
    ({"thresholds": {"h100": -1}}, "thresholds.h100", "-1", "a positive USD per GPU-hour"),
    ({"thresholds": {"h100": "x"}}, "thresholds.h100", "'x'", "a positive USD per GPU-hour"),
    ({"thresholds": {"h100": True}}, "thresholds.h100", "True", "a positive USD per GPU-hour"),
    ({"margin": 0}, "margin", "0", "a positive multiplier"),
    ({"margin": -1}, "margin", "-1", "a positive multiplier"),
    ({"margin": "x"}, "margin", "'x'", "a positive multiplier"),
])
def test_a_zero_or_malformed_figure_in_the_config_is_refused_not_a_zero_floor(config: dict[str, Any], key: str,
                                                                              value: str, expected: str) -> None:
    """Even a bid of one cent is reported: the floor is unknown, so nothing passes."""
    got = reports(bid_floor.policy, resource_args(TASK_TYPE, task(max_price_per_hour=0.01), config=config))
    assert got == [(_malformed("res", key, value, expected), None)]


def _underbid(bid: str, floor: str, how: str, origin: str, least: str) -> str:
    return (f"res: infrastructure bids {bid}/instance-hour for 8xh100, below the on-demand floor {floor} ({how}, from "
            f"{origin}); a spot bid under it gets preempted when the market rises and persistent work is lost. Fix: "
            f"set max_price_per_hour to at least {least} (the least whole-cent bid at or above the floor)")


@pytest.mark.parametrize(("bid", "config", "message"), [
    (49.99, {}, _underbid("$49.99", "$50.00", "8 GPUs x $6.25/GPU-hour", "pulumi-flow's built-in thresholds",
                          "50.00")),
    (50.0, {"thresholds": {"h100": 7.5}},
     _underbid("$50.00", "$60.00", "8 GPUs x $7.50/GPU-hour", "the thresholds and margin in --policy-pack-config",
               "60.00")),
    (50.0, {"margin": 1.1},
     _underbid("$50.00", "$55.00", "8 GPUs x $6.25/GPU-hour x margin 1.1",
               "the thresholds and margin in --policy-pack-config", "55.00")),
    (50.0, {"margin": 1}, None),
    (50.0, {"margin": 0.5}, None),
])
def test_an_underbid_report_says_bid_floor_how_it_was_computed_where_from_and_the_fix(
        bid: float, config: dict[str, Any], message: str | None) -> None:
    got = reports(bid_floor.policy, resource_args(TASK_TYPE, task(max_price_per_hour=bid), config=config))
    assert got == ([(message, None)] if message else [])


def test_a_family_without_a_figure_is_reported_with_the_instance_type() -> None:
    got = reports(bid_floor.policy, resource_args(TASK_TYPE, task(instance_type="8xb200")))
    assert got == [("res: no on-demand threshold is known for GPU family 'b200' (instance type '8xb200'); known "
                    "families: a100, h100. Fix: give the cluster an explicit max_price_per_hour, and configure the "
                    "policy pack's threshold, e.g. {\"infrastructure-bid-floor\": {\"thresholds\": {\"b200\": 7.5}}} "
                    "(USD per GPU-hour) in --policy-pack-config", None)]


@pytest.mark.parametrize(("changes", "key", "value", "expected"), [
    ({"max_price_per_hour": None}, "max_price_per_hour", "None", "the bid of c"),
    ({"num_instances": 1.5}, "num_instances", "1.5", "a whole number of instances of c"),
    ({"num_instances": 0}, "num_instances", "0.0", "a whole number of instances of c"),
    ({"num_instances": -2}, "num_instances", "-2.0", "a whole number of instances of c"),
    ({"num_instances": "x"}, "num_instances", "'x'", "a number"),
    ({"num_instances": True}, "num_instances", "True", "a number"),
])
def test_budget_names_the_malformed_property(changes: dict[str, Any], key: str, value: str, expected: str) -> None:
    got = reports(budget.policy, stack_args([Res(TASK_TYPE, "c", task(**changes))], {"max_hourly_spend": 1000}))
    assert got == [(_malformed("the stack", key, value, expected), None)]


@pytest.mark.parametrize(("props", "total"), [
    ({}, "$100.00"),  # 2 x $50.00 (CLUSTER)
    ({"num_instances": None}, "$50.00"),  # one instance when the count is left out
    ({"num_instances": "3"}, "$150.00"),
    ({"num_instances": " $4 "}, "$200.00"),
])
def test_budget_counts_instances_as_given_and_one_when_left_out(props: dict[str, Any], total: str) -> None:
    got = reports(budget.policy, stack_args([Res(TASK_TYPE, "c", {**CLUSTER, **props})], {"max_hourly_spend": 1}))
    ((message, urn),) = got
    assert message.startswith(f"the stack's bids add up to {total}/hour (c $50.00 x "), message
    assert urn is None


def test_budget_lists_every_bid_and_a_paused_cluster_at_zero() -> None:
    stack = [Res(TASK_TYPE, "a", task()), Res(TASK_TYPE, "b", task(paused=True)), Res(TASK_TYPE, "c", task())]
    assert reports(budget.policy, stack_args(stack, {"max_hourly_spend": 150})) == [(
        "the stack's bids add up to $200.00/hour (a $50.00 x 2, b paused $0.00, c $50.00 x 2), over the budget "
        "max_hourly_spend=$150.00. Fix: lower bids or instance counts, or raise max_hourly_spend in "
        "--policy-pack-config", None)]


@pytest.mark.parametrize("allowed", ["us-central1-a", ["us-central1-a", 7]])
def test_allowed_regions_must_be_a_list_of_names(allowed: object) -> None:
    got = reports(regions.policy, resource_args(VOLUME_TYPE, VOLUME, config={"regions": allowed}))
    shown = "'us-central1-a'" if isinstance(allowed, str) else "['us-central1-a', 7]"
    assert got == [(_malformed("res", "regions", shown, "a list of region names"), None)]


def test_a_task_is_judged_by_the_region_it_resolved_to_when_it_names_none() -> None:
    placed = task(region=None, resolved_region="eu-central1-a")
    assert reports(regions.policy, resource_args(TASK_TYPE, placed, config={"regions": ["us-central1-a"]})) == [(
        "res is in eu-central1-a, outside the allowed regions ['us-central1-a']. Fix: set region to one of them",
        None)]
    assert reports(regions.policy, resource_args(TASK_TYPE, placed, config={"regions": ["eu-central1-a"]})) == []


def _mount(volume_id: str) -> list[dict[str, str]]:
    return [{"volume_id": volume_id, "mount_path": "/data", "interface": "file"}]


def test_stack_policies_file_each_report_under_the_resource_to_fix() -> None:
    block = {**VOLUME, "interface": "block", "volume_id": "vol_b"}
    stack = [Res(VOLUME_TYPE, "b", block), Res(TASK_TYPE, "t", task(num_instances=2), mounts=["b"]),
             Res(TASK_TYPE, "u", task(num_instances=1), mounts=["b"])]
    assert reports(volumes.block_policy, stack_args(stack)) == [
        ("t has 2 instances and mounts block volume b, which attaches to one instance only. Fix: make b interface "
         "'file', or run one instance", urn_of(TASK_TYPE, "t")),
        ("block volume b is mounted by 2 live tasks (t, u); it attaches to one. Fix: use interface 'file' to share "
         "it, or give each task its own volume", urn_of(VOLUME_TYPE, "b")),
    ]
    apart = [Res(VOLUME_TYPE, "v1", {**VOLUME, "volume_id": "vol_1", "region": "us-central1-a"}),
             Res(VOLUME_TYPE, "v2", {**VOLUME, "volume_id": "vol_2", "region": "eu-central1-a"}),
             Res(VOLUME_TYPE, "v3", {**VOLUME, "volume_id": "vol_3", "region": "eu-central1-a"}),
             Res(TASK_TYPE, "t", task(volumes=_mount("vol_1") + _mount("vol_2") + _mount("vol_3")))]
    assert reports(volumes.region_policy, stack_args(apart)) == [
        ("t mounts volumes from different regions (eu-central1-a: v2, v3; us-central1-a: v1); a task runs in one "
         "region. Fix: create its volumes in one region", urn_of(TASK_TYPE, "t"))]
    elsewhere = [Res(VOLUME_TYPE, "v2", {**VOLUME, "volume_id": "vol_2", "region": "eu-central1-a"}),
                 Res(VOLUME_TYPE, "v3", {**VOLUME, "volume_id": "vol_3", "region": "eu-central1-a"}),
                 Res(TASK_TYPE, "t", task(region="us-central1-a", volumes=_mount("vol_2") + _mount("vol_3")))]
    assert reports(volumes.region_policy, stack_args(elsewhere)) == [
        ("t runs in us-central1-a but mounts v2, v3 in eu-central1-a; Mithril mounts only within a region. Fix: set "
         "the task's region to eu-central1-a or leave it out", urn_of(TASK_TYPE, "t"))]


def test_a_block_volume_on_a_task_with_no_count_is_one_instance() -> None:
    block = {**VOLUME, "interface": "block", "volume_id": "vol_b"}
    stack = [Res(VOLUME_TYPE, "b", block), Res(TASK_TYPE, "t", {**CLUSTER, "num_instances": None}, mounts=["b"])]
    assert reports(volumes.block_policy, stack_args(stack)) == []


def test_a_malformed_mount_is_named_by_its_index() -> None:
    stack = [Res(VOLUME_TYPE, "v", VOLUME), Res(TASK_TYPE, "t", task(volumes=[{"volume_id": "vol_1"}, "junk"]))]
    assert reports(volumes.region_policy, stack_args(stack)) == [
        (_malformed("the stack", "volumes[1]", "'junk'", "a mapping"), None)]


def test_volumes_not_created_yet_do_not_stop_the_others_being_found() -> None:
    """In a preview a new volume has no id yet; a mounted one that exists must still be checked."""
    stack = [Res(VOLUME_TYPE, "new", {**VOLUME, "volume_id": UNKNOWN_ID}),
             Res(VOLUME_TYPE, "v", {**VOLUME, "volume_id": "vol_1", "region": "eu-central1-a"}),
             Res(TASK_TYPE, "t", task(region="us-central1-a", volumes=_mount("vol_1")))]
    ((message, urn),) = reports(volumes.region_policy, stack_args(stack))
    assert message.startswith("t runs in us-central1-a but mounts v in eu-central1-a")
    assert urn == urn_of(TASK_TYPE, "t")


@pytest.mark.parametrize(("count", "shown", "expected"), [
    ("inf", "'inf'", "a finite number"), ("X4", "'X4'", "a number"), ({"n": 4}, "{'n': 4.0}", "a number"),
])
def test_an_instance_count_that_is_no_count_is_named(count: object, shown: str, expected: str) -> None:
    got = reports(budget.policy, stack_args([Res(TASK_TYPE, "c", task(num_instances=count))], {"max_hourly_spend": 1}))
    assert got == [(_malformed("the stack", "num_instances", shown, expected), None)]


def test_volumes_that_are_no_list_are_named() -> None:
    stack = [Res(VOLUME_TYPE, "v", VOLUME), Res(TASK_TYPE, "t", task(volumes="vol_1"))]
    assert reports(volumes.region_policy, stack_args(stack)) == [
        (_malformed("the stack", "volumes", "'vol_1'", "a list"), None)]


def test_a_mount_of_a_volume_outside_the_stack_is_not_judged() -> None:
    stack = [Res(VOLUME_TYPE, "v", {**VOLUME, "region": "eu-central1-a"}),
             Res(TASK_TYPE, "t", task(region="us-central1-a", volumes=_mount("vol_elsewhere")))]
    assert reports(volumes.region_policy, stack_args(stack)) == []
    assert reports(volumes.block_policy, stack_args(stack)) == []


def test_a_block_volume_after_a_file_volume_is_still_judged() -> None:
    stack = [Res(VOLUME_TYPE, "f", {**VOLUME, "volume_id": "vol_f"}),
             Res(VOLUME_TYPE, "b", {**VOLUME, "interface": "block", "volume_id": "vol_b"}),
             Res(TASK_TYPE, "t", task(num_instances=2, volumes=_mount("vol_f") + _mount("vol_b")))]
    ((message, _),) = reports(volumes.block_policy, stack_args(stack))
    assert message.startswith("t has 2 instances and mounts block volume b")


def test_the_budget_sums_every_live_task_whatever_comes_before_it() -> None:
    stack = [Res(VOLUME_TYPE, "v", VOLUME), Res(TASK_TYPE, "done", task(status="completed")),
             Res(TASK_TYPE, "a", task()), Res(TASK_TYPE, "b", task(num_instances=1))]
    ((message, _),) = reports(budget.policy, stack_args(stack, {"max_hourly_spend": 100}))
    assert message.startswith("the stack's bids add up to $150.00/hour (a $50.00 x 2, b $50.00 x 1)")


def test_a_list_where_a_number_belongs_is_shown_as_written() -> None:
    got = reports(budget.policy, stack_args([Res(TASK_TYPE, "c", task(num_instances=[1, {"n": 2}]))],
                                            {"max_hourly_spend": 1}))
    assert got == [(_malformed("the stack", "num_instances", "[1.0, {'n': 2.0}]", "a number"), None)]
