"""Each resource is declared once (`pulumi_flow.declarations`): everything else is held to that declaration here.

Every test walks the declaration, so an input added there is checked by all of them without a new line in this file:
what a change of it does in `diff`, what `check` fills in and refuses, what an import records, the Args class, the
schema's types and docs, and the registered properties of both hostings.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from pulumi_flow import declarations as d
from pulumi_flow import naming
from pulumi_flow.components import _task as task_component
from pulumi_flow.components import pool as spot_pool
from pulumi_flow.components import volumes as data_volumes
from pulumi_flow.plugin import schema
from pulumi_flow.provider import FlowReservationProvider, FlowTaskProvider, FlowVolumeProvider
from pulumi_flow.provider import task as task_provider
from pulumi_flow.provider.base import FlowProvider
from pulumi_flow.provider.pool import FlowSpotPoolProvider
from pulumi_flow.resources import PoolOutputs, ReservationOutputs, TaskOutputs, VolumeOutputs

# A valid value of each input and another one, to change it by.
TASK_VALUES: dict[str, tuple[Any, Any]] = {
    "role": ("infrastructure", "workload"), "instance_type": ("8xa100", "8xh100"), "num_instances": (2, 3),
    "region": ("us-central1-a", "eu-central1-a"), "command": ("sleep infinity", "python train.py"),
    "image": ("ubuntu:24.04", "nvcr.io/nvidia/pytorch:24.05-py3"), "env": ({}, {"A": "1"}),
    "volumes": ([], [{"volume_id": "vol_1", "mount_path": "/data", "interface": "file"}]),
    "ssh_keys": ([], ["sshkey_1"]), "max_run_time_hours": (24.0, 12.0), "max_preemptions": (3, 5),
    "task_name": ("gpu-1a2b3c4d", "gpu-2"),
    "max_price_per_hour": (30.0, 31.0), "paused": (False, True), "wait_until": ("running", "submitted"),
    "ready_timeout_minutes": (30.0, 10.0), "replacement": ("delete-first", "create-first"),
    "owner": ("0123456789abcdef", "fedcba9876543210"), naming.AUTO_NAMED: (True, False),
}
VOLUME_VALUES: dict[str, tuple[Any, Any]] = {
    "size_gb": (100, 200), "interface": ("file", "block"), "region": ("us-central1-a", "eu-central1-a"),
    "volume_name": ("data-1a2b3c4d", "renamed"), "allow_replacement": (True, False),
    "owner": ("0123456789abcdef", "fedcba9876543210"), naming.AUTO_NAMED: (True, False),
}
RESERVATION_VALUES: dict[str, tuple[Any, Any]] = {
    "instance_type": ("8xa100", "8xh100"), "quantity": (2, 3), "region": ("us-central1-a", "eu-central1-a"),
    "start_time": ("2030-01-01T00:00:00Z", "2030-01-02T00:00:00Z"),
    "end_time": ("2030-01-08T00:00:00Z", "2030-01-09T00:00:00Z"), "duration_hours": (168.0, 192.0),
    "volumes": ([], ["vol_1"]), "ssh_keys": ([], ["sshkey_1"]), "startup_script": ("echo hi", "echo bye"),
    "command": ("sleep infinity", "python serve.py"), "image": ("ubuntu:24.04", "nvcr.io/nvidia/pytorch:24.05-py3"),
    "env": ({}, {"A": "1"}), "mounts": ([], [{"volume_id": "vol_1", "mount_path": "/data", "interface": "file"}]),
    "max_unit_price": (40.0, 41.0), "paused": (False, True), "ready_timeout_minutes": (30.0, 10.0),
    "reservation_name": ("res-1a2b3c4d", "res-2"),
    "owner": ("0123456789abcdef", "fedcba9876543210"), naming.AUTO_NAMED: (True, False),
}
POOL_VALUES: dict[str, tuple[Any, Any]] = {
    "target_gpus": (16, 24), "max_price_per_gpu_hour": (6.5, 7.0), "instance_types": (["8xh100"], ["8xa100"]),
    "regions": ([], ["us-central1-a"]), "command": ("sleep infinity", "python serve.py"),
    "image": ("ubuntu:24.04", "nvcr.io/nvidia/pytorch:24.05-py3"), "env": ({}, {"A": "1"}),
    "volumes": ([], [{"volume_id": "vol_1", "mount_path": "/data", "interface": "file"}]),
    "ssh_keys": ([], ["sshkey_1"]), "ready_timeout_minutes": (30.0, 10.0), "pool_name": ("gpus-1a2b3c4d", "gpus-2"),
    "owner": ("0123456789abcdef", "fedcba9876543210"), naming.AUTO_NAMED: (True, False),
}
CASES = [(d.TASK, FlowTaskProvider, TASK_VALUES), (d.VOLUME, FlowVolumeProvider, VOLUME_VALUES),
         (d.RESERVATION, FlowReservationProvider, RESERVATION_VALUES), (d.POOL, FlowSpotPoolProvider, POOL_VALUES)]
IDS = ["task", "volume", "reservation", "pool"]
# What a declaration asks beyond its required inputs: a reservation's end, as `end_time` or `duration_hours`.
ALSO_NEEDED: dict[str, dict[str, Any]] = {"Reservation": {"duration_hours": 168.0}}


@pytest.mark.parametrize(("declaration", "provider", "values"), CASES, ids=IDS)
def test_every_input_has_test_values(declaration: d.Declaration, provider: type[FlowProvider],
                                     values: dict[str, tuple[Any, Any]]) -> None:
    assert set(values) == set(declaration.input_keys), "give each new input two valid values above"


@pytest.mark.parametrize(("declaration", "provider", "values"), CASES, ids=IDS)
def test_diff_does_what_each_input_declares(declaration: d.Declaration, provider: type[FlowProvider],
                                           values: dict[str, tuple[Any, Any]]) -> None:
    olds = {key: first for key, (first, _second) in values.items()}
    for key, facts in declaration.inputs.items():
        news = {**olds, key: values[key][1], "allow_replacement": True}
        if key == "allow_replacement":
            news = {**olds, key: values[key][1]}
        result = provider().diff("id", olds, news)
        assert (key in (result.replaces or []), bool(result.changes)) == {
            d.Change.REPLACE: (True, True), d.Change.UPDATE: (False, True),
            # The values above add a volume, which is attached in place (the rest: tests/provider).
            d.Change.ATTACH: (False, True),
            d.Change.NONE: (False, False), d.Change.FIXED: (False, False)}[facts.change], key


@pytest.mark.parametrize(("declaration", "provider", "values"), CASES, ids=IDS)
def test_check_fills_requires_and_rules_each_input_as_declared(declaration: d.Declaration,
                                                               provider: type[FlowProvider],
                                                               values: dict[str, tuple[Any, Any]]) -> None:
    required = {**{key: values[key][0] for key in declaration.required}, **ALSO_NEEDED.get(declaration.name, {})}
    checked = provider().check({}, required)
    assert checked.failures == []
    for key, fill in declaration.filled().items():
        if key in ("wait_until", "owner"):
            continue  # derived from role; drawn at random (both tested where they are made)
        assert checked.inputs[key] == required.get(key, fill), key
    for key in declaration.required:
        missing = provider().check({}, {k: v for k, v in required.items() if k != key})
        assert key in [f.property for f in missing.failures], key
    for key in declaration.rules:
        refused = provider().check({}, {**required, key: object()})
        assert key in [f.property for f in refused.failures], key


def test_a_bid_name_digests_exactly_the_declared_inputs() -> None:
    base = {key: first for key, (first, _second) in TASK_VALUES.items()}
    for key in d.TASK.input_keys:
        changed = {**base, key: TASK_VALUES[key][1]}
        digested = task_provider.bid_name(changed) != task_provider.bid_name(base)
        assert digested == (d.TASK.inputs[key].in_bid_name or key in ("task_name", "owner")), key


def test_an_import_records_every_declared_input() -> None:
    class Bid:
        task_id, name, instance_type, num_instances, region = "bid_1", "legacy", "8xa100", 1, "us-central1-a"
        provider_metadata = {"limit_price": "$40.00", "bid_status": "Allocated"}

    imported = FlowTaskProvider._imported_inputs(Bid())  # type: ignore[arg-type]
    assert set(imported) == set(d.TASK.input_keys)
    assert FlowTaskProvider().check({}, imported).failures == []


@pytest.mark.parametrize(("declaration", "args"), [(d.TASK, d.FlowTaskArgs), (d.VOLUME, d.FlowVolumeArgs),
                                                   (d.RESERVATION, d.FlowReservationArgs),
                                                   (d.POOL, d.FlowSpotPoolArgs)], ids=IDS)
def test_the_schema_is_the_declaration(declaration: d.Declaration, args: type) -> None:
    resource = schema.build()["resources"][f"flow:index:{declaration.name}"]
    fields = {field.name: field for field in attrs.fields(args)}
    assert list(resource["inputProperties"]) == list(fields)
    assert sorted(resource["requiredInputs"]) == sorted(n for n, f in fields.items() if f.default is attrs.NOTHING)
    assert set(resource["properties"]) == {*fields, *declaration.output_keys}
    for name, spec in resource["properties"].items():
        assert spec["description"] == declaration.docs[name], name
        assert {k: v for k, v in spec.items() if k not in ("description", "default")} == declaration.wires[name], name


def test_the_owner_schema_is_the_declaration() -> None:
    owner = schema.build()["resources"]["flow:index:Owner"]
    assert owner["inputProperties"] == {} and list(owner["properties"]) == list(d.OWNER.output_keys)


@pytest.mark.parametrize(("declaration", "typed"), [(d.TASK, TaskOutputs), (d.VOLUME, VolumeOutputs),
                                                    (d.RESERVATION, ReservationOutputs), (d.POOL, PoolOutputs)],
                         ids=IDS)
def test_the_typed_outputs_are_the_declared_ones(declaration: d.Declaration, typed: type) -> None:
    """What Python programs see as `Output` attributes: the outputs, and the inputs they read back."""
    annotated = {name for cls in typed.__mro__ for name in vars(cls).get("__annotations__", {})}
    assert set(declaration.output_keys) <= annotated <= {*declaration.output_keys, *declaration.input_keys}


def test_a_components_registered_outputs_are_its_schemas() -> None:
    built = schema.build()["resources"]
    for token in ("flow:index:TrainingCluster", "flow:index:TrainingJob"):
        assert list(built[token]["properties"]) == [schema.camel(k) for k in task_component.OUTPUTS]
    assert list(built["flow:index:DataVolumes"]["properties"]) == [schema.camel(k) for k in data_volumes.OUTPUTS]
    assert list(built["flow:index:SpotPool"]["properties"]) == [schema.camel(k) for k in spot_pool.OUTPUTS]
