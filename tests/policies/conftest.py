"""Build policy arguments exactly as pulumi_policy's analyzer does from the engine's request.

Properties go through a protobuf Struct, `MessageToDict`, `deserialize_properties` and the
unknown-checking proxy, so policies see `_DictProxy`/`_ListProxy` values and preview unknowns
raise `UnknownValueError`, as in a real `pulumi preview`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
from google.protobuf import json_format, struct_pb2
from pulumi_policy import (
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.policy import PolicyCustomTimeouts
from pulumi_policy.proxy import unknown_checking_proxy

from pulumi_flow import resources

# The pack judges what a resource is, not its type token. This suite runs once as is (the dynamic types), once
# with HOSTING=plugin (`flow:index:Task|Volume`) and once with HOSTING=custom (a user's own resource types built on
# pulumi-flow's providers), from test_hostings.py: same cases, same verdicts.
HOSTING = os.environ.get("PULUMI_FLOW_TEST_HOSTING", "dynamic")
CUSTOM_TASK_TYPE, CUSTOM_VOLUME_TYPE = "mycorp:index:GpuBox", "pulumi-python:dynamic/mycorp:Disk"
TASK_TYPE, VOLUME_TYPE = {
    "plugin": (resources.PLUGIN_TASK_TYPE, resources.PLUGIN_VOLUME_TYPE),
    "custom": (CUSTOM_TASK_TYPE, CUSTOM_VOLUME_TYPE),
}.get(HOSTING, (resources.TASK_TYPE, resources.VOLUME_TYPE))
RESERVATION_TYPE = {"plugin": resources.PLUGIN_RESERVATION_TYPE, "custom": "mycorp:index:Reserved"}.get(
    HOSTING, resources.RESERVATION_TYPE)

POOL_TYPE = {"plugin": resources.PLUGIN_POOL_TYPE, "custom": "mycorp:index:GpuPool"}.get(HOSTING, resources.POOL_TYPE)

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"

CLUSTER: dict[str, Any] = {
    "role": "infrastructure", "instance_type": "8xh100", "num_instances": 2, "max_price_per_hour": 50.0,
    "command": "sleep infinity", "task_name": "gpu-1a2b3c4d", "volumes": [], "env": {}, "ssh_keys": [],
    "region": None, "wait_until": "running", "ready_timeout_minutes": 30.0,
}
JOB: dict[str, Any] = {**CLUSTER, "role": "workload", "instance_type": "4xa100", "num_instances": 1,
                       "max_price_per_hour": 6.0, "max_run_time_hours": 24.0, "wait_until": "submitted"}
# Bought: 2 instances for 48 hours at $32.00, committed $3,072.00.
RESERVATION: dict[str, Any] = {
    "instance_type": "8xa100", "quantity": 2, "region": "us-central1-a", "duration_hours": 48.0,
    "max_unit_price": 40.0, "reservation_name": "reserved-1a2b3c4d", "paused": False, "volumes": [], "ssh_keys": [],
    "reservation_id": "res_1", "status": "Active", "unit_price": 32.0, "committed_usd": 3072.0,
    "starts_at": "2030-01-01T00:00:00Z", "ends_at": "2030-01-03T00:00:00Z",
}
# 4 x 8xh100 or 8 x 4xa100, at most $7.00/GPU-hour: $224.00/hour at most.
POOL: dict[str, Any] = {
    "target_gpus": 32, "max_price_per_gpu_hour": 7.0, "instance_types": ["8xh100", "4xa100"],
    "regions": ["us-central1-a", "eu-central1-a"], "volumes": [], "env": {}, "ssh_keys": [],
    "pool_name": "gpus-1a2b3c4d", "pool_id": "gpus-1a2b3c4d", "gpus_held": 32, "unfilled_gpus": 0,
}
VOLUME: dict[str, Any] = {"volume_name": "data-1a2b3c4d", "size_gb": 1000, "interface": "file",
                          "region": "us-central1-a", "volume_id": "vol_1"}


def wire(props: Mapping[str, Any]) -> Any:
    struct = struct_pb2.Struct()
    struct.update(dict(props))
    return unknown_checking_proxy(deserialize_properties(json_format.MessageToDict(struct)))


def _opts(protect: bool) -> PolicyResourceOptions:
    return PolicyResourceOptions(protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])


def urn_of(type_: str, name: str) -> str:
    return f"urn:pulumi:dev::proj::{type_}::{name}"


def resource_args(type_: str, props: Mapping[str, Any], *, name: str = "res", protect: bool = False,
                  config: Mapping[str, Any] | None = None) -> ResourceValidationArgs:
    return ResourceValidationArgs(type_, wire(props), urn_of(type_, name), name, _opts(protect), None,
                                  dict(config or {}))


@attrs.frozen
class Res:
    """A stack resource for StackValidationArgs: `mounts` names volumes the `volumes` property depends on."""

    type: str
    name: str
    props: Mapping[str, Any]
    mounts: Sequence[str] = ()
    protect: bool = False


def stack_args(resources: Sequence[Res], config: Mapping[str, Any] | None = None) -> StackValidationArgs:
    built = {r.name: PolicyResource(r.type, wire(r.props), urn_of(r.type, r.name), r.name, _opts(r.protect), None,
                                    None, [], {}) for r in resources}
    for r in resources:
        if r.mounts:
            built[r.name].property_dependencies["volumes"] = [built[m] for m in r.mounts]
            built[r.name].dependencies.extend(built[m] for m in r.mounts)
    return StackValidationArgs(list(built.values()), dict(config or {}))


def reports(policy: ResourceValidationPolicy | StackValidationPolicy,
            args: ResourceValidationArgs | StackValidationArgs) -> list[tuple[str, str | None]]:
    """What the policy reports: (message, the URN it files it under; None for the judged resource or stack)."""
    found: list[tuple[str, str | None]] = []
    policy.validate(args, lambda message, urn=None: found.append((message, urn)))  # type: ignore[arg-type]
    return found


def violations(policy: ResourceValidationPolicy | StackValidationPolicy,
               args: ResourceValidationArgs | StackValidationArgs) -> list[str]:
    return [message for message, _ in reports(policy, args)]


def task(props: Mapping[str, Any] | None = None, **changes: Any) -> dict[str, Any]:
    return {**(props or CLUSTER), **changes}


__all__ = ["CLUSTER", "JOB", "TASK_TYPE", "UNKNOWN", "VOLUME", "VOLUME_TYPE", "Res", "reports", "resource_args",
           "stack_args", "task", "violations"]
