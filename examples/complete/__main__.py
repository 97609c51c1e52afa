"""The seed document's Complete Example, as pulumi-flow components.

Persistent storage, a 4-node 8xA100 cluster bidding $50/instance-hour that mounts it, and the
addresses to reach it. The seed mounted `/models`, which Mithril refuses; `/mnt/models` works.
"""

import pulumi

from pulumi_flow import DataVolumes, DataVolumesArgs, TrainingCluster, TrainingClusterArgs

storage = DataVolumes("storage", DataVolumesArgs(volumes={"data": 1000, "models": 500}))

cluster = TrainingCluster("gpu-infra", TrainingClusterArgs(
    instance_type="8xa100",
    num_instances=4,
    max_price_per_hour=50.0,
    volumes=[storage.mount("data", "/data"), storage.mount("models", "/mnt/models")],
))

pulumi.export("cluster_id", cluster.task_id)
pulumi.export("gpu_ips", cluster.public_ips)
pulumi.export("storage_ids", storage.volume_ids)
pulumi.export("hourly_bid", cluster.hourly_bid)
