"""The seed document's Complete Example on reserved capacity.

The same storage and 4-node 8xA100 cluster mounting it, with the same outputs, on a week of Mithril reserved
capacity instead of a spot bid: nobody can preempt it, and the week is paid for in full at a unit price the
purchase refuses above $40 per instance-hour. The reservation follows its volumes' region, and is protected from
`pulumi destroy` (it is a commitment, and Mithril refunds nothing).
"""

import pulumi

from pulumi_flow import DataVolumes, DataVolumesArgs, ReservedCapacity, TrainingCluster, TrainingClusterArgs

storage = DataVolumes("storage", DataVolumesArgs(volumes={"data": 1000, "models": 500}))

cluster = TrainingCluster("gpu-infra", TrainingClusterArgs(
    instance_type="8xa100",
    num_instances=4,
    volumes=[storage.mount("data", "/data"), storage.mount("models", "/mnt/models")],
    capacity=ReservedCapacity(max_unit_price=40.0, duration_hours=168),
))

pulumi.export("cluster_id", cluster.task_id)
pulumi.export("gpu_ips", cluster.public_ips)
pulumi.export("storage_ids", storage.volume_ids)
pulumi.export("hourly_bid", cluster.hourly_bid)
