"""Chaos for spot pools: hypothesis' stateful testing drives `up`, `refresh`, preemptions and capacity cuts, each
write under random faults (answers lost after Mithril acted, 5xx, dropped connections, throttling), keeping the state
the engine would keep (a failed write keeps the old state). After every step, with the faults cleared:

- never more than the target: the GPUs of the pool's live bids (allocated or waiting) are at most `target_gpus`;
- never above the ceiling: every live bid's limit is at most the ceiling times its GPUs;
- after a write or a refresh that succeeded, no orphan and no lie: the state's slots are exactly the pool's live bids;
- and the final `destroy` (retried as a user would) leaves nothing live.

`POOL_CHAOS_EXAMPLES` sets how many seeds run (the suite's share by default; 1,000 for the figure in the closing
note). Every example starts a pool of its own name on a fresh market, so examples do not see each other's bids.
"""

from __future__ import annotations

import collections
import itertools
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from pulumi_flow.money import usd
from pulumi_flow.provider import FlowProviderError
from pulumi_flow.provider.pool import FlowSpotPoolProvider, slot_prefix
from pulumi_flow.testing.emulator import RunningEmulator

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("POOL_CHAOS_EXAMPLES", "25"))
REGIONS = ("us-central1-a", "eu-central1-a")
TYPES = ("8xh100", "4xa100")
ROUTES = (("POST", "/v2/spot/bids"), ("GET", "/v2/spot/bids"), ("GET", "/v2/spot/bids/[^/]+"),
          ("PATCH", "/v2/spot/bids/[^/]+"), ("DELETE", "/v2/spot/bids/[^/]+"), ("GET", "/v2/instances"),
          ("GET", "/v2/spot/availability"))

FAULT = st.fixed_dictionaries({
    "route": st.sampled_from(ROUTES),
    "kind": st.sampled_from(["accept_then_fail", "accept_then_fail", "status", "drop", "throttle"]),
    "skip": st.integers(0, 2),
    "times": st.integers(1, 3),
})
FAULTS = st.lists(FAULT, max_size=3)
# A write's attempts: the first always meets a fault, later reruns may not, the last meets none.
ATTEMPT_FAULTS = st.tuples(st.lists(FAULT, min_size=1, max_size=3), FAULTS, FAULTS).map(lambda t: [*t, []])
_NAMES = itertools.count()


def _rule(fault: dict[str, Any]) -> dict[str, Any]:
    (method, path), kind = fault["route"], fault["kind"]
    rule_: dict[str, Any] = {"method": method, "path": path, "skip": fault["skip"], "times": fault["times"]}
    if kind == "throttle":
        return {**rule_, "kind": "status", "status": 429, "retry_after": 0.05}
    if kind == "status":
        return {**rule_, "kind": "status", "status": 503}
    if kind == "drop":
        return {**rule_, "kind": "drop"}
    return {**rule_, "kind": "accept_then_fail", "status": 502}


class PoolUnderChaos(RuleBasedStateMachine):
    mithril: RunningEmulator
    seen: collections.Counter[str] = collections.Counter()  # what the examples did, all of them: proof they ran

    def __init__(self) -> None:
        super().__init__()
        self.provider = FlowSpotPoolProvider()
        self.props: dict[str, Any] = {}
        self.state: dict[str, Any] | None = None  # the pool's outputs as the engine holds them; None: not created
        self.log: list[str] = []

    @initialize(gpus=st.sampled_from([8, 16, 24, 32]), ceiling=st.sampled_from([3.5, 4.0]),
                types=st.permutations(TYPES), regions=st.sampled_from([[], list(REGIONS), [REGIONS[1]]]))
    def start(self, gpus: int, ceiling: float, types: list[str], regions: list[str]) -> None:
        for region in REGIONS:
            self.mithril.control.set_capacity(region, 64)
        checked = self.provider.check({}, {
            "target_gpus": gpus, "max_price_per_gpu_hour": ceiling, "instance_types": list(types),
            "regions": regions, "pool_name": f"chaos-{next(_NAMES)}", "ready_timeout_minutes": 0.1,
            "owner": "0123456789abcdef"})
        assert checked.failures == []
        self.props = checked.inputs
        self.log.append(f"pool {self.props}")

    # -- what happens to the pool -------------------------------------------------------------

    @rule(faults=ATTEMPT_FAULTS)
    def up(self, faults: list[list[dict[str, Any]]]) -> None:
        def write() -> None:
            if self.state is None:
                self.state = self.provider.create(dict(self.props)).outs
            elif self.provider.diff("pool", self.state, self.props).changes:
                self.state = self.provider.update("pool", self.state, dict(self.props)).outs

        existed, before = self.state is not None, {b["fid"] for b in self._live()}
        self._with_faults("up", write, faults)
        if existed and {b["fid"] for b in self._live()} - before:
            self.seen["refills"] += 1

    @rule(faults=FAULTS)
    def refresh(self, faults: list[dict[str, Any]]) -> None:
        if self.state is None:
            return

        def read() -> None:
            assert self.state is not None
            result = self.provider.read("pool", {**self.props, **self.state})
            self.state = dict(result.outs)

        self._with_faults("refresh", read, [faults])

    @rule(data=st.data())
    def preempt_one(self, data: st.DataObject) -> None:
        held = [b for b in self._live() if b["status"] == "Allocated"]
        if held:
            bid = data.draw(st.sampled_from(held))
            self.mithril.control.preempt(bid["fid"])
            self.seen["preemptions"] += 1
            self.log.append(f"preempted {bid['fid']}")

    @rule(region=st.sampled_from(REGIONS), capacity=st.sampled_from([0, 1, 2, 64]))
    def capacity_changes(self, region: str, capacity: int) -> None:
        preempted = self.mithril.control.set_capacity(region, capacity)
        self.seen["preemptions"] += len(preempted)
        self.log.append(f"capacity {region}={capacity}, preempted {preempted}")

    def teardown(self) -> None:
        try:
            if self.state is not None:
                self._with_faults("destroy", lambda: self.provider.delete("pool", {**self.props, **self.state}),
                                  [[]])
            leaks = self._live()
            assert leaks == [], self._report(f"destroy left {len(leaks)} live bids: {leaks}")
        finally:
            self.mithril.control.clear_faults()

    # -- the invariants -----------------------------------------------------------------------

    @invariant()
    def never_above_the_target_nor_the_ceiling(self) -> None:
        if not self.props:
            return
        live = self._live()
        gpus = sum(self._gpus(b) for b in live)
        assert gpus <= self.props["target_gpus"], self._report(f"{gpus} GPUs live over {self.props['target_gpus']}")
        for bid in live:
            ceiling = usd(self.props["max_price_per_gpu_hour"]) * self._gpus(bid)
            assert usd(bid["limit_price"][1:]) <= ceiling, self._report(f"bid {bid} above the ceiling {ceiling}")

    # -- helpers --------------------------------------------------------------------------------

    def _with_faults(self, step: str, action: Any, faults: list[list[dict[str, Any]]]) -> None:
        for attempt, drawn in enumerate(faults):
            for fault in drawn:
                self.mithril.control.add_fault(**_rule(fault))
            try:
                action()
                self.seen[f"{step} ok"] += 1
                self.log.append(f"{step} ok after {attempt} failures (faults {drawn})")
                self._no_orphan_no_lie(step)
                return
            except FlowProviderError as err:
                self.seen[f"{step} failed"] += 1
                self.log.append(f"{step} failed (faults {drawn}): {err}")
            finally:
                for fired in self.mithril.control.call("GET", "faults"):
                    if fired["fired"]:
                        lost = fired["kind"] == "accept_then_fail" and fired["method"] == "POST"
                        self.seen["lost bid answers" if lost else "other faults"] += fired["fired"]
                self.mithril.control.clear_faults()
        if step == "destroy":  # a user reruns destroy until it works: the last run has no faults
            self.provider.delete("pool", {**self.props, **(self.state or {})})
            self.log.append("destroy ok without faults")

    def _no_orphan_no_lie(self, step: str) -> None:
        if step == "destroy":
            return
        assert self.state is not None
        recorded = {slot["bid_id"] for slot in self.state["slots"]}
        live = {b["fid"] for b in self._live()}
        assert recorded == live, self._report(f"after {step}: state {recorded} != live {live}")

    def _live(self) -> list[dict[str, Any]]:
        prefix = slot_prefix(self.props)
        return [b for b in self.mithril.control.live_bids() if str(b["name"]).startswith(prefix)]

    def _gpus(self, bid: dict[str, Any]) -> int:
        return int(next(t["num_gpus"] for t in self.mithril.backend.list_instance_types()
                        if t["fid"] == bid["instance_type"]))

    def _report(self, problem: str) -> str:
        return problem + "\n  " + "\n  ".join(self.log)


def test_pools_leave_no_orphan_no_duplicate_and_never_overshoot_under_faults(mithril: RunningEmulator) -> None:
    mithril.backend.settings.allocation_delay = mithril.backend.settings.boot_delay = 0.0
    PoolUnderChaos.mithril = mithril
    PoolUnderChaos.seen.clear()
    run_state_machine_as_test(PoolUnderChaos, settings=settings(
        max_examples=EXAMPLES, stateful_step_count=10, deadline=None, derandomize=True, database=None,
        suppress_health_check=list(HealthCheck)))
    seen = PoolUnderChaos.seen
    print(f"pool chaos, {EXAMPLES} examples: {dict(sorted(seen.items()))}")
    assert seen["lost bid answers"] and seen["other faults"] and seen["refills"] and seen["destroy ok"], \
        f"the examples never reached the cases they are for: {dict(seen)}"
