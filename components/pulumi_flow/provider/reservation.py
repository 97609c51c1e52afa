"""The dynamic provider behind `FlowReservation`: Mithril reserved instances, bought for a period at a fixed unit price.

A reservation is a commitment: once it is made its whole total is owed. So a create asks for a quote first and
refuses, with nothing committed, when the price is above `max_unit_price`; the order itself carries the same ceiling,
so a price that moves between the quote and the order is refused by Mithril too. An extension is checked the same
way. Mithril cannot cancel a reservation or shorten it: a delete ends its instances (and refunds nothing), and a
reservation that has not started cannot be deleted at all.

Every call goes through the Flow SDK's own HTTP client (its auth, retries and typed errors); reads skip its cache.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pulumi.dynamic import CheckResult, CreateResult, DiffResult, ReadResult, UpdateResult

from pulumi_flow import declarations as d
from pulumi_flow import naming
from pulumi_flow import validation as v
from pulumi_flow.money import as_number, cents_up, from_cents, from_wire, in_cents, usd
from pulumi_flow.provider.base import FlowProvider, apply_rules, declared_inputs, recorded_inputs, tag_new_auto_name
from pulumi_flow.provider.errors import FlowProviderError, ReservationCommitmentError, ReservationPriceError
from pulumi_flow.provider.records import mithril_time, moment
from pulumi_flow.provider.session import flow_session, scrubbed
from pulumi_flow.provider.task import IDLE_COMMAND, STOP_WAITING, sdk_mounts

if TYPE_CHECKING:
    from flow import Flow

# Every key set below is derived from the one declaration of the resource (`pulumi_flow.declarations.RESERVATION`).
REPLACE_KEYS = d.RESERVATION.keys(d.Change.REPLACE)
INPUT_KEYS = d.RESERVATION.input_keys
OUTPUT_KEYS = d.RESERVATION.output_keys
FIELD_RULES = d.RESERVATION.rules
LIVE = ("Pending", "Active", "Paused")
RUNTIME_KEYS = ("command", "mounts", "image", "env")  # what Flow's runtime builds a startup script from
PAGE = 100


def check_reservation_inputs(news: Mapping[str, Any]) -> tuple[dict[str, Any], list[v.InputError]]:
    inputs, errors = declared_inputs(d.RESERVATION, news, "FlowReservation")
    apply_rules(inputs, FIELD_RULES, errors, skip_none=INPUT_KEYS)
    runtime = [key for key in RUNTIME_KEYS if inputs.get(key)]
    if inputs.get("startup_script") and runtime:
        errors.append(v.InputError("startup_script", v.Shown("a script"), f"and {', '.join(runtime)}: the startup "
                                   "script is sent to Mithril as it is, while Flow's runtime builds one from command, "
                                   "mounts, image and env", "give startup_script alone, or put the script in command "
                                   "(Flow's runtime then mounts the volumes and sets the rest)"))
    if not errors:
        try:
            v.reservation_window(inputs.get("start_time"), inputs.get("end_time"), inputs.get("duration_hours"))
        except v.InputError as err:
            errors.append(err)
    return inputs, errors


class FlowReservationProvider(FlowProvider):
    """Buy, read, extend, pause and end a Mithril reservation."""

    name_key = "reservation_name"
    poll_interval_seconds = 0.5
    max_poll_interval_seconds = 10.0

    def check_inputs(self, news: Mapping[str, Any]) -> tuple[dict[str, Any], list[v.InputError]]:
        return check_reservation_inputs(news)

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        result = super().check(olds, news)
        tag_new_auto_name(olds or {}, result.inputs, self.name_key)
        return result

    def diff(self, reservation_id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """An earlier end is refused here, before anything happens: Mithril can extend a reservation, never shorten
        it. A replacement buys a second commitment before the first ends; the preview shows it as a create."""
        replaces = [k for k in REPLACE_KEYS if olds.get(k) != news.get(k)]
        updates = [k for k in ("volumes", "paused") if olds.get(k) != news.get(k)]
        ends = [k for k in ("end_time", "duration_hours") if olds.get(k) != news.get(k)]
        wanted = _wanted_end(news, str(olds.get("starts_at") or ""))
        if wanted is not None and olds.get("ends_at") and not replaces:
            ends_at = moment(str(olds["ends_at"]))
            if wanted < ends_at:
                raise ReservationCommitmentError(
                    f"end {mithril_time(wanted)} is before reservation {reservation_id}'s end {olds['ends_at']}: "
                    f"Mithril cannot shorten a reservation, and its total is committed",
                    f"keep the end at or after {olds['ends_at']}", reservation_id=reservation_id)
            if wanted == ends_at:
                ends = []  # the same end, written another way
        return DiffResult(changes=bool(replaces or updates or ends), replaces=replaces,
                          delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        creds = self.credentials
        name = str(props["reservation_name"])
        with scrubbed(creds.api_key, f"reserving {name!r}"), flow_session(creds) as flow:
            mithril = _Mithril(flow)
            type_id = mithril.instance_type_id(str(props["instance_type"]))
            start = moment(props["start_time"]) if props.get("start_time") else datetime.now(timezone.utc)
            end = _wanted_end(props, mithril_time(start))
            assert end is not None  # check asks for one of end_time and duration_hours
            ceiling = usd(props["max_unit_price"])
            quote = mithril.quote(type_id, str(props["region"]), int(props["quantity"]), start, end)
            if quote > ceiling:
                raise ReservationPriceError(what="the reservation", instance_type=str(props["instance_type"]),
                                            region=str(props["region"]), unit=quote, ceiling=ceiling)
            launch = mithril.launch_specification(props)  # Flow's runtime script is built before anything is sent
            body = {"project": mithril.project, "instance_type": type_id, "region": props["region"],
                    "instance_quantity": int(props["quantity"]), "name": name, "start_time": mithril_time(start),
                    "end_time": mithril_time(end),
                    "launch_specification": launch,
                    # Mithril's own guard: a price that moved since the quote is refused there, nothing committed.
                    "price_specification": {"offer_key": "standard", "max_unit_price": in_cents(ceiling)}}
            # A name that carries this state's token is ours whenever it was made; under a name the user chose, only
            # a reservation that was not there before this order is.
            tagged = naming.carries_owner(name, props.get(naming.OWNER))
            before = set() if tagged else {r["fid"] for r in mithril.reservations() if r.get("name") == name}
            try:
                made = mithril.call("POST", "/v2/reservation", json=body,
                                    headers={"Idempotency-Key": f"pulumi-flow-{uuid.uuid4()}"})
            except Exception:
                # The answer may be lost while the reservation exists: adopt our own rather than buy a second one.
                made = mithril.own(name, before)
                if made is None:
                    raise
            reservation_id = str(made["fid"])
            # From here the commitment exists and cannot be undone: whatever fails, the engine must record it.
            try:
                if props.get("paused") and made.get("status") == "Active":
                    mithril.call("PATCH", f"/v2/reservation/{reservation_id}", json={"paused": True})
                observed = self._running(mithril, reservation_id, props)
            except Exception:  # noqa: BLE001 - recorded from the order's answer; `pulumi refresh` completes it
                observed = _ordered(made)
            return CreateResult(reservation_id, {**self._inputs(props), **observed})

    def _running(self, mithril: _Mithril, reservation_id: str, props: Mapping[str, Any]) -> dict[str, Any]:
        """What Mithril shows once every instance of an active reservation runs, as a cluster's `up` waits for its
        bid's; at `ready_timeout_minutes`, or when it is pending or paused, what it shows then."""
        deadline = time.monotonic() + float(props.get("ready_timeout_minutes") or 0) * 60
        interval = self.poll_interval_seconds
        while True:
            observed = mithril.observe(reservation_id)
            if observed["status"] != "Active" or len(observed["public_ips"]) >= int(props["quantity"]):
                return observed
            left = deadline - time.monotonic()
            if left <= 0 or STOP_WAITING.wait(min(interval, left)):
                return observed
            interval = min(interval * 1.5, self.max_poll_interval_seconds)

    def update(self, reservation_id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        creds = self.credentials
        with scrubbed(creds.api_key, f"changing reservation {reservation_id}"), flow_session(creds) as flow:
            mithril = _Mithril(flow)
            wanted = _wanted_end(news, str(olds.get("starts_at") or ""))
            if wanted is not None and olds.get("ends_at") and wanted > moment(str(olds["ends_at"])):
                self._extend(mithril, reservation_id, news, wanted)
            patch: dict[str, Any] = {}
            if attached_volumes(olds) != attached_volumes(news):
                patch["volumes"] = attached_volumes(news)
            if bool(olds.get("paused")) != bool(news.get("paused")):
                patch["paused"] = bool(news.get("paused"))
            if patch:
                mithril.call("PATCH", f"/v2/reservation/{reservation_id}", json=patch)
            return UpdateResult({**self._inputs(news), **mithril.observe(reservation_id)})

    @staticmethod
    def _extend(mithril: _Mithril, reservation_id: str, news: Mapping[str, Any], end: datetime) -> None:
        """One write: Mithril's latest possible end and today's price are read first, and an end past it or a price
        above `max_unit_price` is refused with nothing committed."""
        latest = mithril.call("GET", f"/v2/reservation/{reservation_id}/extension-availability")
        if not latest.get("available") or moment(str(latest["latest_extension_time"])) < end:
            raise ReservationCommitmentError(
                f"end_time {mithril_time(end)}: Mithril can extend reservation {reservation_id} to "
                f"{latest.get('latest_extension_time')} at the latest", "choose an end no later than that, or "
                "reserve the rest separately", reservation_id=reservation_id)
        ceiling = usd(news["max_unit_price"])
        current = mithril.reservation(reservation_id)
        assert current is not None
        quote = mithril.quote(str(current["instance_type"]), str(current["region"]),
                              int(current["instance_quantity"]), moment(str(current["end_time"])), end)
        if quote > ceiling:
            raise ReservationPriceError(what="the extension", instance_type=str(news["instance_type"]),
                                        region=str(news["region"]), unit=quote, ceiling=ceiling)
        mithril.call("POST", f"/v2/reservation/{reservation_id}/extend",
                     json={"end_time": mithril_time(end), "price_specification": {"offer_key": "standard",
                                                                          "max_unit_price": in_cents(ceiling)}})

    def read(self, reservation_id: str, props: dict[str, Any]) -> ReadResult:
        creds = self.credentials
        with scrubbed(creds.api_key, f"reading reservation {reservation_id}"), flow_session(creds) as flow:
            mithril = _Mithril(flow)
            found = mithril.reservation(reservation_id)
            if found is None or found.get("status") not in LIVE:
                return ReadResult("", {})  # ended or gone: the next `up` shows what buying it again would mean
            observed = mithril.observe(reservation_id, found)
            launch = found.get("launch_specification") or {}
            if "reservation_name" not in props:  # import: what Mithril tells; `check` fills in the rest
                inputs = {**d.RESERVATION.filled(),
                          "instance_type": mithril.instance_type_name(str(found["instance_type"])),
                          "quantity": found["instance_quantity"], "region": found["region"],
                          "start_time": v.start_time(found["start_time"]), "end_time": v.end_time(found["end_time"]),
                          "volumes": list(launch.get("volumes") or []), "ssh_keys": list(launch.get("ssh_keys") or []),
                          "startup_script": launch.get("startup_script"), "reservation_name": found["name"],
                          "paused": found["status"] == "Paused",
                          "max_unit_price": as_number(from_wire(found["unit_price"])), naming.AUTO_NAMED: False}
                return ReadResult(reservation_id, {**inputs, **observed}, inputs=inputs)
            inputs = self._inputs(props)
            # Drift made outside Pulumi (an extension, a pause, volumes) is shown by refresh and put back by `up`
            # where Mithril can (an end it extended cannot be undone: the plan then refuses the earlier end).
            if inputs.get("end_time") is not None:
                inputs["end_time"] = observed["ends_at"]
            inputs["paused"] = found["status"] == "Paused"
            mounted = {m["volume_id"] for m in inputs.get("mounts") or []}
            inputs["volumes"] = [i for i in launch.get("volumes") or [] if i not in mounted]
            return ReadResult(reservation_id, {**inputs, **observed}, inputs=inputs)

    def delete(self, reservation_id: str, props: dict[str, Any]) -> None:
        creds = self.credentials
        with scrubbed(creds.api_key, f"ending reservation {reservation_id}"), flow_session(creds) as flow:
            mithril = _Mithril(flow)
            found = mithril.reservation(reservation_id)
            if found is None or found.get("status") not in LIVE:
                return
            if found["status"] == "Pending" or not found.get("instances"):
                raise ReservationCommitmentError(
                    f"reservation {reservation_id} starts at {found['start_time']} and Mithril cannot cancel a "
                    f"reservation before it starts: its {found['total_price']} is committed",
                    "keep it until it starts, or drop it from the stack with `pulumi state delete` (it stays "
                    "committed on Mithril)", reservation_id=reservation_id)
            mithril.call("POST", f"/v2/reservation/{reservation_id}/terminate-instances",
                         json={"instances": list(found["instances"]), "reduce_capacity": True})

    def delete_unrecorded(self, props: Mapping[str, Any]) -> str | None:
        """End the instances of the reservation a create with these (checked) inputs may have bought without the
        engine recording it. Only a name that carries this state's owner token is looked for: a name the user chose
        cannot tell this create's reservation from another. Returns its id, or None if there is none."""
        name = str(props["reservation_name"])
        if not naming.carries_owner(name, props.get(naming.OWNER)):
            return None
        creds = self.credentials
        with scrubbed(creds.api_key, f"looking for reservation {name!r}"), flow_session(creds) as flow:
            found = _Mithril(flow).own(name, set())
        if found is None:
            return None
        self.delete(str(found["fid"]), dict(props))
        return str(found["fid"])

    @staticmethod
    def _inputs(props: Mapping[str, Any]) -> dict[str, Any]:
        return recorded_inputs(props, INPUT_KEYS)


class _Mithril:
    """The reservation routes, through the Flow SDK's HTTP client."""

    def __init__(self, flow: Flow) -> None:
        provider: Any = flow.provider
        self.flow, self.ctx, self.project = flow, provider.ctx, str(provider.project_id)
        self.http = self.ctx.http

    def call(self, method: str, url: str, **kwargs: Any) -> Any:
        return self.http.request(method=method, url=url, bypass_cache=True, **kwargs)

    def instance_type_id(self, spec: str) -> str:
        from flow.utils.instance_grammar import split_family_and_count

        family, count = split_family_and_count(spec)
        for fid, (_name, gpus, kind) in self.flow.pricing.instance_types().items():
            if str(kind).lower() == family and gpus == count:
                return str(fid)
        raise FlowProviderError(f"instance_type={spec!r}: Mithril sells no such type",
                                "use a type `flow instance-types` lists, e.g. '8xa100'")

    def instance_type_name(self, fid: str) -> str:
        entry = self.flow.pricing.instance_types().get(fid)
        return f"{entry[1]}x{entry[2]}" if entry else fid

    def launch_specification(self, props: Mapping[str, Any]) -> dict[str, Any]:
        """What each instance gets: the volumes (mounted ones too), the keys, and the startup script as given, or as
        Flow's runtime builds it from `command`, `mounts`, `image` and `env` (the SDK's own builder, as for a bid)."""
        script = props.get("startup_script")
        if any(props.get(key) for key in RUNTIME_KEYS):
            from flow import TaskConfig

            config = TaskConfig(
                name=str(props["reservation_name"]), unique_name=False, command=props.get("command") or IDLE_COMMAND,
                instance_type=str(props["instance_type"]), num_instances=int(props["quantity"]),
                volumes=sdk_mounts(props.get("mounts")), env=dict(props.get("env") or {}),
                ssh_keys=list(props.get("ssh_keys") or []), upload_code=False, allocation_mode="reserved",
                region=str(props["region"]), **({"image": props["image"]} if props.get("image") else {}))
            script = self.ctx.script_prep.build_and_prepare(config).content
        return {"volumes": attached_volumes(props), "ssh_keys": list(props.get("ssh_keys") or []),
                "startup_script": script}

    def quote(self, type_id: str, region: str, quantity: int, start: datetime, end: datetime) -> Decimal:
        answer = self.call("GET", "/v2/reservation/quote", params={
            "project": self.project, "instance_type": type_id, "region": region, "quantity": quantity,
            "start_time": mithril_time(start), "end_time": mithril_time(end)})
        offers = {offer["key"]: offer for offer in answer.get("offers") or []}
        offer = offers.get("standard") or next(iter(offers.values()), None)
        if offer is None:
            raise FlowProviderError(f"Mithril offers no reservation of {type_id} in {region} for that window",
                                    "try another window, type or region")
        return from_wire(offer["unit_price"])

    def reservations(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"project": self.project, "limit": PAGE}
            if cursor:
                params["next_cursor"] = cursor
            page = self.call("GET", "/v2/reservation", params=params)
            rows += page.get("data") or []
            cursor = page.get("next_cursor")
            if not cursor:
                return rows

    def reservation(self, reservation_id: str) -> dict[str, Any] | None:
        return next((r for r in self.reservations() if r.get("fid") == reservation_id), None)

    def own(self, name: str, before: set[str]) -> dict[str, Any] | None:
        """The live reservation of this name that is not one of those there `before`."""
        return next((r for r in self.reservations() if r.get("name") == name and r.get("status") in LIVE
                     and r["fid"] not in before), None)

    def observe(self, reservation_id: str, found: Mapping[str, Any] | None = None) -> dict[str, Any]:
        found = found or self.reservation(reservation_id)
        if found is None:
            raise FlowProviderError(f"reservation {reservation_id} is not on Mithril", "run `pulumi refresh`")
        instances = list(found.get("instances") or [])
        rows = {row["fid"]: row for row in self.call("GET", "/v2/instances", params={
            "project": self.project, "reservation_fid_in": reservation_id, "limit": PAGE}).get("data") or []}
        usage = self.call("GET", f"/v2/reservation/{reservation_id}/usage")["summary"]
        unit = from_wire(found["unit_price"])
        return {
            "reservation_id": reservation_id,
            "status": found["status"],
            "instance_ids": instances,
            "public_ips": [rows[i]["ssh_destination"] for i in instances if rows.get(i, {}).get("ssh_destination")],
            "private_ips": [rows[i]["private_ip"] for i in instances if rows.get(i, {}).get("private_ip")],
            **_ssh(),
            "unit_price": as_number(unit),
            "committed_usd": as_number(from_cents(int(usage["committed_cost_cents"]))),
            "spend_usd": as_number(cents_up(unit * _seconds(usage["reserved_instance_hours"]) / 3600)),
            "starts_at": mithril_time(moment(str(found["start_time"]))),
            "ends_at": mithril_time(moment(str(found["end_time"]))),
            "active_instance_hours": _hours(usage["active_instance_hours"]),
            "idle_instance_hours": _hours(usage["idle_instance_hours"]),
        }


def attached_volumes(props: Mapping[str, Any]) -> list[str]:
    """The volume ids attached to the instances: `volumes`, then those `mounts` mount."""
    attached = list(props.get("volumes") or [])
    return attached + [m["volume_id"] for m in props.get("mounts") or [] if m["volume_id"] not in attached]


def _ssh() -> dict[str, Any]:
    """How to reach an instance: what the Flow SDK says of a task's instances (reserved ones run the same images)."""
    from flow.domain.models.task import Task

    fields = Task.model_fields
    return {"ssh_user": fields["ssh_user"].default, "ssh_port": fields["ssh_port"].default}


def _ordered(made: Mapping[str, Any]) -> dict[str, Any]:
    """The outputs the order's own answer gives, when reading the reservation back failed."""
    return {"reservation_id": made["fid"], "status": made.get("status"),
            "instance_ids": list(made.get("instances") or []), "public_ips": [], "private_ips": [], **_ssh(),
            "unit_price": as_number(from_wire(made["unit_price"])),
            "committed_usd": as_number(from_wire(made["total_price"])), "spend_usd": 0.0,
            "starts_at": mithril_time(moment(str(made["start_time"]))),
            "ends_at": mithril_time(moment(str(made["end_time"]))),
            "active_instance_hours": 0.0, "idle_instance_hours": 0.0}


def _wanted_end(props: Mapping[str, Any], started: str) -> datetime | None:
    """The end the inputs ask for: `end_time`, or `duration_hours` after the start (given, or as it happened)."""
    if props.get("end_time") and not v.is_unknown(props["end_time"]):
        return moment(str(props["end_time"]))
    hours, start = props.get("duration_hours"), props.get("start_time") or started
    if hours is None or v.is_unknown(hours) or not start or v.is_unknown(start):
        return None
    return moment(str(start)) + timedelta(hours=float(hours))


def _seconds(duration: str) -> Decimal:
    """An ISO 8601 duration of seconds (`PT5400S`)."""
    seconds = duration.removeprefix("PT").removesuffix("S")
    return Decimal(seconds) if seconds.replace(".", "", 1).isdigit() else Decimal(0)


def _hours(duration: str) -> float:
    return float(_seconds(duration) / 3600)
