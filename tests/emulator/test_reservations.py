"""Mithril's reservations in the emulator, on a driven clock: quotes and the price guard, availability, the lifecycle
(Pending, Active, Paused, Ended), extension, terminate-instances, history and usage; then through the Flow SDK over
HTTP, every answer checked against the spec."""

from __future__ import annotations

import urllib.error
from typing import Any

import pytest

from pulumi_flow.emulator.exceptions import EmulatorError
from pulumi_flow.emulator.models import MithrilBackend
from pulumi_flow.emulator.records import PROJECT_ID, iso_time
from pulumi_flow.testing.emulator import RunningEmulator
from tests.emulator.conftest import Clock
from tests.emulator.test_models import A100_8X

REGION = "us-central1-a"
HOUR = 3600.0
RESERVED_CENTS = 3200  # the 8x A100 market here is $16.00 an instance-hour; reserved is twice it


def body(clock: Clock, *, start_in: float = 100, hours: float = 2, quantity: int = 2, **extra: Any) -> dict[str, Any]:
    start = clock.now + start_in
    return {"project": PROJECT_ID, "instance_type": A100_8X, "region": REGION, "instance_quantity": quantity,
            "name": "reserved", "start_time": iso_time(start), "end_time": iso_time(start + hours * HOUR),
            "launch_specification": {"volumes": [], "ssh_keys": []}, **extra}


def test_a_reservation_lives_from_its_start_to_its_end_and_owes_its_total(backend: MithrilBackend,
                                                                          clock: Clock) -> None:
    made = backend.create_reservation(body(clock))
    assert (made["status"], made["instances"], made["unit_price"], made["total_price"]) == (
        "Pending", [], "$32.00", "$128.00")  # 2 instances x 2 hours x $32.00
    clock.now += 100
    active = backend.get_reservation(made["fid"])
    assert active["status"] == "Active" and len(active["instances"]) == 2
    instances = backend.list_instances(reservation_ids=[made["fid"]])
    assert {i["reservation"] for i in instances} == {made["fid"]} and {i["bid"] for i in instances} == {None}
    clock.now += 5
    assert {i["status"] for i in backend.list_instances(reservation_ids=[made["fid"]])} == {"STATUS_RUNNING"}
    assert backend.instance_pricing_history(bid=None, instance=instances[0]["fid"]) == [], "not spot-billed"

    clock.now += HOUR
    paused = backend.update_reservation(made["fid"], {"paused": True})
    assert paused["status"] == "Paused"
    assert {backend.instances[i["fid"]].status for i in instances} == {"STATUS_PAUSED"}
    clock.now += 60
    resumed = backend.update_reservation(made["fid"], {"paused": False})
    assert resumed["status"] == "Active" and set(resumed["instances"]).isdisjoint(active["instances"]), "new ones"

    one_more_hour = iso_time(backend.desk.get(made["fid"]).end + HOUR)
    extended = backend.extend_reservation(made["fid"], {"end_time": one_more_hour})
    assert extended["total_price"] == "$192.00", "one more hour of 2 instances at $32.00"
    clock.now += 2 * HOUR
    ended = backend.get_reservation(made["fid"])
    assert ended["status"] == "Ended" and ended["total_price"] == "$192.00"
    assert {backend.instances[i].status for i in resumed["instances"]} == {"STATUS_TERMINATED"}, "ended with it"
    events = [e["event_type"] for e in backend.reservation_history(made["fid"])["events"]]
    assert events == ["Placed", "Terms Set", "Active", "Paused", "Resumed", "Terms Changed", "Ended"]

    usage = backend.reservation_usage(made["fid"])
    summary = usage["summary"]
    assert summary["committed_cost_cents"] == summary["net_cost_cents"] == 19200
    assert summary["reserved_instance_hours"] == f"PT{int(2 * 3 * HOUR)}S"
    assert summary["active_instance_hours"] == f"PT{int(2 * (3 * HOUR - 60))}S", "not while paused"
    assert summary["idle_instance_hours"] == "PT120S"
    assert [e["event_type"] for e in usage["reservation_events"]] == ["Started", "Paused", "Extended"]


def test_usage_counts_to_now_while_it_runs(backend: MithrilBackend, clock: Clock) -> None:
    """Midway, usage is what has been reserved and run up to now, not the whole window; before its start, nothing."""
    made = backend.create_reservation(body(clock, start_in=100, hours=4, quantity=3))
    before = backend.reservation_usage(made["fid"])["summary"]
    assert (before["reserved_instance_hours"], before["active_instance_hours"]) == ("PT0S", "PT0S")
    clock.now += 100 + 1800  # half an hour into it
    usage = backend.reservation_usage(made["fid"])
    assert usage["reservation"] == {"fid": made["fid"], "order_name": "reserved", "start_date": made["start_time"],
                                    "end_date": made["end_time"], "status": "Active", "committed_cost_cents": 38400}
    summary = usage["summary"]
    assert summary == {"committed_cost_cents": 38400, "flex_use_credits_cents": 0, "early_termination_credits_cents": 0,
                       "net_cost_cents": 38400, "reserved_instance_hours": "PT5400S",
                       "active_instance_hours": "PT5400S", "idle_instance_hours": "PT0S",
                       "as_of": iso_time(clock.now)}, "3 instances x 1,800 s, all of it active; $32 x 3 x 4 h owed"


def test_a_quote_above_the_ceiling_reserves_nothing(backend: MithrilBackend, clock: Clock) -> None:
    start, end = clock.now + 100, clock.now + 100 + HOUR
    offer = backend.reservation_quote(A100_8X, REGION, 2, start, end)["offers"][0]
    assert (offer["unit_price"], offer["total_price"]) == ("$32.00", "$64.00")
    backend.set_reservation_quote(A100_8X, REGION, 4000)  # the price moves between the quote and the order
    with pytest.raises(EmulatorError, match=r"unit price is \$40\.00, above max_unit_price \$32\.00") as refused:
        backend.create_reservation(body(clock, hours=1, price_specification={"max_unit_price": RESERVED_CENTS}))
    assert refused.value.status == 409
    assert backend.list_reservations() == [] and backend.list_instances() == []
    made = backend.create_reservation(body(clock, hours=1, price_specification={"max_unit_price": 4000}))
    assert made["unit_price"] == "$40.00"


def test_availability_in_its_three_modes(backend: MithrilBackend, clock: Clock) -> None:
    held = backend.create_reservation(body(clock, start_in=HOUR, hours=2, quantity=10))  # of 16
    start, end = clock.now, clock.now + 4 * HOUR
    window = {"earliest": None, "latest": None}
    ask = lambda mode, q, s=start, e=end: backend.reservation_availability(  # noqa: E731
        A100_8X, REGION, mode, start=s, end=e, quantity=q, **window)
    assert ask("check", 6) == [{"start_time": iso_time(start), "end_time": iso_time(end), "quantity": 6}]
    assert ask("check", 7) == [], "10 of 16 are held for part of the window"
    assert ask("latest_end_time", 7)[0]["end_time"] == held["start_time"], "7 fit until the reservation starts"
    assert backend.reservation_availability(A100_8X, REGION, "slots", start=None, end=None, earliest=start,
                                            latest=end, quantity=None)[0]["quantity"] == 6
    with pytest.raises(EmulatorError, match="mode must be one of slots, latest_end_time, check"):
        ask("soon", 1)
    with pytest.raises(EmulatorError, match=r"only 6 .* not 7"):
        backend.create_reservation(body(clock, start_in=0, hours=4, quantity=7))


def test_terminating_instances_reduces_it_and_refunds_nothing(backend: MithrilBackend, clock: Clock) -> None:
    made = backend.create_reservation(body(clock, start_in=0, quantity=2))
    first, second = backend.get_reservation(made["fid"])["instances"]
    backend.terminate_reservation_instances(made["fid"], {"instances": [first], "reduce_capacity": True})
    kept = backend.get_reservation(made["fid"])
    assert (kept["status"], kept["instance_quantity"], kept["instances"]) == ("Active", 1, [second])
    assert backend.instances[first].status == "STATUS_TERMINATED"
    assert backend.instances[second].status != "STATUS_TERMINATED"
    with pytest.raises(EmulatorError, match="reduce_capacity must be true"):
        backend.terminate_reservation_instances(made["fid"], {"instances": [second]})
    backend.terminate_reservation_instances(made["fid"], {"instances": [second], "reduce_capacity": True})
    gone = backend.get_reservation(made["fid"])
    assert gone["status"] == "Canceled" and gone["total_price"] == made["total_price"], "a commitment"


def test_a_reservation_can_end_early_and_survives_a_reload(backend: MithrilBackend, clock: Clock) -> None:
    made = backend.create_reservation(body(clock, start_in=0))
    backend.set_reservation_quote(A100_8X, REGION, 4100)
    again = MithrilBackend(backend.settings, clock=clock)
    again.load(backend.dump())
    assert again.get_reservation(made["fid"]) == backend.get_reservation(made["fid"])
    assert again.reservation_quote(A100_8X, REGION, 1, clock.now, clock.now + HOUR)["offers"][0]["unit_price"] == \
        "$41.00"
    ended = again.end_reservation(made["fid"])
    assert ended["status"] == "Ended" and ended["deactivated_at"] == iso_time(clock.now)
    with pytest.raises(EmulatorError, match="is Ended: it cannot be extended"):
        again.extend_reservation(made["fid"], {"end_time": iso_time(clock.now + 9 * HOUR)})


def test_the_flow_sdk_reads_and_extends_a_reservation(flow_client: Any, mithril: RunningEmulator) -> None:
    clock = Clock()
    clock.now = mithril.backend.clock()
    made = mithril.backend.create_reservation(body(clock, start_in=0, quantity=1))
    listed = flow_client.reservations.list()
    assert [r.reservation_id for r in listed] == [made["fid"]]
    got = flow_client.reservations.get(made["fid"])
    assert got.reservation_id == made["fid"]
    latest = flow_client.reservations.extension_availability(made["fid"])
    assert latest
    new_end = iso_time(clock.now + 5 * HOUR)
    extended = flow_client.reservations.extend(made["fid"], new_end)
    assert extended.reservation_id == made["fid"]
    assert mithril.backend.get_reservation(made["fid"])["end_time"] == new_end
    posts = [r for r in mithril.control.requests() if r["method"] == "POST"]
    assert [r["path"] for r in posts] == [f"/v2/reservation/{made['fid']}/extend"], "one request"


def test_the_control_api_moves_the_quote_and_ends_a_reservation(mithril: RunningEmulator) -> None:
    mithril.control.set_reservation_quote(A100_8X, REGION, 4500)
    clock = Clock()
    clock.now = mithril.backend.clock()
    made = mithril.backend.create_reservation(body(clock, start_in=0, quantity=1))
    assert made["unit_price"] == "$45.00"
    ended = mithril.control.end_reservation(made["fid"])
    assert ended["status"] == "Ended" and mithril.backend.get_reservation(made["fid"])["status"] == "Ended"
    with pytest.raises(urllib.error.HTTPError) as refused:
        mithril.control.set_reservation_quote(A100_8X, REGION, -1)
    assert refused.value.code == 422
