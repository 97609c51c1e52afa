"""A persistent cluster bidding below the on-demand threshold: the policy pack must reject it.

8xH100 on-demand is $50 per instance-hour. A $30 bid is above today's market, so Mithril would
take it; on infrastructure it is a bet that the market stays low, and losing it means
preemption and lost work.
"""

import pulumi

from pulumi_flow import TrainingCluster, TrainingClusterArgs

cluster = TrainingCluster("cheap-cluster", TrainingClusterArgs(
    instance_type="8xh100",
    num_instances=2,
    max_price_per_hour=30.0,
))

pulumi.export("public_ips", cluster.public_ips)
