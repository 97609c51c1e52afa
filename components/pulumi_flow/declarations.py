"""Each custom resource declared once: its inputs, with everything the package needs to know of each, and its outputs.

An input is a field of the resource's attrs Args class whose metadata (`declared_input`) says what a change of it
does on Mithril (`Change`), the rule `check` normalises it with, what `check` records when it is left out, what
state written before the input existed meant, whether the bid's name digests it, its wire type and its doc. An
output is an `Output` row. From these alone come the providers' key sets, `check`'s defaults and rules, the inputs
an import records, the resources' registered properties, and the `flow` package schema (tests/test_declarations.py
holds every one of them to this module).

Adding an optional input to a task is one field here, e.g. Mithril's notification email:

    notification_email: pulumi.Input[str] | None = declared_input(
        Change.UPDATE, STRING, "Where Mithril writes about the bid.", rule=<a validation rule>)

plus two valid values of it in tests/test_declarations.py (a test asks for them) and its docs; what it must then
do on Mithril is the provider's own code.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
import pulumi

from pulumi_flow import naming
from pulumi_flow import validation as v

# Wire types of the package schema, one per kind of value.
STRING: Mapping[str, Any] = {"type": "string"}
NUMBER: Mapping[str, Any] = {"type": "number"}
INTEGER: Mapping[str, Any] = {"type": "integer"}
BOOLEAN: Mapping[str, Any] = {"type": "boolean"}
STRINGS: Mapping[str, Any] = {"type": "array", "items": STRING}
STRING_MAP: Mapping[str, Any] = {"type": "object", "additionalProperties": STRING}
TASK_MOUNT_TYPE = "flow:index:TaskMount"  # a volume at a path, as a task records it
MOUNTS: Mapping[str, Any] = {"type": "array", "items": {"$ref": f"#/types/{TASK_MOUNT_TYPE}"}}

INFRASTRUCTURE, WORKLOAD = v.ROLES
DELETE_FIRST, CREATE_FIRST = v.REPLACEMENTS
DEFAULT_READY_TIMEOUT_MINUTES = 30.0
METADATA_KEY = "pulumi_flow"


class _Absent(enum.Enum):
    ABSENT = "absent"  # an input that has always existed: older state cannot lack it


ABSENT = _Absent.ABSENT


class Change(enum.Enum):
    """What a change of an input does on Mithril."""

    REPLACE = "replace"  # different machines or storage: a new bid or volume
    UPDATE = "update"  # changed in place (a PATCH)
    # A task's volumes: attached or detached in place (a PATCH of the bid's volumes); a change Mithril cannot make
    # that way (a kept volume mounted elsewhere, a volume the startup script mounts taken away) replaces.
    ATTACH = "attach"
    NONE = "none"  # steers only how `up` waits or orders a replacement: recorded, never a change
    FIXED = "fixed"  # fixed when the resource is created (its identity): never a change


@attrs.frozen
class InputFacts:
    change: Change
    wire: Mapping[str, Any]
    doc: str
    rule: Callable[[Any, str], Any] | None = None
    required: bool = False  # `check` refuses the input left out
    fill: Any = None  # what `check` records when the input is left out (a callable: a fresh value each time)
    was: Any = ABSENT  # what state written before this input existed meant
    in_bid_name: bool = False  # part of what the bid's name digests (`naming.bid_name`)


def declared_input(change: Change, wire: Mapping[str, Any], doc: str, *, default: Any = None,
                   rule: Callable[[Any, str], Any] | None = None, required: bool = False, fill: Any = None,
                   was: Any = ABSENT, in_bid_name: bool = False) -> Any:
    """An Args field that declares an input (`default` is the Args class's: attrs.NOTHING makes it required)."""
    facts = InputFacts(change, wire, doc, rule, required, fill, was, in_bid_name)
    if isinstance(default, list | dict):
        return attrs.field(factory=type(default), metadata={METADATA_KEY: facts})
    return attrs.field(default=default, metadata={METADATA_KEY: facts})


@attrs.frozen
class Output:
    name: str
    wire: Mapping[str, Any]
    doc: str


@attrs.frozen
class Declaration:
    """A custom resource: its Args class (whose fields declare the inputs), internal inputs, and outputs."""

    name: str
    args: type
    outputs: tuple[Output, ...]
    internal: tuple[tuple[str, InputFacts], ...] = ()  # inputs no program sets (recorded by the components)

    @property
    def inputs(self) -> dict[str, InputFacts]:
        declared = {field.name: field.metadata[METADATA_KEY] for field in attrs.fields(self.args)}
        return {**declared, **dict(self.internal)}

    @property
    def input_keys(self) -> tuple[str, ...]:
        return tuple(self.inputs)

    @property
    def output_keys(self) -> tuple[str, ...]:
        return tuple(output.name for output in self.outputs)

    def keys(self, change: Change) -> tuple[str, ...]:
        return tuple(name for name, facts in self.inputs.items() if facts.change is change)

    @property
    def bid_name_keys(self) -> tuple[str, ...]:
        return tuple(name for name, facts in self.inputs.items() if facts.in_bid_name)

    @property
    def rules(self) -> dict[str, Callable[[Any, str], Any]]:
        return {name: facts.rule for name, facts in self.inputs.items() if facts.rule is not None}

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(name for name, facts in self.inputs.items() if facts.required)

    @property
    def optional(self) -> tuple[str, ...]:
        """Inputs that may stay None: neither required nor filled in."""
        return tuple(name for name, facts in self.inputs.items() if not facts.required and facts.fill is None)

    def filled(self) -> dict[str, Any]:
        """What `check` records for each input left out (None for those it leaves empty)."""
        return {name: facts.fill() if callable(facts.fill) else facts.fill for name, facts in self.inputs.items()}

    @property
    def was(self) -> dict[str, Any]:
        return {name: facts.was for name, facts in self.inputs.items() if facts.was is not ABSENT}

    @property
    def docs(self) -> dict[str, str]:
        return {**{name: facts.doc for name, facts in self.inputs.items()},
                **{output.name: output.doc for output in self.outputs}}

    @property
    def wires(self) -> dict[str, Mapping[str, Any]]:
        return {**{name: facts.wire for name, facts in self.inputs.items()},
                **{output.name: output.wire for output in self.outputs}}


_OWNER_DOC = ("The `token` of an `Owner`: which Pulumi state owns this resource. Fixed at creation; a bid or volume "
              "is adopted only by the state whose token it carries. Left out, one is drawn when it is created.")
_AUTO_NAMED = InputFacts(Change.FIXED, BOOLEAN, "Whether the name on Mithril was generated (and so is kept).",
                         rule=v.flag)


@attrs.define(kw_only=True)
class FlowTaskArgs:
    """Inputs of a Flow task. Values may be plain or Pulumi Inputs; the provider's `check`
    validates them once they are known (the components validate plain values earlier)."""

    role: pulumi.Input[str] = declared_input(
        Change.REPLACE, STRING, "`infrastructure` (a cluster: kept running, recreated if Mithril ends it) or "
        "`workload` (a job: runs its command once, terminates on exit; a finished job is not drift).",
        default=attrs.NOTHING, rule=v.role, required=True, in_bid_name=True)
    instance_type: pulumi.Input[str] = declared_input(
        Change.REPLACE, STRING, "Mithril instance type in Flow's grammar, e.g. `8xa100`, `a100-80gb.sxm.8x`, `h100`.",
        default=attrs.NOTHING, rule=v.instance_type, required=True, in_bid_name=True)
    num_instances: pulumi.Input[int] = declared_input(
        Change.REPLACE, INTEGER, "How many instances the bid asks for (each billed at `max_price_per_hour`).",
        default=1, rule=v.num_instances, fill=1, in_bid_name=True)
    region: pulumi.Input[str] | None = declared_input(
        Change.REPLACE, STRING, "Mithril region, e.g. `us-central1-b`. Left out: the volumes' region, else the "
        "provider's `flow:region`, else where capacity is.", rule=v.region, in_bid_name=True)
    # Optional for infrastructure, which then idles (`sleep infinity`): what an imported bid records, since Mithril
    # keeps only the startup script Flow generated around the command. Workloads require it (`check`).
    command: pulumi.Input[str] | None = declared_input(
        Change.REPLACE, STRING, "The command the instances run (for a cluster, its startup script followed by "
        "`sleep infinity`).", rule=v.command, in_bid_name=True)
    image: pulumi.Input[str] | None = declared_input(
        Change.REPLACE, STRING, "Container image the command runs in; left out, Flow's default image.",
        rule=v.image, in_bid_name=True)
    env: pulumi.Input[Mapping[str, pulumi.Input[str]]] = declared_input(
        Change.REPLACE, STRING_MAP, "Environment variables for the command.", default={}, rule=v.env, fill=dict,
        in_bid_name=True)
    volumes: pulumi.Input[Sequence[pulumi.Input[Mapping[str, Any]]]] = declared_input(
        Change.ATTACH, MOUNTS, "Volumes to mount. A task runs in its volumes' region. A volume added to a live task "
        "is attached in place (one PATCH of the bid): the machines keep running, but the startup script they were "
        "created with does not mount it (`unmounted_volume_ids`). Such a volume is detached in place too; taking "
        "away a volume the startup script mounts, or moving one, replaces the task.", default=[], rule=v.mounts,
        fill=list, in_bid_name=True)
    ssh_keys: pulumi.Input[Sequence[pulumi.Input[str]]] = declared_input(
        Change.REPLACE, STRINGS, "Mithril SSH key ids (`sshkey_...`) allowed on the instances.", default=[],
        rule=v.ssh_keys, fill=list, in_bid_name=True)
    max_run_time_hours: pulumi.Input[float] | None = declared_input(
        Change.REPLACE, NUMBER, "Hard limit on run time; Mithril ends the task after it. Required for workloads by "
        "the policy pack.", rule=v.max_run_time_hours, in_bid_name=True)
    max_preemptions: pulumi.Input[int] | None = declared_input(
        Change.NONE, INTEGER, "A job only: how many preemptions it may take. A refresh that finds more cancels the "
        "bid (billing stops) and says why in `stop_reason`.", rule=v.max_preemptions)
    task_name: pulumi.Input[str] | None = declared_input(
        Change.REPLACE, STRING, "Name of the task on Mithril; left out, a unique name is generated from the "
        "resource's URN and kept for the resource's life.", rule=v.task_name, required=True)
    max_price_per_hour: pulumi.Input[float] = declared_input(
        Change.UPDATE, NUMBER, "The bid, in US dollars per instance-hour (exact to the cent, rounded up). A bid below "
        "the market is preempted; the policy pack rejects infrastructure bids under the on-demand threshold of the "
        "GPU type.", default=attrs.NOTHING, rule=v.price, required=True)
    paused: pulumi.Input[bool] = declared_input(
        Change.UPDATE, BOOLEAN, "Pause the bid in place: Mithril stops the machines and bills nothing until it is "
        "resumed.", default=False, rule=v.flag, fill=False, was=False)
    # Left out: `running` for infrastructure, `submitted` for a workload (`check`).
    wait_until: pulumi.Input[str] | None = declared_input(
        Change.NONE, STRING, "How long `up` waits after placing the bid: `submitted`, `running` or `completed`.",
        rule=v.wait_until)
    ready_timeout_minutes: pulumi.Input[float] | None = declared_input(
        Change.NONE, NUMBER, "Minutes `up` waits for `wait_until` before failing (and cancelling the bid it "
        "placed).", rule=v.ready_timeout_minutes, fill=DEFAULT_READY_TIMEOUT_MINUTES)
    replacement: pulumi.Input[str] = declared_input(
        Change.NONE, STRING, "How a change of what runs replaces the bid: `delete-first` (default; never two bids "
        "billing) or `create-first` (old machines stay until the new ones run, and both bill meanwhile).",
        default=DELETE_FIRST, rule=v.replacement, fill=DELETE_FIRST, was=DELETE_FIRST)
    owner: pulumi.Input[str] | None = declared_input(Change.FIXED, STRING, _OWNER_DOC, rule=v.owner)


@attrs.define(kw_only=True)
class FlowVolumeArgs:
    """`allow_replacement=True` accepts that a change of size, interface or region replaces the volume
    with a new, empty one (Mithril can do neither in place); without it such a change is refused."""

    size_gb: pulumi.Input[int] = declared_input(
        Change.REPLACE, INTEGER, "Size in GB. Mithril cannot resize a volume: a change makes a new, empty volume.",
        default=attrs.NOTHING, rule=v.size_gb, required=True)
    interface: pulumi.Input[str] = declared_input(
        Change.REPLACE, STRING, "`file` (shared, mountable by several instances) or `block` (one instance).",
        default="file", rule=v.interface, fill="file")
    region: pulumi.Input[str] | None = declared_input(
        Change.REPLACE, STRING, "Mithril region, e.g. `us-central1-b`. Left out: the volumes' region, else the "
        "provider's `flow:region`, else where capacity is.", rule=v.region)
    volume_name: pulumi.Input[str] | None = declared_input(
        Change.UPDATE, STRING, "Name of the volume on Mithril; left out, generated from the resource's URN. "
        "Renaming is the one change Mithril makes in place.", rule=v.volume_name, required=True)
    allow_replacement: pulumi.Input[bool] = declared_input(
        Change.NONE, BOOLEAN, "Accept that a change of size, interface or region replaces the volume with a new, "
        "EMPTY one and deletes the old one with its data; without it such a change is refused.", default=False,
        rule=v.flag, fill=False)
    owner: pulumi.Input[str] | None = declared_input(Change.FIXED, STRING, _OWNER_DOC, rule=v.owner)


@attrs.define(kw_only=True)
class FlowReservationArgs:
    """Reserved instances: capacity Mithril cannot preempt, bought for a period at a unit price fixed when bought. A
    commitment: its whole total is owed once it is made, so `max_unit_price` guards the purchase and its extensions.
    Give `end_time` or `duration_hours`."""

    instance_type: pulumi.Input[str] = declared_input(
        Change.REPLACE, STRING, "Mithril instance type in Flow's grammar, e.g. `8xa100`, `8xh100`.",
        default=attrs.NOTHING, rule=v.instance_type, required=True)
    quantity: pulumi.Input[int] = declared_input(
        Change.REPLACE, INTEGER, "How many instances are reserved.", default=1, rule=v.num_instances, fill=1)
    region: pulumi.Input[str] = declared_input(
        Change.REPLACE, STRING, "Mithril region, e.g. `us-central1-a`: where the instances are reserved.",
        default=attrs.NOTHING, rule=v.region, required=True)
    start_time: pulumi.Input[str] | None = declared_input(
        Change.REPLACE, STRING, "When the reservation starts (ISO 8601 with a zone, e.g. `2030-01-01T00:00:00Z`); "
        "left out, when it is made.", rule=v.start_time)
    end_time: pulumi.Input[str] | None = declared_input(
        Change.UPDATE, STRING, "When it ends (ISO 8601). A later end extends it in place, for the price of the "
        "added hours; Mithril cannot shorten one.", rule=v.end_time)
    duration_hours: pulumi.Input[float] | None = declared_input(
        Change.UPDATE, NUMBER, "How long it lasts from its start, instead of `end_time`. More hours extend it in "
        "place.", rule=v.duration_hours)
    volumes: pulumi.Input[Sequence[pulumi.Input[str]]] = declared_input(
        Change.UPDATE, STRINGS, "Ids of volumes (in its region) its instances mount; changed in place.", default=[],
        rule=v.volume_ids, fill=list)
    ssh_keys: pulumi.Input[Sequence[pulumi.Input[str]]] = declared_input(
        Change.REPLACE, STRINGS, "Mithril SSH key ids (`sshkey_...`) allowed on the instances.", default=[],
        rule=v.ssh_keys, fill=list)
    startup_script: pulumi.Input[str] | None = declared_input(
        Change.REPLACE, STRING, "What each instance runs when it starts, sent to Mithril as it is. Instead of it, "
        "give `command` (with `mounts`, `image`, `env`) for Flow's runtime to build one, as it does for a task.",
        rule=v.startup_script)
    # Flow's runtime, as a task has it: what `TrainingCluster(capacity=ReservedCapacity(...))` gives its reservation.
    command: pulumi.Input[str] | None = declared_input(
        Change.REPLACE, STRING, "What each instance runs under Flow's runtime, which mounts `mounts` and sets "
        "`image` and `env` first, as it does for a task. Left out with any of those, the instances idle.",
        rule=v.command)
    mounts: pulumi.Input[Sequence[pulumi.Input[Mapping[str, Any]]]] = declared_input(
        Change.REPLACE, MOUNTS, "Volumes Flow's runtime mounts at paths (they are attached too). Mithril cannot "
        "change a startup script in place: a change replaces the reservation.", default=[], rule=v.mounts,
        fill=list, was=[])
    image: pulumi.Input[str] | None = declared_input(
        Change.REPLACE, STRING, "Container image `command` runs in; left out, Flow's default image.", rule=v.image)
    env: pulumi.Input[Mapping[str, pulumi.Input[str]]] = declared_input(
        Change.REPLACE, STRING_MAP, "Environment variables for `command`.", default={}, rule=v.env, fill=dict,
        was={})
    max_unit_price: pulumi.Input[float] = declared_input(
        Change.NONE, NUMBER, "The most it may cost, in US dollars per instance-hour: the purchase (and any "
        "extension) is refused, with nothing committed, if Mithril's price is above it.", default=attrs.NOTHING,
        rule=v.unit_price, required=True)
    paused: pulumi.Input[bool] = declared_input(
        Change.UPDATE, BOOLEAN, "Pause it in place: its instances stop (the commitment stands).", default=False,
        rule=v.flag, fill=False, was=False)
    ready_timeout_minutes: pulumi.Input[float] | None = declared_input(
        Change.NONE, NUMBER, "When it starts at once, how many minutes `up` waits for every instance to run. Past "
        "it, the reservation is recorded as it is (it is committed): `pulumi refresh` shows the rest.",
        rule=v.ready_timeout_minutes, fill=DEFAULT_READY_TIMEOUT_MINUTES, was=DEFAULT_READY_TIMEOUT_MINUTES)
    reservation_name: pulumi.Input[str] | None = declared_input(
        Change.REPLACE, STRING, "Name of the reservation on Mithril; left out, generated from the resource's URN "
        "and marked with the owning state's token.", rule=v.task_name, required=True)
    owner: pulumi.Input[str] | None = declared_input(Change.FIXED, STRING, _OWNER_DOC, rule=v.owner)


@attrs.define(kw_only=True)
class FlowSpotPoolArgs:
    """A GPU target held on spot bids of one instance each (slots), never above a per-GPU-hour ceiling. `up` places
    what is missing in the first region, then instance type, in the given order that has room under the ceiling;
    a refresh sees what was preempted or ended, and the next `up` refills it elsewhere if need be."""

    target_gpus: pulumi.Input[int] = declared_input(
        Change.UPDATE, INTEGER, "GPUs to hold. Never exceeded: a slot is placed only if its GPUs fit under the target.",
        default=attrs.NOTHING, rule=v.target_gpus, required=True)
    max_price_per_gpu_hour: pulumi.Input[float] = declared_input(
        Change.UPDATE, NUMBER, "The ceiling, in USD per GPU-hour. Each slot bids it times its GPUs, rounded down to "
        "the cent; a market above it is never bid on.", default=attrs.NOTHING, rule=v.price_per_gpu_hour,
        required=True)
    instance_types: pulumi.Input[Sequence[pulumi.Input[str]]] = declared_input(
        Change.UPDATE, STRINGS, "Instance types in order of preference, in Flow's grammar (`8xh100`, `4xa100`).",
        default=attrs.NOTHING, rule=v.instance_types, required=True)
    regions: pulumi.Input[Sequence[pulumi.Input[str]]] = declared_input(
        Change.UPDATE, STRINGS, "Regions in order of preference; left out, any region, the cheapest first. With "
        "volumes, only the volumes' region.", default=[], rule=v.regions, fill=list)
    command: pulumi.Input[str] | None = declared_input(
        Change.REPLACE, STRING, "What each slot's instance runs; left out, it idles (`sleep infinity`).",
        rule=v.command)
    image: pulumi.Input[str] | None = declared_input(
        Change.REPLACE, STRING, "Container image the command runs in; left out, Flow's default image.", rule=v.image)
    env: pulumi.Input[Mapping[str, pulumi.Input[str]]] = declared_input(
        Change.REPLACE, STRING_MAP, "Environment variables for the command.", default={}, rule=v.env, fill=dict)
    volumes: pulumi.Input[Sequence[pulumi.Input[Mapping[str, Any]]]] = declared_input(
        Change.REPLACE, MOUNTS, "File volumes every slot mounts: the pool then stays in their region.", default=[],
        rule=v.mounts, fill=list)
    ssh_keys: pulumi.Input[Sequence[pulumi.Input[str]]] = declared_input(
        Change.REPLACE, STRINGS, "Mithril SSH key ids (`sshkey_...`) allowed on the instances.", default=[],
        rule=v.ssh_keys, fill=list)
    ready_timeout_minutes: pulumi.Input[float] | None = declared_input(
        Change.NONE, NUMBER, "Minutes `up` waits for newly placed slots to be allocated; one still waiting then is "
        "recorded as `pending` (it is not cancelled).", rule=v.ready_timeout_minutes,
        fill=DEFAULT_READY_TIMEOUT_MINUTES)
    pool_name: pulumi.Input[str] | None = declared_input(
        Change.REPLACE, STRING, "Stem of the slots' bid names on Mithril; left out, generated from the resource's URN.",
        rule=v.task_name, required=True)
    owner: pulumi.Input[str] | None = declared_input(Change.FIXED, STRING, _OWNER_DOC, rule=v.owner)


@attrs.define(kw_only=True)
class OwnerArgs:
    """An owner takes no inputs: it is a token drawn once."""


TASK = Declaration("Task", FlowTaskArgs, (
    Output("task_id", STRING, "Mithril's id of the bid (`bid_...`); the resource id."),
    Output("bid_name", STRING, "Name of the bid on Mithril: the task name and a digest of its specification."),
    Output("status", STRING, "Flow's task status: `pending`, `running`, `completed`, `failed`, `cancelled`, "
                             "`preempted`..."),
    Output("bid_status", STRING, "Mithril's bid status: `Open`, `Allocated`, `Paused`, `Preempting`, `Terminated`."),
    Output("instance_ids", STRINGS, "Mithril instance ids, once allocated."),
    Output("public_ips", STRINGS, "Public SSH addresses of the instances, once running."),
    Output("private_ips", STRINGS, "Private addresses of the instances, for multi-node training."),
    Output("ssh_user", STRING, "User to SSH in as."),
    Output("ssh_port", INTEGER, "Port to SSH in on."),
    Output("market_price_per_hour", NUMBER, "What Mithril charged per instance-hour at the last read (the market, "
                                            "at most the bid)."),
    Output("resolved_region", STRING, "The region the task runs in."),
    Output("boot_volume_ids", STRINGS, "The volumes the bid's startup script mounts at their paths (those it was "
           "created with): on every machine Mithril gives the bid, now and after a preemption."),
    Output("unmounted_volume_ids", STRINGS, "Volumes attached to the bid since it was created: on its machines but "
           "not mounted by its startup script. Mount one with `flow mount VOLUME TASK --mount-point PATH` (on every "
           "new machine too), or replace the task to have them all mounted at boot."),
    Output("spend_usd", NUMBER, "What the bid has cost up to the last read, in USD: the exact sum of what Mithril "
                                "charged each of its instances, period by period, rounded up to the cent."),
    Output("preemptions", INTEGER, "How many times Mithril preempted the bid."),
    Output("running_hours", NUMBER, "Instance-hours Mithril charged the bid for."),
    Output("preempted_hours", NUMBER, "Hours the bid waited for machines after its preemptions."),
    Output("last_preempted_at", STRING, "When Mithril last preempted the bid (ISO 8601), if it ever did."),
    Output("stop_reason", STRING, "Why pulumi-flow ended the task, if it did: a job preempted more than "
                                  "`max_preemptions` times."),
), internal=((naming.AUTO_NAMED, _AUTO_NAMED),))

VOLUME = Declaration("Volume", FlowVolumeArgs, (
    Output("volume_id", STRING, "Mithril's id of the volume (`vol_...`); the resource id."),
    Output("attached_to", STRINGS, "Instances the volume is attached to."),
), internal=((naming.AUTO_NAMED, _AUTO_NAMED),))

RESERVATION = Declaration("Reservation", FlowReservationArgs, (
    Output("reservation_id", STRING, "Mithril's id of the reservation (`res_...`); the resource id."),
    Output("status", STRING, "Mithril's status: `Pending`, `Active`, `Paused`, `Canceled`, `Ended`."),
    Output("instance_ids", STRINGS, "Its instances, once it is active."),
    Output("public_ips", STRINGS, "Public SSH addresses of its instances, once running."),
    Output("private_ips", STRINGS, "Private addresses of its instances, for multi-node training."),
    Output("ssh_user", STRING, "User to SSH in as."),
    Output("ssh_port", INTEGER, "Port to SSH in on."),
    Output("unit_price", NUMBER, "What it costs per instance-hour, in USD, fixed when it was bought."),
    Output("committed_usd", NUMBER, "Its whole committed total, in USD, extensions included."),
    Output("spend_usd", NUMBER, "What it has cost up to the last read, in USD: the unit price for every "
                                "instance-hour reserved so far (used or not), rounded up to the cent."),
    Output("starts_at", STRING, "When it starts (ISO 8601)."),
    Output("ends_at", STRING, "When it ends (ISO 8601)."),
    Output("active_instance_hours", NUMBER, "Instance-hours its instances have run so far."),
    Output("idle_instance_hours", NUMBER, "Instance-hours reserved so far that no instance ran (paused, stopped)."),
), internal=((naming.AUTO_NAMED, _AUTO_NAMED),))

SLOTS: Mapping[str, Any] = {"type": "array", "items": {"$ref": "pulumi.json#/Any"}}
GPU_COUNTS: Mapping[str, Any] = {"type": "object", "additionalProperties": INTEGER}
# What a slot is, as `slots` records it; `held` and `preempting` slots hold their GPUs.
SLOT_STATUSES = ("held", "preempting", "pending", "preempted", "paused", "cancelling")
HOLDING = ("held", "preempting")

POOL = Declaration("Pool", FlowSpotPoolArgs, (
    Output("pool_id", STRING, "The pool's id: the stem of its slots' bid names; the resource id."),
    Output("slots", SLOTS, "One entry per bid: `slot`, `bid_id`, `instance_type`, `region`, `gpus`, `limit_price`, "
                           "`status` (`held`, `preempting`, `pending`, `preempted`, `paused`, `cancelling`), "
                           "`public_ips`."),
    Output("gpus_held", INTEGER, "GPUs on allocated slots at the last read (a slot given preemption notice counts "
                                 "until it is taken)."),
    Output("gpus_by_placement", GPU_COUNTS, "GPUs held per `region/instance_type`."),
    Output("unfilled_gpus", INTEGER, "Target minus GPUs held: what the next `up` tries to place."),
    Output("hourly_usd", NUMBER, "What the held slots cost per hour at the market of the last read."),
    Output("max_hourly_usd", NUMBER, "The most the pool can cost per hour: target GPUs x the ceiling."),
), internal=((naming.AUTO_NAMED, _AUTO_NAMED),))

OWNER = Declaration("Owner", OwnerArgs, (
    Output("token", STRING, "A random token, drawn once when the owner is created and kept in state; the tasks and "
                            "volumes that take it as `owner` carry it in their names on Mithril."),
))
