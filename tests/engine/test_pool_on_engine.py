"""examples/spot-pool through the real Pulumi CLI, from its directory, judged by the pack: the pool reaches its
target in the region that has room; after preemptions, one `pulumi up --refresh` places exactly as many new bids as
were preempted (cancelling those first); destroy ends every bid."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pulumi_flow.engines.pulumi_cli import PulumiCli, Transcript
from pulumi_flow.resources import POOL_TYPE
from pulumi_flow.testing.emulator import RunningEmulator
from pulumi_flow.testing.languages import build_python
from tests.engine.conftest import EXAMPLES, PACK

pytestmark = pytest.mark.engine

A, B = "us-central1-a", "eu-central1-a"


def writes(mithril: RunningEmulator) -> list[tuple[str, str]]:
    return [(r["method"], r["path"].rsplit("/", 1)[0] if r["method"] == "DELETE" else r["path"])
            for r in mithril.control.write_requests()]


def outputs(result: Any) -> dict[str, Any]:
    return {key: value.value for key, value in result.outputs.items()}


def test_spot_pool_example_refills_exactly_what_was_preempted(engine: PulumiCli, mithril: RunningEmulator,
                                                              tmp_path: Path) -> None:
    stack = build_python(EXAMPLES / "spot-pool", tmp_path).stack(engine, mithril)
    mithril.control.set_capacity(A, 0)  # the first region has nothing: the pool goes to the second

    planned = Transcript()
    stack.preview(policy_packs=[PACK], **planned.hooks())
    assert planned.steps(POOL_TYPE) == [("create", "gpus-pool")]
    assert [e for e in planned.policy_violations() if e.enforcement_level == "mandatory"] == []
    assert mithril.control.write_requests() == [], "a preview places no bid"

    up = outputs(stack.up(policy_packs=[PACK]))
    assert (up["gpus_held"], up["unfilled_gpus"], up["gpus_by_placement"]) == (32, 0, {f"{B}/8xh100": 32})
    assert up["max_hourly_usd"] == 208.0 and up["hourly_usd"] == 4 * 25.6
    assert {b["limit_price"] for b in mithril.control.live_bids()} == {"$52.00"}, "6.50 x 8, never above"

    mithril.control.set_capacity(A, 64)
    preempted = mithril.control.set_capacity(B, 2)  # B shrinks: its 2 newest allocations are preempted
    assert len(preempted) == 2

    # One `pulumi up --refresh`: the read sees 16 GPUs unfilled, the update refills exactly those.
    mithril.control.clear_requests()
    refill = stack.up(policy_packs=[PACK], refresh=True)
    assert refill.summary.resource_changes is not None and refill.summary.resource_changes.get("update") == 1
    refilled = outputs(refill)
    assert sorted(writes(mithril)) == [("DELETE", "/v2/spot/bids")] * 2 + [("POST", "/v2/spot/bids")] * 2
    (pool,) = [r for r in stack.export_stack().deployment["resources"] if r["type"] == POOL_TYPE]
    assert sorted(s["bid_id"] for s in pool["outputs"]["slots"]) == sorted(
        b["fid"] for b in mithril.control.live_bids()), "the state holds exactly the live bids"
    assert refilled["gpus_by_placement"] == {f"{A}/8xh100": 16, f"{B}/8xh100": 16}
    assert (refilled["gpus_held"], refilled["unfilled_gpus"]) == (32, 0)
    mithril.control.clear_requests()
    stack.preview(policy_packs=[PACK], expect_no_changes=True)
    assert mithril.control.write_requests() == []

    stack.destroy()
    assert mithril.control.live_bids() == []
