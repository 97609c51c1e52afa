"""The pack launched exactly as the Pulumi CLI launches it, then spoken to over gRPC as the engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format

from pulumi_flow.engines.plugins import PolicyPackProcess, StackResource

from .conftest import CLUSTER, JOB, TASK_TYPE, UNKNOWN, VOLUME, VOLUME_TYPE, task, urn_of

pytestmark = pytest.mark.slow

PACK = Path(__file__).resolve().parents[2] / "policies"
EXPECTED = {
    "infrastructure-bid-floor": "mandatory",
    "stack-hourly-budget": "mandatory",
    "block-volume-single-attach": "mandatory",
    "volume-region-match": "mandatory",
    "workload-runtime-cap": "advisory",
    "data-volume-protected": "advisory",
    "allowed-regions": "mandatory",
    "stack-spend-cap": "mandatory",
    "bid-near-market": "advisory",
    "reservation-commitment-cap": "mandatory",
    "consider-reservation": "advisory",
}


def res(type_: str, name: str, props: dict[str, Any], **kw: Any) -> StackResource:
    return StackResource(type=type_, name=name, urn=urn_of(type_, name), properties=props, **kw)


@pytest.fixture(scope="module")
def pack() -> Iterator[PolicyPackProcess]:
    with PolicyPackProcess(PACK, dry_run=False) as process:
        yield process


@pytest.fixture(autouse=True)
def default_config(pack: PolicyPackProcess) -> None:
    pack.configure({})  # Configure replaces everything: each test starts from the defaults


def test_analyzer_info_lists_every_policy_with_level_and_schema(pack: PolicyPackProcess) -> None:
    info = pack.info()
    assert info.name == "pulumi-flow-policies" and info.supportsConfig
    levels = {p.name: {0: "advisory", 1: "mandatory"}[p.enforcementLevel] for p in info.policies}
    assert levels == EXPECTED
    schemas = {p.name: {k: json_format.MessageToDict(v) for k, v in p.configSchema.properties.items()}
               for p in info.policies}
    assert set(schemas["infrastructure-bid-floor"]) == {"thresholds", "margin", "source", "generated_at"}
    assert set(schemas["stack-hourly-budget"]) == {"max_hourly_spend"}
    assert set(schemas["stack-spend-cap"]) == {"max_total_usd", "max_30_day_usd"}
    assert schemas["bid-near-market"]["margin_percent"]["default"] == 10
    assert schemas["infrastructure-bid-floor"]["margin"]["default"] == 1.0
    assert all(p.description for p in info.policies)


def test_compliant_cluster_passes(pack: PolicyPackProcess) -> None:
    assert pack.analyze(res(TASK_TYPE, "gpu", CLUSTER)) == []


def test_underbid_cluster_is_a_mandatory_violation(pack: PolicyPackProcess) -> None:
    (verdict,) = pack.analyze(res(TASK_TYPE, "gpu", task(max_price_per_hour=30.0)))
    assert verdict.policy == "infrastructure-bid-floor" and verdict.blocking
    assert "$30.00" in verdict.message and "$50.00" in verdict.message


def test_unknown_bid_in_preview_is_advisory_never_blocking(pack: PolicyPackProcess) -> None:
    verdicts = pack.analyze(res(TASK_TYPE, "gpu", task(max_price_per_hour=UNKNOWN)))
    assert [v.level for v in verdicts] == ["advisory"]
    assert "during preview" in verdicts[0].message


def test_malformed_properties_never_crash_the_pack(pack: PolicyPackProcess) -> None:
    verdicts = pack.analyze(res(TASK_TYPE, "gpu", task(max_price_per_hour={"nested": [1, 2]}, role=7)))
    cannot = [v for v in verdicts if "cannot check" in v.message]
    assert cannot, f"a malformed resource is a violation that names it, not silence: {verdicts}"
    floor = next(v for v in cannot if v.policy == "infrastructure-bid-floor")
    assert floor.blocking and "property 'role' is 7.0, expected a string" in floor.message
    assert pack.analyze(res(TASK_TYPE, "gpu", CLUSTER)) == [], "the pack still answers"


def test_policy_pack_config_overrides(pack: PolicyPackProcess) -> None:
    underbid = res(TASK_TYPE, "gpu", task(max_price_per_hour=30.0))
    pack.configure({"infrastructure-bid-floor": {"enforcementLevel": "advisory"}})
    assert [v.level for v in pack.analyze(underbid)] == ["advisory"]
    pack.configure({"infrastructure-bid-floor": {"enforcementLevel": "mandatory", "thresholds": {"h100": 3.0}}})
    assert pack.analyze(underbid) == []
    pack.configure({"infrastructure-bid-floor": {"enforcementLevel": "mandatory", "margin": 1.5}})
    assert pack.analyze(res(TASK_TYPE, "gpu", CLUSTER)), "50 < 50 x 1.5"
    pack.configure({"infrastructure-bid-floor": {"enforcementLevel": "disabled"}})
    assert pack.analyze(underbid) == []


def test_analyze_stack_budget_and_volumes(pack: PolicyPackProcess) -> None:
    block = {**VOLUME, "interface": "block", "volume_id": "vol_b"}
    volume = res(VOLUME_TYPE, "scratch", block, protect=True)
    cluster = res(TASK_TYPE, "gpu", CLUSTER, property_dependencies={"volumes": (volume.urn,)})
    job = res(TASK_TYPE, "train", JOB)
    stack = [volume, cluster, job]
    verdicts = pack.analyze_stack(stack)
    assert [v.policy for v in verdicts] == ["block-volume-single-attach"]
    pack.configure({"stack-hourly-budget": {"enforcementLevel": "mandatory", "max_hourly_spend": 100.0}})
    policies = sorted(v.policy for v in pack.analyze_stack(stack))
    assert policies == ["block-volume-single-attach", "stack-hourly-budget"]


def test_remediation_raises_the_bid(pack: PolicyPackProcess) -> None:
    pack.configure({"infrastructure-bid-floor": {"enforcementLevel": "remediate"}})
    ((policy, props),) = pack.remediate(res(TASK_TYPE, "gpu", task(max_price_per_hour=30.0)))
    assert policy == "infrastructure-bid-floor" and props["max_price_per_hour"] == 50.0
    assert pack.remediate(res(TASK_TYPE, "gpu", CLUSTER)) == []
