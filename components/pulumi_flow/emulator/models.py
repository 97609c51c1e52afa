"""Mithril's auction, as state and rules, with no HTTP in it.

The backend answers in plain dictionaries shaped like Mithril's API models so that
`responses.py` only has to move them on and off the wire. Time is lazy: every call
first advances the auction to "now", so nothing runs in the background and a test
can drive the clock.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

import attrs

PROJECT_ID = "proj_emulator0001"
PROJECT_NAME = "emulator"
USER_ID = "user_emulator0001"
ORG_ID = "org_emulator0001"

BID_OPEN = "Open"
BID_ALLOCATED = "Allocated"
BID_PREEMPTING = "Preempting"
BID_PAUSED = "Paused"
BID_TERMINATED = "Terminated"

INSTANCE_NEW = "STATUS_NEW"
INSTANCE_RUNNING = "STATUS_RUNNING"
INSTANCE_PREEMPTED = "STATUS_PREEMPTED"
INSTANCE_TERMINATED = "STATUS_TERMINATED"
INSTANCE_PAUSED = "STATUS_PAUSED"


class EmulatorError(Exception):
    """A request the real API would refuse; `status` is the HTTP status it would use."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


class NotFound(EmulatorError):
    def __init__(self, kind: str, ident: str) -> None:
        super().__init__(404, f"{kind} {ident!r} not found")


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def dollars(cents: int) -> str:
    return f"${cents // 100}.{cents % 100:02d}"


# The form the SDK sends (`"$25.60"`): digits, at most two decimals, nothing else (no "$ 5", "$1_000",
# "$1,000.00", "$inf" or "$1e308").
PRICE = re.compile(r"^\$(0|[1-9][0-9]{0,6})(\.[0-9]{1,2})?$")
MAX_STARTUP_SCRIPT = 10_000  # the SDK's own limit on a script it sends


def parse_dollars(text: object, field: str) -> int:
    """`"$12.50"` -> 1250 cents, exactly; refuses anything else the way Mithril's validation does."""
    if not isinstance(text, str) or not PRICE.fullmatch(text):
        raise EmulatorError(422, f"{field} must be a dollar string such as '$12.50', got {text!r}", field)
    whole, _, cents = text[1:].partition(".")
    value = int(whole) * 100 + int((cents + "00")[:2])
    if value <= 0:
        raise EmulatorError(422, f"{field} must be positive, got {text!r}", field)
    return value


@attrs.frozen
class InstanceType:
    fid: str
    name: str
    gpu_type: str
    num_gpus: int
    gpu_memory_gb: int

    def to_api(self) -> dict[str, Any]:
        return {
            "fid": self.fid,
            "name": self.name,
            "num_cpus": 26 * self.num_gpus,
            "cpu_type": "Intel",
            "ram_gb": 225 * self.num_gpus,
            "num_gpus": self.num_gpus,
            "gpu_type": self.gpu_type,
            "gpu_memory_gb": self.gpu_memory_gb,
            "gpu_socket": "SXM4" if self.gpu_type == "A100" else "SXM5",
            "local_storage_gb": 1000 * self.num_gpus,
            "network_type": "InfiniBand" if self.num_gpus == 8 else None,
            "ib_count": 8 if self.num_gpus == 8 else 0,
            "bridge_count": 4 if self.num_gpus == 8 else 0,
            "hourly_price": 0.0,
        }


# Mithril's own fids and names (as seeded in the Flow SDK), so the SDK's built-in
# probes of H100/H200 ids meet types it knows.
CATALOG: tuple[InstanceType, ...] = (
    InstanceType("it_RrgkIZz6c9BZu5gi", "a100-80gb.sxm.1x", "A100", 1, 80),
    InstanceType("it_TiAPxzKNi4xO0IAr", "a100-80gb.sxm.2x", "A100", 2, 80),
    InstanceType("it_4TugeYWOov5FllEf", "a100-80gb.sxm.4x", "A100", 4, 80),
    InstanceType("it_Sg1nDx1I8NFep60J", "a100-80gb.sxm.8x", "A100", 8, 80),
    InstanceType("it_5ECSoHQjLBzrp5YM", "h100-80gb.sxm.8x", "H100", 8, 80),
    InstanceType("it_7RHoQUztab9lU9Ne", "h200.8x", "H200", 8, 141),
)

# Spot market per GPU-hour in cents, per region. The other regions the Flow SDK knows sell no GPUs,
# like the regions a volume can land in when nobody names one (the SDK's default region among them).
GPU_REGIONS: dict[str, dict[str, int]] = {
    "us-central1-a": {"A100": 200, "H100": 300, "H200": 400},
    "eu-central1-a": {"A100": 220, "H100": 320, "H200": 420},
}
def _sdk_regions() -> list[str]:
    """Mithril's regions as the Flow SDK ships them (resources/data/regions.json): one list, not two."""
    from flow.resources.loader import get_valid_regions

    return list(get_valid_regions("mithril"))


STORAGE_ONLY_REGIONS: tuple[str, ...] = tuple(r for r in _sdk_regions() if r not in GPU_REGIONS)
RESERVED_MARKUP = 2  # reserved price = spot price x this


@attrs.define
class Settings:
    """Knobs a test or `--flag` can turn."""

    allocation_delay: float = 0.3
    boot_delay: float = 0.3
    capacity_per_market: int = 64
    api_key: str | None = None
    request_timeout: float = 10.0  # seconds a client may take to send a request; then 408


@attrs.define
class Instance:
    fid: str
    name: str
    bid: str
    instance_type: str
    region: str
    created_at: float
    ssh_destination: str
    private_ip: str
    status: str = INSTANCE_NEW

    def to_api(self) -> dict[str, Any]:
        return {
            "fid": self.fid,
            "name": self.name,
            "project": PROJECT_ID,
            "created_at": _iso(self.created_at),
            "created_by": USER_ID,
            "instance_type": self.instance_type,
            "region": self.region,
            "bid": self.bid,
            "reservation": None,
            "ssh_destination": self.ssh_destination if self.status == INSTANCE_RUNNING else None,
            "private_ip": self.private_ip,
            "status": self.status,
        }


@attrs.define
class Bid:
    fid: str
    name: str
    region: str
    instance_type: str
    limit_price_cents: int
    quantity: int
    launch_specification: dict[str, Any]
    created_at: float
    status: str = BID_OPEN
    open_since: float = 0.0
    deactivated_at: float | None = None
    instances: list[str] = attrs.Factory(list)

    @property
    def live(self) -> bool:
        return self.status != BID_TERMINATED

    def to_api(self) -> dict[str, Any]:
        return {
            "fid": self.fid,
            "name": self.name,
            "project": PROJECT_ID,
            "created_by": USER_ID,
            "created_at": _iso(self.created_at),
            "deactivated_at": _iso(self.deactivated_at),
            "limit_price": dollars(self.limit_price_cents),
            "instance_quantity": self.quantity,
            "instance_type": self.instance_type,
            "region": self.region,
            "instances": list(self.instances),
            "launch_specification": self.launch_specification,
            "status": self.status,
        }


@attrs.define
class Volume:
    fid: str
    name: str
    region: str
    capacity_gb: int
    interface: str
    created_at: float
    deleted_at: float | None = None

    def to_api(self, attached_bids: list[str]) -> dict[str, Any]:
        return {
            "fid": self.fid,
            "name": self.name,
            "region": self.region,
            "created_at": _iso(self.created_at),
            "deleted_at": _iso(self.deleted_at),
            "capacity_gb": self.capacity_gb,
            "project": PROJECT_ID,
            "interface": self.interface,
            "bids": attached_bids,
            "reservations": [],
            "attachments": {},
        }


@attrs.define
class SshKey:
    fid: str
    name: str
    public_key: str
    created_at: float
    required: bool = False

    def to_api(self) -> dict[str, Any]:
        return {
            "fid": self.fid,
            "name": self.name,
            "project": PROJECT_ID,
            "public_key": self.public_key,
            "created_at": _iso(self.created_at),
            "required": self.required,
        }


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


class MithrilBackend:
    """The auction: bids, instances, volumes and prices of one project."""

    def __init__(self, settings: Settings | None = None, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings or Settings()
        self.clock = clock
        self._lock = threading.RLock()
        # Notified after every request and control action: tests wait on the cloud's state, not on time.
        self._changed = threading.Condition(self._lock)
        self.instance_types = {it.fid: it for it in CATALOG}
        self.market_cents: dict[tuple[str, str], int] = {
            (it.fid, region): per_gpu[it.gpu_type] * it.num_gpus
            for region, per_gpu in GPU_REGIONS.items()
            for it in CATALOG
        }
        self.bids: dict[str, Bid] = {}
        self.instances: dict[str, Instance] = {}
        self.volumes: dict[str, Volume] = {}
        self.ssh_keys: dict[str, SshKey] = {}
        self.api_keys: dict[str, dict[str, Any]] = {}
        # (what was created, Idempotency-Key) -> its id.
        self._idempotency: dict[tuple[str, str], str] = {}
        self._ips = itertools.count(1)

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
        for bid in self.bids.values():
            if bid.status == BID_OPEN and now - bid.open_since >= self.settings.allocation_delay:
                if bid.limit_price_cents >= self._market(bid):
                    self._allocate(bid, now)
            elif bid.status == BID_ALLOCATED and bid.limit_price_cents < self._market(bid):
                self._preempt(bid, now)
        for inst in self.instances.values():
            if inst.status == INSTANCE_NEW and now - inst.created_at >= self.settings.boot_delay:
                inst.status = INSTANCE_RUNNING

    def _market(self, bid: Bid) -> int:
        return self.market_cents[(bid.instance_type, bid.region)]

    def _allocate(self, bid: Bid, now: float) -> None:
        bid.status = BID_ALLOCATED
        bid.instances = []
        for index in range(bid.quantity):
            n = next(self._ips)
            inst = Instance(
                fid=_new_id("inst"),
                name=f"{bid.name}-{index}",
                bid=bid.fid,
                instance_type=bid.instance_type,
                region=bid.region,
                created_at=now,
                # TEST-NET-3 addresses: documentation-only, never routable.
                ssh_destination=f"203.0.113.{n % 250 + 1}",
                private_ip=f"10.0.{n // 250}.{n % 250 + 1}",
            )
            self.instances[inst.fid] = inst
            bid.instances.append(inst.fid)

    def _release_instances(self, bid: Bid, status: str) -> None:
        for fid in bid.instances:
            self.instances[fid].status = status
        bid.instances = []

    def _preempt(self, bid: Bid, now: float) -> None:
        """Mithril re-queues a preempted bid: back to Open, re-allocated later with new instances."""
        self._release_instances(bid, INSTANCE_PREEMPTED)
        bid.status = BID_OPEN
        bid.open_since = now

    # -- catalog and prices -------------------------------------------------------

    def list_instance_types(self) -> list[dict[str, Any]]:
        return [it.to_api() for it in self.instance_types.values()]

    def regions(self) -> list[str]:
        return [*GPU_REGIONS, *STORAGE_ONLY_REGIONS]

    def availability(self) -> list[dict[str, Any]]:
        with self._now():
            rows = []
            for (it_fid, region), cents in self.market_cents.items():
                used = sum(
                    b.quantity for b in self.bids.values()
                    if b.instance_type == it_fid and b.region == region and b.status == BID_ALLOCATED
                )
                rows.append({
                    "fid": f"auc_{it_fid[3:]}_{region.replace('-', '')}",
                    "instance_type": it_fid,
                    "region": region,
                    "capacity": max(self.settings.capacity_per_market - used, 0),
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

    def price_history(self, instance_types: list[str] | None, region: str | None) -> dict[str, Any]:
        """`GET /v2/pricing/history`: the emulator keeps no history, so each series is one sample, the
        market now (instance types by id, Mithril name or `8xa100`)."""
        with self._now() as now:
            fids: set[str] | None = None
            if instance_types is not None:
                fids = set()
                for name in instance_types:
                    with contextlib.suppress(NotFound):  # a type not sold here has no series (/current: nulls)
                        fids.add(self.instance_type_fid(name))
            series = [
                {"instance_type": it, "region": r, "timestamps": [_iso(now)], "spot_prices": [dollars(cents)],
                 "reserved_prices": [dollars(cents * RESERVED_MARKUP)], "region_disabled": False}
                for (it, r), cents in sorted(self.market_cents.items())
                if (fids is None or it in fids) and region in (None, r)
            ]
            return {"series": series, "complete": True, "show_disabled_regions": False}

    def current_price(self, instance_type: str, region: str | None) -> dict[str, Any]:
        with self._now():
            prices = [c for (it, r), c in self.market_cents.items() if it == instance_type and region in (None, r)]
            if not prices:
                # Mithril answers 200 with nulls for a type it does not sell here; the SDK relies on it.
                return {k: None for k in (
                    "spot_price_cents", "reserved_price_cents", "minimum_price_cents",
                    "lowest_allocated_bid_cents", "dynamic_win_price_cents",
                    "available_capacity", "total_capacity")}
            spot = min(prices)
            return {
                "spot_price_cents": spot,
                "reserved_price_cents": spot * RESERVED_MARKUP,
                "minimum_price_cents": spot,
                "lowest_allocated_bid_cents": spot,
                "dynamic_win_price_cents": spot,
                "available_capacity": self.settings.capacity_per_market,
                "total_capacity": self.settings.capacity_per_market,
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
        with self._lock:
            if (instance_type, region) not in self.market_cents:
                raise NotFound("market", f"{instance_type}@{region}")
            if cents <= 0:
                raise EmulatorError(422, "price must be positive", "price")
            self.market_cents[(instance_type, region)] = cents
            self._advance(self.clock())

    # -- bids -----------------------------------------------------------------------

    def create_bid(self, body: dict[str, Any], idempotency_key: str | None) -> tuple[dict[str, Any], bool]:
        """Returns (bid, created). A repeated Idempotency-Key answers with the first bid."""
        with self._now() as now:
            replayed = self._replay("bid", idempotency_key)
            if replayed is not None:
                return self.bids[replayed].to_api(), False
            it_fid = _require_str(body, "instance_type")
            region = _require_str(body, "region")
            if it_fid not in self.instance_types:
                raise EmulatorError(422, f"unknown instance type {it_fid!r}", "instance_type")
            if (it_fid, region) not in self.market_cents:
                raise EmulatorError(422, f"instance type {it_fid} is not sold in region {region!r}", "region")
            if body.get("project") != PROJECT_ID:
                raise EmulatorError(422, f"unknown project {body.get('project')!r}", "project")
            quantity = body.get("instance_quantity")
            if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= 256:
                raise EmulatorError(422, f"instance_quantity must be an integer 1..256, got {quantity!r}",
                                    "instance_quantity")
            spec = body.get("launch_specification")
            if not isinstance(spec, dict):
                raise EmulatorError(422, "launch_specification must be an object", "launch_specification")
            for key in ("volumes", "ssh_keys"):
                items = spec.get(key, [])
                if items is not None and (not isinstance(items, list) or not all(isinstance(i, str) for i in items)):
                    raise EmulatorError(422, f"launch_specification.{key} must be a list of ids, got {items!r}",
                                        f"launch_specification.{key}")
            script = spec.get("startup_script")
            if script is not None and (not isinstance(script, str) or len(script) > MAX_STARTUP_SCRIPT):
                raise EmulatorError(422, f"launch_specification.startup_script must be a string of at most "
                                         f"{MAX_STARTUP_SCRIPT} characters", "launch_specification.startup_script")
            volume_ids = spec.get("volumes") or []
            for vid in volume_ids:
                vol = self.volumes.get(vid)
                if vol is None or vol.deleted_at is not None:
                    raise EmulatorError(422, f"volume {vid!r} does not exist", "launch_specification.volumes")
                if vol.region != region:
                    raise EmulatorError(
                        422, f"volume {vid} is in {vol.region}, the bid is in {region}", "launch_specification.volumes")
                if vol.interface == "Block" and (quantity > 1 or self._attached_bids(vid)):
                    raise EmulatorError(
                        422, f"block volume {vid} can attach to one instance only", "launch_specification.volumes")
            name = _require_str(body, "name")
            limit = parse_dollars(body.get("limit_price"), "limit_price")
            bid = Bid(
                fid=_new_id("bid"), name=name, region=region, instance_type=it_fid,
                limit_price_cents=limit, quantity=quantity,
                launch_specification={
                    "volumes": list(volume_ids),
                    "ssh_keys": list(spec.get("ssh_keys") or []),
                    "startup_script": spec.get("startup_script"),
                    "kubernetes_cluster": None,
                    "image_version": spec.get("image_version"),
                    "memory_gb": None,
                },
                created_at=now, open_since=now,
            )
            self.bids[bid.fid] = bid
            self._remember("bid", idempotency_key, bid.fid)
            return bid.to_api(), True

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
            unapplied = sorted(set(body) - {"limit_price", "paused"})
            if unapplied:
                # Answering 200 while changing nothing would tell the client its change was made.
                raise EmulatorError(422, f"only limit_price and paused can be changed on a bid, not {unapplied}",
                                    unapplied[0])
            if not bid.live:
                raise EmulatorError(409, f"bid {fid} is terminated and cannot be changed")
            if body.get("limit_price") is not None:
                bid.limit_price_cents = parse_dollars(body["limit_price"], "limit_price")
            paused = body.get("paused")
            if paused is not None and not isinstance(paused, bool):
                raise EmulatorError(422, f"paused must be a boolean, got {paused!r}", "paused")
            if paused is True and bid.status != BID_PAUSED:
                self._pause(bid)
            elif paused is False and bid.status == BID_PAUSED:
                self._resume(bid, now)
            self._advance(now)
            return bid.to_api()

    def cancel_bid(self, fid: str) -> None:
        with self._now() as now:
            bid = self._bid(fid)
            if bid.live:
                self._terminate(bid, now)

    def _pause(self, bid: Bid) -> None:
        """Mithril's pause: billing stops, the machines stop but stay the bid's, and come back on resume."""
        for fid in bid.instances:
            self.instances[fid].status = INSTANCE_PAUSED
        bid.status = BID_PAUSED

    def _resume(self, bid: Bid, now: float) -> None:
        """The paused machines boot again; a bid paused before it was allocated waits in the auction."""
        if bid.instances:
            for fid in bid.instances:
                self.instances[fid].status = INSTANCE_NEW
                self.instances[fid].created_at = now
            bid.status = BID_ALLOCATED
        else:
            bid.status = BID_OPEN
            bid.open_since = now

    def _terminate(self, bid: Bid, now: float) -> None:
        self._release_instances(bid, INSTANCE_TERMINATED)
        bid.status = BID_TERMINATED
        bid.deactivated_at = now

    # -- instances ----------------------------------------------------------------------

    def list_instances(self, bid_ids: list[str] | None = None) -> list[dict[str, Any]]:
        with self._now():
            return [
                inst.to_api() for inst in self.instances.values()
                if bid_ids is None or inst.bid in bid_ids
            ]

    # -- volumes ----------------------------------------------------------------------

    def create_volume(self, body: dict[str, Any], idempotency_key: str | None = None) -> dict[str, Any]:
        with self._now() as now:
            replayed = self._replay("volume", idempotency_key)
            if replayed is not None:
                vol = self.volumes[replayed]
                return vol.to_api(self._attached_bids(vol.fid))
            name = _volume_name(body)
            region = _require_str(body, "region")
            if region not in self.regions():
                raise EmulatorError(422, f"unknown region {region!r}", "region")
            interface = body.get("disk_interface")
            if interface not in ("Block", "File"):
                raise EmulatorError(422, f"disk_interface must be 'Block' or 'File', got {interface!r}",
                                    "disk_interface")
            size = body.get("size_gb")
            if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= 16384:
                raise EmulatorError(422, f"size_gb must be an integer 1..16384, got {size!r}", "size_gb")
            if body.get("project") != PROJECT_ID:
                raise EmulatorError(422, f"unknown project {body.get('project')!r}", "project")
            vol = Volume(fid=_new_id("vol"), name=name, region=region, capacity_gb=size,
                         interface=interface, created_at=now)
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
                vol.name = _volume_name(body)
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
                raise EmulatorError(409, f"volume {fid} is attached to live bids {users}")
            vol.deleted_at = now

    # -- identity -----------------------------------------------------------------------

    def create_ssh_key(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._now() as now:
            name = _require_str(body, "name")
            public_key = body.get("public_key")
            if public_key is not None and (not isinstance(public_key, str) or not public_key.strip()):
                raise EmulatorError(422, f"public_key must be an OpenSSH public key string, got {public_key!r}",
                                    "public_key")
            private_key = None
            if not public_key:
                # Generated keys: the 201 carries the private half once, as Mithril does.
                token = secrets.token_hex(16)
                public_key = f"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{token} emulator"
                private_key = f"-----BEGIN OPENSSH PRIVATE KEY-----\n{token}\n-----END OPENSSH PRIVATE KEY-----\n"
            key = SshKey(fid=_new_id("sshkey"), name=name, public_key=public_key, created_at=now,
                         required=bool(body.get("required", False)))
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
                raise EmulatorError(422, f"only `required` (a boolean) can be changed on an SSH key, got {body!r}",
                                    "required")
            key.required = body["required"]
            return key.to_api()

    def delete_ssh_key(self, fid: str) -> None:
        with self._lock:
            if self.ssh_keys.pop(fid, None) is None:
                raise NotFound("ssh key", fid)

    def create_api_key(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._now() as now:
            name = _require_str(body, "name")
            expires_at = body.get("expires_at")
            if expires_at is not None and not (isinstance(expires_at, str) and _parses_as_time(expires_at)):
                raise EmulatorError(422, f"expires_at must be an ISO 8601 date-time, got {expires_at!r}", "expires_at")
            secret = f"fkey_{secrets.token_hex(16)}"
            fid = _new_id("apikey")
            record: dict[str, Any] = {
                "fid": fid, "name": name, "created_at": _iso(now),
                "expires_at": body.get("expires_at") or _iso(now + 86400),
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
            if bid.status != BID_ALLOCATED:
                raise EmulatorError(409, f"bid {fid} is {bid.status}, only an Allocated bid can be preempted")
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
        with self._lock:
            bid = self._bid(fid)
            self._release_instances(bid, INSTANCE_TERMINATED)
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
                "bids": [attrs.asdict(b) for b in self.bids.values()],
                "instances": [attrs.asdict(i) for i in self.instances.values()],
                "volumes": [attrs.asdict(v) for v in self.volumes.values()],
                "ssh_keys": [attrs.asdict(k) for k in self.ssh_keys.values()],
                "idempotency": [[kind, key, fid] for (kind, key), fid in self._idempotency.items()],
            })

    def load(self, text: str) -> None:
        data = json.loads(text)
        with self._lock:
            self.market_cents = {(it, r): c for it, r, c in data["market"]}
            self.bids = {b["fid"]: Bid(**b) for b in data["bids"]}
            self.instances = {i["fid"]: Instance(**i) for i in data["instances"]}
            self.volumes = {v["fid"]: Volume(**v) for v in data["volumes"]}
            self.ssh_keys = {k["fid"]: SshKey(**k) for k in data["ssh_keys"]}
            self._idempotency = _idempotency_entries(data["idempotency"])
            self._ips = itertools.count(len(self.instances) + 1)


VOLUME_NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")  # Mithril's spec, CreateVolumeRequest.name


def _volume_name(body: dict[str, Any]) -> str:
    name = _require_str(body, "name")
    if not VOLUME_NAME.fullmatch(name) or len(name) > 63:
        raise EmulatorError(422, f"name must match {VOLUME_NAME.pattern} (at most 63 characters), got {name!r}",
                            "name")
    return name


def _parses_as_time(text: str) -> bool:
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _idempotency_entries(saved: Any) -> dict[tuple[str, str], str]:
    """Saved keys: [[kind, key, id], ...]; older state files map a key to [kind, body digest, id], or to an id."""
    if isinstance(saved, list):
        return {(kind, key): fid for kind, key, fid in saved}
    entries: dict[tuple[str, str], str] = {}
    for key, value in saved.items():
        kind, fid = (value[0], value[-1]) if isinstance(value, list) else ("bid", value)
        entries[(kind, key)] = fid
    return entries


def _require_str(body: dict[str, Any], field: str) -> str:
    value = body.get(field)
    if not isinstance(value, str) or not value:
        raise EmulatorError(422, f"{field} is required and must be a non-empty string, got {value!r}", field)
    return value
