"""What importing and previewing cost: no Flow SDK at import, no Flow client on the preview path."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import pulumi_flow.provider.session as session
from pulumi_flow import FlowTask, FlowTaskArgs, FlowVolume, FlowVolumeArgs
from pulumi_flow.engines.builtin import run_stack
from pulumi_flow.resources import OWNER_TYPE, POOL_TYPE, RESERVATION_TYPE, TASK_TYPE, VOLUME_TYPE
from pulumi_flow.testing.emulator import RunningEmulator

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _modules_after(statement: str) -> list[str]:
    code = f"{statement}; import sys; print('\\n'.join(sorted(sys.modules)))"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()


def test_import_pulumi_flow_imports_no_flow_module() -> None:
    modules = _modules_after("import pulumi_flow")
    assert [m for m in modules if m == "flow" or m.startswith("flow.")] == []


def test_building_components_imports_no_flow_client() -> None:
    modules = _modules_after("from pulumi_flow import TrainingCluster, DataVolumes, TrainingJob, FlowTask")
    assert "flow.sdk.client" not in modules and "flow.adapters.http.client" not in modules


def test_preview_never_builds_a_flow_client(mithril: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[object] = []

    def forbidden(credentials: object) -> None:
        opened.append(credentials)
        raise AssertionError("a preview must not build a Flow client")

    monkeypatch.setattr(session, "open_flow", forbidden)
    run = run_stack(EXAMPLES / "complete", preview=True)
    assert len(run.resources) == 7 and opened == []  # 2 components, their 2 owners, 3 bids and volumes
    assert mithril.control.requests() == []


def test_a_thousand_dynamic_resources_do_not_overflow_pickle(mithril: RunningEmulator) -> None:
    """pulumi.dynamic's serialize_provider stacks a pickle wrapper per resource (pulumi/pulumi#17803)."""
    def program() -> None:
        for i in range(1200):
            FlowTask(f"t{i}", FlowTaskArgs(role="workload", instance_type="1xa100", max_price_per_hour=2.0,
                                           command="true"))

    run = run_stack(program, preview=True)
    assert len(run.of_type(TASK_TYPE)) == 1200
    assert len(run.of_type(OWNER_TYPE)) == 1200  # a task given no owner makes its own


def test_a_volume_given_no_owner_makes_its_own(mithril: RunningEmulator) -> None:
    """A standalone FlowVolume registers an Owner beside it (once deadlocked on the pickling lock it holds)."""
    def program() -> None:
        FlowVolume("data", FlowVolumeArgs(size_gb=100))

    run = run_stack(program, preview=True)
    assert [(r.type, r.name) for r in run.resources] == [(OWNER_TYPE, "data-owner"), (VOLUME_TYPE, "data")]
    assert mithril.control.requests() == []


def readme_program(marker: str) -> Callable[[], None]:
    """The README's Python block that contains `marker`, as a program run exactly as written (with `pulumi`
    imported, as a block that exports assumes)."""
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    snippet = next(block for block in re.findall(r"```python\n(.*?)```", text, re.S) if marker in block)

    def program() -> None:
        exec(compile(f"import pulumi\n{snippet}", "README.md", "exec"), {})

    return program


def test_the_readmes_reservation_snippet_previews_protected_and_spends_nothing(mithril: RunningEmulator) -> None:
    """The README's `FlowReservation` block, run as written: one reservation, protected, and no request."""
    run = run_stack(readme_program("FlowReservation("), preview=True)
    (reserved,) = run.of_type(RESERVATION_TYPE)
    assert reserved.protect is True and reserved.inputs["max_unit_price"] == 40.0
    assert reserved.inputs["duration_hours"] == 168 and reserved.inputs["quantity"] == 2
    assert mithril.control.requests() == []


def test_the_readmes_reserved_cluster_snippet_follows_its_volume(mithril: RunningEmulator) -> None:
    """The README's `ReservedCapacity` block, run as written: its cluster is one protected reservation in the
    volume's region, mounting it, and a preview makes no request."""
    run = run_stack(readme_program("ReservedCapacity("), preview=True)
    (reserved,) = run.of_type(RESERVATION_TYPE)
    assert run.of_type(TASK_TYPE) == [] and reserved.protect is True
    assert (reserved.inputs["region"], reserved.inputs["quantity"], reserved.inputs["max_unit_price"]) == (
        "us-central1-a", 4, 40.0)
    assert [m["mount_path"] for m in reserved.inputs["mounts"]] == ["/data"]
    assert mithril.control.requests() == []


def test_the_readmes_spot_pool_snippet_holds_its_target(mithril: RunningEmulator) -> None:
    """The README's `SpotPool` block, run as written: a preview makes no request, and an up holds 32 GPUs in the
    first region with room, every bid at most $6.50 x its GPUs."""
    program = readme_program("SpotPool(")
    preview = run_stack(program, preview=True)
    (planned,) = preview.of_type(POOL_TYPE)
    assert planned.inputs["target_gpus"] == 32 and mithril.control.requests() == []
    mithril.control.set_capacity("us-central1-a", 1)
    run_stack(program)
    bids = mithril.control.live_bids()
    assert sorted((b["region"], b["limit_price"]) for b in bids) == [
        ("eu-central1-a", "$52.00"), ("eu-central1-a", "$52.00"), ("us-central1-a", "$52.00"),
        ("us-central1-a", "$52.00")], "one of each type in the first region, the rest in the second"
