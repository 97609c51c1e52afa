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
from typing import Any

import attrs

from pulumi_flow import __version__
from pulumi_flow.components.cluster import TrainingClusterArgs
from pulumi_flow.components.job import PRIORITIES, TrainingJobArgs
from pulumi_flow.components.volumes import DataVolumesArgs, VolumeSpec
from pulumi_flow.provider import owner as owner_provider
from pulumi_flow.provider import task as task_provider
from pulumi_flow.provider import volume as volume_provider
from pulumi_flow.resources import PLUGIN_OWNER_TYPE, PLUGIN_TASK_TYPE, PLUGIN_VOLUME_TYPE, FlowTaskArgs, FlowVolumeArgs

PACKAGE = "flow"
CLUSTER_TYPE = "flow:index:TrainingCluster"
JOB_TYPE = "flow:index:TrainingJob"
VOLUMES_TYPE = "flow:index:DataVolumes"
MOUNT_TYPE = "flow:index:VolumeMount"
SPEC_TYPE = "flow:index:VolumeSpec"
TASK_MOUNT_TYPE = "flow:index:TaskMount"
# What a component's state carries, in the order the Python classes register it.
TASK_COMPONENT_OUTPUTS = ("task_id", "status", "instance_ids", "public_ips", "private_ips", "ssh_user", "ssh_port",
                          "max_price_per_hour", "hourly_bid")
DATA_VOLUMES_OUTPUTS = ("volume_ids",)

STRING: dict[str, Any] = {"type": "string"}
NUMBER: dict[str, Any] = {"type": "number"}
INTEGER: dict[str, Any] = {"type": "integer"}
BOOLEAN: dict[str, Any] = {"type": "boolean"}
STRINGS: dict[str, Any] = {"type": "array", "items": STRING}
STRING_MAP: dict[str, Any] = {"type": "object", "additionalProperties": STRING}

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

# The wire type of each property, by its Python name (one meaning per name across the package).
TYPES: dict[str, dict[str, Any]] = {
    "role": STRING, "instance_type": STRING, "max_price_per_hour": NUMBER, "command": STRING, "num_instances": INTEGER,
    "region": STRING, "image": STRING, "env": STRING_MAP, "ssh_keys": STRINGS, "max_run_time_hours": NUMBER,
    "task_name": STRING, "wait_until": STRING, "ready_timeout_minutes": NUMBER, "paused": BOOLEAN,
    "replacement": STRING, "startup_script": STRING, "priority": STRING, "wait": STRING,
    "size_gb": INTEGER, "interface": STRING, "volume_name": STRING, "allow_replacement": BOOLEAN,
    "protect": BOOLEAN, "owner": STRING,
    # outputs
    "task_id": STRING, "bid_name": STRING, "status": STRING, "bid_status": STRING, "instance_ids": STRINGS,
    "public_ips": STRINGS, "private_ips": STRINGS, "ssh_user": STRING, "ssh_port": INTEGER,
    "market_price_per_hour": NUMBER, "resolved_region": STRING, "hourly_bid": NUMBER, "volume_id": STRING,
    "attached_to": STRINGS, "volume_ids": STRING_MAP, "token": STRING,
    # nested
    "mount_path": STRING,
}

DESCRIPTIONS: dict[str, str] = {
    "role": "`infrastructure` (a cluster: kept running, recreated if Mithril ends it) or `workload` (a job: "
            "runs its command once, terminates on exit; a finished job is not drift).",
    "instance_type": "Mithril instance type in Flow's grammar, e.g. `8xa100`, `a100-80gb.sxm.8x`, `h100`.",
    "max_price_per_hour": "The bid, in US dollars per instance-hour (exact to the cent, rounded up). A bid below "
                          "the market is preempted; the policy pack rejects infrastructure bids under the on-demand "
                          "threshold of the GPU type.",
    "command": "The command the instances run (for a cluster, its startup script followed by `sleep infinity`).",
    "num_instances": "How many instances the bid asks for (each billed at `max_price_per_hour`).",
    "volumes": "Volumes to mount. A task runs in its volumes' region.",
    "region": "Mithril region, e.g. `us-central1-b`. Left out: the volumes' region, else the provider's "
              "`flow:region`, else where capacity is.",
    "image": "Container image the command runs in; left out, Flow's default image.",
    "env": "Environment variables for the command.",
    "ssh_keys": "Mithril SSH key ids (`sshkey_...`) allowed on the instances.",
    "max_run_time_hours": "Hard limit on run time; Mithril ends the task after it. Required for workloads by the "
                          "policy pack.",
    "task_name": "Name of the task on Mithril; left out, a unique name is generated from the resource's URN and "
                 "kept for the resource's life.",
    "wait_until": "How long `up` waits after placing the bid: `submitted`, `running` or `completed`.",
    "ready_timeout_minutes": "Minutes `up` waits for `wait_until` before failing (and cancelling the bid it "
                             "placed).",
    "paused": "Pause the bid in place: Mithril stops the machines and bills nothing until it is resumed.",
    "replacement": "How a change of what runs replaces the bid: `delete-first` (default; never two bids billing) "
                   "or `create-first` (old machines stay until the new ones run, and both bill meanwhile).",
    "startup_script": "Shell script run on each instance at boot, before the cluster idles (`sleep infinity`).",
    "priority": f"Flow's priority tier ({', '.join(PRIORITIES)}) that sets the default bid when "
                "`maxPricePerHour` is left out.",
    "wait": "How long `up` waits for the job: until it is `submitted` (default), `running` or `completed`.",
    "size_gb": "Size in GB. Mithril cannot resize a volume: a change makes a new, empty volume.",
    "interface": "`file` (shared, mountable by several instances) or `block` (one instance).",
    "volume_name": "Name of the volume on Mithril; left out, generated from the resource's URN. Renaming is the "
                   "one change Mithril makes in place.",
    "allow_replacement": "Accept that a change of size, interface or region replaces the volume with a new, EMPTY "
                         "one and deletes the old one with its data; without it such a change is refused.",
    "owner": "The `token` of an `Owner`: which Pulumi state owns this resource. Fixed at creation; a bid or volume "
             "is adopted only by the state whose token it carries. Left out, one is drawn when it is created.",
    "token": "A random token, drawn once when the owner is created and kept in state; the tasks and volumes that "
             "take it as `owner` carry it in their names on Mithril.",
    "protect": "Protect the volumes from deletion (default true): `pulumi destroy` refuses until it is false.",
    "task_id": "Mithril's id of the bid (`bid_...`); the resource id.",
    "bid_name": "Name of the bid on Mithril: the task name and a digest of its specification.",
    "status": "Flow's task status: `pending`, `running`, `completed`, `failed`, `cancelled`, `preempted`...",
    "bid_status": "Mithril's bid status: `Open`, `Allocated`, `Paused`, `Preempting`, `Terminated`.",
    "instance_ids": "Mithril instance ids, once allocated.",
    "public_ips": "Public SSH addresses of the instances, once running.",
    "private_ips": "Private addresses of the instances, for multi-node training.",
    "ssh_user": "User to SSH in as.",
    "ssh_port": "Port to SSH in on.",
    "market_price_per_hour": "What Mithril charged per instance-hour at the last read (the market, at most the bid).",
    "resolved_region": "The region the task runs in.",
    "hourly_bid": "Most this component can bill per hour: the bid times the number of instances, in US dollars.",
    "volume_id": "Mithril's id of the volume (`vol_...`); the resource id.",
    "attached_to": "Instances the volume is attached to.",
    "volume_ids": "Volume ids by the names given in `volumes`; mount one with `{volumeId: ids[name], mountPath}`.",
    "mount_path": "Where the volume appears on the instances, e.g. `/data` (under /data, /mnt, /models, "
                  "/checkpoints, /datasets or /volumes).",
}
COMPONENT_DESCRIPTIONS = {
    CLUSTER_TYPE: "A persistent multi-node GPU cluster: one Mithril spot bid kept running until destroyed. "
                  "`up` returns once every instance is running.",
    JOB_TYPE: "An ephemeral workload: a spot bid that runs its command once and stops billing when it ends.",
    VOLUMES_TYPE: "Persistent storage: one Mithril volume per entry, protected from deletion by default.",
    PLUGIN_TASK_TYPE: "A Mithril spot bid and its instances. The components build on it; use it directly for "
                      "what they do not cover, or to `pulumi import` an existing bid.",
    PLUGIN_VOLUME_TYPE: "A Mithril persistent volume; `pulumi import flow:index:Volume NAME vol_...` adopts one.",
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
              secret: bool = False) -> dict[str, Any]:
    spec = dict(type_ref or TYPES[python_name])
    spec["description"] = DESCRIPTIONS[python_name]
    if default is not attrs.NOTHING and default is not None and not isinstance(default, attrs.Factory):  # type: ignore[arg-type]
        spec["default"] = default
    if secret:
        spec["secret"] = True
    return spec


def _inputs(args_class: type, *, wire: Any, special: dict[str, dict[str, Any]] | None = None,
            skip: tuple[str, ...] = ()) -> tuple[dict[str, Any], list[str]]:
    """Input properties and required inputs of an attrs Args class, named on the wire by `wire(name)`."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for field in attrs.fields(args_class):
        if field.name in skip:
            continue
        ref = (special or {}).get(field.name)
        properties[wire(field.name)] = _property(field.name, type_ref=ref, default=field.default)
        if field.default is attrs.NOTHING:
            required.append(wire(field.name))
    return properties, required


def _outputs(names: tuple[str, ...], *, wire: Any) -> dict[str, Any]:
    return {wire(name): _property(name) for name in names}


def _identity(name: str) -> str:
    return name


def build() -> dict[str, Any]:
    """The package schema, as `GetSchema` serves it and `pulumi package get-schema` prints it."""
    mount_ref = {"type": "array", "items": {"$ref": f"#/types/{MOUNT_TYPE}"}}
    task_mount_ref = {"type": "array", "items": {"$ref": f"#/types/{TASK_MOUNT_TYPE}"}}

    task_inputs, task_required = _inputs(FlowTaskArgs, wire=_identity, special={"volumes": task_mount_ref})
    task_properties = {**task_inputs, **_outputs(task_provider.OUTPUT_KEYS, wire=_identity)}
    volume_inputs, volume_required = _inputs(FlowVolumeArgs, wire=_identity)
    volume_properties = {**volume_inputs, **_outputs(volume_provider.OUTPUT_KEYS, wire=_identity)}

    cluster_inputs, cluster_required = _inputs(TrainingClusterArgs, wire=camel, special={"volumes": mount_ref})
    job_inputs, job_required = _inputs(TrainingJobArgs, wire=camel, special={"volumes": mount_ref})
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
        },
        "resources": {
            PLUGIN_TASK_TYPE: {"description": COMPONENT_DESCRIPTIONS[PLUGIN_TASK_TYPE], "inputProperties": task_inputs,
                               "requiredInputs": task_required, "properties": task_properties,
                               "required": sorted(set(task_required) | {"task_id", "task_name", "status"})},
            PLUGIN_VOLUME_TYPE: {"description": COMPONENT_DESCRIPTIONS[PLUGIN_VOLUME_TYPE],
                                 "inputProperties": volume_inputs, "requiredInputs": volume_required,
                                 "properties": volume_properties,
                                 "required": sorted(set(volume_required) | {"volume_id", "volume_name"})},
            PLUGIN_OWNER_TYPE: {"description": COMPONENT_DESCRIPTIONS[PLUGIN_OWNER_TYPE], "inputProperties": {},
                                "properties": _outputs(owner_provider.OUTPUT_KEYS, wire=_identity),
                                "required": list(owner_provider.OUTPUT_KEYS)},
            CLUSTER_TYPE: component(CLUSTER_TYPE, cluster_inputs, cluster_required, task_outputs),
            JOB_TYPE: component(JOB_TYPE, job_inputs, job_required, task_outputs),
            VOLUMES_TYPE: component(VOLUMES_TYPE, volumes_inputs, volumes_required,
                                    _outputs(DATA_VOLUMES_OUTPUTS, wire=camel)),
        },
        "language": {
            "nodejs": {"packageName": "@pulumi-flow/flow", "dependencies": {"@pulumi/pulumi": "^3.0.0"}},
            "python": {"packageName": "pulumi_flow_sdk", "requires": {"pulumi": ">=3.0.0,<4.0.0"}},
            "go": {"importBasePath": "github.com/pulumi-flow/pulumi-flow/sdk/go/flow",
                   "generateResourceContainerTypes": True},
        },
    }
