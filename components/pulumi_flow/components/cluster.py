"""`TrainingCluster`: persistent multi-node GPU compute that stays up until destroyed."""

from __future__ import annotations

from collections.abc import Mapping

import attrs
import pulumi

from pulumi_flow import pricing
from pulumi_flow import validation as v
from pulumi_flow.components._args import recorded_inputs, rule
from pulumi_flow.components._task import (
    TaskComponent,
    check_mounts,
    counted_instance_type,
    mounts,
    reserved_region,
    resolve_bid,
    when_known,
)
from pulumi_flow.components.capacity import ReservedCapacity, capacity
from pulumi_flow.components.volumes import VolumeMount
from pulumi_flow.money import as_number
from pulumi_flow.provider.task import IDLE_COMMAND
from pulumi_flow.resources import FlowReservationArgs, FlowTaskArgs

TYPE = "flow:index:TrainingCluster"
KEEP_ALIVE = IDLE_COMMAND  # what a cluster runs after its startup script


@attrs.frozen
class TrainingClusterArgs:
    """`max_price_per_hour` is the bid per instance-hour; left out, it is the built-in on-demand
    threshold for the instance type rounded up to the cent (`pulumi_flow.pricing.default_bid`).

    `paused=True` pauses the bid in place (Mithril bills nothing while paused). A change of what runs
    replaces the bid: `replacement="delete-first"` (default) cancels the old one first, so nothing
    bills twice but the capacity may not come back; `"create-first"` keeps the old machines until the
    new ones run and pays for both meanwhile (a cluster's bid x instances, for minutes).

    `capacity=ReservedCapacity(max_unit_price=..., duration_hours=...)` runs the same machines on a Mithril
    reservation instead of a spot bid: nobody can preempt them, and the window is paid for in full, used or not. The
    outputs keep their meaning (`task_id` is then the reservation's id, `max_price_per_hour` its unit price)."""

    instance_type: pulumi.Input[str] = attrs.field(converter=rule(counted_instance_type))
    num_instances: pulumi.Input[int] = attrs.field(default=1, converter=rule(v.num_instances))
    max_price_per_hour: pulumi.Input[float] | None = attrs.field(default=None, converter=rule(v.price, optional=True))
    volumes: tuple[VolumeMount, ...] = attrs.field(factory=tuple, converter=mounts)
    region: pulumi.Input[str] | None = attrs.field(default=None, converter=rule(v.region, optional=True))
    image: pulumi.Input[str] | None = attrs.field(default=None, converter=rule(v.image, optional=True))
    startup_script: pulumi.Input[str] | None = attrs.field(default=None, converter=rule(v.startup_script,
                                                                                      optional=True))
    ssh_keys: pulumi.Input[list[str]] = attrs.field(factory=list, converter=rule(v.ssh_keys))
    env: pulumi.Input[Mapping[str, str]] = attrs.field(factory=dict, converter=rule(v.env))
    ready_timeout_minutes: pulumi.Input[float] = attrs.field(default=30.0, converter=rule(v.ready_timeout_minutes))
    paused: pulumi.Input[bool] = attrs.field(default=False, converter=rule(v.flag))
    replacement: pulumi.Input[str] = attrs.field(default="delete-first", converter=rule(v.replacement))
    capacity: ReservedCapacity | None = attrs.field(default=None, converter=capacity)

    def __attrs_post_init__(self) -> None:
        check_mounts(type(self).__name__, self.volumes, self.num_instances, self.region)
        if self.capacity is not None and self.max_price_per_hour is not None:
            raise v.InputError("TrainingClusterArgs.max_price_per_hour", self.max_price_per_hour, "is a spot bid, and "
                               "this cluster runs on reserved capacity", "leave it out: the reservation costs at most "
                               "capacity.max_unit_price per instance-hour")

    def bid(self) -> pulumi.Input[float]:
        return resolve_bid(self.max_price_per_hour, _threshold, self.instance_type)

    def command(self) -> pulumi.Input[str]:
        if self.startup_script is None:
            return KEEP_ALIVE
        return when_known(self.startup_script, lambda script: f"{script.rstrip()}\n{KEEP_ALIVE}")


def _threshold(instance_type: str) -> float:
    try:
        return as_number(pricing.default_bid(instance_type))
    except pricing.MissingThresholdError as exc:
        raise v.InputError("TrainingClusterArgs.max_price_per_hour", None, exc.problem,
                           "give an explicit max_price_per_hour, and configure the policy pack's "
                           f"threshold for {exc.family!r}") from None


class TrainingCluster(TaskComponent):
    """One `FlowTask` with role `infrastructure`; `up` returns once every instance is running."""

    def __init__(self, name: str, args: TrainingClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        if not isinstance(args, TrainingClusterArgs):
            raise TypeError(f"TrainingCluster({name!r}) takes TrainingClusterArgs, got {type(args).__name__}")
        if args.capacity is not None:
            region = reserved_region(args.region, args.volumes)  # may raise: before anything is registered
            super().__init__(TYPE, name, recorded_inputs(args), opts)
            self._create_reservation(f"{name}-reservation", args.capacity, FlowReservationArgs(
                instance_type=args.instance_type, quantity=args.num_instances, region=region,
                command=args.command(), image=args.image, env=args.env, ssh_keys=args.ssh_keys, paused=args.paused,
                max_unit_price=args.capacity.max_unit_price, ready_timeout_minutes=args.ready_timeout_minutes),
                args.volumes, opts)
            return
        bid = args.bid()  # may raise: before anything is registered
        super().__init__(TYPE, name, recorded_inputs(args), opts)
        self._create_task(f"{name}-task", FlowTaskArgs(
            role="infrastructure", instance_type=args.instance_type, num_instances=args.num_instances,
            max_price_per_hour=bid, command=args.command(), region=args.region, image=args.image,
            env=args.env, ssh_keys=args.ssh_keys, wait_until="running",
            ready_timeout_minutes=args.ready_timeout_minutes, paused=args.paused, replacement=args.replacement,
        ), args.volumes, opts)
