"""The pytest plugin as a user meets it: installed through its entry point, in a fresh pytest run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pulumi_flow.testing.emulator import RunningEmulator
from pulumi_flow.testing.plugin import QuickRetries

pytest_plugins = ["pytester"]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

USER_TEST = f'''
import pulumi
from pulumi_flow import TrainingCluster, TrainingClusterArgs

def program():
    cluster = TrainingCluster("gpu", TrainingClusterArgs(instance_type="8xh100", num_instances=2))
    pulumi.export("ips", cluster.public_ips)

def test_preview_places_nothing(pulumi_flow_stack):
    run = pulumi_flow_stack.preview(program)
    assert run.named("gpu-task").inputs["max_price_per_hour"] == 50.0
    assert pulumi_flow_stack.mithril.control.requests() == []

def test_up_places_one_bid(pulumi_flow_stack, mithril):
    run = pulumi_flow_stack.up(program)
    assert len(run.outputs["ips"]) == 2
    assert len(mithril.control.live_bids()) == 1

def test_underbid_project_is_blocked(pulumi_flow_stack):
    run = pulumi_flow_stack.preview({str(EXAMPLES / "underbid")!r})
    assert [v.policy for v in pulumi_flow_stack.blocking(run)] == ["infrastructure-bid-floor"]
'''


def test_fixtures_reach_users_through_the_entry_point(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user_stack=USER_TEST)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=3)


def test_quick_retries_keeps_every_retry_and_only_shortens_the_pause(quick_retries: QuickRetries,
                                                                      flow_client: Any,
                                                                      mithril: RunningEmulator) -> None:
    mithril.control.add_fault(kind="status", method="GET", path="/v2/volumes", status=429, retry_after=2)
    flow_client.volumes.list()
    assert [r["status"] for r in mithril.control.requests() if r["path"] == "/v2/volumes"] == [429, 200]
    (asked,) = quick_retries.asked
    assert asked >= 2, "the SDK asked for the pause Retry-After gave; it lasted a hundredth of that"
    assert quick_retries.factor == 0.01
