"""Mithril's reservations: instances bought for a period at a unit price fixed when they are bought, which nobody
can preempt. The rules, free of HTTP: quotes, availability, the lifecycle on the emulator's clock (Pending until its
start, Active with its instances until its end, then Ended), pause, volumes, extension, terminate-instances, history
and usage.

A reservation is a commitment: its total is owed whatever happens after it is made. Ending it early (terminating its
instances, or a control hook) stops its instances and refunds nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

import attrs

from pulumi_flow.emulator.exceptions import Conflict, EmulatorError, NotFound, Unprocessable
from pulumi_flow.emulator.records import PROJECT_ID, USER_ID, dollars, iso_time, new_id

PENDING, ACTIVE, PAUSED, CANCELED, ENDED = "Pending", "Active", "Paused", "Canceled", "Ended"
LIVE = (PENDING, ACTIVE, PAUSED)
HOUR = 3600.0
HORIZON = 90 * 24 * HOUR  # how far ahead the emulator sells reserved capacity
OFFER_KEY = "standard"  # the one offer the emulator makes (the spec's default `offer_key`)
MODES = ("slots", "latest_end_time", "check")

Market = tuple[str, str]  # (instance type id, region)


def total_cents(unit_cents: int, quantity: int, seconds: float) -> int:
    """What `quantity` instances for `seconds` cost at `unit_cents` an instance-hour, rounded up to the cent (in
    decimals: the clock's seconds are floats, the money is not)."""
    return math.ceil(Decimal(unit_cents) * quantity * Decimal(str(seconds)) / Decimal(str(HOUR)))


def duration(seconds: float) -> str:
    """An ISO 8601 duration in whole seconds, as the spec's `format: duration` fields are."""
    return f"PT{max(int(seconds), 0)}S"


@attrs.define
class Reservation:
    fid: str
    name: str
    instance_type: str
    region: str
    quantity: int
    unit_price_cents: int
    start: float
    end: float
    launch_specification: dict[str, Any]
    created_at: float
    committed_cents: int
    status: str = PENDING
    deactivated_at: float | None = None
    instances: list[str] = attrs.Factory(list)
    events: list[dict[str, Any]] = attrs.Factory(list)  # the history route's rows
    running_since: float | None = None  # when its instances last started
    active_instance_seconds: float = 0.0  # instance-seconds its instances ran, up to running_since

    @property
    def market(self) -> Market:
        return (self.instance_type, self.region)

    def to_api(self) -> dict[str, Any]:
        return {
            "fid": self.fid,
            "name": self.name,
            "project": PROJECT_ID,
            "created_by": USER_ID,
            "created_at": iso_time(self.created_at),
            "deactivated_at": iso_time(self.deactivated_at),
            "instance_quantity": self.quantity,
            "instance_type": self.instance_type,
            "region": self.region,
            "instances": list(self.instances),
            "launch_specification": self.launch_specification,
            "status": self.status,
            "start_time": iso_time(self.start),
            "end_time": iso_time(self.end),
            "total_price": dollars(self.committed_cents),
            "unit_price": dollars(self.unit_price_cents),
        }

    def event(self, kind: str, now: float, **fields: Any) -> None:
        self.events.append({"timestamp": iso_time(now), "event_type": kind, "user_id": USER_ID, **fields})


@attrs.define
class ReservationDesk:
    """The reservations of one project, and the reserved capacity each market sells."""

    price: Callable[[Market], int]  # the reserved price an instance-hour now, in cents
    start_instances: Callable[[Reservation, float], list[str]]  # boots the reservation's instances; their ids
    stop_instances: Callable[[Iterable[str], str, float], None]  # (ids, final status, when)
    capacity: int = 16  # reserved instances each market can hold at any moment
    reservations: dict[str, Reservation] = attrs.Factory(dict)
    quotes: dict[Market, int] = attrs.Factory(dict)  # a control hook's price, instead of the market's

    # -- time ---------------------------------------------------------------------

    def advance(self, now: float) -> None:
        for res in self.reservations.values():
            if res.status == PENDING and res.start <= now:
                self._activate(res, max(res.start, res.created_at))
            if res.status in (ACTIVE, PAUSED) and res.end <= now:
                self._finish(res, ENDED, res.end)

    def _activate(self, res: Reservation, at: float) -> None:
        res.status = ACTIVE
        res.event("Active", at)
        self._boot(res, at)

    def _boot(self, res: Reservation, at: float) -> None:
        res.instances = self.start_instances(res, at)
        res.running_since = at

    @staticmethod
    def _count(res: Reservation, at: float) -> None:
        """Its instances' running time, counted up to `at`."""
        if res.running_since is not None:
            res.active_instance_seconds += len(res.instances) * (at - res.running_since)
            res.running_since = at

    def _halt(self, res: Reservation, status: str, at: float) -> None:
        self._count(res, at)
        res.running_since = None
        self.stop_instances(res.instances, status, at)

    def _finish(self, res: Reservation, status: str, at: float) -> None:
        self._halt(res, "STATUS_TERMINATED", at)
        res.status = status
        res.deactivated_at = at
        res.event(status, at)

    # -- prices and capacity ----------------------------------------------------------

    def unit_price(self, market: Market) -> int:
        return self.quotes.get(market, self.price(market))

    def quote(self, market: Market, quantity: int, start: float, end: float) -> dict[str, Any]:
        _window(start, end)
        unit = self.unit_price(market)
        total = total_cents(unit, quantity, end - start)
        zero = dollars(0)
        return {"offers": [{"key": OFFER_KEY, "display_name": "Standard", "unit_price": dollars(unit),
                            "return_buyback_price": zero, "pause_buyback_price": zero, "total_price": dollars(total),
                            "total_etbp_value": zero, "total_fubp_value": zero, "option_premium": zero}]}

    def _held(self, market: Market, start: float, end: float, leaving_out: str | None = None) -> int:
        """The most instances live reservations of this market hold at any moment of [start, end)."""
        overlapping = [r for r in self.reservations.values() if r.market == market and r.status in LIVE
                       and r.fid != leaving_out and r.start < end and start < r.end]
        moments = sorted({start, *(r.start for r in overlapping if r.start > start)})
        return max((sum(r.quantity for r in overlapping if r.start <= t < r.end) for t in moments), default=0)

    def free(self, market: Market, start: float, end: float, leaving_out: str | None = None) -> int:
        return self.capacity - self._held(market, start, end, leaving_out)

    def availability(self, market: Market, mode: str, now: float, *, start: float | None, end: float | None,
                     earliest: float | None, latest: float | None, quantity: int | None) -> list[dict[str, Any]]:
        """`slots`: the window from `earliest` to `latest` with what it can hold; `latest_end_time`: from `start`,
        the latest end at which `quantity` fit; `check`: [the window] if `quantity` fit from `start` to `end`, else
        []."""
        if mode not in MODES:
            raise Unprocessable(f"mode must be one of {', '.join(MODES)}, got {mode!r}", "mode")
        if mode == "slots":
            begin, until = max(earliest or now, now), latest or now + HORIZON
            _window(begin, until)
            return [_slot(begin, until, max(self.free(market, begin, until), 0))]
        if start is None or quantity is None:
            raise Unprocessable(f"mode={mode} needs start_time and quantity", "start_time")
        if mode == "check":
            if end is None:
                raise Unprocessable("mode=check needs end_time", "end_time")
            _window(start, end)
            return [_slot(start, end, quantity)] if self.free(market, start, end) >= quantity else []
        last = self._latest_end(market, start, quantity, now + HORIZON)
        return [_slot(start, last, quantity)] if last > start else []

    def _latest_end(self, market: Market, start: float, quantity: int, limit: float,
                    leaving_out: str | None = None) -> float:
        """The latest end (up to `limit`) at which `quantity` more instances fit from `start`."""
        starts = sorted(r.start for r in self.reservations.values() if r.market == market and r.status in LIVE
                        and r.fid != leaving_out and start < r.start < limit)
        last = start
        for boundary in [*starts, limit]:
            if self.free(market, start, boundary, leaving_out) < quantity:
                return last
            last = boundary
        return last

    # -- the lifecycle ---------------------------------------------------------------

    def create(self, *, name: str, market: Market, quantity: int, start: float, end: float,
               launch_specification: dict[str, Any], max_unit_price: int | None, now: float) -> Reservation:
        _window(start, end)
        if end <= now:
            raise Unprocessable(f"end_time {iso_time(end)} has passed", "end_time")
        if quantity < 1:
            raise Unprocessable(f"instance_quantity must be at least 1, got {quantity}", "instance_quantity")
        unit = self.unit_price(market)
        if max_unit_price is not None and unit > max_unit_price:
            raise EmulatorError(409, f"the unit price is {dollars(unit)}, above max_unit_price "
                                     f"{dollars(max_unit_price)}: nothing was reserved", "price_specification")
        if self.free(market, start, end) < quantity:
            raise EmulatorError(409, f"only {max(self.free(market, start, end), 0)} {market[0]} instances can be "
                                     f"reserved in {market[1]} for that window, not {quantity}", "instance_quantity")
        res = Reservation(fid=new_id("res"), name=name, instance_type=market[0], region=market[1], quantity=quantity,
                          unit_price_cents=unit, start=start, end=end, launch_specification=launch_specification,
                          created_at=now, committed_cents=total_cents(unit, quantity, end - start))
        res.event("Placed", now)
        res.event("Terms Set", now, unit_price_cents=unit)
        self.reservations[res.fid] = res
        self.advance(now)
        return res

    def get(self, fid: str) -> Reservation:
        res = self.reservations.get(fid)
        if res is None:
            raise NotFound("reservation", fid)
        return res

    def update(self, fid: str, body: dict[str, Any], now: float) -> Reservation:
        res = self.get(fid)
        unknown = sorted(set(body) - {"paused", "volumes"})
        if unknown:
            raise Unprocessable(f"only paused and volumes can be changed on a reservation, not {unknown}", unknown[0])
        if res.status not in LIVE:
            raise Conflict(f"reservation {fid} is {res.status}: it cannot be changed")
        if body.get("volumes") is not None:
            volumes = body["volumes"]
            if not isinstance(volumes, list) or not all(isinstance(v, str) for v in volumes):
                raise Unprocessable(f"volumes must be a list of volume ids, got {volumes!r}", "volumes")
            res.launch_specification = {**res.launch_specification, "volumes": list(volumes)}
        paused = body.get("paused")
        if paused is True and res.status == ACTIVE:
            self._halt(res, "STATUS_PAUSED", now)
            res.status = PAUSED
            res.event("Paused", now)
        elif paused is False and res.status == PAUSED:
            res.status = ACTIVE
            res.event("Resumed", now)
            self._boot(res, now)
        elif paused is not None and res.status == PENDING:
            raise Conflict(f"reservation {fid} has not started: there is nothing to pause or resume")
        return res

    def extension_availability(self, fid: str, now: float) -> dict[str, Any]:
        res = self.get(fid)
        if res.status not in LIVE:
            return {"latest_extension_time": iso_time(res.end), "available": False}
        latest = self._latest_end(res.market, res.start, res.quantity, max(now, res.end) + HORIZON, res.fid)
        return {"latest_extension_time": iso_time(latest), "available": latest > res.end}

    def extend(self, fid: str, end: float, now: float) -> Reservation:
        res = self.get(fid)
        if res.status not in LIVE:
            raise Conflict(f"reservation {fid} is {res.status}: it cannot be extended")
        if end <= res.end:
            raise Unprocessable(f"end_time must be after the current end {iso_time(res.end)}, got {iso_time(end)}",
                                "end_time")
        latest = self._latest_end(res.market, res.start, res.quantity, max(now, res.end) + HORIZON, res.fid)
        if end > latest:
            raise EmulatorError(409, f"the reservation can be extended to {iso_time(latest)} at the latest",
                                "end_time")
        unit = self.unit_price(res.market)
        res.committed_cents += total_cents(unit, res.quantity, end - res.end)
        res.end = end
        res.event("Terms Changed", now, unit_price_cents=unit)
        return res

    def terminate_instances(self, fid: str, instance_ids: list[str], now: float) -> list[str]:
        """Ends these instances and reduces the reservation by as many; with none left, it is Canceled."""
        res = self.get(fid)
        strangers = [i for i in instance_ids if i not in res.instances]
        if strangers:
            raise NotFound("instance of this reservation", strangers[0])
        self._count(res, now)
        self.stop_instances(instance_ids, "STATUS_TERMINATED", now)
        res.instances = [i for i in res.instances if i not in instance_ids]
        res.quantity -= len(instance_ids)
        if res.quantity == 0:
            res.running_since = None
            res.status = CANCELED
            res.deactivated_at = now
            res.event(CANCELED, now)
        return list(instance_ids)

    def end_early(self, fid: str, now: float) -> Reservation:
        res = self.get(fid)
        if res.status not in LIVE:
            raise Conflict(f"reservation {fid} is already {res.status}")
        self._finish(res, ENDED, now)
        return res

    def history(self, fid: str) -> dict[str, Any]:
        return {"reservation_fid": fid, "events": list(self.get(fid).events)}

    def usage(self, fid: str, now: float) -> dict[str, Any]:
        res = self.get(fid)
        until = min(now, res.deactivated_at or res.end)
        reserved = res.quantity * max(until - res.start, 0.0)
        active = res.active_instance_seconds + (len(res.instances) * (until - res.running_since)
                                                if res.running_since is not None else 0.0)
        return {
            "reservation": {"fid": res.fid, "order_name": res.name, "start_date": iso_time(res.start),
                            "end_date": iso_time(res.end), "status": res.status,
                            "committed_cost_cents": res.committed_cents},
            "summary": {"committed_cost_cents": res.committed_cents, "flex_use_credits_cents": 0,
                        "early_termination_credits_cents": 0, "net_cost_cents": res.committed_cents,
                        "reserved_instance_hours": duration(reserved), "active_instance_hours": duration(active),
                        "idle_instance_hours": duration(reserved - active), "as_of": iso_time(now)},
            "grants": [],
            "pricing_events": [],
            "reservation_events": [{"occurred_at": e["timestamp"], "event_type": kind,
                                    "reservation_name": res.name}
                                   for e in res.events
                                   for kind in [{"Active": "Started", "Paused": "Paused",
                                                 "Terms Changed": "Extended"}.get(e["event_type"])] if kind],
        }


def _window(start: float, end: float) -> None:
    if end <= start:
        raise Unprocessable(f"end_time {iso_time(end)} must be after start_time {iso_time(start)}", "end_time")


def _slot(start: float, end: float, quantity: int) -> dict[str, Any]:
    return {"start_time": iso_time(start), "end_time": iso_time(end), "quantity": quantity}
