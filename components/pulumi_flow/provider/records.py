"""What Mithril's records say of a project's bids: each bid and its instances as they are now (which the Flow SDK's
own task mapping turns into a `Task`), what each has cost (exact, from what each instance was charged period by
period), its preemptions and the hours it ran and waited.

Mithril's second-price auction charges the market, not the bid, so the bid says nothing of the spend: it comes from
`GET /v2/instances/pricing/history`, and the preemptions from `GET /v2/instances/status/history` (an instance ends
`STATUS_PREEMPTED`; the bid's next instance starts when it is re-allocated). Everything is read through the Flow
SDK's own JSON seam (its retries, its typed errors), never from its cache, and nothing is read twice.

A create or an update watches its own bid (the bid and its instances, then its history once). A refresh reads every
task at once, so its reads share one read of the whole project (`shared_records`): what a refresh asks of Mithril
does not grow with the number of tasks beyond paging. Nor with the project's past: the project's read lists the live
bids only (a listing per live status), their instances by bid, and the history since the oldest of them was placed;
a bid not among them (one that ended, or was placed since) is read on its own.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any

import attrs

from pulumi_flow.money import as_number, cents_up

if TYPE_CHECKING:
    from flow import Flow, Task

PREEMPTED = "STATUS_PREEMPTED"
STARTED = "STATUS_NEW"
HOUR = Decimal(3600)
HOURS_PLACES = Decimal("0.0001")  # 0.36 s: hours are a gauge, not money
PAGE = 100  # the most the spec lets a page hold
TERMINATED = "Terminated"
# Mithril's bid statuses but the last one (the spec's `status` filter takes one), in the order a bid goes through them:
# a bid listed twice because it moved on between two listings keeps its later row.
LIVE_BID_STATUSES = ("Open", "Allocated", "Preempting", "Paused")
# How long before the oldest live bid was placed the project's history is read from: whatever the precision of
# Mithril's times, nothing of a live bid's history falls outside.
HISTORY_MARGIN = timedelta(hours=1)
# How long one read of the project's records serves the reads that follow it: a refresh's reads all start within
# this; a later one reads again. Mithril's own SDK keeps bids and instances 5 s.
SHARE_SECONDS = 2.0


def moment(text: str) -> datetime:
    """A time as Mithril writes it (ISO 8601, `Z` for UTC, which Python 3.10 does not read)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def mithril_time(when: datetime) -> str:
    """A time as Mithril takes it: ISO 8601, in UTC, to the second (`2030-01-01T00:00:00Z`)."""
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


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
    """What one read of Mithril says of the project's live bids (or of one bid): the bids and their instances as they
    are now, and, once read, the two history routes' rows (each instance's price periods and status changes).

    The bids are read before their instances, so every instance a bid names is among the instances read."""

    bids: tuple[Mapping[str, Any], ...] = ()
    instances: tuple[Mapping[str, Any], ...] = ()
    pricing: tuple[Mapping[str, Any], ...] | None = None
    statuses: tuple[Mapping[str, Any], ...] | None = None

    def task(self, flow: Flow, bid_id: str) -> Task | None:
        """The bid as the Flow SDK reads it (its status rules, addresses, market price and metadata), built by the
        SDK's own task mapping from these rows instead of from reads of its own; None if the bid is not here."""
        bid = self._row(bid_id)
        if bid is None:
            return None
        from pulumi_flow.provider.session import MAPPING_LOCK

        with MAPPING_LOCK:
            return _task_builder(flow, self.instances).build_task(dict(bid), fetch_instance_details=True)

    def volume_ids(self, bid_id: str) -> list[str]:
        """The volumes Mithril has attached to the bid (its launch specification's), in order."""
        bid = self._row(bid_id) or {}
        return [str(i) for i in (bid.get("launch_specification") or {}).get("volumes") or []]

    def _row(self, bid_id: str) -> Mapping[str, Any] | None:
        return next((row for row in self.bids if row.get("fid") == bid_id), None)

    def private_ips(self, instance_ids: Iterable[str]) -> list[str]:
        """The instances' private addresses, in order, for those that have one."""
        by_id = {str(i.get("fid")): i.get("private_ip") for i in self.instances}
        return [str(by_id[fid]) for fid in instance_ids if by_id.get(fid)]

    def cost(self, bid_id: str, now: datetime, ended: datetime | None = None) -> BidCost:
        if self.pricing is None or self.statuses is None:
            raise ValueError("these records hold no history: read them with history=True, or use with_history")
        return BidCost.of([r for r in self.pricing if r.get("bid_fid") == bid_id],
                          [r for r in self.statuses if r.get("bid_fid") == bid_id], now, ended)

    def with_history(self, flow: Flow, api_key: str, bid_id: str) -> ProjectRecords:
        """These records, with the bid's own history read now (unless they hold the history already)."""
        if self.pricing is not None and self.statuses is not None:
            return self
        pricing, statuses = _Reader(flow, api_key, bid_id).history(self.bids)
        return attrs.evolve(self, pricing=pricing, statuses=statuses)

    @classmethod
    def read(cls, flow: Flow, api_key: str, bid_id: str | None = None, *, history: bool = True) -> ProjectRecords:
        """The project's live bids, or one bid (none if Mithril has no bid of that id), with their instances and,
        with `history`, their history: every page of each route."""
        reader = _Reader(flow, api_key, bid_id)
        bids = reader.bids()
        records = cls(bids=bids, instances=reader.instances(bids))
        if not history:
            return records
        pricing, statuses = reader.history(bids)
        return attrs.evolve(records, pricing=pricing, statuses=statuses)


@attrs.frozen
class _Reader:
    """Reads through the Flow SDK's own JSON seam (its retries, its typed errors), never from its cache."""

    flow: Flow
    api_key: str
    bid_id: str | None

    def _get(self, path: str, params: dict[str, object] | None = None) -> Any:
        from flow.application.http_json import get_api_json

        provider: Any = self.flow.provider  # Mithril's: its API's address
        return get_api_json(provider.api_url, self.api_key, path, params, bypass_cache=True)

    def pages(self, path: str, key: str, filters: Mapping[str, object]) -> tuple[Mapping[str, Any], ...]:
        provider: Any = self.flow.provider  # the project id the SDK resolved
        rows: list[Mapping[str, Any]] = []
        cursor: str | None = None
        while True:
            params: dict[str, object] = {"project": provider.project_id, "limit": PAGE, **filters}
            if cursor:
                params["next_cursor"] = cursor
            page = self._get(path, params)
            rows.extend(page.get(key) or [])
            cursor = page.get("next_cursor")
            if not cursor:
                return tuple(rows)

    def bids(self) -> tuple[Mapping[str, Any], ...]:
        if self.bid_id is None:
            rows: dict[str, Mapping[str, Any]] = {}
            for status in LIVE_BID_STATUSES:
                listed = self.pages("/v2/spot/bids", "data", {"status": status})
                rows.update((str(row.get("fid")), row) for row in listed)
            return tuple(rows.values())
        from flow.errors import APIError

        try:
            return (self._get(f"/v2/spot/bids/{self.bid_id}"),)
        except APIError as exc:
            if getattr(exc, "status_code", None) == 404:
                return ()
            raise

    def instances(self, bids: Iterable[Mapping[str, Any]]) -> tuple[Mapping[str, Any], ...]:
        """The bids' instances, asked for by bid (a project's every instance ever would grow with its past)."""
        # A bid's own read asks by its id even when Mithril no longer has the bid: its instances may still be there.
        fids = [self.bid_id] if self.bid_id is not None else [str(row.get("fid")) for row in bids]
        return tuple(row for start in range(0, len(fids), PAGE)
                     for row in self.pages("/v2/instances", "data", {"bid_fid_in": ",".join(fids[start:start + PAGE])}))

    def history(self, bids: Iterable[Mapping[str, Any]]) -> tuple[tuple[Mapping[str, Any], ...],
                                                                   tuple[Mapping[str, Any], ...]]:
        """The price periods and status changes of the bid's instances, or, for the project, of every instance since
        the oldest of the bids was placed (the bids' own are all within that)."""
        window: dict[str, object] = {}
        if self.bid_id is not None:
            window["bid_fid"] = self.bid_id
        else:
            placed = [row.get("created_at") for row in bids]
            if not placed:
                return (), ()
            if all(placed):  # else the whole history: a bid of unknown age may be the oldest
                window["start_time"] = mithril_time(min(moment(str(text)) for text in placed) - HISTORY_MARGIN)
        return (self.pages("/v2/instances/pricing/history", "instances", window),
                self.pages("/v2/instances/status/history", "instances", window))


class _RecordedInstances:
    """The two reads the Flow SDK's task mapping makes of a bid's instances, answered from rows already read."""

    def __init__(self, rows: Iterable[Mapping[str, Any]]) -> None:
        self._rows = [dict(row) for row in rows]

    def get_bid_instances(self, bid_id: str, instance_ids: list[str]) -> dict[str, dict[str, Any]]:
        by_id = {str(row.get("fid")): row for row in self._rows}
        return {fid: dict(by_id[fid]) for fid in instance_ids if fid in by_id}

    def list_project_instances_by_bid(self, bid_id: str, max_pages: int = 3) -> list[dict[str, Any]]:
        return [dict(row) for row in self._rows if row.get("bid") == bid_id]


def _task_builder(flow: Flow, instances: Iterable[Mapping[str, Any]]) -> Any:
    """The Flow SDK's task mapping (`TaskService`, as its Mithril provider wires it) over recorded instances. No SSH
    endpoint resolver: it would read the bid again; the SDK then takes the endpoints from the instances' rows."""
    from flow.adapters.providers.builtin.mithril.domain.tasks import TaskService
    from flow.utils.pricing_cache import PricingCache

    context: Any = flow.provider.ctx  # type: ignore[attr-defined]
    recorded: Any = _RecordedInstances(instances)  # typed as the SDK's InstanceService: its mapping calls only these
    return TaskService(context.http, context.pricing, recorded, pricing_cache=PricingCache(),
                       instance_type_resolver=context.catalog.get_instance_type_info)


@attrs.define
class _Shared:
    done: threading.Event = attrs.Factory(threading.Event)
    records: ProjectRecords | None = None
    error: BaseException | None = None
    finished_at: float = 0.0
    served: set[str] = attrs.Factory(set)  # the bids whose reads it has answered


_SHARED: dict[tuple[str, str], _Shared] = {}
_SHARED_LOCK = threading.Lock()


def shared_records(flow: Flow, api_key: str, bid_id: str, *, clock: Any = time.monotonic) -> ProjectRecords:
    """The project's records for a read of `bid_id`: one read of them answers every read that starts while it is
    under way or within SHARE_SECONDS of its end, each bid's once. So a refresh of a hundred tasks reads them once,
    and a second read of a bid is a later refresh, which reads them again."""
    provider: Any = flow.provider
    key = (str(provider.api_url), str(provider.project_id))
    with _SHARED_LOCK:
        entry = _SHARED.get(key)
        fresh = entry is not None and bid_id not in entry.served and (
            not entry.done.is_set() or (entry.error is None and clock() - entry.finished_at < SHARE_SECONDS))
        mine = not fresh
        if mine:
            entry = _SHARED[key] = _Shared()
        assert entry is not None
        entry.served.add(bid_id)
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
