"""The dynamic provider behind `FlowTask`: a Mithril spot bid and its instances.

`create`, `update` and `delete` are the only methods that write to Mithril, so a
preview never places a bid. Every method builds its Flow client on the spot: the
provider object itself is pickled into state and carries no client and no key.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from datetime import datetime, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, UpdateResult

from pulumi_flow import declarations as d
from pulumi_flow import naming
from pulumi_flow import validation as v
from pulumi_flow.money import as_number, cents_up, limit_price, maybe_usd, usd
from pulumi_flow.provider.base import (
    FlowProvider,
    apply_rules,
    declared_inputs,
    pause_before_retry,
    recorded_inputs,
)
from pulumi_flow.provider.errors import (
    BelowMarketError,
    BidLookupError,
    CreateRolledBackError,
    FlowProviderError,
    NoAnswerError,
    NotOurBidError,
    NotReadyError,
    StillBillingError,
)
from pulumi_flow.provider.records import TERMINATED, ProjectRecords, forget_shared_records, shared_records
from pulumi_flow.provider.session import flow_session, forget_cached_state, reading_session, scrubbed

if TYPE_CHECKING:
    from flow import Flow, Task

INFRASTRUCTURE, WORKLOAD = d.INFRASTRUCTURE, d.WORKLOAD
DEFAULT_READY_TIMEOUT_MINUTES = d.DEFAULT_READY_TIMEOUT_MINUTES
DELETE_FIRST, CREATE_FIRST = d.DELETE_FIRST, d.CREATE_FIRST

# Every key set below is derived from the one declaration of the resource (`pulumi_flow.declarations.TASK`).
# Inputs whose change means different machines: the bid is replaced, old one first.
REPLACE_KEYS = d.TASK.keys(d.Change.REPLACE)
# Inputs changed in place on Mithril, by PATCH of the bid: its price, and whether it is paused.
UPDATE_KEYS = d.TASK.keys(d.Change.UPDATE)
# Its volumes: attached or detached in place where Mithril can, else replaced (`volume_change`).
(VOLUMES,) = d.TASK.keys(d.Change.ATTACH)
# Inputs that only steer how `create` waits or how a replacement is ordered: recorded, but a change of
# them touches nothing on Mithril, so it is no change at all.
WAIT_KEYS = d.TASK.keys(d.Change.NONE)
# What decides the machines and what runs on them: a digest of these is part of the bid's name.
SPEC_KEYS = d.TASK.bid_name_keys
INPUT_KEYS = d.TASK.input_keys
OUTPUT_KEYS = d.TASK.output_keys

TERMINAL = ("completed", "failed", "cancelled")
HOLDING_BID_STATUSES = ("Allocated", "Preempting")  # Mithril's bid statuses whose machines run
PREEMPTED_INSTANCE = "STATUS_PREEMPTED"
# What an input absent from older state meant: no change when a newer version adds the input.
DEFAULTS: dict[str, Any] = d.TASK.was
T = TypeVar("T")
# Set when this process is told to stop (`pulumi-flow run` on Ctrl-C): every wait for machines ends at
# once, and a create that was waiting cancels its own bid on the way out, so nothing is left billing.
STOP_WAITING = threading.Event()
# The engine's `customTimeouts` for the operation under way, in seconds: the `flow` plugin sets it around each
# Create and Update (the dynamic-provider protocol carries none). A wait for machines ends at the sooner of it
# and `ready_timeout_minutes`.
OPERATION_TIMEOUT: ContextVar[float | None] = ContextVar("OPERATION_TIMEOUT", default=None)


@attrs.frozen
class Sighting:
    """A bid as one read saw it: the Flow SDK's `Task`, and the records it was built from, which give the rest of
    its outputs without reading the same thing twice."""

    task: Task
    records: ProjectRecords


FIELD_RULES = d.TASK.rules
REQUIRED = d.TASK.required
OPTIONAL_NONE = d.TASK.optional
IDLE_COMMAND = "sleep infinity"


def sdk_mounts(mounts: Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    """Recorded mounts as the Flow SDK's TaskConfig takes them."""
    return [{"volume_id": m["volume_id"], "mount_path": m["mount_path"], "interface": m.get("interface", "file")}
            for m in mounts or []]


def _mount_ids(mounts: Sequence[Any] | None) -> list[str]:
    return [str(m["volume_id"]) for m in mounts or []]


def boot_volume_ids(olds: Mapping[str, Any]) -> list[str]:
    """The volumes the bid's startup script mounts. State written before this was recorded holds none: then every
    recorded mount counts as one, so nothing it mounts is ever taken away in place."""
    recorded = olds.get("boot_volume_ids")
    return list(recorded) if isinstance(recorded, list) else _mount_ids(olds.get(VOLUMES))


def volume_change(olds: Mapping[str, Any], news: Mapping[str, Any]) -> d.Change | None:
    """What a change of a task's volumes does to the live bid. Mithril attaches and detaches volumes in place (one
    PATCH of the bid's volume list), but the startup script that mounts them is fixed when the bid is placed. So:
    volumes added, or taken away after being added that way, are an UPDATE; a kept volume mounted at another path
    or through another interface, or a volume the startup script mounts taken away (every machine Mithril gave the
    bid later would fail to boot waiting for it), is a REPLACE. A new mount whose volume is not made yet (unknown
    in a preview) is an addition; a list unknown as a whole may be anything, so it plans a replacement."""
    new = news.get(VOLUMES)
    if v.is_unknown(new):
        return d.Change.REPLACE
    old_mounts = {str(m["volume_id"]): m for m in olds.get(VOLUMES) or []}
    # An unknown volume id is its own key, which no recorded volume has: an addition.
    new_mounts = {str(m["volume_id"]): m for m in new or [] if not v.is_unknown(m)}
    boot = set(boot_volume_ids(olds))
    for volume_id, mount in old_mounts.items():
        kept = new_mounts.get(volume_id)
        if kept is None:
            if volume_id in boot:
                return d.Change.REPLACE
        elif not all(_same(mount.get(k), kept.get(k)) for k in ("mount_path", "interface")):
            return d.Change.REPLACE
    if len(new_mounts) == len(new or []) and set(new_mounts) == set(old_mounts):
        return None  # the same mounts, perhaps listed in another order
    return d.Change.UPDATE


def check_task_inputs(news: Mapping[str, Any]) -> tuple[dict[str, Any], list[v.InputError]]:
    """Normalise and validate; unknowns (preview) pass through untouched."""
    inputs, errors = declared_inputs(d.TASK, news, "FlowTask")
    if news.get("wait_until") is None and not v.is_unknown(news.get("role")):
        inputs["wait_until"] = "running" if news.get("role") == INFRASTRUCTURE else "submitted"
    if news.get("command") is None and news.get("role") == WORKLOAD:
        errors.append(v.InputError("command", None, "is required for a workload", "set command on the FlowTask"))
    apply_rules(inputs, FIELD_RULES, errors, skip_none=(*OPTIONAL_NONE, *REQUIRED))
    if not errors:
        errors.extend(_cross_field_errors(inputs))
    return inputs, errors


def _cross_field_errors(inputs: Mapping[str, Any]) -> list[v.InputError]:
    errors: list[v.InputError] = []
    count = inputs["num_instances"]
    if not v.is_unknown(count) and not v.contains_unknown(inputs["volumes"]):
        try:
            v.block_volumes_single_instance(inputs["volumes"], count)
        except v.InputError as err:
            errors.append(err)
    if inputs["role"] == INFRASTRUCTURE and inputs.get("max_preemptions") is not None:
        errors.append(v.InputError("max_preemptions", inputs["max_preemptions"], "applies to workloads: "
                                   "infrastructure is kept running through preemptions", "leave it out, or make the "
                                   "task a workload (TrainingJob)"))
    if inputs["role"] == INFRASTRUCTURE and inputs["wait_until"] == "completed":
        errors.append(v.InputError("wait_until", "completed", "infrastructure runs until deleted and never completes",
                                   "use 'running' (the default) or 'submitted'"))
    return errors


def _same(old: Any, new: Any) -> bool:
    if isinstance(old, int | float) and isinstance(new, int | float) and not isinstance(old, bool):
        return usd(old) == usd(new)  # exact: a reprice from $50.00 to $50.01 is a change
    return bool(old == new)


def _duration(seconds: float) -> str:
    return f"{seconds:g} seconds" if seconds < 120 else f"{seconds / 60:g} minutes"


def _refusal(exc: BaseException) -> int | None:
    """The status of an answer in which Mithril refused the request (a 4xx), as opposed to no answer: not a
    timeout (408), a conflict that may be our own bid (409) or a rate limit (429). None for anything else."""
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and 400 <= status < 500 and status not in (408, 409, 429):
        return status
    return None


def _live_limit(task: Task) -> Decimal | None:
    """The bid Mithril holds now (its `limit_price`), exactly."""
    return maybe_usd((task.provider_metadata or {}).get("limit_price"))


def _as_optional_number(amount: Decimal | None) -> float | None:
    return None if amount is None else as_number(amount)


def bid_name(props: Mapping[str, Any]) -> str:
    """The bid's name on Mithril: the task name and a digest of its full specification and its owner."""
    return naming.bid_name(str(props["task_name"]), {k: props.get(k) for k in SPEC_KEYS}, props.get(naming.OWNER))


class FlowTaskProvider(FlowProvider):
    """Create, read, update and delete a Flow task (a Mithril spot bid)."""

    name_key = "task_name"

    poll_interval_seconds = 0.5
    max_poll_interval_seconds = 10.0
    # Machines usually come up within seconds of allocation: poll at the base rate that long, so a
    # ready cluster is seen at once, then back off for the slow cases (an Open bid waiting for the market).
    steady_poll_seconds = 10.0

    def check_inputs(self, news: Mapping[str, Any]) -> tuple[dict[str, Any], list[v.InputError]]:
        return check_task_inputs(news)

    # -- plan -------------------------------------------------------------------------------

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # A value unknown until `up` never equals what state holds, so it plans the change it may turn out to be.
        replaces = [k for k in REPLACE_KEYS if not _same(olds.get(k), news.get(k))]
        updates = [k for k in UPDATE_KEYS if not _same(olds.get(k, DEFAULTS.get(k)), news.get(k))]
        volumes = volume_change(olds, news)
        if volumes is not None:
            (replaces if volumes is d.Change.REPLACE else updates).append(VOLUMES)
        changes = replaces + updates
        # Delete-first by default: never two bids billing at once, at the risk of not getting the capacity
        # back. Create-first keeps the old machines until the new ones run, and bills both meanwhile.
        return DiffResult(changes=bool(changes), replaces=replaces,
                          delete_before_replace=news.get("replacement") != CREATE_FIRST)

    # -- write --------------------------------------------------------------------------------

    def create(self, props: dict[str, Any]) -> CreateResult:
        creds = self.credentials
        with scrubbed(creds.api_key, f"creating Flow task {props.get('task_name')!r}"), flow_session(creds) as flow:
            region = self.placement_region(flow, props)
            task_id = self.place_bid(flow, props, region)
            try:
                # Everything after the bid exists is inside this block: whatever fails, the
                # engine records nothing, so nothing may be left billing.
                if props.get("paused"):
                    # Declared paused: placed, then paused at once; there are no machines to wait for.
                    self._set_paused(flow, task_id, True)
                    sighting = self.transient_retry(lambda: self.look(flow, task_id))
                else:
                    sighting = self._wait(flow, task_id, props)
                forget_shared_records()  # a write was made: the next refresh reads it
                outs = {**self._inputs(props), **self._outputs(flow, sighting, _mount_ids(props.get(VOLUMES)))}
            except BaseException as exc:  # noqa: BLE001 - even an interrupt must not leave a bid billing
                refusal = self.cancel_bid(flow, task_id)
                if refusal is None:
                    raise CreateRolledBackError(exc, bid_id=task_id) from None
                raise StillBillingError(
                    f"{exc}; bid {task_id} could NOT be cancelled ({refusal}) and may still bill, and Pulumi will not "
                    f"record it", f"cancel it with `flow cancel {task_id}`", bid_id=task_id, refusal=refusal) from None
            return CreateResult(task_id, outs)

    def update(self, task_id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        creds = self.credentials
        with scrubbed(creds.api_key, f"updating Flow task {task_id}"), flow_session(creds) as flow:
            volumes = volume_change(olds, news)
            if volumes is not None:
                self._attach_in_place(flow, task_id, olds, news, volumes)
            if not _same(olds.get("max_price_per_hour"), news.get("max_price_per_hour")):
                wanted = cents_up(usd(news["max_price_per_hour"]))
                try:
                    flow.bids.update_limit_price(task_id, limit_price(wanted))
                except Exception:
                    # The PATCH may have landed with its answer lost: Mithril's word decides.
                    live = self.transient_retry(lambda: self.look(flow, task_id)).task
                    if _live_limit(live) != wanted:
                        raise
            if bool(olds.get("paused")) != bool(news.get("paused")):
                self._set_paused(flow, task_id, bool(news.get("paused")))
                if not news.get("paused"):
                    # Resumed: the machines boot again; like a create, `up` returns once they run.
                    self._wait(flow, task_id, news)
            sighting = self.transient_retry(lambda: self.look(flow, task_id))
            forget_shared_records()
            return UpdateResult({**self._inputs(news), **self._outputs(flow, sighting, boot_volume_ids(olds))})

    def _attach_in_place(self, flow: Flow, task_id: str, olds: Mapping[str, Any], news: Mapping[str, Any],
                         change: d.Change) -> None:
        """Attach and detach volumes on the live bid: one PATCH of its volume list, the machines untouched. What
        the startup script mounts comes first, in its order (a block volume's device follows its place in the
        list), then what was attached since, then what is added, in the order declared. Checked first (each
        exists, in the bid's region), so a bad volume is refused before Mithril is asked to change anything."""
        if change is d.Change.REPLACE:
            # Planned as an attachment while a volume id was unknown; now known, it needs a new bid.
            raise FlowProviderError(
                f"volumes: {news.get(VOLUMES)} moves or takes away a volume the startup script of bid {task_id} "
                f"mounts, which Mithril cannot change in place", "run `pulumi up` again: the plan then replaces the "
                "task")
        declared = _mount_ids(news.get(VOLUMES))
        order = [*boot_volume_ids(olds), *_mount_ids(olds.get(VOLUMES)), *declared]
        wanted = [i for i in dict.fromkeys(order) if i in declared]
        self._check_attachable(flow, news.get(VOLUMES) or [], olds.get("resolved_region"))
        try:
            flow.provider.ctx.bids.update_bid_volumes(task_id, wanted)  # type: ignore[attr-defined]
        except Exception:
            # The PATCH may have landed with its answer lost: Mithril's word decides.
            look = self.transient_retry(lambda: self.look(flow, task_id))
            if look.records.volume_ids(task_id) != wanted:
                raise

    @classmethod
    def _check_attachable(cls, flow: Flow, mounts: Sequence[Mapping[str, Any]], region: str | None) -> None:
        regions = cls._volume_regions(flow, mounts)  # one per mount, in order
        for index, mount in enumerate(mounts):
            if region is not None and regions[index] != region:
                raise FlowProviderError(
                    f"volumes[{index}]: volume {mount['volume_id']!r} is in {regions[index]!r}, and the task runs in "
                    f"{region!r}; Mithril attaches only within a region", f"create the volume in {region!r}")

    @staticmethod
    def _volume_regions(flow: Flow, mounts: Sequence[Mapping[str, Any]]) -> list[str]:
        """Each mounted volume's region, from a fresh list of the project's volumes (not the SDK's cached one: a
        volume made moments ago, in the same `up`, must be in it). A volume Mithril does not have is refused."""
        forget_cached_state(tasks=False, volumes=True)
        by_id = {vol.volume_id: vol for vol in flow.volumes.list()}
        regions: list[str] = []
        for index, mount in enumerate(mounts):
            vol = by_id.get(mount["volume_id"])
            if vol is None:
                raise FlowProviderError(
                    f"volumes[{index}]: volume {mount['volume_id']!r} (mounted at {mount['mount_path']}) does not "
                    f"exist on Mithril", "run `pulumi refresh` so the volume is recreated, or remove the mount")
            regions.append(str(vol.region))
        return regions

    def _set_paused(self, flow: Flow, task_id: str, paused: bool) -> None:
        """Pause or resume the bid (Mithril stops billing while paused). A lost answer is checked against
        Mithril before it is called a failure."""
        try:
            flow.bids.set_paused(task_id, paused=paused)
        except Exception:
            live = self.transient_retry(lambda: self.look(flow, task_id)).task
            if ((live.provider_metadata or {}).get("bid_status") == "Paused") != paused:
                raise

    def delete(self, task_id: str, props: dict[str, Any]) -> None:
        creds = self.credentials
        with scrubbed(creds.api_key, f"deleting Flow task {task_id}"), flow_session(creds) as flow:
            refusal = self.cancel_bid(flow, task_id)
            if refusal is not None:
                raise StillBillingError(
                    f"deleting Flow task {task_id}: bid {task_id} is still live ({refusal}), so Pulumi keeps it in "
                    f"the stack", f"run `pulumi destroy` again, or cancel it with `flow cancel {task_id}`",
                    bid_id=task_id, refusal=refusal)

    def delete_unrecorded(self, props: Mapping[str, Any]) -> str | None:
        """Cancel the bid that a create with these (checked) inputs may have placed without the engine ever
        recording it (its answer lost, or the run stopped). The bid's name carries this state's owner token,
        so what is found is this create's own bid and nobody else's. Returns its id, or None if there is none."""
        creds = self.credentials
        name = bid_name(props)
        with scrubbed(creds.api_key, f"looking for bid {name!r}"), flow_session(creds) as flow:
            try:
                existing = self._find_own_bid(flow, name)
            except BidLookupError as exc:
                raise NoAnswerError(f"Mithril's bid list did not answer: {exc.cause}", cause=exc.cause) from None
        if existing is None:
            return None
        self.delete(str(existing["fid"]), dict(props))
        return str(existing["fid"])

    # -- read -----------------------------------------------------------------------------------

    def read(self, task_id: str, props: dict[str, Any]) -> ReadResult:
        from flow.errors import TaskNotFoundError

        creds = self.credentials
        with scrubbed(creds.api_key, f"reading Flow task {task_id}"), reading_session(creds) as flow:
            try:
                sighting = self.transient_retry(lambda: self._look_in_project(flow, task_id))
            except TaskNotFoundError:
                return ReadResult("", {})
            task = sighting.task
            importing = "role" not in props
            boot = sighting.records.volume_ids(task_id) if importing else boot_volume_ids(props)
            observed = self._outputs(flow, sighting, boot)
            role = props.get("role", INFRASTRUCTURE)
            if observed["bid_status"] == TERMINATED and role == INFRASTRUCTURE:
                # Infrastructure exists only while its bid lives: gone, so the next `up` recreates it.
                return ReadResult("", {})
            if importing:
                imported = self._imported_inputs(task)
                return ReadResult(task_id, {**imported, **observed}, inputs=imported)
            inputs = self._inputs(props)
            live_price = _live_limit(task)
            if live_price is not None:
                # A bid changed out of band is input drift: `refresh` shows it, the next `up` puts it back.
                inputs["max_price_per_hour"] = as_number(live_price)
            # So is a pause or resume made outside Pulumi, and a volume detached outside it (the next `up`
            # attaches it again).
            inputs["paused"] = observed["bid_status"] == "Paused"
            attached = sighting.records.volume_ids(task_id)
            inputs[VOLUMES] = [m for m in inputs.get(VOLUMES) or [] if m["volume_id"] in attached]
            observed["stop_reason"] = props.get("stop_reason")
            limit = props.get("max_preemptions")
            if limit is not None and role == WORKLOAD and observed["status"] not in TERMINAL \
                    and int(observed.get("preemptions") or 0) > int(limit):
                observed = self._give_up(task_id, observed, int(limit))
            return ReadResult(task_id, {**inputs, **observed}, inputs=inputs)

    def _give_up(self, task_id: str, observed: dict[str, Any], limit: int) -> dict[str, Any]:
        """A job preempted past `max_preemptions`: cancel it, so it stops billing, and say why. When Mithril refuses
        the cancel, the state says the job still runs, and why it could not be stopped (the next refresh tries
        again). A write, so through a client of its own, not the refresh's shared reading one."""
        times = int(observed["preemptions"])
        with flow_session(self.credentials) as flow:
            refused = self.cancel_bid(flow, task_id)
            if refused is not None:
                return {**observed, "stop_reason": f"preempted {times} times, over max_preemptions={limit}, and not "
                                                   f"cancelled: {refused}"}
            after = self._outputs(flow, self.transient_retry(lambda: self.look(flow, task_id)),
                                  list(observed["boot_volume_ids"]))
        return {**after, "stop_reason": f"preempted {times} times, over max_preemptions={limit}: cancelled by "
                                        f"pulumi-flow on refresh"}

    # -- helpers --------------------------------------------------------------------------------

    @staticmethod
    def _inputs(props: Mapping[str, Any]) -> dict[str, Any]:
        return recorded_inputs(props, INPUT_KEYS)

    def placement_region(self, flow: Flow, props: Mapping[str, Any]) -> str | None:
        """A task with mounts runs in its volumes' region; they must all share one."""
        mounts: Sequence[Mapping[str, Any]] = props.get("volumes") or []
        wanted: str | None = props.get("region")
        if not mounts:
            return wanted
        regions = dict(zip((str(m["volume_id"]) for m in mounts), self._volume_regions(flow, mounts), strict=True))
        distinct = sorted(set(regions.values()))
        if len(distinct) > 1:
            raise FlowProviderError(
                f"volumes: the mounted volumes live in different regions ({regions}); a task runs in one region",
                "create all of the task's volumes in one region")
        if wanted is not None and distinct and distinct[0] != wanted:
            raise FlowProviderError(
                f"region={wanted!r}: the mounted volumes are in {distinct[0]!r}, and Mithril mounts only within a "
                f"region", f"set region={distinct[0]!r} or leave region out")
        return distinct[0] if distinct else wanted

    def _task_config(self, props: Mapping[str, Any], region: str | None) -> Any:
        from flow import TaskConfig

        fields: dict[str, Any] = {
            "name": bid_name(props),
            "unique_name": False,
            # A fresh key per create: the SDK's derived key would let Mithril answer a task
            # re-created after a deletion with its dead bid. Retries inside one create reuse it.
            "idempotency_key": f"pulumi-flow-{uuid.uuid4()}",
            "command": props.get("command") or IDLE_COMMAND,
            "instance_type": props["instance_type"],
            "num_instances": int(props["num_instances"]),  # check fills it in
            "max_price_per_hour": as_number(cents_up(usd(props["max_price_per_hour"]))),
            "volumes": sdk_mounts(props.get("volumes")),
            "env": dict(props.get("env") or {}),
            "ssh_keys": list(props.get("ssh_keys") or []),
            "upload_code": False,
            "terminate_on_exit": props["role"] == WORKLOAD,
        }
        for key in ("image", "max_run_time_hours"):
            if props.get(key) is not None:
                fields[key] = props[key]
        if region is not None:
            fields["region"] = region
            # The SDK scores regions (capacity, price) and refuses a pinned region that does not score best, even
            # with room: its own constraint grammar keeps the choice to this region (and the price cap it would
            # have derived from the bid).
            fields["constraints"] = {"regions": [region], "max_price_per_hour": fields["max_price_per_hour"]}
        return TaskConfig(**fields)

    def place_bid(self, flow: Flow, props: Mapping[str, Any], region: str | None, attempts: int = 3) -> str:
        """Place the bid, or adopt this resource's own live bid (a create retried after an answer was
        lost, or after `pulumi up` was killed). Only a bid with this resource's bid name, which carries
        the digest of its full specification, at this very price, is its own: anything else is left alone."""
        from flow.errors import (
            AuthenticationError,
            AuthorizationError,
            NameConflictError,
            ResourceNotAvailableError,
            ResourceNotFoundError,
            ValidationError,
        )

        name = bid_name(props)
        if props.get("replacement") == CREATE_FIRST:
            # The bid being replaced is still live. Same name means same machines (a forced replacement):
            # adopting it would hand the old bid to the new resource and let the engine delete it.
            existing = self._find_own_bid(flow, name)
            if existing is not None:
                raise FlowProviderError(
                    f"replacement='create-first': a live bid named {name!r} ({existing['fid']}) already runs these "
                    f"exact machines, so a second one cannot be told from it",
                    "use replacement='delete-first' for this change, or change what runs")
        for _ in range(attempts):
            forget_cached_state()
            try:
                return str(flow.run(self._task_config(props, region)).task_id)
            except (ResourceNotAvailableError, ResourceNotFoundError):
                # Refused before any POST: under the market (in a pinned region the SDK calls that "no instances
                # available"), or no capacity at any price. Nothing was placed.
                self._raise_if_under_market(flow, props, region)
                raise
            except (AuthenticationError, AuthorizationError, ValidationError):
                raise  # refused before or by Mithril: nothing was placed
            except Exception as exc:
                # A live bid of our name (NameConflictError), or an answer lost on the way back.
                try:
                    existing = self._find_own_bid(flow, name)
                except BidLookupError as lookup:
                    refused = _refusal(exc)
                    if refused is None:
                        raise
                    # Mithril answered, and said no: not an answer lost, even when it cannot be read now.
                    raise NoAnswerError(
                        f"Mithril refused the bid for task {name!r} (HTTP {refused}, {type(exc).__name__}: {exc}), "
                        f"so nothing should have been placed; it could not be read back to confirm",
                        f"if `flow status` shows a bid named {name!r}, run `pulumi up` again to adopt it",
                        cause=lookup.cause) from None
                if existing is None:
                    if isinstance(exc, NameConflictError):
                        continue  # it ended in between: place ours
                    raise
            mismatch = self._mismatch(flow, existing, props, region)
            if mismatch is None:
                return str(existing["fid"])
            raise NotOurBidError(name=name, bid_id=str(existing["fid"]), mismatch=mismatch)
        raise FlowProviderError(f"could not place the bid for task {name!r}: a live bid of that name kept reappearing",
                                f"cancel it with `flow cancel {name}` and run `pulumi up` again")

    @staticmethod
    def _raise_if_under_market(flow: Flow, props: Mapping[str, Any], region: str | None) -> None:
        """The SDK refuses a bid under the market before sending it, without saying the price: say it,
        and the least bid that would be allocated (the lowest market where this type is sold)."""
        from pulumi_flow.pricing import gpu_family_and_count

        family, count = gpu_family_and_count(str(props["instance_type"]))
        markets = {row.region: usd(row.price_per_instance_hour) for row in flow.pricing.market()
                   if str(row.gpu_type).lower() == family and row.gpu_count == count
                   and region in (None, row.region) and row.price_per_instance_hour is not None}
        bid = cents_up(usd(props["max_price_per_hour"]))
        if not markets or bid >= min(markets.values()):
            return
        raise BelowMarketError(instance_type=str(props["instance_type"]), bid=bid,
                               least=cents_up(min(markets.values())), markets=markets)

    @staticmethod
    def _find_own_bid(flow: Flow, name: str, attempts: int = 3) -> dict[str, Any] | None:
        """Our live bid by its name. If Mithril cannot even be asked, say so: the bid may exist,
        and the next `up` adopts it by name instead of bidding again."""
        for attempt in range(attempts):
            try:
                forget_cached_state()
                for bid in flow.bids.list_bids(include_terminated=False):
                    if bid.get("name") == name and bid.get("status") != TERMINATED:
                        return dict(bid)
                return None
            except Exception as exc:  # noqa: BLE001 - retried, then reported with what to do
                last = exc
                pause_before_retry(attempt)
        raise BidLookupError(name=name, cause=f"{type(last).__name__}: {last}")

    @staticmethod
    def _mismatch(flow: Flow, bid: Mapping[str, Any], props: Mapping[str, Any], region: str | None) -> str | None:
        """Why this live bid of our name is not the one this resource would place; None if it is."""
        wanted_count = int(props["num_instances"])  # check fills it in
        if int(bid.get("instance_quantity") or 0) != wanted_count:
            return f"it has {bid.get('instance_quantity')} instances, not {wanted_count}"
        if region is not None and bid.get("region") != region:
            return f"it is in {bid.get('region')!r}, not {region!r}"
        catalog_entry = flow.pricing.instance_types().get(str(bid.get("instance_type")))
        wanted_type = str(props["instance_type"]).lower()
        if catalog_entry is None or f"{catalog_entry[1]}x{catalog_entry[2]}" != wanted_type:
            return f"its instance type {bid.get('instance_type')!r} is not {wanted_type!r}"
        wanted_price = cents_up(usd(props["max_price_per_hour"]))
        if maybe_usd(bid.get("limit_price")) != wanted_price:
            return f"it bids {bid.get('limit_price')}, not {limit_price(wanted_price)}"
        return None

    def _wait(self, flow: Flow, task_id: str, props: Mapping[str, Any]) -> Sighting:
        until = props.get("wait_until") or "submitted"
        count = int(props.get("num_instances") or 1)
        timeout = float(props.get("ready_timeout_minutes") or DEFAULT_READY_TIMEOUT_MINUTES) * 60
        engine_timeout = OPERATION_TIMEOUT.get()
        bound = "ready_timeout_minutes"
        if engine_timeout is not None and 0 < engine_timeout < timeout:
            timeout, bound = engine_timeout, "the resource's customTimeouts"
        deadline = time.monotonic() + timeout
        interval = self.poll_interval_seconds
        started = time.monotonic()
        while True:
            sighting = self.transient_retry(lambda: self.look(flow, task_id), deadline)
            task = sighting.task
            status = task.status.value
            if until == "submitted":
                return sighting
            if until == "running" and status == "running" and len(task.ssh_hosts or []) >= count:
                return sighting
            if status in TERMINAL:
                if until == "completed" or props.get("role") == WORKLOAD:
                    return sighting  # a workload that already finished has run: that counts
                raise FlowProviderError(
                    f"task {task_id} ended ({status}) before it was running")
            if time.monotonic() >= deadline:
                bid_status = (task.provider_metadata or {}).get("bid_status")
                raise NotReadyError(task_id=task_id, until=until, waited=_duration(timeout), status=status,
                                    bid_status=bid_status, up=len(task.ssh_hosts or []), wanted=count, bound=bound)
            if STOP_WAITING.wait(min(interval, max(deadline - time.monotonic(), 0))):
                raise FlowProviderError(f"interrupted while waiting for task {task_id} to be {until}")
            if time.monotonic() - started >= self.steady_poll_seconds:
                interval = min(interval * 1.5, self.max_poll_interval_seconds)

    def look(self, flow: Flow, task_id: str) -> Sighting:
        """The bid as Mithril has it now: two reads (the bid, then its instances)."""
        from flow.errors import TaskNotFoundError

        records = ProjectRecords.read(flow, self.credentials.api_key or "", task_id, history=False)
        task = records.task(flow, task_id)
        if task is None:
            raise TaskNotFoundError(f"Mithril has no bid {task_id}", task_id=task_id)
        return Sighting(task, records)

    def _look_in_project(self, flow: Flow, task_id: str) -> Sighting:
        """The bid as a refresh sees it: from the read of the whole project that every read of the refresh shares,
        or, if the bid is not in it, by reading the bid itself."""
        records = shared_records(flow, self.credentials.api_key or "", task_id)
        task = records.task(flow, task_id)
        return Sighting(task, records) if task is not None else self.look(flow, task_id)

    @staticmethod
    def transient_retry(read: Callable[[], T], deadline: float | None = None, attempts: int = 4) -> T:
        """Retry a read through transient faults (timeouts, dropped connections, 5xx the SDK gave
        up on): a blip while watching a healthy bid must not throw the bid away."""
        from flow.errors import APIError, FlowTimeoutError, NetworkError, RateLimitError

        for attempt in range(attempts):
            try:
                return read()
            except (FlowTimeoutError, NetworkError, RateLimitError, APIError) as exc:
                status = getattr(exc, "status_code", None)
                transient = not isinstance(exc, APIError) or isinstance(exc, RateLimitError) or \
                    (status is not None and int(status) >= 500)
                out_of_time = deadline is not None and time.monotonic() >= deadline
                if not transient or out_of_time or attempt == attempts - 1:
                    raise
                pause_before_retry(attempt)
        raise AssertionError("unreachable")

    def cancel_bid(self, flow: Flow, task_id: str, attempts: int = 4) -> str | None:
        """Cancel a bid until Mithril shows it terminated; one already gone counts as cancelled. None once it
        is, else why it is not (Mithril refused every one of `attempts` tries).

        A cancel whose answer was lost may still have worked, so every failure is followed by
        a fresh read before trying again."""
        from flow.errors import TaskNotFoundError

        forget_shared_records()  # a write: the next refresh reads it
        attempt = 0
        while True:
            try:
                flow.cancel(task_id)
                return None
            except TaskNotFoundError:
                return None
            except Exception as exc:  # noqa: BLE001 - retried, then reported
                if getattr(exc, "status_code", None) == 404 or self._terminated(flow, task_id):
                    return None  # not found: nothing left to cancel
                if attempt == attempts - 1:
                    return f"Mithril refused {attempts} cancels, the last with {type(exc).__name__}: {exc}"
            pause_before_retry(attempt)
            attempt += 1

    def _terminated(self, flow: Flow, task_id: str) -> bool:
        from flow.errors import TaskNotFoundError

        try:
            task = self.look(flow, task_id).task
        except TaskNotFoundError:
            return True
        except Exception:  # noqa: BLE001 - unknown: not terminated as far as we can tell
            return False
        return (task.provider_metadata or {}).get("bid_status") == TERMINATED

    def _outputs(self, flow: Flow, sighting: Sighting, boot: Sequence[str]) -> dict[str, Any]:
        """Every output: Mithril's view of the task, its instances' private addresses and what it has cost so far,
        from the records it was seen in (the bid's own history is read now if they hold none), and which of its
        volumes the startup script mounts (`boot`: what state knows, not Mithril)."""
        task = sighting.task
        records = self.transient_retry(
            lambda: sighting.records.with_history(flow, self.credentials.api_key or "", task.task_id))
        observed = self._observe(task, records)
        ended = task.completed_at if observed["bid_status"] == TERMINATED else None
        attached = records.volume_ids(task.task_id)
        return {**observed, **records.cost(task.task_id, datetime.now(timezone.utc), ended).outputs(),
                "boot_volume_ids": list(boot), "unmounted_volume_ids": [i for i in attached if i not in boot]}

    @staticmethod
    def _observe(task: Task, records: ProjectRecords) -> dict[str, Any]:
        """The outputs Mithril's view of the task gives, with its instances' private addresses from `records`."""
        meta = task.provider_metadata or {}
        bid_status = meta.get("bid_status")
        status = task.status.value
        # Preempting: Mithril gave notice; the machines run (and bill) until it takes them.
        allocated = bid_status in HOLDING_BID_STATUSES
        if bid_status == "Open" and meta.get("instance_status") == PREEMPTED_INSTANCE:
            # Mithril re-queued the bid after preempting its machines; it is re-allocated later with new
            # ones. Read from Mithril each time, so a second refresh says the same.
            status = "preempted"
        private_ips = records.private_ips([str(i) for i in task.instances or []]) if allocated else []
        return {
            "task_id": task.task_id,
            "bid_name": task.name,
            "status": status,
            "bid_status": bid_status,
            "instance_ids": list(task.instances or []) if allocated else [],
            "public_ips": list(task.ssh_hosts or []) if allocated else [],
            "private_ips": private_ips,
            "ssh_user": task.ssh_user,
            "ssh_port": task.ssh_port,
            "market_price_per_hour": _as_optional_number(maybe_usd(task.cost_per_hour)),
            "resolved_region": task.region,
            "stop_reason": None,
        }

    @staticmethod
    def _imported_inputs(task: Task) -> dict[str, Any]:
        """What an import records: what Mithril tells of the bid, and for the rest what `check` would fill in."""
        meta = task.provider_metadata or {}
        return {
            **d.TASK.filled(),
            "role": INFRASTRUCTURE,
            "instance_type": task.instance_type,
            "num_instances": task.num_instances,
            "max_price_per_hour": _as_optional_number(maybe_usd(meta.get("limit_price"))),
            "region": task.region,
            "task_name": task.name,
            naming.AUTO_NAMED: False,
            "paused": meta.get("bid_status") == "Paused",
            "wait_until": "running",
        }
