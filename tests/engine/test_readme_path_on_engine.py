"""The README's real path, typed as a user types it: `pulumi install`, `pulumi stack init`, `pulumi preview|up
--policy-pack ../../policies/` in the example's directory, then `state unprotect --all` and `destroy`.

The CLI runs the program directory and the pack directory through its own Python language host (built beside it
by scripts/install-pulumi), each in the virtualenv `pulumi install` made from its requirements.txt: nothing of the
test's own Python environment is on PATH. The virtualenvs are kept between runs (gitignored), as a user's are.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path

import pytest

from pulumi_flow.engines.pulumi_cli import OFFLINE_ENV
from pulumi_flow.testing.emulator import RunningEmulator
from tests.engine.conftest import EXAMPLES, ROOT
from tests.engine.test_examples_on_engine import (
    complete_component_inputs,
    complete_cost_outputs,
    complete_outputs,
    market_of,
)

pytestmark = pytest.mark.engine

PACK_DIR = "../../policies/"


def user_env(cli_dir: Path, tmp_path: Path, mithril: RunningEmulator) -> dict[str, str]:
    """A shell with the CLI on PATH, a local backend, and Mithril's address: no virtualenv active."""
    virtualenv = os.environ.get("VIRTUAL_ENV")
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep)
            if p and not (virtualenv and p.startswith(virtualenv))]
    base = {k: v for k, v in os.environ.items()
            if k not in ("VIRTUAL_ENV", "PULUMI_PYTHON_CMD") and not k.startswith(("MITHRIL_", "FLOW_"))}
    # Plugin acquisition stays on, as a user has it: `pulumi install` must find no plugin to download.
    offline = {k: v for k, v in OFFLINE_ENV.items() if k != "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION"}
    return {**base, **offline, **mithril.env, "PATH": os.pathsep.join([str(cli_dir), *path]),
            "PULUMI_HOME": str(tmp_path / "pulumi-home"), "PULUMI_BACKEND_URL": (tmp_path / "state").as_uri()}


def pulumi(env: Mapping[str, str], cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["pulumi", *args, "--non-interactive"], cwd=cwd, env=dict(env), capture_output=True,
                          text=True, timeout=900)
    if check and done.returncode != 0:
        raise AssertionError(f"pulumi {' '.join(args)} in {cwd} exited {done.returncode}:\n"
                             f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    return done


@pytest.fixture(scope="module")
def pack_installed(pulumi_cli: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """`(cd policies && pulumi install)`, once for the module: the pack's virtualenv is the same for every test."""
    if not (pulumi_cli / "pulumi-language-python").is_file():
        raise AssertionError(f"{pulumi_cli} has no pulumi-language-python: run scripts/install-pulumi, which builds "
                             f"the language hosts from ../shared (the README's path needs them)")
    home = tmp_path_factory.mktemp("pack-install")
    env = {**os.environ, **OFFLINE_ENV, "PATH": os.pathsep.join([str(pulumi_cli), os.environ.get("PATH", "")]),
           "PULUMI_HOME": str(home / "pulumi-home")}
    env.pop("VIRTUAL_ENV", None)
    pulumi(env, ROOT / "policies", "install")


@pytest.fixture
def shell(pulumi_cli: Path, tmp_path: Path, mithril: RunningEmulator, pack_installed: None) -> dict[str, str]:
    env = user_env(pulumi_cli, tmp_path, mithril)
    (tmp_path / "state").mkdir()
    return env


def test_the_readme_path_in_examples_complete(shell: dict[str, str], mithril: RunningEmulator) -> None:
    example = EXAMPLES / "complete"
    installed = pulumi(shell, example, "install")
    assert "error" not in installed.stderr.lower(), installed.stderr  # no attempt to download a `flow` plugin
    pulumi(shell, example, "stack", "init", "dev")
    try:
        preview = pulumi(shell, example, "preview", "--policy-pack", PACK_DIR)
        assert "pulumi-flow-policies@v0.1.0" in preview.stdout and "+ 8 to create" in preview.stdout
        assert mithril.control.write_requests() == [], "a preview places no bid"
        assert "using pulumi-resource-flow from $PATH" not in preview.stdout + preview.stderr

        pulumi(shell, example, "up", "--yes", "--policy-pack", PACK_DIR)
        assert len(mithril.control.live_bids()) == 1 and len(mithril.control.live_volumes()) == 2
        complete_outputs(json.loads(pulumi(shell, example, "stack", "output", "--json").stdout), mithril)
        deployment = json.loads(pulumi(shell, example, "stack", "export").stdout)["deployment"]
        complete_component_inputs(deployment)
        complete_cost_outputs(deployment, mithril)
        cost = json.loads(subprocess.run([str(Path(sys.executable).parent / "pulumi-flow"), "cost", "--json"],
                                         cwd=example, env=shell, capture_output=True, text=True, check=True).stdout)
        (task,) = cost["tasks"]  # the directory's selected stack, read through the Automation API
        market = Decimal(str(market_of(task["task_id"], mithril)))
        assert (task["bid_per_instance_hour"], task["market_per_instance_hour"], task["next_30_days_usd"]) == \
            ("50.00", f"{market:.2f}", f"{market * 4 * 720:.2f}")

        # A 30-day cap under what the cluster pays now: the pack refuses the stack by the policy's name.
        capped = shell_dir(shell) / "spend-cap.json"
        capped.write_text(json.dumps({"stack-spend-cap": {"max_30_day_usd": 1000},
                                      "bid-near-market": {"margin_percent": 500}}))
        refused = pulumi(shell, example, "preview", "--policy-pack", PACK_DIR, "--policy-pack-config", str(capped),
                         check=False)
        assert refused.returncode != 0 and "stack-spend-cap" in refused.stdout + refused.stderr
        assert "over max_30_day_usd=$1,000.00" in refused.stdout + refused.stderr
        # And the advisory: a bid within 500% of the market it pays (a margin no bid here clears) is named.
        assert "bid-near-market" in refused.stdout and "within margin_percent=500" in refused.stdout

        mithril.control.clear_requests()
        pulumi(shell, example, "preview", "--expect-no-changes", "--policy-pack", PACK_DIR)
        pulumi(shell, example, "refresh", "--yes", "--expect-no-changes")
        assert mithril.control.write_requests() == [], "no-change runs write nothing"

        # The data volumes are protected: destroy stops, as Pulumi's `protect` does, until they are unprotected.
        refused = pulumi(shell, example, "destroy", "--yes", check=False)
        assert refused.returncode != 0 and "protected" in refused.stdout + refused.stderr
        assert len(mithril.control.live_volumes()) == 2, "no data volume was deleted"
    finally:
        pulumi(shell, example, "state", "unprotect", "--all", "--yes")
        pulumi(shell, example, "destroy", "--yes")
        pulumi(shell, example, "stack", "rm", "dev", "--yes")
    assert mithril.control.live_bids() == [] and mithril.control.live_volumes() == []


def shell_dir(env: Mapping[str, str]) -> Path:
    """The test's own directory, where the shell keeps its Pulumi home."""
    return Path(env["PULUMI_HOME"]).parent


def preview_example(env: Mapping[str, str], example: str) -> subprocess.CompletedProcess[str]:
    """`scripts/preview-example`, the step the `policy` workflow runs for each example, with pulumi-flow's
    virtualenv on PATH as the workflow's `pip install .` puts it (the YAML programs need pulumi-resource-flow)."""
    path = os.pathsep.join([env["PATH"], str(Path(sys.executable).parent)])
    try:
        return subprocess.run([str(ROOT / "scripts" / "preview-example"), example], cwd=ROOT,
                              env={**env, "PATH": path, "PREVIEW_STACK": "workflow"}, capture_output=True, text=True,
                              timeout=900, check=False)
    finally:
        pulumi(env, EXAMPLES / example, "stack", "rm", "workflow", "--yes", "--force", check=False)


def test_the_underbid_example_is_refused_by_name_and_nothing_is_written(shell: dict[str, str],
                                                                      mithril: RunningEmulator) -> None:
    """By the `policy` workflow's own step at preview, then by `pulumi up` as a user types it."""
    previewed = preview_example(shell, "underbid")
    assert previewed.returncode == 0, previewed.stdout + previewed.stderr
    assert "examples/underbid refused by infrastructure-bid-floor, as it must be" in previewed.stdout
    example = EXAMPLES / "underbid"
    pulumi(shell, example, "stack", "init", "dev")
    try:
        refused = pulumi(shell, example, "up", "--yes", "--policy-pack", PACK_DIR, check=False)
    finally:
        pulumi(shell, example, "stack", "rm", "dev", "--yes", "--force")
    assert refused.returncode != 0
    assert "infrastructure-bid-floor" in refused.stdout + refused.stderr
    assert mithril.control.write_requests() == []


def test_the_policy_workflow_step_passes_a_compliant_yaml_example(shell: dict[str, str],
                                                                 mithril: RunningEmulator) -> None:
    previewed = preview_example(shell, "yaml")
    assert previewed.returncode == 0, previewed.stdout + previewed.stderr
    assert "examples/yaml passed the policy pack" in previewed.stdout
    assert "pulumi-flow-policies@v0.1.0" in previewed.stdout and "+ 4 to create" in previewed.stdout
    assert mithril.control.write_requests() == []
