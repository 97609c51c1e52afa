"""TypeScript and Go programs on the real engine, with the SDKs generated from the plugin's schema.

`pulumi-flow sdk` generates each SDK (Pulumi's own generators, `pulumi-flow-gen-sdk`); npm and the Go
module proxy supply `@pulumi/pulumi` and `sdk/v3`; the examples compile against them. They run as
inline programs of each language's Automation API (tests/engine/fixtures), because the Node.js and Go
language hosts are not served here; the CLI, the engine, the `flow` plugin and the pack are the real ones.
"""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pulumi_flow.engines.pulumi_cli import PulumiEngine
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


def _rejected_by_the_floor(report: dict[str, Any]) -> None:
    assert report["ok"] is False and "infrastructure-bid-floor" in report["error"], report


def test_typescript_complete_example(typescript: Program, engine: PulumiEngine, mithril: RunningEmulator) -> None:
    ts = functools.partial(typescript, engine, mithril, policy_packs=[PACK])
    preview = ts("preview")
    assert preview["summary"] == {"create": 8} and "pulumi-flow-policies@v0.1.0" in preview["text"]
    assert mithril.control.write_requests() == [], "a preview places no bid"

    up = ts("up")
    assert up["summary"] == {"create": 8}
    assert _live(mithril) == ([("a100-80gb.sxm.8x", 4, "$50.00")], [500, 1000])
    (bid,) = mithril.control.live_bids()
    outputs = up["outputs"]
    assert outputs["clusterId"] == bid["fid"] and outputs["hourlyBid"] == 200 and len(outputs["gpuIps"]) == 4
    assert sorted(bid["launch_specification"]["volumes"]) == sorted(outputs["storageIds"].values())

    mithril.control.clear_requests()
    again = ts("preview", "--expect-no-changes")
    assert again["summary"] == {"same": 8}
    assert mithril.control.write_requests() == []

    # $20 < the $25 floor of 8xA100. The preview writes nothing; `up` stops at the cluster, so its bid is never
    # placed (Pulumi's engine has created the compliant volumes by then: they stay in that stack's state).
    underbid = {"maxPricePerHour": 20}
    _rejected_by_the_floor(ts("preview", stack="underbid", config=underbid))
    assert mithril.control.write_requests() == []
    _rejected_by_the_floor(ts("up", stack="underbid", config=underbid))
    assert [b["fid"] for b in mithril.control.live_bids()] == [bid["fid"]], "the under-bid cluster bid nothing"

    for stack in ("dev", "underbid"):
        unprotect = subprocess.run([str(engine.cli_dir / "pulumi"), "state", "unprotect", "--all", "--yes", "--stack",
                                    stack, "--non-interactive"], cwd=typescript.directory, capture_output=True,
                                   text=True, env={**os.environ, **engine.env(mithril.env)}, check=False)
        assert unprotect.returncode == 0, unprotect.stderr
        ts("destroy", stack=stack, config=underbid if stack == "underbid" else None)
    assert mithril.control.live_bids() == [] and mithril.control.live_volumes() == []


def test_go_quickstart_example(go_program: Program, engine: PulumiEngine, mithril: RunningEmulator) -> None:
    go = functools.partial(go_program, engine, mithril, policy_packs=[PACK])
    preview = go("preview")
    assert preview["summary"] == {"create": 4} and "pulumi-flow-policies@v0.1.0" in preview["text"]
    assert mithril.control.write_requests() == []

    up = go("up")
    (bid,) = mithril.control.live_bids()
    assert up["summary"] == {"create": 4} and up["outputs"]["taskId"] == bid["fid"]
    assert up["outputs"]["bidPerHour"] == 25 and len(up["outputs"]["publicIps"]) == 1
    assert _live(mithril) == ([("a100-80gb.sxm.8x", 1, "$25.00")], [])

    mithril.control.clear_requests()
    assert go("preview", "--expect-no-changes")["summary"] == {"same": 4}
    assert mithril.control.write_requests() == []

    _rejected_by_the_floor(go("preview", stack="underbid", config={"maxPricePerHour": 5}))
    _rejected_by_the_floor(go("up", stack="underbid", config={"maxPricePerHour": 5}))
    assert [b["fid"] for b in mithril.control.live_bids()] == [bid["fid"]], "the under-bid cluster bid nothing"

    assert go("destroy")["summary"] == {"delete": 4}
    assert mithril.control.live_bids() == []
