"""The `flow` package's Pulumi schema, built from the Python API it describes.

Property names, required inputs and defaults come from the attrs classes (`FlowTaskArgs`,
`TrainingClusterArgs`, ...) and the providers' output lists, so the schema cannot drift from what the
Python code accepts; this module adds only what Python cannot say: the wire type of each property
and its description (which the generated SDKs show as docs).

Naming: the components are the user-facing API and follow Pulumi's convention (camelCase, as the
generated SDKs and YAML expect). The custom resources `Task` and `Volume` keep the providers' own
snake_case names: they are the same properties the dynamic resources store, so the policy pack reads
one shape and a stack moves between the two hostings without a diff.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs

from pulumi_flow import __version__
from pulumi_flow import declarations as d
from pulumi_flow.components import _task as task_component
from pulumi_flow.components import pool as spot_pool
from pulumi_flow.components import volumes as data_volumes
from pulumi_flow.components.capacity import ReservedCapacity
from pulumi_flow.components.cluster import TrainingClusterArgs
from pulumi_flow.components.job import PRIORITIES, TrainingJobArgs
from pulumi_flow.components.volumes import DataVolumesArgs, VolumeSpec
from pulumi_flow.declarations import BOOLEAN, NUMBER, STRING, STRING_MAP
from pulumi_flow.resources import (
    PLUGIN_OWNER_TYPE,
    PLUGIN_POOL_TYPE,
    PLUGIN_RESERVATION_TYPE,
    PLUGIN_TASK_TYPE,
    PLUGIN_VOLUME_TYPE,
)

PACKAGE = "flow"
CLUSTER_TYPE = "flow:index:TrainingCluster"
JOB_TYPE = "flow:index:TrainingJob"
VOLUMES_TYPE = "flow:index:DataVolumes"
MOUNT_TYPE = "flow:index:VolumeMount"
SPEC_TYPE = "flow:index:VolumeSpec"
CAPACITY_TYPE = "flow:index:ReservedCapacity"
TASK_MOUNT_TYPE = d.TASK_MOUNT_TYPE
TASK_COMPONENT_OUTPUTS = task_component.OUTPUTS
DATA_VOLUMES_OUTPUTS = data_volumes.OUTPUTS
POOL_COMPONENT_TYPE = spot_pool.TYPE
POOL_COMPONENT_OUTPUTS = spot_pool.OUTPUTS


CONFIG: dict[str, tuple[str, bool]] = {  # name -> (description, secret)
    "apiKey": ("Mithril API key (`fkey_...`). Falls back to the MITHRIL_API_KEY environment variable. "
               "Never stored in state in clear.", True),
    "apiUrl": ("Mithril API URL; falls back to MITHRIL_API_URL, then Mithril's public API.", False),
    "project": ("Mithril project name or id; falls back to MITHRIL_PROJECT.", False),
    "region": ("Default region for volumes and tasks that name none; falls back to MITHRIL_REGION.", False),
    "hosting": ("Python programs only: `dynamic` (default) builds the components' tasks and volumes as Python "
                "dynamic resources, `plugin` as this package's `Task` and `Volume`. A stack moves either way "
                "in one `up` that replaces nothing (each type aliases the other).", False),
}

# The custom resources' properties are declared with them (`pulumi_flow.declarations`); the components reuse those
# names with the same meaning, and add these of their own. One meaning per name across the package.
COMPONENT_TYPES: dict[str, Mapping[str, Any]] = {
    "startup_script": STRING, "priority": STRING, "wait": STRING, "protect": BOOLEAN, "resume_command": STRING,
    "checkpoint": {"$ref": f"#/types/{MOUNT_TYPE}"},
    # outputs
    "hourly_bid": NUMBER, "volume_ids": STRING_MAP,
    # nested
    "mount_path": STRING,
}
TYPES: dict[str, Mapping[str, Any]] = {**d.TASK.wires, **d.VOLUME.wires, **d.OWNER.wires, **COMPONENT_TYPES}

COMPONENT_DOCS: dict[str, str] = {
    "startup_script": "Shell script run on each instance at boot, before the cluster idles (`sleep infinity`).",
    "priority": f"Flow's priority tier ({', '.join(PRIORITIES)}) that sets the default bid when "
                "`maxPricePerHour` is left out.",
    "wait": "How long `up` waits for the job: until it is `submitted` (default), `running` or `completed`.",
    "protect": "Protect the volumes from deletion (default true): `pulumi destroy` refuses until it is false.",
    "capacity": "Run the cluster on reserved capacity (a Mithril reservation nobody can preempt, paid for the whole "
                "window) instead of a spot bid; left out, a spot bid. The outputs keep their meaning: `taskId` is the "
                "reservation's id, `maxPricePerHour` its unit price.",
    "hourly_bid": "Most this component can bill per hour: the bid times the number of instances, in US dollars.",
    "volume_ids": "Volume ids by the names given in `volumes`; mount one with `{volumeId: ids[name], mountPath}`.",
    "checkpoint": "A volume mount where the job keeps its checkpoints: after a preemption the job starts again with "
                  "`FLOW_RESTART_COUNT` and `FLOW_LATEST_CHECKPOINT` (its newest complete checkpoint) set, and runs "
                  "`resumeCommand` when there is one to resume from. It is mounted too.",
    "resume_command": "What the job runs instead of `command` when its checkpoint volume holds a checkpoint (after a "
                      "preemption or a restart); left out, `command` again.",
    "mount_path": "Where the volume appears on the instances, e.g. `/data` (under /data, /mnt, /models, "
                  "/checkpoints, /datasets or /volumes).",
}
DESCRIPTIONS: dict[str, str] = {**d.TASK.docs, **d.VOLUME.docs, **d.OWNER.docs, **COMPONENT_DOCS}
COMPONENT_DESCRIPTIONS = {
    CLUSTER_TYPE: "A persistent multi-node GPU cluster: one Mithril spot bid kept running until destroyed. "
                  "`up` returns once every instance is running.",
    JOB_TYPE: "An ephemeral workload: a spot bid that runs its command once and stops billing when it ends.",
    VOLUMES_TYPE: "Persistent storage: one Mithril volume per entry, protected from deletion by default.",
    POOL_COMPONENT_TYPE: "A GPU target, not a bid: `targetGpus` held on spot bids of one instance each, none above "
                         "`maxPricePerGpuHour` times its GPUs, placed in the first of `regions`, then of "
                         "`instanceTypes`, that has room. `pulumi refresh` sees preemptions; the next `up` refills "
                         "exactly those.",
    PLUGIN_POOL_TYPE: "The bids of a spot pool (the SpotPool component builds on it). Not importable: Mithril keeps "
                      "no pool, only its bids, and the first `up` adopts the ones this state's owner placed.",
    PLUGIN_TASK_TYPE: "A Mithril spot bid and its instances. The components build on it; use it directly for "
                      "what they do not cover, or to `pulumi import` an existing bid.",
    PLUGIN_VOLUME_TYPE: "A Mithril persistent volume; `pulumi import flow:index:Volume NAME vol_...` adopts one.",
    PLUGIN_RESERVATION_TYPE: "Mithril reserved instances: capacity nobody can preempt, bought for a period at a unit "
                             "price guarded by `max_unit_price`. A commitment: protect it; `pulumi import "
                             "flow:index:Reservation NAME res_...` adopts one.",
    PLUGIN_OWNER_TYPE: "Marks what one Pulumi state owns: give its `token` as the `owner` of Tasks and Volumes, and "
                       "create it first, so that a create retried after an interrupted `up` finds its own bid. "
                       "Touches nothing on Mithril.",
}


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def _property(python_name: str, *, type_ref: dict[str, Any] | None = None, default: Any = attrs.NOTHING,
              secret: bool = False, declaration: d.Declaration | None = None) -> dict[str, Any]:
    """A property's schema: its wire type and doc from `declaration` when given (a resource whose names mean their
    own thing: a reservation's `volumes` are ids, not mounts), else by its name across the package."""
    wires, docs = (declaration.wires, declaration.docs) if declaration is not None else (TYPES, DESCRIPTIONS)
    spec = dict(type_ref or wires[python_name])
    spec["description"] = docs[python_name]
    if default is not attrs.NOTHING and default is not None and not isinstance(default, attrs.Factory):  # type: ignore[arg-type]
        spec["default"] = default
    if secret:
        spec["secret"] = True
    return spec


def _inputs(args_class: type, *, wire: Any, special: dict[str, dict[str, Any]] | None = None,
            skip: tuple[str, ...] = (), declaration: d.Declaration | None = None) -> tuple[dict[str, Any], list[str]]:
    """Input properties and required inputs of an attrs Args class, named on the wire by `wire(name)`."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for field in attrs.fields(args_class):
        if field.name in skip:
            continue
        ref = (special or {}).get(field.name)
        properties[wire(field.name)] = _property(field.name, type_ref=ref, default=field.default,
                                                 declaration=declaration)
        if field.default is attrs.NOTHING:
            required.append(wire(field.name))
    return properties, required


def _outputs(names: tuple[str, ...], *, wire: Any, declaration: d.Declaration | None = None) -> dict[str, Any]:
    return {wire(name): _property(name, declaration=declaration) for name in names}


def _identity(name: str) -> str:
    return name


def build() -> dict[str, Any]:
    """The package schema, as `GetSchema` serves it and `pulumi package get-schema` prints it."""
    mount_ref = {"type": "array", "items": {"$ref": f"#/types/{MOUNT_TYPE}"}}

    task_inputs, task_required = _inputs(d.FlowTaskArgs, wire=_identity)
    task_properties = {**task_inputs, **_outputs(d.TASK.output_keys, wire=_identity)}
    volume_inputs, volume_required = _inputs(d.FlowVolumeArgs, wire=_identity)
    volume_properties = {**volume_inputs, **_outputs(d.VOLUME.output_keys, wire=_identity)}
    reservation_inputs, reservation_required = _inputs(d.FlowReservationArgs, wire=_identity,
                                                       declaration=d.RESERVATION)
    reservation_properties = {**reservation_inputs,
                              **_outputs(d.RESERVATION.output_keys, wire=_identity, declaration=d.RESERVATION)}

    cluster_inputs, cluster_required = _inputs(TrainingClusterArgs, wire=camel, special={
        "volumes": mount_ref, "capacity": {"$ref": f"#/types/{CAPACITY_TYPE}"}})
    capacity_inputs, capacity_required = _inputs(ReservedCapacity, wire=camel, declaration=d.RESERVATION,
                                                 skip=("protect",))
    capacity_doc = " ".join(str(ReservedCapacity.__doc__).split("\n\n")[0].split())
    capacity_inputs["protect"] = {**BOOLEAN, "default": True, "description": "Protect the reservation from deletion "
                                  "(default true): it is a commitment, and Mithril refunds nothing."}
    job_inputs, job_required = _inputs(TrainingJobArgs, wire=camel, special={"volumes": mount_ref})
    pool_inputs, pool_required = _inputs(d.FlowSpotPoolArgs, wire=_identity, declaration=d.POOL)
    pool_properties = {**pool_inputs, **_outputs(d.POOL.output_keys, wire=_identity, declaration=d.POOL)}
    pool_component_inputs, pool_component_required = _inputs(spot_pool.SpotPoolArgs, wire=camel, declaration=d.POOL,
                                                             special={"volumes": mount_ref})
    volumes_inputs, volumes_required = _inputs(DataVolumesArgs, wire=camel, special={"volumes": {
        "type": "object", "additionalProperties": {"$ref": f"#/types/{SPEC_TYPE}"}}})
    volumes_inputs["volumes"]["description"] = (
        "Volumes by name (lowercase letters, digits, '-'), each with its size and interface.")
    spec_inputs, spec_required = _inputs(VolumeSpec, wire=camel)
    task_outputs = _outputs(TASK_COMPONENT_OUTPUTS, wire=camel)

    def component(type_token: str, inputs: dict[str, Any], required: list[str],
                  outputs: dict[str, Any]) -> dict[str, Any]:
        return {"isComponent": True, "description": COMPONENT_DESCRIPTIONS[type_token],
                "inputProperties": inputs, "requiredInputs": required,
                "properties": outputs, "required": sorted(outputs)}

    return {
        "name": PACKAGE,
        "displayName": "Mithril Flow",
        "version": __version__,
        "description": "GPU infrastructure on Mithril's spot auctions, with safe bids: clusters, jobs and volumes "
                       "whose previews never spend money.",
        "keywords": ["pulumi", "mithril", "gpu", "category/cloud", "kind/component"],
        "homepage": "https://github.com/pulumi-flow/pulumi-flow",
        "repository": "https://github.com/pulumi-flow/pulumi-flow",
        "license": "Apache-2.0",
        "config": {"variables": {name: {**STRING, "description": text, **({"secret": True} if secret else {})}
                                 for name, (text, secret) in CONFIG.items()}},
        "provider": {
            "description": "The Mithril provider: credentials and defaults for every flow resource.",
            "inputProperties": {name: {**STRING, "description": text, **({"secret": True} if secret else {})}
                                for name, (text, secret) in CONFIG.items()},
        },
        "types": {
            MOUNT_TYPE: {"type": "object", "description": "A volume at a path on every instance.",
                         "properties": {"volumeId": _property("volume_id"), "mountPath": _property("mount_path"),
                                        "interface": _property("interface", default="file")},
                         "required": ["mountPath", "volumeId"]},
            TASK_MOUNT_TYPE: {"type": "object", "description": "A volume at a path, as a task records it.",
                              "properties": {"volume_id": _property("volume_id"),
                                             "mount_path": _property("mount_path"),
                                             "interface": _property("interface", default="file")},
                              "required": ["mount_path", "volume_id"]},
            SPEC_TYPE: {"type": "object", "description": "One volume's size and interface.",
                        "properties": spec_inputs, "required": spec_required},
            CAPACITY_TYPE: {"type": "object", "description": capacity_doc,
                            "properties": capacity_inputs, "required": capacity_required},
        },
        "resources": {
            PLUGIN_TASK_TYPE: {"description": COMPONENT_DESCRIPTIONS[PLUGIN_TASK_TYPE], "inputProperties": task_inputs,
                               "requiredInputs": task_required, "properties": task_properties,
                               "required": sorted(set(task_required) | {"task_id", "task_name", "status"})},
            PLUGIN_VOLUME_TYPE: {"description": COMPONENT_DESCRIPTIONS[PLUGIN_VOLUME_TYPE],
                                 "inputProperties": volume_inputs, "requiredInputs": volume_required,
                                 "properties": volume_properties,
                                 "required": sorted(set(volume_required) | {"volume_id", "volume_name"})},
            PLUGIN_RESERVATION_TYPE: {"description": COMPONENT_DESCRIPTIONS[PLUGIN_RESERVATION_TYPE],
                                      "inputProperties": reservation_inputs, "requiredInputs": reservation_required,
                                      "properties": reservation_properties,
                                      "required": sorted(set(reservation_required) | {"reservation_id",
                                                                                      "reservation_name", "status"})},
            PLUGIN_OWNER_TYPE: {"description": COMPONENT_DESCRIPTIONS[PLUGIN_OWNER_TYPE], "inputProperties": {},
                                "properties": _outputs(d.OWNER.output_keys, wire=_identity),
                                "required": list(d.OWNER.output_keys)},
            CLUSTER_TYPE: component(CLUSTER_TYPE, cluster_inputs, cluster_required, task_outputs),
            JOB_TYPE: component(JOB_TYPE, job_inputs, job_required, task_outputs),
            VOLUMES_TYPE: component(VOLUMES_TYPE, volumes_inputs, volumes_required,
                                    _outputs(DATA_VOLUMES_OUTPUTS, wire=camel)),
            PLUGIN_POOL_TYPE: {"description": COMPONENT_DESCRIPTIONS[PLUGIN_POOL_TYPE], "inputProperties": pool_inputs,
                               "requiredInputs": pool_required, "properties": pool_properties,
                               "required": sorted(set(pool_required) | {"pool_id", "pool_name"})},
            POOL_COMPONENT_TYPE: component(POOL_COMPONENT_TYPE, pool_component_inputs, pool_component_required,
                                           _outputs(POOL_COMPONENT_OUTPUTS, wire=camel, declaration=d.POOL)),
        },
        "language": {
            "nodejs": {"packageName": "@pulumi-flow/flow", "dependencies": {"@pulumi/pulumi": "^3.0.0"}},
            "python": {"packageName": "pulumi_flow_sdk", "requires": {"pulumi": ">=3.0.0,<4.0.0"}},
            "go": {"importBasePath": "github.com/pulumi-flow/pulumi-flow/sdk/go/flow",
                   "generateResourceContainerTypes": True},
        },
    }
