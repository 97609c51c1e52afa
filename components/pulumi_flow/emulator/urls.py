"""The route table: (method, path pattern) -> handler name on `MithrilResponses`."""

from __future__ import annotations

import re
from pathlib import Path

from pulumi_flow.emulator import spec

# Any one path segment: an id that does not exist (whatever it looks like) reaches its handler's 404.
ID = r"(?P<{}>[^/]+)"

ROUTES: tuple[tuple[str, str, str], ...] = (
    ("GET", "/v2/me", "me"),
    ("GET", "/v2/projects", "projects"),
    ("GET", "/v2/instance-types", "instance_types"),
    ("GET", "/v2/spot/availability", "spot_availability"),
    ("GET", "/v2/pricing/current", "current_prices"),
    ("GET", "/v2/pricing/history", "price_history"),
    # Outside /v2 and the spec, but the SDK reads it to pick a volume's region (`flow volume create`).
    ("GET", "/marketplace/v1/regions", "marketplace_regions"),
    ("GET", "/v2/reservation", "list_reservations"),
    ("POST", "/v2/reservation", "create_reservation"),
    ("GET", "/v2/reservation/instance-types", "reservation_instance_types"),
    ("GET", "/v2/reservation/quote", "reservation_quote"),
    ("GET", "/v2/reservation/availability", "reservation_availability"),
    ("PATCH", "/v2/reservation/" + ID.format("reservation_fid"), "patch_reservation"),
    ("GET", "/v2/reservation/" + ID.format("reservation_fid") + "/extension-availability",
     "reservation_extension_availability"),
    ("POST", "/v2/reservation/" + ID.format("reservation_fid") + "/extend", "extend_reservation"),
    ("POST", "/v2/reservation/" + ID.format("reservation_fid") + "/terminate-instances",
     "terminate_reservation_instances"),
    ("GET", "/v2/reservation/" + ID.format("reservation_fid") + "/history", "reservation_history"),
    ("GET", "/v2/reservation/" + ID.format("reservation_fid") + "/usage", "reservation_usage"),
    ("GET", "/v2/quotas", "quotas"),
    ("GET", "/v2/cpu/instance-types", "cpu_instance_types"),
    ("GET", "/v2/spot/bids", "list_bids"),
    ("POST", "/v2/spot/bids", "create_bid"),
    ("GET", "/v2/spot/bids/" + ID.format("bid_id"), "get_bid"),
    ("PATCH", "/v2/spot/bids/" + ID.format("bid_id"), "patch_bid"),
    ("DELETE", "/v2/spot/bids/" + ID.format("bid_id"), "delete_bid"),
    ("GET", "/v2/instances", "list_instances"),
    ("GET", "/v2/instances/pricing/history", "instance_pricing_history"),
    ("GET", "/v2/instances/status/history", "instance_status_history"),
    ("GET", "/v2/spot/bids/" + ID.format("bid_id") + "/history", "bid_history"),
    ("GET", "/v2/spot/bids/" + ID.format("bid_id") + "/status", "bid_status"),
    ("GET", "/v2/volumes", "list_volumes"),
    ("POST", "/v2/volumes", "create_volume"),
    ("PATCH", "/v2/volumes/" + ID.format("volume_id"), "patch_volume"),
    ("DELETE", "/v2/volumes/" + ID.format("volume_id"), "delete_volume"),
    ("GET", "/v2/ssh-keys", "list_ssh_keys"),
    ("POST", "/v2/ssh-keys", "create_ssh_key"),
    ("PATCH", "/v2/ssh-keys/" + ID.format("key_id"), "patch_ssh_key"),
    ("DELETE", "/v2/ssh-keys/" + ID.format("key_id"), "delete_ssh_key"),
    ("GET", "/v2/api-keys", "list_api_keys"),
    ("POST", "/v2/api-keys", "create_api_key"),
    ("DELETE", "/v2/api-keys/" + ID.format("key_id"), "delete_api_key"),
    # Control API: no Mithril path starts with /_emulator.
    ("GET", "/_emulator/state", "control_state"),
    ("POST", "/_emulator/bids/" + ID.format("bid_id") + "/preempt", "control_preempt"),
    ("POST", "/_emulator/bids/" + ID.format("bid_id") + "/terminate", "control_terminate"),
    ("POST", "/_emulator/bids/" + ID.format("bid_id") + "/pause", "control_pause"),
    ("POST", "/_emulator/bids/" + ID.format("bid_id") + "/limit-price", "control_set_limit"),
    ("DELETE", "/_emulator/bids/" + ID.format("bid_id"), "control_forget_bid"),
    ("DELETE", "/_emulator/volumes/" + ID.format("volume_id"), "control_delete_volume"),
    ("POST", "/_emulator/market", "control_market"),
    ("POST", "/_emulator/capacity", "control_capacity"),
    ("POST", "/_emulator/reservations/quote", "control_reservation_quote"),
    ("POST", "/_emulator/reservations/" + ID.format("reservation_fid") + "/end", "control_end_reservation"),
    ("POST", "/_emulator/settings", "control_settings"),
    ("GET", "/_emulator/faults", "control_faults"),
    ("POST", "/_emulator/faults", "control_add_fault"),
    ("DELETE", "/_emulator/faults", "control_clear_faults"),
    ("GET", "/_emulator/requests", "control_requests"),
    ("DELETE", "/_emulator/requests", "control_clear_requests"),
)

COMPILED: tuple[tuple[str, re.Pattern[str], str], ...] = tuple(
    (method, re.compile(pattern), handler) for method, pattern, handler in ROUTES
)


def resolve(method: str, path: str) -> tuple[str, dict[str, str]] | None:
    """The handler name and path parameters, or None (404 or 405 is the caller's call)."""
    for route_method, pattern, handler in COMPILED:
        match = pattern.fullmatch(path)
        if match and route_method == method:
            return handler, match.groupdict()
    return None


def path_known(path: str) -> bool:
    return any(pattern.fullmatch(path) for _, pattern, _ in COMPILED)


def allowed_methods(path: str) -> list[str]:
    """The methods the emulator serves on this path, for a 405's `Allow` header."""
    return sorted({method for method, pattern, _ in COMPILED if pattern.fullmatch(path)})


def spec_path() -> Path:
    return spec.spec_path()


def mithril_route(method: str, path: str) -> bool:
    """Is this a route of Mithril's API (one the emulator may not emulate)?"""
    return spec.operation(method, path) is not None
