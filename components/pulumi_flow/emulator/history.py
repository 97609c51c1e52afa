"""What the auction did, as Mithril's history routes tell it: the market over time, what each instance was charged
period by period, each instance's status changes, and each bid's events.

The backend (`models.py`) writes here as its rules act; nothing here decides anything. An instance is billed
from its allocation until it is preempted, paused or terminated (and again from a resume), at its market's price,
in periods split wherever that price changes: Mithril's second-price auction charges the market, not the bid.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import attrs

from pulumi_flow.emulator.catalog import RESERVED_MARKUP
from pulumi_flow.emulator.records import dollars, iso_time

Market = tuple[str, str]  # (instance type id, region)

# The bid events of the spec's BidHistoryEventModel that the auction produces.
PLACED = "Placed"
ALLOCATED = "Allocated"
PREEMPTED = "Preempted"
PAUSED = "Paused"
RESUMED = "Resumed"
TERMINATED = "Terminated"
LIMIT_PRICE_CHANGED = "Limit Price Changed"


@attrs.define
class PricePeriod:
    price_cents: int
    start: float
    end: float | None = None

    def overlaps(self, start: float | None, end: float | None) -> bool:
        return (end is None or self.start <= end) and (start is None or self.end is None or self.end >= start)

    def to_api(self) -> dict[str, Any]:
        return {"price_cents": self.price_cents, "start_time": iso_time(self.start), "end_time": iso_time(self.end)}


@attrs.define
class InstanceRecord:
    """One instance's ledger: its bid, market, status changes and price periods."""

    fid: str
    bid: str
    market: Market
    statuses: list[tuple[float, str]] = attrs.Factory(list)
    periods: list[PricePeriod] = attrs.Factory(list)

    @property
    def billing(self) -> PricePeriod | None:
        return self.periods[-1] if self.periods and self.periods[-1].end is None else None


@attrs.define
class BidEvent:
    timestamp: float
    event_type: str
    limit_price_cents: int  # the bid's limit when it happened: every event the auction writes has one

    def to_api(self) -> dict[str, Any]:
        return {"timestamp": iso_time(self.timestamp), "event_type": self.event_type,
                "limit_price": dollars(self.limit_price_cents),
                "user_id": None, "memory_gb": None, "persistent_disk_change": None}


def _in_window(timestamp: float, start: float | None, end: float | None) -> bool:
    return (start is None or timestamp >= start) and (end is None or timestamp <= end)


@attrs.define
class History:
    market: dict[Market, list[tuple[float, int]]] = attrs.Factory(dict)
    instances: dict[str, InstanceRecord] = attrs.Factory(dict)
    bids: dict[str, list[BidEvent]] = attrs.Factory(dict)

    @classmethod
    def opening(cls, market: dict[Market, int], now: float) -> History:
        return cls(market={key: [(now, cents)] for key, cents in market.items()})

    # -- what the auction writes ----------------------------------------------------------------

    def price_changed(self, market: Market, cents: int, now: float) -> None:
        """The market moved: every instance billed in it closes its period and opens one at the new price."""
        self.market.setdefault(market, []).append((now, cents))
        for record in self.instances.values():
            if record.market == market and record.billing is not None:
                self._stop_billing(record, now)
                record.periods.append(PricePeriod(cents, now))

    def bid_event(self, bid: str, event_type: str, now: float, limit_price_cents: int) -> None:
        self.bids.setdefault(bid, []).append(BidEvent(now, event_type, limit_price_cents))

    def instance_started(self, fid: str, bid: str, market: Market, status: str, price_cents: int, now: float) -> None:
        record = self.instances.setdefault(fid, InstanceRecord(fid, bid, market))
        record.statuses.append((now, status))
        record.periods.append(PricePeriod(price_cents, now))

    def adopt(self, fid: str, bid: str, market: Market, status: str, created_at: float,
              price_cents: int | None) -> None:
        """An instance from a state saved before the history was kept: it is on record from its creation, billed
        from then at `price_cents` if it still is (the market then is not known), else with no periods."""
        record = self.instances.setdefault(fid, InstanceRecord(fid, bid, market))
        record.statuses.append((created_at, status))
        if price_cents is not None:
            record.periods.append(PricePeriod(price_cents, created_at))

    def instance_status(self, fid: str, status: str, now: float, *, billed: bool) -> None:
        """A status change; `billed` says whether the instance is charged from now on."""
        record = self.instances[fid]
        record.statuses.append((now, status))
        if not billed and record.billing is not None:
            self._stop_billing(record, now)
        elif billed and record.billing is None:
            record.periods.append(PricePeriod(self.price_at(record.market), now))

    def price_at(self, market: Market) -> int:
        return self.market[market][-1][1]

    @staticmethod
    def _stop_billing(record: InstanceRecord, now: float) -> None:
        period = record.periods[-1]
        if period.start == now:
            record.periods.pop()  # a period of no time bills nothing: Mithril lists none
        else:
            period.end = now

    # -- what the routes read ---------------------------------------------------------------------

    def _records(self, instance: str | None, bid: str | None) -> Iterator[InstanceRecord]:
        for record in self.instances.values():
            if instance in (None, record.fid) and bid in (None, record.bid):
                yield record

    def pricing(self, instance: str | None, bid: str | None, start: float | None,
                end: float | None) -> list[dict[str, Any]]:
        """`GET /v2/instances/pricing/history`'s rows: each instance's periods that overlap the window."""
        return [{"instance_fid": r.fid, "bid_fid": r.bid, "reservation_fid": None,
                 "events": [p.to_api() for p in r.periods if p.overlaps(start, end)]}
                for r in self._records(instance, bid)]

    def statuses(self, instance: str | None, bid: str | None, start: float | None,
                 end: float | None) -> list[dict[str, Any]]:
        """`GET /v2/instances/status/history`'s rows: each instance's status changes within the window."""
        return [{"instance_fid": r.fid, "bid_fid": r.bid, "reservation_fid": None,
                 "events": [{"timestamp": iso_time(t), "status": s} for t, s in r.statuses
                            if _in_window(t, start, end)]}
                for r in self._records(instance, bid)]

    def bid(self, fid: str) -> dict[str, Any]:
        return {"bid_fid": fid, "events": [event.to_api() for event in self.bids.get(fid, [])]}

    def series(self, markets: Iterable[Market], start: float | None, end: float | None,
               samples: int) -> list[dict[str, Any]]:
        """`GET /v2/pricing/history`'s series: each market's price changes within the window, the latest
        `samples` of them (all of them for -1)."""
        rows = []
        for market in markets:
            points = [(t, c) for t, c in self.market.get(market, []) if _in_window(t, start, end)]
            if samples >= 0:
                points = points[len(points) - samples:] if samples else []
            rows.append({"instance_type": market[0], "region": market[1],
                         "timestamps": [iso_time(t) for t, _ in points],
                         "spot_prices": [dollars(c) for _, c in points],
                         "reserved_prices": [dollars(c * RESERVED_MARKUP) for _, c in points],
                         "region_disabled": False})
        return rows

    # -- persistence ----------------------------------------------------------------------------------

    def dump(self) -> dict[str, Any]:
        return {
            "market": [[it, region, points] for (it, region), points in self.market.items()],
            "instances": [attrs.asdict(r) for r in self.instances.values()],
            "bids": {fid: [attrs.asdict(e) for e in events] for fid, events in self.bids.items()},
        }

    @classmethod
    def load(cls, data: dict[str, Any]) -> History:
        instances = {}
        for saved in data["instances"]:
            record = InstanceRecord(saved["fid"], saved["bid"], tuple(saved["market"]),
                                    [tuple(s) for s in saved["statuses"]],
                                    [PricePeriod(**p) for p in saved["periods"]])
            instances[record.fid] = record
        return cls(market={(it, region): [tuple(p) for p in points]
                           for it, region, points in data["market"]},
                   instances=instances,
                   bids={fid: [BidEvent(**e) for e in events] for fid, events in data["bids"].items()})
