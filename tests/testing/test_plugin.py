"""The pytest plugin as a user meets it: installed through its entry point, in a fresh pytest run."""

from __future__ import annotations

from pathlib import Path

import pytest

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
