"""`TrainingJob`: an ephemeral workload that stops billing when its command ends."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import attrs
import pulumi

from pulumi_flow import validation as v
from pulumi_flow.components._args import recorded_inputs, rule
from pulumi_flow.components._task import TaskComponent, check_mounts, counted_instance_type, mounts, resolve_bid
from pulumi_flow.components.resume import resume_wrapper
from pulumi_flow.components.volumes import VolumeMount
from pulumi_flow.money import as_number, cents_up, usd
from pulumi_flow.resources import FlowTaskArgs

TYPE = "flow:index:TrainingJob"
PRIORITIES = ("low", "med", "high")


def checkpoint_mount(value: object) -> VolumeMount | None:
    if value is not None and not isinstance(value, VolumeMount):
        raise v.InputError("TrainingJobArgs.checkpoint", v.Shown(f"a {type(value).__name__}"), "must be a VolumeMount",
                           "use checkpoint=volumes.mount('checkpoints', '/mnt/checkpoints')")
    return value


def default_bid(instance_type: str, priority: str) -> float:
    """Flow's own priority tiers (its bundled per-GPU table), the bid `flow run` would place."""
    from flow.utils.pricing_calculator import calculate_instance_price

    return as_number(cents_up(usd(calculate_instance_price(instance_type, priority=priority))))


@attrs.frozen
class TrainingJobArgs:
    """`max_price_per_hour` may be low: interruptible work tolerates preemption. Left out, the
    bid is Flow's tier for `priority`. `wait` is how long `up` waits: until the bid is
    `submitted` (default), the job is `running`, or it has `completed`.

    `checkpoint=volumes.mount(name, path)` makes the job survive preemption: Mithril re-runs a re-allocated job from
    the top, and a wrapper then exports `FLOW_RESTART_COUNT` and `FLOW_LATEST_CHECKPOINT` (the newest complete
    checkpoint under `path`) and runs `resume_command` when there is one to resume from (`command` otherwise);
    see `pulumi_flow.components.resume`. `max_preemptions=N`: a refresh that finds the job preempted more than N
    times cancels it (billing stops), and the task's `stop_reason` says so."""

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
    max_preemptions: pulumi.Input[int] | None = attrs.field(default=None,
                                                            converter=rule(v.max_preemptions, optional=True))
    checkpoint: VolumeMount | None = attrs.field(default=None, converter=checkpoint_mount)
    resume_command: pulumi.Input[str] | None = attrs.field(default=None, converter=rule(v.command, optional=True))

    def __attrs_post_init__(self) -> None:
        check_mounts(type(self).__name__, self.mounted(), self.num_instances, self.region)
        if self.resume_command is not None and self.checkpoint is None:
            raise v.InputError("TrainingJobArgs.resume_command", self.resume_command, "needs a checkpoint volume to "
                               "resume from", "add checkpoint=volumes.mount('checkpoints', '/mnt/checkpoints')")

    def mounted(self) -> tuple[VolumeMount, ...]:
        """What the job mounts: its volumes, and its checkpoint volume where it says (unless among them already)."""
        checkpoint = self.checkpoint
        if checkpoint is None or any(m.identity() == checkpoint.identity() for m in self.volumes):
            return self.volumes
        return (*self.volumes, checkpoint)

    def task_command(self) -> pulumi.Input[str]:
        """The command, or with a checkpoint the resume wrapper around it (`pulumi_flow.components.resume`)."""
        checkpoint = self.checkpoint
        if checkpoint is None:
            return self.command

        def wrap(commands: list[Any]) -> str:
            return resume_wrapper(str(commands[0]), commands[1], checkpoint.mount_path)

        if v.contains_unknown([self.command, self.resume_command]):
            return pulumi.Output.all(self.command, self.resume_command).apply(wrap)
        return wrap([self.command, self.resume_command])

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
            max_price_per_hour=bid, command=args.task_command(), region=args.region, image=args.image, env=args.env,
            ssh_keys=args.ssh_keys, max_run_time_hours=args.max_run_time_hours, max_preemptions=args.max_preemptions,
            wait_until=args.wait, ready_timeout_minutes=args.ready_timeout_minutes,
        ), args.mounted(), opts)
