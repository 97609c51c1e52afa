"""Cost of the component layer under Pulumi mocks, against bare resources in the same run.

    python bench/components.py [--repeat 5]

For N in 1, 10, 100 it evaluates N (TrainingCluster + DataVolumes) pairs, then 2N bare
FlowTask resources (as many resources as there are components), then the same custom
resources the pairs create, registered bare (one FlowTask and one FlowVolume per pair).
It prints milliseconds per component and the ratios. Then `python -X importtime` of
`import pulumi_flow` against `import pulumi`, median of the repeats.
"""

from __future__ import annotations

import argparse
import gc
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pulumi
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await


class EchoMocks(pulumi.runtime.Mocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        return (f"{args.name}-id" if args.custom else None), dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], None]:
        return {}, None


def evaluate(program: Callable[[], None]) -> float:
    gc.collect()
    pulumi_settings.ROOT.set(None)
    pulumi.runtime.set_mocks(EchoMocks(), project="bench", stack="bench", preview=False)
    started = time.perf_counter()
    _sync_await(run_pulumi_func(lambda: program()))
    return time.perf_counter() - started


def pairs(n: int) -> Callable[[], None]:
    from pulumi_flow import DataVolumes, DataVolumesArgs, TrainingCluster, TrainingClusterArgs

    def program() -> None:
        for i in range(n):
            volumes = DataVolumes(f"s{i}", DataVolumesArgs(volumes={"data": 100}))
            TrainingCluster(f"c{i}", TrainingClusterArgs(instance_type="8xh100", num_instances=2,
                                                         volumes=[volumes.mount("data", "/data")]))
    return program


def bare_tasks(n: int) -> Callable[[], None]:
    from pulumi_flow import FlowTask, FlowTaskArgs

    def program() -> None:
        for i in range(n):
            FlowTask(f"t{i}", FlowTaskArgs(role="infrastructure", instance_type="8xh100", num_instances=2,
                                           max_price_per_hour=50.0, command="sleep infinity"))
    return program


def bare_equivalent(n: int) -> Callable[[], None]:
    from pulumi_flow import FlowTask, FlowTaskArgs, FlowVolume, FlowVolumeArgs

    def program() -> None:
        for i in range(n):
            volume = FlowVolume(f"v{i}", FlowVolumeArgs(size_gb=100))
            FlowTask(f"t{i}", FlowTaskArgs(
                role="infrastructure", instance_type="8xh100", num_instances=2, max_price_per_hour=50.0,
                command="sleep infinity",
                volumes=[{"volume_id": volume.volume_id, "mount_path": "/data", "interface": "file"}]))
    return program


def interleaved(programs: list[Callable[[], None]], repeat: int) -> list[float]:
    """Best of `repeat` for each program, the programs taking turns so drift hits all alike."""
    best = [float("inf")] * len(programs)
    for _ in range(repeat):
        for index, program in enumerate(programs):
            best[index] = min(best[index], evaluate(program))
    return best


def import_ms(statement: str, repeat: int) -> float:
    """Median over `repeat` fresh interpreters of the cumulative time of the top-level imports."""
    samples = []
    for _ in range(repeat):
        err = subprocess.run([sys.executable, "-X", "importtime", "-c", statement], capture_output=True,
                             text=True, check=True).stderr
        top_level = re.findall(r"^import time:\s+\d+ \|\s+(\d+) \| (\S.*)$", err, re.M)
        samples.append(sum(int(cumulative) for cumulative, _ in top_level) / 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    evaluate(pairs(2))  # warm imports (flow grammar, dill) outside the timings
    evaluate(bare_equivalent(2))
    print(f"{'N pairs':>8} {'components':>10} {'ms/component':>13} {'bare FlowTask x2N ms/res':>25} "
          f"{'ratio':>6} {'bare equivalent ms/pair':>24} {'ratio':>6}")
    for n in (1, 10, 100):
        components = 2 * n
        t_pairs, t_tasks, t_equiv = interleaved([pairs(n), bare_tasks(components), bare_equivalent(n)], args.repeat)
        per_component = t_pairs / components * 1000
        per_task = t_tasks / components * 1000
        print(f"{n:>8} {components:>10} {per_component:>13.3f} {per_task:>25.3f} {t_pairs / t_tasks:>6.2f} "
              f"{t_equiv / n * 1000:>24.3f} {t_pairs / t_equiv:>6.2f}")

    base = import_ms("import pulumi", args.repeat)
    ours = import_ms("import pulumi, pulumi_flow", args.repeat)
    with_components = import_ms("import pulumi; from pulumi_flow import TrainingCluster, DataVolumes, TrainingJob",
                           args.repeat)
    print(f"\nimport pulumi: {base:.1f} ms | + import pulumi_flow: {ours:.1f} ms ({ours - base:+.1f} ms) | "
          f"+ the three components: {with_components:.1f} ms ({with_components - base:+.1f} ms)")
    loaded = subprocess.run([sys.executable, "-c", "import sys, pulumi_flow; "
                             "print(sorted(m for m in sys.modules if m == 'flow' or m.startswith('flow.')))"],
                            capture_output=True, text=True, check=True).stdout.strip()
    print(f"flow modules loaded by `import pulumi_flow`: {loaded}")


if __name__ == "__main__":
    main()
