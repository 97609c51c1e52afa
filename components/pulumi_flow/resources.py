"""The custom resources every component is built from, hosted two ways with one implementation.

- `FlowOwner` / `Owner` hold the random token that marks what one state owns (`pulumi_flow.naming`): every
  component makes one, in state before any of its bids or volumes, and a task or volume given no `owner`
  makes its own beside it.
- `FlowTask` and `FlowVolume` are Python dynamic resources (`pulumi-python:dynamic/flow:Task|Volume`):
  zero set-up for Python programs, with the provider pickled into state.
- `Task` and `Volume` are the `flow` provider plugin's real custom resources (`flow:index:Task|Volume`):
  no code in state, `pulumi import` works, and every Pulumi language can use them.

Both take the same Args, carry the same properties under the same names, and are served by the same
`FlowTaskProvider` / `FlowVolumeProvider`. Which one the components build is `hosting()`: the
plugin's own process always builds the plugin's types; a Python program chooses with the stack
config `flow:hosting` (`dynamic`, the default, or `plugin`). The providers import the Flow SDK only
inside their methods, so building these resources (and any preview) never touches Mithril.
"""

from __future__ import annotations

import enum
import pickle
import threading
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast

import attrs
import pulumi
import pulumi.dynamic

from pulumi_flow import naming
from pulumi_flow.declarations import (
    OWNER,
    POOL,
    RESERVATION,
    TASK,
    VOLUME,
    FlowReservationArgs,
    FlowSpotPoolArgs,
    FlowTaskArgs,
    FlowVolumeArgs,
)
from pulumi_flow.provider.owner import FlowOwnerProvider
from pulumi_flow.provider.pool import FlowSpotPoolProvider
from pulumi_flow.provider.reservation import FlowReservationProvider
from pulumi_flow.provider.task import FlowTaskProvider
from pulumi_flow.provider.volume import FlowVolumeProvider

STACK_TYPE = "pulumi:pulumi:Stack"  # the engine's root resource: a program's own errors are reported on it
TASK_TYPE = "pulumi-python:dynamic/flow:Task"
VOLUME_TYPE = "pulumi-python:dynamic/flow:Volume"
RESERVATION_TYPE = "pulumi-python:dynamic/flow:Reservation"
PLUGIN_RESERVATION_TYPE = "flow:index:Reservation"
PLUGIN_TASK_TYPE = "flow:index:Task"
PLUGIN_VOLUME_TYPE = "flow:index:Volume"
POOL_TYPE = "pulumi-python:dynamic/flow:SpotPool"
PLUGIN_POOL_TYPE = "flow:index:Pool"
OWNER_TYPE = "pulumi-python:dynamic/flow:Owner"
PLUGIN_OWNER_TYPE = "flow:index:Owner"
OWNER_TYPES = (OWNER_TYPE, PLUGIN_OWNER_TYPE)
TASK_TYPES = (TASK_TYPE, PLUGIN_TASK_TYPE)
VOLUME_TYPES = (VOLUME_TYPE, PLUGIN_VOLUME_TYPE)
RESERVATION_TYPES = (RESERVATION_TYPE, PLUGIN_RESERVATION_TYPE)
POOL_TYPES = (POOL_TYPE, PLUGIN_POOL_TYPE)
# What Mithril bills for, under either hosting: what a teardown deletes and an unrecorded create may have made.
BILLED_TYPES = (*TASK_TYPES, *RESERVATION_TYPES, *POOL_TYPES, *VOLUME_TYPES)
HOSTING_CONFIG_KEY = "hosting"  # flow:hosting


class Hosting(enum.Enum):
    """Who serves the tasks and volumes: a Python dynamic provider, or the `flow` provider plugin."""

    DYNAMIC = "dynamic"
    PLUGIN = "plugin"


_PROCESS_HOSTING: Hosting | None = None


def host_in_this_process(hosting: Hosting) -> None:
    """Fix the hosting for this whole process (the plugin calls it: what it constructs is its own)."""
    global _PROCESS_HOSTING  # one switch per process, set once at start-up
    _PROCESS_HOSTING = hosting


def hosting() -> Hosting:
    if _PROCESS_HOSTING is not None:
        return _PROCESS_HOSTING
    configured = pulumi.Config("flow").get(HOSTING_CONFIG_KEY) or Hosting.DYNAMIC.value
    try:
        return Hosting(configured)
    except ValueError:
        raise ValueError(
            f"config flow:{HOSTING_CONFIG_KEY} is {configured!r}, expected one of "
            f"{[h.value for h in Hosting]}. Fix: `pulumi config set flow:{HOSTING_CONFIG_KEY} plugin`, or remove it "
            f"for the default {Hosting.DYNAMIC.value!r}") from None


_OWNER_PROVIDER = FlowOwnerProvider()
_TASK_PROVIDER = FlowTaskProvider()
_VOLUME_PROVIDER = FlowVolumeProvider()
_RESERVATION_PROVIDER = FlowReservationProvider()
_POOL_PROVIDER = FlowSpotPoolProvider()
_PICKLE_LOCK = threading.Lock()


@contextmanager
def _pickle_left_as_found() -> Iterator[None]:
    """Undo what `pulumi.dynamic`'s provider serialisation does to pickle.

    `serialize_provider` rebinds `pickle._Pickler._batch_setitems` to a wrapper around the
    current one and never restores it, so each dynamic resource adds a stack frame to every
    later dict pickled; near a thousand resources in one program, pickling overflows the stack
    (the "maximum recursion depth exceeded" of pulumi/pulumi#17803). Restoring the methods
    after each serialisation keeps the cost flat.
    """
    with _PICKLE_LOCK:
        saved = {name: pickle._Pickler.__dict__.get(name) for name in ("_batch_setitems", "save_dict")}
        try:
            yield
        finally:
            for name, method in saved.items():
                if method is not None:
                    setattr(pickle._Pickler, name, method)


def _auto_name(make: Callable[[str, str], str], resource_type: str, resource_name: str,
               opts: pulumi.ResourceOptions | None) -> pulumi.Input[str]:
    """A name unique to this resource's URN: from its parent's URN when it has a parent (known in
    previews too), else from project and stack, then its own type and name."""
    project, stack = pulumi.get_project(), pulumi.get_stack()
    parent = opts.parent if opts is not None else None
    if parent is None:
        return make(resource_name, naming.identity(None, project, stack, resource_type, resource_name))
    # The parent's URN as the SDK itself reads it for registration: its value only. As an Output it
    # would also carry the parent as a dependency, and a component depends on its children: a cycle.
    parent_urn: pulumi.Output[str] = pulumi.Output(set(), cast("Awaitable[str]", parent.urn.future()),
                                                   parent.urn.is_known())
    return parent_urn.apply(
        lambda urn: make(resource_name, naming.identity(urn, project, stack, resource_type, resource_name)))


class FlowOwner(pulumi.dynamic.Resource, module="flow", name="Owner"):
    """The token that marks this state's bids and volumes (no Mithril call, no key: it costs nothing)."""

    token: pulumi.Output[str]

    def __init__(self, resource_name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        with _pickle_left_as_found():
            super().__init__(_OWNER_PROVIDER, resource_name, dict.fromkeys(OWNER.output_keys),
                             _aliased(opts, PLUGIN_OWNER_TYPE))


class Owner(pulumi.CustomResource):
    """`FlowOwner` served by the `flow` provider plugin (`flow:index:Owner`)."""

    token: pulumi.Output[str]

    def __init__(self, resource_name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(PLUGIN_OWNER_TYPE, resource_name, dict.fromkeys(OWNER.output_keys),
                         _aliased(opts, OWNER_TYPE))


OwnerResource = FlowOwner | Owner


def new_owner(resource_name: str, opts: pulumi.ResourceOptions | None = None) -> OwnerResource:
    """An owner hosted as `hosting()` says."""
    if hosting() is Hosting.PLUGIN:
        return Owner(resource_name, opts)
    return FlowOwner(resource_name, opts)


def _own_owner(resource_type: str, resource_name: str, opts: pulumi.ResourceOptions | None) -> pulumi.Output[str]:
    """The token of an Owner made for one task or volume given none, beside it (same parent)."""
    owner_opts = pulumi.ResourceOptions(parent=opts.parent if opts is not None else None)
    name = f"{resource_name}-owner"
    owner = Owner(name, owner_opts) if resource_type.startswith("flow:") else FlowOwner(name, owner_opts)
    return owner.token


class TaskOutputs:
    """What a task resource outputs, under either hosting (`declarations.TASK`'s outputs, and the price), typed."""

    task_id: pulumi.Output[str]
    bid_name: pulumi.Output[str]
    status: pulumi.Output[str]
    bid_status: pulumi.Output[str]
    instance_ids: pulumi.Output[list[str]]
    public_ips: pulumi.Output[list[str]]
    private_ips: pulumi.Output[list[str]]
    ssh_user: pulumi.Output[str]
    ssh_port: pulumi.Output[int]
    market_price_per_hour: pulumi.Output[float]
    max_price_per_hour: pulumi.Output[float]
    resolved_region: pulumi.Output[str]
    boot_volume_ids: pulumi.Output[list[str]]
    unmounted_volume_ids: pulumi.Output[list[str]]
    spend_usd: pulumi.Output[float]
    preemptions: pulumi.Output[int]
    running_hours: pulumi.Output[float]
    preempted_hours: pulumi.Output[float]
    last_preempted_at: pulumi.Output[str]
    stop_reason: pulumi.Output[str]


class VolumeOutputs:
    """What a volume resource outputs, under either hosting (`declarations.VOLUME`'s outputs and inputs), typed."""

    volume_id: pulumi.Output[str]
    volume_name: pulumi.Output[str]
    size_gb: pulumi.Output[int]
    interface: pulumi.Output[str]
    region: pulumi.Output[str]
    attached_to: pulumi.Output[list[str]]


class ReservationOutputs:
    """What a reservation resource outputs (`declarations.RESERVATION`'s outputs and inputs), typed."""

    reservation_id: pulumi.Output[str]
    reservation_name: pulumi.Output[str]
    status: pulumi.Output[str]
    instance_ids: pulumi.Output[list[str]]
    public_ips: pulumi.Output[list[str]]
    private_ips: pulumi.Output[list[str]]
    ssh_user: pulumi.Output[str]
    ssh_port: pulumi.Output[int]
    unit_price: pulumi.Output[float]
    committed_usd: pulumi.Output[float]
    spend_usd: pulumi.Output[float]
    starts_at: pulumi.Output[str]
    ends_at: pulumi.Output[str]
    active_instance_hours: pulumi.Output[float]
    idle_instance_hours: pulumi.Output[float]


class PoolHoldings:
    """What a spot pool holds and costs (`declarations.POOL`'s outputs), typed: the resource's and its component's."""

    pool_id: pulumi.Output[str]
    slots: pulumi.Output[list[dict[str, Any]]]
    gpus_held: pulumi.Output[int]
    gpus_by_placement: pulumi.Output[dict[str, int]]
    unfilled_gpus: pulumi.Output[int]
    hourly_usd: pulumi.Output[float]
    max_hourly_usd: pulumi.Output[float]


class PoolOutputs(PoolHoldings):
    """What a spot pool resource outputs: its holdings, and the inputs it reads back."""

    pool_name: pulumi.Output[str]
    target_gpus: pulumi.Output[int]
    max_price_per_gpu_hour: pulumi.Output[float]


class FlowTask(TaskOutputs, pulumi.dynamic.Resource, module="flow", name="Task"):
    """A Mithril spot bid and its instances, owned by the Pulumi engine."""

    def __init__(self, resource_name: str, args: FlowTaskArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        props = _task_props(TASK_TYPE, resource_name, args, opts)
        if opts is not None and opts.custom_timeouts is not None:
            pulumi.log.warn(
                f"{resource_name}: custom_timeouts has no effect on pulumi-flow tasks (Python dynamic providers "
                f"never receive it; the flow plugin does: `pulumi config set flow:hosting plugin`); how long `up` "
                f"waits for the machines is ready_timeout_minutes")
        with _pickle_left_as_found():
            super().__init__(_TASK_PROVIDER, resource_name, props, _aliased(opts, PLUGIN_TASK_TYPE))


class FlowVolume(VolumeOutputs, pulumi.dynamic.Resource, module="flow", name="Volume"):
    """A Mithril persistent volume."""

    def __init__(self, resource_name: str, args: FlowVolumeArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        props = _volume_props(VOLUME_TYPE, resource_name, args, opts)  # may register an Owner: outside the lock
        with _pickle_left_as_found():
            super().__init__(_VOLUME_PROVIDER, resource_name, props, _aliased(opts, PLUGIN_VOLUME_TYPE))


class FlowReservation(ReservationOutputs, pulumi.dynamic.Resource, module="flow", name="Reservation"):
    """Mithril reserved instances: capacity nobody can preempt, bought for a period at a unit price guarded by
    `max_unit_price`. A commitment, so it is protected unless the options say `protect=False`."""

    def __init__(self, resource_name: str, args: FlowReservationArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        props = _reservation_props(RESERVATION_TYPE, resource_name, args, opts)
        with _pickle_left_as_found():
            super().__init__(_RESERVATION_PROVIDER, resource_name, props,
                             _protected(_aliased(opts, PLUGIN_RESERVATION_TYPE)))


class FlowSpotPool(PoolOutputs, pulumi.dynamic.Resource, module="flow", name="SpotPool"):
    """A GPU target held on one-instance Mithril spot bids under a per-GPU-hour ceiling, refilled by `up`."""

    def __init__(self, resource_name: str, args: FlowSpotPoolArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        props = _pool_props(POOL_TYPE, resource_name, args, opts)
        with _pickle_left_as_found():
            super().__init__(_POOL_PROVIDER, resource_name, props, _aliased(opts, PLUGIN_POOL_TYPE))


def _protected(opts: pulumi.ResourceOptions) -> pulumi.ResourceOptions:
    """A commitment is protected unless the options say otherwise."""
    return pulumi.ResourceOptions.merge(pulumi.ResourceOptions(protect=True) if opts.protect is None else None, opts)


def _props(args: FlowTaskArgs | FlowVolumeArgs | FlowReservationArgs | FlowSpotPoolArgs, name_key: str,
           make: Callable[[str, str], str], output_keys: Sequence[str], resource_type: str, resource_name: str,
           opts: pulumi.ResourceOptions | None) -> dict[str, Any]:
    """A resource's registered properties: its inputs, its Mithril name (generated from the URN unless given, and
    marked so), and its outputs still to come."""
    props: dict[str, Any] = attrs.asdict(args, recurse=False)
    if props[naming.OWNER] is None:
        props[naming.OWNER] = _own_owner(resource_type, resource_name, opts)
    props[naming.AUTO_NAMED] = props[name_key] is None
    if props[name_key] is None:
        props[name_key] = _auto_name(make, resource_type, resource_name, opts)
    props.update(dict.fromkeys(output_keys))
    return props


def _task_props(resource_type: str, resource_name: str, args: FlowTaskArgs,
                opts: pulumi.ResourceOptions | None) -> dict[str, Any]:
    return _props(args, "task_name", naming.task_name, TASK.output_keys, resource_type, resource_name, opts)


def _volume_props(resource_type: str, resource_name: str, args: FlowVolumeArgs,
                  opts: pulumi.ResourceOptions | None) -> dict[str, Any]:
    return _props(args, "volume_name", naming.volume_name, VOLUME.output_keys, resource_type, resource_name, opts)


def _reservation_props(resource_type: str, resource_name: str, args: FlowReservationArgs,
                       opts: pulumi.ResourceOptions | None) -> dict[str, Any]:
    return _props(args, "reservation_name", naming.task_name, RESERVATION.output_keys, resource_type, resource_name,
                  opts)


def _pool_props(resource_type: str, resource_name: str, args: FlowSpotPoolArgs,
                opts: pulumi.ResourceOptions | None) -> dict[str, Any]:
    return _props(args, "pool_name", naming.task_name, POOL.output_keys, resource_type, resource_name, opts)


class Pool(PoolOutputs, pulumi.CustomResource):
    """`FlowSpotPool` served by the `flow` provider plugin (`flow:index:Pool`): the same inputs, outputs and
    provider. Not importable: Mithril keeps no pool, only its bids (the first `up` adopts this state's own)."""

    def __init__(self, resource_name: str, args: FlowSpotPoolArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(PLUGIN_POOL_TYPE, resource_name, _pool_props(PLUGIN_POOL_TYPE, resource_name, args, opts),
                         _aliased(opts, POOL_TYPE))


class Task(TaskOutputs, pulumi.CustomResource):
    """`FlowTask` served by the `flow` provider plugin (`flow:index:Task`): the same inputs, outputs and
    provider, no pickled code in state, importable with `pulumi import flow:index:Task NAME BID_ID`."""

    def __init__(self, resource_name: str, args: FlowTaskArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(PLUGIN_TASK_TYPE, resource_name, _task_props(PLUGIN_TASK_TYPE, resource_name, args, opts),
                         _aliased(opts, TASK_TYPE))


class Volume(VolumeOutputs, pulumi.CustomResource):
    """`FlowVolume` served by the `flow` provider plugin (`flow:index:Volume`); importable with
    `pulumi import flow:index:Volume NAME VOLUME_ID`."""

    def __init__(self, resource_name: str, args: FlowVolumeArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(PLUGIN_VOLUME_TYPE, resource_name,
                         _volume_props(PLUGIN_VOLUME_TYPE, resource_name, args, opts), _aliased(opts, VOLUME_TYPE))


class Reservation(ReservationOutputs, pulumi.CustomResource):
    """`FlowReservation` served by the `flow` provider plugin (`flow:index:Reservation`), protected the same way;
    importable with `pulumi import flow:index:Reservation NAME RESERVATION_ID`."""

    def __init__(self, resource_name: str, args: FlowReservationArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(PLUGIN_RESERVATION_TYPE, resource_name,
                         _reservation_props(PLUGIN_RESERVATION_TYPE, resource_name, args, opts),
                         _protected(_aliased(opts, RESERVATION_TYPE)))


def _aliased(opts: pulumi.ResourceOptions | None, other_type: str) -> pulumi.ResourceOptions:
    """The same resource under the other hosting's type is this one: a stack that changes `flow:hosting` keeps
    every bid and volume (the engine moves them to the new type and provider in place, no replacement)."""
    alias = pulumi.Alias(type_=other_type)
    return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(aliases=[alias]))


TaskResource = FlowTask | Task
VolumeResource = FlowVolume | Volume
ReservationResource = FlowReservation | Reservation
PoolResource = FlowSpotPool | Pool


def new_task(resource_name: str, args: FlowTaskArgs, opts: pulumi.ResourceOptions | None = None) -> TaskResource:
    """A task hosted as `hosting()` says."""
    if hosting() is Hosting.PLUGIN:
        return Task(resource_name, args, opts)
    return FlowTask(resource_name, args, opts)


def new_volume(resource_name: str, args: FlowVolumeArgs,
               opts: pulumi.ResourceOptions | None = None) -> VolumeResource:
    """A volume hosted as `hosting()` says."""
    if hosting() is Hosting.PLUGIN:
        return Volume(resource_name, args, opts)
    return FlowVolume(resource_name, args, opts)


def new_reservation(resource_name: str, args: FlowReservationArgs,
                    opts: pulumi.ResourceOptions | None = None) -> ReservationResource:
    """A reservation hosted as `hosting()` says."""
    if hosting() is Hosting.PLUGIN:
        return Reservation(resource_name, args, opts)
    return FlowReservation(resource_name, args, opts)


def new_pool(resource_name: str, args: FlowSpotPoolArgs, opts: pulumi.ResourceOptions | None = None) -> PoolResource:
    """A spot pool hosted as `hosting()` says."""
    if hosting() is Hosting.PLUGIN:
        return Pool(resource_name, args, opts)
    return FlowSpotPool(resource_name, args, opts)
