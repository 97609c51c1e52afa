"""The policy pack's cost over the engine's protocol, against an always-pass pack in the same run.

    python bench/policy_pack.py [--analyze 1000] [--stack 10000] [--repeat 3]

Both packs are launched exactly as the Pulumi CLI launches them (`python -u -m pulumi.policy`),
so the protocol's own cost (gRPC, protobuf, the SDK's proxies) is in the baseline and the ratio
is what our seven policies add. `Analyze` runs once per task resource; `AnalyzeStack` once over
a stack of tasks and volumes.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pulumi_flow.engines.plugins import PolicyPackProcess, StackResource
from pulumi_flow.resources import TASK_TYPE, VOLUME_TYPE

PACK = Path(__file__).resolve().parents[1] / "policies"
ALWAYS_PASS = '''
from pulumi_policy import EnforcementLevel, PolicyPack, ResourceValidationPolicy, StackValidationPolicy

RESOURCE_POLICIES, STACK_POLICIES = {resource}, {stack}
PolicyPack(name="always-pass", policies=[
    *[ResourceValidationPolicy(name=f"pass-{{i}}", description="passes", validate=lambda args, report: None,
                               enforcement_level=EnforcementLevel.MANDATORY) for i in range(RESOURCE_POLICIES)],
    *[StackValidationPolicy(name=f"pass-stack-{{i}}", description="passes", validate=lambda args, report: None,
                            enforcement_level=EnforcementLevel.MANDATORY) for i in range(STACK_POLICIES)],
])
'''


def task(i: int) -> StackResource:
    volume_urn = f"urn:pulumi:bench::bench::{VOLUME_TYPE}::v{i}"
    props: dict[str, Any] = {
        "role": "infrastructure" if i % 2 else "workload", "instance_type": "8xh100", "num_instances": 2,
        "max_price_per_hour": 50.0, "command": "sleep infinity", "task_name": f"t{i}", "env": {}, "ssh_keys": [],
        "volumes": [{"volume_id": f"vol_{i}", "mount_path": "/data", "interface": "file"}],
        "region": "us-central1-a", "max_run_time_hours": 24.0, "wait_until": "running",
        "ready_timeout_minutes": 30.0,
    }
    return StackResource(type=TASK_TYPE, name=f"t{i}", urn=f"urn:pulumi:bench::bench::{TASK_TYPE}::t{i}",
                         properties=props, property_dependencies={"volumes": (volume_urn,)})


def volume(i: int) -> StackResource:
    return StackResource(type=VOLUME_TYPE, name=f"v{i}", urn=f"urn:pulumi:bench::bench::{VOLUME_TYPE}::v{i}",
                         properties={"volume_name": f"v{i}", "size_gb": 100, "interface": "file",
                                     "region": "us-central1-a", "volume_id": f"vol_{i}"}, protect=True)


def timed(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def measure(pack_dir: Path, tasks: list[StackResource], stack: list[StackResource], repeat: int) -> tuple[float, float]:
    with PolicyPackProcess(pack_dir, project="bench", stack="bench") as pack:
        pack.configure({"stack-hourly-budget": {"enforcementLevel": "mandatory", "max_hourly_spend": 1e9}})
        pack.analyze(tasks[0])  # warm imports
        analyze = timed(lambda: [pack.analyze(t) for t in tasks], repeat)
        analyze_stack = timed(lambda: pack.analyze_stack(stack), repeat)
        verdicts = [v for t in tasks[:10] for v in pack.analyze(t)] + pack.analyze_stack(stack[:20])
        assert not [v for v in verdicts if v.blocking], f"the benchmark stack should be compliant: {verdicts[:3]}"
    return analyze, analyze_stack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--analyze", type=int, default=1000, help="task resources sent to Analyze")
    parser.add_argument("--stack", type=int, default=10000, help="resources in the AnalyzeStack request")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    tasks = [task(i) for i in range(args.analyze)]
    stack: list[StackResource] = []
    for i in range(args.stack // 2):
        stack += [volume(i), task(i)]

    from pulumi_policy import StackValidationPolicy

    from pulumi_flow_policies import POLICIES

    n_stack = sum(isinstance(p, StackValidationPolicy) for p in POLICIES)
    baselines = {}
    for label, (resource_count, stack_count) in {"1+1 always-pass": (1, 1),
                                                 f"{len(POLICIES) - n_stack}+{n_stack} always-pass":
                                                     (len(POLICIES) - n_stack, n_stack)}.items():
        with tempfile.TemporaryDirectory() as scratch:
            baseline_dir = Path(scratch)
            (baseline_dir / "__main__.py").write_text(ALWAYS_PASS.format(resource=resource_count, stack=stack_count))
            (baseline_dir / "PulumiPolicy.yaml").write_text("runtime: python\nversion: 0.0.1\n")
            baselines[label] = measure(baseline_dir, tasks, stack, args.repeat)
    ours_analyze, ours_stack = measure(PACK, tasks, stack, args.repeat)

    print(f"pulumi-flow pack: {len(POLICIES) - n_stack} resource policies, {n_stack} stack policies")
    print(f"Analyze x{args.analyze}: pulumi-flow {ours_analyze * 1000 / args.analyze:.3f} ms/resource")
    print(f"AnalyzeStack over {len(stack)} resources: pulumi-flow {ours_stack * 1000:.0f} ms "
          f"({ours_stack * 1e6 / len(stack):.1f} us/resource)")
    for label, (base_analyze, base_stack) in baselines.items():
        print(f"  vs {label}: Analyze {base_analyze * 1000 / args.analyze:.3f} ms/resource, ratio "
              f"{ours_analyze / base_analyze:.2f}; AnalyzeStack {base_stack * 1000:.0f} ms, ratio "
              f"{ours_stack / base_stack:.2f}")


if __name__ == "__main__":
    main()
