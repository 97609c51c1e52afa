"""Mithril's history routes, from the auction's own acts on a driven clock: what each instance was charged, period by
period, its status changes, each bid's events, and the market over time."""

from __future__ import annotations

import json
import urllib.error
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from pulumi_flow.emulator.exceptions import EmulatorError
from pulumi_flow.emulator.models import MithrilBackend
from pulumi_flow.emulator.records import iso_time
from pulumi_flow.testing.emulator import RunningEmulator
from tests.emulator.conftest import Clock
from tests.emulator.test_models import A100_8X, bid_body

REGION = "us-central1-a"


def seconds(row: dict[str, Any]) -> Decimal:
    start, end = (datetime.fromisoformat(row[k].replace("Z", "+00:00")) for k in ("start_time", "end_time"))
    return Decimal((end - start).total_seconds())


def test_a_scripted_run_is_billed_at_the_market_period_by_period(backend: MithrilBackend, clock: Clock) -> None:
    """3 market changes, 2 preemptions, 1 pause, a reprice: every period at the market price, none while paused,
    preempted or waiting."""
    bid, _ = backend.create_bid(bid_body(limit_price="$30.00", instance_quantity=1), None)  # market $16.00
    fid = bid["fid"]
    clock.now += 10  # allocated at 1010
    backend.get_bid(fid)
    clock.now += 3590  # one hour at $16
    backend.set_market_price(A100_8X, REGION, 2000)  # change 1: $20 at 4600
    clock.now += 1800
    backend.set_market_price(A100_8X, REGION, 3100)  # change 2: above the bid: preempted at 6400
    assert backend.get_bid(fid)["status"] == "Open"
    clock.now += 600
    # The reprice at 7000 beats $31: allocated at once, the bid having waited past the allocation delay.
    assert backend.update_bid(fid, {"limit_price": "$40.00"})["status"] == "Allocated"
    clock.now += 1210
    backend.update_bid(fid, {"paused": True})  # paused at 8210
    clock.now += 3600
    backend.update_bid(fid, {"paused": False})  # resumed at 11810, billed again
    clock.now += 900
    backend.preempt(fid)  # preemption 2 at 12710
    clock.now += 10
    backend.get_bid(fid)  # re-allocated at 12720 (the bid beats $31)
    clock.now += 60
    backend.set_market_price(A100_8X, REGION, 2500)  # change 3: $25 at 12780
    clock.now += 120
    backend.cancel_bid(fid)  # terminated at 12900

    rows = backend.instance_pricing_history(bid=fid)
    assert len(rows) == 3, "a first instance, and a new one after each preemption"
    periods = [(e["price_cents"], seconds(e)) for row in rows for e in row["events"]]
    assert periods == [(1600, 3590), (2000, 1800), (3100, 1210), (3100, 900), (3100, 60), (2500, 120)]
    spend = sum(Decimal(cents) * secs / 3600 for cents, secs in periods) / 100
    expected = (Decimal(1600 * 3590) + 2000 * 1800 + 3100 * (1210 + 900 + 60) + 2500 * 120) / 3600 / 100
    assert spend == expected

    statuses = [[e["status"] for e in row["events"]] for row in backend.instance_status_history(bid=fid)]
    assert statuses == [
        ["STATUS_NEW", "STATUS_RUNNING", "STATUS_PREEMPTED"],
        ["STATUS_NEW", "STATUS_RUNNING", "STATUS_PAUSED", "STATUS_NEW", "STATUS_RUNNING", "STATUS_PREEMPTED"],
        ["STATUS_NEW", "STATUS_RUNNING", "STATUS_TERMINATED"],
    ]
    events = [(e["event_type"], e["limit_price"]) for e in backend.bid_history(fid)["events"]]
    assert events == [("Placed", "$30.00"), ("Allocated", "$30.00"), ("Preempted", "$30.00"),
                      ("Limit Price Changed", "$40.00"), ("Allocated", "$40.00"), ("Paused", "$40.00"),
                      ("Resumed", "$40.00"), ("Preempted", "$40.00"), ("Allocated", "$40.00"),
                      ("Terminated", "$40.00")]

    (series,) = backend.price_history([A100_8X], REGION, samples=-1)["series"]
    assert series["spot_prices"] == ["$16.00", "$20.00", "$31.00", "$25.00"]
    assert series["timestamps"][1:] == [iso_time(4600), iso_time(6400), iso_time(12780)]


def test_history_filters_by_instance_and_time_and_keeps_a_running_period_open(backend: MithrilBackend,
                                                                               clock: Clock) -> None:
    bid, _ = backend.create_bid(bid_body(instance_quantity=2), None)
    clock.now += 10
    instances = backend.get_bid(bid["fid"])["instances"]
    clock.now += 100
    (row,) = backend.instance_pricing_history(instance=instances[1])
    assert row["instance_fid"] == instances[1] and row["events"][0]["end_time"] is None
    assert backend.instance_pricing_history(bid="bid_nothing") == []
    later = backend.instance_status_history(bid=bid["fid"], start=clock.now - 50)
    assert [[e["status"] for e in r["events"]] for r in later] == [[], []], "both booted at 1015, before the window"
    assert backend.price_history([A100_8X], REGION, samples=0)["series"][0]["spot_prices"] == []


def test_history_survives_a_reload(backend: MithrilBackend, clock: Clock) -> None:
    bid, _ = backend.create_bid(bid_body(), None)
    clock.now += 10
    backend.get_bid(bid["fid"])
    reloaded = MithrilBackend(clock=clock)
    reloaded.load(backend.dump())
    assert reloaded.instance_pricing_history(bid=bid["fid"]) == backend.instance_pricing_history(bid=bid["fid"])
    assert reloaded.bid_history(bid["fid"]) == backend.bid_history(bid["fid"])


def test_a_scheduled_market_moves_at_its_own_moments_with_what_it_causes(backend: MithrilBackend,
                                                                          clock: Clock) -> None:
    """Scripted over time, the market is applied at the scheduled moments, however late the emulator is next asked:
    the preemption and the re-allocation happen then, and each instance is billed to the second."""
    bid, _ = backend.create_bid(bid_body(instance_quantity=1), None)  # $30 bid, market $16
    clock.now += 10
    backend.get_bid(bid["fid"])  # allocated at 1010
    backend.schedule_market(A100_8X, REGION, [(100, 2000), (200, 3100), (300, 2500)])
    clock.now += 1000  # one late look at 2010
    first, second = backend.instance_pricing_history(bid=bid["fid"])
    assert [(e["price_cents"], e["start_time"], e["end_time"]) for e in first["events"]] == [
        (1600, iso_time(1010), iso_time(1110)), (2000, iso_time(1110), iso_time(1210))]
    assert [(e["price_cents"], e["start_time"], e["end_time"]) for e in second["events"]] == [
        (2500, iso_time(1310), None)], "re-allocated when the market fell back under the bid"
    assert [(e["event_type"], e["timestamp"]) for e in backend.bid_history(bid["fid"])["events"]][2:] == [
        ("Preempted", iso_time(1210)), ("Allocated", iso_time(1310))]
    with pytest.raises(EmulatorError, match="in the past"):
        backend.schedule_market(A100_8X, REGION, [(-1, 2000)])


def test_the_control_api_schedules_a_market(mithril: RunningEmulator) -> None:
    mithril.control.schedule_market("8xa100", REGION, [(0, 2000), (3600, 2500)])
    assert mithril.backend.current_price(A100_8X, REGION)["spot_price_cents"] == 2000, "due at once"
    (series,) = mithril.backend.price_history([A100_8X], REGION, samples=-1)["series"]
    assert series["spot_prices"] == ["$16.00", "$20.00"], "the second move is an hour away"
    with pytest.raises(urllib.error.HTTPError) as refused:
        mithril.control.call("POST", "market", {"instance_type": "8xa100", "region": REGION,
                                                "schedule": [{"after_seconds": 1, "price_cents": "$20"}]})
    assert refused.value.code == 422


def test_a_state_saved_before_the_history_was_kept_loads_and_its_bids_still_end(backend: MithrilBackend,
                                                                                clock: Clock) -> None:
    running, _ = backend.create_bid(bid_body(instance_quantity=1), None)
    clock.now += 10
    backend.get_bid(running["fid"])  # allocated at 1010
    saved = json.loads(backend.dump())
    del saved["history"], saved["scheduled"]
    clock.now += 100
    old = MithrilBackend(clock=clock)
    old.load(json.dumps(saved))
    old.cancel_bid(running["fid"])  # at 1110
    (row,) = old.instance_pricing_history(bid=running["fid"])
    assert [(e["price_cents"], e["start_time"], e["end_time"]) for e in row["events"]] == [
        (1600, iso_time(1010), iso_time(1110))], "billed from its creation, as far as the saved state tells"


def test_time_windows_keep_what_overlaps_them(backend: MithrilBackend, clock: Clock) -> None:
    bid, _ = backend.create_bid(bid_body(instance_quantity=1), None)
    clock.now += 10
    backend.get_bid(bid["fid"])  # billed from 1010
    backend.schedule_market(A100_8X, REGION, [(90, 2000), (190, 2500)])  # at 1100 and 1200
    clock.now += 500
    backend.cancel_bid(bid["fid"])  # at 1510

    def prices(start: float | None, end: float | None) -> list[int]:
        (row,) = backend.instance_pricing_history(bid=bid["fid"], start=start, end=end)
        return [e["price_cents"] for e in row["events"]]

    assert prices(None, None) == [1600, 2000, 2500]
    assert prices(1150, None) == [2000, 2500] and prices(None, 1099) == [1600] and prices(1100, 1100) == [1600, 2000]
    assert prices(1600, None) == [], "ended before the window"

    def series(start: float | None, end: float | None) -> list[str]:
        (row,) = backend.price_history([A100_8X], REGION, start, end, samples=-1)["series"]
        return row["spot_prices"]

    assert series(1050, 1150) == ["$20.00"] and series(None, 1100) == ["$16.00", "$20.00"]
    assert backend.price_history([A100_8X], REGION, samples=2)["series"][0]["spot_prices"] == ["$20.00", "$25.00"]


def test_each_row_has_the_shape_mithril_gives(backend: MithrilBackend, clock: Clock) -> None:
    bid, _ = backend.create_bid(bid_body(instance_quantity=1), None)
    clock.now += 10
    (instance,) = backend.get_bid(bid["fid"])["instances"]
    clock.now += 100
    backend.update_bid(bid["fid"], {"paused": True})  # at 1110
    (priced,) = backend.instance_pricing_history(instance=instance)
    assert priced == {"instance_fid": instance, "bid_fid": bid["fid"], "reservation_fid": None,
                      "events": [{"price_cents": 1600, "start_time": iso_time(1010), "end_time": iso_time(1110)}]}
    (changed,) = backend.instance_status_history(instance=instance)
    assert changed == {"instance_fid": instance, "bid_fid": bid["fid"], "reservation_fid": None,
                       "events": [{"timestamp": iso_time(1010), "status": "STATUS_NEW"},
                                  {"timestamp": iso_time(1015), "status": "STATUS_RUNNING"},
                                  {"timestamp": iso_time(1110), "status": "STATUS_PAUSED"}]}
    assert backend.bid_history(bid["fid"])["events"][0] == {
        "timestamp": iso_time(1000), "event_type": "Placed", "limit_price": "$30.00", "user_id": None,
        "memory_gb": None, "persistent_disk_change": None}
    (series,) = backend.price_history([A100_8X], REGION)["series"]
    assert series == {"instance_type": A100_8X, "region": REGION, "timestamps": [iso_time(1000)],
                      "spot_prices": ["$16.00"], "reserved_prices": ["$32.00"], "region_disabled": False}


def test_a_reload_keeps_every_route_and_the_schedule(backend: MithrilBackend, clock: Clock) -> None:
    bid, _ = backend.create_bid(bid_body(instance_quantity=1), None)
    clock.now += 10
    backend.get_bid(bid["fid"])
    backend.schedule_market(A100_8X, REGION, [(50, 2000), (500, 3100)])
    clock.now += 100
    reloaded = MithrilBackend(clock=clock)
    reloaded.load(backend.dump())
    for read in ("instance_pricing_history", "instance_status_history"):
        assert getattr(reloaded, read)(bid=bid["fid"]) == getattr(backend, read)(bid=bid["fid"]), read
    assert reloaded.price_history(None, None, samples=-1) == backend.price_history(None, None, samples=-1)
    clock.now += 500
    assert reloaded.get_bid(bid["fid"])["status"] == "Open", "the scheduled rise preempts after the reload too"


def test_windows_include_their_ends_and_filter_by_instance(backend: MithrilBackend, clock: Clock) -> None:
    bid, _ = backend.create_bid(bid_body(instance_quantity=2), None)
    clock.now += 10
    first, second = backend.get_bid(bid["fid"])["instances"]  # NEW at 1010, RUNNING at 1015
    clock.now += 100
    (row,) = backend.instance_status_history(instance=second, start=1010, end=1010)
    assert row["instance_fid"] == second and [e["status"] for e in row["events"]] == ["STATUS_NEW"]
    assert [[e["status"] for e in r["events"]] for r in backend.instance_status_history(bid=bid["fid"], end=1012)] \
        == [["STATUS_NEW"], ["STATUS_NEW"]]
    assert {r["instance_fid"] for r in backend.instance_status_history(instance=first)} == {first}


def test_an_old_states_instances_and_bids_are_on_record_after_a_load(backend: MithrilBackend, clock: Clock) -> None:
    bid, _ = backend.create_bid(bid_body(instance_quantity=1), None)
    clock.now += 10
    (instance,) = backend.get_bid(bid["fid"])["instances"]
    saved = json.loads(backend.dump())
    del saved["history"], saved["scheduled"]
    old = MithrilBackend(clock=clock)
    old.load(json.dumps(saved))
    (row,) = old.instance_status_history(instance=instance)
    assert row["bid_fid"] == bid["fid"] and row["events"] == [{"timestamp": iso_time(1010), "status": "STATUS_NEW"}]
    assert old.bid_history(bid["fid"]) == {"bid_fid": bid["fid"], "events": []}, "its events before the load: none"
    clock.now += 100
    old.set_market_price(A100_8X, REGION, 2000)  # at 1110: the adopted instance's market moves
    (priced,) = old.instance_pricing_history(instance=instance)
    assert [e["price_cents"] for e in priced["events"]] == [1600, 2000]


def test_a_reloaded_instance_is_billed_at_its_own_markets_moves(backend: MithrilBackend, clock: Clock) -> None:
    bid, _ = backend.create_bid(bid_body(instance_quantity=1), None)
    clock.now += 10
    backend.get_bid(bid["fid"])
    reloaded = MithrilBackend(clock=clock)
    reloaded.load(backend.dump())
    clock.now += 50
    reloaded.set_market_price(A100_8X, REGION, 2000)
    (row,) = reloaded.instance_pricing_history(bid=bid["fid"])
    assert [e["price_cents"] for e in row["events"]] == [1600, 2000]
