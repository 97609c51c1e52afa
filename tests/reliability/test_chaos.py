"""Chaos: seeded create -> update -> delete lifecycles over gRPC with random faults injected.

The providers run as the engine runs them (`python -m pulumi.dynamic`). The test keeps the
state the engine would keep: a create that fails leaves nothing in state and is retried by the
"next `pulumi up`"; a failed update keeps the old state; a failed delete keeps the resource.
After every step (faults cleared) the cloud and the state must agree exactly: no live bid or
volume that state does not know (a leak, billing), nothing in state that is not live (a lie).
Rerun one lifecycle with CHAOS_SEED=<seed>.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import attrs
import pytest

from pulumi_flow.engines.plugins import DynamicProviderProcess, ProviderError, secret
from pulumi_flow.provider import FlowTaskProvider, FlowVolumeProvider
from pulumi_flow.resources import TASK_TYPE, VOLUME_TYPE
from pulumi_flow.testing.emulator import TEST_API_KEY, RunningEmulator, running_emulator

pytestmark = pytest.mark.slow

LIFECYCLES = int(os.environ.get("CHAOS_LIFECYCLES", "52"))
WORKERS = 4
ATTEMPTS = 4  # how many times the "user" reruns `pulumi up` / `pulumi destroy` before giving up

ROUTES = [
    ("POST", "/v2/spot/bids"), ("GET", "/v2/spot/bids"), ("GET", "/v2/spot/bids/[^/]+"),
    ("PATCH", "/v2/spot/bids/[^/]+"), ("DELETE", "/v2/spot/bids/[^/]+"), ("GET", "/v2/instances"),
    ("POST", "/v2/volumes"), ("GET", "/v2/volumes"), ("PATCH", "/v2/volumes/[^/]+"),
    ("DELETE", "/v2/volumes/[^/]+"), ("GET", "/v2/spot/availability"), ("POST", "/v2/ssh-keys"),
    ("POST", "/v2/api-keys"),
]


def random_fault(rng: random.Random) -> dict[str, Any]:
    method, path = rng.choice(ROUTES)
    kind = rng.choice(["status", "status", "throttle", "delay", "drop", "accept_then_fail", "accept_then_fail"])
    rule: dict[str, Any] = {"method": method, "path": path, "skip": rng.randint(0, 3), "times": rng.randint(1, 3)}
    if kind == "status":
        rule.update(kind="status", status=rng.choice([500, 502, 503]))
    elif kind == "throttle":
        rule.update(kind="status", status=429, retry_after=0.1)
    elif kind == "delay":
        rule.update(kind="delay", delay=0.2)
    elif kind == "drop":
        rule.update(kind="drop")
    else:
        rule.update(kind="accept_then_fail", status=rng.choice([500, 502, 504]))
    return rule


@attrs.define
class Resource:
    name: str
    type: str
    inputs: dict[str, Any]
    id: str = ""
    outs: dict[str, Any] = attrs.Factory(dict)


@attrs.define
class Lifecycle:
    seed: int
    mithril: RunningEmulator
    tasks: DynamicProviderProcess
    volumes: DynamicProviderProcess
    rng: random.Random = attrs.field(init=False)
    state: dict[str, Resource] = attrs.Factory(dict)
    log: list[str] = attrs.Factory(list)

    def __attrs_post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def process(self, resource: Resource) -> DynamicProviderProcess:
        return self.tasks if resource.type == TASK_TYPE else self.volumes

    def with_faults(self, step: str, action: Callable[[], None]) -> bool:
        for attempt in range(ATTEMPTS):
            faults = [random_fault(self.rng) for _ in range(self.rng.randint(0, 3))] if attempt < ATTEMPTS - 1 else []
            for fault in faults:
                self.mithril.control.add_fault(**fault)
            try:
                action()
                self.log.append(f"{step} ok after {attempt} failures; faults {faults}")
                return True
            except ProviderError as err:
                self.log.append(f"{step} failed with faults {faults}: {err.details[-1500:]}")
            finally:
                self.mithril.control.clear_faults()
                self.check_consistency(step)
        return False

    def create(self, resource: Resource) -> None:
        def action() -> None:
            checked = self.process(resource).check(resource.name, resource.inputs)
            assert checked.failures == []
            resource.id, resource.outs = self.process(resource).create(resource.name, checked.inputs)
            self.state[resource.name] = resource

        assert self.with_faults(f"create {resource.name}", action), self.report("create never succeeded")

    def update(self, resource: Resource, news: dict[str, Any]) -> None:
        def action() -> None:
            process = self.process(resource)
            checked = process.check(resource.name, news, resource.outs)
            diff = process.diff(resource.name, resource.id, resource.outs, checked.inputs)
            assert diff.changes and diff.replaces == [], diff
            resource.outs = process.update(resource.name, resource.id, resource.outs, checked.inputs)
            resource.inputs = news

        assert self.with_faults(f"update {resource.name}", action), self.report("update never succeeded")

    def delete(self, resource: Resource) -> None:
        def action() -> None:
            self.process(resource).delete(resource.name, resource.id, resource.outs)
            del self.state[resource.name]

        assert self.with_faults(f"delete {resource.name}", action), self.report("delete never succeeded")

    def check_consistency(self, step: str) -> None:
        live = self.mithril.control.state()
        live_bids = {b["fid"] for b in live["bids"]}
        live_volumes = {v["fid"] for v in live["volumes"]}
        state_bids = {r.id for r in self.state.values() if r.type == TASK_TYPE}
        state_volumes = {r.id for r in self.state.values() if r.type == VOLUME_TYPE}
        assert live_bids == state_bids, self.report(f"after {step}: live bids {live_bids} != state {state_bids}")
        assert live_volumes == state_volumes, self.report(
            f"after {step}: live volumes {live_volumes} != state {state_volumes}")

    def report(self, problem: str) -> str:
        return f"seed {self.seed} (rerun with CHAOS_SEED={self.seed}): {problem}\n  " + "\n  ".join(self.log)

    def run(self) -> None:
        suffix = f"s{self.seed}"
        shape = self.rng.choice(["cluster", "job", "volume", "cluster+volume"])
        volume = None
        if "volume" in shape:
            volume = Resource(f"vol-{suffix}", VOLUME_TYPE, {"volume_name": f"data-{suffix}", "size_gb": 100,
                                                             "region": "us-central1-a"})
            self.create(volume)
        task = None
        if shape != "volume":
            role = "workload" if shape == "job" else "infrastructure"
            inputs: dict[str, Any] = {
                "role": role, "instance_type": self.rng.choice(["8xa100", "8xh100", "4xa100"]),
                "num_instances": self.rng.randint(1, 3), "max_price_per_hour": 60.0, "command": "sleep infinity",
                "task_name": f"task-{suffix}", "ready_timeout_minutes": 1,
                "wait_until": "running" if role == "infrastructure" else "submitted",
            }
            if role == "workload":
                inputs["max_run_time_hours"] = 2
            if volume is not None:
                inputs["volumes"] = [{"volume_id": volume.id, "mount_path": "/data", "interface": "file"}]
            task = Resource(f"task-{suffix}", TASK_TYPE, inputs)
            self.create(task)
            self.update(task, {**task.inputs, "max_price_per_hour": 65.0})
        if volume is not None:
            self.update(volume, {**volume.inputs, "volume_name": f"renamed-{suffix}"})
        if task is not None:
            self.delete(task)
        if volume is not None:
            self.delete(volume)
        assert self.state == {}, self.report("state not empty at the end")


@attrs.define
class Worker:
    mithril: RunningEmulator
    tasks: DynamicProviderProcess
    volumes: DynamicProviderProcess


@pytest.fixture(scope="module")
def workers() -> Iterator[list[Worker]]:
    """Independent emulators and provider processes, so lifecycles can run side by side."""
    from contextlib import ExitStack

    with ExitStack() as stack:
        pool = []
        for _ in range(WORKERS):
            mithril = stack.enter_context(running_emulator(set_environ=False))
            env = {k: v for k, v in mithril.env.items() if k != "MITHRIL_API_KEY"}
            tasks = stack.enter_context(DynamicProviderProcess(FlowTaskProvider(), TASK_TYPE, env))
            volumes = stack.enter_context(DynamicProviderProcess(FlowVolumeProvider(), VOLUME_TYPE, env))
            for process in (tasks, volumes):
                process.configure({"flow:apiKey": secret(TEST_API_KEY)})
            pool.append(Worker(mithril, tasks, volumes))
        yield pool


def _seeds() -> list[int]:
    if "CHAOS_SEED" in os.environ:
        return [int(os.environ["CHAOS_SEED"])]
    return list(range(LIFECYCLES))


def run_lifecycles(workers: list[Worker], seeds: list[int]) -> list[str]:
    """Run these seeds' lifecycles across the workers; every one asserts no leak and no lie as it goes.
    Returns the logs; at the end nothing may be live on any worker's Mithril."""

    def run_share(index: int) -> list[str]:
        worker = workers[index]
        logs = []
        for seed in seeds[index::WORKERS]:
            lifecycle = Lifecycle(seed, worker.mithril, worker.tasks, worker.volumes)
            lifecycle.run()
            logs.extend(lifecycle.log)
        return logs

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        logs = [line for share in pool.map(run_share, range(WORKERS)) for line in share]
    for worker in workers:
        live = worker.mithril.control.state()
        assert live["bids"] == [] and live["volumes"] == []
    return logs


def test_no_leak_no_lie_under_faults(workers: list[Worker]) -> None:
    seeds = _seeds()
    assert len(seeds) >= 50 or {"CHAOS_SEED", "CHAOS_LIFECYCLES"} & set(os.environ), "the issue asks for 50+"
    logs = run_lifecycles(workers, seeds)
    if len(seeds) > 1:  # one replayed seed may draw no failing step; a sweep that never failed tested nothing
        assert [line for line in logs if " failed with faults " in line], \
            "the faults never made a step fail: the chaos test tested nothing"


@pytest.mark.parametrize("seed", [3, 17])
def test_any_single_seed_replays(workers: list[Worker], seed: int) -> None:
    """What `CHAOS_SEED=N` runs: one lifecycle, whatever its faults drew, checked the same way."""
    logs = run_lifecycles(workers, [seed])
    assert [line for line in logs if line.startswith("create ") and " ok after " in line], logs
