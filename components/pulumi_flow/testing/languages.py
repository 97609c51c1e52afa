"""TypeScript and Go programs on the real engine, built against the `flow` SDK generated from the plugin.

    program = build_typescript(Path("examples/typescript"), work_dir, cli_dir)
    report = program(engine, mithril, "up")          # {"ok", "summary", "outputs", "text"}

`build_*` copies the program into `work_dir`, generates its SDK (`pulumi_flow.plugin.sdk`), installs
its dependencies (npm; the Go module proxy), compiles it, and adds a driver (`drivers/`) that runs it
as an inline program of its language's Automation API. An inline program needs no language host
(`pulumi-language-nodejs`, `pulumi-language-go`): the API serves the program to the CLI itself.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import yaml

from pulumi_flow.engines.pulumi_cli import PulumiEngine
from pulumi_flow.plugin import sdk
from pulumi_flow.testing.emulator import RunningEmulator

DRIVERS = Path(__file__).resolve().parent / "drivers"
CACHE = Path(os.environ.get("PULUMI_FLOW_CACHE", Path.home() / ".cache" / "pulumi-flow"))


class BuildError(RuntimeError):
    """A build step failed; the message carries its output."""


def _run(argv: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None, timeout: float = 900) -> None:
    done = subprocess.run(list(argv), cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, check=False)
    if done.returncode != 0:
        raise BuildError(f"{' '.join(argv)} failed in {cwd}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


@attrs.frozen
class Program:
    """A compiled program and the command that runs it on the engine."""

    directory: Path
    driver: tuple[str, ...]
    project: str

    def __call__(self, engine: PulumiEngine, mithril: RunningEmulator, operation: str, *flags: str,
                 stack: str = "dev", config: Mapping[str, Any] | None = None,
                 policy_packs: Sequence[str] = ()) -> dict[str, Any]:
        """`preview`, `up` or `destroy` (with `--expect-no-changes`); the driver's report, `ok` False on failure."""
        env = engine.env(mithril.env)
        options = {"cliRoot": str(engine.cli_dir.parent), "home": str(engine.home), "backend": engine.backend.as_uri(),
                   "project": self.project, "stack": stack, "policyPacks": list(policy_packs), "env": env,
                   "config": {key: str(value) for key, value in (config or {}).items()}}
        engine.backend.mkdir(parents=True, exist_ok=True)
        done = subprocess.run([*self.driver, operation, *flags], cwd=self.directory, capture_output=True, text=True,
                              env={**os.environ, **env, "FLOW_DRIVER": json.dumps(options)}, timeout=900,
                              check=False)
        lines = done.stdout.strip().splitlines()
        if not lines:
            raise BuildError(f"the {self.project} driver printed nothing: {done.stderr[-3000:]}")
        report: dict[str, Any] = json.loads(lines[-1])
        if report.get("ok") != (done.returncode == 0):
            raise BuildError(f"the driver's report disagrees with its exit code {done.returncode}: {report}")
        return report


def _project_name(directory: Path) -> str:
    return str(yaml.safe_load((directory / "Pulumi.yaml").read_text())["name"])


def build_typescript(example: Path, work_dir: Path, cli_dir: Path) -> Program:
    directory = Path(shutil.copytree(example, work_dir / example.name))
    sdk.generate("nodejs", directory / "sdks" / "flow", generator=sdk.find_generator([cli_dir]))
    _run(["npm", "install", "--no-audit", "--no-fund", "--cache", str(CACHE / "npm")], directory)
    if not (directory / "sdks" / "flow" / "bin" / "index.js").is_file():
        raise BuildError("the generated SDK did not compile in its postinstall (sdks/flow/bin/index.js is missing)")
    _run(["npx", "tsc"], directory)  # the program type-checks against the generated SDK
    shutil.copy(DRIVERS / "node-automation.js", directory)
    return Program(directory, ("node", "node-automation.js"), _project_name(directory))


def build_go(example: Path, work_dir: Path, cli_dir: Path) -> Program:
    directory = Path(shutil.copytree(example, work_dir / example.name))
    sdk.generate("go", directory / "sdks" / "flow", generator=sdk.find_generator([cli_dir]))
    shutil.copy(DRIVERS / "go-automation.go", directory)
    env = {"GOFLAGS": "-mod=mod", "GOTOOLCHAIN": os.environ.get("GOTOOLCHAIN", "local"), "CGO_ENABLED": "0"}
    _run(["go", "vet", "."], directory, env)  # the program as users build it (`pulumi.Run`)
    _run(["go", "build", "-tags", "automation", "-o", "driver", "."], directory, env)
    return Program(directory, ("./driver",), _project_name(directory))
