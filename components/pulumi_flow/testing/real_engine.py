"""The real Pulumi CLI and engine, driven through Pulumi's Automation API, offline and private.

`PulumiEngine` knows where the CLI is and owns a Pulumi home and a file backend. `stack()` gives an
Automation API `Stack` whose program is a Pulumi project's `__main__.py` (or any function), served
to the CLI by the Automation API as an inline program. Everything else is the real thing: the CLI's
engine plans, diffs and records state, starts the dynamic-provider plugin
(`pulumi-resource-pulumi-python`, which runs `python -u -m pulumi.dynamic`) and the policy pack, and
`refresh`, `destroy` and `stack export` work on the state it wrote.

An inline program needs no Python language host (`pulumi-language-python`), and neither does a
policy pack given as its executable launcher (`policies/pulumi-analyzer-flow`); a CLI built from
the `pkg/v3` Go module alone runs both.
"""

from __future__ import annotations

import os
import runpy
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import yaml

OFFLINE_ENV = {
    "PULUMI_SKIP_UPDATE_CHECK": "true",
    "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
    "PULUMI_DISABLE_REGISTRY_RESOLVE": "true",
    "PULUMI_CONFIG_PASSPHRASE": "",
    "PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK": "true",
}
# The steps of one replacement, each reported on its own.
REPLACEMENT_STEPS = ("delete-replaced", "replace", "create-replacement")
# The files a CLI directory must hold: the CLI, and the plugin it execs for Python dynamic providers.
CLI_FILES = ("pulumi", "pulumi-resource-pulumi-python")
YAML_HOST = "pulumi-language-yaml"


class PulumiCliMissingError(RuntimeError):
    """No usable Pulumi CLI: the message says what to install or run."""


def find_cli(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The directory holding `pulumi` and `pulumi-resource-pulumi-python`: `explicit`, else
    `$PULUMI_FLOW_CLI_DIR`, else the directory of `pulumi` on PATH."""
    candidate = explicit or os.environ.get("PULUMI_FLOW_CLI_DIR") or None  # set but empty: unset
    if candidate is None:
        found = shutil.which("pulumi")
        candidate = os.path.dirname(found) if found else None
    if candidate is None:
        raise PulumiCliMissingError(
            "no Pulumi CLI: put `pulumi` on PATH, or build one with `scripts/install-pulumi` (needs Go) and "
            "export PULUMI_FLOW_CLI_DIR=\"$(scripts/install-pulumi)\"")
    directory = Path(candidate).resolve()
    missing = [name for name in CLI_FILES if not os.access(directory / name, os.X_OK)]
    if missing:
        raise PulumiCliMissingError(
            f"{directory} has no executable {', '.join(missing)}: the engine needs both to run Python dynamic "
            f"providers. Fix: run `scripts/install-pulumi`, which builds the CLI and puts the plugin beside it")
    return directory


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (from /proc; empty where there is none)."""
    parents: dict[int, int] = {}
    proc = Path("/proc")
    for entry in proc.iterdir() if proc.is_dir() else ():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found: list[int] = []
    frontier = [pid]
    while frontier:
        current = frontier.pop()
        children = [p for p, parent in parents.items() if parent == current]
        found.extend(children)
        frontier.extend(children)
    return found


def cli_processes(cli_dir: Path) -> list[int]:
    """The Pulumi CLI processes this process started (the Automation API's `pulumi` commands)."""
    cli = str(cli_dir / "pulumi")
    found = []
    for pid in descendants(os.getpid()):
        try:
            if os.readlink(f"/proc/{pid}/exe") == cli:
                found.append(pid)
        except OSError:
            continue
    return found


def cli_version(cli_dir: Path) -> str:
    return subprocess.run([str(cli_dir / "pulumi"), "version"], capture_output=True, text=True, check=True,
                          env={**os.environ, **OFFLINE_ENV}).stdout.strip()


def project_name(program_dir: Path) -> str:
    settings = yaml.safe_load((program_dir / "Pulumi.yaml").read_text())
    return str(settings["name"])


def project_runtime(program_dir: Path) -> str:
    runtime = yaml.safe_load((program_dir / "Pulumi.yaml").read_text())["runtime"]
    return str(runtime["name"] if isinstance(runtime, dict) else runtime)


def program_from_file(main: Path) -> Callable[[], None]:
    """A program file (a project's `__main__.py`) as an inline program, run as the language host runs it:
    as `__main__`, with its directory importable."""

    def program() -> None:
        sys.path.insert(0, str(main.parent))
        try:
            runpy.run_path(str(main), run_name="__main__")
        finally:
            sys.path.remove(str(main.parent))

    return program


def program_from_dir(program_dir: Path) -> Callable[[], None]:
    return program_from_file(program_dir / "__main__.py")


@attrs.frozen
class PulumiEngine:
    """A Pulumi CLI with a private home and a local file backend."""

    cli_dir: Path
    home: Path
    backend: Path
    python: str = sys.executable

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        path = os.pathsep.join([str(self.cli_dir), str(Path(self.python).parent), os.environ.get("PATH", "")])
        return {
            **OFFLINE_ENV,
            "PATH": path,
            "PULUMI_HOME": str(self.home),
            "PULUMI_BACKEND_URL": self.backend.as_uri(),
            # The dynamic-provider plugin runs `$PULUMI_PYTHON_CMD -m pulumi.dynamic`: this Python has pulumi_flow.
            "PULUMI_PYTHON_CMD": self.python,
            **(extra or {}),
        }

    def command(self) -> Any:
        from pulumi import automation as auto

        root = self.cli_dir.parent if self.cli_dir.name == "bin" else None
        if root is None:
            raise PulumiCliMissingError(
                f"{self.cli_dir} is not a `bin` directory; the Automation API runs ROOT/bin/pulumi")
        return auto.PulumiCommand(root=str(root), skip_version_check=True)

    def stack(self, stack_name: str, *, project: str, program: Callable[[], Any],
              env: Mapping[str, str] | None = None, config: Mapping[str, str] | None = None,
              secrets: Mapping[str, str] | None = None) -> Any:
        """A fresh stack of `project` with an inline `program`; `config`/`secrets` are set on it."""
        from pulumi import automation as auto

        self.home.mkdir(parents=True, exist_ok=True)
        self.backend.mkdir(parents=True, exist_ok=True)
        settings = auto.ProjectSettings(name=project, runtime="python",
                                        backend=auto.ProjectBackend(url=self.backend.as_uri()))
        options = auto.LocalWorkspaceOptions(pulumi_home=str(self.home), env_vars=self.env(env),
                                             project_settings=settings, pulumi_command=self.command())
        stack = auto.create_stack(stack_name, project_name=project, program=program, opts=options)
        for key, value in (config or {}).items():
            stack.set_config(key, auto.ConfigValue(value=value))
        for key, value in (secrets or {}).items():
            stack.set_config(key, auto.ConfigValue(value=value, secret=True))
        return stack

    def local_stack(self, program_dir: Path, stack_name: str = "dev", *, env: Mapping[str, str] | None = None,
                    config: Mapping[str, str] | None = None) -> Any:
        """A fresh stack of the project in `program_dir`, run by its own language host (`runtime: yaml` needs
        `pulumi-language-yaml` beside the CLI; `scripts/install-pulumi` builds it). Stack files are written
        into `program_dir`: give it a copy."""
        from pulumi import automation as auto

        if project_runtime(program_dir) == "yaml" and not os.access(self.cli_dir / YAML_HOST, os.X_OK):
            raise PulumiCliMissingError(
                f"{self.cli_dir} has no {YAML_HOST}, which runs `runtime: yaml` programs. Fix: run "
                f"`scripts/install-pulumi`, which builds it beside the CLI")
        self.home.mkdir(parents=True, exist_ok=True)
        self.backend.mkdir(parents=True, exist_ok=True)
        options = auto.LocalWorkspaceOptions(work_dir=str(program_dir), pulumi_home=str(self.home),
                                             env_vars=self.env(env), pulumi_command=self.command())
        stack = auto.create_stack(stack_name, work_dir=str(program_dir), opts=options)
        for key, value in (config or {}).items():
            stack.set_config(key, auto.ConfigValue(value=value))
        return stack

    def project_stack(self, program_dir: Path, stack_name: str = "dev", **kwargs: Any) -> Any:
        """A stack of the Pulumi project in `program_dir` (its name from Pulumi.yaml)."""
        return self.stack(stack_name, project=project_name(program_dir), program=program_from_dir(program_dir),
                          **kwargs)

    def run(self, stack: Any, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """A plain CLI command on `stack` (`state unprotect`, `stack export`, ...), as a user types it."""
        env = {**os.environ, **stack.workspace.env_vars}
        return subprocess.run([str(self.cli_dir / "pulumi"), *args, "--stack", stack.name, "--non-interactive"],
                              cwd=stack.workspace.work_dir, env=env, capture_output=True, text=True, check=check)


@attrs.define
class Transcript:
    """What one operation printed and the engine events it sent, for `**transcript.hooks()`."""

    lines: list[str] = attrs.Factory(list)
    events: list[Any] = attrs.Factory(list)

    def hooks(self) -> dict[str, Callable[[Any], None]]:
        return {"on_output": self.lines.append, "on_event": self.events.append}

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def steps(self, resource_type: str | None = None) -> list[tuple[str, str]]:
        """The engine's steps that change something, as (operation, resource name), optionally of one type.
        A step's final word is its outputs event (a refresh that found drift reports `update` there); a
        preview has only the planned one. `same`, and a refresh that found nothing, are left out."""
        final: dict[str, tuple[str, str]] = {}
        planned: list[tuple[str, str]] = []
        for event in self.events:
            step = event.resource_pre_event or event.res_outputs_event
            if step is None or resource_type not in (None, step.metadata.type):
                continue
            op = getattr(step.metadata.op, "value", str(step.metadata.op))
            entry = (op, step.metadata.urn.rsplit("::", 1)[-1])
            if event.res_outputs_event is not None:
                final[f"{step.metadata.urn}#{len(final)}" if op in REPLACEMENT_STEPS else step.metadata.urn] = entry
            else:
                planned.append(entry)
        chosen = list(final.values()) if final else planned
        return [(op, name) for op, name in chosen if op not in ("same", "refresh")]

    def policy_violations(self) -> list[Any]:
        """The engine's own policy events: (policy name, enforcement level, message)."""
        return [e.policy_event for e in self.events if e.policy_event is not None]
