"""State written by pulumi-flow 0.1.0 still refreshes, previews and destroys with today's code.

The fixtures were made by running examples/complete with the 0.1.0 code on the real engine against
an emulator persisting to a file: `complete-0.1.0.pulumi-state.json` is that stack's `pulumi stack
export`, `complete-0.1.0.mithril-state.json` the emulator's state. The pickled providers in the
state name `pulumi_flow.provider.task.FlowTaskProvider` and `pulumi_flow.provider.volume.FlowVolumeProvider`:
moving either class breaks every existing stack, which this test would show.
"""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from pulumi_flow.emulator import Settings
from pulumi_flow.emulator.server import MithrilEmulator
from pulumi_flow.engines.pulumi_cli import PulumiCli, Transcript
from pulumi_flow.testing.emulator import EmulatorControl, sdk_environment
from tests.engine.conftest import EXAMPLES, PACK

pytestmark = pytest.mark.engine

FIXTURES = Path(__file__).parent / "fixtures"
STATE = FIXTURES / "complete-0.1.0.pulumi-state.json"


@pytest.fixture
def old_cloud(tmp_path: Path) -> Iterator[tuple[MithrilEmulator, EmulatorControl]]:
    state = tmp_path / "mithril.json"
    shutil.copy(FIXTURES / "complete-0.1.0.mithril-state.json", state)
    emulator = MithrilEmulator(settings=Settings(allocation_delay=0.0, boot_delay=0.0), state_file=str(state)).start()
    try:
        yield emulator, EmulatorControl(emulator.url)
    finally:
        emulator.stop()


def test_the_fixture_pins_the_pickled_provider_paths() -> None:
    text = STATE.read_text()
    for path in (b"pulumi_flow.provider.task", b"FlowTaskProvider", b"pulumi_flow.provider.volume",
                 b"FlowVolumeProvider"):
        assert any(path in base64.b64decode(token) for token in _provider_tokens(text)), path


def _provider_tokens(text: str) -> list[str]:
    import json

    resources = json.loads(text)["deployment"]["resources"]
    return [r["inputs"]["__provider"] for r in resources if isinstance(r.get("inputs", {}).get("__provider"), str)]


def test_a_0_1_0_stack_refreshes_previews_without_replacing_and_destroys(
        engine: PulumiCli, old_cloud: tuple[MithrilEmulator, EmulatorControl], tmp_path: Path) -> None:
    emulator, control = old_cloud
    (bid,) = control.live_bids()
    env = sdk_environment(emulator.url, str(tmp_path / "flow"))
    stack = engine.project_stack(EXAMPLES / "complete", "v010", env=env)
    engine.run(stack, "stack", "import", "--file", str(STATE))

    refresh = stack.refresh()
    assert refresh.summary.result == "succeeded"
    assert [b["fid"] for b in control.live_bids()] == [bid["fid"]], "refresh found the bid and changed nothing"

    log = Transcript()
    preview = stack.preview(policy_packs=[PACK], **log.hooks())
    assert not {"replace", "delete"} & set(preview.change_summary), preview.stdout
    # What the upgrade adds: each component's Owner (a token in state, nothing on Mithril). Nothing else is created.
    assert sorted(name for op, name in log.steps() if op == "create") == ["gpu-infra-owner", "storage-owner"]
    up = stack.up(policy_packs=[PACK])
    assert [b["fid"] for b in control.live_bids()] == [bid["fid"]]
    assert up.outputs["cluster_id"].value == bid["fid"]

    engine.run(stack, "state", "unprotect", "--all", "--yes")
    stack.destroy()
    assert control.live_bids() == [] and control.live_volumes() == []
