"""`pulumi-flow run` on the real Pulumi engine: the CLI previews, judges with the pack, updates and
destroys, and prints its own progress; this module adds the tree of bids, GPUs and $/h, and tears
down in `finally`, so an error or a Ctrl-C never leaves a bid billing.

The program runs as an Automation API inline program against a private, throw-away Pulumi home and
file backend (kept, and printed, with `--keep`). The pack is given to the CLI as a directory when the
CLI has a Python language host beside it, else as its executable launcher.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import Any

from pulumi_flow.cli.console import Console
from pulumi_flow.resources import TASK_TYPE, VOLUME_TYPE
from pulumi_flow.testing.engine import Verdict
from pulumi_flow.testing.real_engine import PulumiEngine, Transcript, program_from_file
from pulumi_flow.testing.runner import Registration, StackRun

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

    from pulumi_flow.cli.run import ProgramFailed, print_outputs, print_tree, print_verdicts, program_error, torn_down

    keep_dir = Path(tempfile.mkdtemp(prefix="pulumi-flow-run-")) if args.keep else None
    with tempfile.TemporaryDirectory(prefix="pulumi-flow-run-") as scratch:
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

        created = False
        try:
            up_log = Transcript()
            try:
                up = stack.up(policy_packs=packs, policy_pack_configs=pack_configs, on_output=echo,
                              on_event=up_log.events.append)
            except auto.CommandError as exc:
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
            if created and not args.keep:
                with console.status("tearing down"):
                    live = state_run(stack, project, {}).resources
                    engine.run(stack, "state", "unprotect", "--all", "--yes", check=False)
                    stack.destroy(on_output=lambda _line: None)
                bids = sum(r.type == TASK_TYPE for r in live)
                console.print(torn_down(bids, sum(r.type == VOLUME_TYPE for r in live)), "dim")
        if keep_dir is not None:
            console.print(f"kept: the stack's state is in {keep_dir / 'state'}; destroy it with "
                          f"PULUMI_BACKEND_URL={(keep_dir / 'state').as_uri()} PULUMI_CONFIG_PASSPHRASE= "
                          f"pulumi destroy --stack {args.stack}", "yellow")
        return 0
