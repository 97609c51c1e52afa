"""TypeScript and Go programs on the real engine, with the SDKs generated from the plugin's schema.

`pulumi-flow sdk` generates each SDK (Pulumi's own generators, `pulumi-flow-gen-sdk`); npm and the Go
module proxy supply `@pulumi/pulumi` and `sdk/v3`; the examples compile against them. They run as
inline programs of each language's Automation API (tests/engine/fixtures), because the Node.js and Go
language hosts are not served here; the CLI, the engine, the `flow` plugin and the pack are the real ones.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import pytest

from pulumi_flow.plugin import sdk
from pulumi_flow.testing.emulator import RunningEmulator
from pulumi_flow.testing.real_engine import PulumiEngine
from tests.engine.conftest import EXAMPLES, PACK

pytestmark = pytest.mark.engine

FIXTURES = Path(__file__).resolve().parent / "fixtures"
CACHE = Path(os.environ.get("PULUMI_FLOW_CACHE", Path.home() / ".cache" / "pulumi-flow"))
NPM_CACHE = CACHE / "npm"


def _run(argv: list[str], cwd: Path, env: Mapping[str, str] | None = None, timeout: float = 900) -> str:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, check=False)
    assert done.returncode == 0, f"{' '.join(argv)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@attrs.frozen
class Program:
    """A compiled program and the command that runs it on the engine (see fixtures/*-automation.*)."""

    directory: Path
    driver: list[str]
    project: str

    def __call__(self, engine: PulumiEngine, mithril: RunningEmulator, operation: str, *flags: str,
                 stack: str = "dev", config: Mapping[str, Any] | None = None) -> dict[str, Any]:
        options = {"cliRoot": str(engine.cli_dir.parent), "home": str(engine.home),
                   "backend": engine.backend.as_uri(), "project": self.project, "stack": stack,
                   "policyPacks": [PACK], "env": engine.env(mithril.env),
                   "config": {key: str(value) for key, value in (config or {}).items()}}
        engine.backend.mkdir(parents=True, exist_ok=True)
        done = subprocess.run([*self.driver, operation, *flags], cwd=self.directory, capture_output=True, text=True,
                              env={**os.environ, **engine.env(mithril.env), "FLOW_DRIVER": json.dumps(options)},
                              timeout=600, check=False)
        lines = done.stdout.strip().splitlines()
        assert lines, f"the driver printed nothing: {done.stderr[-3000:]}"
        report: dict[str, Any] = json.loads(lines[-1])
        assert report["ok"] == (done.returncode == 0), report
        return report


@pytest.fixture(scope="module")
def typescript(pulumi_cli: Path, tmp_path_factory: pytest.TempPathFactory) -> Program:
    directory = Path(shutil.copytree(EXAMPLES / "typescript", tmp_path_factory.mktemp("ts") / "typescript"))
    sdk.generate("nodejs", directory / "sdks" / "flow", generator=sdk.find_generator([pulumi_cli]))
    _run(["npm", "install", "--no-audit", "--no-fund", "--cache", str(NPM_CACHE)], directory)
    assert (directory / "sdks" / "flow" / "bin" / "index.js").is_file(), "the SDK compiled in its postinstall"
    _run(["npx", "tsc"], directory)  # the example type-checks against the generated SDK
    shutil.copy(FIXTURES / "node-automation.js", directory)
    return Program(directory, ["node", "node-automation.js"], "flow-typescript-complete")


@pytest.fixture(scope="module")
def go_program(pulumi_cli: Path, tmp_path_factory: pytest.TempPathFactory) -> Program:
    directory = Path(shutil.copytree(EXAMPLES / "go", tmp_path_factory.mktemp("go") / "go"))
    sdk.generate("go", directory / "sdks" / "flow", generator=sdk.find_generator([pulumi_cli]))
    shutil.copy(FIXTURES / "go-automation.go", directory)
    env = {"GOFLAGS": "-mod=mod", "GOTOOLCHAIN": os.environ.get("GOTOOLCHAIN", "local"), "CGO_ENABLED": "0"}
    _run(["go", "vet", "."], directory, env)  # the example as users build it (`pulumi.Run`), vetted
    _run(["go", "build", "-tags", "automation", "-o", "driver", "."], directory, env)
    return Program(directory, ["./driver"], "flow-go-quickstart")


def _live(mithril: RunningEmulator) -> tuple[list[tuple[str, int, str]], list[int]]:
    bids = sorted((mithril.backend.instance_types[b["instance_type"]].name, b["instance_quantity"], b["limit_price"])
                  for b in mithril.control.live_bids())
    return bids, sorted(v["capacity_gb"] for v in mithril.control.live_volumes())


def _rejected_by_the_floor(report: dict[str, Any]) -> None:
    assert report["ok"] is False and "infrastructure-bid-floor" in report["error"], report


def test_typescript_complete_example(typescript: Program, engine: PulumiEngine, mithril: RunningEmulator) -> None:
    preview = typescript(engine, mithril, "preview")
    assert preview["summary"] == {"create": 6} and "pulumi-flow-policies@v0.1.0" in preview["text"]
    assert mithril.control.write_requests() == [], "a preview places no bid"

    up = typescript(engine, mithril, "up")
    assert up["summary"] == {"create": 6}
    assert _live(mithril) == ([("a100-80gb.sxm.8x", 4, "$50.00")], [500, 1000])
    (bid,) = mithril.control.live_bids()
    outputs = up["outputs"]
    assert outputs["clusterId"] == bid["fid"] and outputs["hourlyBid"] == 200 and len(outputs["gpuIps"]) == 4
    assert sorted(bid["launch_specification"]["volumes"]) == sorted(outputs["storageIds"].values())

    mithril.control.clear_requests()
    again = typescript(engine, mithril, "preview", "--expect-no-changes")
    assert again["summary"] == {"same": 6}
    assert mithril.control.write_requests() == []

    # $20 < the $25 floor of 8xA100. The preview writes nothing; `up` stops at the cluster, so its bid is never
    # placed (Pulumi's engine has created the compliant volumes by then: they stay in that stack's state).
    underbid = {"maxPricePerHour": 20}
    _rejected_by_the_floor(typescript(engine, mithril, "preview", stack="underbid", config=underbid))
    assert mithril.control.write_requests() == []
    _rejected_by_the_floor(typescript(engine, mithril, "up", stack="underbid", config=underbid))
    assert [b["fid"] for b in mithril.control.live_bids()] == [bid["fid"]], "the under-bid cluster bid nothing"

    for stack in ("dev", "underbid"):
        _run([str(engine.cli_dir / "pulumi"), "state", "unprotect", "--all", "--yes", "--stack", stack,
              "--non-interactive"], typescript.directory, engine.env(mithril.env))
        typescript(engine, mithril, "destroy", stack=stack, config=underbid if stack == "underbid" else None)
    assert mithril.control.live_bids() == [] and mithril.control.live_volumes() == []


def test_go_quickstart_example(go_program: Program, engine: PulumiEngine, mithril: RunningEmulator) -> None:
    preview = go_program(engine, mithril, "preview")
    assert preview["summary"] == {"create": 3} and "pulumi-flow-policies@v0.1.0" in preview["text"]
    assert mithril.control.write_requests() == []

    up = go_program(engine, mithril, "up")
    (bid,) = mithril.control.live_bids()
    assert up["summary"] == {"create": 3} and up["outputs"]["taskId"] == bid["fid"]
    assert up["outputs"]["bidPerHour"] == 25 and len(up["outputs"]["publicIps"]) == 1
    assert _live(mithril) == ([("a100-80gb.sxm.8x", 1, "$25.00")], [])

    mithril.control.clear_requests()
    assert go_program(engine, mithril, "preview", "--expect-no-changes")["summary"] == {"same": 3}
    assert mithril.control.write_requests() == []

    _rejected_by_the_floor(go_program(engine, mithril, "preview", stack="underbid", config={"maxPricePerHour": 5}))
    _rejected_by_the_floor(go_program(engine, mithril, "up", stack="underbid", config={"maxPricePerHour": 5}))
    assert [b["fid"] for b in mithril.control.live_bids()] == [bid["fid"]], "the under-bid cluster bid nothing"

    assert go_program(engine, mithril, "destroy")["summary"] == {"delete": 3}
    assert mithril.control.live_bids() == []
