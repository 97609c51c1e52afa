"""The emulated project's records and their API shape (`to_api`): what the backend keeps, as Mithril shows it."""

from __future__ import annotations

import secrets
from datetime import datetime, timezone
from typing import Any

import attrs

from pulumi_flow.money import from_cents, limit_price

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
INSTANCE_PREEMPTING = "STATUS_PREEMPTING"
INSTANCE_PREEMPTED = "STATUS_PREEMPTED"
INSTANCE_TERMINATED = "STATUS_TERMINATED"
INSTANCE_PAUSED = "STATUS_PAUSED"


def iso_time(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def dollars(cents: int) -> str:
    """Cents in Mithril's wire form, `"$25.60"`."""
    return limit_price(from_cents(cents))


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


@attrs.define
class Instance:
    fid: str
    name: str
    bid: str | None  # None for a reservation's instance
    instance_type: str
    region: str
    created_at: float
    ssh_destination: str
    private_ip: str
    status: str = INSTANCE_NEW
    reservation: str | None = None

    def to_api(self) -> dict[str, Any]:
        return {
            "fid": self.fid,
            "name": self.name,
            "project": PROJECT_ID,
            "created_at": iso_time(self.created_at),
            "created_by": USER_ID,
            "instance_type": self.instance_type,
            "region": self.region,
            "bid": self.bid,
            "reservation": self.reservation,
            "ssh_destination": self.ssh_destination if self.status in (INSTANCE_RUNNING, INSTANCE_PREEMPTING) else None,
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
    preempting_since: float | None = None  # when Mithril gave notice of a preemption still to come

    @property
    def live(self) -> bool:
        return self.status != BID_TERMINATED

    @property
    def holds_capacity(self) -> bool:
        """Its machines occupy the market's capacity: allocated, or running out their preemption notice."""
        return self.status in (BID_ALLOCATED, BID_PREEMPTING)

    def to_api(self) -> dict[str, Any]:
        return {
            "fid": self.fid,
            "name": self.name,
            "project": PROJECT_ID,
            "created_by": USER_ID,
            "created_at": iso_time(self.created_at),
            "deactivated_at": iso_time(self.deactivated_at),
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
            "created_at": iso_time(self.created_at),
            "deleted_at": iso_time(self.deleted_at),
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
            "created_at": iso_time(self.created_at),
            "required": self.required,
        }
