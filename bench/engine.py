"""The real Pulumi CLI against the user's alternative, the `flow` CLI, on the same emulator.

    python bench/engine.py [--repeat 3] [--delay 0.3]

Both sides talk over HTTP to a fresh emulator per measurement with the same allocation and boot
delays (`--delay` seconds each), so both wait for the same auction. Figures are medians of
`--repeat` runs; each ratio is ours / baseline from the same run.

1. `pulumi up --policy-pack` of examples/complete until its outputs exist (2 volumes and a 4x8xA100
   bid), against `flow run "sleep infinity" -i 8xa100 -N 4 -m 50 --wait-until running` (the bid alone),
   with the Mithril requests each makes; then the same bid alone on both sides.
2. `pulumi preview` of examples/complete with the pack against without it: the pack's start-up cost.
3. `pulumi up --parallel 8` of 8 independent one-node clusters against 8 sequential `flow run`s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pulumi

from pulumi_flow import TrainingCluster, TrainingClusterArgs
from pulumi_flow.emulator import Settings
from pulumi_flow.engines.pulumi_cli import PulumiCli, find_cli
from pulumi_flow.testing.emulator import RunningEmulator, running_emulator

ROOT = Path(__file__).resolve().parents[1]
PACK = str(ROOT / "policies" / "pulumi-analyzer-flow")
FLOW = str(Path(sys.executable).parent / "flow")


def one_cluster() -> None:
    """The same bid as the `flow run` baseline, and nothing else."""
    cluster = TrainingCluster("gpu", TrainingClusterArgs(instance_type="8xa100", num_instances=4,
                                                         max_price_per_hour=50.0))
    pulumi.export("gpu_ips", cluster.public_ips)


def eight_clusters() -> None:
    for index in range(8):
        TrainingCluster(f"c{index}", TrainingClusterArgs(instance_type="8xa100", max_price_per_hour=30.0))


def flow_run(mithril: RunningEmulator, home: str, count: int, price: str) -> None:
    env = {**os.environ, **mithril.env, "HOME": home}
    subprocess.run([FLOW, "run", "sleep infinity", "-i", "8xa100", "-N", str(count), "-m", price,
                    "--wait-until", "running", "--yes"], env=env, check=True, capture_output=True, timeout=600)


class Bench:
    def __init__(self, cli: Path, delay: float) -> None:
        self.cli = cli
        self.settings = Settings(allocation_delay=delay, boot_delay=delay)

    def measure(self, action: Callable[[RunningEmulator, Path], None]) -> tuple[float, int]:
        """Wall time of `action` on a fresh emulator, and the Mithril requests it made."""
        with tempfile.TemporaryDirectory() as tmp, \
                running_emulator(self.settings, flow_dir=f"{tmp}/flow", set_environ=False) as mithril:
            start = time.perf_counter()
            action(mithril, Path(tmp))
            elapsed = time.perf_counter() - start
            return elapsed, len(mithril.control.requests())

    def engine(self, tmp: Path) -> PulumiCli:
        return PulumiCli(self.cli, home=tmp / "home", backend=tmp / "state")

    def up_complete(self, mithril: RunningEmulator, tmp: Path) -> None:
        stack = self.engine(tmp).project_stack(ROOT / "examples" / "complete", env=mithril.env)
        assert len(stack.up(policy_packs=[PACK]).outputs["gpu_ips"].value) == 4

    def up_one_cluster(self, mithril: RunningEmulator, tmp: Path) -> None:
        stack = self.engine(tmp).stack("dev", project="one", program=one_cluster, env=mithril.env)
        assert len(stack.up(policy_packs=[PACK]).outputs["gpu_ips"].value) == 4

    def preview_complete(self, with_pack: bool) -> Callable[[RunningEmulator, Path], None]:
        def action(mithril: RunningEmulator, tmp: Path) -> None:
            stack = self.engine(tmp).project_stack(ROOT / "examples" / "complete", env=mithril.env)
            stack.preview(policy_packs=[PACK] if with_pack else None)
        return action

    def up_eight(self, mithril: RunningEmulator, tmp: Path) -> None:
        stack = self.engine(tmp).stack("dev", project="eight", program=eight_clusters, env=mithril.env)
        stack.up(policy_packs=[PACK], parallel=8)
        assert len(mithril.control.live_bids()) == 8

    @staticmethod
    def flow_complete(mithril: RunningEmulator, tmp: Path) -> None:
        flow_run(mithril, str(tmp), 4, "50")

    @staticmethod
    def flow_eight(mithril: RunningEmulator, tmp: Path) -> None:
        for _ in range(8):
            flow_run(mithril, str(tmp), 1, "30")
        assert len(mithril.control.live_bids()) == 8


def median(samples: list[tuple[float, int]]) -> tuple[float, int]:
    return statistics.median(s[0] for s in samples), int(statistics.median(s[1] for s in samples))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--delay", type=float, default=0.3, help="emulator allocation and boot delay (s)")
    args = parser.parse_args()
    cli = find_cli(os.environ.get("PULUMI_FLOW_CLI_DIR") or subprocess.run(
        [str(ROOT / "scripts" / "install-pulumi")], capture_output=True, text=True, check=True).stdout.strip())
    bench = Bench(cli, args.delay)

    pairs = {
        "up complete (pack) vs flow run 4x8xa100": (bench.up_complete, bench.flow_complete),
        "up the same bid alone (pack) vs flow run": (bench.up_one_cluster, bench.flow_complete),
        "preview complete: pack vs no pack": (bench.preview_complete(True), bench.preview_complete(False)),
        "up 8 clusters --parallel 8 vs 8 flow runs": (bench.up_eight, bench.flow_eight),
    }
    print(f"Pulumi CLI {cli}, emulator delays {args.delay}s, median of {args.repeat}")
    for label, (ours, baseline) in pairs.items():
        ours_samples: list[tuple[float, int]] = []
        base_samples: list[tuple[float, int]] = []
        for _ in range(args.repeat):  # interleaved, so drift on the machine hits both sides alike
            ours_samples.append(bench.measure(ours))
            base_samples.append(bench.measure(baseline))
        (t_ours, r_ours), (t_base, r_base) = median(ours_samples), median(base_samples)
        print(f"{label:<45} ours {t_ours:6.2f}s {r_ours:4d} req | baseline {t_base:6.2f}s {r_base:4d} req "
              f"| ratio {t_ours / t_base:4.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
