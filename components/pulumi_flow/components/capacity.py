"""Where a cluster's machines come from: spot bids (the default), or capacity reserved for a window."""

from __future__ import annotations

import attrs
import pulumi

from pulumi_flow import validation as v
from pulumi_flow.components._args import rule


@attrs.frozen
class ReservedCapacity:
    """Run a `TrainingCluster` on a Mithril reservation instead of a spot bid: machines nobody can preempt, bought
    for a window at a unit price fixed when bought, which the purchase (and any extension) refuses above
    `max_unit_price`. A commitment: the whole total is owed once it is made and Mithril refunds nothing, so the
    reservation is protected from `pulumi destroy` unless `protect=False`.

    Give `duration_hours` or `end_time`; `start_time` left out is when it is bought. A later end extends it in place."""

    max_unit_price: pulumi.Input[float] = attrs.field(converter=rule(v.unit_price))
    duration_hours: pulumi.Input[float] | None = attrs.field(default=None,
                                                             converter=rule(v.duration_hours, optional=True))
    end_time: pulumi.Input[str] | None = attrs.field(default=None, converter=rule(v.end_time, optional=True))
    start_time: pulumi.Input[str] | None = attrs.field(default=None, converter=rule(v.start_time, optional=True))
    protect: bool = attrs.field(default=True, validator=attrs.validators.instance_of(bool))

    def __attrs_post_init__(self) -> None:
        v.reservation_window(self.start_time, self.end_time, self.duration_hours, type(self).__name__)


def capacity(value: object) -> ReservedCapacity | None:
    if value is not None and not isinstance(value, ReservedCapacity):
        raise v.InputError("capacity", v.Shown(f"a {type(value).__name__}"), "must be a ReservedCapacity or None",
                           "use ReservedCapacity(max_unit_price=..., duration_hours=...), or leave it out for spot "
                           "bids")
    return value
