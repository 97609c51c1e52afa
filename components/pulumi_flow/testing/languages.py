"""Python, TypeScript and Go programs as users build them, run from their directory by their language host.

    program = build_typescript(Path("examples/typescript"), work_dir, cli_dir)
    stack = program.stack(engine, mithril)           # an Automation API stack of that directory
    stack.up(policy_packs=[pack])                    # `pulumi up` there, by the CLI and the language host

`build_*` copies the example into `work_dir`, generates its SDK (`pulumi_flow.plugin.sdk`, as `pulumi-flow sdk`
does) and installs its dependencies the way the README says (`npm install`; `go mod tidy`, then `go vet`). The
program then runs from its directory through the language host beside the CLI (`pulumi-language-nodejs`,
`pulumi-language-go`, which `scripts/install-pulumi` builds), exactly as `pulumi up` there would run it.
`build_python` gives a Python project the virtualenv `pulumi install` would make there (pulumi-flow and its
dependencies): the environment running the tests, linked, so that no test waits for pip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from pulumi_flow.emulator.embedded import RunningEmulator
from pulumi_flow.engines.pulumi_cli import PulumiCli, PulumiCliMissingError, project_runtime
from pulumi_flow.plugin import sdk

CACHE = Path(os.environ.get("PULUMI_FLOW_CACHE", Path.home() / ".cache" / "pulumi-flow"))
GO_ENV = {"GOFLAGS": "-mod=mod", "GOTOOLCHAIN": os.environ.get("GOTOOLCHAIN", "local"), "CGO_ENABLED": "0"}
HOSTS = {"nodejs": "pulumi-language-nodejs", "go": "pulumi-language-go"}


class BuildError(RuntimeError):
    """A build step failed; the message carries its output."""


def _run(argv: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None, timeout: float = 900) -> None:
    done = subprocess.run(list(argv), cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, check=False)
    if done.returncode != 0:
        raise BuildError(f"{' '.join(argv)} failed in {cwd}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


@attrs.frozen
class Program:
    """A program directory ready for `pulumi up`, and what its language host needs in its environment."""

    directory: Path
    env: Mapping[str, str] = attrs.field(factory=dict)

    def stack(self, engine: PulumiCli, mithril: RunningEmulator, name: str = "dev",
              config: Mapping[str, Any] | None = None) -> Any:
        """A new stack of this directory's project, run by its language host beside the CLI."""
        host = HOSTS.get(project_runtime(self.directory))
        if host is not None and not os.access(engine.cli_dir / host, os.X_OK):
            raise PulumiCliMissingError(f"{engine.cli_dir} has no {host}. Fix: run `scripts/install-pulumi`, which "
                                        f"builds the language hosts beside the CLI")
        return engine.local_stack(self.directory, name, env={**mithril.env, **self.env},
                                  config={key: str(value) for key, value in (config or {}).items()})


def build_python(example: Path, work_dir: Path, environment: Path = Path(sys.prefix)) -> Program:
    directory = Path(shutil.copytree(example, work_dir / example.name,
                                     ignore=shutil.ignore_patterns("venv", "Pulumi.*.yaml", "__pycache__")))
    (directory / "venv").symlink_to(environment, target_is_directory=True)
    return Program(directory)


def build_typescript(example: Path, work_dir: Path, cli_dir: Path) -> Program:
    directory = Path(shutil.copytree(example, work_dir / example.name))
    sdk.generate("nodejs", directory / "sdks" / "flow", generator=sdk.find_generator([cli_dir]))
    _run(["npm", "install", "--no-audit", "--no-fund", "--cache", str(CACHE / "npm")], directory)
    if not (directory / "sdks" / "flow" / "bin" / "index.js").is_file():
        raise BuildError("the generated SDK did not compile in its postinstall (sdks/flow/bin/index.js is missing)")
    _run(["npx", "tsc", "--noEmit"], directory)  # the program type-checks against the generated SDK
    return Program(directory)


def build_go(example: Path, work_dir: Path, cli_dir: Path) -> Program:
    directory = Path(shutil.copytree(example, work_dir / example.name))
    sdk.generate("go", directory / "sdks" / "flow", generator=sdk.find_generator([cli_dir]))
    _run(["go", "mod", "tidy"], directory, GO_ENV)
    _run(["go", "vet", "."], directory, GO_ENV)  # and it compiles, before the language host builds it again
    return Program(directory, GO_ENV)
