"""The `flow` provider plugin against the Python dynamic provider, on the same engine and emulator.

    python bench/plugin.py [--repeat 5] [--delay 0.3]

1. Start-up: from spawning a provider process to its gRPC port on stdout. `pulumi-resource-flow` (the
   plugin: components, schema and both resources) against `python -m pulumi.dynamic` (what the engine
   starts for a Python program's dynamic resources).
2. `pulumi preview` and `pulumi up --policy-pack` of the complete example (2 volumes, 4x8xA100 at $50):
   examples/typescript (the plugin's components, built once with its generated SDK) against
   examples/complete in Python (dynamic resources), each on a fresh emulator and backend.

Figures are medians of `--repeat` runs, the two sides interleaved; each ratio is plugin / baseline.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from pulumi_flow.emulator import Settings
from pulumi_flow.engines.pulumi_cli import PulumiCli, find_cli
from pulumi_flow.testing.emulator import RunningEmulator, running_emulator
from pulumi_flow.testing.languages import Program, build_typescript

ROOT = Path(__file__).resolve().parents[1]
PACK = str(ROOT / "policies" / "pulumi-analyzer-flow")


def start_up(argv: list[str]) -> float:
    """Seconds until the process prints its port (as the engine waits for it)."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert process.stdout is not None
    port = process.stdout.readline().strip()
    elapsed = time.perf_counter() - start
    process.kill()
    process.wait()
    process.stdout.close()
    assert port.isdigit(), f"{argv} printed {port!r}"
    return elapsed


class Bench:
    def __init__(self, cli: Path, delay: float, typescript: Program) -> None:
        self.cli = cli
        self.settings = Settings(allocation_delay=delay, boot_delay=delay)
        self.typescript = typescript

    def measure(self, action: Callable[[RunningEmulator, PulumiCli], None]) -> tuple[float, int]:
        """Wall time of `action` on a fresh emulator and backend, and the Mithril requests it made."""
        with tempfile.TemporaryDirectory() as tmp, \
                running_emulator(self.settings, flow_dir=f"{tmp}/flow", set_environ=False) as mithril:
            engine = PulumiCli(self.cli, home=Path(tmp) / "home", backend=Path(tmp) / "state")
            start = time.perf_counter()
            action(mithril, engine)
            elapsed = time.perf_counter() - start
            return elapsed, len(mithril.control.requests())

    def typescript_run(self, operation: str) -> Callable[[RunningEmulator, PulumiCli], None]:
        def action(mithril: RunningEmulator, engine: PulumiCli) -> None:
            # The program from its directory, by the Node.js language host, as `pulumi up` there runs it.
            stack = self.typescript.stack(engine, mithril, f"bench-{uuid.uuid4().hex[:8]}")
            if operation == "up":
                assert len(stack.up(policy_packs=[PACK]).outputs["gpuIps"].value) == 4
            else:
                stack.preview(policy_packs=[PACK])
        return action

    @staticmethod
    def python_run(operation: str) -> Callable[[RunningEmulator, PulumiCli], None]:
        def action(mithril: RunningEmulator, engine: PulumiCli) -> None:
            stack = engine.project_stack(ROOT / "examples" / "complete", env=mithril.env)
            if operation == "up":
                assert len(stack.up(policy_packs=[PACK]).outputs["gpu_ips"].value) == 4
            else:
                stack.preview(policy_packs=[PACK])
        return action


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--delay", type=float, default=0.3, help="emulator allocation and boot delay (s)")
    args = parser.parse_args()
    cli = find_cli(os.environ.get("PULUMI_FLOW_CLI_DIR") or subprocess.run(
        [str(ROOT / "scripts" / "install-pulumi")], capture_output=True, text=True, check=True).stdout.strip())
    print(f"Pulumi CLI {cli}, emulator delays {args.delay}s, median of {args.repeat}")

    plugin = [str(Path(sys.executable).parent / "pulumi-resource-flow"), "127.0.0.1:0"]
    dynamic = [sys.executable, "-u", "-m", "pulumi.dynamic", "127.0.0.1:0"]
    plugin_times, dynamic_times = [], []
    for _ in range(args.repeat * 2):
        plugin_times.append(start_up(plugin))
        dynamic_times.append(start_up(dynamic))
    p, d = statistics.median(plugin_times), statistics.median(dynamic_times)
    print(f"{'start-up: pulumi-resource-flow vs pulumi.dynamic':<52} plugin {p:6.3f}s | baseline {d:6.3f}s "
          f"| ratio {p / d:4.2f}")

    with tempfile.TemporaryDirectory() as build:
        started = time.perf_counter()
        typescript = build_typescript(ROOT / "examples" / "typescript", Path(build), cli)
        print(f"(built examples/typescript with its generated SDK in {time.perf_counter() - started:.1f}s)")
        bench = Bench(cli, args.delay, typescript)
        for operation in ("preview", "up"):
            ours, base = [], []
            for _ in range(args.repeat):
                ours.append(bench.measure(bench.typescript_run(operation)))
                base.append(bench.measure(bench.python_run(operation)))
            t_ours, r_ours = statistics.median(s[0] for s in ours), int(statistics.median(s[1] for s in ours))
            t_base, r_base = statistics.median(s[0] for s in base), int(statistics.median(s[1] for s in base))
            label = f"{operation} complete (pack): TypeScript+plugin vs Python"
            print(f"{label:<52} plugin {t_ours:6.2f}s {r_ours:3d} req | baseline {t_base:6.2f}s {r_base:3d} req "
                  f"| ratio {t_ours / t_base:4.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
