"""The on-demand threshold a persistent bid must meet: the one place these numbers live.

A spot bid below what the same GPUs cost on demand is a bet that the market stays low;
on persistent infrastructure losing that bet means preemption and lost work. The
components default their bid to this threshold and the policy pack enforces it.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from pulumi_flow.money import cents_up, usd

# USD per GPU-hour, from the seed document: 8xA100 at $25 and 8xH100 at $50 per instance-hour.
DEFAULT_THRESHOLDS_PER_GPU_HOUR: Mapping[str, Decimal] = {
    "a100": Decimal("3.125"),
    "h100": Decimal("6.25"),
}


class MissingThresholdError(ValueError):
    """A GPU family with no on-demand figure: the caller must supply one."""

    def __init__(self, family: str, instance_type: str, known: Mapping[str, object]) -> None:
        self.family = family
        self.instance_type = instance_type
        self.problem = (f"no on-demand threshold is known for GPU family {family!r} (instance type "
                        f"{instance_type!r}); known families: {', '.join(sorted(known)) or 'none'}")
        self.fix = (f"give the cluster an explicit max_price_per_hour, and configure the policy pack's threshold, "
                    f'e.g. {{"infrastructure-bid-floor": {{"thresholds": {{"{family}": 7.5}}}}}} '
                    f"(USD per GPU-hour) in --policy-pack-config")
        super().__init__(f"{self.problem}. Fix: {self.fix}")


def gpu_family_and_count(instance_type: str) -> tuple[str, int]:
    """'8xh100' -> ('h100', 8), by Flow's own grammar; a bare family is refused."""
    from flow.utils.instance_grammar import split_family_and_count

    family, count = split_family_and_count(instance_type)
    if count is None:
        raise ValueError(
            f"instance type {instance_type!r} names no GPU count; the threshold is per GPU, "
            f"so write e.g. '8x{family}'"
        )
    return family, count


def merged_thresholds(overrides: Mapping[str, object] | None = None) -> dict[str, Decimal]:
    """Defaults with per-family overrides on top (exact decimals); family names are case-folded."""
    merged = dict(DEFAULT_THRESHOLDS_PER_GPU_HOUR)
    for family, figure in (overrides or {}).items():
        merged[str(family).lower()] = usd(figure)
    return merged


def on_demand_threshold(instance_type: str, thresholds: Mapping[str, object] | None = None,
                        margin: object = 1) -> Decimal:
    """The floor in USD per instance-hour, exactly: per-GPU figure x GPUs per instance x margin.

    `thresholds` (per GPU-hour, by family) are merged over the defaults.
    Raises `MissingThresholdError` for a family with no figure.
    """
    family, count = gpu_family_and_count(instance_type)
    table = merged_thresholds(thresholds)
    try:
        per_gpu = table[family]
    except KeyError:
        raise MissingThresholdError(family, instance_type, table) from None
    return per_gpu * count * usd(margin)


def default_bid(instance_type: str, thresholds: Mapping[str, object] | None = None, margin: object = 1) -> Decimal:
    """What a cluster bids when the program names no price: the floor rounded up to the cent, so the
    bid Mithril receives is never below the floor the policy pack computes from the same figures."""
    return cents_up(on_demand_threshold(instance_type, thresholds, margin))
