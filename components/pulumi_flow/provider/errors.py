"""What goes wrong on Mithril, as data: what happened (`problem`), what to do (`fix`), and the facts a caller needs.

Every error that leaves a provider is a `FlowProviderError`, shaped like `validation.InputError`: its text is
`"<problem>. Fix: <fix>"`, safe to show and to store once `session.scrubbed` has passed over it. The named
subclasses are the cases users meet and callers act on; they carry their facts as attributes, so nobody
reads them back out of the message.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from pulumi_flow.money import show


class FlowProviderError(Exception):
    """An operation on Mithril failed. `fix` is empty where there is nothing better to do than what `problem` says."""

    def __init__(self, problem: str, fix: str = "") -> None:
        self.problem = problem.rstrip(".")  # the text puts its own full stop after it
        self.fix = fix
        super().__init__(self.problem, self.fix)

    def __str__(self) -> str:
        return f"{self.problem}. Fix: {self.fix}" if self.fix else self.problem

    def scrub(self, clean: Callable[[str], str]) -> None:
        """Pass the text through `clean` (removing a key the API echoed); the kind and the data stay."""
        self.problem, self.fix = clean(self.problem), clean(self.fix)
        self.args = (self.problem, self.fix)

    def __reduce__(self) -> tuple[Any, ...]:
        # The subclasses' keyword-only data would not survive Exception's pickling by `args`.
        return _rebuilt, (type(self), dict(self.__dict__))


def _rebuilt(kind: type[FlowProviderError], state: dict[str, Any]) -> FlowProviderError:
    error = kind.__new__(kind)
    error.__dict__.update(state)
    Exception.__init__(error, state["problem"], state["fix"])
    return error


class MissingApiKeyError(FlowProviderError):
    """No Mithril API key anywhere; raised before any network call. The fix is the provider's advice (Pulumi config
    or environment); other callers give the one that fits them."""

    def __init__(self, problem: str = "no Mithril API key",
                 fix: str = "set MITHRIL_API_KEY in the environment of `pulumi`, or run "
                            "`pulumi config set --secret flow:apiKey <key>`") -> None:
        super().__init__(problem, fix)


class NoAnswerError(FlowProviderError):
    """Mithril did not answer (or could not be asked), so what it did is unknown; `cause` is the last error, alone."""

    def __init__(self, problem: str, fix: str = "", *, cause: str) -> None:
        super().__init__(problem, fix)
        self.cause = cause


class BidLookupError(NoAnswerError):
    """Mithril could not be asked whether a bid of this name is live."""

    def __init__(self, *, name: str, cause: str) -> None:
        super().__init__(
            f"the bid request for task {name!r} got no answer and Mithril could not be asked whether it was placed "
            f"({cause}). A bid named {name!r} may be live",
            f"run `pulumi up` again to adopt it (never a second bid), or cancel it with `flow cancel {name}`",
            cause=cause)
        self.name = name


class BelowMarketError(FlowProviderError):
    """A bid under the market, refused before anything was placed; `least` is the least bid that would be allocated."""

    def __init__(self, *, instance_type: str, bid: Decimal, least: Decimal, markets: Mapping[str, Decimal]) -> None:
        prices = ", ".join(f"{region} {show(price)}" for region, price in sorted(markets.items()))
        super().__init__(
            f"max_price_per_hour={show(bid)}: below the market for {instance_type} (now {prices} per instance-hour). "
            f"Mithril allocates a bid at or above the market, so the least bid that would be allocated is "
            f"{show(least)}; nothing was placed",
            f"set max_price_per_hour to at least {least} (a cluster also needs headroom above it, or it is preempted "
            f"when the market rises)")
        self.instance_type, self.bid, self.least, self.markets = instance_type, bid, least, dict(markets)


class CreateRolledBackError(FlowProviderError):
    """A create failed after placing its bid, and cancelled it: nothing it made is left on Mithril."""

    def __init__(self, cause: BaseException, *, bid_id: str) -> None:
        # The failure's own fix still applies (raise the bid, wait longer): it is kept, after what was undone.
        problem, fix = (cause.problem, cause.fix) if isinstance(cause, FlowProviderError) else (str(cause), "")
        super().__init__(f"{problem}; bid {bid_id} was cancelled, nothing is left billing", fix)
        self.bid_id = bid_id


class StillBillingError(FlowProviderError):
    """A bid that should have ended could not be cancelled and may still bill; `refusal` is Mithril's answer."""

    def __init__(self, problem: str, fix: str, *, bid_id: str, refusal: str) -> None:
        super().__init__(problem, fix)
        self.bid_id, self.refusal = bid_id, refusal


class NotOurBidError(FlowProviderError):
    """A live bid has this resource's bid name but is not its bid (`mismatch` says how); it is left untouched."""

    def __init__(self, *, name: str, bid_id: str, mismatch: str) -> None:
        super().__init__(
            f"a live bid named {name!r} ({bid_id}) exists, but {mismatch}, so it is not this resource's bid and is "
            f"left untouched",
            f"if it is a leftover of this stack, cancel it (`flow cancel {bid_id}`) and run `pulumi up` again")
        self.name, self.bid_id, self.mismatch = name, bid_id, mismatch


class NotReadyError(FlowProviderError):
    """The machines were not up within the wait the resource allows (`bound` names that limit)."""

    def __init__(self, *, task_id: str, until: str, waited: str, status: str, bid_status: str | None, up: int,
                 wanted: int, bound: str) -> None:
        super().__init__(
            f"task {task_id} was not {until} within {waited} (status {status}, bid {bid_status}, {up}/{wanted} "
            f"instances up). A bid that stays Open is usually below the market",
            f"raise max_price_per_hour or {bound}")
        self.task_id, self.until, self.status, self.bid_status = task_id, until, status, bid_status


class VolumeGoneError(FlowProviderError):
    """The volume this resource manages no longer exists on Mithril."""

    def __init__(self, volume_id: str) -> None:
        super().__init__(f"volume {volume_id} no longer exists", "run `pulumi refresh`")
        self.volume_id = volume_id


class VolumeInUseError(FlowProviderError):
    """A volume is not deleted while live bids mount it: the data under them comes first."""

    def __init__(self, *, volume_id: str, volume_name: str, users: list[str]) -> None:
        super().__init__(
            f"refusing to delete volume {volume_id} ({volume_name}): live task(s) {', '.join(users)} still mount it "
            f"and deleting it would destroy the data under them",
            "delete or change those tasks first (in Pulumi, make them depend on the volume so they go first)")
        self.volume_id, self.users = volume_id, list(users)


class VolumeReplacementRefusedError(FlowProviderError):
    """A change would replace a volume (a new, empty one; the old deleted) and allow_replacement is not set."""

    def __init__(self, problem: str, fix: str, *, key: str) -> None:
        super().__init__(problem, fix)
        self.key = key


class VolumeNameTakenError(FlowProviderError):
    """A volume of the name the user chose exists already, and this state cannot prove it made it."""

    def __init__(self, *, name: str, found: str, volume_id: str) -> None:
        super().__init__(
            f"volume_name={name!r}: a volume of that name already exists in this Mithril project ({found}), and "
            f"nothing on Mithril says which Pulumi state made it, so it is neither adopted nor doubled",
            f"if an interrupted `pulumi up` of this stack made it, adopt it with `pulumi import flow:index:Volume "
            f"<resource name> {volume_id}` (flow:hosting plugin); otherwise choose another volume_name, or leave it "
            f"out for a generated one")
        self.name, self.volume_id = name, volume_id


class ReservationPriceError(FlowProviderError):
    """Mithril's price for a reservation (or an extension of one) is above `max_unit_price`: refused before anything
    was committed."""

    def __init__(self, *, what: str, instance_type: str, region: str, unit: Decimal, ceiling: Decimal) -> None:
        super().__init__(
            f"max_unit_price={show(ceiling)}: Mithril's price for {what} of {instance_type} in {region} is "
            f"{show(unit)} per instance-hour, above it; nothing was committed",
            f"raise max_unit_price to at least {unit}, or reserve another type, region or window")
        self.what, self.instance_type, self.region, self.unit, self.ceiling = what, instance_type, region, unit, ceiling


class ReservationCommitmentError(FlowProviderError):
    """A change Mithril cannot make to a reservation: its commitment stands as it is."""

    def __init__(self, problem: str, fix: str, *, reservation_id: str) -> None:
        super().__init__(problem, fix)
        self.reservation_id = reservation_id
