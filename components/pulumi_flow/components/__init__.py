"""The components users write in their stacks: TrainingCluster, DataVolumes, TrainingJob, SpotPool."""

from pulumi_flow.components.capacity import ReservedCapacity
from pulumi_flow.components.cluster import TrainingCluster, TrainingClusterArgs
from pulumi_flow.components.job import TrainingJob, TrainingJobArgs
from pulumi_flow.components.pool import SpotPool, SpotPoolArgs
from pulumi_flow.components.volumes import DataVolumes, DataVolumesArgs, VolumeMount, VolumeSpec

__all__ = ["DataVolumes", "DataVolumesArgs", "ReservedCapacity", "SpotPool", "SpotPoolArgs", "TrainingCluster",
           "TrainingClusterArgs", "TrainingJob", "TrainingJobArgs", "VolumeMount", "VolumeSpec"]
