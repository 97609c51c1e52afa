"""What a bid has cost, from Mithril's own history: the spend (exact, from what each instance was charged period by
period), its preemptions, and the hours it ran and waited.

Mithril's second-price auction charges the market, not the bid, so the bid says nothing of the spend: it comes from
`GET /v2/instances/pricing/history` (paged) and the preemptions from `GET /v2/spot/bids/{id}/history`, read through
the Flow SDK's own JSON seam (its retries, its typed errors), never from its cache.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any

import attrs

from pulumi_flow.money import as_number, cents_up

if TYPE_CHECKING:
    from flow import Flow

PREEMPTED = "Preempted"
ALLOCATED = "Allocated"
HOUR = Decimal(3600)
HOURS_PLACES = Decimal("0.0001")  # 0.36 s: hours are a gauge, not money
PAGE = 100  # the most the spec lets a page hold


def _moment(text: str) -> datetime:
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
    def of(cls, pricing: Iterable[Mapping[str, Any]], events: Sequence[Mapping[str, Any]],
           now: datetime) -> BidCost:
        """From the bid's instances' price periods and its events; a period still open is counted to `now`."""
        cents_seconds = Decimal(0)
        running = Decimal(0)
        for instance in pricing:
            for period in instance.get("events") or []:
                start = _moment(period["start_time"])
                end = _moment(period["end_time"]) if period.get("end_time") else max(now, start)
                seconds = _seconds(start, end)
                cents_seconds += Decimal(int(period["price_cents"])) * seconds
                running += seconds
        preempted = [e for e in events if e.get("event_type") == PREEMPTED]
        waited = Decimal(0)
        for index, event in enumerate(events):
            if event.get("event_type") != PREEMPTED:
                continue
            after = [e for e in events[index + 1:] if e.get("event_type") == ALLOCATED]
            until = _moment(after[0]["timestamp"]) if after else now
            waited += _seconds(_moment(event["timestamp"]), max(until, _moment(event["timestamp"])))
        return cls(spend=cents_up(cents_seconds / HOUR / 100), preemptions=len(preempted),
                   running_hours=(running / HOUR).quantize(HOURS_PLACES, ROUND_HALF_EVEN),
                   preempted_hours=(waited / HOUR).quantize(HOURS_PLACES, ROUND_HALF_EVEN),
                   last_preempted_at=preempted[-1]["timestamp"] if preempted else None)


def read_bid_cost(flow: Flow, api_key: str, bid_id: str, now: datetime | None = None) -> BidCost:
    """The bid's cost as Mithril's history tells it: two reads, or more if its instances fill several pages."""
    from flow.application.http_json import get_api_json

    provider: Any = flow.provider  # Mithril's: its API's address, and the project id the SDK resolved the name to
    api_url, project = provider.api_url, provider.project_id
    pricing: list[Mapping[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, object] = {"project": project, "bid_fid": bid_id, "limit": PAGE}
        if cursor:
            params["next_cursor"] = cursor
        page: Any = get_api_json(api_url, api_key, "/v2/instances/pricing/history", params, bypass_cache=True)
        pricing.extend(page.get("instances") or [])
        cursor = page.get("next_cursor")
        if not cursor:
            break
    history: Any = get_api_json(api_url, api_key, f"/v2/spot/bids/{bid_id}/history", bypass_cache=True)
    return BidCost.of(pricing, history.get("events") or [], now or datetime.now(timezone.utc))
