"""`pulumi refresh` of N one-node clusters on the real Pulumi CLI, against `flow status --all` on the same emulator.

    python bench/refresh.py [--clusters 100] [--repeat 3]

One emulator, one stack of N clusters made by `pulumi up --parallel 16` (not measured). Then, interleaved,
`--repeat` times each: `pulumi refresh` (which reads every task's state and cost) and `flow status --all` (the
user's alternative, which reads state only). Prints the median wall time of each, the ratio, and the Mithril requests
each made by route.
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pulumi_flow import TrainingCluster, TrainingClusterArgs
from pulumi_flow.engines.pulumi_cli import PulumiCli, find_cli
from pulumi_flow.testing.emulator import RunningEmulator, running_emulator

ROOT = Path(__file__).resolve().parents[1]
FLOW = str(Path(sys.executable).parent / "flow")


def clusters(count: int) -> None:
    for index in range(count):
        TrainingCluster(f"c{index}", TrainingClusterArgs(instance_type="8xa100", max_price_per_hour=30.0))


def requests_by_route(mithril: RunningEmulator) -> collections.Counter[str]:
    return collections.Counter(f"{r['method']} {r['path'] if '/bids/' not in r['path'] else '/v2/spot/bids/{id}…'}"
                               for r in mithril.control.requests())


def timed(action: object, mithril: RunningEmulator) -> tuple[float, collections.Counter[str]]:
    mithril.control.clear_requests()
    start = time.perf_counter()
    action()  # type: ignore[operator]
    return time.perf_counter() - start, requests_by_route(mithril)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clusters", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    cli_dir = find_cli(os.environ.get("PULUMI_FLOW_CLI_DIR") or subprocess.run(
        [str(ROOT / "scripts" / "install-pulumi")], capture_output=True, text=True, check=True).stdout.strip())
    with tempfile.TemporaryDirectory() as tmp, running_emulator(flow_dir=f"{tmp}/flow", set_environ=False) as mithril:
        engine = PulumiCli(cli_dir, home=Path(tmp) / "home", backend=Path(tmp) / "state")
        stack = engine.stack("dev", project="many", program=lambda: clusters(args.clusters), env=mithril.env)
        stack.up(parallel=16)
        env = {**os.environ, **mithril.env, "HOME": tmp}

        def refresh() -> None:
            stack.refresh()

        def flow_status() -> None:
            subprocess.run([FLOW, "status", "--all"], env=env, check=True, capture_output=True, timeout=600)

        ours: list[tuple[float, collections.Counter[str]]] = []
        base: list[tuple[float, collections.Counter[str]]] = []
        for _ in range(args.repeat):
            ours.append(timed(refresh, mithril))
            base.append(timed(flow_status, mithril))
        stack.destroy(parallel=16)

    t_ours, t_base = statistics.median(t for t, _ in ours), statistics.median(t for t, _ in base)
    print(f"{args.clusters} one-node clusters, median of {args.repeat}")
    print(f"pulumi refresh   {t_ours:6.2f}s {sum(ours[-1][1].values()):5d} requests")
    print(f"flow status --all {t_base:5.2f}s {sum(base[-1][1].values()):5d} requests | ratio {t_ours / t_base:.2f}")
    for label, counts in (("refresh", ours[-1][1]), ("flow status", base[-1][1])):
        print(f"  {label}: " + ", ".join(f"{route} {n}" for route, n in counts.most_common()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
