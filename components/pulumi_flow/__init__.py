"""pulumi-flow: GPU infrastructure on Mithril's spot auctions as Pulumi resources.

Importing this package imports no `flow` module: the Flow SDK is loaded only inside the
dynamic providers' create/read/update/delete and by input validation.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> module: resolved on first use (PEP 562), so `import pulumi_flow` stays cheap.
_EXPORTS = {
    "FlowTask": "pulumi_flow.resources",
    "FlowTaskArgs": "pulumi_flow.resources",
    "FlowVolume": "pulumi_flow.resources",
    "FlowVolumeArgs": "pulumi_flow.resources",
    "FlowReservation": "pulumi_flow.resources",
    "FlowReservationArgs": "pulumi_flow.resources",
    "TrainingCluster": "pulumi_flow.components.cluster",
    "TrainingClusterArgs": "pulumi_flow.components.cluster",
    "ReservedCapacity": "pulumi_flow.components.capacity",
    "SpotPool": "pulumi_flow.components.pool",
    "SpotPoolArgs": "pulumi_flow.components.pool",
    "FlowSpotPool": "pulumi_flow.resources",
    "DataVolumes": "pulumi_flow.components.volumes",
    "DataVolumesArgs": "pulumi_flow.components.volumes",
    "VolumeSpec": "pulumi_flow.components.volumes",
    "VolumeMount": "pulumi_flow.components.volumes",
    "TrainingJob": "pulumi_flow.components.job",
    "TrainingJobArgs": "pulumi_flow.components.job",
    "InputError": "pulumi_flow.validation",
    "on_demand_threshold": "pulumi_flow.pricing",
    "MissingThresholdError": "pulumi_flow.pricing",
}

__all__ = [
    "DataVolumes",
    "DataVolumesArgs",
    "FlowReservation",
    "FlowReservationArgs",
    "FlowSpotPool",
    "FlowTask",
    "FlowTaskArgs",
    "FlowVolume",
    "FlowVolumeArgs",
    "InputError",
    "MissingThresholdError",
    "ReservedCapacity",
    "SpotPool",
    "SpotPoolArgs",
    "TrainingCluster",
    "TrainingClusterArgs",
    "TrainingJob",
    "TrainingJobArgs",
    "VolumeMount",
    "VolumeSpec",
    "on_demand_threshold",
]

if TYPE_CHECKING:
    from pulumi_flow.components.capacity import ReservedCapacity
    from pulumi_flow.components.cluster import TrainingCluster, TrainingClusterArgs
    from pulumi_flow.components.job import TrainingJob, TrainingJobArgs
    from pulumi_flow.components.pool import SpotPool, SpotPoolArgs
    from pulumi_flow.components.volumes import DataVolumes, DataVolumesArgs, VolumeMount, VolumeSpec
    from pulumi_flow.pricing import MissingThresholdError, on_demand_threshold
    from pulumi_flow.resources import (
        FlowReservation,
        FlowReservationArgs,
        FlowSpotPool,
        FlowTask,
        FlowTaskArgs,
        FlowVolume,
        FlowVolumeArgs,
    )
    from pulumi_flow.validation import InputError


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pulumi_flow' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
