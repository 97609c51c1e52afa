"""`StackTester`: what the `pulumi_flow_stack` fixture hands a test."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs

from pulumi_flow.engines.builtin import StackRun, evaluate_policies, run_stack
from pulumi_flow.testing.emulator import RunningEmulator

Program = Callable[[], Any] | str | Path


@attrs.define
class StackTester:
    """Run a stack program against the test's emulator, the way `pulumi preview`/`up` would.

        def test_cluster(pulumi_flow_stack):
            run = pulumi_flow_stack.up("infra/")            # real bids on the emulator
            assert len(run.outputs["gpu_ips"]) == 4
            assert not pulumi_flow_stack.blocking(run)      # the policy pack's mandatory verdicts
    """

    mithril: RunningEmulator
    project: str = "project"
    stack: str = "test"

    def preview(self, program: Program, *, config: Mapping[str, Any] | None = None) -> StackRun:
        return run_stack(program, project=self.project, stack=self.stack, preview=True, config=config)

    def up(self, program: Program, *, config: Mapping[str, Any] | None = None) -> StackRun:
        return run_stack(program, project=self.project, stack=self.stack, preview=False, config=config)

    def policies(self, run: StackRun, policy_config: Mapping[str, Mapping[str, Any]] | None = None,
                 pack_dir: str | Path | None = None) -> list[Any]:
        """Every verdict of the pulumi-flow policy pack (launched as the CLI launches it)."""
        return evaluate_policies(run, pack_dir, policy_config)

    def blocking(self, run: StackRun, policy_config: Mapping[str, Mapping[str, Any]] | None = None) -> list[Any]:
        return [v for v in self.policies(run, policy_config) if v.blocking]
