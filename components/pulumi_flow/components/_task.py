"""What TrainingCluster and TrainingJob share: one task child, its mounts and outputs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import attrs
import pulumi

from pulumi_flow import validation as v
from pulumi_flow.components._options import child_options
from pulumi_flow.components.capacity import ReservedCapacity
from pulumi_flow.components.volumes import VolumeMount
from pulumi_flow.declarations import FlowReservationArgs
from pulumi_flow.money import as_number, usd
from pulumi_flow.resources import FlowTaskArgs, ReservationResource, TaskResource, new_owner, new_reservation, new_task


def resolve_bid(explicit: pulumi.Input[float] | None, default: Callable[..., float],
                *inputs: pulumi.Input[Any]) -> pulumi.Input[float]:
    """The bid given, else `default(*inputs)`: now when every input is plain, inside `apply` when any
    is an Output (never branching on an unresolved value)."""
    if explicit is not None:
        return explicit
    if any(v.is_unknown(value) for value in inputs):
        return pulumi.Output.all(*inputs).apply(lambda values: default(*values))
    return default(*inputs)


def when_known(value: pulumi.Input[Any], shape: Callable[[Any], Any]) -> pulumi.Input[Any]:
    """`shape(value)` now for a plain value, inside `apply` for an Output."""
    if v.is_unknown(value):
        return pulumi.Output.from_input(value).apply(shape)
    return shape(value)


def counted_instance_type(value: object, field: str) -> str:
    """Components need the GPU count: it decides the bid threshold and the default bid."""
    return v.instance_type(value, field, require_count=True)


def mounts(value: object) -> tuple[VolumeMount, ...]:
    if isinstance(value, VolumeMount):
        value = [value]
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise v.InputError("volumes", value, "must be a list of VolumeMount",
                           "use DataVolumes.mount(name, path), e.g. [volumes.mount('data', '/data')]")
    for index, item in enumerate(value):
        if not isinstance(item, VolumeMount):
            raise v.InputError(f"volumes[{index}]", item, "is not a VolumeMount",
                               "use DataVolumes.mount(name, path)")
    return tuple(value)


def check_mounts(owner: str, volumes: Sequence[VolumeMount], num_instances: Any, region: Any) -> None:
    """Cross-field rules on plain values; anything still unknown is left to the provider."""
    field = f"{owner}.volumes"
    v.mounts([{"volume_id": m.identity(), "mount_path": m.mount_path,
               **({} if v.is_unknown(m.interface) else {"interface": m.interface})} for m in volumes], field)
    if not v.is_unknown(num_instances):
        v.block_volumes_single_instance([{"interface": m.interface} for m in volumes], int(num_instances), field)
    regions = {str(m.region) for m in volumes if m.region is not None and not v.is_unknown(m.region)}
    if len(regions) > 1:
        raise v.InputError(field, sorted(regions), "mounts volumes from different regions, and a task runs in one",
                           "create the volumes in one region")
    if regions and region is not None and not v.is_unknown(region) and region not in regions:
        raise v.InputError(f"{owner}.region", region, f"differs from the mounted volumes' region {regions.pop()!r}",
                           "leave region out (the task follows its volumes) or create the volumes in this region")


# What a TrainingCluster's or TrainingJob's state carries, in this order: its registered outputs and its schema's.
# What the task's money came to (its declaration's cost outputs), passed through as the task reads them.
COST_OUTPUTS = ("market_price_per_hour", "spend_usd", "preemptions", "running_hours", "preempted_hours",
                "last_preempted_at")
OUTPUTS = ("task_id", "status", "instance_ids", "public_ips", "private_ips", "ssh_user", "ssh_port",
           "max_price_per_hour", "hourly_bid", *COST_OUTPUTS, "unmounted_volume_ids")


# A reservation's status in the words a task's `status` uses, so a component's outputs mean one thing on either
# capacity (Mithril's reservation statuses: `declarations.RESERVATION`; Flow's task statuses: `TaskStatus`).
TASK_STATUS_OF_RESERVATION = {"Pending": "pending", "Active": "running", "Paused": "paused", "Ended": "completed",
                              "Canceled": "cancelled"}


class TaskComponent(pulumi.ComponentResource):
    """The outputs are the same whether the machines are a spot bid (`task`) or reserved (`reservation`)."""

    task: TaskResource
    reservation: ReservationResource
    task_id: pulumi.Output[str]
    status: pulumi.Output[str]
    instance_ids: pulumi.Output[list[str]]
    public_ips: pulumi.Output[list[str]]
    private_ips: pulumi.Output[list[str]]
    ssh_user: pulumi.Output[str]
    ssh_port: pulumi.Output[int]
    max_price_per_hour: pulumi.Output[float]
    hourly_bid: pulumi.Output[float]
    market_price_per_hour: pulumi.Output[float]
    spend_usd: pulumi.Output[float]
    preemptions: pulumi.Output[int]
    running_hours: pulumi.Output[float]
    preempted_hours: pulumi.Output[float]
    last_preempted_at: pulumi.Output[str]
    unmounted_volume_ids: pulumi.Output[list[str]]

    def _create_task(self, name: str, task_args: FlowTaskArgs, volumes: Sequence[VolumeMount],
                     opts: pulumi.ResourceOptions | None) -> None:
        task_args.volumes = [m.as_input() for m in volumes]
        # In state before the bid is placed, so a create retried after a killed `up` finds this state's bid.
        self.owner = new_owner(f"{self._name}-owner", pulumi.ResourceOptions(parent=self))
        task_args.owner = self.owner.token
        self.task = new_task(name, task_args, child_options(
            self, opts, depends_on=[m.volume for m in volumes if m.volume is not None]))
        self.task_id = self.task.task_id
        self.status = self.task.status
        self.instance_ids = self.task.instance_ids
        self.public_ips = self.task.public_ips
        self.private_ips = self.task.private_ips
        self.ssh_user = self.task.ssh_user
        self.ssh_port = self.task.ssh_port
        self.max_price_per_hour = self.task.max_price_per_hour
        self.hourly_bid = pulumi.Output.all(self.task.max_price_per_hour, task_args.num_instances).apply(
            lambda values: as_number(usd(values[0]) * int(values[1])))
        for key in COST_OUTPUTS:
            setattr(self, key, getattr(self.task, key))
        self.unmounted_volume_ids = self.task.unmounted_volume_ids
        self.register_outputs({key: getattr(self, key) for key in OUTPUTS})

    def _create_reservation(self, name: str, reserved: ReservedCapacity, machines: FlowReservationArgs,
                            volumes: Sequence[VolumeMount], opts: pulumi.ResourceOptions | None) -> None:
        """The machines a task would bid for (`machines`), reserved instead for `reserved`'s window: run by Flow's
        runtime with the same mounts, on instances Mithril cannot preempt (so those outputs are zero)."""
        self.owner = new_owner(f"{self._name}-owner", pulumi.ResourceOptions(parent=self))
        machines = attrs.evolve(
            machines, mounts=[m.as_input() for m in volumes],
            start_time=reserved.start_time, end_time=reserved.end_time, duration_hours=reserved.duration_hours,
            owner=self.owner.token)
        self.reservation = new_reservation(name, machines, child_options(
            self, opts, depends_on=[m.volume for m in volumes if m.volume is not None], protect=reserved.protect))
        held = self.reservation
        self.task_id = held.reservation_id
        self.status = held.status.apply(lambda status: TASK_STATUS_OF_RESERVATION.get(status, str(status).lower()))
        self.instance_ids = held.instance_ids
        self.public_ips = held.public_ips
        self.private_ips = held.private_ips
        self.ssh_user = held.ssh_user
        self.ssh_port = held.ssh_port
        self.max_price_per_hour = held.unit_price
        self.hourly_bid = pulumi.Output.all(held.unit_price, machines.quantity).apply(
            lambda values: as_number(usd(values[0]) * int(values[1])))
        self.market_price_per_hour = held.unit_price
        self.spend_usd = held.spend_usd
        self.preemptions = pulumi.Output.from_input(0)
        self.running_hours = held.active_instance_hours
        self.preempted_hours = pulumi.Output.from_input(0.0)
        self.last_preempted_at = pulumi.Output.from_input(None)  # type: ignore[arg-type]
        self.unmounted_volume_ids = pulumi.Output.from_input([])  # Flow's runtime mounts every one at boot
        self.register_outputs({key: getattr(self, key) for key in OUTPUTS})


def reserved_region(region: pulumi.Input[str] | None, volumes: Sequence[VolumeMount]) -> pulumi.Input[str]:
    """A reservation is bought in one region: the one given, else its volumes'."""
    if region is not None:
        return region
    for mount in volumes:
        if mount.volume is not None:
            return mount.volume.region
        if mount.region is not None:
            return mount.region
    raise v.InputError("TrainingClusterArgs.region", None, "is required with capacity=ReservedCapacity(...): a "
                       "reservation is bought in one region", "set region, e.g. 'us-central1-a', or mount a "
                       "DataVolumes volume (the reservation then follows it)")
