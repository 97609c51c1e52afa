"""`pulumi-flow cost`: a stack's money from its state, and each bid's market against its bid from Mithril's history."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from pulumi_flow.cli.cost import BidChart, Series, costs_of, reservations_of, totals
from pulumi_flow.resources import RESERVATION_TYPE, TASK_TYPE, VOLUME_TYPE
from pulumi_flow.testing.emulator import RunningEmulator

from .test_cli import cli

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
A100_8X = "it_Sg1nDx1I8NFep60J"


def task_state(name: str, task_id: str, **outputs: Any) -> dict[str, Any]:
    base = {"instance_type": "8xa100", "num_instances": 4, "max_price_per_hour": 50.0, "market_price_per_hour": 16.0,
            "spend_usd": 12.34, "preemptions": 1, "status": "running", "paused": False}
    return {"urn": f"urn:pulumi:dev::p::flow:index:TrainingCluster${TASK_TYPE}::{name}", "id": task_id,
            "type": TASK_TYPE, "outputs": {**base, **outputs}}


DEPLOYMENT = {"resources": [
    task_state("cluster-task", "bid_1"),
    task_state("paused-task", "bid_2", paused=True, spend_usd=100.0, preemptions=0),
    {"urn": "urn:pulumi:dev::p::vol::data", "id": "vol_1", "type": VOLUME_TYPE, "outputs": {"size_gb": 100}},
]}


def test_the_stack_total_is_exact_and_a_paused_bid_costs_nothing_from_now() -> None:
    costs = costs_of(DEPLOYMENT)
    assert [c.name for c in costs] == ["cluster-task", "paused-task"], "tasks only, by what they are"
    cluster, paused = costs
    assert cluster.floor == Decimal("25.00"), "the pack's on-demand floor for 8 A100s: $3.125 x 8"
    assert cluster.hourly_now == Decimal("64.00") and cluster.next_30_days == Decimal("46080.00")
    assert paused.hourly_now == 0 and paused.next_30_days == 0
    assert totals(costs) == {"spend_usd": Decimal("112.34"), "committed_usd": Decimal(0),
                             "hourly_now_usd": Decimal("64.00"), "next_30_days_usd": Decimal("46080.00"),
                             "preemptions": 1}


@pytest.mark.slow
def test_the_command_reads_an_exported_state_as_a_table_and_as_json(tmp_path: Path) -> None:
    state = tmp_path / "dev.json"
    state.write_text(json.dumps({"version": 3, "deployment": DEPLOYMENT}))
    table = cli("cost", "--state", str(state), "--stack", "dev")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[1].split() == ["TASK", "BID/h", "PAYS/h", "FLOOR/h", "SPENT", "NOW/h", "30", "DAYS", "PREEMPTED"]
    assert lines[2].split() == ["cluster-task", "$50.00", "$16.00", "$25.00", "$12.34", "$64.00", "$46,080.00", "1"]
    assert lines[4].split() == ["total", "$112.34", "$64.00", "$46,080.00", "1"]
    assert "no MITHRIL_API_KEY in the environment: no chart" in table.stdout
    as_json = json.loads(cli("cost", "--state", str(state), "--json").stdout)
    assert as_json["tasks"][0]["spend_usd"] == "12.34" and as_json["tasks"][0]["next_30_days_usd"] == "46080.00"
    assert as_json["total"] == {"spend_usd": "112.34", "committed_usd": "0.00", "hourly_now_usd": "64.00",
                                "next_30_days_usd": "46080.00", "preemptions": 1}


def test_a_chart_line_marks_where_the_market_was_above_the_bid() -> None:
    market = Series(((T0, Decimal(16)), (T0 + timedelta(hours=6), Decimal(31)), (T0 + timedelta(hours=9),
                                                                                  Decimal(20))))
    bid = Series(((T0, Decimal(30)), (T0 + timedelta(hours=9), Decimal(40))))
    chart = BidChart("c", T0, T0 + timedelta(hours=12), market, bid)
    cells, said = chart.line(width=12).split("  ", 1)
    assert cells[6:9] == "!!!" and "!" not in cells[:6] + cells[9:], "above the bid from 6 h to 9 h"
    assert said == "market $16.00..$31.00, bid $30.00 then $40.00; above the bid 25% of the time (!)"
    assert chart.svg().count("<polyline") == 2


@pytest.mark.slow
def test_the_chart_comes_from_mithrils_history(mithril: RunningEmulator, tmp_path: Path) -> None:
    bid, _ = mithril.backend.create_bid({
        "project": "proj_emulator0001", "region": "us-central1-a", "instance_type": A100_8X, "limit_price": "$30.00",
        "instance_quantity": 1, "name": "b", "launch_specification": {"volumes": [], "ssh_keys": []}}, None)
    mithril.control.set_market(A100_8X, "us-central1-a", 3100)
    mithril.control.set_market(A100_8X, "us-central1-a", 1800)
    mithril.backend.cancel_bid(bid["fid"])
    state = tmp_path / "dev.json"
    state.write_text(json.dumps({"deployment": {"resources": [task_state("b-task", bid["fid"])]}}))
    report = tmp_path / "cost.html"
    result = cli("cost", "--state", str(state), "--html", str(report), env=dict(mithril.env))
    assert result.returncode == 0, result.stderr
    (line,) = [x for x in result.stdout.splitlines() if x.startswith("b-task: ")]
    assert line.endswith("market $16.00..$31.00, bid $30.00") or "market $16.00..$31.00, bid $30.00;" in line
    page = report.read_text()
    assert "<svg" in page and "b-task" in page and "$46,080.00" in page


def test_what_state_leaves_out_has_its_plain_meaning() -> None:
    bare = {"urn": "urn:pulumi:dev::p::x::bare-task", "id": "bid_9", "type": TASK_TYPE,
            "outputs": {"instance_type": "8xb300", "max_price_per_hour": 70.0, "market_price_per_hour": 60.0}}
    done = task_state("done-task", "bid_8", status="cancelled")
    (cost, finished) = costs_of({"resources": [bare, done]})
    assert (cost.task_id, cost.instance_type, cost.instances, cost.spend, cost.preemptions) == \
        ("bid_9", "8xb300", 1, Decimal(0), 0)
    assert cost.floor is None, "a GPU family with no figure has no floor"
    assert cost.hourly_now == Decimal(60) and finished.hourly_now == 0
    assert cost.to_json()["floor_per_instance_hour"] is None and cost.to_json()["instance_type"] == "8xb300"


def test_a_chart_scales_to_the_highest_figure_and_a_market_at_the_bid_is_not_above_it() -> None:
    market = Series(((T0, Decimal(20)), (T0 + timedelta(hours=4), Decimal(40))))
    bid = Series(((T0, Decimal(40)),))
    cells, said = BidChart("c", T0, T0 + timedelta(hours=8), market, bid).line(width=8).split("  ", 1)
    assert cells == "▅▅▅▅████" and said == "market $20.00..$40.00, bid $40.00"
    ending = Series(((T0, Decimal(20)), (T0 + timedelta(hours=8), Decimal(30))))
    assert "market $20.00..$30.00" in BidChart("c", T0, T0 + timedelta(hours=8), ending, bid).line(width=8), \
        "a move at the end of the period is in it"
    nothing = BidChart("c", T0, T0 + timedelta(hours=1), Series(()), Series(())).line(width=4)
    assert nothing == "      market -..-, bid -"


def test_every_task_is_read_whatever_comes_first_and_its_bid_is_kept() -> None:
    volume = {"urn": "urn:pulumi:dev::p::vol::data", "id": "vol_1", "type": VOLUME_TYPE, "outputs": {}}
    unnamed = {"urn": "urn:pulumi:dev::p::x::odd-task", "id": "bid_7", "type": TASK_TYPE, "outputs": {}}
    costs = costs_of({"resources": [volume, task_state("a-task", "bid_1"), unnamed]})
    assert [c.name for c in costs] == ["a-task", "odd-task"]
    assert costs[0].bid == Decimal("50.00") and costs[1].bid is None
    assert costs[1].to_json()["instance_type"] == "" and costs[1].floor is None


def test_a_market_above_the_bid_all_along_is_above_it_all_of_the_time() -> None:
    always = BidChart("c", T0, T0 + timedelta(hours=1), Series(((T0, Decimal(31)),)), Series(((T0, Decimal(30)),)))
    assert always.line(width=4) == "!!!!  market $31.00..$31.00, bid $30.00; above the bid 100% of the time (!)"
    free = BidChart("c", T0, T0 + timedelta(hours=1), Series(((T0, Decimal(0)),)), Series(((T0, Decimal(0)),)))
    assert free.line(width=2).startswith("▁▁  market $0.00..$0.00")


def reservation_state(name: str, reservation_id: str, **outputs: Any) -> dict[str, Any]:
    base = {"instance_type": "8xa100", "quantity": 2, "unit_price": 32.0, "committed_usd": 3072.0,
            "status": "Active", "starts_at": "2026-01-01T00:00:00Z", "ends_at": "2026-01-03T00:00:00Z"}
    return {"urn": f"urn:pulumi:dev::p::{RESERVATION_TYPE}::{name}", "id": reservation_id, "type": RESERVATION_TYPE,
            "outputs": {**base, **outputs}}


def test_a_reservation_is_owed_in_full_and_costs_its_unit_price_until_its_end() -> None:
    """2 instances at $32.00 an hour until 2026-01-03T00:00Z; read 12 hours before its end: $768.00 to come."""
    reserved = {"resources": [*DEPLOYMENT["resources"], reservation_state("gpu", "res_1"),
                              reservation_state("old", "res_2", status="Ended", committed_usd=10.0)]}
    now = datetime(2026, 1, 2, 12, tzinfo=timezone.utc)
    costs, (gpu, old) = costs_of(reserved), reservations_of(reserved)
    assert (gpu.hourly_now, gpu.next_30_days(now), gpu.committed) == (Decimal(64), Decimal(768), Decimal(3072))
    assert (old.hourly_now, old.next_30_days(now)) == (Decimal(0), Decimal(0)), "ended: owes what it owed"
    total = totals(costs, [gpu, old], now)
    assert total["committed_usd"] == Decimal(3082)
    assert total["hourly_now_usd"] == Decimal(64 + 64), "the running cluster (4 x $16) and the reservation"
    assert total["next_30_days_usd"] == Decimal(64 * 720) + Decimal(768)


def test_an_empty_stacks_totals_are_decimal_zeros_and_now_is_now() -> None:
    """Money stays Decimal even when there is nothing to add up; without `now`, a reservation is judged from now."""
    empty = totals([], [])
    assert {key: (type(value), value) for key, value in empty.items()} == {
        "spend_usd": (Decimal, 0), "committed_usd": (Decimal, 0), "hourly_now_usd": (Decimal, 0),
        "next_30_days_usd": (Decimal, 0), "preemptions": (int, 0)}
    (lasting,) = reservations_of({"resources": [reservation_state("gpu", "res_1", ends_at="2099-01-01T00:00:00Z")]})
    assert totals([], [lasting])["next_30_days_usd"] == Decimal(64 * 720)


def test_a_reservation_past_its_end_has_nothing_to_come_and_one_with_no_end_has_30_days() -> None:
    """Still `Active` in a state not refreshed since its end: not one more second is owed. No end: 30 days of it."""
    (late, endless) = reservations_of({"resources": [reservation_state("late", "res_1"),
                                                     reservation_state("endless", "res_2", ends_at=None)]})
    assert late.next_30_days(datetime(2026, 1, 5, tzinfo=timezone.utc)) == Decimal(0)
    assert endless.next_30_days(datetime(2026, 1, 5, tzinfo=timezone.utc)) == Decimal(64 * 720)


def test_the_command_shows_reservations_in_the_table_and_in_json(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"version": 3, "deployment": {"resources": [
        *DEPLOYMENT["resources"], reservation_state("gpu", "res_1", ends_at="2099-01-01T00:00:00Z")]}}))
    table = cli("cost", "--state", str(state), "--no-chart")
    assert "gpu (reserved, Active)" in table.stdout and "$3,072.00 owed" in table.stdout, table.stdout
    as_json = json.loads(cli("cost", "--state", str(state), "--json").stdout)
    (row,) = as_json["reservations"]
    assert (row["reservation_id"], row["committed_usd"], row["hourly_now_usd"]) == ("res_1", "3072.00", "64.00")
    assert row["next_30_days_usd"] == "46080.00" and as_json["total"]["committed_usd"] == "3072.00"
