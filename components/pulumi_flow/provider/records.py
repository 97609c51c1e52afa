"""What Mithril's records say of a project's bids: what each has cost (exact, from what each instance was charged
period by period), its preemptions and the hours it ran and waited, and its instances' private addresses.

Mithril's second-price auction charges the market, not the bid, so the bid says nothing of the spend: it comes from
`GET /v2/instances/pricing/history`, and the preemptions from `GET /v2/instances/status/history` (an instance ends
`STATUS_PREEMPTED`; the bid's next instance starts when it is re-allocated). Both are read through the Flow SDK's
own JSON seam (its retries, its typed errors), never from its cache.

A create or an update reads its own bid's rows. A refresh reads every task at once, so its reads share one read of
the whole project's records (`shared_records`): what a refresh asks of Mithril for them does not grow with the
number of tasks beyond paging.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any

import attrs

from pulumi_flow.money import as_number, cents_up

if TYPE_CHECKING:
    from flow import Flow

PREEMPTED = "STATUS_PREEMPTED"
STARTED = "STATUS_NEW"
HOUR = Decimal(3600)
HOURS_PLACES = Decimal("0.0001")  # 0.36 s: hours are a gauge, not money
PAGE = 100  # the most the spec lets a page hold
# How long one read of the project's records serves the reads that follow it: a refresh's reads all start within
# this; a later one reads again. Mithril's own SDK keeps bids and instances 5 s.
SHARE_SECONDS = 2.0


def moment(text: str) -> datetime:
    """A time as Mithril writes it (ISO 8601, `Z` for UTC, which Python 3.10 does not read)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _seconds(start: datetime, end: datetime) -> Decimal:
    """Exact: a timedelta is whole microseconds."""
    delta = end - start
    return Decimal(delta.days * 86400 + delta.seconds) + Decimal(delta.microseconds) / 1_000_000


@attrs.frozen
class BidCost:
    """A bid's cost so far. `spend` is in dollars, rounded up to the cent once, after an exact sum (a cost is
    never under-reported); hours are to 1/10,000."""

    spend: Decimal
    preemptions: int
    running_hours: Decimal  # instance-hours charged
    preempted_hours: Decimal  # hours the bid waited for machines after being preempted
    last_preempted_at: str | None

    def outputs(self) -> dict[str, Any]:
        return {"spend_usd": as_number(self.spend), "preemptions": self.preemptions,
                "running_hours": float(self.running_hours), "preempted_hours": float(self.preempted_hours),
                "last_preempted_at": self.last_preempted_at}

    @classmethod
    def of(cls, pricing: Iterable[Mapping[str, Any]], statuses: Iterable[Mapping[str, Any]], now: datetime,
           ended: datetime | None = None) -> BidCost:
        """From the price periods and status changes of the bid's instances. A period still open is counted to
        `now`; so is a wait after a preemption with no instance since, unless the bid `ended` first."""
        cents_seconds = Decimal(0)
        running = Decimal(0)
        for instance in pricing:
            for period in instance.get("events") or []:
                start = moment(period["start_time"])
                end = moment(period["end_time"]) if period.get("end_time") else max(now, start)
                seconds = _seconds(start, end)
                cents_seconds += Decimal(int(period["price_cents"])) * seconds
                running += seconds
        preempted: set[str] = set()  # an instance each, all at the same moment: one preemption of the bid
        started: list[datetime] = []
        for instance in statuses:
            events = instance.get("events") or []
            preempted.update(e["timestamp"] for e in events if e.get("status") == PREEMPTED)
            firsts = [e for e in events if e.get("status") == STARTED]
            if firsts:
                started.append(moment(firsts[0]["timestamp"]))
        waited = Decimal(0)
        for text in preempted:
            when = moment(text)
            after = [s for s in started if s >= when]
            until = min(after) if after else min(now, ended or now)
            waited += _seconds(when, max(until, when))
        last = max(preempted, key=moment) if preempted else None
        return cls(spend=cents_up(cents_seconds / HOUR / 100), preemptions=len(preempted),
                   running_hours=(running / HOUR).quantize(HOURS_PLACES, ROUND_HALF_EVEN),
                   preempted_hours=(waited / HOUR).quantize(HOURS_PLACES, ROUND_HALF_EVEN),
                   last_preempted_at=last)


@attrs.frozen
class ProjectRecords:
    """Rows of the two history routes (each instance's price periods and status changes, with its bid) and of
    `GET /v2/instances` (each instance as it is now)."""

    pricing: tuple[Mapping[str, Any], ...]
    statuses: tuple[Mapping[str, Any], ...]
    instances: tuple[Mapping[str, Any], ...] = ()

    def private_ips(self, instance_ids: Iterable[str]) -> list[str] | None:
        """The instances' private addresses, in order; None if any is missing here (made after this read)."""
        by_id = {str(i.get("fid")): i.get("private_ip") for i in self.instances}
        if any(fid not in by_id for fid in instance_ids):
            return None
        return [str(by_id[fid]) for fid in instance_ids if by_id[fid]]

    def cost(self, bid_id: str, now: datetime, ended: datetime | None = None) -> BidCost:
        return BidCost.of([r for r in self.pricing if r.get("bid_fid") == bid_id],
                          [r for r in self.statuses if r.get("bid_fid") == bid_id], now, ended)

    @classmethod
    def read(cls, flow: Flow, api_key: str, bid_id: str | None = None) -> ProjectRecords:
        """The project's records, or one bid's: every page of each route."""
        from flow.application.http_json import get_api_json

        provider: Any = flow.provider  # Mithril's: its API's address, and the project id the SDK resolved
        api_url, project = provider.api_url, provider.project_id

        def pages(path: str, key: str, bid_filter: str) -> tuple[Mapping[str, Any], ...]:
            rows: list[Mapping[str, Any]] = []
            cursor: str | None = None
            while True:
                params: dict[str, object] = {"project": project, "limit": PAGE}
                if bid_id is not None:
                    params[bid_filter] = bid_id
                if cursor:
                    params["next_cursor"] = cursor
                page: Any = get_api_json(api_url, api_key, path, params, bypass_cache=True)
                rows.extend(page.get(key) or [])
                cursor = page.get("next_cursor")
                if not cursor:
                    return tuple(rows)

        return cls(pages("/v2/instances/pricing/history", "instances", "bid_fid"),
                   pages("/v2/instances/status/history", "instances", "bid_fid"),
                   pages("/v2/instances", "data", "bid_fid_in"))


@attrs.define
class _Shared:
    done: threading.Event = attrs.Factory(threading.Event)
    records: ProjectRecords | None = None
    error: BaseException | None = None
    finished_at: float = 0.0


_SHARED: dict[tuple[str, str], _Shared] = {}
_SHARED_LOCK = threading.Lock()


def shared_records(flow: Flow, api_key: str, *, clock: Any = time.monotonic) -> ProjectRecords:
    """The project's records, read once for every read that starts while that read is under way or within
    SHARE_SECONDS of its end: a refresh of a hundred tasks reads them once."""
    provider: Any = flow.provider
    key = (str(provider.api_url), str(provider.project_id))
    with _SHARED_LOCK:
        entry = _SHARED.get(key)
        fresh = entry is not None and (not entry.done.is_set() or
                                       (entry.error is None and clock() - entry.finished_at < SHARE_SECONDS))
        mine = not fresh
        if mine:
            entry = _SHARED[key] = _Shared()
    assert entry is not None
    if mine:
        try:
            entry.records = ProjectRecords.read(flow, api_key)
        except BaseException as exc:
            entry.error = exc
            raise
        finally:
            entry.finished_at = clock()
            entry.done.set()
    entry.done.wait()
    if entry.error is not None:
        raise entry.error
    assert entry.records is not None
    return entry.records


def forget_shared_records() -> None:
    """After a write: the next read sees it."""
    with _SHARED_LOCK:
        _SHARED.clear()
