"""TypeScript and Go examples as the README runs them: the SDK generated from the plugin's schema (`pulumi-flow
sdk`), `npm install` / `go mod tidy`, then `pulumi preview --policy-pack` and `pulumi up` in the example's
directory, the program run by its own language host beside the CLI (`pulumi-language-nodejs`,
`pulumi-language-go`, built by `scripts/install-pulumi`). The CLI, the engine, the `flow` plugin and the pack are
the real ones; the Automation API here only types the commands (a local workspace on the directory).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto

from pulumi_flow.engines.pulumi_cli import PulumiCli, Transcript
from pulumi_flow.testing.emulator import RunningEmulator
from pulumi_flow.testing.languages import Program, build_go, build_typescript
from tests.engine.conftest import EXAMPLES, PACK

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module")
def typescript(pulumi_cli: Path, tmp_path_factory: pytest.TempPathFactory) -> Program:
    return build_typescript(EXAMPLES / "typescript", tmp_path_factory.mktemp("ts"), pulumi_cli)


@pytest.fixture(scope="module")
def go_program(pulumi_cli: Path, tmp_path_factory: pytest.TempPathFactory) -> Program:
    return build_go(EXAMPLES / "go", tmp_path_factory.mktemp("go"), pulumi_cli)


def _live(mithril: RunningEmulator) -> tuple[list[tuple[str, int, str]], list[int]]:
    bids = sorted((mithril.backend.instance_types[b["instance_type"]].name, b["instance_quantity"], b["limit_price"])
                  for b in mithril.control.live_bids())
    return bids, sorted(v["capacity_gb"] for v in mithril.control.live_volumes())


def _refused_by_the_floor(operation: Any) -> None:
    log = Transcript()
    with pytest.raises(auto.CommandError) as refused:
        operation(policy_packs=[PACK], **log.hooks())
    assert "infrastructure-bid-floor" in str(refused.value) + log.text
    assert [v.policy_name for v in log.policy_violations()] == ["infrastructure-bid-floor"], log.text


def _summary(result: Any) -> dict[str, int]:
    changes = result.change_summary if hasattr(result, "change_summary") else result.summary.resource_changes
    return {getattr(op, "value", str(op)): count for op, count in (changes or {}).items()}


def _destroy(engine: PulumiCli, stack: Any) -> dict[str, int]:
    engine.run(stack, "state", "unprotect", "--all", "--yes")
    return _summary(stack.destroy())


def test_typescript_complete_example(typescript: Program, engine: PulumiCli, mithril: RunningEmulator) -> None:
    dev = typescript.stack(engine, mithril)
    log = Transcript()
    preview = dev.preview(policy_packs=[PACK], **log.hooks())
    assert _summary(preview) == {"create": 8} and "pulumi-flow-policies@v0.1.0" in log.text
    assert mithril.control.write_requests() == [], "a preview places no bid"

    up = dev.up(policy_packs=[PACK])
    assert _summary(up) == {"create": 8}
    assert _live(mithril) == ([("a100-80gb.sxm.8x", 4, "$50.00")], [500, 1000])
    (bid,) = mithril.control.live_bids()
    outputs = {key: output.value for key, output in up.outputs.items()}
    assert outputs["clusterId"] == bid["fid"] and outputs["hourlyBid"] == 200 and len(outputs["gpuIps"]) == 4
    assert sorted(bid["launch_specification"]["volumes"]) == sorted(outputs["storageIds"].values())

    mithril.control.clear_requests()
    assert _summary(dev.preview(policy_packs=[PACK], expect_no_changes=True)) == {"same": 8}
    assert mithril.control.write_requests() == []

    # $20 < the $25 floor of 8xA100. The preview writes nothing; `up` stops at the cluster, so its bid is never
    # placed (Pulumi's engine has created the compliant volumes by then: they stay in that stack's state).
    underbid = typescript.stack(engine, mithril, "underbid", config={"maxPricePerHour": 20})
    _refused_by_the_floor(underbid.preview)
    assert mithril.control.write_requests() == []
    _refused_by_the_floor(underbid.up)
    assert [b["fid"] for b in mithril.control.live_bids()] == [bid["fid"]], "the under-bid cluster bid nothing"

    assert _destroy(engine, dev) == {"delete": 8}
    _destroy(engine, underbid)
    assert mithril.control.live_bids() == [] and mithril.control.live_volumes() == []


def test_go_quickstart_example(go_program: Program, engine: PulumiCli, mithril: RunningEmulator) -> None:
    dev = go_program.stack(engine, mithril)
    log = Transcript()
    assert _summary(dev.preview(policy_packs=[PACK], **log.hooks())) == {"create": 4}
    assert "pulumi-flow-policies@v0.1.0" in log.text
    assert mithril.control.write_requests() == []

    up = dev.up(policy_packs=[PACK])
    (bid,) = mithril.control.live_bids()
    outputs = {key: output.value for key, output in up.outputs.items()}
    assert _summary(up) == {"create": 4} and outputs["taskId"] == bid["fid"]
    assert outputs["bidPerHour"] == 25 and len(outputs["publicIps"]) == 1
    assert _live(mithril) == ([("a100-80gb.sxm.8x", 1, "$25.00")], [])

    mithril.control.clear_requests()
    assert _summary(dev.preview(policy_packs=[PACK], expect_no_changes=True)) == {"same": 4}
    assert mithril.control.write_requests() == []

    # Refused at preview (the TypeScript test also has the pack refuse the bid during `up`).
    underbid = go_program.stack(engine, mithril, "underbid", config={"maxPricePerHour": 5})
    _refused_by_the_floor(underbid.preview)
    assert mithril.control.write_requests() == []

    assert _destroy(engine, dev) == {"delete": 4}
    assert mithril.control.live_bids() == []
