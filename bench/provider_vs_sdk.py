"""FlowTask through our provider against the same work through the bare Flow SDK, one emulator.

    python bench/provider_vs_sdk.py [--rounds 10]

Each round: create (place the bid, wait until every instance runs), read (fresh, as a refresh),
delete. The bare-SDK side does what a careful hand-written script would: `Flow.run`, the same
polling schedule until the instances have addresses, `get_task`, `get_task_instances`,
`cancel`. Rounds alternate sides so drift in the machine hits both. Prints wall time per round,
the ratio, and HTTP requests per round by route.
"""

from __future__ import annotations

import argparse
import collections
import statistics
import time
from collections.abc import Callable
from typing import Any

from pulumi_flow.emulator import Settings
from pulumi_flow.provider import FlowTaskProvider
from pulumi_flow.testing.emulator import running_emulator

POLL = 0.05
INPUTS: dict[str, Any] = {"role": "infrastructure", "instance_type": "8xh100", "num_instances": 2,
                          "max_price_per_hour": 50.0, "command": "sleep infinity", "ready_timeout_minutes": 5}


def through_provider(index: int) -> None:
    provider = FlowTaskProvider()
    provider.poll_interval_seconds = POLL
    inputs = provider.check({}, {**INPUTS, "task_name": f"prov-{index}"}).inputs
    created = provider.create(inputs)
    provider.read(created.id, created.outs or {})
    provider.delete(created.id, created.outs or {})


def through_sdk(index: int, fresh: bool = True) -> None:
    """`fresh`: drop the SDK's cached bid state before each poll, as the provider does; without it
    the polls are answered from the HTTP cache and see "pending" until its TTL runs out."""
    import flow
    from flow import TaskConfig
    from flow.adapters.http.client import HttpClientPool

    with flow.Flow() as client:
        config = TaskConfig(name=f"sdk-{index}", unique_name=False, command="sleep infinity",
                            instance_type="8xh100", num_instances=2, max_price_per_hour=50.0, upload_code=False)
        task = client.run(config)
        interval = POLL
        while True:
            if fresh:
                HttpClientPool.invalidate_volatile_caches()
            task = client.get_task(task.task_id)
            if task.status.value == "running" and len(task.ssh_hosts) >= 2:
                break
            time.sleep(interval)
            interval = min(interval * 1.5, 10.0)
        task.get_instances()
        if fresh:
            HttpClientPool.invalidate_volatile_caches()
        client.get_task(task.task_id).get_instances()  # the refresh
        client.cancel(task.task_id)


def measure(side: Callable[[int], None], index: int, control: Any) -> tuple[float, list[tuple[str, str]]]:
    control.clear_requests()
    started = time.perf_counter()
    side(index)
    elapsed = time.perf_counter() - started
    routes = [(r["method"], _template(r["path"])) for r in control.requests()]
    return elapsed, routes


def _template(path: str) -> str:
    return "/".join("{id}" if part.startswith(("bid_", "vol_", "inst_", "apikey_")) else part
                    for part in path.split("/"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    with running_emulator(Settings(allocation_delay=0.05, boot_delay=0.05)) as mithril:
        through_sdk(-1)  # warm imports and the catalog cache for both
        through_provider(-1)
        times: dict[str, list[float]] = {"provider": [], "sdk": []}
        requests: dict[str, list[tuple[str, str]]] = {"provider": [], "sdk": []}
        totals: dict[str, list[int]] = {"provider": [], "sdk": []}
        for index in range(args.rounds):
            for name, side in (("provider", through_provider), ("sdk", through_sdk)):
                elapsed, routes = measure(side, index, mithril.control)
                times[name].append(elapsed)
                requests[name] = routes
                totals[name].append(len(routes))
        naive = [measure(lambda i: through_sdk(i, fresh=False), 100 + i, mithril.control)[0] for i in range(2)]
        assert mithril.control.live_bids() == []

    p, s = statistics.median(times["provider"]), statistics.median(times["sdk"])
    print(f"create+read+delete, median of {args.rounds}: provider {p * 1000:.0f} ms, bare SDK {s * 1000:.0f} ms, "
          f"ratio {p / s:.2f}")
    print(f"  (a naive SDK loop that trusts the HTTP cache: {statistics.median(naive) * 1000:.0f} ms per round)")
    counts = {name: collections.Counter(routes) for name, routes in requests.items()}
    print(f"HTTP requests per round: provider {totals['provider']}, bare SDK {totals['sdk']} "
          "(the polls depend on timing); by route, last round:")
    for route in sorted(set(counts["provider"]) | set(counts["sdk"])):
        extra = counts["provider"][route] - counts["sdk"][route]
        print(f"  {route[0]:6} {route[1]:32} provider {counts['provider'][route]:>2}  sdk {counts['sdk'][route]:>2}"
              + (f"  ({extra:+d})" if extra else ""))


if __name__ == "__main__":
    main()
