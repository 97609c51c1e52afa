"""`pulumi-flow run`: what `pulumi up --policy-pack` would do to a program, in-process."""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import json
import os
import secrets
import signal
import sys
import threading
import time
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pulumi_flow.cli.console import Console
from pulumi_flow.money import show, usd
from pulumi_flow.provider.task import STOP_WAITING
from pulumi_flow.resources import TASK_TYPE, VOLUME_TYPE
from pulumi_flow.testing.runner import (
    UNKNOWN,
    PolicyBlocked,
    Registration,
    StackError,
    StackRun,
    TearDown,
    UnrecordedCreate,
    evaluate_policies,
    owned_name,
    policy_judge,
    run_stack,
    tear_down,
)

SHORT_TYPES = {TASK_TYPE: "FlowTask", VOLUME_TYPE: "FlowVolume"}


class UsageError(Exception):
    """A mistake in the command line: said plainly, no traceback."""


class ProgramFailed(Exception):
    """The user's program raised: said as its type, message and the program's own file and line."""


def program_error(exc: BaseException, main: Path) -> str:
    """`TypeError: ... (__main__.py:12)`: the innermost frame in the program's own directory. An InputError
    already names the field, the value and the fix, so it is said as it is."""
    from pulumi_flow.validation import InputError

    where = ""
    home = main.parent.resolve()
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if Path(frame.filename).resolve().is_relative_to(home):
            where = f" ({frame.filename}:{frame.lineno})"
            break
    kind = "" if isinstance(exc, InputError) else f"{type(exc).__name__}: "
    return f"the program failed: {kind}{exc}{where}"


def _program(path: str) -> tuple[Path, str]:
    program = Path(path)
    main = program / "__main__.py" if program.is_dir() else program
    if not main.is_file():
        raise UsageError(f"{path}: no __main__.py there. Fix: point at a Pulumi Python project directory, "
                         f"e.g. examples/complete")
    pulumi_yaml = main.parent / "Pulumi.yaml"
    if not pulumi_yaml.is_file():
        # As `pulumi up` refuses it: the project file names the project and its runtime.
        raise UsageError(f"{main.parent}: no Pulumi.yaml, so this is not a Pulumi project. Fix: add one with "
                         f"`name: <project>` and `runtime: python` (as in examples/complete), or run `pulumi new "
                         f"python` there")
    import yaml

    project = (yaml.safe_load(pulumi_yaml.read_text()) or {}).get("name")
    if not isinstance(project, str) or not project:
        raise UsageError(f"{pulumi_yaml}: no project name. Fix: add `name: <project>`")
    return main, project


def _config(pairs: list[str]) -> dict[str, str]:
    from pulumi_flow.provider.session import CONFIG_KEYS, ENV_KEYS

    config = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--config {pair!r}: expected KEY=VALUE, e.g. --config region=us-central1-a")
        if key == CONFIG_KEYS["api_key"]:
            raise UsageError(f"--config {key}: a key on the command line lands in your shell history and in "
                             f"the stack's config. Fix: export {ENV_KEYS['api_key']}=fkey_... instead")
        config[key] = value
    return config


def _policy_config(path: str | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"--policy-pack-config {path}: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"--policy-pack-config {path}: expected a JSON object of policy names")
    return data


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@contextmanager
def _mithril(console: Console) -> Iterator[str]:
    url = os.environ.get("MITHRIL_API_URL")
    if url:
        where = "emulator" if _is_loopback(url) else "Mithril"
        console.print(f"using {where} at {url} (MITHRIL_API_URL)", "dim")
        if where == "Mithril":
            console.print("this places real bids; they are cancelled at the end unless --keep", "yellow")
        yield url
        return
    from pulumi_flow.testing.emulator import running_emulator

    with running_emulator() as emulator:
        console.print(f"no MITHRIL_API_URL: using a local Mithril emulator at {emulator.url}", "dim")
        yield emulator.url


def _pulumi_cli(choice: str, console: Console) -> Path | None:
    """The Pulumi CLI to run on, or None for the built-in engine; says which in one line."""
    from pulumi_flow.testing.real_engine import PulumiCliMissingError, cli_version, find_cli

    if choice == "builtin":
        console.print("engine: built-in (in-process, Pulumi's mocks and the real providers)", "dim")
        return None
    try:
        cli_dir = find_cli()
    except PulumiCliMissingError as exc:
        if choice == "pulumi":
            raise UsageError(f"--engine pulumi: {exc}") from None
        console.print("engine: built-in (no Pulumi CLI found; `scripts/install-pulumi` builds one, or put "
                      "`pulumi` on PATH)", "dim")
        return None
    console.print(f"engine: Pulumi CLI {cli_version(cli_dir)} at {cli_dir}", "dim")
    return cli_dir


def run_command(args: argparse.Namespace, console: Console) -> int:
    main, project = _program(args.program)
    if args.stack is None:
        args.stack = f"run-{secrets.token_hex(4)}"  # a stack of its own: never one of the user's
    config = _config(args.config)
    policy_config = _policy_config(args.policy_pack_config)
    pack_dir = args.policy_pack
    cli_dir = _pulumi_cli(args.engine, console)
    print_policy_configuration(console, policy_config)

    if cli_dir is not None:
        import tempfile

        from pulumi_flow.cli.engine_run import run_on_engine
        from pulumi_flow_policies.pack import write_pack

        with _mithril(console), tempfile.TemporaryDirectory(prefix="pulumi-flow-pack-") as scratch:
            pack = Path(pack_dir) if pack_dir else write_pack(Path(scratch) / "pack")
            return run_on_engine(args, console, cli_dir=cli_dir, main=main, project=project, config=config,
                                 pack_dir=pack.resolve())

    with _mithril(console), FirstCtrlC() as stop:
        with console.status(f"previewing {project}/{args.stack}"):
            try:
                started = time.monotonic()
                preview = run_stack(main, project=project, stack=args.stack, preview=True, config=config)
            except StackError as exc:
                if stop.requested:
                    raise KeyboardInterrupt from None
                raise ProgramFailed(program_error(exc.__cause__ or exc, main)) from exc
        console.print(f"Preview of {project}/{args.stack}: {_plural(len(preview.resources), 'resource')} in "
                      f"{time.monotonic() - started:.1f}s", "bold")
        print_tree(console, preview)
        if not args.no_policies:
            with console.status("evaluating the policy pack"):
                verdicts = evaluate_policies(preview, pack_dir, policy_config)
            print_verdicts(console, verdicts)
            if any(v.blocking for v in verdicts):
                console.print("blocked by mandatory policy violations: nothing was created", "red", "bold")
                return 1
        if args.preview:
            return 0
        if stop.requested:
            raise KeyboardInterrupt

        created: list[tuple[str, str, dict[str, Any]]] = []
        unrecorded: list[UnrecordedCreate] = []
        blocked = False
        try:
            try:
                with console.status(f"creating {project}/{args.stack}"), contextlib.ExitStack() as judging:
                    judge = None if args.no_policies else judging.enter_context(
                        policy_judge(pack_dir, project, args.stack, policy_config))
                    started = time.monotonic()
                    run = run_stack(main, project=project, stack=args.stack, preview=False, config=config,
                                    judge=judge)
            except StackError as exc:
                created, unrecorded = exc.created, exc.unrecorded
                if stop.requested:
                    raise KeyboardInterrupt from None
                if isinstance(exc.__cause__, PolicyBlocked):
                    print_verdicts(console, exc.__cause__.verdicts)
                    console.print(f"blocked by mandatory policy violations: {exc.__cause__}", "red", "bold")
                    blocked = True
                    return 1
                raise ProgramFailed(program_error(exc.__cause__ or exc, main)) from exc
            created = run.created
            console.print()
            console.print(f"Created {project}/{args.stack}: {_plural(len(run.created), 'resource')} in "
                          f"{time.monotonic() - started:.1f}s", "bold")
            print_tree(console, run)
            print_outputs(console, run.outputs)
            if not args.no_policies:
                with console.status("evaluating the policy pack on the result"):
                    final_verdicts = evaluate_policies(run, pack_dir, policy_config)
                print_verdicts(console, final_verdicts)
                if any(v.blocking for v in final_verdicts):
                    console.print("blocked by mandatory policy violations on the result: tearing it down", "red",
                                  "bold")
                    blocked = True
        finally:
            # Whatever ended the run (success, an error, Ctrl-C), what it created is torn down.
            if args.keep and not blocked:
                if created:
                    console.print(f"kept {_plural(len(created), 'resource')} running; no Pulumi state tracks them",
                                  "yellow")
            elif (created or unrecorded) and stop.abandoned:
                console.print("second Ctrl-C: not tearing down; still live on Mithril: "
                              + ", ".join([resource_id for _t, resource_id, _o in created]
                                          + [f"maybe {owned_name(a)}" for a in unrecorded]), "red")
            elif created or unrecorded:
                stop.tearing_down = True
                teardown(console, created, unrecorded)
    return 1 if blocked else 0


class FirstCtrlC:
    """The first Ctrl-C asks the run to stop: every wait for machines ends, a create that was waiting
    cancels its own bid, the program fails through its own error path (never a KeyboardInterrupt inside
    asyncio) and what was created is torn down. A second Ctrl-C is Python's: it stops the teardown."""

    def __init__(self) -> None:
        self.requested = False
        self.abandoned = False  # a second Ctrl-C before the teardown began: skip it
        self.tearing_down = False
        self._previous: Any = None

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            if self.tearing_down:
                raise KeyboardInterrupt  # plain Python code here: safe to interrupt
            self.abandoned = True  # inside the asyncio run: raising there would wedge it
            return
        self.requested = True
        STOP_WAITING.set()
        print("Ctrl-C: stopping, and tearing down what was created (Ctrl-C again to leave it)", file=sys.stderr,
              flush=True)

    def __enter__(self) -> FirstCtrlC:
        STOP_WAITING.clear()
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        STOP_WAITING.clear()


def teardown(console: Console, created: list[tuple[str, str, dict[str, Any]]],
             unrecorded: list[UnrecordedCreate] | None = None) -> None:
    """Delete what the run created, and what a failed create may have made on Mithril (found by its owned name);
    report every failure with the command that ends it, and respect a second Ctrl-C. The run keeps no state, so
    no advice here may send the user to one."""
    deleted: list[tuple[str, str]] = []
    try:
        with console.status("tearing down"):
            result = tear_down(created, deleted, unrecorded or ())
    except KeyboardInterrupt:
        left = [resource_id for _typ, resource_id, _outs in created if (_typ, resource_id) not in deleted]
        console.print(f"second Ctrl-C: stopped tearing down; still live on Mithril: {', '.join(left)}", "red")
        raise
    bids = sum(t == TASK_TYPE for t, _ in result.deleted)
    console.print(torn_down(bids, len(result.deleted) - bids), "dim")
    report_unfound(console, result)


def report_unfound(console: Console, result: TearDown) -> None:
    """Every teardown failure, with the command that ends it; a raise if anything may be left live."""
    for typ, name, why in result.unfound:
        if typ == TASK_TYPE:
            console.print(f"could not tell whether bid {name!r} was placed ({why}). If `flow status` lists it, "
                          f"cancel it: flow cancel --yes {name}", "red")
        else:
            console.print(f"could not tell whether volume {name!r} was made ({why}). If `flow volume list` shows "
                          f"it, delete it: flow volume delete {name}", "red")
    for typ, resource_id, why in result.failed:
        console.print(f"could not delete {SHORT_TYPES.get(typ, typ)} {resource_id}: {why}", "red")
    left = len(result.failed) + len(result.unfound)
    if left:
        raise RuntimeError(f"teardown left {_plural(left, 'resource')} live on Mithril (listed above)")


def _money(value: Any) -> str:
    return show(value) if isinstance(value, int | float | Decimal) and not isinstance(value, bool) else "?"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def torn_down(bids: int, volumes: int) -> str:
    return f"torn down: {_plural(bids, 'bid')}, {_plural(volumes, 'volume')} (use --keep to leave them)"


def describe(reg: Registration) -> list[str]:
    """A resource's facts, as short lines: what it is and costs, then where it lives."""
    props = {**(reg.checked_inputs or reg.inputs), **{k: v for k, v in reg.outputs.items() if v is not None}}
    if reg.type == TASK_TYPE:
        count = int(props.get("num_instances") or 1)
        instance_type = str(props.get("instance_type"))
        per_instance = instance_type.split("x")[0]
        gpus = _plural(count * int(per_instance), "GPU") if per_instance.isdigit() else "? GPUs"
        bid = props.get("max_price_per_hour")
        hourly = _money(usd(bid) * count) if isinstance(bid, int | float) else "?"
        lines = [f"{props.get('role')}  {count} x {instance_type} ({gpus})  bid {_money(bid)}/instance-hour = "
                 f"{hourly}/hour"]
        if reg.id:
            lines.append(f"{props.get('status')}  {reg.id}")
            ips = list(props.get("public_ips") or [])
            lines.extend("  ".join(ips[i:i + 4]) for i in range(0, len(ips), 4))
        return lines
    if reg.type == VOLUME_TYPE:
        region = props.get("region") or "region chosen at create"
        parts = [f"{props.get('size_gb')} GB {props.get('interface')}", str(region)]
        parts.append("protected" if reg.protect else "NOT protected")
        if reg.id:
            parts.append(reg.id)
        return ["  ".join(parts)]
    return []


def print_tree(console: Console, run: StackRun) -> None:
    """Components and their resources as a tree, in program order, with the stack's hourly bid."""
    children: dict[str | None, list[Registration]] = {}
    urns = {r.urn for r in run.resources}
    for reg in run.resources:
        parent = reg.parent if reg.parent in urns else None
        children.setdefault(parent, []).append(reg)

    def draw(reg: Registration, lead: str, branch: str, rest: str) -> None:
        label = SHORT_TYPES.get(reg.type, reg.type.split(":")[-1])
        details = describe(reg)
        console.print(f"{lead}{branch}{console.paint(label, 'blue')} {reg.name}")
        kids = children.get(reg.urn, [])
        for line in details:
            console.print(f"{lead}{rest}{'│  ' if kids else '   '}{line}", "dim")
        for index, child in enumerate(kids):
            last = index == len(kids) - 1
            draw(child, lead + rest, "└─ " if last else "├─ ", "   " if last else "│  ")

    for kids in children.values():
        kids.sort(key=lambda r: r.name)  # the engine's order varies with its parallelism; this does not
    for top in children.get(None, []):
        draw(top, "  ", "", "")
    tasks = [r for r in run.resources if r.type == TASK_TYPE]
    total = Decimal(0)
    for task in tasks:
        props = task.checked_inputs or task.inputs
        bid = props.get("max_price_per_hour")
        if isinstance(bid, int | float) and not isinstance(bid, bool):
            total += usd(bid) * int(props.get("num_instances") or 1)
    console.print(f"  hourly bid across {_plural(len(tasks), 'task')}: {show(total)}/hour", "dim")


def print_outputs(console: Console, outputs: Mapping[str, Any]) -> None:
    if not outputs:
        return
    console.print("Outputs:", "bold")
    for key, value in outputs.items():
        shown = "[unknown]" if value is UNKNOWN else json.dumps(value)
        console.print(f"  {key}: {shown}")


def print_policy_configuration(console: Console, policy_config: Mapping[str, Any]) -> None:
    """Where --policy-pack-config weakens or changes the pack, before any verdict: never silently."""
    from pulumi_flow_policies.configuration import notes

    changed = notes(policy_config)
    if changed:
        console.print("Policy configuration differs from the pack's defaults (--policy-pack-config):", "yellow")
        for line in changed:
            console.print(f"  {line}", "yellow")


def print_verdicts(console: Console, verdicts: list[Any]) -> None:
    if not verdicts:
        console.print("Policies: no violations", "green")
        return
    console.print("Policies:", "bold")
    for verdict in verdicts:
        style = "red" if verdict.blocking else "yellow"
        # The SDK puts the policy's description on the first line; the finding follows it.
        finding = verdict.message.split("\n", 1)[-1]
        console.print(f"  [{verdict.level}] {verdict.policy}: {finding}", style)
