"""What a bid has cost, from Mithril's history: exact sums, rounded up once, and a scripted market on the emulator."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from decimal import ROUND_CEILING, Decimal
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import pytest

from pulumi_flow.emulator.records import PROJECT_ID
from pulumi_flow.provider import FlowTaskProvider
from pulumi_flow.provider import records as records_module
from pulumi_flow.provider import task as task_module
from pulumi_flow.provider.records import (
    HISTORY_MARGIN,
    LIVE_BID_STATUSES,
    SHARE_SECONDS,
    BidCost,
    ProjectRecords,
    forget_shared_records,
    mithril_time,
    moment,
    shared_records,
)
from pulumi_flow.testing.emulator import RunningEmulator

from .conftest import checked_task

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
A100_8X = "it_Sg1nDx1I8NFep60J"
REGION = "us-central1-a"


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def period(cents: int, start: float, end: float | None) -> dict[str, Any]:
    return {"price_cents": cents, "start_time": at(start), "end_time": at(end) if end is not None else None}


def statuses(*changes: tuple[str, float]) -> dict[str, Any]:
    return {"events": [{"timestamp": at(seconds), "status": f"STATUS_{status}"} for status, seconds in changes]}


def test_spend_is_the_exact_sum_rounded_up_once() -> None:
    # $16.00/h for 1 s three times: 3 x $0.00444... = $0.01333..., $0.02 rounded up once (each rounded: $0.03).
    pricing = [{"events": [period(1600, 0, 1), period(1600, 10, 11), period(1600, 20, 21)]}]
    cost = BidCost.of(pricing, [], T0 + timedelta(hours=1))
    assert cost.spend == Decimal("0.02") and cost.running_hours == Decimal("0.0008")
    assert cost.outputs() == {"spend_usd": 0.02, "preemptions": 0, "running_hours": 0.0008, "preempted_hours": 0.0,
                              "last_preempted_at": None}


def test_an_open_period_counts_to_now_and_waiting_after_a_preemption_is_preempted_time() -> None:
    pricing = [{"events": [period(2000, 0, 3600)]}, {"events": [period(2500, 5400, None)]}]
    # Two instances preempted together at 1 h are one preemption; re-allocated at 1.5 h; preempted again at 2.5 h.
    history = [statuses(("NEW", 0), ("RUNNING", 5), ("PREEMPTED", 3600)),
               statuses(("NEW", 0), ("RUNNING", 5), ("PREEMPTED", 3600)),
               statuses(("NEW", 5400), ("RUNNING", 5405), ("PREEMPTED", 9000))]
    cost = BidCost.of(pricing, history, T0 + timedelta(seconds=10800))
    # $20 for an hour, then $25 from 1.5 h to 3 h (the second instance's period is still open at now).
    assert cost.spend == Decimal("20") + Decimal("37.50")
    assert cost.preemptions == 2 and cost.last_preempted_at == at(9000)
    assert cost.preempted_hours == Decimal("0.5") + Decimal("0.5"), "half an hour waiting, and half an hour so far"
    assert cost.running_hours == Decimal("2.5")
    ended = BidCost.of(pricing, history, T0 + timedelta(seconds=10800), ended=T0 + timedelta(seconds=9900))
    assert ended.preempted_hours == Decimal("0.75"), "a bid that ended waiting waited until it ended"


def test_a_scripted_market_is_charged_to_the_cent(task_provider: FlowTaskProvider, mithril: RunningEmulator) -> None:
    """3 market changes, 2 preemptions, 1 pause and a reprice: spend_usd is the exact sum of price x duration of
    every period the emulator billed, rounded up to the cent; `preemptions` is 2."""
    backend, control = mithril.backend, mithril.control
    inputs = checked_task()
    created = task_provider.create(inputs)  # 2 instances, bid $30, market $16
    assert created.outs["spend_usd"] >= 0 and created.outs["preemptions"] == 0
    backend.settings.allocation_delay = backend.settings.boot_delay = 0.0
    control.set_market(A100_8X, REGION, 2000)  # 1
    control.set_market(A100_8X, REGION, 3100)  # 2: above the bid, preempted
    repriced = task_provider.update(created.id, created.outs, {**inputs, "max_price_per_hour": 40.0})
    assert repriced.outs["bid_status"] == "Allocated", "the reprice beats the market: machines again"
    control.preempt(created.id)
    control.set_market(A100_8X, REGION, 2500)  # 3, re-allocated by then
    paused = task_provider.update(created.id, repriced.outs, {**inputs, "max_price_per_hour": 40.0, "paused": True})
    assert paused.outs["bid_status"] == "Paused"

    read = task_provider.read(created.id, paused.outs).outs
    rows = backend.instance_pricing_history(bid=created.id)
    periods = [(e["price_cents"], datetime.fromisoformat(e["start_time"].replace("Z", "+00:00")),
                datetime.fromisoformat(e["end_time"].replace("Z", "+00:00"))) for r in rows for e in r["events"]]
    assert {cents for cents, _, _ in periods} == {1600, 2000, 3100, 2500}, "each market the bid was charged"
    exact = sum(Decimal(cents) * Decimal((end - start) / timedelta(microseconds=1)) / 1_000_000 / 3600
                for cents, start, end in periods) / 100
    assert Decimal(str(read["spend_usd"])) == exact.quantize(Decimal("0.01"), ROUND_CEILING)
    assert read["preemptions"] == 2
    preempted = [e["timestamp"] for e in backend.bid_history(created.id)["events"] if e["event_type"] == "Preempted"]
    assert read["last_preempted_at"] == preempted[-1]
    again = task_provider.read(created.id, read).outs
    assert again["spend_usd"] == read["spend_usd"], "paused: nothing more is charged"


def test_a_refresh_reads_the_projects_history_once_for_all_its_tasks(task_provider: FlowTaskProvider,
                                                                     mithril: RunningEmulator) -> None:
    created = [task_provider.create(checked_task(task_name=f"gpu-{i}-1a2b3c4d", num_instances=1)) for i in range(5)]
    mithril.control.clear_requests()
    with ThreadPoolExecutor(5) as pool:  # as the engine reads a refresh's resources: at once
        reads = list(pool.map(lambda c: task_provider.read(c.id, c.outs).outs, created))
    paths = [r["path"] for r in mithril.control.requests()]
    assert paths.count("/v2/instances/pricing/history") == 1 and paths.count("/v2/instances/status/history") == 1
    for read, made in zip(reads, created, strict=True):
        assert read["task_id"] == made.id and read["spend_usd"] >= made.outs["spend_usd"], "each its own bid's"


def test_the_projects_records_are_read_once_while_fresh_and_again_after(monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[str] = []
    records = ProjectRecords(pricing=(), statuses=())

    def read(flow: Any, api_key: str, bid_id: str | None = None) -> ProjectRecords:
        reads.append(api_key)
        return records

    monkeypatch.setattr(ProjectRecords, "read", staticmethod(read))
    flow = SimpleNamespace(provider=SimpleNamespace(api_url="http://mithril", project_id="proj_1"))
    now = [100.0]
    forget_shared_records()
    assert shared_records(flow, "k", "b1", clock=lambda: now[0]) is records and reads == ["k"]
    now[0] += SHARE_SECONDS - 0.01
    assert shared_records(flow, "k", "b2", clock=lambda: now[0]) is records and reads == ["k"], "fresh: shared"
    shared_records(flow, "k", "b1", clock=lambda: now[0])
    assert reads == ["k", "k"], "a bid read again: a later refresh, which reads again"
    now[0] += SHARE_SECONDS + 0.01
    shared_records(flow, "k", "b3", clock=lambda: now[0])
    assert reads == ["k", "k", "k"], "stale: read again"
    other = SimpleNamespace(provider=SimpleNamespace(api_url="http://mithril", project_id="proj_2"))
    shared_records(other, "k", "b3", clock=lambda: now[0])
    assert len(reads) == 4, "another project has records of its own"
    forget_shared_records()
    shared_records(flow, "k", "b4", clock=lambda: now[0])
    assert len(reads) == 5, "after a write, read again"


def test_a_failed_read_is_not_shared(monkeypatch: pytest.MonkeyPatch) -> None:
    outcomes: list[Any] = [RuntimeError("503"), ProjectRecords(pricing=(), statuses=())]

    def read(flow: Any, api_key: str, bid_id: str | None = None) -> ProjectRecords:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome  # type: ignore[no-any-return]

    monkeypatch.setattr(ProjectRecords, "read", staticmethod(read))
    flow = SimpleNamespace(provider=SimpleNamespace(api_url="http://mithril", project_id="proj_1"))
    forget_shared_records()
    with pytest.raises(RuntimeError, match="503"):
        shared_records(flow, "k", "b1", clock=lambda: 0.0)
    assert shared_records(flow, "k", "b2", clock=lambda: 0.0).pricing == (), "the next read asks again"


def test_private_addresses_in_instance_order_for_those_that_have_one() -> None:
    records = ProjectRecords(instances=({"fid": "i1", "private_ip": "10.0.0.1"},
                                        {"fid": "i2", "private_ip": "10.0.0.2"}, {"fid": "i3", "private_ip": None}))
    assert records.private_ips(["i2", "i1"]) == ["10.0.0.2", "10.0.0.1"]
    assert records.private_ips(["i3", "i1"]) == ["10.0.0.1"], "an instance with no address yet adds none"
    assert records.private_ips(["i1", "i9"]) == ["10.0.0.1"], "nor one these records do not hold"


def test_records_without_history_refuse_to_tell_a_cost() -> None:
    with pytest.raises(ValueError, match="hold no history"):
        ProjectRecords(pricing=()).cost("b1", T0)


def test_a_bids_cost_is_its_own_instances_only() -> None:
    pricing = ({"bid_fid": "b1", "events": [period(3600, 0, 3600)]},
               {"bid_fid": "b2", "events": [period(100, 0, 3600)]})
    changes = ({"bid_fid": "b2", **statuses(("NEW", 0), ("PREEMPTED", 60))},)
    cost = ProjectRecords(pricing=pricing, statuses=changes).cost("b1", T0 + timedelta(hours=2))
    assert cost.spend == Decimal("36.00") and cost.preemptions == 0


def test_a_bid_that_ended_waiting_after_its_preemption_waited_until_it_ended() -> None:
    changes = ({"bid_fid": "b1", **statuses(("NEW", 0), ("PREEMPTED", 3600))},)
    records = ProjectRecords(pricing=(), statuses=changes)
    cost = records.cost("b1", T0 + timedelta(hours=5), ended=T0 + timedelta(hours=2))
    assert cost.preempted_hours == Decimal("1")


def test_a_bid_reallocated_at_the_moment_it_was_preempted_waited_no_time() -> None:
    changes = [statuses(("NEW", 0), ("PREEMPTED", 3600)), statuses(("NEW", 3600))]
    assert BidCost.of([], changes, T0 + timedelta(hours=5)).preempted_hours == 0


def test_periods_of_days_and_of_microseconds_are_exact() -> None:
    long = {"events": [period(3600, 0, 2 * 86400)]}  # two days at $36/h
    short = {"events": [{"price_cents": 360000, "start_time": "2026-01-01T00:00:00.000000Z",
                         "end_time": "2026-01-01T00:00:00.500000Z"}]}  # half a second at $3,600/h: $0.50
    assert BidCost.of([long], [], T0).spend == Decimal("1728.00")
    assert BidCost.of([short], [], T0).spend == Decimal("0.50")


def test_the_latest_preemption_is_the_last_one_in_time_not_in_text() -> None:
    # Mithril's timestamps may carry an offset: compared as times, 01:00+01:00 (00:00Z) is before 00:30Z.
    changes = [{"events": [{"timestamp": "2026-01-01T01:00:00+01:00", "status": "STATUS_PREEMPTED"}]},
               {"events": [{"timestamp": "2026-01-01T00:30:00Z", "status": "STATUS_PREEMPTED"}]}]
    assert BidCost.of([], changes, T0 + timedelta(hours=1)).last_preempted_at == "2026-01-01T00:30:00Z"


def test_a_bids_own_read_asks_for_that_bid_and_follows_every_page(task_provider: FlowTaskProvider,
                                                                  mithril: RunningEmulator,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages of one row, so every cursor is followed; the bid's own read names it (other bids are around)."""
    monkeypatch.setattr(records_module, "PAGE", 1)
    other = task_provider.create(checked_task(task_name="other-1a2b3c4d", num_instances=1))
    mithril.control.clear_requests()
    made = task_provider.create(checked_task(num_instances=3))
    own = [r for r in mithril.control.requests() if r["path"].startswith("/v2/instances") and "limit=1" in r["query"]]
    assert {r["path"] for r in own} == {"/v2/instances/pricing/history", "/v2/instances/status/history",
                                        "/v2/instances"}
    assert all(made.id in r["query"] and other.id not in r["query"] for r in own), "the bid's own rows"
    assert len(made.outs["private_ips"]) == 3
    history = [r for r in own if r["path"] != "/v2/instances"]
    assert [r["path"] for r in history].count("/v2/instances/pricing/history") == 3, "a row a page, and every page"
    assert sum("next_cursor=" in r["query"] for r in history) == 4, "two further pages of each history route"
    last_look = [r for r in own if r["path"] == "/v2/instances"][-3:]
    assert ["next_cursor=" in r["query"] for r in last_look] == [False, True, True], "the instances' every page"


def test_records_without_history_refuse_to_cost_a_bid() -> None:
    whole = r"^these records hold no history: read them with history=True, or use with_history$"
    with pytest.raises(ValueError, match=whole):
        ProjectRecords(bids=({"fid": "bid_1"},)).cost("bid_1", T0)


def test_the_sdks_mapping_is_answered_a_bids_own_instances_from_the_rows_read() -> None:
    rows = [{"fid": "inst_1", "bid": "bid_a"}, {"fid": "inst_2", "bid": "bid_b"}, {"fid": "inst_3", "bid": "bid_a"}]
    recorded = records_module._RecordedInstances(rows)
    assert recorded.list_project_instances_by_bid("bid_a") == [rows[0], rows[2]]
    assert recorded.get_bid_instances("bid_a", ["inst_3", "inst_9"]) == {"inst_3": rows[2]}


def test_seconds_are_exact_to_the_microsecond() -> None:
    assert records_module._seconds(T0, T0 + timedelta(days=2, microseconds=1)) == Decimal("172800.000001")


def test_freshness_ends_at_its_limit_and_each_address_has_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[str] = []

    def read(flow: Any, api_key: str, bid_id: str | None = None) -> ProjectRecords:
        reads.append(flow.provider.api_url)
        return ProjectRecords(pricing=(), statuses=())

    monkeypatch.setattr(ProjectRecords, "read", staticmethod(read))
    here = SimpleNamespace(provider=SimpleNamespace(api_url="http://a", project_id="proj_1"))
    there = SimpleNamespace(provider=SimpleNamespace(api_url="http://b", project_id="proj_1"))
    forget_shared_records()
    shared_records(here, "k", "b1", clock=lambda: 0.0)
    shared_records(there, "k", "b1", clock=lambda: 0.0)
    shared_records(here, "k", "b2", clock=lambda: SHARE_SECONDS)
    assert reads == ["http://a", "http://b", "http://a"]
    other_project = SimpleNamespace(provider=SimpleNamespace(api_url="http://a", project_id="proj_2"))
    reads.clear()
    forget_shared_records()
    shared_records(here, "k", "b1", clock=lambda: 0.0)
    shared_records(there, "k", "b2", clock=lambda: 0.0)
    shared_records(other_project, "k", "b3", clock=lambda: 0.0)
    assert reads == ["http://a", "http://b", "http://a"], "another address or project: never the first's records"


def test_a_task_built_from_the_rows_read_is_the_task_the_sdk_reads_itself(task_provider: FlowTaskProvider,
                                                                           mithril: RunningEmulator) -> None:
    """The SDK's own mapping over recorded rows: the same status, type name, market price and addresses as
    `Flow.get_task`, which reads the bid and its instances on its own."""
    from pulumi_flow.provider.session import Credentials, flow_session

    made = task_provider.create(checked_task(num_instances=2))
    creds = Credentials.resolve()
    with flow_session(creds) as flow:
        built = ProjectRecords.read(flow, creds.api_key or "", history=False).task(flow, made.id)
        own = flow.get_task(made.id)
    fields = ("task_id", "status", "instance_type", "num_instances", "region", "cost_per_hour", "ssh_host")
    assert built is not None and built.instance_type != made.id
    assert {f: getattr(built, f) for f in fields} == {f: getattr(own, f) for f in fields}
    assert built.instance_type == own.instance_type and "a100" in str(built.instance_type).lower()


def test_the_records_are_read_fresh_and_hold_the_bids_own_instances(task_provider: FlowTaskProvider,
                                                                   mithril: RunningEmulator) -> None:
    from pulumi_flow.provider.session import Credentials, flow_session

    other = task_provider.create(checked_task(task_name="other-1a2b3c4d", num_instances=1))
    made = task_provider.create(checked_task(num_instances=2))
    creds = Credentials.resolve()
    with flow_session(creds) as flow:
        mithril.control.clear_requests()
        first = ProjectRecords.read(flow, creds.api_key or "", made.id)
        again = ProjectRecords.read(flow, creds.api_key or "", made.id)
    assert len(mithril.control.requests()) == 8, "never from the SDK's cache: each read asks Mithril"
    assert first == again
    assert {i["fid"] for i in first.instances} == set(made.outs["instance_ids"]) and other.id not in str(first)
    assert first.private_ips(made.outs["instance_ids"]) == made.outs["private_ips"]
    assert [b["fid"] for b in first.bids] == [made.id]
    assert ProjectRecords.read(flow, creds.api_key or "", "bid_0000000000000000", history=False).bids == (), \
        "a bid Mithril does not have"


def test_a_create_and_a_read_each_read_every_thing_once(task_provider: FlowTaskProvider,
                                                        mithril: RunningEmulator) -> None:
    """The bid, its instances and its two histories: one request each, whether created or read."""
    routes = ["GET /v2/spot/bids/{id}", "GET /v2/instances", "GET /v2/instances/pricing/history",
              "GET /v2/instances/status/history"]

    def reads() -> list[str]:
        """Reads of bids and instances; not the SDK's own check for a live bid of the new one's name."""
        return sorted(f"GET {r['path']}".replace(made.id, "{id}") for r in mithril.control.requests()
                      if r["method"] == "GET" and r["path"].startswith(("/v2/instances", "/v2/spot/bids"))
                      and "name=" not in r["query"])

    mithril.control.clear_requests()
    made = task_provider.create(checked_task(num_instances=2, wait_until="submitted"))
    assert reads() == sorted(routes)
    mithril.control.clear_requests()
    forget_shared_records()
    read = task_provider.read(made.id, made.outs).outs
    listings = ["GET /v2/spot/bids"] * len(LIVE_BID_STATUSES)
    assert reads() == sorted([*listings, *routes[1:]]), "a refresh's read: the project's live bids, once"
    assert read["task_id"] == made.id


def test_a_refresh_reads_no_more_for_the_projects_past(task_provider: FlowTaskProvider,
                                                        mithril: RunningEmulator) -> None:
    """Months of jobs leave ended bids behind: a refresh reads the live bids (a listing per live status) and their
    instances, as many requests with 150 ended bids in the project as with none, and still each task's own state."""
    made = task_provider.create(checked_task(num_instances=1))
    backend = mithril.backend
    body = {"project": PROJECT_ID, "region": REGION, "instance_type": A100_8X, "limit_price": "$30.00",
            "instance_quantity": 1, "launch_specification": {"volumes": [], "ssh_keys": []}}
    past = [backend.create_bid({**body, "name": f"old-{n}"}, None)[0]["fid"] for n in range(150)]
    for fid in past:
        backend.cancel_bid(fid)
    mithril.control.clear_requests()
    forget_shared_records()
    read = task_provider.read(made.id, made.outs).outs
    requests = mithril.control.requests()
    listings = [r for r in requests if r["path"] == "/v2/spot/bids"]
    assert sorted(r["query"].split("status=")[1].split("&")[0] for r in listings) == sorted(LIVE_BID_STATUSES)
    assert not any("next_cursor" in r["query"] for r in listings), "one page each: the ended bids are not listed"
    (instances,) = [r for r in requests if r["path"] == "/v2/instances"]
    assert made.id in instances["query"] and not any(fid in instances["query"] for fid in past)
    since = mithril_time(moment(backend.get_bid(made.id)["created_at"]) - HISTORY_MARGIN)
    history = [r for r in requests if r["path"].endswith("/history")]
    assert len(history) == 2 and all(f"start_time={quote(since)}" in r["query"] for r in history), \
        "the history since just before the oldest live bid was placed"
    assert read["task_id"] == made.id and read["status"] == "running" and read["spend_usd"] >= made.outs["spend_usd"]


@contextmanager
def machine_zone(monkeypatch: pytest.MonkeyPatch, zone: str) -> Iterator[None]:
    try:
        with monkeypatch.context() as zoned:
            zoned.setenv("TZ", zone)
            time.tzset()
            yield
    finally:
        time.tzset()


def project_reader(monkeypatch: pytest.MonkeyPatch, get: Callable[..., dict[str, Any]]) -> Any:
    """The project's reader, with `get(reader, path, params)` answering its requests."""
    monkeypatch.setattr(records_module._Reader, "_get", get)
    flow: Any = SimpleNamespace(provider=SimpleNamespace(project_id="proj_1", api_url="http://mithril"))
    return records_module._Reader(flow, "k", None)


def test_a_bid_listed_twice_keeps_its_later_row(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bid allocated between the `Open` and the `Allocated` listings is in both: its row is the later one."""
    listed = {"Open": [{"fid": "bid_a", "status": "Open"}, {"fid": "bid_b", "status": "Open"}],
              "Allocated": [{"fid": "bid_a", "status": "Allocated"}], "Paused": [{"fid": "bid_c", "status": "Paused"}]}
    asked: list[object] = []

    def get(_reader: Any, path: str, params: dict[str, object]) -> dict[str, Any]:
        asked.append(params["status"])
        return {"data": listed.get(str(params["status"]), [])}

    rows = project_reader(monkeypatch, get).bids()
    assert asked == list(LIVE_BID_STATUSES)
    assert {row["fid"]: row["status"] for row in rows} == {"bid_a": "Allocated", "bid_b": "Open", "bid_c": "Paused"}


def test_the_live_bids_instances_are_asked_for_a_page_of_bids_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """`bid_fid_in` names at most a page's worth of bids (an address stays short), and every page of each is read."""
    monkeypatch.setattr(records_module, "PAGE", 2)
    asked: list[tuple[object, object]] = []

    def get(_reader: Any, path: str, params: dict[str, object]) -> dict[str, Any]:
        asked.append((params["bid_fid_in"], params.get("next_cursor")))
        ids = str(params["bid_fid_in"]).split(",")
        if params.get("next_cursor") is None and len(ids) == 2:
            return {"data": [{"fid": f"inst_{ids[0]}"}], "next_cursor": "1"}
        return {"data": [{"fid": f"inst_{ids[-1]}"}]}

    rows = project_reader(monkeypatch, get).instances([{"fid": "a"}, {"fid": "b"}, {"fid": "c"}])
    assert asked == [("a,b", None), ("a,b", "1"), ("c", None)]
    assert [row["fid"] for row in rows] == ["inst_a", "inst_b", "inst_c"]


def test_the_projects_history_starts_before_its_oldest_live_bid_or_at_the_beginning(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Times compared as times (an offset is not later text), an hour's margin; a bid of unknown age: everything."""
    asked: list[dict[str, object]] = []

    def get(_reader: Any, path: str, params: dict[str, object]) -> dict[str, Any]:
        asked.append({k: v for k, v in params.items() if k not in ("project", "limit")})
        return {"instances": []}

    reader = project_reader(monkeypatch, get)
    reader.history([{"fid": "a", "created_at": "2026-01-01T03:00:00Z"},
                    {"fid": "b", "created_at": "2026-01-01T04:00:00+02:00"}])
    assert asked == [{"start_time": "2026-01-01T01:00:00Z"}] * 2, "b was placed at 02:00Z, the oldest"
    asked.clear()
    with machine_zone(monkeypatch, "Asia/Kolkata"):  # in UTC whatever the machine's zone
        reader.history([{"fid": "b", "created_at": "2026-01-01T04:00:00+02:00"}])
    assert asked == [{"start_time": "2026-01-01T01:00:00Z"}] * 2
    asked.clear()
    reader.history([{"fid": "a", "created_at": "2026-01-01T03:00:00Z"}, {"fid": "b", "created_at": None}])
    assert asked == [{}] * 2


def test_a_project_with_no_live_bid_reads_nothing_more(task_provider: FlowTaskProvider,
                                                        mithril: RunningEmulator) -> None:
    """No live bid: no instances and no history to read. The ended job's own read tells its end and its cost."""
    made = task_provider.create(checked_task(role="workload", num_instances=1))
    mithril.control.terminate(made.id)
    mithril.control.clear_requests()
    forget_shared_records()
    read = task_provider.read(made.id, made.outs).outs
    project_reads = [r["path"] for r in mithril.control.requests() if "status=" in r["query"]]
    assert project_reads == ["/v2/spot/bids"] * len(LIVE_BID_STATUSES)
    own = [r for r in mithril.control.requests() if made.id in r["path"] + r["query"]]
    assert {r["path"] for r in own} == {f"/v2/spot/bids/{made.id}", "/v2/instances", "/v2/instances/pricing/history",
                                        "/v2/instances/status/history"}
    assert read["bid_status"] == "Terminated" and read["spend_usd"] >= made.outs["spend_usd"]


def test_a_bid_missing_from_the_projects_read_is_read_on_its_own(task_provider: FlowTaskProvider,
                                                                  mithril: RunningEmulator,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A bid the project's listing does not hold (placed after it was read) is asked for by its id."""
    made = task_provider.create(checked_task(num_instances=1))
    monkeypatch.setattr(task_module, "shared_records", lambda *_args: ProjectRecords(pricing=(), statuses=()))
    mithril.control.clear_requests()
    read = task_provider.read(made.id, made.outs).outs
    assert read["task_id"] == made.id and read["status"] == "running" and read["spend_usd"] >= made.outs["spend_usd"]
    assert f"/v2/spot/bids/{made.id}" in [r["path"] for r in mithril.control.requests()]
