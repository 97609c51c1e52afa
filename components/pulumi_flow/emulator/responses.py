"""HTTP in, backend call, HTTP out. Nothing here decides what the auction does."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

import attrs

from pulumi_flow.emulator.bodies import parse_time
from pulumi_flow.emulator.exceptions import EmulatorError
from pulumi_flow.emulator.faults import FaultPlan
from pulumi_flow.emulator.models import MithrilBackend
from pulumi_flow.emulator.records import ORG_ID, PROJECT_ID, PROJECT_NAME, USER_ID


@attrs.frozen
class Request:
    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]
    body: Any
    params: Mapping[str, str] = attrs.field(factory=dict)

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def arg_list(self, name: str) -> list[str] | None:
        """Mithril's `*_in` filters: repeated or comma-separated."""
        values = self.query.get(name)
        if not values:
            return None
        return [item for value in values for item in value.split(",") if item]

    def json_object(self) -> dict[str, Any]:
        if not isinstance(self.body, dict):
            raise EmulatorError(422, "request body must be a JSON object", "body")
        return self.body


def _in_project(project: Any, *, required: bool = False) -> None:
    """Every route scopes to the emulator's one project alike: another project is refused, never
    answered from (or stored into) this one."""
    if project is None and not required:
        return
    if project != PROJECT_ID:
        raise EmulatorError(422, f"unknown project {project!r}; this emulator has {PROJECT_ID!r}", "project")


def _time(req: Request, name: str) -> float | None:
    """A time filter, in the ISO 8601 form the spec's examples give (`2024-01-01T00:00:00Z`)."""
    raw = req.arg(name)
    return None if raw is None else parse_time(raw, name)


def _required_arg(req: Request, name: str) -> str:
    value = req.arg(name)
    if not value:
        raise EmulatorError(422, f"{name} is required", name)
    return value


def _required_time(req: Request, name: str) -> float:
    moment = _time(req, name)
    if moment is None:
        raise EmulatorError(422, f"{name} is required, an ISO 8601 time such as 2024-01-01T00:00:00Z", name)
    return moment


def _whole(req: Request, name: str, *, required: bool = False) -> int | None:
    raw = req.arg(name)
    if raw is None and not required:
        return None
    if raw is None or not raw.isdigit() or int(raw) < 1:
        raise EmulatorError(422, f"{name} must be a whole number of at least 1, got {raw!r}", name)
    return int(raw)


def _history_filters(req: Request) -> dict[str, Any]:
    """The spot history's filters. A reservation's instances are paid for by its commitment, not in this history,
    so `reservation_fid` matches no row."""
    _in_project(req.arg("project"), required=True)
    if req.arg("reservation_fid") is not None:
        return {"instance": "", "bid": None, "start": None, "end": None}
    return {"instance": req.arg("instance_fid"), "bid": req.arg("bid_fid"), "start": _time(req, "start_time"),
            "end": _time(req, "end_time")}


def _page(req: Request, key: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Mithril's cursor paging: `limit` rows (the spec allows 1..100) from the cursor, and the next cursor."""
    raw = req.arg("limit") or "100"
    if not raw.isdigit() or not 1 <= int(raw) <= 100:
        raise EmulatorError(422, f"limit must be a whole number from 1 to 100, got {raw!r}", "limit")
    limit = int(raw)
    cursor = req.arg("next_cursor") or "0"
    if not cursor.isdigit():
        raise EmulatorError(422, f"next_cursor {cursor!r} is not one this emulator gave", "next_cursor")
    start = int(cursor)
    more = start + limit < len(rows)
    return {key: rows[start:start + limit], "next_cursor": str(start + limit) if more else None}


class RequestLog:
    """Every Mithril API request served (control calls excluded), for request-count assertions."""

    def __init__(self) -> None:
        self._entries: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.keep_bodies = False

    def record(self, method: str, path: str, status: int, body: Any = None, query: str = "") -> None:
        entry: dict[str, Any] = {"method": method, "path": path, "query": query, "status": status, "at": time.time()}
        if self.keep_bodies:
            entry["body"] = body
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


@attrs.frozen
class Response:
    status: int
    body: Any = None
    headers: Mapping[str, str] = attrs.field(factory=dict)


def ok(body: Any) -> Response:
    return Response(200, body)


def created(body: Any) -> Response:
    return Response(201, body)


NO_CONTENT = Response(204)
# The timings `POST /_emulator/settings` may change, in seconds.
SETTABLE = ("allocation_delay", "boot_delay", "preemption_notice")


def validation_error(err: EmulatorError) -> Response:
    """The spec's HTTPValidationError for 422, a plain `detail` for everything else."""
    if err.status == 422:
        loc: list[str | int] = ["body", err.field] if err.field else ["body"]
        return Response(422, {"detail": [{"loc": loc, "msg": err.message, "type": "value_error"}]})
    return Response(err.status, {"detail": err.message})


def _created_at() -> str:
    return "2025-01-01T00:00:00Z"


class MithrilResponses:
    """One method per route; `urls.py` maps paths to them."""

    def __init__(self, backend: MithrilBackend, faults: FaultPlan, log: RequestLog) -> None:
        self.backend = backend
        self.faults = faults
        self.log = log

    # -- identity and catalog ---------------------------------------------------------

    def me(self, req: Request) -> Response:
        return ok({"id": USER_ID, "fid": USER_ID, "email": "emulator@example.com", "user_name": "emulator",
                   "organization_id": ORG_ID, "organization_role": "admin"})

    def projects(self, req: Request) -> Response:
        return ok([{"fid": PROJECT_ID, "name": PROJECT_NAME, "created_at": _created_at()}])

    def instance_types(self, req: Request) -> Response:
        return ok(self.backend.list_instance_types())

    def spot_availability(self, req: Request) -> Response:
        return ok(self.backend.availability())

    def current_prices(self, req: Request) -> Response:
        instance_type = req.arg("instance_type")
        if not instance_type:
            raise EmulatorError(422, "instance_type is required", "instance_type")
        return ok(self.backend.current_price(instance_type, req.arg("region")))

    def marketplace_regions(self, req: Request) -> Response:
        return ok({"data": self.backend.marketplace_regions()})

    def price_history(self, req: Request) -> Response:
        wanted = req.arg("instance_types")
        types = [t.strip() for t in wanted.split(",") if t.strip()] if wanted else None
        samples = req.arg("num_samples")  # the spec bounds it (-1..1000); -1 is every sample
        return ok(self.backend.price_history(types, req.arg("region"), _time(req, "start_time"),
                                             _time(req, "end_time"), int(samples) if samples is not None else 100))

    def instance_pricing_history(self, req: Request) -> Response:
        return ok(_page(req, "instances", self.backend.instance_pricing_history(**_history_filters(req))))

    def instance_status_history(self, req: Request) -> Response:
        return ok(_page(req, "instances", self.backend.instance_status_history(**_history_filters(req))))

    def bid_history(self, req: Request) -> Response:
        return ok(self.backend.bid_history(req.params["bid_id"]))

    # -- reservations -----------------------------------------------------------------------

    def list_reservations(self, req: Request) -> Response:
        _in_project(req.arg("project"))
        rows = [r for r in self.backend.list_reservations(req.arg("status"))
                if req.arg("instance_type") in (None, r["instance_type"]) and req.arg("region") in (None, r["region"])]
        return ok(_page(req, "data", rows))

    def create_reservation(self, req: Request) -> Response:
        return created(self.backend.create_reservation(req.json_object(), req.headers.get("idempotency-key")))

    def reservation_instance_types(self, req: Request) -> Response:
        return ok(self.backend.reservation_instance_types())

    def reservation_quote(self, req: Request) -> Response:
        _in_project(req.arg("project"), required=True)
        start, end = _required_time(req, "start_time"), _required_time(req, "end_time")
        return ok(self.backend.reservation_quote(_required_arg(req, "instance_type"), _required_arg(req, "region"),
                                                 _whole(req, "quantity", required=True) or 1, start, end))

    def reservation_availability(self, req: Request) -> Response:
        _in_project(req.arg("project"), required=True)
        return ok(self.backend.reservation_availability(
            _required_arg(req, "instance_type"), _required_arg(req, "region"), req.arg("mode") or "latest_end_time",
            start=_time(req, "start_time"), end=_time(req, "end_time"), earliest=_time(req, "earliest_start_time"),
            latest=_time(req, "latest_end_time"), quantity=_whole(req, "quantity")))

    def patch_reservation(self, req: Request) -> Response:
        return ok(self.backend.update_reservation(req.params["reservation_fid"], req.json_object()))

    def reservation_extension_availability(self, req: Request) -> Response:
        return ok(self.backend.reservation_extension_availability(req.params["reservation_fid"]))

    def extend_reservation(self, req: Request) -> Response:
        return ok(self.backend.extend_reservation(req.params["reservation_fid"], req.json_object()))

    def terminate_reservation_instances(self, req: Request) -> Response:
        self.backend.terminate_reservation_instances(req.params["reservation_fid"], req.json_object())
        return ok({})

    def reservation_history(self, req: Request) -> Response:
        return ok(self.backend.reservation_history(req.params["reservation_fid"]))

    def reservation_usage(self, req: Request) -> Response:
        return ok(self.backend.reservation_usage(req.params["reservation_fid"]))

    def quotas(self, req: Request) -> Response:
        return ok([])

    def cpu_instance_types(self, req: Request) -> Response:
        return ok([])  # a GPU-only emulator: no CPU SKUs

    # -- bids -----------------------------------------------------------------------------

    def list_bids(self, req: Request) -> Response:
        _in_project(req.arg("project"))
        bids = self.backend.list_bids(name=req.arg("name"), status=req.arg("status"),
                                      region=req.arg("region"), instance_type=req.arg("instance_type"))
        return ok(_page(req, "data", bids))

    def create_bid(self, req: Request) -> Response:
        bid, _ = self.backend.create_bid(req.json_object(), req.headers.get("idempotency-key"))
        return created(bid)

    def get_bid(self, req: Request) -> Response:
        return ok(self.backend.get_bid(req.params["bid_id"]))

    def bid_status(self, req: Request) -> Response:
        return ok(self.backend.bid_status(req.params["bid_id"]))

    def patch_bid(self, req: Request) -> Response:
        return ok(self.backend.update_bid(req.params["bid_id"], req.json_object()))

    def delete_bid(self, req: Request) -> Response:
        self.backend.cancel_bid(req.params["bid_id"])
        return NO_CONTENT

    def list_instances(self, req: Request) -> Response:
        _in_project(req.arg("project"), required=True)
        return ok(_page(req, "data", self.backend.list_instances(req.arg_list("bid_fid_in"),
                                                                 req.arg_list("reservation_fid_in"))))

    # -- volumes ----------------------------------------------------------------------------

    def list_volumes(self, req: Request) -> Response:
        _in_project(req.arg("project"))
        return ok(self.backend.list_volumes(include_deleted=req.arg("include_deleted") == "true"))

    def create_volume(self, req: Request) -> Response:
        return created(self.backend.create_volume(req.json_object(), req.headers.get("idempotency-key")))

    def patch_volume(self, req: Request) -> Response:
        return ok(self.backend.rename_volume(req.params["volume_id"], req.json_object()))

    def delete_volume(self, req: Request) -> Response:
        self.backend.delete_volume(req.params["volume_id"])
        return NO_CONTENT

    # -- keys ---------------------------------------------------------------------------------

    def list_ssh_keys(self, req: Request) -> Response:
        _in_project(req.arg("project"))
        return ok(self.backend.list_ssh_keys())

    def create_ssh_key(self, req: Request) -> Response:
        body = req.json_object()
        _in_project(body.get("project"))
        return created(self.backend.create_ssh_key(body))

    def patch_ssh_key(self, req: Request) -> Response:
        return ok(self.backend.update_ssh_key(req.params["key_id"], req.json_object()))

    def delete_ssh_key(self, req: Request) -> Response:
        self.backend.delete_ssh_key(req.params["key_id"])
        return NO_CONTENT

    def list_api_keys(self, req: Request) -> Response:
        return ok(self.backend.list_api_keys())

    def create_api_key(self, req: Request) -> Response:
        return created(self.backend.create_api_key(req.json_object()))

    def delete_api_key(self, req: Request) -> Response:
        self.backend.delete_api_key(req.params["key_id"])
        return NO_CONTENT

    # -- control API: /_emulator/... --------------------------------------------------------

    def control_state(self, req: Request) -> Response:
        return ok(self.backend.live())

    def control_preempt(self, req: Request) -> Response:
        return ok(self.backend.preempt(req.params["bid_id"]))

    def control_terminate(self, req: Request) -> Response:
        return ok(self.backend.terminate_bid(req.params["bid_id"]))

    def control_forget_bid(self, req: Request) -> Response:
        self.backend.forget_bid(req.params["bid_id"])
        return NO_CONTENT

    def control_pause(self, req: Request) -> Response:
        paused = req.json_object().get("paused", True)
        return ok(self.backend.update_bid(req.params["bid_id"], {"paused": paused}))

    def control_set_limit(self, req: Request) -> Response:
        return ok(self.backend.update_bid(req.params["bid_id"],
                                          {"limit_price": req.json_object().get("limit_price")}))

    def control_delete_volume(self, req: Request) -> Response:
        self.backend.delete_volume_behind_back(req.params["volume_id"])
        return NO_CONTENT

    def control_market(self, req: Request) -> Response:
        body = req.json_object()
        if "schedule" in body:
            moves = body["schedule"]
            if not isinstance(moves, list) or not all(
                    isinstance(m, dict) and isinstance(m.get("after_seconds"), int | float)
                    and isinstance(m.get("price_cents"), int) and not isinstance(m.get("price_cents"), bool)
                    for m in moves):
                raise EmulatorError(422, "schedule must be a list of {after_seconds: number, price_cents: integer}",
                                    "schedule")
            self.backend.schedule_market(str(body.get("instance_type")), str(body.get("region")),
                                         [(float(m["after_seconds"]), m["price_cents"]) for m in moves])
            return ok({"instance_type": body.get("instance_type"), "region": body.get("region"), "schedule": moves})
        price = body.get("price_cents")
        if not isinstance(price, int) or isinstance(price, bool):
            raise EmulatorError(422, f"price_cents must be an integer, got {price!r}", "price_cents")
        self.backend.set_market_price(str(body.get("instance_type")), str(body.get("region")), price)
        return ok({"instance_type": body.get("instance_type"), "region": body.get("region"), "price_cents": price})

    def control_reservation_quote(self, req: Request) -> Response:
        body = req.json_object()
        price = body.get("unit_price_cents")
        if not isinstance(price, int) or isinstance(price, bool) or price < 0:
            raise EmulatorError(422, f"unit_price_cents must be a whole number >= 0, got {price!r}",
                                "unit_price_cents")
        self.backend.set_reservation_quote(str(body.get("instance_type")), str(body.get("region")), price)
        return ok({"instance_type": body.get("instance_type"), "region": body.get("region"),
                   "unit_price_cents": price})

    def control_end_reservation(self, req: Request) -> Response:
        return ok(self.backend.end_reservation(req.params["reservation_fid"]))

    def control_capacity(self, req: Request) -> Response:
        """`{region, capacity, instance_type?}`: how many instances the region's markets hold from now on."""
        body = req.json_object()
        region, instance_type = body.get("region"), body.get("instance_type")
        if not isinstance(region, str):
            raise EmulatorError(422, f"region must be a region name, got {region!r}", "region")
        if instance_type is not None and not isinstance(instance_type, str):
            raise EmulatorError(422, f"instance_type must be an instance type, got {instance_type!r}", "instance_type")
        noticed = self.backend.set_capacity(region, body.get("capacity"), instance_type)  # type: ignore[arg-type]
        return ok({"region": region, "instance_type": instance_type, "capacity": body.get("capacity"),
                   "preempted": noticed})

    def control_settings(self, req: Request) -> Response:
        body = req.json_object()
        settings = self.backend.settings
        for key in SETTABLE:
            if key in body:
                value = body[key]
                if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                    raise EmulatorError(422, f"{key} must be a number >= 0, got {value!r}", key)
                setattr(settings, key, float(value))
        return ok({key: getattr(settings, key) for key in SETTABLE})

    def control_add_fault(self, req: Request) -> Response:
        try:
            rule = self.faults.add(req.json_object())
        except (TypeError, ValueError) as exc:
            raise EmulatorError(422, f"bad fault rule: {exc}", "body") from None
        return created(rule.to_json())

    def control_faults(self, req: Request) -> Response:
        return ok(self.faults.to_json())

    def control_requests(self, req: Request) -> Response:
        return ok(self.log.entries())

    def control_clear_requests(self, req: Request) -> Response:
        self.log.clear()
        return NO_CONTENT

    def control_clear_faults(self, req: Request) -> Response:
        self.faults.clear()
        return NO_CONTENT
