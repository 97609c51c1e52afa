"""`pulumi refresh` of N one-node clusters on the real Pulumi CLI, against `flow status --all` on the same emulator.

    python bench/refresh.py [--clusters 100] [--repeat 3] [--old-bids 0]

One emulator, one stack of N clusters made by `pulumi up --parallel 16` (not measured), and beside it the engine's own
floor: a stack of the same resources whose provider reads nothing (what any Python dynamic provider costs the
engine), in the same shape: a component per cluster with two dynamic children holding the same properties as a
cluster's owner and task. Then, interleaved, `--repeat` times each: `pulumi refresh --yes --skip-preview` as a
user types it (which reads every task's state and cost), `flow status --all` (the user's alternative, which reads
state only) and the floor's refresh. Prints the median wall time of each, the ratios, and the Mithril requests
each made by route. `--old-bids N` first gives the project a past: N bids placed, allocated and cancelled, as months of
jobs leave behind (what a refresh reads must not grow with them).
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
from pulumi import ComponentResource, ResourceOptions
from pulumi.dynamic import CreateResult, ReadResult, Resource, ResourceProvider

from pulumi_flow import TrainingCluster, TrainingClusterArgs
from pulumi_flow.emulator.catalog import CATALOG
from pulumi_flow.emulator.records import PROJECT_ID
from pulumi_flow.engines.pulumi_cli import PulumiCli, find_cli
from pulumi_flow.resources import OWNER_TYPE, TASK_TYPE
from pulumi_flow.testing.emulator import FAST, RunningEmulator, running_emulator

ROOT = Path(__file__).resolve().parents[1]
FLOW = str(Path(sys.executable).parent / "flow")
Counts = collections.Counter[str]


class NothingToRead(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(f"id-{props['index']}", props)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, props)


class Floor(Resource):
    def __init__(self, name: str, index: int, props: dict[str, Any], opts: ResourceOptions | None = None) -> None:
        super().__init__(NothingToRead(), name, {**props, "index": index}, opts)


class FloorCluster(ComponentResource):
    """A TrainingCluster's shape: a component with two dynamic children, its owner and its task, each holding the
    same properties as the real ones (so the engine moves and stores as much state)."""

    def __init__(self, name: str, index: int, owner: dict[str, Any], task: dict[str, Any]) -> None:
        super().__init__("bench:index:FloorCluster", name)
        Floor(f"{name}-owner", 2 * index, owner, ResourceOptions(parent=self))
        Floor(f"{name}-task", 2 * index + 1, task, ResourceOptions(parent=self))
        self.register_outputs({})


def clusters(count: int) -> None:
    for index in range(count):
        TrainingCluster(f"c{index}", TrainingClusterArgs(instance_type="8xa100", max_price_per_hour=30.0))


def floor(count: int, owner: dict[str, Any], task: dict[str, Any]) -> None:
    for index in range(count):
        FloorCluster(f"c{index}", index, owner, task)


def recorded(stack: Any, resource_type: str) -> dict[str, Any]:
    """One resource's recorded properties (its outputs) of the stack's state, plain."""
    state = stack.export_stack().deployment["resources"]
    outputs = next(r["outputs"] for r in state if r["type"] == resource_type)
    return {key: value for key, value in outputs.items() if not key.startswith("__")}


def leave_old_bids(mithril: RunningEmulator, count: int) -> None:
    """`count` bids of the project's past: placed, allocated (so each has an instance and its history), cancelled."""
    backend = mithril.backend
    instance_type = next(t.fid for t in CATALOG if t.name == "a100-80gb.sxm.8x")
    body = {"project": PROJECT_ID, "region": "us-central1-a", "instance_type": instance_type, "limit_price": "$30.00",
            "instance_quantity": 1, "launch_specification": {"volumes": [], "ssh_keys": []}}
    fids = [backend.create_bid({**body, "name": f"old-{n}"}, None)[0]["fid"] for n in range(count)]
    for fid in fids:
        while backend.get_bid(fid)["status"] != "Allocated":
            time.sleep(0.01)
        backend.cancel_bid(fid)


def requests_by_route(mithril: RunningEmulator) -> Counts:
    return collections.Counter(f"{r['method']} {r['path'] if '/bids/' not in r['path'] else '/v2/spot/bids/{id}…'}"
                               for r in mithril.control.requests())


def timed(action: Callable[[], object], mithril: RunningEmulator) -> tuple[float, Counts]:
    mithril.control.clear_requests()
    start = time.perf_counter()
    action()
    return time.perf_counter() - start, requests_by_route(mithril)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clusters", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--old-bids", type=int, default=0, help="cancelled bids in the project's past")
    args = parser.parse_args()
    cli_dir = find_cli(os.environ.get("PULUMI_FLOW_CLI_DIR") or subprocess.run(
        [str(ROOT / "scripts" / "install-pulumi")], capture_output=True, text=True, check=True).stdout.strip())
    # Room for every cluster in one market: with the default capacity the clusters past it would wait for machines.
    room = attrs.evolve(FAST, capacity_per_market=max(FAST.capacity_per_market, args.clusters + args.old_bids))
    with (tempfile.TemporaryDirectory() as tmp,
          running_emulator(room, flow_dir=f"{tmp}/flow", set_environ=False) as mithril):
        leave_old_bids(mithril, args.old_bids)
        engine = PulumiCli(cli_dir, home=Path(tmp) / "home", backend=Path(tmp) / "state")
        stack = engine.stack("dev", project="many", program=lambda: clusters(args.clusters), env=mithril.env)
        stack.up(parallel=16)
        owner, task = recorded(stack, OWNER_TYPE), recorded(stack, TASK_TYPE)
        bare = engine.stack("dev", project="floor", program=lambda: floor(args.clusters, owner, task))
        bare.up(parallel=16)
        env = {**os.environ, **mithril.env, "HOME": tmp}
        runs: dict[str, list[tuple[float, Counts]]] = {"pulumi refresh": [], "flow status --all": [],
                                                       "engine floor": []}
        for _ in range(args.repeat):
            # As a user types it; the floor is the same command on the stack whose provider reads nothing.
            runs["pulumi refresh"].append(timed(lambda: engine.run(stack, "refresh", "--yes", "--skip-preview"),
                                                mithril))
            runs["flow status --all"].append(timed(lambda: subprocess.run(
                [FLOW, "status", "--all"], env=env, check=True, capture_output=True, timeout=600), mithril))
            runs["engine floor"].append(timed(lambda: engine.run(bare, "refresh", "--yes", "--skip-preview"),
                                              mithril))
        stack.destroy(parallel=16)
        bare.destroy()

    median = {label: statistics.median(t for t, _ in done) for label, done in runs.items()}
    base = median["flow status --all"]
    print(f"{args.clusters} one-node clusters, {args.old_bids} cancelled bids in the project, median of {args.repeat}")
    for label, done in runs.items():
        print(f"{label:18} {median[label]:6.2f}s {sum(done[-1][1].values()):5d} requests | "
              f"{median[label] / base:.2f}x flow status --all")
    print(f"pulumi refresh over the engine floor: {median['pulumi refresh'] - median['engine floor']:.2f}s")
    for label, done in runs.items():
        print(f"  {label}: " + ", ".join(f"{route} {n}" for route, n in done[-1][1].most_common()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
