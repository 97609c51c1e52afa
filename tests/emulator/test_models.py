"""The auction's rules, without HTTP: a driven clock makes every transition exact."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from pulumi_flow.emulator.bodies import parse_dollars
from pulumi_flow.emulator.exceptions import EmulatorError, NotFound
from pulumi_flow.emulator.models import MithrilBackend
from pulumi_flow.emulator.records import PROJECT_ID, iso_time
from tests.emulator.conftest import Clock

A100_8X = "it_Sg1nDx1I8NFep60J"


def bid_body(**changes: Any) -> dict[str, Any]:
    body = {"project": PROJECT_ID, "region": "us-central1-a", "instance_type": A100_8X, "limit_price": "$30.00",
            "instance_quantity": 2, "name": "b", "launch_specification": {"volumes": [], "ssh_keys": []}}
    return {**body, **changes}


def test_open_then_allocated_then_running(backend: MithrilBackend, clock: Clock) -> None:
    bid, created = backend.create_bid(bid_body(), None)
    assert created and bid["status"] == "Open"
    clock.now += 9.9
    assert backend.get_bid(bid["fid"])["status"] == "Open"
    clock.now += 0.1
    allocated = backend.get_bid(bid["fid"])
    assert allocated["status"] == "Allocated" and len(allocated["instances"]) == 2
    assert {i["status"] for i in backend.list_instances([bid["fid"]])} == {"STATUS_NEW"}
    assert all(i["ssh_destination"] is None for i in backend.list_instances([bid["fid"]]))
    clock.now += 5
    running = backend.list_instances([bid["fid"]])
    assert {i["status"] for i in running} == {"STATUS_RUNNING"} and all(i["ssh_destination"] for i in running)


def test_below_market_stays_open(backend: MithrilBackend, clock: Clock) -> None:
    bid, _ = backend.create_bid(bid_body(limit_price="$15.99"), None)  # market $16.00
    clock.now += 100
    assert backend.get_bid(bid["fid"])["status"] == "Open"


def test_market_rise_preempts_and_requeues(backend: MithrilBackend, clock: Clock) -> None:
    bid, _ = backend.create_bid(bid_body(), None)
    clock.now += 20
    first = set(backend.get_bid(bid["fid"])["instances"])
    backend.set_market_price(A100_8X, "us-central1-a", 3_100)
    preempted = backend.get_bid(bid["fid"])
    assert preempted["status"] == "Open" and preempted["instances"] == []
    backend.set_market_price(A100_8X, "us-central1-a", 1_600)
    clock.now += 10
    again = backend.get_bid(bid["fid"])
    assert again["status"] == "Allocated" and not set(again["instances"]) & first


def test_idempotency_key(backend: MithrilBackend) -> None:
    first, created = backend.create_bid(bid_body(), "k")
    second, created_again = backend.create_bid(bid_body(), "k")  # a retry: the same request again
    assert created and not created_again and first["fid"] == second["fid"]


def test_volume_rules(backend: MithrilBackend) -> None:
    block = backend.create_volume({"name": "blk", "project": PROJECT_ID, "disk_interface": "Block",
                                   "region": "us-central1-a", "size_gb": 10})
    with pytest.raises(EmulatorError, match="one instance only"):
        backend.create_bid(bid_body(launch_specification={"volumes": [block["fid"]], "ssh_keys": []}), None)
    with pytest.raises(EmulatorError, match="is in us-central1-a"):
        backend.create_bid(bid_body(region="eu-central1-a", instance_quantity=1,
                                    launch_specification={"volumes": [block["fid"]], "ssh_keys": []}), None)
    bid, _ = backend.create_bid(bid_body(instance_quantity=1,
                                         launch_specification={"volumes": [block["fid"]], "ssh_keys": []}), None)
    with pytest.raises(EmulatorError) as attached:
        backend.delete_volume(block["fid"])
    assert attached.value.status == 409
    backend.cancel_bid(bid["fid"])
    backend.delete_volume(block["fid"])
    with pytest.raises(NotFound):
        backend.delete_volume(block["fid"])


@pytest.mark.parametrize(("field", "value"), [("limit_price", "30"), ("limit_price", "$-1"),
                                              ("instance_quantity", 0), ("instance_type", "it_nope"),
                                              ("region", "mars-1"), ("project", "proj_other")])
def test_bad_bids_are_422(backend: MithrilBackend, field: str, value: Any) -> None:
    with pytest.raises(EmulatorError) as caught:
        backend.create_bid(bid_body(**{field: value}), None)
    assert caught.value.status == 422


def test_dump_and_load_round_trip(backend: MithrilBackend, clock: Clock) -> None:
    bid, _ = backend.create_bid(bid_body(), "key-1")
    clock.now += 20
    restored = MithrilBackend(clock=clock)
    restored.load(backend.dump())
    assert restored.get_bid(bid["fid"]) == backend.get_bid(bid["fid"])
    assert restored.create_bid(bid_body(), "key-1")[0]["fid"] == bid["fid"]


def test_concurrent_creates_are_consistent(backend: MithrilBackend) -> None:
    def create(index: int) -> None:
        backend.create_bid(bid_body(name=f"b{index % 10}"), f"key-{index % 10}")  # retries of ten requests
        backend.create_volume({"name": f"v{index}", "project": PROJECT_ID, "disk_interface": "File",
                               "region": "us-central1-a", "size_gb": 1})

    threads = [threading.Thread(target=create, args=(i,)) for i in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(backend.live()["bids"]) == 10, "ten idempotency keys, ten bids"
    assert len(backend.live()["volumes"]) == 40


def allocated_and_running(backend: MithrilBackend, clock: Clock) -> dict[str, Any]:
    bid, _ = backend.create_bid(bid_body(), None)
    clock.now += 10
    backend.get_bid(bid["fid"])
    clock.now += 5
    return backend.get_bid(bid["fid"])


def instance_states(backend: MithrilBackend, bid_id: str) -> list[str]:
    return sorted(i["status"] for i in backend.list_instances([bid_id]))


def test_pause_keeps_the_machines_attached_and_resume_boots_them(backend: MithrilBackend, clock: Clock) -> None:
    bid = allocated_and_running(backend, clock)
    machines = list(bid["instances"])
    paused = backend.update_bid(bid["fid"], {"paused": True})
    assert paused["status"] == "Paused" and paused["instances"] == machines
    assert instance_states(backend, bid["fid"]) == ["STATUS_PAUSED", "STATUS_PAUSED"]

    resumed = backend.update_bid(bid["fid"], {"paused": False})
    assert resumed["status"] == "Allocated" and resumed["instances"] == machines
    assert instance_states(backend, bid["fid"]) == ["STATUS_NEW", "STATUS_NEW"]
    clock.now += 5
    assert instance_states(backend, bid["fid"]) == ["STATUS_RUNNING", "STATUS_RUNNING"]


def test_cancelling_a_paused_bid_terminates_its_machines(backend: MithrilBackend, clock: Clock) -> None:
    bid = allocated_and_running(backend, clock)
    backend.update_bid(bid["fid"], {"paused": True})
    backend.cancel_bid(bid["fid"])
    assert backend.get_bid(bid["fid"])["status"] == "Terminated"
    assert instance_states(backend, bid["fid"]) == ["STATUS_TERMINATED", "STATUS_TERMINATED"]


def test_a_bid_paused_before_allocation_waits_in_the_auction_when_resumed(backend: MithrilBackend,
                                                                          clock: Clock) -> None:
    bid, _ = backend.create_bid(bid_body(), None)
    backend.update_bid(bid["fid"], {"paused": True})
    clock.now += 100
    assert backend.get_bid(bid["fid"])["status"] == "Paused", "a paused bid is never allocated"
    assert backend.update_bid(bid["fid"], {"paused": False})["status"] == "Open"
    clock.now += 10
    assert backend.get_bid(bid["fid"])["status"] == "Allocated"


@pytest.mark.parametrize("name", ["8xa100", "a100:8", "A100x8", "a100-80gb.sxm.8x", A100_8X])
def test_the_control_api_takes_the_names_users_know(backend: MithrilBackend, name: str) -> None:
    backend.set_market_price(name, "us-central1-a", 2_222)
    assert backend.market_cents[(A100_8X, "us-central1-a")] == 2_222


def test_an_unknown_instance_type_is_not_found(backend: MithrilBackend) -> None:
    with pytest.raises(NotFound):
        backend.set_market_price("3xa100", "us-central1-a", 100)


def volume_body(**changes: Any) -> dict[str, Any]:
    return {"name": "data", "project": PROJECT_ID, "disk_interface": "File", "region": "us-central1-a",
            "size_gb": 100, **changes}


def test_a_volume_create_is_idempotent_by_key(backend: MithrilBackend) -> None:
    first = backend.create_volume(volume_body(), "key-1")
    again = backend.create_volume(volume_body(), "key-1")
    assert again["fid"] == first["fid"] and len(backend.list_volumes()) == 1
    assert backend.create_volume(volume_body(), "key-2")["fid"] != first["fid"], "a new key is a new volume"


@pytest.mark.parametrize("name", ["BAD NAME/..", "Data", "data-", "1data", "a" * 64])
def test_a_volume_name_off_mithrils_pattern_is_refused(backend: MithrilBackend, name: str) -> None:
    with pytest.raises(EmulatorError) as caught:
        backend.create_volume(volume_body(name=name))
    assert caught.value.status == 422


@pytest.mark.parametrize("public_key", [5, ["ssh-ed25519 AAAA"], {"k": 1}, float("nan"), ""])
def test_an_ssh_key_that_is_not_a_string_is_refused_and_the_list_stays_valid(backend: MithrilBackend,
                                                                             public_key: Any) -> None:
    with pytest.raises(EmulatorError) as caught:
        backend.create_ssh_key({"name": "k", "public_key": public_key})
    assert caught.value.status == 422
    assert backend.list_ssh_keys() == []


def _spec(**changes: Any) -> dict[str, Any]:
    return {"volumes": [], "ssh_keys": [], **changes}


# What Mithril answers a malformed bid with (status 422, the field, the message); the emulator's contract.
BID_REFUSALS = [
    ({"instance_type": "it_nope"}, "instance_type", "unknown instance type 'it_nope'"),
    ({"instance_type": None}, "instance_type", "instance_type is required and must be a non-empty string, got None"),
    ({"region": "mars-1"}, "region", f"instance type {A100_8X} is not sold in region 'mars-1'"),
    ({"region": ""}, "region", "region is required and must be a non-empty string, got ''"),
    ({"project": "proj_other"}, "project", "unknown project 'proj_other'"),
    ({"instance_quantity": 0}, "instance_quantity", "instance_quantity must be an integer 1..256, got 0"),
    ({"instance_quantity": 257}, "instance_quantity", "instance_quantity must be an integer 1..256, got 257"),
    ({"instance_quantity": True}, "instance_quantity", "instance_quantity must be an integer 1..256, got True"),
    ({"instance_quantity": 2.0}, "instance_quantity", "instance_quantity must be an integer 1..256, got 2.0"),
    ({"launch_specification": "x"}, "launch_specification", "launch_specification must be an object"),
    ({"launch_specification": _spec(volumes="vol_1")}, "launch_specification.volumes",
     "launch_specification.volumes must be a list of ids, got 'vol_1'"),
    ({"launch_specification": _spec(ssh_keys=[1])}, "launch_specification.ssh_keys",
     "launch_specification.ssh_keys must be a list of ids, got [1]"),
    ({"launch_specification": _spec(startup_script=7)}, "launch_specification.startup_script",
     "launch_specification.startup_script must be a string of at most 10000 characters"),
    ({"launch_specification": _spec(startup_script="x" * 10_001)}, "launch_specification.startup_script",
     "launch_specification.startup_script must be a string of at most 10000 characters"),
    ({"launch_specification": _spec(volumes=["vol_missing"])}, "launch_specification.volumes",
     "volume 'vol_missing' does not exist"),
    ({"name": ""}, "name", "name is required and must be a non-empty string, got ''"),
    ({"limit_price": "30"}, "limit_price", "limit_price must be a dollar string such as '$12.50', got '30'"),
    ({"limit_price": "$0.00"}, "limit_price", "limit_price must be positive, got '$0.00'"),
]


@pytest.mark.parametrize(("changes", "field", "message"), BID_REFUSALS)
def test_a_malformed_bid_is_refused_with_its_field_and_reason(backend: MithrilBackend, changes: dict[str, Any],
                                                             field: str, message: str) -> None:
    with pytest.raises(EmulatorError) as refused:
        backend.create_bid(bid_body(**changes), "key-refused")
    assert (refused.value.status, refused.value.field, refused.value.message) == (422, field, message)
    assert backend.live()["bids"] == []
    # A refused request is not remembered: the key still places the bid once the body is right.
    bid, created = backend.create_bid(bid_body(), "key-refused")
    assert created and backend.live()["bids"] == [bid]


@pytest.mark.parametrize("changes", [
    {"instance_quantity": 1}, {"instance_quantity": 256},
    {"launch_specification": _spec(volumes=None, ssh_keys=None)}, {"launch_specification": {}},
    {"launch_specification": _spec(startup_script="x" * 10_000)}, {"limit_price": "$0.01"},
])
def test_the_edges_of_a_well_formed_bid_are_accepted(backend: MithrilBackend, changes: dict[str, Any]) -> None:
    bid, created = backend.create_bid(bid_body(**changes), None)
    assert created and bid["status"] == "Open"


def test_volumes_a_bid_mounts_must_be_live_in_its_region_and_block_ones_unshared(backend: MithrilBackend) -> None:
    data = backend.create_volume(volume_body())
    elsewhere = backend.create_volume(volume_body(name="far", region="eu-central1-a"))
    block = backend.create_volume(volume_body(name="blk", disk_interface="Block"))
    gone = backend.create_volume(volume_body(name="gone"))
    backend.delete_volume(gone["fid"])

    def refusal(volumes: list[str], quantity: int = 1) -> str:
        with pytest.raises(EmulatorError) as refused:
            backend.create_bid(bid_body(instance_quantity=quantity, launch_specification=_spec(volumes=volumes)), None)
        assert (refused.value.status, refused.value.field) == (422, "launch_specification.volumes")
        return refused.value.message

    assert refusal([gone["fid"]]) == f"volume {gone['fid']!r} does not exist"
    assert refusal([elsewhere["fid"]]) == f"volume {elsewhere['fid']} is in eu-central1-a, the bid is in us-central1-a"
    assert refusal([block["fid"]], quantity=2) == f"block volume {block['fid']} can attach to one instance only"
    first, _ = backend.create_bid(bid_body(instance_quantity=1, launch_specification=_spec(volumes=[block["fid"]])),
                                  None)
    assert refusal([block["fid"]]) == f"block volume {block['fid']} can attach to one instance only"
    backend.cancel_bid(first["fid"])
    second, _ = backend.create_bid(bid_body(instance_quantity=2, launch_specification=_spec(volumes=[data["fid"]])),
                                   None)
    assert second["launch_specification"]["volumes"] == [data["fid"]], "a file volume is shared by many"
    again, _ = backend.create_bid(bid_body(instance_quantity=1, launch_specification=_spec(volumes=[block["fid"]])),
                                  None)
    assert again["launch_specification"]["volumes"] == [block["fid"]], "a cancelled bid frees its block volume"


def _allocated(backend: MithrilBackend, clock: Clock, **changes: Any) -> dict[str, Any]:
    bid, _ = backend.create_bid(bid_body(**changes), None)
    clock.now += 10
    allocated = backend.get_bid(bid["fid"])
    assert allocated["status"] == "Allocated"
    return allocated


def test_allocation_gives_each_instance_its_own_name_and_addresses(backend: MithrilBackend, clock: Clock) -> None:
    bid = _allocated(backend, clock, name="trainer", instance_quantity=3)
    clock.now += 5
    instances = backend.list_instances([bid["fid"]])
    assert sorted(i["name"] for i in instances) == ["trainer-0", "trainer-1", "trainer-2"]
    assert {i["bid"] for i in instances} == {bid["fid"]} and len({i["fid"] for i in instances}) == 3
    assert {(i["instance_type"], i["region"]) for i in instances} == {(A100_8X, "us-central1-a")}
    publics = [i["ssh_destination"] for i in instances]
    privates = [i["private_ip"] for i in instances]
    assert len(set(publics)) == 3 and all(p.startswith("203.0.113.") for p in publics), "TEST-NET-3, distinct"
    assert len(set(privates)) == 3 and all(p.startswith("10.0.") for p in privates)
    assert sorted(backend.get_bid(bid["fid"])["instances"]) == sorted(i["fid"] for i in instances)
    second = _allocated(backend, clock, name="other", instance_quantity=1)
    assert not set(second["instances"]) & {i["fid"] for i in instances}, "a new allocation, new instances"


def test_a_change_to_a_bid_other_than_price_or_pause_is_refused(backend: MithrilBackend, clock: Clock) -> None:
    bid = _allocated(backend, clock)
    with pytest.raises(EmulatorError) as refused:
        backend.update_bid(bid["fid"], {"name": "x", "colour": "blue", "limit_price": "$40.00"})
    assert (refused.value.status, refused.value.field, refused.value.message) == (
        422, "colour", "only limit_price, paused and volumes can be changed on a bid, not ['colour', 'name']")
    assert backend.get_bid(bid["fid"])["limit_price"] == "$30.00", "nothing of a refused change is applied"
    with pytest.raises(EmulatorError) as refused:
        backend.update_bid(bid["fid"], {"paused": "yes"})
    assert (refused.value.status, refused.value.field, refused.value.message) == (
        422, "paused", "paused must be a boolean, got 'yes'")
    backend.cancel_bid(bid["fid"])
    with pytest.raises(EmulatorError) as refused:
        backend.update_bid(bid["fid"], {"limit_price": "$40.00"})
    assert (refused.value.status, refused.value.message) == (
        409, f"bid {bid['fid']} is terminated and cannot be changed")


def test_a_reprice_leaves_the_pause_alone_and_a_pause_leaves_the_price(backend: MithrilBackend, clock: Clock) -> None:
    bid = _allocated(backend, clock)
    repriced = backend.update_bid(bid["fid"], {"limit_price": "$45.50"})
    assert (repriced["limit_price"], repriced["status"]) == ("$45.50", "Allocated")
    paused = backend.update_bid(bid["fid"], {"paused": True})
    assert (paused["status"], paused["limit_price"]) == ("Paused", "$45.50")
    assert backend.update_bid(bid["fid"], {"paused": True})["status"] == "Paused", "pausing twice is one pause"
    assert backend.update_bid(bid["fid"], {"limit_price": "$50.00"})["status"] == "Paused", "still paused"
    resumed = backend.update_bid(bid["fid"], {"paused": False})
    assert (resumed["status"], resumed["instances"]) == ("Allocated", paused["instances"]), "the same machines"
    again = backend.update_bid(bid["fid"], {"paused": False})
    assert (again["status"], again["instances"]) == ("Allocated", paused["instances"]), "resuming twice: no-op"


def test_the_price_quote_is_the_cheapest_market_and_nulls_where_nothing_is_sold(backend: MithrilBackend) -> None:
    backend.set_market_price(A100_8X, "eu-central1-a", 1_250)
    quote = backend.current_price(A100_8X, None)
    assert quote == {"spot_price_cents": 1_250, "reserved_price_cents": 2_500, "minimum_price_cents": 1_250,
                     "lowest_allocated_bid_cents": 1_250, "dynamic_win_price_cents": 1_250,
                     "available_capacity": 64, "total_capacity": 64}
    assert backend.current_price(A100_8X, "us-central1-a")["spot_price_cents"] == 1_600
    assert backend.current_price(A100_8X, "mars-1") == dict.fromkeys(quote)
    assert backend.current_price("it_nope", None) == dict.fromkeys(quote)


def test_setting_a_market_price_moves_the_auction_at_once(backend: MithrilBackend, clock: Clock) -> None:
    with pytest.raises(NotFound) as missing:
        backend.set_market_price(A100_8X, "mars-1", 1_000)
    assert (missing.value.status, missing.value.message) == (404, f"market '{A100_8X}@mars-1' not found")
    for cents in (0, -5):
        with pytest.raises(EmulatorError) as refused:
            backend.set_market_price(A100_8X, "us-central1-a", cents)
        assert (refused.value.status, refused.value.field, refused.value.message) == (422, "price",
                                                                                       "price must be positive")
    bid = _allocated(backend, clock)  # $30.00 against a $16.00 market
    backend.set_market_price("8xa100", "us-central1-a", 3_000)  # by its Flow name; equal to the bid: kept
    assert backend.get_bid(bid["fid"])["status"] == "Allocated"
    backend.set_market_price("8xa100", "us-central1-a", 3_001)
    assert backend.get_bid(bid["fid"])["status"] == "Open", "preempted by the market, without waiting for a request"


def test_control_preempt_and_terminate(backend: MithrilBackend, clock: Clock) -> None:
    bid, _ = backend.create_bid(bid_body(), None)
    with pytest.raises(EmulatorError) as refused:
        backend.preempt(bid["fid"])
    assert (refused.value.status, refused.value.message) == (
        409, f"bid {bid['fid']} is Open, only an Allocated or Preempting bid can be preempted")
    clock.now += 10
    preempted = backend.preempt(bid["fid"])
    assert (preempted["status"], preempted["instances"]) == ("Open", [])
    terminated = backend.terminate_bid(bid["fid"])
    assert terminated["status"] == "Terminated" and backend.live()["bids"] == []
    assert backend.terminate_bid(bid["fid"])["status"] == "Terminated", "terminating twice changes nothing"


def test_live_lists_only_what_is_live(backend: MithrilBackend, clock: Clock) -> None:
    keep = _allocated(backend, clock, name="keep", instance_quantity=1)
    gone = _allocated(backend, clock, name="gone", instance_quantity=1)
    moved = _allocated(backend, clock, name="moved", instance_quantity=1)
    backend.cancel_bid(gone["fid"])
    backend.preempt(moved["fid"])
    volume = backend.create_volume(volume_body())
    deleted = backend.create_volume(volume_body(name="deleted"))
    backend.delete_volume(deleted["fid"])
    live = backend.live()
    assert sorted(b["name"] for b in live["bids"]) == ["keep", "moved"]
    assert [v["fid"] for v in live["volumes"]] == [volume["fid"]]
    assert [i["bid"] for i in live["instances"]] == [keep["fid"]], "cancelled and preempted instances are not live"
    with pytest.raises(NotFound) as missing:
        backend.delete_volume(deleted["fid"])
    assert (missing.value.status, missing.value.message) == (404, f"volume {deleted['fid']!r} not found")


def test_a_repeated_idempotency_key_answers_with_what_it_created_whatever_the_body(backend: MithrilBackend) -> None:
    """The Flow SDK's keyed request carries a fresh name suffix and session id on every call, so the key alone decides;
    the spec lists no status for a mismatch (201 or 422 only)."""
    first, _ = backend.create_bid(bid_body(), "key-1")
    again, created = backend.create_bid(bid_body(), "key-1")
    assert (again["fid"], created) == (first["fid"], False)
    resent, created = backend.create_bid(bid_body(name="gpu-run-x7k2", limit_price="$31.00"), "key-1")
    assert (resent["fid"], created) == (first["fid"], False)
    volume = backend.create_volume(volume_body(), "key-1")
    assert volume["fid"] != first["fid"], "a key belongs to one endpoint: a volume's key is not a bid's"
    assert backend.create_volume(volume_body(size_gb=200), "key-1")["fid"] == volume["fid"]
    unkeyed = [backend.create_bid(bid_body(), None)[0]["fid"] for _ in range(2)]
    assert len(set(unkeyed)) == 2, "without a key, every request is new"
    assert backend.create_bid(bid_body(), "")[0]["fid"] not in unkeyed


def test_idempotency_keys_survive_a_save_and_load_from_either_format(backend: MithrilBackend) -> None:
    first, _ = backend.create_bid(bid_body(), "key-1")
    saved = json.loads(backend.dump())
    assert saved["idempotency"] == [["bid", "key-1", first["fid"]]]
    saved["idempotency"] = {"key-1": ["bid", "digest", first["fid"]]}  # written by an earlier version
    backend.load(json.dumps(saved))
    assert backend.create_bid(bid_body(), "key-1")[0]["fid"] == first["fid"]


@pytest.mark.parametrize(("text", "cents"), [("$12", 1_200), ("$12.5", 1_250), ("$12.50", 1_250), ("$0.01", 1),
                                             ("$9999999.99", 999_999_999)])
def test_dollar_strings_in_every_form_mithril_takes(text: str, cents: int) -> None:
    assert parse_dollars(text, "limit_price") == cents


def test_a_bid_exactly_at_the_market_wins(backend: MithrilBackend, clock: Clock) -> None:
    bid, _ = backend.create_bid(bid_body(limit_price="$16.00"), None)  # the market of 8xA100 here: $16.00
    clock.now += 10
    assert backend.get_bid(bid["fid"])["status"] == "Allocated"


def test_instance_ids_and_addresses_stay_unique_past_250_machines(backend: MithrilBackend, clock: Clock) -> None:
    backend.settings.capacity_per_market = 256
    bid = _allocated(backend, clock, instance_quantity=256)
    instances = {i["fid"]: i for i in backend.list_instances([bid["fid"]])}
    assert len(instances) == 256 and all(fid.startswith("inst_") for fid in instances)
    ordered = [instances[fid] for fid in bid["instances"]]
    # Counting from 1: TEST-NET-3 public addresses wrap at 250, private ones move to the next /24.
    assert [i["ssh_destination"] for i in ordered[:2]] == [None, None], "not booted yet"
    clock.now += 5
    ordered = [{i["fid"]: i for i in backend.list_instances([bid["fid"]])}[fid] for fid in bid["instances"]]
    assert [i["ssh_destination"] for i in (ordered[0], ordered[248], ordered[249])] == [
        "203.0.113.2", "203.0.113.250", "203.0.113.1"]
    assert [i["private_ip"] for i in (ordered[0], ordered[248], ordered[249], ordered[255])] == [
        "10.0.0.2", "10.0.0.250", "10.0.1.1", "10.0.1.7"]
    assert len({i["private_ip"] for i in ordered}) == 256


def test_a_bid_records_its_launch_specification_and_when_it_ended(backend: MithrilBackend, clock: Clock) -> None:
    bid, _ = backend.create_bid(bid_body(launch_specification={
        "volumes": [], "ssh_keys": ["sshkey_1"], "startup_script": "echo hi", "image_version": "img-1"}), None)
    assert bid["launch_specification"] == {"volumes": [], "ssh_keys": ["sshkey_1"], "startup_script": "echo hi",
                                           "kubernetes_cluster": None, "image_version": "img-1", "memory_gb": None}
    assert bid["deactivated_at"] is None
    clock.now += 42
    cancelled = backend.cancel_bid(bid["fid"]) or backend.get_bid(bid["fid"])
    assert cancelled["deactivated_at"] == iso_time(clock.now)
    other, _ = backend.create_bid(bid_body(), None)
    clock.now += 1
    assert backend.terminate_bid(other["fid"])["deactivated_at"] == iso_time(clock.now)


def test_a_mounted_volume_names_its_bids_and_cannot_be_deleted(backend: MithrilBackend, clock: Clock) -> None:
    volume = backend.create_volume(volume_body())
    bid, _ = backend.create_bid(bid_body(launch_specification=_spec(volumes=[volume["fid"]])), None)
    assert backend.live()["volumes"][0]["bids"] == [bid["fid"]]
    with pytest.raises(EmulatorError) as refused:
        backend.delete_volume(volume["fid"])
    assert (refused.value.status, refused.value.message) == (
        409, f"volume {volume['fid']} is attached to live bids {[bid['fid']]}")


def test_the_smallest_market_price_and_a_bad_reprice(backend: MithrilBackend, clock: Clock) -> None:
    backend.set_market_price(A100_8X, "us-central1-a", 1)
    assert backend.current_price(A100_8X, "us-central1-a")["spot_price_cents"] == 1
    bid = _allocated(backend, clock)
    with pytest.raises(EmulatorError) as refused:
        backend.update_bid(bid["fid"], {"limit_price": "30"})
    assert (refused.value.field, refused.value.message) == (
        "limit_price", "limit_price must be a dollar string such as '$12.50', got '30'")
