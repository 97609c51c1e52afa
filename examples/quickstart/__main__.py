"""The seed document's Quick Start: one persistent 8xA100 node, bid at the on-demand threshold."""

import pulumi

from pulumi_flow import TrainingCluster, TrainingClusterArgs

cluster = TrainingCluster("gpu-node", TrainingClusterArgs(instance_type="8xa100"))

pulumi.export("task_id", cluster.task_id)
pulumi.export("public_ips", cluster.public_ips)
pulumi.export("bid_per_hour", cluster.max_price_per_hour)
