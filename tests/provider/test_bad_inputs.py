"""Bad inputs are refused by `check`, naming field, value and fix, before any request reaches Mithril."""

from __future__ import annotations

import math
from typing import Any

import pytest

from pulumi_flow import declarations as d
from pulumi_flow.provider import FlowTaskProvider, FlowVolumeProvider
from pulumi_flow.testing.emulator import RunningEmulator

GOOD_TASK: dict[str, Any] = {
    "role": "infrastructure", "instance_type": "8xa100", "num_instances": 1, "max_price_per_hour": 25.0,
    "command": "sleep infinity", "task_name": "gpu-infra-1a2b3c4d",
    "volumes": [{"volume_id": "vol_1", "mount_path": "/data", "interface": "file"}],
}
GOOD_VOLUME: dict[str, Any] = {"volume_name": "data-1a2b3c4d", "size_gb": 100, "interface": "file"}


def _mounts(*paths: str, interface: str = "file") -> list[dict[str, str]]:
    return [{"volume_id": f"vol_{i}", "mount_path": p, "interface": interface} for i, p in enumerate(paths)]


# (case id, changes to GOOD_TASK, failing field, text the reason must contain)
TASK_CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("empty instance type", {"instance_type": ""}, "instance_type", "empty"),
    ("unknown grammar", {"instance_type": "8x"}, "instance_type", "8xa100"),
    ("zero gpus", {"instance_type": "0xa100"}, "instance_type", "0xa100"),
    ("bare family", {"instance_type": "h100"}, "instance_type", "8xh100"),
    ("count twice", {"instance_type": "8xh100:8"}, "instance_type", "twice"),
    ("instance type not text", {"instance_type": 8}, "instance_type", "string"),
    ("bid zero", {"max_price_per_hour": 0}, "max_price_per_hour", "positive"),
    ("bid negative", {"max_price_per_hour": -5.0}, "max_price_per_hour", "-5.0"),
    ("bid nan", {"max_price_per_hour": math.nan}, "max_price_per_hour", "finite"),
    ("bid inf", {"max_price_per_hour": math.inf}, "max_price_per_hour", "finite"),
    ("bid text", {"max_price_per_hour": "fifty"}, "max_price_per_hour", "'fifty'"),
    ("bid absurd", {"max_price_per_hour": 50_000}, "max_price_per_hour", "typo"),
    ("bid missing", {"max_price_per_hour": None}, "max_price_per_hour", "required"),
    ("zero instances", {"num_instances": 0}, "num_instances", "1 to 100"),
    ("101 instances", {"num_instances": 101}, "num_instances", "1 to 100"),
    ("fractional instances", {"num_instances": 2.5}, "num_instances", "whole number"),
    ("relative mount", {"volumes": _mounts("data")}, "volumes[0].mount_path", "absolute"),
    ("duplicate mount", {"volumes": _mounts("/data", "/data")}, "volumes[1].mount_path", "twice"),
    ("nested mount", {"volumes": _mounts("/mnt/a", "/mnt/a/b")}, "volumes[1].mount_path", "nested"),
    ("disallowed mount", {"volumes": _mounts("/models")}, "volumes[0].mount_path", "/mnt/models"),
    ("mount with dots", {"volumes": _mounts("/data/../etc")}, "volumes[0].mount_path", ".."),
    ("block on many", {"num_instances": 4, "volumes": _mounts("/data", interface="block")},
     "volumes[0].interface", "interface='file'"),
    ("unknown interface", {"volumes": _mounts("/data", interface="nfs")}, "volumes[0].interface", "'nfs'"),
    ("mount missing volume id", {"volumes": [{"mount_path": "/data"}]}, "volumes[0].volume_id", "required"),
    ("env number", {"env": {"EPOCHS": 3}}, "env.EPOCHS", "quote it"),
    ("env bad name", {"env": {"1BAD": "x"}}, "env.1BAD", "environment variable name"),
    ("env not a mapping", {"env": ["A=1"]}, "env", "mapping"),
    ("task name upper", {"task_name": "GPU_Infra"}, "task_name", "lowercase"),
    ("task name too long", {"task_name": "a" * 64}, "task_name", "63"),
    ("bad role", {"role": "cluster"}, "role", "'infrastructure'"),
    ("bad wait", {"wait_until": "ready"}, "wait_until", "'submitted'"),
    ("infra completes", {"wait_until": "completed"}, "wait_until", "never completes"),
    ("run time too long", {"max_run_time_hours": 200}, "max_run_time_hours", "168"),
    ("timeout zero", {"ready_timeout_minutes": 0}, "ready_timeout_minutes", "above 0"),
    ("region malformed", {"region": "US Central"}, "region", "us-central1-a"),
    ("ssh keys a string", {"ssh_keys": "sshkey_1"}, "ssh_keys", "list"),
    ("empty command", {"command": "  "}, "command", "non-empty"),
    ("unknown input", {"max_price": 50}, "max_price", "not a FlowTask input"),
]

VOLUME_CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("size zero", {"size_gb": 0}, "size_gb", "1 to 16384"),
    ("size too big", {"size_gb": 16385}, "size_gb", "1 to 16384"),
    ("size fractional", {"size_gb": 10.5}, "size_gb", "whole number"),
    ("size text", {"size_gb": "1TB"}, "size_gb", "'1TB'"),
    ("bad interface", {"interface": "nvme"}, "interface", "'block'"),
    ("name with underscore", {"volume_name": "my_data"}, "volume_name", "'-'"),
    ("name starting with digit", {"volume_name": "1data"}, "volume_name", "starting with a letter"),
    ("missing size", {"size_gb": None}, "size_gb", "required"),
]


def test_good_inputs_pass() -> None:
    assert FlowTaskProvider().check({}, GOOD_TASK).failures == []
    assert FlowVolumeProvider().check({}, GOOD_VOLUME).failures == []


@pytest.mark.parametrize(("changes", "field", "needle"), [c[1:] for c in TASK_CASES], ids=[c[0] for c in TASK_CASES])
def test_bad_task_input(mithril: RunningEmulator, changes: dict[str, Any], field: str, needle: str) -> None:
    failures = FlowTaskProvider().check({}, {**GOOD_TASK, **changes}).failures
    reasons = {f.property: f.reason for f in failures}
    assert field in reasons, f"expected a failure on {field}, got {reasons}"
    assert needle in reasons[field]
    assert "Fix:" in reasons[field]
    assert mithril.control.requests() == []


@pytest.mark.parametrize(("changes", "field", "needle"), [c[1:] for c in VOLUME_CASES],
                         ids=[c[0] for c in VOLUME_CASES])
def test_bad_volume_input(mithril: RunningEmulator, changes: dict[str, Any], field: str, needle: str) -> None:
    failures = FlowVolumeProvider().check({}, {**GOOD_VOLUME, **changes}).failures
    reasons = {f.property: f.reason for f in failures}
    assert field in reasons, f"expected a failure on {field}, got {reasons}"
    assert needle in reasons[field]
    assert mithril.control.requests() == []



UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
MINIMAL_TASK: dict[str, Any] = {"role": "infrastructure", "instance_type": "8xa100", "max_price_per_hour": 25.0,
                                "command": "sleep infinity", "task_name": "gpu-infra-1a2b3c4d"}


@pytest.mark.parametrize(("role", "wait_until"), [("infrastructure", "running"), ("workload", "submitted")])
def test_check_fills_in_what_the_engine_records_for_left_out_inputs(role: str, wait_until: str) -> None:
    result = FlowTaskProvider().check({}, {**MINIMAL_TASK, "role": role, "__provider": "pickled provider"})
    assert result.failures == []
    assert {k: result.inputs[k] for k in ("num_instances", "paused", "replacement", "env", "volumes", "ssh_keys",
                                          "ready_timeout_minutes", "wait_until")} == {
        "num_instances": 1, "paused": False, "replacement": "delete-first", "env": {}, "volumes": [], "ssh_keys": [],
        "ready_timeout_minutes": 30.0, "wait_until": wait_until}


def test_a_role_unknown_in_a_preview_leaves_the_wait_to_be_decided() -> None:
    result = FlowTaskProvider().check({}, {**MINIMAL_TASK, "role": UNKNOWN})
    assert result.inputs["wait_until"] is None


def test_unknown_and_missing_task_inputs_are_named_with_the_fix() -> None:
    failures = FlowTaskProvider().check({}, {**MINIMAL_TASK, "role": "workload", "command": None,
                                             "colour": "blue"}).failures
    assert [(f.property, f.reason) for f in failures] == [
        ("colour", f"'blue': is not a FlowTask input. Fix: use only {', '.join(d.TASK.input_keys)}"),
        ("command", "None: is required for a workload. Fix: set command on the FlowTask"),
    ]


def test_infrastructure_without_a_command_idles_as_an_imported_bid_does() -> None:
    result = FlowTaskProvider().check({}, {**MINIMAL_TASK, "command": None})
    assert result.failures == [] and result.inputs["command"] is None


def test_infrastructure_cannot_wait_to_complete() -> None:
    failures = FlowTaskProvider().check({}, {**MINIMAL_TASK, "wait_until": "completed"}).failures
    assert [(f.property, f.reason) for f in failures] == [
        ("wait_until", "'completed': infrastructure runs until deleted and never completes. Fix: use 'running' (the "
                       "default) or 'submitted'")]


@pytest.mark.parametrize("changes", [
    {"num_instances": UNKNOWN, "volumes": _mounts("/data", interface="block")},
    {"num_instances": 2, "volumes": [{"volume_id": UNKNOWN, "mount_path": "/data", "interface": "block"}]},
])
def test_a_block_volume_rule_waits_for_unknown_counts_and_mounts(changes: dict[str, Any]) -> None:
    assert FlowTaskProvider().check({}, {**MINIMAL_TASK, **changes}).failures == []
    known = {**MINIMAL_TASK, "num_instances": 2, "volumes": _mounts("/data", interface="block")}
    assert [f.property for f in FlowTaskProvider().check({}, known).failures] == ["volumes[0].interface"]


@pytest.mark.parametrize("missing", ["role", "instance_type", "max_price_per_hour", "task_name"])
def test_each_required_task_input_left_out_is_named_with_the_fix(missing: str) -> None:
    news = {key: value for key, value in MINIMAL_TASK.items() if key != missing}
    failures = FlowTaskProvider().check({}, news).failures
    assert [(f.property, f.reason) for f in failures] == [
        (missing, f"None: is required. Fix: set {missing} on the FlowTask")]
