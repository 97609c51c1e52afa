"""`pulumi-flow run`: what `pulumi up --policy-pack` would do to a program, then its teardown, on either engine."""

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
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pulumi_flow import naming
from pulumi_flow.cli.console import Console
from pulumi_flow.engines import Engine, PolicyBlocked, ProgramError, Registration, StackRun, TearDown
from pulumi_flow.engines.builtin import UNKNOWN
from pulumi_flow.money import show, usd
from pulumi_flow.resources import POOL_TYPE, RESERVATION_TYPE, TASK_TYPE, VOLUME_TYPE

SHORT_TYPES = {TASK_TYPE: "FlowTask", VOLUME_TYPE: "FlowVolume", RESERVATION_TYPE: "FlowReservation",
               POOL_TYPE: "FlowSpotPool"}


class UsageError(Exception):
    """A mistake in the command line: said plainly, no traceback."""


class ProgramFailed(Exception):
    """The user's program raised: said as its type, message and the program's own file and line."""


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
    from pulumi_flow.emulator.embedded import running_emulator

    with running_emulator() as emulator:
        console.print(f"no MITHRIL_API_URL: using a local Mithril emulator at {emulator.url}", "dim")
        yield emulator.url


def _engine(args: argparse.Namespace, console: Console, main: Path, project: str, config: dict[str, str],
            policy_config: dict[str, Any]) -> Engine:
    """The engine to run on (the Pulumi CLI if asked for or found, else the built-in one), said in one line."""
    from pulumi_flow.engines.builtin import BuiltinEngine
    from pulumi_flow.engines.pulumi_cli import PulumiCliEngine, PulumiCliMissingError, find_cli

    pack_dir = Path(args.policy_pack).resolve() if args.policy_pack else None
    builtin = BuiltinEngine(main, project=project, stack=args.stack, config=config, pack_dir=pack_dir,
                            policy_config=policy_config)
    if args.engine == "builtin":
        console.print(f"engine: {builtin.description}", "dim")
        return builtin
    try:
        cli_dir = find_cli()
    except PulumiCliMissingError as exc:
        if args.engine == "pulumi":
            raise UsageError(f"--engine pulumi: {exc}") from None
        console.print("engine: built-in (no Pulumi CLI found; `scripts/install-pulumi` builds one, or put "
                      "`pulumi` on PATH)", "dim")
        return builtin
    engine = PulumiCliEngine(cli_dir, main, project=project, stack=args.stack, config=config, pack_dir=pack_dir,
                             policy_config_file=args.policy_pack_config, keep=args.keep, on_output=console.print)
    console.print(f"engine: {engine.description}", "dim")
    return engine


def run_command(args: argparse.Namespace, console: Console) -> int:
    """Preview, judge, up, report, and tear down in `finally`: one pipeline whatever the engine, so an error or a
    Ctrl-C never leaves a bid billing."""
    main, project = _program(args.program)
    if args.stack is None:
        args.stack = f"run-{secrets.token_hex(4)}"  # a stack of its own: never one of the user's
    config = _config(args.config)
    policy_config = _policy_config(args.policy_pack_config)
    engine = _engine(args, console, main, project, config, policy_config)
    print_policy_configuration(console, policy_config)
    policies = not args.no_policies
    name = f"{project}/{args.stack}"

    def progress(message: str) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext() if engine.narrates else console.status(message)

    with _mithril(console), engine, CtrlC(engine) as stop:
        try:
            with progress(f"previewing {name}"):
                started = time.monotonic()
                preview = engine.preview(policies=policies)
        except PolicyBlocked as exc:
            print_verdicts(console, exc.verdicts)
            console.print("blocked by mandatory policy violations: nothing was created", "red", "bold")
            return 1
        except Exception as exc:
            raise _failure(exc, stop, main) from exc
        if preview.run is not None:  # the Pulumi CLI prints its own plan and gives none
            console.print(f"Preview of {name}: {_plural(len(preview.run.resources), 'resource')} in "
                          f"{time.monotonic() - started:.1f}s", "bold")
            print_tree(console, preview.run)
        if policies:
            print_verdicts(console, preview.verdicts)
            if preview.blocked:
                console.print("blocked by mandatory policy violations: nothing was created", "red", "bold")
                return 1
        if args.preview:
            return 0
        if stop.requested:
            raise KeyboardInterrupt

        blocked = False
        try:
            try:
                with progress(f"creating {name}"):
                    started = time.monotonic()
                    outcome = engine.up(policies=policies)
            except PolicyBlocked as exc:
                # A resource the preview could not judge (its inputs unknown then) was refused before its create:
                # a policy verdict, exit 1 as at preview, and what `up` did make is torn down.
                print_verdicts(console, exc.verdicts)
                console.print(f"blocked by mandatory policy violations: {exc}", "red", "bold")
                blocked = True
                return 1
            except Exception as exc:
                raise _failure(exc, stop, main) from exc
            run = outcome.run
            assert run is not None, "an up always has a view of the stack"
            console.print()
            console.print(f"Created {name}: {_plural(len(run.created), 'resource')} in "
                          f"{time.monotonic() - started:.1f}s", "bold")
            print_tree(console, run)
            print_outputs(console, run.outputs)
            if policies:
                print_verdicts(console, outcome.verdicts)
                if outcome.blocked:
                    console.print("blocked by mandatory policy violations on the result: tearing it down", "red",
                                  "bold")
                    blocked = True
        finally:
            # Whatever ended the run (success, an error, Ctrl-C), what it created is torn down.
            if args.keep and not blocked:
                kept = engine.kept()
                if kept:
                    console.print(kept, "yellow")
            elif stop.abandoned:
                left = engine.live()
                if left:
                    console.print("second Ctrl-C: not tearing down; still live on Mithril: " + ", ".join(left), "red")
            else:
                stop.tearing_down = True
                teardown(console, engine)
    return 1 if blocked else 0


def _failure(exc: Exception, stop: CtrlC, main: Path) -> BaseException:
    """What a failed preview or up becomes: the user's Ctrl-C, or the program's error said plainly."""
    if stop.requested:
        return KeyboardInterrupt()
    if isinstance(exc, ProgramError):
        return ProgramFailed(exc.describe(main))
    return exc


class CtrlC:
    """Ctrl-C during a run, whatever the engine. The first asks the engine to stop (every wait for machines ends,
    nothing new starts) and the run to tear down what was created; the program fails through its own error path
    (never a KeyboardInterrupt inside asyncio). A second one before the teardown skips it; during the teardown it
    is Python's and stops it. Either way what is left is named."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.requested = False
        self.abandoned = False
        self.tearing_down = False
        self._previous: Any = None

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            if self.tearing_down:
                raise KeyboardInterrupt  # plain Python code here: safe to interrupt
            self.abandoned = True  # inside the engine's run: raising there could wedge it
            self.engine.abandon()
            return
        self.requested = True
        print("Ctrl-C: stopping, and tearing down what was created (Ctrl-C again to leave it)", file=sys.stderr,
              flush=True)
        self.engine.stop()

    def __enter__(self) -> CtrlC:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def teardown(console: Console, engine: Engine) -> None:
    """Delete what the run created, and what a failed create may have made on Mithril (found by its owned name);
    report every failure with the command that ends it, and respect a second Ctrl-C. The run keeps no state (or
    a throw-away one), so no advice here may send the user to one."""
    try:
        with console.status("tearing down"):
            result = engine.tear_down()
    except KeyboardInterrupt:
        console.print(f"second Ctrl-C: stopped tearing down; still live on Mithril: {', '.join(engine.live())}",
                      "red")
        raise
    if not result.deleted and not result.failed and not result.unfound:
        return
    pooled = sum(len(d.outputs.get("slots") or [1]) for d in result.deleted if d.type == POOL_TYPE)
    console.print(torn_down(result.count(TASK_TYPE) + pooled, result.count(RESERVATION_TYPE),
                            result.count(VOLUME_TYPE)), "dim")
    report_unfound(console, result)


def report_unfound(console: Console, result: TearDown) -> None:
    """Every teardown failure, with the command that ends it; a raise if anything may be left live."""
    for unfound in result.unfound:
        if unfound.type == TASK_TYPE:
            console.print(f"could not tell whether bid {unfound.name!r} was placed ({unfound.why}). If `flow status` "
                          f"lists it, cancel it: flow cancel --yes {unfound.name}", "red")
        elif unfound.type == POOL_TYPE:
            console.print(f"could not tell whether spot pool bids named {unfound.name!r} were placed ({unfound.why}). "
                          f"If `flow status` lists any, cancel each: flow cancel --yes <name>", "red")
        elif unfound.type == RESERVATION_TYPE:
            console.print(f"could not tell whether reservation {unfound.name!r} was bought ({unfound.why}). If `flow "
                          f"reserve list` shows it, it is committed: end its instances with `flow reserve` or keep "
                          f"using it", "red")
        else:
            console.print(f"could not tell whether volume {unfound.name!r} was made ({unfound.why}). If `flow volume "
                          f"list` shows it, delete it: flow volume delete {unfound.name}", "red")
    for failed in result.failed:
        console.print(f"could not delete {SHORT_TYPES.get(failed.type, failed.type)} {failed.id}: {failed.why}", "red")
    left = len(result.failed) + len(result.unfound)
    if left:
        raise RuntimeError(f"teardown left {_plural(left, 'resource')} live on Mithril (listed above)")


def _money(value: Any) -> str:
    return show(value) if isinstance(value, int | float | Decimal) and not isinstance(value, bool) else "?"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def torn_down(bids: int, reservations: int, volumes: int) -> str:
    ended = (f", {_plural(reservations, 'reservation')} (instances ended; the commitment stands, nothing is "
             f"refunded)") if reservations else ""
    return f"torn down: {_plural(bids, 'bid')}{ended}, {_plural(volumes, 'volume')} (use --keep to leave them)"


def _machines(count: int, instance_type: str) -> str:
    per_instance = instance_type.split("x")[0]
    gpus = _plural(count * int(per_instance), "GPU") if per_instance.isdigit() else "? GPUs"
    return f"{count} x {instance_type} ({gpus})"


def _addresses(props: Mapping[str, Any]) -> list[str]:
    """The instances' public addresses, four to a line."""
    ips = list(props.get("public_ips") or [])
    return ["  ".join(ips[i:i + 4]) for i in range(0, len(ips), 4)]


def _pool_most(props: Mapping[str, Any]) -> Decimal | None:
    """The most a pool can cost an hour (target GPUs x ceiling), when both are known."""
    ceiling, gpus = props.get("max_price_per_gpu_hour"), props.get("target_gpus")
    if isinstance(ceiling, int | float) and isinstance(gpus, int | float):
        return usd(ceiling) * int(gpus)
    return None


def describe(reg: Registration) -> list[str]:
    """A resource's facts, as short lines: what it is and costs, then where it lives."""
    props = {**(reg.checked_inputs or reg.inputs), **{k: v for k, v in reg.outputs.items() if v is not None}}
    if reg.type == TASK_TYPE:
        count = int(props.get("num_instances") or 1)
        bid = props.get("max_price_per_hour")
        hourly = _money(usd(bid) * count) if isinstance(bid, int | float) else "?"
        lines = [f"{props.get('role')}  {_machines(count, str(props.get('instance_type')))}  bid "
                 f"{_money(bid)}/instance-hour = {hourly}/hour"]
        if reg.id:
            lines.append(f"{props.get('status')}  {reg.id}")
            lines.extend(_addresses(props))
        return lines
    if reg.type == RESERVATION_TYPE:
        window = (f"{props['duration_hours']:g} h" if props.get("duration_hours") is not None
                  else f"until {props.get('end_time')}")
        lines = [f"reserved  {_machines(int(props.get('quantity') or 1), str(props.get('instance_type')))}  {window}"
                 f"  at most {_money(props.get('max_unit_price'))}/instance-hour"]
        if reg.id:
            lines.append(f"{props.get('status')}  {reg.id}  {_money(props.get('unit_price'))}/instance-hour, "
                         f"committed {_money(props.get('committed_usd'))}")
            lines.extend(_addresses(props))
        return lines
    if reg.type == POOL_TYPE:
        gpus, most = props.get("target_gpus"), _pool_most(props)
        lines = [f"pool  {_plural(int(gpus), 'GPU') if isinstance(gpus, int | float) else '? GPUs'} on "
                 f"{', '.join(props.get('instance_types') or [])}  at most "
                 f"{_money(props.get('max_price_per_gpu_hour'))}/GPU-hour = {_money(most)}/hour"]
        if reg.id:
            held = props.get("gpus_by_placement") or {}
            placed = ", ".join(f"{place} {int(count)}" for place, count in sorted(held.items())) or "none"
            lines.append(f"holds {int(props.get('gpus_held') or 0)} GPUs ({placed}), "
                         f"{int(props.get('unfilled_gpus') or 0)} unfilled")
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
    pools = [r for r in run.resources if r.type == POOL_TYPE]
    total += sum((_pool_most(pool.checked_inputs or pool.inputs) or Decimal(0) for pool in pools), Decimal(0))
    counted = _plural(len(tasks), "task") + (f" and {_plural(len(pools), 'pool')}" if pools else "")
    console.print(f"  hourly bid across {counted}: {show(total)}/hour", "dim")
    reservations = [r for r in run.resources if r.type == RESERVATION_TYPE]
    if reservations:
        # A teardown ends a reservation's instances and refunds nothing: say so before anything is bought.
        console.print(f"  {_plural(len(reservations), 'reservation')}: a commitment, owed in full once bought, even "
                      f"when this run tears it down", "yellow")


def print_outputs(console: Console, outputs: Mapping[str, Any]) -> None:
    if not outputs:
        return
    console.print("Outputs:", "bold")
    for key, value in outputs.items():
        shown = "[unknown]" if value is UNKNOWN else json.dumps(naming.canonical(value))  # the wire's 32.0 is 32
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
