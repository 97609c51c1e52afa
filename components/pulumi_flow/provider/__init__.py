"""Dynamic providers: the only code that writes to Mithril, and only from the engine's create/update/delete."""

from pulumi_flow.provider.errors import (
    BelowMarketError,
    BidLookupError,
    CreateRolledBackError,
    FlowProviderError,
    MissingApiKeyError,
    NoAnswerError,
    NotOurBidError,
    NotReadyError,
    ReservationCommitmentError,
    ReservationPriceError,
    StillBillingError,
    VolumeGoneError,
    VolumeInUseError,
    VolumeNameTakenError,
    VolumeReplacementRefusedError,
)
from pulumi_flow.provider.owner import FlowOwnerProvider
from pulumi_flow.provider.reservation import FlowReservationProvider
from pulumi_flow.provider.session import Credentials
from pulumi_flow.provider.task import FlowTaskProvider
from pulumi_flow.provider.volume import FlowVolumeProvider

__all__ = ["BelowMarketError", "BidLookupError", "CreateRolledBackError", "Credentials", "FlowOwnerProvider",
           "FlowProviderError", "FlowReservationProvider", "FlowTaskProvider", "FlowVolumeProvider",
           "MissingApiKeyError", "NoAnswerError", "NotOurBidError", "NotReadyError", "ReservationCommitmentError",
           "ReservationPriceError", "StillBillingError", "VolumeGoneError", "VolumeInUseError",
           "VolumeNameTakenError", "VolumeReplacementRefusedError"]
