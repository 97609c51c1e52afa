"""`TrainingJob`: an ephemeral workload that stops billing when its command ends."""

from __future__ import annotations

import functools
from collections.abc import Mapping

import attrs
import pulumi

from pulumi_flow import validation as v
from pulumi_flow.components._args import recorded_inputs, rule
from pulumi_flow.components._task import TaskComponent, check_mounts, counted_instance_type, mounts, resolve_bid
from pulumi_flow.components.volumes import VolumeMount
from pulumi_flow.money import as_number, cents_up, usd
from pulumi_flow.resources import FlowTaskArgs

TYPE = "flow:index:TrainingJob"
PRIORITIES = ("low", "med", "high")


def default_bid(instance_type: str, priority: str) -> float:
    """Flow's own priority tiers (its bundled per-GPU table), the bid `flow run` would place."""
    from flow.utils.pricing_calculator import calculate_instance_price

    return as_number(cents_up(usd(calculate_instance_price(instance_type, priority=priority))))


@attrs.frozen
class TrainingJobArgs:
    """`max_price_per_hour` may be low: interruptible work tolerates preemption. Left out, the
    bid is Flow's tier for `priority`. `wait` is how long `up` waits: until the bid is
    `submitted` (default), the job is `running`, or it has `completed`."""

    command: pulumi.Input[str] = attrs.field(converter=rule(v.command))
    instance_type: pulumi.Input[str] = attrs.field(converter=rule(counted_instance_type))
    num_instances: pulumi.Input[int] = attrs.field(default=1, converter=rule(v.num_instances))
    max_price_per_hour: pulumi.Input[float] | None = attrs.field(default=None, converter=rule(v.price, optional=True))
    priority: pulumi.Input[str] = attrs.field(
        default="med", converter=rule(functools.partial(v.choice, allowed=PRIORITIES)))
    volumes: tuple[VolumeMount, ...] = attrs.field(factory=tuple, converter=mounts)
    image: pulumi.Input[str] | None = attrs.field(default=None, converter=rule(v.image, optional=True))
    env: pulumi.Input[Mapping[str, str]] = attrs.field(factory=dict, converter=rule(v.env))
    ssh_keys: pulumi.Input[list[str]] = attrs.field(factory=list, converter=rule(v.ssh_keys))
    max_run_time_hours: pulumi.Input[float] | None = attrs.field(
        default=None, converter=rule(v.max_run_time_hours, optional=True))
    region: pulumi.Input[str] | None = attrs.field(default=None, converter=rule(v.region, optional=True))
    wait: pulumi.Input[str] = attrs.field(default="submitted", converter=rule(v.wait_until))
    ready_timeout_minutes: pulumi.Input[float] = attrs.field(default=30.0, converter=rule(v.ready_timeout_minutes))

    def __attrs_post_init__(self) -> None:
        check_mounts(type(self).__name__, self.volumes, self.num_instances, self.region)

    def bid(self) -> pulumi.Input[float]:
        return resolve_bid(self.max_price_per_hour, default_bid, self.instance_type, self.priority)


class TrainingJob(TaskComponent):
    """One `FlowTask` with role `workload`, submitted with terminate-on-exit. A finished job
    is not drift: refresh keeps it with its terminal status and `up` does not rerun it."""

    def __init__(self, name: str, args: TrainingJobArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        if not isinstance(args, TrainingJobArgs):
            raise TypeError(f"TrainingJob({name!r}) takes TrainingJobArgs, got {type(args).__name__}")
        bid = args.bid()
        super().__init__(TYPE, name, recorded_inputs(args), opts)
        self._create_task(f"{name}-task", FlowTaskArgs(
            role="workload", instance_type=args.instance_type, num_instances=args.num_instances,
            max_price_per_hour=bid, command=args.command, region=args.region, image=args.image, env=args.env,
            ssh_keys=args.ssh_keys, max_run_time_hours=args.max_run_time_hours, wait_until=args.wait,
            ready_timeout_minutes=args.ready_timeout_minutes,
        ), args.volumes, opts)
