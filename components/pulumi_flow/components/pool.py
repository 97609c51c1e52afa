"""`SpotPool`: a GPU target, not a bid. Held on one-instance spot bids under a per-GPU-hour ceiling, across an
ordered list of regions and instance types; `up` refills what a refresh found preempted or ended."""

from __future__ import annotations

from collections.abc import Mapping

import attrs
import pulumi

from pulumi_flow import validation as v
from pulumi_flow.components._args import recorded_inputs, rule
from pulumi_flow.components._options import child_options
from pulumi_flow.components._task import check_mounts, mounts
from pulumi_flow.components.volumes import VolumeMount
from pulumi_flow.declarations import POOL, FlowSpotPoolArgs
from pulumi_flow.provider.pool import pool_cross_field_errors
from pulumi_flow.resources import PoolHoldings, PoolResource, new_owner, new_pool

TYPE = "flow:index:SpotPool"
# What a SpotPool's state carries, in this order: its registered outputs, which are its pool resource's.
OUTPUTS = POOL.output_keys


@attrs.frozen
class SpotPoolArgs:
    """`target_gpus` GPUs held on spot bids of one instance each, none above `max_price_per_gpu_hour` times its
    GPUs. Missing GPUs are placed in the first of `regions` (left out: the cheapest first), then the first of
    `instance_types`, that has room under the ceiling; with `volumes` (file volumes), only in their region."""

    target_gpus: pulumi.Input[int] = attrs.field(converter=rule(v.target_gpus))
    max_price_per_gpu_hour: pulumi.Input[float] = attrs.field(converter=rule(v.price_per_gpu_hour))
    instance_types: pulumi.Input[list[str]] = attrs.field(converter=rule(v.instance_types))
    regions: pulumi.Input[list[str]] = attrs.field(factory=list, converter=rule(v.regions))
    volumes: tuple[VolumeMount, ...] = attrs.field(factory=tuple, converter=mounts)
    command: pulumi.Input[str] | None = attrs.field(default=None, converter=rule(v.command, optional=True))
    image: pulumi.Input[str] | None = attrs.field(default=None, converter=rule(v.image, optional=True))
    env: pulumi.Input[Mapping[str, str]] = attrs.field(factory=dict, converter=rule(v.env))
    ssh_keys: pulumi.Input[list[str]] = attrs.field(factory=list, converter=rule(v.ssh_keys))
    ready_timeout_minutes: pulumi.Input[float] = attrs.field(default=30.0, converter=rule(v.ready_timeout_minutes))

    def __attrs_post_init__(self) -> None:
        # The mount rules every task's mounts meet (each slot is a one-instance task in one region), then the
        # provider's own rules for a pool (a target whole instances can make, file volumes only), on what is known
        # now: refused at construction, before anything is registered.
        check_mounts(type(self).__name__, self.volumes, 1, None)
        for error in pool_cross_field_errors(self.target_gpus, self.instance_types,
                                             [m.as_input() for m in self.volumes]):
            raise v.InputError(f"{type(self).__name__}.{error.field}", error.value, error.problem, error.fix)


class SpotPool(PoolHoldings, pulumi.ComponentResource):
    """One `FlowSpotPool` child (`Pool` when plugin-hosted), with the `Owner` whose token marks its bids as this
    state's. Its outputs are its child's."""

    pool: PoolResource

    def __init__(self, name: str, args: SpotPoolArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        if not isinstance(args, SpotPoolArgs):
            raise TypeError(f"SpotPool({name!r}) takes SpotPoolArgs, got {type(args).__name__}")
        super().__init__(TYPE, name, recorded_inputs(args), opts)
        # In state before any bid is placed, so a create retried after a killed `up` adopts this state's bids.
        self.owner = new_owner(f"{name}-owner", pulumi.ResourceOptions(parent=self))
        self.pool = new_pool(f"{name}-pool", FlowSpotPoolArgs(
            target_gpus=args.target_gpus, max_price_per_gpu_hour=args.max_price_per_gpu_hour,
            instance_types=args.instance_types, regions=args.regions, volumes=[m.as_input() for m in args.volumes],
            command=args.command, image=args.image, env=args.env, ssh_keys=args.ssh_keys,
            ready_timeout_minutes=args.ready_timeout_minutes, owner=self.owner.token,
        ), child_options(self, opts, depends_on=[m.volume for m in args.volumes if m.volume is not None]))
        for key in OUTPUTS:
            setattr(self, key, getattr(self.pool, key))
        self.register_outputs({key: getattr(self, key) for key in OUTPUTS})
