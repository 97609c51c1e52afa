"""pulumi-flow's CrossGuard policies, one module per concern; `policies/__main__.py` assembles the pack."""

from pulumi_flow_policies import bid_floor, budget, regions, reservations, spend, volumes, workloads

PACK_NAME = "pulumi-flow-policies"

POLICIES = [
    bid_floor.policy,
    budget.policy,
    volumes.block_policy,
    volumes.region_policy,
    workloads.policy,
    volumes.protected_policy,
    regions.policy,
    spend.spend_policy,
    spend.near_market_policy,
    reservations.policy,
    reservations.advisor_policy,
]

__all__ = ["PACK_NAME", "POLICIES"]
