"""Request bodies, checked before any state is looked at: each refusal names its field (the 422 Mithril's
validation answers with) and says what was expected; what passes is kept exactly."""

from __future__ import annotations

from typing import Any

import pytest

from pulumi_flow.emulator.bodies import ApiKeyRequest, BidRequest, BidUpdate, SshKeyRequest, VolumeRequest
from pulumi_flow.emulator.catalog import REGIONS
from pulumi_flow.emulator.exceptions import Unprocessable
from pulumi_flow.emulator.records import PROJECT_ID

VOLUME = {"name": "data", "region": "us-central1-a", "disk_interface": "File", "size_gb": 100, "project": PROJECT_ID}
BID = {"name": "train", "instance_type": "it_Sg1nDx1I8NFep60J", "region": "us-central1-a", "project": PROJECT_ID,
       "instance_quantity": 2, "limit_price": "$25.60",
       "launch_specification": {"volumes": ["vol_1"], "ssh_keys": ["sshkey_1"], "startup_script": "echo hi"}}


def refusal(parse: Any, *args: Any) -> tuple[str, str | None]:
    with pytest.raises(Unprocessable) as refused:
        parse(*args)
    assert refused.value.status == 422
    return refused.value.message, refused.value.field


@pytest.mark.parametrize(("change", "message", "field"), [
    ({"region": "mars-1"}, "unknown region 'mars-1'", "region"),
    ({"disk_interface": "NFS"}, "disk_interface must be 'Block' or 'File', got 'NFS'", "disk_interface"),
    ({"size_gb": 0}, "size_gb must be an integer 1..16384, got 0", "size_gb"),
    ({"size_gb": 16385}, "size_gb must be an integer 1..16384, got 16385", "size_gb"),
    ({"project": "proj_other"}, "unknown project 'proj_other'", "project"),
    ({"name": "Data"}, "name must match ^[a-z]([-a-z0-9]*[a-z0-9])?$ (at most 63 characters), got 'Data'", "name"),
])
def test_a_volume_request_is_refused_by_field(change: dict[str, Any], message: str, field: str) -> None:
    assert refusal(VolumeRequest.parse, {**VOLUME, **change}, REGIONS) == (message, field)


def test_a_volume_request_is_kept_as_sent() -> None:
    assert VolumeRequest.parse({**VOLUME, "disk_interface": "Block", "size_gb": 16384}, REGIONS) == VolumeRequest(
        name="data", region="us-central1-a", interface="Block", size_gb=16384)


@pytest.mark.parametrize("given", [None, {}])
def test_a_bid_without_volumes_or_keys_has_none(given: Any) -> None:
    spec = {"volumes": given, "ssh_keys": given} if given is None else given
    parsed = BidRequest.parse({**BID, "launch_specification": spec})
    assert (parsed.volumes, parsed.ssh_keys, parsed.startup_script) == ((), (), None)


def test_a_bid_request_is_kept_as_sent() -> None:
    parsed = BidRequest.parse(BID)
    assert (parsed.quantity, parsed.limit_price_cents, parsed.volumes, parsed.ssh_keys) == (
        2, 2560, ("vol_1",), ("sshkey_1",))
    assert parsed.launch_specification()["startup_script"] == "echo hi"


@pytest.mark.parametrize(("body", "message", "field"), [
    ({"limit_price": "25"}, "limit_price must be a dollar string such as '$12.50', got '25'", "limit_price"),
    ({"limit_price": "$0"}, "limit_price must be positive, got '$0'", "limit_price"),
    ({"paused": "yes"}, "paused must be a boolean, got 'yes'", "paused"),
    ({"name": "x"}, "only limit_price, paused and volumes can be changed on a bid, not ['name']", "name"),
    ({"volumes": "vol_1"}, "volumes must be a list of volume ids, got 'vol_1'", "volumes"),
    ({"volumes": ["vol_1", ""]}, "volumes must be a list of volume ids, got ['vol_1', '']", "volumes"),
    ({"volumes": ["vol_1", "vol_1"]}, "volumes names a volume more than once: ['vol_1', 'vol_1']", "volumes"),
])
def test_a_bid_update_is_refused_by_field(body: dict[str, Any], message: str, field: str) -> None:
    assert refusal(BidUpdate.parse, body) == (message, field)


@pytest.mark.parametrize(("body", "message", "field"), [
    ({}, "name is required and must be a non-empty string, got None", "name"),
    ({"name": "k", "public_key": "  "}, "public_key must be an OpenSSH public key string, got '  '", "public_key"),
    ({"name": "k", "public_key": 7}, "public_key must be an OpenSSH public key string, got 7", "public_key"),
])
def test_an_ssh_key_request_is_refused_by_field(body: dict[str, Any], message: str, field: str) -> None:
    assert refusal(SshKeyRequest.parse, body) == (message, field)


@pytest.mark.parametrize(("body", "expected"), [
    ({"name": "k"}, SshKeyRequest("k", None, False)),
    ({"name": "k", "required": True}, SshKeyRequest("k", None, True)),
    ({"name": "k", "public_key": "ssh-ed25519 AAAA me"}, SshKeyRequest("k", "ssh-ed25519 AAAA me", False)),
])
def test_an_ssh_key_request_is_kept_as_sent(body: dict[str, Any], expected: SshKeyRequest) -> None:
    assert SshKeyRequest.parse(body) == expected


@pytest.mark.parametrize("expires_at", ["tomorrow", 5, ""])
def test_an_api_key_request_with_a_bad_expiry_is_refused(expires_at: Any) -> None:
    assert refusal(ApiKeyRequest.parse, {"name": "ci", "expires_at": expires_at}) == (
        f"expires_at must be an ISO 8601 date-time, got {expires_at!r}", "expires_at")


@pytest.mark.parametrize(("expires_at", "kept"), [(None, None), ("2027-01-01T00:00:00Z", "2027-01-01T00:00:00Z")])
def test_an_api_key_request_keeps_its_expiry(expires_at: Any, kept: Any) -> None:
    assert ApiKeyRequest.parse({"name": "ci", "expires_at": expires_at}) == ApiKeyRequest("ci", kept)
