"""The plugin's conversions between the engine's property values and what the providers and components use."""

from __future__ import annotations

import math

import pytest
from pulumi.provider.experimental.property_value import Computed, PropertyValue
from pulumi.runtime.rpc import UNKNOWN

from pulumi_flow.plugin.provider import _keep_secret, _wire_path, from_python, to_python


@pytest.mark.parametrize(("field", "wire"), [
    ("TrainingClusterArgs.max_price_per_hour", "maxPricePerHour"),
    ("TrainingJobArgs.ready_timeout_minutes", "readyTimeoutMinutes"),
    ("DataVolumesArgs.volumes['data']", "volumes['data']"),
    ("volumes[1].mountPath", "volumes[1].mountPath"),
    ("ssh_keys[0]", "sshKeys[0]"),
    ("mount.path", "mount.path"),
])
def test_errors_name_fields_as_the_program_wrote_them(field: str, wire: str) -> None:
    assert _wire_path(field) == wire


def test_values_round_trip_and_unknowns_stay_the_wire_sentinel() -> None:
    plain = {"num_instances": 4, "max_price_per_hour": 50.25, "paused": False, "region": None,
             "volumes": [{"volume_id": UNKNOWN, "mount_path": "/data"}], "env": {"A": "1"}}
    wired = {key: from_python(value) for key, value in plain.items()}
    assert wired["num_instances"].value == 4.0 and isinstance(wired["num_instances"].value, float)
    assert {key: to_python(value) for key, value in wired.items()} == plain
    assert to_python(PropertyValue(Computed())) == UNKNOWN
    nested = PropertyValue([PropertyValue({"volume_id": PropertyValue(UNKNOWN)})])
    assert nested.marshal().list_value.values[0].struct_value.fields["volume_id"].string_value == UNKNOWN
    with pytest.raises(ValueError, match="not a finite number"):
        from_python(math.inf)


def test_an_output_is_secret_when_its_input_held_a_secret_anywhere() -> None:
    given = {"env": PropertyValue({"TOKEN": PropertyValue("t", is_secret=True)}), "region": PropertyValue("r")}
    outputs = {"env": from_python({"TOKEN": "t"}), "region": from_python("r"), "task_id": from_python("bid_1")}
    kept = _keep_secret(given, outputs)
    assert [key for key, value in kept.items() if value.is_secret] == ["env"]
