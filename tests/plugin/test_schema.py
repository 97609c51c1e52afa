"""The `flow` schema against the Python API it describes: names, required inputs, outputs, docs, secrets."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from pulumi_flow import naming
from pulumi_flow.components._task import TaskComponent
from pulumi_flow.components.cluster import TrainingClusterArgs
from pulumi_flow.components.job import TrainingJobArgs
from pulumi_flow.components.volumes import DataVolumes, DataVolumesArgs, VolumeSpec
from pulumi_flow.plugin import schema
from pulumi_flow.provider import task as task_provider
from pulumi_flow.provider import volume as volume_provider
from pulumi_flow.resources import FlowTaskArgs, FlowVolumeArgs

SCHEMA = schema.build()
RESOURCES = SCHEMA["resources"]


def _fields(args_class: type) -> dict[str, attrs.Attribute]:
    return {f.name: f for f in attrs.fields(args_class)}


@pytest.mark.parametrize(("token", "args_class", "wire"), [
    ("flow:index:Task", FlowTaskArgs, str), ("flow:index:Volume", FlowVolumeArgs, str),
    ("flow:index:TrainingCluster", TrainingClusterArgs, schema.camel),
    ("flow:index:TrainingJob", TrainingJobArgs, schema.camel),
    ("flow:index:DataVolumes", DataVolumesArgs, schema.camel),
])
def test_inputs_are_the_python_args(token: str, args_class: type, wire: Any) -> None:
    fields = _fields(args_class)
    spec = RESOURCES[token]
    assert sorted(spec["inputProperties"]) == sorted(wire(name) for name in fields)
    assert sorted(spec["requiredInputs"]) == sorted(wire(n) for n, f in fields.items() if f.default is attrs.NOTHING)
    for name, field in fields.items():
        default = field.default
        if default is not attrs.NOTHING and default is not None and not isinstance(default, attrs.Factory):  # type: ignore[arg-type]
            assert spec["inputProperties"][wire(name)]["default"] == default, name


def test_custom_resource_outputs_are_the_providers_outputs() -> None:
    task = RESOURCES["flow:index:Task"]["properties"]
    volume = RESOURCES["flow:index:Volume"]["properties"]
    assert set(task) == {*_fields(FlowTaskArgs), *task_provider.OUTPUT_KEYS}
    assert set(volume) == {*_fields(FlowVolumeArgs), *volume_provider.OUTPUT_KEYS}
    # Every input the provider records is in the schema, but the internal auto-naming flag.
    assert set(task_provider.INPUT_KEYS) - set(task) == {naming.AUTO_NAMED}
    assert set(volume_provider.INPUT_KEYS) - set(volume) == {naming.AUTO_NAMED}


def test_component_outputs_are_what_the_classes_expose() -> None:
    exposed = {name for name, hint in TaskComponent.__annotations__.items() if "Output" in str(hint)}
    for token in ("flow:index:TrainingCluster", "flow:index:TrainingJob"):
        assert set(RESOURCES[token]["properties"]) == {schema.camel(n) for n in exposed}
    assert set(RESOURCES["flow:index:DataVolumes"]["properties"]) == {
        schema.camel(n) for n, hint in DataVolumes.__annotations__.items() if "Output" in str(hint)}


def test_volume_spec_and_mount_types() -> None:
    types = SCHEMA["types"]
    assert set(types["flow:index:VolumeSpec"]["properties"]) == {schema.camel(n) for n in _fields(VolumeSpec)}
    assert types["flow:index:VolumeMount"]["required"] == ["mountPath", "volumeId"]


def _properties(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found = []
    for group in ("inputProperties", "properties"):
        for name, spec in (node.get(group) or {}).items():
            found.append((f"{path}.{group}.{name}", spec))
    return found


def test_every_property_has_a_description_and_the_key_is_secret() -> None:
    nodes = {**RESOURCES, **SCHEMA["types"], "provider": SCHEMA["provider"]}
    everything = [entry for token, node in nodes.items() for entry in _properties(node, token)]
    everything += [(f"config.{k}", v) for k, v in SCHEMA["config"]["variables"].items()]
    assert len(everything) > 100
    assert [path for path, spec in everything if len(spec.get("description", "")) < 10] == []
    assert [path for path, spec in everything if spec.get("secret")] == ["provider.inputProperties.apiKey",
                                                                          "config.apiKey"]
    assert all(RESOURCES[token].get("description") for token in RESOURCES)


def test_names_round_trip() -> None:
    for name in ("max_price_per_hour", "ssh_keys", "size_gb", "volume_ids", "role"):
        assert schema.snake(schema.camel(name)) == name
