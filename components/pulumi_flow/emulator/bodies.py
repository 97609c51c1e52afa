"""Request bodies, checked the way Mithril's validation checks them before any state is looked at.

Each `parse` returns a frozen record or raises `Unprocessable` naming the field; what needs the project's
state (does the volume exist, is the type sold in the region) is the backend's to check.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

import attrs

from pulumi_flow.emulator.exceptions import Unprocessable
from pulumi_flow.emulator.records import PROJECT_ID
from pulumi_flow.money import NotMoneyError, from_wire, in_cents

MAX_STARTUP_SCRIPT = 10_000  # the SDK's own limit on a script it sends
MAX_INSTANCES_PER_BID = 256
MAX_VOLUME_GB = 16384
VOLUME_NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")  # Mithril's spec, CreateVolumeRequest.name
DISK_INTERFACES = ("Block", "File")


def parse_dollars(text: object, field: str) -> int:
    """`"$12.50"` -> 1250 cents, exactly; refuses anything else the way Mithril's validation does."""
    try:
        value = in_cents(from_wire(text))
    except NotMoneyError:
        raise Unprocessable(f"{field} must be a dollar string such as '$12.50', got {text!r}", field) from None
    if value <= 0:
        raise Unprocessable(f"{field} must be positive, got {text!r}", field)
    return value


def required_str(body: dict[str, Any], field: str) -> str:
    value = body.get(field)
    if not isinstance(value, str) or not value:
        raise Unprocessable(f"{field} is required and must be a non-empty string, got {value!r}", field)
    return value


def _project(body: dict[str, Any]) -> None:
    if body.get("project") != PROJECT_ID:
        raise Unprocessable(f"unknown project {body.get('project')!r}", "project")


def _count(body: dict[str, Any], field: str, top: int) -> int:
    value = body.get(field)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= top:
        raise Unprocessable(f"{field} must be an integer 1..{top}, got {value!r}", field)
    return value


def volume_name(body: dict[str, Any]) -> str:
    name = required_str(body, "name")
    if not VOLUME_NAME.fullmatch(name) or len(name) > 63:
        raise Unprocessable(f"name must match {VOLUME_NAME.pattern} (at most 63 characters), got {name!r}", "name")
    return name


def parses_as_time(text: str) -> bool:
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


@attrs.frozen
class BidRequest:
    """`POST /v2/spot/bids`."""

    name: str
    instance_type: str
    region: str
    quantity: int
    limit_price_cents: int
    volumes: tuple[str, ...]
    ssh_keys: tuple[str, ...]
    startup_script: str | None
    image_version: Any

    @classmethod
    def parse(cls, body: dict[str, Any]) -> BidRequest:
        instance_type = required_str(body, "instance_type")
        region = required_str(body, "region")
        _project(body)
        quantity = _count(body, "instance_quantity", MAX_INSTANCES_PER_BID)
        launch = LaunchSpecification.parse(body)
        return cls(name=required_str(body, "name"), instance_type=instance_type, region=region, quantity=quantity,
                   limit_price_cents=parse_dollars(body.get("limit_price"), "limit_price"),
                   volumes=launch.volumes, ssh_keys=launch.ssh_keys, startup_script=launch.startup_script,
                   image_version=launch.image_version)

    def launch_specification(self) -> dict[str, Any]:
        return LaunchSpecification(self.volumes, self.ssh_keys, self.startup_script, self.image_version).to_api()


@attrs.frozen
class LaunchSpecification:
    """A bid's or a reservation's `launch_specification`."""

    volumes: tuple[str, ...]
    ssh_keys: tuple[str, ...]
    startup_script: str | None
    image_version: Any

    @classmethod
    def parse(cls, body: dict[str, Any]) -> LaunchSpecification:
        spec = body.get("launch_specification")
        if not isinstance(spec, dict):
            raise Unprocessable("launch_specification must be an object", "launch_specification")
        ids: dict[str, tuple[str, ...]] = {}
        for key in ("volumes", "ssh_keys"):
            items = spec.get(key)  # absent and null both mean none
            if items is not None and (not isinstance(items, list) or not all(isinstance(i, str) for i in items)):
                raise Unprocessable(f"launch_specification.{key} must be a list of ids, got {items!r}",
                                    f"launch_specification.{key}")
            ids[key] = tuple(items or ())
        script = spec.get("startup_script")
        if script is not None and (not isinstance(script, str) or len(script) > MAX_STARTUP_SCRIPT):
            raise Unprocessable(f"launch_specification.startup_script must be a string of at most "
                                f"{MAX_STARTUP_SCRIPT} characters", "launch_specification.startup_script")
        return cls(ids["volumes"], ids["ssh_keys"], script, spec.get("image_version"))

    def to_api(self) -> dict[str, Any]:
        return {"volumes": list(self.volumes), "ssh_keys": list(self.ssh_keys), "startup_script": self.startup_script,
                "kubernetes_cluster": None, "image_version": self.image_version, "memory_gb": None}


def parse_time(value: Any, field: str) -> float:
    """An ISO 8601 time (the spec's `format: datetime`), as a POSIX timestamp; no offset means UTC."""
    if not isinstance(value, str) or not parses_as_time(value):
        raise Unprocessable(f"{field} must be an ISO 8601 time such as 2024-01-01T00:00:00Z, got {value!r}", field)
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


@attrs.frozen
class ReservationRequest:
    """`POST /v2/reservation`."""

    name: str
    instance_type: str
    region: str
    quantity: int
    start: float
    end: float
    launch: LaunchSpecification
    max_unit_price_cents: int | None

    @classmethod
    def parse(cls, body: dict[str, Any]) -> ReservationRequest:
        instance_type = required_str(body, "instance_type")
        region = required_str(body, "region")
        _project(body)
        price = body.get("price_specification") or {}
        if not isinstance(price, dict):
            raise Unprocessable("price_specification must be an object", "price_specification")
        if price.get("offer_key", "standard") != "standard":
            raise Unprocessable(f"price_specification.offer_key: the only offer is 'standard', got "
                                f"{price.get('offer_key')!r}", "price_specification.offer_key")
        ceiling = price.get("max_unit_price")
        if ceiling is not None and (not isinstance(ceiling, int) or isinstance(ceiling, bool) or ceiling < 0):
            raise Unprocessable(f"price_specification.max_unit_price must be whole cents, at least 0, got "
                                f"{ceiling!r}", "price_specification.max_unit_price")
        return cls(name=required_str(body, "name"), instance_type=instance_type, region=region,
                   quantity=_count(body, "instance_quantity", MAX_INSTANCES_PER_BID),
                   start=parse_time(body.get("start_time"), "start_time"),
                   end=parse_time(body.get("end_time"), "end_time"),
                   launch=LaunchSpecification.parse(body), max_unit_price_cents=ceiling)


@attrs.frozen
class BidUpdate:
    """`PATCH /v2/spot/bids/{id}`: a new limit price, a pause or a resume, the volumes attached; None leaves it as
    it is."""

    limit_price_cents: int | None
    paused: bool | None
    volumes: tuple[str, ...] | None = None

    CHANGEABLE = frozenset({"limit_price", "paused", "volumes"})

    @classmethod
    def parse(cls, body: dict[str, Any]) -> BidUpdate:
        unapplied = sorted(set(body) - cls.CHANGEABLE)
        if unapplied:
            # Answering 200 while changing nothing would tell the client its change was made.
            raise Unprocessable(f"only limit_price, paused and volumes can be changed on a bid, not {unapplied}",
                                unapplied[0])
        price = body.get("limit_price")
        paused = body.get("paused")
        if paused is not None and not isinstance(paused, bool):
            raise Unprocessable(f"paused must be a boolean, got {paused!r}", "paused")
        volumes = body.get("volumes")
        if volumes is not None and (not isinstance(volumes, list)
                                    or not all(isinstance(v, str) and v for v in volumes)):
            raise Unprocessable(f"volumes must be a list of volume ids, got {volumes!r}", "volumes")
        if volumes is not None and len(set(volumes)) != len(volumes):
            raise Unprocessable(f"volumes names a volume more than once: {volumes!r}", "volumes")
        return cls(limit_price_cents=None if price is None else parse_dollars(price, "limit_price"), paused=paused,
                   volumes=None if volumes is None else tuple(volumes))


@attrs.frozen
class VolumeRequest:
    """`POST /v2/volumes`."""

    name: str
    region: str
    interface: str
    size_gb: int

    @classmethod
    def parse(cls, body: dict[str, Any], regions: tuple[str, ...]) -> VolumeRequest:
        name = volume_name(body)
        region = required_str(body, "region")
        if region not in regions:
            raise Unprocessable(f"unknown region {region!r}", "region")
        interface = body.get("disk_interface")
        if interface not in DISK_INTERFACES:
            raise Unprocessable(f"disk_interface must be 'Block' or 'File', got {interface!r}", "disk_interface")
        size = _count(body, "size_gb", MAX_VOLUME_GB)
        _project(body)
        return cls(name=name, region=region, interface=str(interface), size_gb=size)


@attrs.frozen
class SshKeyRequest:
    """`POST /v2/ssh-keys`: no public key means Mithril generates the pair."""

    name: str
    public_key: str | None
    required: bool

    @classmethod
    def parse(cls, body: dict[str, Any]) -> SshKeyRequest:
        name = required_str(body, "name")
        public_key = body.get("public_key")
        if public_key is not None and (not isinstance(public_key, str) or not public_key.strip()):
            raise Unprocessable(f"public_key must be an OpenSSH public key string, got {public_key!r}", "public_key")
        return cls(name=name, public_key=public_key, required=bool(body.get("required")))  # absent: not required


@attrs.frozen
class ApiKeyRequest:
    """`POST /v2/api-keys`."""

    name: str
    expires_at: str | None

    @classmethod
    def parse(cls, body: dict[str, Any]) -> ApiKeyRequest:
        name = required_str(body, "name")
        expires_at = body.get("expires_at")
        if expires_at is not None and not (isinstance(expires_at, str) and parses_as_time(expires_at)):
            raise Unprocessable(f"expires_at must be an ISO 8601 date-time, got {expires_at!r}", "expires_at")
        return cls(name=name, expires_at=expires_at)
