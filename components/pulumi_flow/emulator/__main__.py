"""`python -m pulumi_flow.emulator`: serve a loopback Mithril and print its base URL first."""

from __future__ import annotations

import argparse
import contextlib
import sys

from pulumi_flow.emulator.models import Settings
from pulumi_flow.emulator.records import PROJECT_NAME
from pulumi_flow.emulator.server import MithrilEmulator


def build_parser(add_help: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pulumi_flow.emulator", add_help=add_help,
        description="Serve Mithril's /v2 API on loopback for the Flow SDK. The first stdout line is the base URL.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    parser.add_argument("--port", type=int, default=0, help="port, 0 for a free one (default: %(default)s)")
    parser.add_argument("--api-key", help="accept only this key (default: any key starting with fkey_)")
    parser.add_argument("--state", help="JSON file to load state from and save it to after every change")
    parser.add_argument("--allocation-delay", type=float, default=Settings().allocation_delay,
                        help="seconds before an Open bid at or above the market is Allocated (default: %(default)s)")
    parser.add_argument("--boot-delay", type=float, default=Settings().boot_delay,
                        help="seconds before a new instance is STATUS_RUNNING (default: %(default)s)")
    parser.add_argument("--capacity", type=int, default=Settings().capacity_per_market,
                        help="instances each (instance type, region) market holds (default: %(default)s)")
    parser.add_argument("--preemption-notice", type=float, default=Settings().preemption_notice,
                        help="seconds a bid is Preempting before its machines are taken (default: %(default)s)")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    return parser


def main(argv: list[str] | None = None) -> int:
    return serve(build_parser().parse_args(argv))


def serve(args: argparse.Namespace) -> int:
    settings = Settings(allocation_delay=args.allocation_delay, boot_delay=args.boot_delay, api_key=args.api_key,
                        capacity_per_market=args.capacity, preemption_notice=args.preemption_notice)
    emulator = MithrilEmulator(args.host, args.port, settings=settings, state_file=args.state, verbose=args.verbose)
    print(emulator.url, flush=True)
    print(f"export MITHRIL_API_URL={emulator.url} MITHRIL_PROJECT={PROJECT_NAME} "
          f"MITHRIL_API_KEY={args.api_key or 'fkey_emulator'}", file=sys.stderr, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        emulator.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
