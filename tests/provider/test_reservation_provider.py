"""`FlowReservationProvider` against the emulator: the price guard before anything is committed, a purchase, an
extension in one request, pause and volumes in place, refresh of drift, import, and what a delete can and cannot do."""

from __future__ import annotations

import base64
import gzip
import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from pulumi_flow.provider import FlowReservationProvider, ReservationCommitmentError, ReservationPriceError
from pulumi_flow.provider import reservation as reservation_module
from pulumi_flow.testing.emulator import RunningEmulator
from tests.emulator.conftest import Clock

from .conftest import OWNER

A100_8X = "it_Sg1nDx1I8NFep60J"
REGION = "us-central1-a"


def later(hours: float) -> str:
    return (datetime.now(timezone.utc) + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


def checked_reservation(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"instance_type": "8xa100", "quantity": 2, "region": REGION, "duration_hours": 2,
                            "max_unit_price": 40.0, "reservation_name": "reserved-1a2b3c4d", "owner": OWNER}
    result = FlowReservationProvider().check({}, {**base, **changes})
    assert result.failures == [], result.failures
    return result.inputs


def unpacked(script: str) -> str:
    """The script Flow's runtime runs, and the user's script inside it: the SDK ships a long script gzipped and
    base64-encoded inside a short one, and the user's part base64-encoded in that."""
    packed = re.search(r"<< 'EOF_COMPRESSED_SCRIPT'\n(.*?)\nEOF_COMPRESSED_SCRIPT", script, re.S)
    full = gzip.decompress(base64.b64decode(packed.group(1))).decode() if packed else script
    encoded = re.findall(r"printf '%s\\n' '([A-Za-z0-9+/=]+)' \| base64 -d", full)
    return "\n".join([full, *(base64.b64decode(part).decode() for part in encoded)])


@pytest.fixture
def provider() -> FlowReservationProvider:
    return FlowReservationProvider()


@pytest.mark.parametrize(("changes", "field", "reason"), [
    ({"end_time": later(5)}, "end_time", "and duration_hours: give exactly one"),
    ({"duration_hours": None}, "end_time", "and duration_hours: give exactly one"),
    ({"duration_hours": None, "start_time": "2030-01-02T00:00:00Z", "end_time": "2030-01-01T00:00:00Z"},
     "end_time", "is not after start_time 2030-01-02T00:00:00Z"),
    ({"start_time": "2030-01-01T00:00:00"}, "start_time", "names no time zone"),
    ({"volumes": ["data"]}, "volumes", "must be a list of Mithril volume ids"),
    ({"max_unit_price": 0}, "max_unit_price", "must be a positive, finite price"),
    ({"duration_hours": 10_000}, "duration_hours", "at most 8784"),
])
def test_bad_inputs_are_refused_by_name_before_any_request(provider: FlowReservationProvider,
                                                           mithril: RunningEmulator, changes: dict[str, Any],
                                                           field: str, reason: str) -> None:
    base = {"instance_type": "8xa100", "region": REGION, "duration_hours": 2, "max_unit_price": 40.0,
            "reservation_name": "reserved-1a2b3c4d"}
    failures = provider.check({}, {**base, **changes}).failures
    assert [f.property for f in failures] == [field] and reason in failures[0].reason, failures
    assert mithril.control.requests() == []


def test_a_price_above_the_ceiling_commits_nothing(provider: FlowReservationProvider,
                                                   mithril: RunningEmulator) -> None:
    with pytest.raises(ReservationPriceError) as refused:
        provider.create(checked_reservation(max_unit_price=31.99))
    assert (refused.value.unit, refused.value.ceiling) == (Decimal("32.00"), Decimal("31.99"))
    assert "is $32.00 per instance-hour, above it; nothing was committed" in str(refused.value)
    assert "max_unit_price=$31.99" in str(refused.value)
    assert mithril.backend.list_reservations() == []
    assert [r for r in mithril.control.requests() if r["method"] != "GET"] == []


def test_a_price_that_moves_after_the_quote_is_refused_by_mithril(provider: FlowReservationProvider,
                                                                  mithril: RunningEmulator,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The order carries the ceiling: Mithril refuses it when the price rose after the quote."""
    mithril.control.set_reservation_quote(A100_8X, REGION, 4500)
    stale = reservation_module._Mithril.quote
    monkeypatch.setattr(reservation_module._Mithril, "quote",
                        lambda self, *args: stale(self, *args) - 10)  # what the quote said a moment before
    with pytest.raises(Exception, match=r"above max_unit_price \$40\.00"):
        provider.create(checked_reservation())
    assert mithril.backend.list_reservations() == []


def test_a_purchase_runs_now_and_records_what_it_committed(provider: FlowReservationProvider,
                                                           mithril: RunningEmulator) -> None:
    made = provider.create(checked_reservation())
    outs = made.outs
    assert made.id.startswith("res_") and outs["reservation_id"] == made.id
    assert (outs["status"], len(outs["instance_ids"]), len(outs["private_ips"])) == ("Active", 2, 2)
    assert (outs["unit_price"], outs["committed_usd"]) == (32.0, 128.0), "2 instances x 2 h x $32.00"
    held = mithril.backend.get_reservation(made.id)
    assert held["name"] == outs["reservation_name"] and held["total_price"] == "$128.00"
    assert outs["ends_at"] == held["end_time"].split(".")[0] + "Z"
    assert (outs["ssh_user"], outs["ssh_port"]) == ("ubuntu", 22)


def test_what_it_has_cost_so_far_is_every_reserved_instance_hour_at_its_price(provider: FlowReservationProvider,
                                                                            mithril: RunningEmulator) -> None:
    clock = Clock()
    clock.now = float(int(mithril.backend.clock()))  # on the second, as the start time is written
    mithril.backend.clock = clock
    start = datetime.fromtimestamp(clock.now + 3600, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    made = provider.create(checked_reservation(start_time=start))
    assert (made.outs["status"], made.outs["spend_usd"]) == ("Pending", 0.0)
    clock.now += 3600 + 1800 + 1  # from its start, half an hour and a second of 2 instances at $32.00
    assert provider.read(made.id, made.outs).outs["spend_usd"] == 32.02, "$32.0177... rounded up to the cent"


def test_flow_runtime_builds_the_startup_script_from_command_mounts_image_and_env(
        provider: FlowReservationProvider, mithril: RunningEmulator) -> None:
    """What a cluster on reserved capacity gives its reservation: the SDK's own startup script (as a bid gets),
    with the mounted volumes attached, and in state only what was asked for."""
    volume = mithril.backend.create_volume({"name": "data", "project": "proj_emulator0001", "region": REGION,
                                            "disk_interface": "File", "size_gb": 10})
    mount = {"volume_id": volume["fid"], "mount_path": "/data", "interface": "file"}
    inputs = checked_reservation(command="python serve.py\nsleep infinity", mounts=[mount], env={"STAGE": "prod"})
    made = provider.create(inputs)
    writes = [(r["method"], r["path"]) for r in mithril.control.requests() if r["method"] != "GET"]
    assert writes == [("POST", "/v2/reservation")], "building the script sends nothing"
    launch = mithril.backend.get_reservation(made.id)["launch_specification"]
    assert launch["volumes"] == [volume["fid"]]
    assert launch["startup_script"].startswith("#!/bin/bash") and "FLOW_ORIGIN" in launch["startup_script"]
    script = unpacked(launch["startup_script"])
    for what in ("python serve.py", "STAGE", "prod", "/data", volume["fid"]):
        assert what in script, f"Flow's runtime script carries {what!r}"
    assert made.outs["mounts"] == [mount] and made.outs["volumes"] == [] and "startup_script" not in {
        k for k, value in made.outs.items() if value}
    read = provider.read(made.id, made.outs)
    assert read.inputs is not None and read.inputs["volumes"] == [], "a mounted volume is not drift"
    assert provider.diff(made.id, read.outs, inputs).changes is False
    assert provider.diff(made.id, read.outs, {**inputs, "env": {"STAGE": "dev"}}).replaces == ["env"]


def test_a_startup_script_and_flow_runtime_inputs_are_refused_together(provider: FlowReservationProvider,
                                                                      mithril: RunningEmulator) -> None:
    failures = provider.check({}, {"instance_type": "8xa100", "region": REGION, "duration_hours": 2,
                                   "max_unit_price": 40.0, "reservation_name": "reserved-1a2b3c4d",
                                   "startup_script": "echo raw", "command": "echo built", "env": {"A": "b"}}).failures
    assert [f.property for f in failures] == ["startup_script"]
    assert "and command, env: the startup script is sent to Mithril as it is" in failures[0].reason
    assert mithril.control.requests() == []


def test_an_extension_is_one_request_in_place(provider: FlowReservationProvider, mithril: RunningEmulator) -> None:
    inputs = checked_reservation()
    made = provider.create(inputs)
    longer = checked_reservation(duration_hours=3)
    diff = provider.diff(made.id, made.outs, longer)
    assert diff.changes is True and diff.replaces == []
    mithril.control.clear_requests()
    updated = provider.update(made.id, made.outs, longer)
    writes = [(r["method"], r["path"]) for r in mithril.control.requests() if r["method"] != "GET"]
    assert writes == [("POST", f"/v2/reservation/{made.id}/extend")]
    assert updated.outs["committed_usd"] == 192.0, "one more hour of 2 instances at $32.00"
    assert provider.diff(made.id, updated.outs, longer).changes is False


def test_a_shorter_end_is_refused_before_anything_happens(provider: FlowReservationProvider,
                                                          mithril: RunningEmulator) -> None:
    made = provider.create(checked_reservation())
    with pytest.raises(ReservationCommitmentError, match="Mithril cannot shorten a reservation"):
        provider.diff(made.id, made.outs, checked_reservation(duration_hours=1))


def test_an_extension_above_the_ceiling_commits_nothing(provider: FlowReservationProvider,
                                                        mithril: RunningEmulator) -> None:
    made = provider.create(checked_reservation())
    mithril.control.set_reservation_quote(A100_8X, REGION, 4100)
    with pytest.raises(ReservationPriceError, match="the extension"):
        provider.update(made.id, made.outs, checked_reservation(duration_hours=3))
    assert mithril.backend.get_reservation(made.id)["total_price"] == "$128.00"


def test_pause_and_volumes_change_in_place(provider: FlowReservationProvider, mithril: RunningEmulator) -> None:
    volume = mithril.backend.create_volume({"name": "data", "project": "proj_emulator0001", "region": REGION,
                                            "disk_interface": "File", "size_gb": 10})
    made = provider.create(checked_reservation())
    changed = checked_reservation(paused=True, volumes=[volume["fid"]])
    mithril.control.clear_requests()
    updated = provider.update(made.id, made.outs, changed)
    writes = [(r["method"], r["path"]) for r in mithril.control.requests() if r["method"] != "GET"]
    assert writes == [("PATCH", f"/v2/reservation/{made.id}")]
    assert updated.outs["status"] == "Paused" and updated.outs["volumes"] == [volume["fid"]]


def test_refresh_shows_drift_and_an_ended_reservation_is_gone(provider: FlowReservationProvider,
                                                              mithril: RunningEmulator) -> None:
    made = provider.create(checked_reservation(duration_hours=None, end_time=later(2)))
    mithril.backend.extend_reservation(made.id, {"end_time": later(4)})
    mithril.backend.update_reservation(made.id, {"paused": True})
    read = provider.read(made.id, made.outs)
    assert read.outs["end_time"] == read.outs["ends_at"] != made.outs["ends_at"], "extended elsewhere"
    assert read.inputs is not None and read.inputs["paused"] is True
    mithril.control.end_reservation(made.id)
    assert provider.read(made.id, read.outs).id == ""


def test_import_records_what_mithril_tells(provider: FlowReservationProvider, mithril: RunningEmulator) -> None:
    made = provider.create(checked_reservation())
    imported = provider.read(made.id, {})
    assert imported.inputs is not None
    assert {k: imported.inputs[k] for k in ("instance_type", "quantity", "region", "max_unit_price")} == {
        "instance_type": "8xa100", "quantity": 2, "region": REGION, "max_unit_price": 32.0}
    checked = provider.check({}, imported.inputs)
    assert checked.failures == []
    assert provider.diff(made.id, imported.outs, checked.inputs).changes is False, "the next preview is clean"


def test_delete_ends_the_instances_and_a_pending_one_cannot_be_cancelled(provider: FlowReservationProvider,
                                                                         mithril: RunningEmulator) -> None:
    made = provider.create(checked_reservation())
    provider.delete(made.id, made.outs)
    gone = mithril.backend.get_reservation(made.id)
    assert gone["status"] == "Canceled" and gone["total_price"] == "$128.00", "a commitment: nothing refunded"
    provider.delete(made.id, made.outs)  # already gone: nothing to do

    pending = provider.create(checked_reservation(reservation_name="later-1a2b3c4d", start_time=later(24)))
    assert pending.outs["status"] == "Pending"
    with pytest.raises(ReservationCommitmentError, match="cannot cancel a reservation before it starts"):
        provider.delete(pending.id, pending.outs)
    assert mithril.backend.get_reservation(pending.id)["status"] == "Pending"


def test_a_lost_answer_adopts_the_reservation_it_made_and_a_failed_read_back_still_records_it(
        provider: FlowReservationProvider, mithril: RunningEmulator) -> None:
    """A commitment cannot be undone: an order whose answer was lost is found, not bought twice, and one whose read
    back failed is still recorded (from the order's answer), so nothing committed is left out of the stack."""
    mithril.control.add_fault(kind="accept_then_fail", method="POST", path="/v2/reservation", status=502)
    made = provider.create(checked_reservation(reservation_name="chosen"))  # a name the user chose
    (held,) = mithril.backend.list_reservations()
    assert made.id == held["fid"], "adopted: it appeared during this very create"
    mithril.control.clear_faults()

    mithril.control.add_fault(kind="status", method="GET", path=r"/v2/reservation/.*/usage", status=400, times=10)
    second = provider.create(checked_reservation(reservation_name="second"))
    held = mithril.backend.get_reservation(second.id)
    assert {key: second.outs[key] for key in ("reservation_id", "status", "instance_ids", "unit_price",
                                              "committed_usd", "spend_usd", "starts_at", "ends_at")} == {
        "reservation_id": held["fid"], "status": "Active", "instance_ids": held["instances"], "unit_price": 32.0,
        "committed_usd": 128.0, "spend_usd": 0.0, "starts_at": held["start_time"].split(".")[0] + "Z",
        "ends_at": held["end_time"].split(".")[0] + "Z"}, "recorded from the order's answer"
    assert len(mithril.backend.list_reservations()) == 2


def test_a_lost_answer_does_not_adopt_an_older_reservation_of_a_chosen_name(provider: FlowReservationProvider,
                                                                           mithril: RunningEmulator) -> None:
    older = provider.create(checked_reservation(reservation_name="chosen"))
    mithril.control.add_fault(kind="accept_then_fail", method="POST", path="/v2/reservation", status=502)
    adopted = provider.create(checked_reservation(reservation_name="chosen"))
    assert adopted.id != older.id, "the reservation this create made, not the one before it"
