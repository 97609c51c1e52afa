"""The dynamic provider behind `FlowSpotPool`: a GPU target held on spot bids of one instance each (slots).

Every write starts from Mithril's word, not from state alone. The project's live bids whose names carry this pool's
stem and its owner's tag (`slot_prefix`) are this pool's, recorded or not: a write whose answer was lost, or an `up`
that was killed, placed them. So a retried write adopts them and a delete cancels them, and another state's pool of
the same name (a teammate's `dev` stack) is never touched: its bids carry another tag.

A write converges: slots that were preempted, paused, ended, or wait where nothing can allocate them are cancelled
(confirmed before anything replaces them, so the pool never holds more than its target), the rest are repriced to
the ceiling, and what is missing is placed in the first region, then instance type, in the given order that has room
at a market under the ceiling. A refresh only reads (one read of the project, shared with every other resource's).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import attrs
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, UpdateResult

from pulumi_flow import declarations as d
from pulumi_flow import naming
from pulumi_flow import validation as v
from pulumi_flow.money import as_number, cents_down, cents_up, limit_price, maybe_usd, usd
from pulumi_flow.pricing import gpu_family_and_count
from pulumi_flow.provider.base import FlowProvider, apply_rules, declared_inputs, recorded_inputs
from pulumi_flow.provider.errors import BelowMarketError, FlowProviderError, StillBillingError
from pulumi_flow.provider.records import TERMINATED, ProjectRecords, forget_shared_records, shared_records
from pulumi_flow.provider.session import flow_session, forget_cached_state, open_flow, reading_session, scrubbed
from pulumi_flow.provider.task import IDLE_COMMAND, PREEMPTED_INSTANCE, STOP_WAITING, FlowTaskProvider

if TYPE_CHECKING:
    from flow import Flow, Task

REPLACE_KEYS = d.POOL.keys(d.Change.REPLACE)
UPDATE_KEYS = d.POOL.keys(d.Change.UPDATE)
INPUT_KEYS = d.POOL.input_keys
OUTPUT_KEYS = d.POOL.output_keys
HELD, PREEMPTING, PENDING, PREEMPTED, PAUSED, CANCELLING = d.SLOT_STATUSES
# Mithril's bid status -> the slot's; an Open bid is `pending`, or `preempted` when its machines were taken.
SLOT_STATUS_OF_BID = {"Allocated": HELD, "Preempting": PREEMPTING, "Paused": PAUSED, "Open": PENDING}


@attrs.frozen
class Slot:
    """One bid of one instance, as `slots` records it."""

    slot: int
    bid_id: str
    instance_type: str
    region: str
    gpus: int
    limit_price: float
    status: str
    public_ips: tuple[str, ...] = ()
    market_price_per_hour: float | None = None

    @property
    def holds(self) -> bool:
        return self.status in d.HOLDING

    def record(self) -> dict[str, Any]:
        return {**attrs.asdict(self), "public_ips": list(self.public_ips)}

    @classmethod
    def from_record(cls, row: Mapping[str, Any]) -> Slot:
        return cls(slot=int(row["slot"]), bid_id=str(row["bid_id"]), instance_type=str(row["instance_type"]),
                   region=str(row["region"]), gpus=int(row["gpus"]), limit_price=float(row["limit_price"]),
                   status=str(row["status"]), public_ips=tuple(row.get("public_ips") or ()),
                   market_price_per_hour=row.get("market_price_per_hour"))


@attrs.define
class Market:
    """One market as Mithril's availability lists it: where, what, its price per instance-hour and its room."""

    region: str
    instance_type: str  # in Flow's grammar, `8xh100`
    gpus: int
    price: Decimal
    room: int


def slot_prefix(props: Mapping[str, Any]) -> str:
    """What every slot's bid name of this pool, and no other pool's, starts with: its stem and its owner's tag."""
    return f"{props['pool_name']}-{naming.owner_tag(str(props[naming.OWNER]))}-"


def slot_limit(props: Mapping[str, Any], gpus: int) -> Decimal:
    """A slot's bid: the ceiling times its GPUs, rounded down to the cent, so never above the ceiling."""
    return cents_down(usd(props["max_price_per_gpu_hour"]) * gpus)


def gpus_of(instance_type: str) -> int:
    return gpu_family_and_count(instance_type)[1]


def check_pool_inputs(news: Mapping[str, Any]) -> tuple[dict[str, Any], list[v.InputError]]:
    inputs, errors = declared_inputs(d.POOL, news, "FlowSpotPool")
    apply_rules(inputs, d.POOL.rules, errors, skip_none=(*d.POOL.optional, *d.POOL.required))
    if errors:
        return inputs, errors
    return inputs, pool_cross_field_errors(inputs["target_gpus"], inputs["instance_types"], inputs["volumes"])


def pool_cross_field_errors(target: Any, types: Any, volumes: Any) -> list[v.InputError]:
    """What the inputs must meet together (each one already ruled): a target whole instances of the types can make,
    and file volumes only. What is still unknown (a preview) is judged once known."""
    errors: list[v.InputError] = []
    if not v.is_unknown(target) and not v.contains_unknown(types):
        sizes = sorted({gpus_of(t) for t in types})
        if not _reachable(int(target), sizes):
            errors.append(v.InputError("target_gpus", target, f"cannot be made of whole instances of "
                                       f"{', '.join(types)} ({' or '.join(map(str, sizes))} GPUs each)",
                                       f"use a multiple of {sizes[0]}, or add an instance type with fewer GPUs"))
    for index, mount in enumerate([] if v.is_unknown(volumes) else volumes):
        if isinstance(mount, Mapping) and mount.get("interface") == "block":
            errors.append(v.InputError(f"volumes[{index}]", mount.get("volume_id"), "is a block volume, which "
                                       "attaches to one instance, and every slot of a pool mounts the pool's volumes",
                                       "use a file volume (interface='file')"))
    return errors


def _reachable(target: int, sizes: Sequence[int]) -> bool:
    """Whether `target` GPUs is a sum of whole instances of these sizes."""
    made = {0}
    for total in range(1, target + 1):
        if any(total - size in made for size in sizes):
            made.add(total)
    return target in made


class FlowSpotPoolProvider(FlowProvider):
    """Create, read, update and delete a pool of one-instance spot bids."""

    name_key = "pool_name"
    poll_interval_seconds = FlowTaskProvider.poll_interval_seconds  # while new slots wait for their machines

    @property
    def bids(self) -> FlowTaskProvider:
        """One bid's mechanics (place or adopt by name, cancel until terminated, read), with this provider's
        configuration."""
        provider = FlowTaskProvider()
        provider._config = getattr(self, "_config", {})
        return provider

    def check_inputs(self, news: Mapping[str, Any]) -> tuple[dict[str, Any], list[v.InputError]]:
        return check_pool_inputs(news)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [k for k in REPLACE_KEYS if olds.get(k) != news.get(k)]
        updates = [k for k in UPDATE_KEYS if olds.get(k) != news.get(k)]
        # Below target at the last read: `up` refills, a change with no input changed.
        refill = int(olds.get("unfilled_gpus") or 0) > 0
        return DiffResult(changes=bool(replaces or updates or refill), replaces=replaces,
                          delete_before_replace=True)

    # -- write --------------------------------------------------------------------------------

    def create(self, props: dict[str, Any]) -> CreateResult:
        slots = self._write(props, [], f"creating spot pool {props.get('pool_name')!r}")
        return CreateResult(str(props["pool_name"]), {**self._inputs(props), **self._outputs(props, slots)})

    def update(self, pool_id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        recorded = [Slot.from_record(row) for row in olds.get("slots") or []]
        slots = self._write(news, recorded, f"updating spot pool {pool_id}")
        return UpdateResult({**self._inputs(news), **self._outputs(news, slots)})

    def delete(self, pool_id: str, props: dict[str, Any]) -> None:
        creds = self.credentials
        with scrubbed(creds.api_key, f"deleting spot pool {pool_id}"), flow_session(creds) as flow:
            records = ProjectRecords.read(flow, creds.api_key or "", history=False)
            live = {str(row["fid"]) for row in self._own_bids(records, props)}
            live |= {str(row["bid_id"]) for row in props.get("slots") or []}
            refused = {fid: why for fid in sorted(live) if (why := self.bids.cancel_bid(flow, fid)) is not None}
            forget_shared_records()
        if refused:
            first, why = next(iter(refused.items()))
            raise StillBillingError(
                f"deleting spot pool {pool_id}: {len(refused)} of its bids are still live ({', '.join(refused)}; "
                f"{why}), so Pulumi keeps the pool in the stack",
                f"run `pulumi destroy` again, or cancel them with `flow cancel {first}`", bid_id=first, refusal=why)

    def delete_unrecorded(self, props: Mapping[str, Any]) -> str | None:
        """Cancel what a create with these (checked) inputs may have placed without the engine ever recording it:
        every live bid named with this pool's prefix, which carries this state's owner tag and nobody else's.
        Returns the pool's id if there was any, else None."""
        creds = self.credentials
        with scrubbed(creds.api_key, f"looking for spot pool {props.get('pool_name')!r}'s bids"), \
                flow_session(creds) as flow:
            records = ProjectRecords.read(flow, creds.api_key or "", history=False)
            found = [str(row["fid"]) for row in self._own_bids(records, props)]
        if not found:
            return None
        self.delete(str(props["pool_name"]), {**props, "slots": [{"bid_id": fid} for fid in found]})
        return str(props["pool_name"])

    def _write(self, props: dict[str, Any], recorded: list[Slot], context: str) -> list[Slot]:
        creds = self.credentials
        with scrubbed(creds.api_key, context), flow_session(creds) as flow:
            try:
                return self._converge(flow, props, recorded)
            finally:
                forget_shared_records()  # a write was made: the next refresh reads it

    def _converge(self, flow: Flow, props: Mapping[str, Any], recorded: list[Slot]) -> list[Slot]:
        key = self.credentials.api_key or ""
        records = ProjectRecords.read(flow, key, history=False)
        slots = self._seen(flow, records, props, recorded)
        markets = self._markets(flow, props)
        keep, shed = self._triage(props, slots, markets)
        for slot in shed:
            refused = self.bids.cancel_bid(flow, slot.bid_id)
            if refused is not None:
                # Still live as far as anyone knows: it counts against the target until a later write ends it.
                keep.append(attrs.evolve(slot, status=CANCELLING))
        keep = [self._repriced(flow, props, slot) for slot in keep]
        placed = self._fill(flow, props, keep, markets)
        if not placed:
            return sorted(keep, key=lambda s: s.slot)
        try:
            return self._wait(flow, props, [*keep, *placed])
        except BaseException:
            self._cancel_quietly(flow, placed)
            raise

    def _triage(self, props: Mapping[str, Any], slots: list[Slot],
                markets: Mapping[tuple[str, str], Market]) -> tuple[list[Slot], list[Slot]]:
        """Which slots stay and which are cancelled: lost capacity (preempted, paused, waiting where nothing
        allocates), placements the inputs no longer allow, and whatever is over the target (waiting ones first)."""
        allowed_types, allowed_regions = set(props["instance_types"]), set(props["regions"] or [])
        keep: list[Slot] = []
        shed: list[Slot] = []
        for slot in slots:
            market = markets.get((slot.region, slot.instance_type))
            waiting_in_vain = slot.status == PENDING and (
                market is None or market.room < 1 or market.price > slot_limit(props, slot.gpus))
            not_allowed = slot.instance_type not in allowed_types or (
                allowed_regions and slot.region not in allowed_regions)
            if slot.status in (PREEMPTED, PAUSED) or waiting_in_vain or not_allowed:
                shed.append(slot)
            else:
                keep.append(slot)
        # Over the target (it was lowered): the waiting slots go first, then the newest.
        keep.sort(key=lambda s: (s.holds or s.status == CANCELLING, -s.slot), reverse=True)
        total = 0
        kept: list[Slot] = []
        for slot in keep:
            if total + slot.gpus <= int(props["target_gpus"]) or slot.status == CANCELLING:
                kept.append(slot)
                total += slot.gpus
            else:
                shed.append(slot)
        return kept, shed

    def _repriced(self, flow: Flow, props: Mapping[str, Any], slot: Slot) -> Slot:
        wanted = slot_limit(props, slot.gpus)
        if slot.status == CANCELLING or usd(slot.limit_price) == wanted:
            return slot
        try:
            flow.bids.update_limit_price(slot.bid_id, limit_price(wanted))
        except Exception:
            # The PATCH may have landed with its answer lost: Mithril's word decides.
            live = self.bids.transient_retry(lambda: self.bids.look(flow, slot.bid_id)).task
            if maybe_usd((live.provider_metadata or {}).get("limit_price")) != wanted:
                raise
        return attrs.evolve(slot, limit_price=as_number(wanted))

    def _fill(self, flow: Flow, props: Mapping[str, Any], keep: list[Slot],
              markets: Mapping[tuple[str, str], Market]) -> list[Slot]:
        """Place what is missing, in order of preference, never above the ceiling nor past the target. A market that
        turns one down (taken in between, or moved over the ceiling) is passed over; any other failure cancels what
        this call placed and is raised."""
        from flow.errors import ResourceNotAvailableError, ResourceNotFoundError

        missing = int(props["target_gpus"]) - sum(s.gpus for s in keep)
        if missing <= 0:
            return []
        preferred = self._preferred(flow, props, markets)
        used = {s.slot for s in keep}
        placed: list[Slot] = []
        # The SDK refuses a bid client-side by the availability its client last read (kept 300 s in memory, 90 s on
        # disk): a market that had no room a minute ago must not be passed over now. So a client of its own, fresh.
        forget_cached_state(market=True)
        with closing(open_flow(self.credentials)) as placing:
            try:
                for market in preferred:
                    wanted = slot_limit(props, market.gpus)
                    while missing >= market.gpus and market.room > 0 and market.price <= wanted:
                        index = next(i for i in itertools.count() if i not in used)
                        try:
                            bid_id = self.bids.place_bid(placing, self._slot_task(props, index, market), market.region)
                        except (ResourceNotAvailableError, ResourceNotFoundError, BelowMarketError):
                            market.room = 0  # placed nothing: the next market in order
                            break
                        placed.append(Slot(slot=index, bid_id=bid_id, instance_type=market.instance_type,
                                           region=market.region, gpus=market.gpus, limit_price=as_number(wanted),
                                           status=PENDING))
                        used.add(index)
                        market.room -= 1
                        missing -= market.gpus
            except BaseException:
                self._cancel_quietly(placing, placed)
                raise
        return placed

    def _cancel_quietly(self, flow: Flow, slots: Sequence[Slot]) -> None:
        """Best effort on the way out of a failed write: what is still live is this pool's by name, so the next
        write adopts it, or a delete cancels it."""
        for slot in slots:
            self.bids.cancel_bid(flow, slot.bid_id)

    def _slot_task(self, props: Mapping[str, Any], index: int, market: Market) -> dict[str, Any]:
        """One slot as the task provider places it: infrastructure of one instance, named within the pool."""
        return {
            **d.TASK.filled(),
            "task_name": f"{slot_prefix(props)}{index}",
            "role": d.INFRASTRUCTURE,
            "instance_type": market.instance_type,
            "num_instances": 1,
            "region": market.region,
            "command": props.get("command") or IDLE_COMMAND,
            "image": props.get("image"),
            "env": dict(props.get("env") or {}),
            "volumes": list(props.get("volumes") or []),
            "ssh_keys": list(props.get("ssh_keys") or []),
            "max_price_per_hour": as_number(slot_limit(props, market.gpus)),
            naming.OWNER: props[naming.OWNER],
        }

    def _wait(self, flow: Flow, props: Mapping[str, Any], slots: list[Slot]) -> list[Slot]:
        """Until every slot placed now runs (allocated, with its address), or `ready_timeout_minutes`: one still
        waiting is recorded as it is (it stays this pool's, and the next write judges it)."""
        key = self.credentials.api_key or ""
        deadline = time.monotonic() + float(props.get("ready_timeout_minutes") or d.DEFAULT_READY_TIMEOUT_MINUTES) * 60
        interval = self.poll_interval_seconds
        while True:
            records = self.bids.transient_retry(lambda: ProjectRecords.read(flow, key, history=False))
            seen = self._seen(flow, records, props, slots)
            if all(s.status != PENDING and (s.public_ips or not s.holds) for s in seen) \
                    or time.monotonic() >= deadline:
                return sorted(seen, key=lambda s: s.slot)
            if STOP_WAITING.wait(min(interval, max(deadline - time.monotonic(), 0))):
                raise FlowProviderError("interrupted while waiting for the pool's new bids to be allocated")
            interval = min(interval * 1.5, self.bids.max_poll_interval_seconds)

    # -- read -----------------------------------------------------------------------------------

    def read(self, pool_id: str, props: dict[str, Any]) -> ReadResult:
        if "target_gpus" not in props:
            raise FlowProviderError(
                f"spot pool {pool_id!r} cannot be imported: Mithril keeps no pool, only its bids",
                "declare the SpotPool in the program: its first `up` adopts the bids its owner placed")
        creds = self.credentials
        with scrubbed(creds.api_key, f"reading spot pool {pool_id}"), reading_session(creds) as flow:
            records = self.bids.transient_retry(lambda: shared_records(flow, creds.api_key or "", pool_id))
            recorded = [Slot.from_record(row) for row in props.get("slots") or []]
            slots = self._seen(flow, records, props, recorded)
        inputs = self._inputs(props)
        return ReadResult(pool_id, {**inputs, **self._outputs(props, slots)}, inputs=inputs)

    def _seen(self, flow: Flow, records: ProjectRecords, props: Mapping[str, Any],
              recorded: Sequence[Slot]) -> list[Slot]:
        """The recorded slots as Mithril has them now (an ended one is gone), and this pool's live bids that no
        record holds, adopted."""
        own = {str(row["fid"]): row for row in self._own_bids(records, props)}
        slots: list[Slot] = []
        for slot in recorded:
            task = records.task(flow, slot.bid_id)
            if task is not None and slot.bid_id in own:
                slots.append(self._observed(slot, task))
        known = {s.bid_id for s in slots} | {s.bid_id for s in recorded}
        prefix = slot_prefix(props)
        for fid, row in own.items():
            task = records.task(flow, fid) if fid not in known else None
            if task is None:
                continue
            index = int(str(row["name"])[len(prefix):].split(".", 1)[0])
            entry = flow.pricing.instance_types().get(str(row.get("instance_type")))
            instance_type = f"{entry[1]}x{entry[2]}" if entry else str(row.get("instance_type"))
            adopted = Slot(slot=index, bid_id=fid, instance_type=instance_type, region=str(row.get("region")),
                           gpus=gpus_of(instance_type), status=PENDING,
                           limit_price=as_number(maybe_usd(row.get("limit_price")) or Decimal(0)))
            slots.append(self._observed(adopted, task))
        return sorted(slots, key=lambda s: s.slot)

    @staticmethod
    def _observed(slot: Slot, task: Task) -> Slot:
        meta = task.provider_metadata or {}
        status = SLOT_STATUS_OF_BID.get(str(meta.get("bid_status")), PENDING)
        if status == PENDING and meta.get("instance_status") == PREEMPTED_INSTANCE:
            status = PREEMPTED
        live_limit = maybe_usd(meta.get("limit_price"))
        market = maybe_usd(task.cost_per_hour)
        return attrs.evolve(
            slot, status=status, public_ips=tuple(task.ssh_hosts or ()) if status in d.HOLDING else (),
            limit_price=as_number(live_limit) if live_limit is not None else slot.limit_price,
            market_price_per_hour=as_number(market) if market is not None and status in d.HOLDING else None)

    @staticmethod
    def _own_bids(records: ProjectRecords, props: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
        """This pool's live bids: named with its prefix and a slot number."""
        prefix = slot_prefix(props)
        for row in records.bids:
            name = str(row.get("name") or "")
            if row.get("status") != TERMINATED and name.startswith(prefix) \
                    and name[len(prefix):].split(".", 1)[0].isdigit():
                yield row

    # -- markets --------------------------------------------------------------------------------

    def _markets(self, flow: Flow, props: Mapping[str, Any]) -> dict[tuple[str, str], Market]:
        """Mithril's availability now (never from a cache), read into markets by the Flow SDK's own row mapping."""
        from flow.application.http_json import get_api_json
        from flow.application.market import market_rows_from_public_availability

        provider: Any = flow.provider
        rows: list[object] = self.bids.transient_retry(lambda: get_api_json(  # type: ignore[arg-type, return-value]
            provider.api_url, self.credentials.api_key or "", "/v2/spot/availability",
            {"project": provider.project_id}, bypass_cache=True))
        listing = market_rows_from_public_availability(rows, flow.pricing.instance_types())
        markets: dict[tuple[str, str], Market] = {}
        for row in listing.rows:
            if row.price_per_instance_hour is None or not row.gpu_count:
                continue
            instance_type = f"{row.gpu_count}x{row.gpu_type}".lower()
            markets[(row.region, instance_type)] = Market(
                region=row.region, instance_type=instance_type, gpus=row.gpu_count,
                price=cents_up(usd(row.price_per_instance_hour)), room=int(row.available_instances or 0))
        return markets

    def _preferred(self, flow: Flow, props: Mapping[str, Any],
                   markets: Mapping[tuple[str, str], Market]) -> list[Market]:
        """The markets the pool may use, in its order: regions first (the given order, else the cheapest per GPU
        first), then instance types in the given order. With volumes, only their region."""
        regions = list(props["regions"] or [])
        mounted = self.bids.placement_region(flow, {"volumes": props.get("volumes") or [], "region": None})
        if mounted is not None:
            if regions and mounted not in regions:
                raise FlowProviderError(
                    f"regions={regions!r}: the pool's volumes are in {mounted!r}, and Mithril mounts only within a "
                    f"region", f"add {mounted!r} to regions, or leave regions out")
            regions = [mounted]
        if not regions:
            cheapest: dict[str, Decimal] = {}
            for market in markets.values():
                if market.instance_type in props["instance_types"]:
                    per_gpu = market.price / market.gpus
                    cheapest[market.region] = min(cheapest.get(market.region, per_gpu), per_gpu)
            regions = sorted(cheapest, key=lambda r: (cheapest[r], r))
        return [markets[(region, t)] for region in regions for t in props["instance_types"] if (region, t) in markets]

    # -- outputs --------------------------------------------------------------------------------

    @staticmethod
    def _inputs(props: Mapping[str, Any]) -> dict[str, Any]:
        return recorded_inputs(props, INPUT_KEYS)

    @staticmethod
    def _outputs(props: Mapping[str, Any], slots: Sequence[Slot]) -> dict[str, Any]:
        held = [s for s in slots if s.holds]
        by_placement: dict[str, int] = {}
        for slot in held:
            place = f"{slot.region}/{slot.instance_type}"
            by_placement[place] = by_placement.get(place, 0) + slot.gpus
        gpus_held = sum(s.gpus for s in held)
        hourly = sum((usd(s.market_price_per_hour) for s in held if s.market_price_per_hour is not None), Decimal(0))
        ceiling = usd(props["max_price_per_gpu_hour"]) * int(props["target_gpus"])
        return {
            "pool_id": str(props["pool_name"]),
            "slots": [s.record() for s in sorted(slots, key=lambda s: s.slot)],
            "gpus_held": gpus_held,
            "gpus_by_placement": by_placement,
            "unfilled_gpus": max(int(props["target_gpus"]) - gpus_held, 0),
            "hourly_usd": as_number(cents_up(hourly)),
            "max_hourly_usd": as_number(cents_up(ceiling)),
        }
