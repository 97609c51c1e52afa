"""The Pulumi CLI as an engine: the real one, driven through Pulumi's Automation API, offline and private.

`PulumiCli` knows where the CLI is and owns a Pulumi home and a file backend. `stack()` gives an
Automation API `Stack` whose program is a Pulumi project's `__main__.py` (or any function), served
to the CLI by the Automation API as an inline program. Everything else is the real thing: the CLI's
engine plans, diffs and records state, starts the dynamic-provider plugin
(`pulumi-resource-pulumi-python`, which runs `python -u -m pulumi.dynamic`) and the policy pack, and
`refresh`, `destroy` and `stack export` work on the state it wrote.

`PulumiCliEngine` is this driver behind the engines' interface, as `pulumi-flow run` uses it: it runs a
project by its own language host, as `pulumi up` in its directory would, where the CLI has the host and the
project's virtualenv exists; otherwise as an inline program in this Python (and says why).

An inline program needs no Python language host (`pulumi-language-python`), and neither does a
policy pack given as its executable launcher (`policies/pulumi-analyzer-flow`); a CLI built from
the `pkg/v3` Go module alone runs both.
"""

from __future__ import annotations

import contextlib
import os
import runpy
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import yaml

from pulumi_flow.engines._engine import (
    Created,
    Engine,
    Outcome,
    PolicyBlocked,
    ProgramError,
    Registration,
    StackRun,
    TearDown,
    UnrecordedCreate,
    describe_program_error,
)
from pulumi_flow.engines.builtin import tear_down
from pulumi_flow.engines.plugins import Verdict
from pulumi_flow.resources import (
    BILLED_TYPES,
    POOL_TYPE,
    POOL_TYPES,
    RESERVATION_TYPE,
    RESERVATION_TYPES,
    STACK_TYPE,
    TASK_TYPE,
    TASK_TYPES,
    VOLUME_TYPE,
)

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
PYTHON_HOST = "pulumi-language-python"


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


def project_virtualenv(program_dir: Path) -> Path | None:
    """The virtualenv a Python project names in Pulumi.yaml (`runtime.options.virtualenv`), if it names one."""
    runtime = yaml.safe_load((program_dir / "Pulumi.yaml").read_text())["runtime"]
    options = (runtime.get("options") or {}) if isinstance(runtime, dict) else {}
    venv = options.get("virtualenv")
    return program_dir / str(venv) if venv else None


def inline_reason(cli_dir: Path, program_dir: Path) -> str | None:
    """Why `pulumi up` in `program_dir` would not run the project here as it stands, so it must run inline; None
    when it would: the CLI has the Python language host and the project's virtualenv (if it names one) exists.
    Without one named, the host runs `python3` from PATH, which `PulumiCli.env` makes this Python."""
    host = cli_dir / PYTHON_HOST
    if not os.access(host, os.X_OK) and shutil.which(PYTHON_HOST) is None:
        return f"this CLI has no {PYTHON_HOST} (`scripts/install-pulumi` builds it)"
    if project_runtime(program_dir) != "python":
        return f"its runtime is {project_runtime(program_dir)!r}"
    venv = project_virtualenv(program_dir)
    if venv is not None and not (venv / "bin" / "python").exists():
        return f"{venv} does not exist yet (`pulumi install` there makes it)"
    return None


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
class PulumiCli:
    """A Pulumi CLI with a private home and a local file backend: the driver `PulumiCliEngine` and the engine tests
    stand on (not an engine itself: it runs whatever program and commands it is given)."""

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

    def program_error(self) -> str | None:
        """What the language host reported the program raised, if it did: its first error that names no resource
        (the host logs it so) or names the stack."""
        for event in self.events:
            diagnostic = event.diagnostic_event
            if diagnostic is not None and diagnostic.severity == "error" and (
                    not diagnostic.urn or diagnostic.urn.split("::")[2] == STACK_TYPE):
                return str(diagnostic.message)
        return None

    def policy_violations(self) -> list[Any]:
        """The engine's own policy events: (policy name, enforcement level, message)."""
        return [e.policy_event for e in self.events if e.policy_event is not None]


PROVIDER_PREFIX = "pulumi:providers:"


def pack_argument(cli_dir: Path, pack_dir: Path) -> str:
    """How to hand this CLI the pack: the directory if it has a Python language host, else the launcher."""
    from pulumi_flow_policies.pack import LAUNCHER

    if (cli_dir / "pulumi-language-python").is_file():
        return str(pack_dir)
    launcher = pack_dir / LAUNCHER
    if not launcher.is_file():
        raise RuntimeError(
            f"--policy-pack {pack_dir}: this Pulumi CLI ({cli_dir}) has no Python language host, so it can start "
            f"a pack only through an executable; {pack_dir} has no {LAUNCHER}. Fix: write the pack with "
            f"`pulumi-flow policy-pack --out DIR`, or use --engine builtin")
    return str(launcher)


def last_error(exc: Exception) -> str:
    """The engine's own last `error:` line from a failed command, the part a person needs."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip().startswith("error:")]
    return lines[-1].removeprefix("error:").strip() if lines else "see above"


def unrecorded_creates(stack: Any, transcript: Transcript | None = None) -> list[UnrecordedCreate]:
    """The creates of tasks, reservations and volumes the state has no id for: pending ones (the CLI was stopped or
    killed before it saw them finish) and, from `transcript`'s events, ones that failed. Either may have made what
    Mithril bills; its owned name follows from the checked inputs, which both keep."""
    deployment = stack.export_stack().deployment
    recorded = {r["urn"] for r in deployment.get("resources") or [] if r.get("id")}
    found: dict[str, UnrecordedCreate] = {}
    for op in deployment.get("pending_operations") or []:
        resource = op["resource"]
        if op.get("type") == "creating" and resource["type"] in BILLED_TYPES:
            found[resource["urn"]] = UnrecordedCreate(_teardown_type(resource["type"]),
                                                      resource["urn"].rsplit("::", 1)[-1],
                                                      dict(resource.get("inputs") or {}))
    for event in transcript.events if transcript is not None else ():
        step = event.resource_pre_event
        if step is None or step.metadata.type not in BILLED_TYPES or step.metadata.new is None:
            continue
        op = getattr(step.metadata.op, "value", str(step.metadata.op))
        urn = step.metadata.urn
        if op in ("create", "create-replacement") and urn not in recorded:
            found.setdefault(urn, UnrecordedCreate(_teardown_type(step.metadata.type), urn.rsplit("::", 1)[-1],
                                                   dict(step.metadata.new.inputs or {})))
    return list(found.values())


def _teardown_type(resource_type: str) -> str:
    """Either hosting's type, as the teardown names it (the same provider serves both)."""
    if resource_type in TASK_TYPES:
        return TASK_TYPE
    if resource_type in POOL_TYPES:
        return POOL_TYPE
    return RESERVATION_TYPE if resource_type in RESERVATION_TYPES else VOLUME_TYPE


def verdicts(transcript: Transcript) -> list[Verdict]:
    return [Verdict(policy=e.policy_name, level=e.enforcement_level, message=e.message, urn=e.resource_urn or "")
            for e in transcript.policy_violations()]


def _registration(resource: Mapping[str, Any]) -> Registration:
    return Registration(
        urn=resource["urn"], type=resource["type"], name=resource["urn"].rsplit("::", 1)[-1],
        custom=bool(resource.get("custom")), parent=resource.get("parent") or None,
        inputs=dict(resource.get("inputs") or {}), protect=bool(resource.get("protect")),
        depends_on=list(resource.get("dependencies") or []), ignore_changes=[], retain_on_delete=False,
        custom_timeouts=None, delete_before_replace=False, id=resource.get("id") or "",
        outputs=dict(resource.get("outputs") or {}))


def _shown(resource_type: str) -> bool:
    return not resource_type.startswith(PROVIDER_PREFIX) and resource_type != STACK_TYPE


def state_run(stack: Any, project: str, outputs: dict[str, Any]) -> StackRun:
    """The engine's state, as the neutral view of the stack."""
    resources = [_registration(r) for r in stack.export_stack().deployment.get("resources", [])
                 if _shown(r["type"])]
    created = [Created(_teardown_type(r.type), r.id, r.outputs) for r in resources
               if r.id and r.type in BILLED_TYPES]
    return StackRun(project=project, stack=stack.name, preview=False, resources=resources, outputs=outputs,
                    created=created)


class PulumiCliEngine(Engine):
    """`pulumi preview`, `up` and `destroy` by the real Pulumi CLI on a throw-away stack, with the pack given to
    the CLI. The program runs as `pulumi up` would run it (its language host, its virtualenv, the stack's file
    `Pulumi.<stack>.yaml` beside it for the run) or, where that cannot work here (`inline_reason`), as an inline
    program in this Python, whose errors pulumi-flow then says in one line. The CLI prints its own progress
    (`on_output`).

    Stopping it: the first Ctrl-C is passed on to the CLI, which starts no new steps; a create waiting for machines
    cannot be told to stop (`pulumi.dynamic` ignores the engine's Cancel), so after GRACE_SECONDS a second one
    follows, Pulumi's "exit now". The teardown then cancels what such a create placed, found by its owned name."""

    narrates = True
    GRACE_SECONDS = 1.0

    def __init__(self, cli_dir: Path, program: Path, *, project: str, stack: str, config: Mapping[str, str],
                 pack_dir: Path | None = None, policy_config_file: str | None = None, keep: bool = False,
                 on_output: Callable[[str], None] = print) -> None:
        self.cli_dir, self.program, self.project, self.stack_name = cli_dir, program, project, stack
        self.config, self.pack_dir, self.policy_config_file = dict(config), pack_dir, policy_config_file
        self.keep, self.on_output = keep, on_output
        self.project_dir = program.parent.resolve()
        self.inline_reason = inline_reason(cli_dir, self.project_dir)
        runs = ("the program by its language host, as `pulumi up` there" if self.inline_reason is None
                else f"the program inline in this Python: {self.inline_reason}")
        self.description = f"Pulumi CLI {cli_version(cli_dir)} at {cli_dir}; {runs}"
        self._stack_file = self.project_dir / f"Pulumi.{stack}.yaml"
        self._failures: list[BaseException] = []
        self._up_log = Transcript()
        self._up_started = False
        self._timer: threading.Timer | None = None
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        self._root: Path | None = None
        self._cli: PulumiCli | None = None
        self._stack: Any = None

    # -- the run ------------------------------------------------------------------------------

    def __enter__(self) -> PulumiCliEngine:
        import pulumi

        if self.keep:
            self._root = Path(tempfile.mkdtemp(prefix="pulumi-flow-run-"))
        else:
            self._scratch = tempfile.TemporaryDirectory(prefix="pulumi-flow-run-")
            self._root = Path(self._scratch.name)
        if self.pack_dir is None:
            from pulumi_flow_policies.pack import write_pack

            self.pack_dir = write_pack(self._root / "pack")
        self._cli = PulumiCli(self.cli_dir, home=self._root / "home", backend=self._root / "state")
        env = {k: v for k, v in os.environ.items() if k.startswith(("MITHRIL_", "FLOW_"))}
        if self.inline_reason is None:
            if self._stack_file.exists():
                raise FileExistsError(f"{self._stack_file} exists: the run's stack file would replace it. Fix: "
                                      f"give the run a stack of its own (--stack), or leave out --stack")
            self._stack = self._cli.local_stack(self.project_dir, self.stack_name, env=env, config=self.config)
            return self
        run_program = program_from_file(self.program)

        def program() -> None:
            # The engine prints a program's traceback; the pipeline says it as pulumi-flow says errors instead.
            try:
                run_program()
            except Exception as exc:  # noqa: BLE001 - any program error, re-raised as a clean RunError
                self._failures.append(exc)
                raise pulumi.RunError(describe_program_error(exc, self.program)) from None

        self._stack = self._cli.stack(self.stack_name, project=self.project, program=program, config=self.config,
                                      env=env)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self.inline_reason is None and not self.keep:
            self._stack_file.unlink(missing_ok=True)  # the run's stack is gone: its file in the project goes too
        if self._scratch is not None:
            self._scratch.cleanup()

    def _policy_options(self, policies: bool) -> dict[str, list[str]]:
        if not policies:
            return {"policy_packs": [], "policy_pack_configs": []}
        assert self.pack_dir is not None
        return {"policy_packs": [pack_argument(self.cli_dir, self.pack_dir.resolve())],
                "policy_pack_configs": [self.policy_config_file] if self.policy_config_file else []}

    def _failed(self, exc: Exception, log: Transcript, command: str) -> Exception:
        found = verdicts(log)
        if any(v.blocking for v in found):
            return PolicyBlocked(f"the Pulumi engine refused a resource during `{command}`", found)
        if self._failures:
            return ProgramError(self._failures[0])
        reported = log.program_error()
        if reported is not None:
            return ProgramError(reported=reported)
        return RuntimeError(f"{command} failed (its output is above): {last_error(exc)}")

    def preview(self, *, policies: bool) -> Outcome:
        from pulumi import automation as auto

        log = Transcript()
        try:
            self._stack.preview(**self._policy_options(policies), on_output=self._echo, on_event=log.events.append)
        except auto.CommandError as exc:
            raise self._failed(exc, log, "pulumi preview") from exc
        # The CLI has printed its plan; the state holds nothing yet, so there is no view of the stack to give.
        return Outcome(None, verdicts(log) if policies else [])

    def up(self, *, policies: bool) -> Outcome:
        from pulumi import automation as auto

        self._up_started = True  # whatever `up` manages before an error is in the state: the teardown covers it
        try:
            up = self._stack.up(**self._policy_options(policies), on_output=self._echo,
                                on_event=self._up_log.events.append)
        except auto.CommandError as exc:
            raise self._failed(exc, self._up_log, "pulumi up") from exc
        run = state_run(self._stack, self.project, {k: v.value for k, v in up.outputs.items()})
        return Outcome(run, verdicts(self._up_log) if policies else [])

    def _echo(self, line: str) -> None:
        self.on_output(line.rstrip("\n"))

    def tear_down(self) -> TearDown:
        if not self._up_started:
            return TearDown([])
        assert self._cli is not None
        self._cli.run(self._stack, "cancel", "--yes", check=False)  # a stopped run may leave its lock
        orphans = tear_down([], unrecorded=unrecorded_creates(self._stack, self._up_log))  # destroy drops them
        live = state_run(self._stack, self.project, {}).created
        self._cli.run(self._stack, "state", "unprotect", "--all", "--yes", check=False)
        self._stack.destroy(on_output=lambda _line: None)
        return TearDown([*live, *orphans.deleted], orphans.failed, orphans.unfound)

    def live(self) -> list[str]:
        if not self._up_started:
            return []
        return [r.id for r in state_run(self._stack, self.project, {}).resources if r.id]

    # -- stopping ---------------------------------------------------------------------------------

    def _forward(self) -> None:
        for pid in cli_processes(self.cli_dir):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGINT)

    def stop(self) -> None:
        self._forward()
        self._timer = threading.Timer(self.GRACE_SECONDS, self._forward)
        self._timer.daemon = True
        self._timer.start()

    def abandon(self) -> None:
        self._forward()

    def kept(self) -> str:
        state = (self._root or Path()) / "state"
        destroy = (f"PULUMI_BACKEND_URL={state.as_uri()} PULUMI_CONFIG_PASSPHRASE= pulumi destroy "
                   f"--stack {self.stack_name}")
        if self.inline_reason is None:
            return (f"kept: the stack's state is in {state} and its file is {self._stack_file}; destroy it with "
                    f"(cd {self.project_dir} && {destroy})")
        return f"kept: the stack's state is in {state}; destroy it with {destroy}"
