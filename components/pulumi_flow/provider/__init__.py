"""Dynamic providers: the only code that writes to Mithril, and only from the engine's create/update/delete."""

from pulumi_flow.provider.owner import FlowOwnerProvider
from pulumi_flow.provider.session import Credentials, FlowProviderError
from pulumi_flow.provider.task import FlowTaskProvider
from pulumi_flow.provider.volume import FlowVolumeProvider

__all__ = ["Credentials", "FlowOwnerProvider", "FlowProviderError", "FlowTaskProvider", "FlowVolumeProvider"]
