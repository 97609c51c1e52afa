"""`pulumi-flow`: run a stack program against Mithril (or the emulator), serve the emulator, read prices.

    pulumi-flow run examples/complete       # preview, policy pack, up, report, tear down
    pulumi-flow emulator --port 8787        # same as python -m pulumi_flow.emulator
    pulumi-flow prices --out thresholds.json
    pulumi-flow cost --stack dev            # spend, hourly, 30 days, preemptions; each bid's market
    pulumi-flow policy-pack --out ./policy-pack
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence

from pulumi_flow import __version__
from pulumi_flow.cli.console import Console


def build_parser() -> argparse.ArgumentParser:
    from pulumi_flow.emulator.__main__ import build_parser as emulator_parser

    parser = argparse.ArgumentParser(prog="pulumi-flow", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"pulumi-flow {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    # --debug is taken after the command too (`pulumi-flow run X --debug`); SUPPRESS keeps the
    # subcommand from resetting a --debug given before it.
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks on errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run", parents=[debug], help="run a Pulumi program in-process: preview, policy pack, up, report",
        description="Run a Pulumi Python program in-process with pulumi-flow's real providers, as `pulumi up "
                    "--policy-pack` would: preview it, judge the preview with the policy pack (stop on a "
                    "mandatory violation), create everything, print the tree, the outputs and every verdict, "
                    "then tear down what it created (unless --keep). Without MITHRIL_API_URL it starts a "
                    "Mithril emulator on 127.0.0.1, so no account and no Pulumi CLI are needed.")
    run.add_argument("program", help="a Pulumi project directory (with __main__.py) or a __main__.py file")
    run.add_argument("--stack", default=None,
                     help="stack name (default: a fresh one per run, run-XXXXXXXX, so a run never shares a name with "
                          "a stack of yours)")
    run.add_argument("--config", action="append", default=[], metavar="KEY=VALUE",
                     help="stack config, like `pulumi config set` (repeatable)")
    run.add_argument("--preview", action="store_true", help="stop after the preview and its verdicts")
    run.add_argument("--policy-pack", metavar="DIR", help="policy pack directory (default: pulumi-flow's pack)")
    run.add_argument("--policy-pack-config", metavar="FILE", help="JSON, as for `pulumi up --policy-pack-config`")
    run.add_argument("--no-policies", action="store_true", help="skip the policy pack")
    run.add_argument("--keep", action="store_true",
                     help="leave what was created running (with --engine builtin no Pulumi state tracks it)")
    run.add_argument("--engine", choices=("auto", "pulumi", "builtin"), default="auto",
                     help="the real Pulumi CLI (PULUMI_FLOW_CLI_DIR or PATH), the built-in in-process engine, "
                          "or the CLI when there is one (default: %(default)s)")

    emulator = commands.add_parser("emulator", parents=[emulator_parser(add_help=False)],
                                   help="serve the Mithril emulator (python -m pulumi_flow.emulator)",
                                   description=emulator_parser().description)
    del emulator

    prices = commands.add_parser(
        "prices", parents=[debug], help="read Mithril's live prices; write a --policy-pack-config that follows them",
        description="Read spot and reserved prices per instance type through the Flow SDK (MITHRIL_API_KEY, "
                    "MITHRIL_API_URL, MITHRIL_PROJECT) and print them. With --out, write a "
                    "--policy-pack-config file whose infrastructure-bid-floor thresholds are the highest "
                    "reserved price per GPU-hour of each GPU family, with the source and time recorded.")
    prices.add_argument("--out", metavar="FILE", help="write the policy pack config here")
    prices.add_argument("--margin", type=float, default=1.0, help="margin to record in the config (default: 1.0)")

    cost = commands.add_parser(
        "cost", parents=[debug], help="what a stack's bids have spent and will spend, from its state",
        description="A table per task of the stack (the current directory's, or --stack; or a `pulumi stack "
                    "export` file with --state): bid, what it pays now, the on-demand floor, spend to its last "
                    "refresh, hourly now and 30 days at that rate, preemptions; then the stack's total. With "
                    "MITHRIL_API_KEY set, one line per bid charts its market against its bid over its life.")
    cost.add_argument("--stack", help="stack name (default: the directory's selected stack)")
    cost.add_argument("--cwd", default=".", help="the Pulumi project's directory (default: here)")
    cost.add_argument("--state", metavar="FILE", help="read this `pulumi stack export` file instead of a stack")
    cost.add_argument("--json", action="store_true", help="print JSON (money as exact decimal strings)")
    cost.add_argument("--no-chart", action="store_true", help="skip the market charts (no Mithril reads)")
    cost.add_argument("--html", metavar="FILE", help="also write an HTML report with a chart per bid")

    pack = commands.add_parser("policy-pack", parents=[debug],
                               help="write the policy pack's directory (for an installed wheel)",
                               description="Write PulumiPolicy.yaml, __main__.py and requirements.txt: a "
                                           "directory to pass to `pulumi up --policy-pack`.")
    pack.add_argument("--out", required=True, metavar="DIR", help="directory to write")

    sdk = commands.add_parser("sdk", parents=[debug], help="generate the flow SDK for TypeScript or Go",
                              description="Generate the SDK of the `flow` provider plugin (pulumi-resource-flow) "
                                          "for a TypeScript or Go program, from the plugin's schema, into DIR "
                                          "(e.g. sdks/flow, as examples/typescript and examples/go use it).")
    sdk.add_argument("--language", required=True, choices=["nodejs", "go"], help="the program's language")
    sdk.add_argument("--out", required=True, metavar="DIR", help="directory to write (replaced)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console()
    try:
        if args.command == "run":
            from pulumi_flow.cli.run import run_command

            return run_command(args, console)
        if args.command == "emulator":
            from pulumi_flow.emulator.__main__ import serve

            return serve(args)
        if args.command == "prices":
            from pulumi_flow.cli.prices import prices_command

            return prices_command(args, console)
        if args.command == "cost":
            from pulumi_flow.cli.cost import cost_command

            return cost_command(args, console)
        if args.command == "policy-pack":
            from pulumi_flow_policies.pack import write_pack

            target = write_pack(args.out)
            console.print(f"wrote the policy pack to {target}; use: pulumi up --policy-pack {target}")
            return 0
        if args.command == "sdk":
            from pathlib import Path

            from pulumi_flow.plugin.sdk import generate

            target = generate(args.language, Path(args.out))
            console.print(f"wrote the {args.language} SDK to {target}")
            return 0
    except KeyboardInterrupt:
        console.print("interrupted", "red")
        return 130
    except Exception as exc:  # noqa: BLE001 - the one place errors become messages
        if args.debug:
            traceback.print_exc()
        print(console.paint("error: ", "red", "bold") + str(exc), file=sys.stderr)
        if not args.debug:
            print("(run with --debug for the traceback)", file=sys.stderr)
        return 2
    raise AssertionError(f"unhandled command {args.command}")


if __name__ == "__main__":
    sys.exit(main())
