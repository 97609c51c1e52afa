"""`SpotPool`: a GPU target, not a bid. Held on one-instance spot bids under a per-GPU-hour ceiling, across an
ordered list of regions and instance types; `up` refills what a refresh found preempted or ended."""

from __future__ import annotations

from collections.abc import Mapping

import attrs
import pulumi

from pulumi_flow import validation as v
from pulumi_flow.components._args import recorded_inputs, rule
from pulumi_flow.components._options import child_options
from pulumi_flow.components._task import mounts
from pulumi_flow.components.volumes import VolumeMount
from pulumi_flow.declarations import FlowSpotPoolArgs
from pulumi_flow.provider.pool import check_pool_inputs
from pulumi_flow.resources import PoolResource, new_owner, new_pool

TYPE = "flow:index:SpotPool"
# What a SpotPool's state carries, in this order: its registered outputs.
OUTPUTS = ("pool_id", "slots", "gpus_held", "gpus_by_placement", "unfilled_gpus", "hourly_usd", "max_hourly_usd")


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
        # The provider's own cross-field rules (a target whole instances can make, file volumes only), on what is
        # known now: refused at construction, before anything is registered.
        known = {"target_gpus": self.target_gpus, "max_price_per_gpu_hour": self.max_price_per_gpu_hour,
                 "instance_types": self.instance_types, "regions": self.regions,
                 "volumes": [m.as_input() for m in self.volumes], "pool_name": "checked", "owner": None}
        _, errors = check_pool_inputs(known)
        for error in errors:
            raise v.InputError(f"{type(self).__name__}.{error.field}", error.value, error.problem, error.fix)
        regions = {str(m.region) for m in self.volumes if m.region is not None and not v.is_unknown(m.region)}
        if len(regions) > 1:
            raise v.InputError(f"{type(self).__name__}.volumes", sorted(regions), "mounts volumes from different "
                               "regions, and every slot mounts them all", "create the volumes in one region")


class SpotPool(pulumi.ComponentResource):
    """One `FlowSpotPool` child (`Pool` when plugin-hosted), with the `Owner` whose token marks its bids as this
    state's."""

    pool: PoolResource
    pool_id: pulumi.Output[str]
    slots: pulumi.Output[list[dict[str, object]]]
    gpus_held: pulumi.Output[int]
    gpus_by_placement: pulumi.Output[dict[str, int]]
    unfilled_gpus: pulumi.Output[int]
    hourly_usd: pulumi.Output[float]
    max_hourly_usd: pulumi.Output[float]

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
