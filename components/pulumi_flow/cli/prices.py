"""`pulumi-flow prices`: Mithril's live spot and reserved prices, and thresholds that follow them."""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import attrs

from pulumi_flow.cli.console import Console
from pulumi_flow.provider.session import Credentials, MissingApiKeyError, flow_session, scrubbed


@attrs.frozen
class Quote:
    family: str
    gpus: int
    region: str
    instance_type: str
    spot: float  # USD per instance-hour
    reserved: float | None  # USD per instance-hour


def read_quotes(flow: Any) -> list[Quote]:
    """Spot rows from the SDK's market listing; the reserved price of each from /v2/pricing/current."""
    names_to_ids: dict[str, list[str]] = {}
    for fid, (name, *_rest) in flow.pricing.instance_types().items():
        names_to_ids.setdefault(name, []).append(fid)  # one name can have several ids (the SDK seeds two H100s)
    api = flow.provider.ctx.api  # the SDK's own API client: auth, retries, errors
    quotes = []
    for row in flow.pricing.market():
        if not row.gpu_count or not row.gpu_type:
            continue
        reserved = None
        for fid in names_to_ids.get(row.instance_type, []):
            cents = api.get_current_prices(fid, region=row.region).get("reserved_price_cents")
            if isinstance(cents, int) and cents > 0:
                reserved = cents / 100
                break
        quotes.append(Quote(family=str(row.gpu_type).lower(), gpus=int(row.gpu_count), region=str(row.region),
                            instance_type=str(row.instance_type), spot=float(row.price_per_instance_hour),
                            reserved=reserved))
    return sorted(quotes, key=lambda q: (q.family, q.gpus, q.region))


def thresholds_from(quotes: list[Quote]) -> dict[str, float]:
    """Per GPU family, the highest reserved price per GPU-hour seen: what on-demand capacity costs
    in the dearest region, so a bid at it is not outbid anywhere the cluster may land."""
    figures: dict[str, float] = {}
    for quote in quotes:
        if quote.reserved is not None:
            per_gpu = round(quote.reserved / quote.gpus, 4)
            figures[quote.family] = max(figures.get(quote.family, 0.0), per_gpu)
    return dict(sorted(figures.items()))


def prices_command(args: argparse.Namespace, console: Console) -> int:
    credentials = Credentials.resolve()
    if not credentials.api_key:
        raise MissingApiKeyError(
            "prices: no Mithril API key", "export MITHRIL_API_KEY=fkey_... (to read the emulator's prices, start "
            "`pulumi-flow emulator` and export the MITHRIL_API_URL it prints and any fkey_ key)")
    with scrubbed(credentials.api_key, "reading prices"), flow_session(credentials) as flow, \
            console.status("reading Mithril's prices"):
        quotes = read_quotes(flow)
    if not quotes:
        raise RuntimeError("Mithril listed no GPU market; nothing to price")
    console.print(f"{'family':<7}{'GPUs':>5}  {'region':<16}{'spot $/inst-h':>14}{'reserved $/inst-h':>19}"
                  f"{'reserved $/GPU-h':>18}", "bold")
    for q in quotes:
        reserved = (f"{q.reserved:>19.2f}{q.reserved / q.gpus:>18.4f}" if q.reserved is not None
                    else f"{'-':>19}{'-':>18}")
        console.print(f"{q.family:<7}{q.gpus:>5}  {q.region:<16}{q.spot:>14.2f}{reserved}")
    thresholds = thresholds_from(quotes)
    if args.out:
        source = f"reserved prices from {credentials.api_url or 'https://api.mithril.ai'} (GET /v2/pricing/current)"
        config = {"infrastructure-bid-floor": {
            "enforcementLevel": "mandatory",
            "thresholds": thresholds,
            "margin": args.margin,
            "source": source + ", highest per GPU-hour across regions",
            "generated_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }, "consider-reservation": {"thresholds": thresholds}}  # the same reserved prices, to compare spot with
        Path(args.out).write_text(json.dumps(config, indent=2) + "\n")
        console.print(f"wrote {args.out}: thresholds per GPU-hour {thresholds}; use it with "
                      f"`pulumi up --policy-pack policies/ --policy-pack-config {args.out}`", "green")
    return 0
