"""A GPU target, not a bid: 32 GPUs held on spot bids of one instance each, at most $6.50 per GPU-hour.

Missing GPUs go to the first region, then instance type, in the order below that has room under the ceiling. When
Mithril preempts some, `pulumi refresh` shows them (`unfilled_gpus`), and the next `pulumi up` (or one
`pulumi up --refresh`) cancels exactly those bids and places as many new ones wherever there is room now. Never more
than 32 GPUs, never a bid over $6.50 x its GPUs; the policy pack's budget counts the pool at 32 x $6.50 an hour.
"""

import pulumi

from pulumi_flow import SpotPool, SpotPoolArgs

pool = SpotPool("gpus", SpotPoolArgs(
    target_gpus=32,
    max_price_per_gpu_hour=6.5,
    instance_types=["8xh100", "8xa100"],
    regions=["us-central1-a", "eu-central1-a"],
))

pulumi.export("gpus_held", pool.gpus_held)
pulumi.export("gpus_by_placement", pool.gpus_by_placement)
pulumi.export("unfilled_gpus", pool.unfilled_gpus)
pulumi.export("hourly_usd", pool.hourly_usd)
pulumi.export("max_hourly_usd", pool.max_hourly_usd)
