"""Mithril's auction, as state and rules, with no HTTP in it.

The backend answers in plain dictionaries shaped like Mithril's API models so that
`responses.py` only has to move them on and off the wire. Time is lazy: every call
first advances the auction to "now", so nothing runs in the background and a test
can drive the clock. What it sells is `catalog.py`, what it keeps is `records.py`, the
checks a request passes before any state is looked at are `bodies.py`, its refusals `exceptions.py`.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import attrs

from pulumi_flow.emulator.bodies import (
    ApiKeyRequest,
    BidRequest,
    BidUpdate,
    ReservationRequest,
    SshKeyRequest,
    VolumeRequest,
    parse_time,
    volume_name,
)
from pulumi_flow.emulator.catalog import CATALOG, REGIONS, RESERVED_MARKUP, opening_market
from pulumi_flow.emulator.exceptions import Conflict, EmulatorError, NotFound, Unprocessable
from pulumi_flow.emulator.history import (
    ALLOCATED,
    LIMIT_PRICE_CHANGED,
    PAUSED,
    PLACED,
    PREEMPTED,
    RESUMED,
    TERMINATED,
    History,
)
from pulumi_flow.emulator.records import (
    BID_ALLOCATED,
    BID_OPEN,
    BID_PAUSED,
    BID_PREEMPTING,
    BID_TERMINATED,
    INSTANCE_NEW,
    INSTANCE_PAUSED,
    INSTANCE_PREEMPTED,
    INSTANCE_PREEMPTING,
    INSTANCE_RUNNING,
    INSTANCE_TERMINATED,
    PROJECT_ID,
    PROJECT_NAME,
    Bid,
    Instance,
    SshKey,
    Volume,
    dollars,
    iso_time,
    new_id,
)
from pulumi_flow.emulator.reservations import Reservation, ReservationDesk

__all__ = ["PROJECT_ID", "PROJECT_NAME", "EmulatorError", "MithrilBackend", "NotFound", "Settings"]


@attrs.define
class Settings:
    """Knobs a test or `--flag` can turn."""

    allocation_delay: float = 0.3
    boot_delay: float = 0.3
    capacity_per_market: int = 64  # instances each (instance type, region) market holds, unless set otherwise
    # Seconds a bid stays `Preempting` (its machines running, still billed) before Mithril takes them: 0 preempts at
    # once.
    preemption_notice: float = 0.0
    api_key: str | None = None
    request_timeout: float = 10.0  # seconds a client may take to send a request; then 408



class MithrilBackend:
    """The auction: bids, instances, volumes and prices of one project."""

    def __init__(self, settings: Settings | None = None, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings or Settings()
        self.clock = clock
        self._lock = threading.RLock()
        # Notified after every request and control action: tests wait on the cloud's state, not on time.
        self._changed = threading.Condition(self._lock)
        self.instance_types = {it.fid: it for it in CATALOG}
        self.market_cents: dict[tuple[str, str], int] = opening_market()
        # Instances each market can hold; a market not in it holds `settings.capacity_per_market`.
        self.capacity: dict[tuple[str, str], int] = {}
        self._scheduled: list[tuple[float, tuple[str, str], int]] = []  # (when, market, price), in time order
        self.history = History.opening(self.market_cents, clock())
        self.bids: dict[str, Bid] = {}
        self.instances: dict[str, Instance] = {}
        self.volumes: dict[str, Volume] = {}
        self.ssh_keys: dict[str, SshKey] = {}
        self.api_keys: dict[str, dict[str, Any]] = {}
        # (what was created, Idempotency-Key) -> its id.
        self._idempotency: dict[tuple[str, str], str] = {}
        self._ips = itertools.count(1)
        self.desk = self._desk()

    def _desk(self) -> ReservationDesk:
        return ReservationDesk(price=lambda market: self.market_cents[market] * RESERVED_MARKUP,
                               start_instances=self._start_reserved, stop_instances=self._stop_reserved)

    # -- time ---------------------------------------------------------------------

    @contextmanager
    def _now(self) -> Iterator[float]:
        with self._lock:
            now = self.clock()
            self._advance(now)
            try:
                yield now
            finally:
                self._changed.notify_all()

    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Block until `predicate()` holds (checked under the lock after every request or control
        action); False if `timeout` seconds pass first."""
        with self._changed:
            return self._changed.wait_for(predicate, timeout)

    def _advance(self, now: float) -> None:
        """The auction up to `now`: each scheduled market move at its own moment, what it causes then, and the rest
        at `now`."""
        while self._scheduled and self._scheduled[0][0] <= now:
            at, market, cents = self._scheduled.pop(0)
            self._settle(at)  # what happened before, at the old price
            self._move_market(market, cents, at)
            self._settle(at)  # what the move causes at once: preemptions, allocations
        self._settle(now)
        self.desk.advance(now)

    def _settle(self, now: float) -> None:
        for bid in self.bids.values():
            if bid.status == BID_PREEMPTING and now - (bid.preempting_since or now) >= self.settings.preemption_notice:
                self._preempt(bid, now)
        for bid in self.bids.values():
            if bid.status == BID_OPEN and now - bid.open_since >= self.settings.allocation_delay:
                if bid.limit_price_cents >= self._market(bid) and self._room(bid) >= bid.quantity:
                    self._allocate(bid, now)
            elif bid.status == BID_ALLOCATED and bid.limit_price_cents < self._market(bid):
                self._give_notice(bid, now)
        for inst in self.instances.values():
            if inst.status == INSTANCE_NEW and now - inst.created_at >= self.settings.boot_delay:
                inst.status = INSTANCE_RUNNING
                if inst.bid is None:
                    continue  # a reservation's: paid for by its commitment, not in the spot history
                self.history.instance_status(inst.fid, INSTANCE_RUNNING, inst.created_at + self.settings.boot_delay,
                                             billed=True)

    def _capacity(self, market: tuple[str, str]) -> int:
        return self.capacity.get(market, self.settings.capacity_per_market)

    def _used(self, market: tuple[str, str]) -> int:
        return sum(b.quantity for b in self.bids.values()
                   if (b.instance_type, b.region) == market and b.holds_capacity)

    def _room(self, bid: Bid) -> int:
        market = (bid.instance_type, bid.region)
        return self._capacity(market) - self._used(market)

    def _market(self, bid: Bid) -> int:
        return self.market_cents[(bid.instance_type, bid.region)]

    def _new_instance(self, name: str, instance_type: str, region: str, now: float, *, bid: str | None = None,
                      reservation: str | None = None) -> Instance:
        n = next(self._ips)
        inst = Instance(fid=new_id("inst"), name=name, bid=bid, reservation=reservation, instance_type=instance_type,
                        region=region, created_at=now,
                        # TEST-NET-3 addresses: documentation-only, never routable.
                        ssh_destination=f"203.0.113.{n % 250 + 1}", private_ip=f"10.0.{n // 250}.{n % 250 + 1}")
        self.instances[inst.fid] = inst
        return inst

    def _allocate(self, bid: Bid, now: float) -> None:
        bid.status = BID_ALLOCATED
        bid.instances = []
        self.history.bid_event(bid.fid, ALLOCATED, now, bid.limit_price_cents)
        for index in range(bid.quantity):
            inst = self._new_instance(f"{bid.name}-{index}", bid.instance_type, bid.region, now, bid=bid.fid)
            bid.instances.append(inst.fid)
            self.history.instance_started(inst.fid, bid.fid, (bid.instance_type, bid.region), INSTANCE_NEW,
                                          self._market(bid), now)

    def _release_instances(self, bid: Bid, status: str, now: float) -> None:
        for fid in bid.instances:
            self.instances[fid].status = status
            self.history.instance_status(fid, status, now, billed=False)
        bid.instances = []

    def _give_notice(self, bid: Bid, now: float) -> None:
        """A bid about to lose its machines: `Preempting` for the notice period (running, billed), then preempted."""
        if self.settings.preemption_notice <= 0:
            self._preempt(bid, now)
            return
        bid.status = BID_PREEMPTING
        bid.preempting_since = now
        for fid in bid.instances:
            self.instances[fid].status = INSTANCE_PREEMPTING
            self.history.instance_status(fid, INSTANCE_PREEMPTING, now, billed=True)

    def _preempt(self, bid: Bid, now: float) -> None:
        """Mithril re-queues a preempted bid: back to Open, re-allocated later with new instances."""
        bid.preempting_since = None
        self.history.bid_event(bid.fid, PREEMPTED, now, bid.limit_price_cents)
        self._release_instances(bid, INSTANCE_PREEMPTED, now)
        bid.status = BID_OPEN
        bid.open_since = now

    # -- catalog and prices -------------------------------------------------------

    def list_instance_types(self) -> list[dict[str, Any]]:
        return [it.to_api() for it in self.instance_types.values()]

    def regions(self) -> list[str]:
        return list(REGIONS)

    def availability(self) -> list[dict[str, Any]]:
        with self._now():
            rows = []
            for (it_fid, region), cents in self.market_cents.items():
                room = self._capacity((it_fid, region)) - self._used((it_fid, region))
                rows.append({
                    "fid": f"auc_{it_fid[3:]}_{region.replace('-', '')}",
                    "instance_type": it_fid,
                    "region": region,
                    "capacity": max(room, 0),
                    "last_instance_price": dollars(cents),
                    "lowest_allocated_price": dollars(cents),
                    "adjustable_memory": False,
                    "default_image_version": None,
                })
            return rows

    def marketplace_regions(self) -> list[dict[str, Any]]:
        """The SDK's regions with their storage abilities (every region here stores block and file)."""
        return [{"id": f"reg_{name.replace('-', '')}", "name": name, "block_storage_enabled": True,
                 "fileshare_storage_enabled": True, "k8s_enabled": False} for name in self.regions()]

    def price_history(self, instance_types: list[str] | None, region: str | None, start: float | None = None,
                      end: float | None = None, samples: int = 100) -> dict[str, Any]:
        """`GET /v2/pricing/history`: each market's price changes in the window (instance types by id, Mithril
        name or `8xa100`), the latest `samples` of them."""
        with self._now():
            fids: set[str] | None = None
            if instance_types is not None:
                fids = set()
                for name in instance_types:
                    with contextlib.suppress(NotFound):  # a type not sold here has no series (/current: nulls)
                        fids.add(self.instance_type_fid(name))
            markets = [(it, r) for it, r in sorted(self.market_cents)
                       if (fids is None or it in fids) and region in (None, r)]
            return {"series": self.history.series(markets, start, end, samples), "complete": True,
                    "show_disabled_regions": False}

    def instance_pricing_history(self, *, instance: str | None = None, bid: str | None = None,
                                 start: float | None = None, end: float | None = None) -> list[dict[str, Any]]:
        with self._now():
            return self.history.pricing(instance, bid, start, end)

    def instance_status_history(self, *, instance: str | None = None, bid: str | None = None,
                                start: float | None = None, end: float | None = None) -> list[dict[str, Any]]:
        with self._now():
            return self.history.statuses(instance, bid, start, end)

    def bid_history(self, fid: str) -> dict[str, Any]:
        with self._now():
            self._bid(fid)
            return self.history.bid(fid)

    def current_price(self, instance_type: str, region: str | None) -> dict[str, Any]:
        with self._now():
            markets = [m for m in self.market_cents if m[0] == instance_type and region in (None, m[1])]
            if not markets:
                # Mithril answers 200 with nulls for a type it does not sell here; the SDK relies on it.
                return {k: None for k in (
                    "spot_price_cents", "reserved_price_cents", "minimum_price_cents",
                    "lowest_allocated_bid_cents", "dynamic_win_price_cents",
                    "available_capacity", "total_capacity")}
            cheapest = min(markets, key=lambda m: self.market_cents[m])  # the quote is the cheapest market's
            spot = self.market_cents[cheapest]
            return {
                "spot_price_cents": spot,
                "reserved_price_cents": spot * RESERVED_MARKUP,
                "minimum_price_cents": spot,
                "lowest_allocated_bid_cents": spot,
                "dynamic_win_price_cents": spot,
                "available_capacity": max(self._capacity(cheapest) - self._used(cheapest), 0),
                "total_capacity": self._capacity(cheapest),
            }

    def instance_type_fid(self, name: str) -> str:
        """An instance type by its catalog id (`it_…`), its Mithril name (`a100-80gb.sxm.8x`) or the
        Flow alias users write (`8xa100`, `a100:8`, by the SDK's grammar)."""
        if name in self.instance_types:
            return name
        for it in self.instance_types.values():
            if it.name == name:
                return it.fid
        from flow.utils.instance_grammar import split_family_and_count

        try:
            family, count = split_family_and_count(name)
        except ValueError:
            raise NotFound("instance type", name) from None
        for it in self.instance_types.values():
            if it.gpu_type.lower() == family and it.num_gpus == count:
                return it.fid
        raise NotFound("instance type", name)

    def set_market_price(self, instance_type: str, region: str, cents: int) -> None:
        instance_type = self.instance_type_fid(instance_type)
        if (instance_type, region) not in self.market_cents:
            raise NotFound("market", f"{instance_type}@{region}")
        if cents <= 0:
            raise Unprocessable("price must be positive", "price")
        with self._now() as now:  # what happened at the old price happens first
            self._move_market((instance_type, region), cents, now)
            self._settle(now)

    def _move_market(self, market: tuple[str, str], cents: int, now: float) -> None:
        if self.market_cents[market] != cents:
            self.market_cents[market] = cents
            self.history.price_changed(market, cents, now)

    def set_capacity(self, region: str, count: int, instance_type: str | None = None) -> list[str]:
        """How many instances the region's markets (one type's, or every type's) hold from now on. A market cut below
        what it runs gives notice to its newest allocations, as Mithril does when capacity goes away. Returns the
        ids of the bids given notice."""
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise Unprocessable(f"capacity must be a whole number >= 0, got {count!r}", "capacity")
        fids = None if instance_type is None else {self.instance_type_fid(instance_type)}
        markets = [m for m in self.market_cents if m[1] == region and (fids is None or m[0] in fids)]
        if not markets:
            raise NotFound("market", f"{instance_type or '*'}@{region}")
        noticed: list[str] = []
        with self._now() as now:
            for market in markets:
                self.capacity[market] = count
                holding = sorted((b for b in self.bids.values()
                                  if (b.instance_type, b.region) == market and b.status == BID_ALLOCATED),
                                 key=lambda b: b.created_at, reverse=True)
                for bid in holding:
                    if self._used(market) <= count:
                        break
                    self._give_notice(bid, now)
                    noticed.append(bid.fid)
            self._settle(now)
        return noticed

    def schedule_market(self, instance_type: str, region: str, moves: list[tuple[float, int]]) -> None:
        """A market over time: each (seconds from now, price in cents) happens at that moment of the clock, with
        what it causes (preemptions, allocations) then, whenever the emulator is next asked."""
        instance_type = self.instance_type_fid(instance_type)
        if (instance_type, region) not in self.market_cents:
            raise NotFound("market", f"{instance_type}@{region}")
        for after, cents in moves:
            if after < 0:
                raise Unprocessable(f"a scheduled move is in the past ({after} s from now)", "schedule")
            if cents <= 0:
                raise Unprocessable("price must be positive", "schedule")
        with self._now() as now:
            self._scheduled.extend((now + after, (instance_type, region), cents) for after, cents in moves)
            self._scheduled.sort(key=lambda move: move[0])

    # -- bids -----------------------------------------------------------------------

    def create_bid(self, body: dict[str, Any], idempotency_key: str | None) -> tuple[dict[str, Any], bool]:
        """Returns (bid, created). A repeated Idempotency-Key answers with the first bid."""
        with self._now() as now:
            replayed = self._replay("bid", idempotency_key)
            if replayed is not None:
                return self.bids[replayed].to_api(), False
            request = BidRequest.parse(body)
            self._check_placement(request)
            bid = Bid(
                fid=new_id("bid"), name=request.name, region=request.region, instance_type=request.instance_type,
                limit_price_cents=request.limit_price_cents, quantity=request.quantity,
                launch_specification=request.launch_specification(), created_at=now, open_since=now,
            )
            self.bids[bid.fid] = bid
            self.history.bid_event(bid.fid, PLACED, now, bid.limit_price_cents)
            self._remember("bid", idempotency_key, bid.fid)
            return bid.to_api(), True

    def _check_placement(self, request: BidRequest) -> None:
        """What a well-formed bid must also meet in this project: a type sold in its region, and volumes that
        exist there and can take its instances."""
        if request.instance_type not in self.instance_types:
            raise Unprocessable(f"unknown instance type {request.instance_type!r}", "instance_type")
        if (request.instance_type, request.region) not in self.market_cents:
            raise Unprocessable(f"instance type {request.instance_type} is not sold in region {request.region!r}",
                                "region")
        self._check_volumes(request.volumes, request.region, request.quantity)

    def _check_volumes(self, volume_ids: Iterable[str], region: str, quantity: int,
                       attaching_to: str | None = None) -> None:
        """The volumes a bid attaches (when placed, or changed in place): each exists, in the bid's region, and a
        block volume only on a one-instance bid that is its only one."""
        field = "launch_specification.volumes" if attaching_to is None else "volumes"
        for vid in volume_ids:
            vol = self.volumes.get(vid)
            if vol is None or vol.deleted_at is not None:
                raise Unprocessable(f"volume {vid!r} does not exist", field)
            if vol.region != region:
                raise Unprocessable(f"volume {vid} is in {vol.region}, the bid is in {region}", field)
            others = [fid for fid in self._attached_bids(vid) if fid != attaching_to]
            if vol.interface == "Block" and (quantity > 1 or others):
                raise Unprocessable(f"block volume {vid} can attach to one instance only", field)

    def _replay(self, kind: str, key: str | None) -> str | None:
        """The id a repeated Idempotency-Key created on the same endpoint, or None. Whatever the body: the Flow SDK
        sends a keyed request with a fresh name suffix and session id each time it is called (`TaskConfig(
        idempotency_key=...)`), so a server that compared bodies would make its key useless; and the spec lists no
        status for a mismatch (POST /v2/spot/bids and /v2/volumes answer 201 or 422 only)."""
        if not key:
            return None
        return self._idempotency.get((kind, key))

    def _remember(self, kind: str, key: str | None, fid: str) -> None:
        if key:
            self._idempotency[(kind, key)] = fid

    def _attached_bids(self, volume_id: str) -> list[str]:
        return [b.fid for b in self.bids.values()
                if b.live and volume_id in b.launch_specification["volumes"]]

    def get_bid(self, fid: str) -> dict[str, Any]:
        with self._now():
            return self._bid(fid).to_api()

    def bid_status(self, fid: str) -> dict[str, Any]:
        """`GET /v2/spot/bids/{id}/status`: the bid's status alone (this emulator never relocates)."""
        with self._now():
            return {"bid_fid": fid, "status": self._bid(fid).status}

    def _bid(self, fid: str) -> Bid:
        try:
            return self.bids[fid]
        except KeyError:
            raise NotFound("bid", fid) from None

    def list_bids(self, *, name: str | None = None, status: str | None = None,
                  region: str | None = None, instance_type: str | None = None) -> list[dict[str, Any]]:
        with self._now():
            return [
                b.to_api() for b in sorted(self.bids.values(), key=lambda b: b.created_at, reverse=True)
                if name in (None, b.name) and status in (None, b.status)
                and region in (None, b.region) and instance_type in (None, b.instance_type)
            ]

    def update_bid(self, fid: str, body: dict[str, Any]) -> dict[str, Any]:
        with self._now() as now:
            bid = self._bid(fid)
            update = BidUpdate.parse(body)
            if not bid.live:
                raise Conflict(f"bid {fid} is terminated and cannot be changed")
            if update.volumes is not None:
                self._check_volumes(update.volumes, bid.region, bid.quantity, attaching_to=bid.fid)
                bid.launch_specification = {**bid.launch_specification, "volumes": list(update.volumes)}
            if update.limit_price_cents is not None and update.limit_price_cents != bid.limit_price_cents:
                bid.limit_price_cents = update.limit_price_cents
                self.history.bid_event(fid, LIMIT_PRICE_CHANGED, now, bid.limit_price_cents)
            if update.paused is True and bid.status != BID_PAUSED:
                self._pause(bid, now)
            elif update.paused is False and bid.status == BID_PAUSED:
                self._resume(bid, now)
            self._advance(now)
            return bid.to_api()

    def cancel_bid(self, fid: str) -> None:
        with self._now() as now:
            bid = self._bid(fid)
            if bid.live:
                self._terminate(bid, now)

    def _pause(self, bid: Bid, now: float) -> None:
        """Mithril's pause: billing stops, the machines stop but stay the bid's, and come back on resume."""
        self.history.bid_event(bid.fid, PAUSED, now, bid.limit_price_cents)
        for fid in bid.instances:
            self.instances[fid].status = INSTANCE_PAUSED
            self.history.instance_status(fid, INSTANCE_PAUSED, now, billed=False)
        bid.status = BID_PAUSED

    def _resume(self, bid: Bid, now: float) -> None:
        """The paused machines boot again (billed from now); a bid paused before it was allocated waits in the
        auction."""
        self.history.bid_event(bid.fid, RESUMED, now, bid.limit_price_cents)
        if bid.instances:
            for fid in bid.instances:
                self.instances[fid].status = INSTANCE_NEW
                self.instances[fid].created_at = now
                self.history.instance_status(fid, INSTANCE_NEW, now, billed=True)
            bid.status = BID_ALLOCATED
        else:
            bid.status = BID_OPEN
            bid.open_since = now

    def _terminate(self, bid: Bid, now: float) -> None:
        self.history.bid_event(bid.fid, TERMINATED, now, bid.limit_price_cents)
        self._release_instances(bid, INSTANCE_TERMINATED, now)
        bid.status = BID_TERMINATED
        bid.deactivated_at = now

    # -- instances ----------------------------------------------------------------------

    def list_instances(self, bid_ids: list[str] | None = None,
                       reservation_ids: list[str] | None = None) -> list[dict[str, Any]]:
        with self._now():
            return [
                inst.to_api() for inst in self.instances.values()
                if (bid_ids is None or inst.bid in bid_ids)
                and (reservation_ids is None or inst.reservation in reservation_ids)
            ]

    # -- reservations -------------------------------------------------------------------

    def _start_reserved(self, res: Reservation, now: float) -> list[str]:
        return [self._new_instance(f"{res.name}-{index}", res.instance_type, res.region, now,
                                   reservation=res.fid).fid for index in range(res.quantity)]

    def _stop_reserved(self, instance_ids: Iterable[str], status: str, now: float) -> None:
        for fid in instance_ids:
            self.instances[fid].status = status

    def _sold(self, instance_type: str, region: str) -> tuple[str, str]:
        if instance_type not in self.instance_types:
            raise Unprocessable(f"unknown instance type {instance_type!r}", "instance_type")
        if (instance_type, region) not in self.market_cents:
            raise Unprocessable(f"instance type {instance_type} is not sold in region {region!r}", "region")
        return (instance_type, region)

    def reservation_instance_types(self) -> list[dict[str, Any]]:
        sold = {it for it, _ in self.market_cents}
        return [it.to_api() for it in CATALOG if it.fid in sold]

    def reservation_quote(self, instance_type: str, region: str, quantity: int, start: float,
                          end: float) -> dict[str, Any]:
        with self._now():
            return self.desk.quote(self._sold(instance_type, region), quantity, start, end)

    def reservation_availability(self, instance_type: str, region: str, mode: str, **window: Any) -> list[Any]:
        with self._now() as now:
            return self.desk.availability(self._sold(instance_type, region), mode, now, **window)

    def create_reservation(self, body: dict[str, Any], idempotency_key: str | None = None) -> dict[str, Any]:
        with self._now() as now:
            replayed = self._replay("reservation", idempotency_key)
            if replayed is not None:
                return self.desk.get(replayed).to_api()
            request = ReservationRequest.parse(body)
            market = self._sold(request.instance_type, request.region)
            for vid in request.launch.volumes:
                vol = self.volumes.get(vid)
                if vol is None or vol.deleted_at is not None or vol.region != request.region:
                    raise Unprocessable(f"volume {vid!r} does not exist in {request.region}",
                                        "launch_specification.volumes")
            res = self.desk.create(name=request.name, market=market, quantity=request.quantity, start=request.start,
                                   end=request.end, launch_specification=request.launch.to_api(),
                                   max_unit_price=request.max_unit_price_cents, now=now)
            self._remember("reservation", idempotency_key, res.fid)
            return res.to_api()

    def list_reservations(self, status: str | None = None) -> list[dict[str, Any]]:
        with self._now():
            return [r.to_api() for r in self.desk.reservations.values() if status in (None, r.status)]

    def get_reservation(self, fid: str) -> dict[str, Any]:
        with self._now():
            return self.desk.get(fid).to_api()

    def update_reservation(self, fid: str, body: dict[str, Any]) -> dict[str, Any]:
        with self._now() as now:
            region = self.desk.get(fid).region
            for vid in body.get("volumes") or []:
                vol = self.volumes.get(vid) if isinstance(vid, str) else None
                if vol is None or vol.deleted_at is not None or vol.region != region:
                    raise Unprocessable(f"volume {vid!r} does not exist in the reservation's region", "volumes")
            return self.desk.update(fid, body, now).to_api()

    def reservation_extension_availability(self, fid: str) -> dict[str, Any]:
        with self._now() as now:
            return self.desk.extension_availability(fid, now)

    def extend_reservation(self, fid: str, body: dict[str, Any]) -> dict[str, Any]:
        with self._now() as now:
            return self.desk.extend(fid, parse_time(body.get("end_time"), "end_time"), now).to_api()

    def terminate_reservation_instances(self, fid: str, body: dict[str, Any]) -> list[str]:
        with self._now() as now:
            ids = body.get("instances")
            if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids) \
                    or len(set(ids)) != len(ids):
                raise Unprocessable(f"instances must be a non-empty list of distinct instance ids, got {ids!r}",
                                    "instances")
            if body.get("reduce_capacity") is not True:
                raise Unprocessable("reduce_capacity must be true: Mithril only terminates by reducing the "
                                    "reservation", "reduce_capacity")
            return self.desk.terminate_instances(fid, ids, now)

    def reservation_history(self, fid: str) -> dict[str, Any]:
        with self._now():
            return self.desk.history(fid)

    def reservation_usage(self, fid: str) -> dict[str, Any]:
        with self._now() as now:
            return self.desk.usage(fid, now)

    def set_reservation_quote(self, instance_type: str, region: str, cents: int) -> None:
        """Control: the unit price the next quote and reservation get here (as if the market moved between)."""
        with self._now():
            self.desk.quotes[self._sold(instance_type, region)] = cents

    def end_reservation(self, fid: str) -> dict[str, Any]:
        """Control: Mithril ends the reservation now, before its end time."""
        with self._now() as now:
            return self.desk.end_early(fid, now).to_api()

    # -- volumes ----------------------------------------------------------------------

    def create_volume(self, body: dict[str, Any], idempotency_key: str | None = None) -> dict[str, Any]:
        with self._now() as now:
            replayed = self._replay("volume", idempotency_key)
            if replayed is not None:
                vol = self.volumes[replayed]
                return vol.to_api(self._attached_bids(vol.fid))
            request = VolumeRequest.parse(body, REGIONS)
            vol = Volume(fid=new_id("vol"), name=request.name, region=request.region, capacity_gb=request.size_gb,
                         interface=request.interface, created_at=now)
            self.volumes[vol.fid] = vol
            self._remember("volume", idempotency_key, vol.fid)
            return vol.to_api([])

    def list_volumes(self, include_deleted: bool = False) -> list[dict[str, Any]]:
        with self._now():
            return [
                v.to_api(self._attached_bids(v.fid)) for v in self.volumes.values()
                if include_deleted or v.deleted_at is None
            ]

    def rename_volume(self, fid: str, body: dict[str, Any]) -> dict[str, Any]:
        with self._now():
            vol = self._live_volume(fid)
            if "name" in body:
                vol.name = volume_name(body)
            return vol.to_api(self._attached_bids(fid))

    def _live_volume(self, fid: str) -> Volume:
        vol = self.volumes.get(fid)
        if vol is None or vol.deleted_at is not None:
            raise NotFound("volume", fid)
        return vol

    def delete_volume(self, fid: str) -> None:
        with self._now() as now:
            vol = self._live_volume(fid)
            users = [b for b in self._attached_bids(fid)]
            if users:
                raise Conflict(f"volume {fid} is attached to live bids {users}")
            vol.deleted_at = now

    # -- identity -----------------------------------------------------------------------

    def create_ssh_key(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._now() as now:
            request = SshKeyRequest.parse(body)
            public_key = request.public_key
            private_key = None
            if not public_key:
                # Generated keys: the 201 carries the private half once, as Mithril does.
                token = secrets.token_hex(16)
                public_key = f"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{token} emulator"
                private_key = f"-----BEGIN OPENSSH PRIVATE KEY-----\n{token}\n-----END OPENSSH PRIVATE KEY-----\n"
            key = SshKey(fid=new_id("sshkey"), name=request.name, public_key=public_key, created_at=now,
                         required=request.required)
            self.ssh_keys[key.fid] = key
            return {**key.to_api(), "private_key": private_key}

    def list_ssh_keys(self) -> list[dict[str, Any]]:
        with self._lock:
            return [k.to_api() for k in self.ssh_keys.values()]

    def update_ssh_key(self, fid: str, body: dict[str, Any]) -> dict[str, Any]:
        """Mithril's SSH key update: whether the key is required on every launch."""
        with self._lock:
            key = self.ssh_keys.get(fid)
            if key is None:
                raise NotFound("ssh key", fid)
            unknown = sorted(set(body) - {"required"})
            if unknown or not isinstance(body.get("required"), bool):
                raise Unprocessable(f"only `required` (a boolean) can be changed on an SSH key, got {body!r}",
                                    "required")
            key.required = body["required"]
            return key.to_api()

    def delete_ssh_key(self, fid: str) -> None:
        with self._lock:
            if self.ssh_keys.pop(fid, None) is None:
                raise NotFound("ssh key", fid)

    def create_api_key(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._now() as now:
            request = ApiKeyRequest.parse(body)
            secret = f"fkey_{secrets.token_hex(16)}"
            fid = new_id("apikey")
            record: dict[str, Any] = {
                "fid": fid, "name": request.name, "created_at": iso_time(now),
                "expires_at": request.expires_at or iso_time(now + 86400),
                "deactivated_at": None, "snippet": secret[:9] + "...",
            }
            self.api_keys[fid] = record
            return {**record, "secret": secret}

    def list_api_keys(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.api_keys.values())

    def delete_api_key(self, fid: str) -> None:
        with self._lock:
            if self.api_keys.pop(fid, None) is None:
                raise NotFound("api key", fid)

    # -- control (what tests and users do behind the SDK's back) ------------------------

    def preempt(self, fid: str) -> dict[str, Any]:
        with self._now() as now:
            bid = self._bid(fid)
            if not bid.holds_capacity:
                raise Conflict(f"bid {fid} is {bid.status}, only an Allocated or Preempting bid can be preempted")
            self._preempt(bid, now)
            return bid.to_api()

    def terminate_bid(self, fid: str) -> dict[str, Any]:
        """The bid ends on Mithril's side: a finished workload, or a cancel from another tool."""
        with self._now() as now:
            bid = self._bid(fid)
            if bid.live:
                self._terminate(bid, now)
            return bid.to_api()

    def forget_bid(self, fid: str) -> None:
        """The bid vanishes entirely, as if deleted by an operator: reads answer 404."""
        with self._now() as now:
            bid = self._bid(fid)
            self._release_instances(bid, INSTANCE_TERMINATED, now)
            del self.bids[fid]

    def delete_volume_behind_back(self, fid: str) -> None:
        with self._now() as now:
            self._live_volume(fid).deleted_at = now

    def live(self) -> dict[str, Any]:
        with self._now():
            return {
                "bids": [b.to_api() for b in self.bids.values() if b.live],
                "volumes": [v.to_api(self._attached_bids(v.fid))
                            for v in self.volumes.values() if v.deleted_at is None],
                "instances": [i.to_api() for i in self.instances.values()
                              if i.status not in (INSTANCE_TERMINATED, INSTANCE_PREEMPTED)],
            }

    # -- persistence ----------------------------------------------------------------------

    def dump(self) -> str:
        with self._now():  # the state as of now, so a reload continues from the same instances
            return json.dumps({
                "market": [[it, r, c] for (it, r), c in self.market_cents.items()],
                "capacity": [[it, r, n] for (it, r), n in self.capacity.items()],
                "bids": [attrs.asdict(b) for b in self.bids.values()],
                "instances": [attrs.asdict(i) for i in self.instances.values()],
                "volumes": [attrs.asdict(v) for v in self.volumes.values()],
                "ssh_keys": [attrs.asdict(k) for k in self.ssh_keys.values()],
                "idempotency": [[kind, key, fid] for (kind, key), fid in self._idempotency.items()],
                "history": self.history.dump(),
                "scheduled": [[at, it, region, cents] for at, (it, region), cents in self._scheduled],
                "reservations": [attrs.asdict(r) for r in self.desk.reservations.values()],
                "reservation_quotes": [[it, region, cents] for (it, region), cents in self.desk.quotes.items()],
            })

    def load(self, text: str) -> None:
        data = json.loads(text)
        with self._lock:
            self.market_cents = {(it, r): c for it, r, c in data["market"]}
            self.capacity = {(it, r): n for it, r, n in data.get("capacity", [])}
            self.bids = {b["fid"]: Bid(**b) for b in data["bids"]}
            self.instances = {i["fid"]: Instance(**i) for i in data["instances"]}
            self.volumes = {v["fid"]: Volume(**v) for v in data["volumes"]}
            self.ssh_keys = {k["fid"]: SshKey(**k) for k in data["ssh_keys"]}
            self._idempotency = _idempotency_entries(data["idempotency"])
            self._scheduled = [(at, (it, region), cents) for at, it, region, cents in data.get("scheduled", [])]
            self.desk = self._desk()
            self.desk.reservations = {r["fid"]: Reservation(**r) for r in data.get("reservations", [])}
            self.desk.quotes = {(it, region): cents for it, region, cents in data.get("reservation_quotes", [])}
            if "history" in data:
                self.history = History.load(data["history"])
            else:  # a state file from before the history was kept: its history starts with what it holds
                self.history = History.opening(self.market_cents, self.clock())
                for inst in self.instances.values():
                    if inst.bid is None:
                        continue
                    billed = inst.status in (INSTANCE_NEW, INSTANCE_RUNNING)
                    market = (inst.instance_type, inst.region)
                    self.history.adopt(inst.fid, inst.bid, market, inst.status, inst.created_at,
                                       self.market_cents[market] if billed else None)
            self._ips = itertools.count(len(self.instances) + 1)


def _idempotency_entries(saved: Any) -> dict[tuple[str, str], str]:
    """Saved keys: [[kind, key, id], ...]; older state files map a key to [kind, body digest, id], or to an id."""
    if isinstance(saved, list):
        return {(kind, key): fid for kind, key, fid in saved}
    entries: dict[tuple[str, str], str] = {}
    for key, value in saved.items():
        kind, fid = (value[0], value[-1]) if isinstance(value, list) else ("bid", value)
        entries[(kind, key)] = fid
    return entries
