"""`pulumi-flow run` on the real Pulumi engine: the CLI previews, judges with the pack, updates and
destroys, and prints its own progress; this module adds the tree of bids, GPUs and $/h, and tears
down in `finally`, so an error or a Ctrl-C never leaves a bid billing.

The program runs as an Automation API inline program against a private, throw-away Pulumi home and
file backend (kept, and printed, with `--keep`). The pack is given to the CLI as a directory when the
CLI has a Python language host beside it, else as its executable launcher.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from pulumi_flow.cli.console import Console
from pulumi_flow.resources import TASK_TYPE, TASK_TYPES, VOLUME_TYPE, VOLUME_TYPES
from pulumi_flow.testing.engine import Verdict
from pulumi_flow.testing.real_engine import PulumiEngine, Transcript, cli_processes, program_from_file
from pulumi_flow.testing.runner import Registration, StackRun, UnrecordedCreate, tear_down

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


def _last_error(exc: Exception) -> str:
    """The engine's own last `error:` line from a failed command, the part a person needs."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip().startswith("error:")]
    return lines[-1].removeprefix("error:").strip() if lines else "see above"


class EngineCtrlC:
    """Ctrl-C while the Pulumi CLI runs. The first is passed on to the CLI, which stops starting new steps;
    a create waiting for machines cannot be told to stop (`pulumi.dynamic` ignores the engine's Cancel), so
    after GRACE_SECONDS a second one follows, Pulumi's "exit now". The teardown then cancels what such a
    create placed. A second Ctrl-C from the user skips the teardown (or stops it) and names what is left."""

    GRACE_SECONDS = 1.0

    def __init__(self, cli_dir: Path) -> None:
        self.cli_dir = cli_dir
        self.requested = False
        self.abandoned = False
        self.tearing_down = False
        self._previous: Any = None
        self._timer: threading.Timer | None = None

    def _forward(self) -> None:
        for pid in cli_processes(self.cli_dir):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGINT)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            if self.tearing_down:
                raise KeyboardInterrupt
            self.abandoned = True
            self._forward()
            return
        self.requested = True
        print("Ctrl-C: stopping the Pulumi CLI, then tearing down what was created (Ctrl-C again to leave it)",
              file=sys.stderr, flush=True)
        self._forward()
        self._timer = threading.Timer(self.GRACE_SECONDS, self._forward)
        self._timer.daemon = True
        self._timer.start()

    def __enter__(self) -> EngineCtrlC:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def unrecorded_creates(stack: Any, transcript: Transcript | None = None) -> list[UnrecordedCreate]:
    """The creates of tasks and volumes the state has no id for: pending ones (the CLI was stopped or killed
    before it saw them finish) and, from `transcript`'s events, ones that failed. Either may have made a bid
    or a volume; its owned name follows from the checked inputs, which both keep."""
    deployment = stack.export_stack().deployment
    recorded = {r["urn"] for r in deployment.get("resources") or [] if r.get("id")}
    found: dict[str, UnrecordedCreate] = {}
    for op in deployment.get("pending_operations") or []:
        resource = op["resource"]
        if op.get("type") == "creating" and resource["type"] in (*TASK_TYPES, *VOLUME_TYPES):
            found[resource["urn"]] = UnrecordedCreate(_runner_type(resource["type"]),
                                                      resource["urn"].rsplit("::", 1)[-1],
                                                      dict(resource.get("inputs") or {}))
    for event in transcript.events if transcript is not None else ():
        step = event.resource_pre_event
        if step is None or step.metadata.type not in (*TASK_TYPES, *VOLUME_TYPES) or step.metadata.new is None:
            continue
        op = getattr(step.metadata.op, "value", str(step.metadata.op))
        urn = step.metadata.urn
        if op in ("create", "create-replacement") and urn not in recorded:
            found.setdefault(urn, UnrecordedCreate(_runner_type(step.metadata.type), urn.rsplit("::", 1)[-1],
                                                   dict(step.metadata.new.inputs or {})))
    return list(found.values())


def _runner_type(resource_type: str) -> str:
    """Either hosting's type, as the teardown names it (the same provider serves both)."""
    return TASK_TYPE if resource_type in TASK_TYPES else VOLUME_TYPE


def verdicts(transcript: Transcript) -> list[Verdict]:
    return [Verdict(policy=e.policy_name, level=e.enforcement_level, message=e.message, urn=e.resource_urn or "")
            for e in transcript.policy_violations()]


def state_run(stack: Any, project: str, outputs: dict[str, Any]) -> StackRun:
    """The engine's state, as the tree printer reads a run."""
    resources = []
    for r in stack.export_stack().deployment.get("resources", []):
        if r["type"].startswith(PROVIDER_PREFIX) or r["type"] == "pulumi:pulumi:Stack":
            continue
        resources.append(Registration(
            urn=r["urn"], type=r["type"], name=r["urn"].rsplit("::", 1)[-1], custom=bool(r.get("custom")),
            parent=r.get("parent"), inputs=dict(r.get("inputs") or {}), protect=bool(r.get("protect")),
            depends_on=list(r.get("dependencies") or []), ignore_changes=[], retain_on_delete=False,
            custom_timeouts=None, delete_before_replace=False, id=r.get("id") or "",
            outputs=dict(r.get("outputs") or {})))
    return StackRun(project=project, stack=stack.name, preview=False, resources=resources, outputs=outputs)


def run_on_engine(args: argparse.Namespace, console: Console, *, cli_dir: Path, main: Path, project: str,
                  config: dict[str, str], pack_dir: Path) -> int:
    import pulumi
    from pulumi import automation as auto

    from pulumi_flow.cli.run import (
        ProgramFailed,
        print_outputs,
        print_tree,
        print_verdicts,
        program_error,
        report_unfound,
        torn_down,
    )

    keep_dir = Path(tempfile.mkdtemp(prefix="pulumi-flow-run-")) if args.keep else None
    with tempfile.TemporaryDirectory(prefix="pulumi-flow-run-") as scratch, EngineCtrlC(cli_dir) as stop:
        root = keep_dir or Path(scratch)
        engine = PulumiEngine(cli_dir, home=root / "home", backend=root / "state")
        failures: list[BaseException] = []
        run_program = program_from_file(main)

        def program() -> None:
            # The engine prints a program's traceback; say it as pulumi-flow says errors instead.
            try:
                run_program()
            except Exception as exc:  # noqa: BLE001 - any program error, re-raised as a clean RunError
                failures.append(exc)
                raise pulumi.RunError(program_error(exc, main)) from None

        stack = engine.stack(args.stack, project=project, program=program, config=config,
                             env={k: v for k, v in os.environ.items() if k.startswith(("MITHRIL_", "FLOW_"))})
        packs = [] if args.no_policies else [pack_argument(cli_dir, pack_dir)]
        pack_configs = [args.policy_pack_config] if args.policy_pack_config else []

        def echo(line: str) -> None:
            console.print(line.rstrip("\n"))

        preview_log = Transcript()
        try:
            stack.preview(policy_packs=packs, policy_pack_configs=pack_configs, on_output=echo,
                          on_event=preview_log.events.append)
        except auto.CommandError as exc:
            if stop.requested:
                raise KeyboardInterrupt from None
            found = verdicts(preview_log)
            if any(v.blocking for v in found):
                print_verdicts(console, found)
                console.print("blocked by mandatory policy violations: nothing was created", "red", "bold")
                return 1
            if failures:
                raise ProgramFailed(program_error(failures[0], main)) from failures[0]
            raise RuntimeError(f"pulumi preview failed (its output is above): {_last_error(exc)}") from exc
        if not args.no_policies:
            print_verdicts(console, verdicts(preview_log))
        if args.preview:
            return 0

        if stop.requested:
            raise KeyboardInterrupt
        created = False
        up_log = Transcript()
        try:
            try:
                up = stack.up(policy_packs=packs, policy_pack_configs=pack_configs, on_output=echo,
                              on_event=up_log.events.append)
            except auto.CommandError as exc:
                if stop.requested:
                    raise KeyboardInterrupt from None
                found = verdicts(up_log)
                if any(v.blocking for v in found):
                    # The engine judged a resource the preview could not (its inputs were unknown then) and
                    # refused it: a policy verdict, exit 1 as at preview, and what `up` did make is torn down.
                    print_verdicts(console, found)
                    console.print("blocked by mandatory policy violations during up: tearing down what was made",
                                  "red", "bold")
                    return 1
                if failures:
                    raise ProgramFailed(program_error(failures[0], main)) from failures[0]
                raise RuntimeError(f"pulumi up failed (its output is above): {_last_error(exc)}") from exc
            finally:
                created = True  # whatever `up` managed before an error is in the state: destroy covers it
            console.print()
            console.print(f"Created {project}/{args.stack}:", "bold")
            run = state_run(stack, project, {k: v.value for k, v in up.outputs.items()})
            print_tree(console, run)
            print_outputs(console, run.outputs)
            if not args.no_policies:
                print_verdicts(console, verdicts(up_log))
        finally:
            if created and stop.abandoned:
                left = [r.id for r in state_run(stack, project, {}).resources if r.id]
                console.print("second Ctrl-C: not tearing down; still live on Mithril: " + ", ".join(left), "red")
            elif created and not args.keep:
                stop.tearing_down = True
                with console.status("tearing down"):
                    engine.run(stack, "cancel", "--yes", check=False)  # a stopped run may leave its lock
                    unrecorded = unrecorded_creates(stack, up_log)
                    orphans = tear_down([], unrecorded=unrecorded)  # destroy then drops their pending creates
                    live = state_run(stack, project, {}).resources
                    engine.run(stack, "state", "unprotect", "--all", "--yes", check=False)
                    stack.destroy(on_output=lambda _line: None)
                bids = sum(r.type in TASK_TYPES for r in live) + sum(t == TASK_TYPE for t, _ in orphans.deleted)
                volumes = sum(r.type in VOLUME_TYPES for r in live) + sum(t == VOLUME_TYPE for t, _ in orphans.deleted)
                console.print(torn_down(bids, volumes), "dim")
                report_unfound(console, orphans)
        if keep_dir is not None:
            console.print(f"kept: the stack's state is in {keep_dir / 'state'}; destroy it with "
                          f"PULUMI_BACKEND_URL={(keep_dir / 'state').as_uri()} PULUMI_CONFIG_PASSPHRASE= "
                          f"pulumi destroy --stack {args.stack}", "yellow")
        return 0
