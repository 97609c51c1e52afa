"""Per-market capacity, the notice before a preemption, and a bid's status: the auction's rules, without HTTP."""

from __future__ import annotations

import pytest

from pulumi_flow.emulator.exceptions import EmulatorError
from pulumi_flow.emulator.models import MithrilBackend
from pulumi_flow.emulator.records import PROJECT_ID, iso_time
from tests.emulator.conftest import Clock
from tests.emulator.test_models import A100_8X, bid_body

REGION = "us-central1-a"


def _room(backend: MithrilBackend, region: str = REGION, instance_type: str = A100_8X) -> int:
    return next(int(row["capacity"]) for row in backend.availability()
                if row["region"] == region and row["instance_type"] == instance_type)


def _placed(backend: MithrilBackend, clock: Clock, quantity: int = 1, region: str = REGION) -> str:
    bid, _ = backend.create_bid(bid_body(instance_quantity=quantity, region=region), None)
    clock.now += 1
    return str(bid["fid"])


def test_a_market_allocates_only_what_it_holds_and_a_cut_preempts_the_newest(backend: MithrilBackend,
                                                                            clock: Clock) -> None:
    backend.set_capacity(REGION, 3, A100_8X)
    first, second = _placed(backend, clock, 2), _placed(backend, clock, 1)
    clock.now += 10
    assert [backend.get_bid(f)["status"] for f in (first, second)] == ["Allocated", "Allocated"]
    assert _room(backend) == 0
    waiting = _placed(backend, clock, 1)
    clock.now += 10
    assert backend.get_bid(waiting)["status"] == "Open", "a full market allocates nothing more"

    assert backend.set_capacity(REGION, 2, A100_8X) == [second], "the newest allocation goes first"
    assert backend.get_bid(second)["status"] == "Open" and backend.get_bid(second)["instances"] == []
    assert backend.get_bid(first)["status"] == "Allocated"
    assert _room(backend) == 0 and backend.get_bid(waiting)["status"] == "Open"

    assert sorted(backend.set_capacity(REGION, 0)) == [first], "a region with none: every type, every bid"
    assert _room(backend, instance_type="it_5ECSoHQjLBzrp5YM") == 0
    assert _room(backend, region="eu-central1-a") == 64, "another region keeps its capacity"

    backend.set_capacity(REGION, 4, A100_8X)
    clock.now += 10
    held = {f: backend.get_bid(f)["status"] for f in (first, second, waiting)}
    assert held == dict.fromkeys((first, second, waiting), "Allocated"), "capacity back: the waiting bids run"
    assert _room(backend) == 0


def test_capacity_is_a_whole_number_of_a_known_market(backend: MithrilBackend) -> None:
    for bad in (-1, 1.5, True, "3", None):
        with pytest.raises(EmulatorError) as refused:
            backend.set_capacity(REGION, bad)  # type: ignore[arg-type]
        assert (refused.value.status, refused.value.field) == (422, "capacity")
    with pytest.raises(EmulatorError) as unknown:
        backend.set_capacity("mars-north1-a", 1)
    assert unknown.value.status == 404


def test_a_preemption_gives_notice_first_and_bills_until_it_is_taken(backend: MithrilBackend, clock: Clock) -> None:
    backend.settings.preemption_notice = 30
    fid = _placed(backend, clock)
    clock.now += 20
    (instance,) = backend.get_bid(fid)["instances"]
    clock.now += 10  # running
    noticed_at = clock.now
    backend.set_market_price("8xa100", REGION, 3_001)  # above its $30.00 limit
    assert backend.get_bid(fid)["status"] == "Preempting"
    assert backend.bid_status(fid) == {"bid_fid": fid, "status": "Preempting"}
    (row,) = backend.list_instances([fid])
    assert row["status"] == "STATUS_PREEMPTING" and row["ssh_destination"], "the machine still runs, reachable"
    assert _room(backend) == 63, "it still holds its machine"
    clock.now += 29.9
    assert backend.get_bid(fid)["status"] == "Preempting"
    clock.now += 0.1
    assert backend.bid_status(fid)["status"] == "Open"
    assert backend.list_instances([fid])[0]["status"] == "STATUS_PREEMPTED"
    (record,) = backend.instance_pricing_history(instance=instance)
    assert record["events"][-1]["end_time"] == iso_time(noticed_at + 30), "billed to the notice's end"


def test_a_bid_status_is_the_bids_and_an_unknown_bid_is_not_found(backend: MithrilBackend, clock: Clock) -> None:
    fid = _placed(backend, clock)
    assert backend.bid_status(fid) == {"bid_fid": fid, "status": "Open"}
    clock.now += 10
    assert backend.bid_status(fid)["status"] == "Allocated"
    backend.cancel_bid(fid)
    assert backend.bid_status(fid)["status"] == "Terminated"
    with pytest.raises(EmulatorError) as missing:
        backend.bid_status("bid_nope")
    assert missing.value.status == 404


def test_capacity_survives_a_reload(backend: MithrilBackend, clock: Clock) -> None:
    backend.set_capacity(REGION, 0, A100_8X)
    again = MithrilBackend(backend.settings, clock=clock)
    again.load(backend.dump())
    assert _room(again) == 0 and _room(again, instance_type="it_5ECSoHQjLBzrp5YM") == 64


def _volume(backend: MithrilBackend, name: str, region: str = REGION, interface: str = "File") -> str:
    return str(backend.create_volume({"name": name, "project": PROJECT_ID, "region": region, "size_gb": 100,
                                      "disk_interface": interface})["fid"])


def test_a_live_bids_volumes_change_in_place_under_the_placement_rules(backend: MithrilBackend,
                                                                       clock: Clock) -> None:
    one = _placed(backend, clock)
    clock.now += 10
    shared, block, far = _volume(backend, "shared"), _volume(backend, "disk", interface="Block"), \
        _volume(backend, "far", region="eu-central1-a")
    changed = backend.update_bid(one, {"volumes": [shared, block]})
    assert changed["launch_specification"]["volumes"] == [shared, block] and changed["status"] == "Allocated"
    assert changed["instances"] == backend.get_bid(one)["instances"], "the same machines: nothing was replaced"
    assert backend.update_bid(one, {"volumes": [shared]})["launch_specification"]["volumes"] == [shared]
    refusals = {
        "far": ({"volumes": [far]}, f"volume {far} is in eu-central1-a, the bid is in {REGION}"),
        "gone": ({"volumes": ["vol_gone"]}, "volume 'vol_gone' does not exist"),
    }
    two = _placed(backend, clock, quantity=2)
    backend.update_bid(one, {"volumes": [block]})
    refusals["block on two instances"] = ({"volumes": [block]}, f"block volume {block} can attach to one instance only")
    for case, (body, message) in refusals.items():
        with pytest.raises(EmulatorError) as refused:
            backend.update_bid(one if case != "block on two instances" else two, body)
        assert (refused.value.status, refused.value.field, refused.value.message) == (422, "volumes", message), case
    backend.cancel_bid(one)
    with pytest.raises(EmulatorError) as ended:
        backend.update_bid(one, {"volumes": []})
    assert ended.value.status == 409
