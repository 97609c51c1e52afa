"""`pulumi-flow run`: what `pulumi up --policy-pack` would do to a program, in-process."""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pulumi_flow.cli.console import Console
from pulumi_flow.resources import TASK_TYPE, VOLUME_TYPE
from pulumi_flow.testing.runner import (
    UNKNOWN,
    Registration,
    StackError,
    StackRun,
    evaluate_policies,
    run_stack,
    tear_down,
)

SHORT_TYPES = {TASK_TYPE: "FlowTask", VOLUME_TYPE: "FlowVolume"}


class UsageError(Exception):
    """A mistake in the command line: said plainly, no traceback."""


def _program(path: str) -> tuple[Path, str]:
    program = Path(path)
    main = program / "__main__.py" if program.is_dir() else program
    if not main.is_file():
        raise UsageError(f"{path}: no __main__.py there. Fix: point at a Pulumi Python project directory, "
                         f"e.g. examples/complete")
    project = main.parent.name
    pulumi_yaml = main.parent / "Pulumi.yaml"
    if pulumi_yaml.is_file():
        import yaml

        project = str((yaml.safe_load(pulumi_yaml.read_text()) or {}).get("name", project))
    return main, project


def _config(pairs: list[str]) -> dict[str, str]:
    config = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--config {pair!r}: expected KEY=VALUE, e.g. --config region=us-central1-a")
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


def run_command(args: argparse.Namespace, console: Console) -> int:
    main, project = _program(args.program)
    config = _config(args.config)
    policy_config = _policy_config(args.policy_pack_config)
    pack_dir = args.policy_pack

    with _mithril(console):
        with console.status(f"previewing {project}/{args.stack}"):
            preview = run_stack(main, project=project, stack=args.stack, preview=True, config=config)
        console.print(f"Preview of {project}/{args.stack}: {len(preview.resources)} resources", "bold")
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

        try:
            with console.status(f"creating {project}/{args.stack}"):
                run = run_stack(main, project=project, stack=args.stack, preview=False, config=config)
        except StackError as exc:
            if exc.created and not args.keep:
                deleted = tear_down(exc.created)
                console.print(f"cleaned up {len(deleted)} resources created before the failure", "yellow")
            raise
        console.print()
        console.print(f"Created {project}/{args.stack}:", "bold")
        print_tree(console, run)
        print_outputs(console, run.outputs)
        if not args.no_policies:
            with console.status("evaluating the policy pack on the result"):
                final_verdicts = evaluate_policies(run, pack_dir, policy_config)
            print_verdicts(console, final_verdicts)
        if args.keep:
            console.print(f"kept {len(run.created)} resources running; no Pulumi state tracks them", "yellow")
        else:
            with console.status("tearing down"):
                deleted = tear_down(run.created)
            bids = sum(t == TASK_TYPE for t, _ in deleted)
            console.print(f"torn down: bids {bids}, volumes {len(deleted) - bids} (use --keep to leave them)", "dim")
    return 0


def _money(value: Any) -> str:
    return f"${float(value):,.2f}" if isinstance(value, int | float) else "?"


def describe(reg: Registration) -> str:
    props = {**(reg.checked_inputs or reg.inputs), **{k: v for k, v in reg.outputs.items() if v is not None}}
    if reg.type == TASK_TYPE:
        count = int(props.get("num_instances") or 1)
        instance_type = str(props.get("instance_type"))
        gpus = count * int(instance_type.split("x")[0]) if instance_type.split("x")[0].isdigit() else "?"
        bid = props.get("max_price_per_hour")
        hourly = _money(float(bid) * count) if isinstance(bid, int | float) else "?"
        parts = [f"{props.get('role')}", f"{count} x {instance_type} ({gpus} GPUs)",
                 f"bid {_money(bid)}/instance-hour = {hourly}/hour"]
        if reg.id:
            parts += [str(props.get("status")), reg.id]
            if props.get("public_ips"):
                parts.append(", ".join(props["public_ips"]))
        return "  ".join(parts)
    if reg.type == VOLUME_TYPE:
        region = props.get("region") or "region chosen at create"
        parts = [f"{props.get('size_gb')} GB {props.get('interface')}", str(region)]
        parts.append("protected" if reg.protect else "NOT protected")
        if reg.id:
            parts.append(reg.id)
        return "  ".join(parts)
    return ""


def print_tree(console: Console, run: StackRun) -> None:
    children: dict[str | None, list[Registration]] = {}
    urns = {r.urn for r in run.resources}
    for reg in run.resources:
        parent = reg.parent if reg.parent in urns else None
        children.setdefault(parent, []).append(reg)

    def show(reg: Registration, depth: int) -> None:
        label = SHORT_TYPES.get(reg.type, reg.type.split(":")[-1])
        detail = describe(reg)
        console.print(f"{'  ' * depth}{'└─ ' if depth else ''}{console.paint(label, 'blue')} {reg.name}"
                      + (f"  {detail}" if detail else ""))
        for child in children.get(reg.urn, []):
            show(child, depth + 1)

    for top in children.get(None, []):
        show(top, 1)
    tasks = [r for r in run.resources if r.type == TASK_TYPE]
    total = 0.0
    for task in tasks:
        props = task.checked_inputs or task.inputs
        bid = props.get("max_price_per_hour")
        if isinstance(bid, int | float):
            total += float(bid) * int(props.get("num_instances") or 1)
    console.print(f"  hourly bid across {len(tasks)} tasks: {_money(total)}/hour", "dim")


def print_outputs(console: Console, outputs: Mapping[str, Any]) -> None:
    if not outputs:
        return
    console.print("Outputs:", "bold")
    for key, value in outputs.items():
        shown = "[unknown]" if value is UNKNOWN else json.dumps(value)
        console.print(f"  {key}: {shown}")


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
