"""`pulumi-flow cost`: what a stack's bids have spent and will spend, from the stack's state.

The state comes through the Automation API (`pulumi stack export` of the current directory's stack, or `--stack`),
or from a file `pulumi stack export` wrote (`--state`). Each task's cost outputs are Mithril's word as of its last
create, update or refresh (`pulumi refresh` brings them up to date). With Mithril's credentials in the environment
the command also draws each bid's market over its life against its bid, from Mithril's price and bid history.
"""

from __future__ import annotations

import argparse
import html
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs

from pulumi_flow.cli.console import Console
from pulumi_flow.money import HOURS_IN_30_DAYS, as_text, cents_up, show, usd
from pulumi_flow.pricing import MissingThresholdError, on_demand_threshold
from pulumi_flow.provider.records import moment
from pulumi_flow.provider.task import TERMINAL
from pulumi_flow.resources import RESERVATION_TYPES, TASK_TYPES

CHART_WIDTH = 48
LEVELS = "▁▂▃▄▅▆▇█"
OVER_BID = "!"  # a stretch where the market was above the bid: Mithril preempts it there


def _money(value: Any) -> Decimal | None:
    return usd(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@attrs.frozen
class TaskCost:
    """One task's money, per instance-hour where it says so, from its state."""

    name: str
    task_id: str
    instance_type: str
    instances: int
    bid: Decimal | None
    market: Decimal | None
    floor: Decimal | None
    spend: Decimal
    preemptions: int
    billing: bool  # live and not paused: what it pays now goes on

    @property
    def hourly_now(self) -> Decimal:
        return (self.market or Decimal(0)) * self.instances if self.billing else Decimal(0)

    @property
    def next_30_days(self) -> Decimal:
        return self.hourly_now * HOURS_IN_30_DAYS

    def to_json(self) -> dict[str, Any]:
        def cents(value: Decimal | None) -> str | None:
            return None if value is None else as_text(value)

        return {"name": self.name, "task_id": self.task_id, "instance_type": self.instance_type,
                "instances": self.instances, "bid_per_instance_hour": cents(self.bid),
                "market_per_instance_hour": cents(self.market), "floor_per_instance_hour": cents(self.floor),
                "spend_usd": cents(self.spend), "hourly_now_usd": cents(self.hourly_now),
                "next_30_days_usd": cents(self.next_30_days), "preemptions": self.preemptions}


def _recorded(deployment: Mapping[str, Any], types: tuple[str, ...]) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """(name, id, outputs) of each resource of these types a deployment holds an id for, in state order."""
    for resource in deployment.get("resources") or []:
        if resource.get("type") in types and resource.get("id"):
            yield str(resource["urn"]).rsplit("::", 1)[-1], str(resource["id"]), resource.get("outputs") or {}


def costs_of(deployment: Mapping[str, Any]) -> list[TaskCost]:
    """Every task in a `pulumi stack export` deployment, in state order."""
    found = []
    for name, task_id, outputs in _recorded(deployment, TASK_TYPES):
        instance_type = str(outputs.get("instance_type") or "")
        try:
            floor: Decimal | None = on_demand_threshold(instance_type)
        except (MissingThresholdError, ValueError):
            floor = None  # a GPU family with no figure: nothing to compare with
        billing = outputs.get("status") not in TERMINAL and not outputs.get("paused")
        found.append(TaskCost(
            name=name, task_id=task_id, instance_type=instance_type,
            instances=int(outputs.get("num_instances") or 1), bid=_money(outputs.get("max_price_per_hour")),
            market=_money(outputs.get("market_price_per_hour")), floor=floor,
            spend=_money(outputs.get("spend_usd")) or Decimal(0), preemptions=int(outputs.get("preemptions") or 0),
            billing=billing))
    return found


@attrs.frozen
class ReservationCost:
    """One reservation's money from its state: its whole total is committed; while it runs it costs its unit price
    per instance-hour, up to its end."""

    name: str
    reservation_id: str
    instance_type: str
    instances: int
    unit: Decimal | None
    committed: Decimal
    status: str
    ends_at: datetime | None

    @property
    def hourly_now(self) -> Decimal:
        return (self.unit or Decimal(0)) * self.instances if self.status in ("Active", "Paused") else Decimal(0)

    def next_30_days(self, now: datetime) -> Decimal:
        """Its hourly cost over the next 30 days, or up to its end if that comes first."""
        if self.ends_at is None:
            return self.hourly_now * HOURS_IN_30_DAYS
        left: Decimal = Decimal(str(max((self.ends_at - now).total_seconds(), 0.0))) / 3600
        return self.hourly_now * min(Decimal(HOURS_IN_30_DAYS), left)

    def to_json(self, now: datetime) -> dict[str, Any]:
        return {"name": self.name, "reservation_id": self.reservation_id, "instance_type": self.instance_type,
                "instances": self.instances, "status": self.status,
                "unit_per_instance_hour": None if self.unit is None else as_text(self.unit),
                "committed_usd": as_text(self.committed), "hourly_now_usd": as_text(self.hourly_now),
                "next_30_days_usd": as_text(cents_up(self.next_30_days(now)))}


def reservations_of(deployment: Mapping[str, Any]) -> list[ReservationCost]:
    """Every live reservation in a deployment, in state order."""
    found = []
    for name, reservation_id, outputs in _recorded(deployment, RESERVATION_TYPES):
        ends = outputs.get("ends_at")
        found.append(ReservationCost(
            name=name, reservation_id=reservation_id,
            instance_type=str(outputs.get("instance_type") or ""), instances=int(outputs.get("quantity") or 1),
            unit=_money(outputs.get("unit_price")), committed=_money(outputs.get("committed_usd")) or Decimal(0),
            status=str(outputs.get("status") or ""), ends_at=moment(ends) if isinstance(ends, str) else None))
    return found


def totals(costs: Sequence[TaskCost], reserved: Sequence[ReservationCost] = (),
           now: datetime | None = None) -> dict[str, Decimal | int]:
    """The stack's figures: the tasks' spend and preemptions, the reservations' commitments, and what both cost per
    hour now and over the next 30 days."""
    when = now or datetime.now(timezone.utc)
    return {"spend_usd": sum((c.spend for c in costs), Decimal(0)),
            "committed_usd": sum((r.committed for r in reserved), Decimal(0)),
            "hourly_now_usd": sum((c.hourly_now for c in costs), Decimal(0)) + sum((r.hourly_now for r in reserved),
                                                                                  Decimal(0)),
            "next_30_days_usd": sum((c.next_30_days for c in costs), Decimal(0))
            + cents_up(sum((r.next_30_days(when) for r in reserved), Decimal(0))),
            "preemptions": sum(c.preemptions for c in costs)}


def _shown(value: Decimal | None) -> str:
    return "-" if value is None else show(value)


def print_table(console: Console, stack: str, costs: Sequence[TaskCost],
                reserved: Sequence[ReservationCost] = (), now: datetime | None = None) -> None:
    when = now or datetime.now(timezone.utc)
    header = ("TASK", "BID/h", "PAYS/h", "FLOOR/h", "SPENT", "NOW/h", "30 DAYS", "PREEMPTED")
    rows = [(c.name, _shown(c.bid), _shown(c.market), _shown(c.floor), show(c.spend), show(c.hourly_now),
             show(c.next_30_days), str(c.preemptions)) for c in costs]
    # A reservation's row: its unit price where a task has its bid and pay, its commitment where a task has spend.
    rows += [(f"{r.name} (reserved, {r.status})", _shown(r.unit), _shown(r.unit), "-", f"{show(r.committed)} owed",
              show(r.hourly_now), show(cents_up(r.next_30_days(when))), "-") for r in reserved]
    total = totals(costs, reserved, when)
    owed = f" + {show(total['committed_usd'])} owed" if reserved else ""
    rows.append(("total", "", "", "", f"{show(total['spend_usd'])}{owed}", show(total["hourly_now_usd"]),
                 show(total["next_30_days_usd"]), str(total["preemptions"])))
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        cells = (cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True))
        return "  ".join([row[0].ljust(widths[0]), *cells])

    console.print(f"Cost of {stack} (per instance-hour where /h; spend to each task's last refresh; 30 days at what "
                  f"it pays now):", "bold")
    console.print(line(header), "dim")
    for row in rows[:-1]:
        console.print(line(row))
    console.print(line(rows[-1]), "bold")


# -- the market against the bid, over each bid's life ------------------------------------------------------------

@attrs.frozen
class Series:
    """A step function: the value from each time on."""

    points: tuple[tuple[datetime, Decimal], ...]

    def within(self, start: datetime, end: datetime) -> list[Decimal]:
        """Every value the series took from `start` to `end`, in order."""
        first = self.at(start)
        return [*([first] if first is not None else []), *(v for t, v in self.points if start < t <= end)]

    def at(self, moment: datetime) -> Decimal | None:
        value = None
        for when, figure in self.points:
            if when > moment:
                break
            value = figure
        return value


@attrs.frozen
class BidChart:
    name: str
    start: datetime
    end: datetime
    market: Series
    bid: Series

    def samples(self, width: int = CHART_WIDTH) -> list[tuple[datetime, Decimal | None, Decimal | None]]:
        span = (self.end - self.start) / width
        moments = [self.start + span * (i + 0.5) for i in range(width)]
        return [(m, self.market.at(m), self.bid.at(m)) for m in moments]

    def line(self, width: int = CHART_WIDTH) -> str:
        samples = self.samples(width)
        top = max((v for _, m, b in samples for v in (m, b) if v is not None), default=Decimal(1)) or Decimal(1)
        cells = []
        for _, market, bid in samples:
            if market is None:
                cells.append(" ")
            elif bid is not None and market > bid:
                cells.append(OVER_BID)
            else:
                cells.append(LEVELS[min(int(market / top * len(LEVELS)), len(LEVELS) - 1)])
        markets = self.market.within(self.start, self.end)
        low, high = (min(markets), max(markets)) if markets else (None, None)
        bids = self.bid.within(self.start, self.end)
        over = sum(1 for _, m, b in samples if m is not None and b is not None and m > b)
        said = f"market {_shown(low)}..{_shown(high)}, bid {' then '.join(show(b) for b in dict.fromkeys(bids)) or '-'}"
        if over:
            said += f"; above the bid {over * 100 // width}% of the time ({OVER_BID})"
        return f"{''.join(cells)}  {said}"

    def svg(self, width: int = 640, height: int = 160) -> str:
        samples = self.samples(width // 4)
        top = max((v for _, m, b in samples for v in (m, b) if v is not None), default=Decimal(1)) or Decimal(1)

        def path(values: Iterable[Decimal | None]) -> str:
            points = [f"{i * 4},{height - float(v / top) * (height - 10):.1f}" for i, v in enumerate(values)
                      if v is not None]
            return " ".join(points)

        return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
                f'aria-label="market and bid of {html.escape(self.name)}">'
                f'<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="{path(m for _, m, _ in samples)}"/>'
                f'<polyline fill="none" stroke="#d62728" stroke-dasharray="6 3" stroke-width="2" '
                f'points="{path(b for _, _, b in samples)}"/></svg>')


def read_chart(flow: Any, api_key: str, cost: TaskCost, now: datetime) -> BidChart:
    """The market of the bid's instance type and region since the bid was placed, and its limit price over time:
    three reads of Mithril's history through the SDK's JSON seam."""
    from flow.application.http_json import get_api_json

    from pulumi_flow.money import from_wire

    api_url = flow.provider.api_url
    bid: Any = get_api_json(api_url, api_key, f"/v2/spot/bids/{cost.task_id}", bypass_cache=True)
    events: Any = get_api_json(api_url, api_key, f"/v2/spot/bids/{cost.task_id}/history", bypass_cache=True)
    start = moment(bid["created_at"])
    end = moment(bid["deactivated_at"]) if bid.get("deactivated_at") else now
    prices: Any = get_api_json(api_url, api_key, "/v2/pricing/history", {
        "instance_types": bid["instance_type"], "region": bid["region"], "num_samples": -1}, bypass_cache=True)
    market: list[tuple[datetime, Decimal]] = []
    for series in prices.get("series") or []:
        market += [(moment(t), from_wire(p)) for t, p in zip(series["timestamps"], series["spot_prices"],
                                                               strict=True)]
    limits = [(moment(e["timestamp"]), from_wire(e["limit_price"])) for e in events.get("events") or []
              if e.get("limit_price")]
    return BidChart(cost.name, start, max(end, start), Series(tuple(sorted(market))), Series(tuple(limits)))


def write_html(path: Path, stack: str, costs: Sequence[TaskCost], charts: Sequence[BidChart]) -> None:
    rows = "".join(
        f"<tr><td>{html.escape(c.name)}</td><td>{_shown(c.bid)}</td><td>{_shown(c.market)}</td>"
        f"<td>{_shown(c.floor)}</td><td>{show(c.spend)}</td><td>{show(c.hourly_now)}</td>"
        f"<td>{show(c.next_30_days)}</td><td>{c.preemptions}</td></tr>" for c in costs)
    total = totals(costs)
    figures = "".join(f"<figure><figcaption>{html.escape(chart.name)}: market (solid) against the bid (dashed), "
                      f"{chart.start:%Y-%m-%d %H:%M} to {chart.end:%Y-%m-%d %H:%M} UTC</figcaption>{chart.svg()}"
                      f"</figure>" for chart in charts)
    path.write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>Cost of {html.escape(stack)}</title>"
        f"<style>body{{font-family:sans-serif}}td,th{{padding:2px 10px;text-align:right}}"
        f"td:first-child,th:first-child{{text-align:left}}</style></head><body>"
        f"<h1>Cost of {html.escape(stack)}</h1><table><tr><th>Task</th><th>Bid/h</th><th>Pays/h</th>"
        f"<th>Floor/h</th><th>Spent</th><th>Now/h</th><th>30 days</th><th>Preempted</th></tr>{rows}"
        f"<tr><th>total</th><td></td><td></td><td></td><th>{show(total['spend_usd'])}</th>"
        f"<th>{show(total['hourly_now_usd'])}</th><th>{show(total['next_30_days_usd'])}</th>"
        f"<th>{total['preemptions']}</th></tr></table>{figures}</body></html>")


# -- the command --------------------------------------------------------------------------------------------------

def _deployment(args: argparse.Namespace) -> tuple[str, Mapping[str, Any]]:
    if args.state:
        exported = json.loads(Path(args.state).read_text())
        return args.stack or Path(args.state).name, exported.get("deployment", exported)
    from pulumi import automation as auto

    from pulumi_flow.engines.pulumi_cli import find_cli

    cli_dir = find_cli()
    command = auto.PulumiCommand(root=str(cli_dir.parent), skip_version_check=True)
    workspace = auto.LocalWorkspace(work_dir=str(Path(args.cwd).resolve()), pulumi_command=command)
    selected = workspace.stack()
    name = args.stack or (selected.name if selected is not None else "")
    if not name:
        raise ValueError(f"{args.cwd}: no stack selected. Fix: pass --stack NAME, or `pulumi stack select` there")
    deployment = auto.Stack.select(name, workspace).export_stack().deployment
    return name, deployment or {}


def cost_command(args: argparse.Namespace, console: Console) -> int:
    name, deployment = _deployment(args)
    costs = costs_of(deployment)
    reserved = reservations_of(deployment)
    now = datetime.now(timezone.utc)
    charts: list[BidChart] = []
    from pulumi_flow.provider.session import ENV_KEYS, Credentials, flow_session, scrubbed

    creds = Credentials.resolve()
    if args.html and not creds.api_key:
        raise ValueError(f"--html draws each bid's market from Mithril's history. Fix: export "
                         f"{ENV_KEYS['api_key']}=fkey_... (and {ENV_KEYS['api_url']} for an emulator)")
    if creds.api_key and not args.no_chart:
        with scrubbed(creds.api_key, "reading Mithril's price history"), flow_session(creds) as flow:
            charts = [read_chart(flow, creds.api_key or "", cost, now) for cost in costs]
    if args.html:
        write_html(Path(args.html), name, costs, charts)
    if args.json:
        total = totals(costs, reserved, now)
        console.print(json.dumps({"stack": name, "tasks": [c.to_json() for c in costs],
                                  "reservations": [r.to_json(now) for r in reserved],
                                  "total": {k: as_text(v) if isinstance(v, Decimal) else v for k, v in total.items()}},
                                 indent=2))
        return 0
    print_table(console, name, costs, reserved, now)
    for chart in charts:
        console.print(f"{chart.name}: {chart.line()}")
    if not creds.api_key and not args.no_chart:
        console.print(f"(no {ENV_KEYS['api_key']} in the environment: no chart of each bid's market)", "dim")
    if args.html:
        console.print(f"wrote {args.html}", "dim")
    return 0
