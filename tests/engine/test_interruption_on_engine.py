"""`pulumi up` interrupted while a bid is being created (SIGINT, and SIGKILL), then the documented recovery.

The emulator holds the new bid `Open` (allocation delay of an hour) so the provider is provably
inside `create` when the signal arrives; the test waits on the emulator's state, never on time.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto

from pulumi_flow.emulator import Settings
from pulumi_flow.engines.pulumi_cli import PulumiCli, cli_processes, descendants
from pulumi_flow.resources import TASK_TYPE
from pulumi_flow.testing.emulator import RunningEmulator, running_emulator
from tests.engine.conftest import EXAMPLES, PACK

pytestmark = pytest.mark.engine



@pytest.fixture
def slow_mithril(tmp_path: Path) -> Iterator[RunningEmulator]:
    with running_emulator(Settings(allocation_delay=3600.0, boot_delay=0.0), flow_dir=str(tmp_path / "flow")) as m:
        yield m


def pulumi_cli_pid(engine: PulumiCli) -> int:
    (pid,) = cli_processes(engine.cli_dir)
    return pid


class Background:
    """`stack.up()` in a thread; `result()` gives its outcome or its CommandError."""

    def __init__(self, stack: Any) -> None:
        self.outcome: Any = None
        self.thread = threading.Thread(target=self._run, args=(stack,), daemon=True)
        self.thread.start()

    def _run(self, stack: Any) -> None:
        try:
            self.outcome = stack.up(policy_packs=[PACK])
        except auto.CommandError as exc:
            self.outcome = exc

    def result(self, timeout: float = 120) -> Any:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "pulumi up did not end"
        return self.outcome


def task_ids_in_state(engine: PulumiCli, stack: Any) -> list[str]:
    return [r["id"] for r in stack.export_stack().deployment["resources"] if r["type"] == TASK_TYPE and r.get("id")]


def live_bid_ids(mithril: RunningEmulator) -> list[str]:
    return [b["fid"] for b in mithril.control.live_bids()]


def test_sigint_during_create_finishes_the_bid_and_records_it(engine: PulumiCli,
                                                              slow_mithril: RunningEmulator) -> None:
    stack = engine.project_stack(EXAMPLES / "quickstart", env=slow_mithril.env)
    up = Background(stack)
    assert slow_mithril.backend.wait_for(lambda: bool(slow_mithril.backend.bids), timeout=60), "the bid was placed"

    os.kill(pulumi_cli_pid(engine), signal.SIGINT)  # Ctrl-C: the engine lets in-flight operations finish
    slow_mithril.control.call("POST", "settings", {"allocation_delay": 0})
    outcome = up.result()

    (bid_id,) = live_bid_ids(slow_mithril)
    if isinstance(outcome, auto.CommandError):
        assert "cancel" in str(outcome).lower(), outcome
    assert task_ids_in_state(engine, stack) == [bid_id], "the engine recorded the bid it created"
    again = stack.up(policy_packs=[PACK])
    assert again.summary.result == "succeeded"
    assert live_bid_ids(slow_mithril) == [bid_id] and task_ids_in_state(engine, stack) == [bid_id]


def test_sigkill_during_create_is_recovered_by_refresh_then_up(engine: PulumiCli,
                                                               slow_mithril: RunningEmulator) -> None:
    stack = engine.project_stack(EXAMPLES / "quickstart", env=slow_mithril.env)
    up = Background(stack)
    assert slow_mithril.backend.wait_for(lambda: bool(slow_mithril.backend.bids), timeout=60), "the bid was placed"

    cli = pulumi_cli_pid(engine)
    tree = [cli, *descendants(cli)]  # the CLI and its plugins (dynamic provider, policy pack): a crash
    for pid in tree:
        os.kill(pid, signal.SIGKILL)
    assert isinstance(up.result(), auto.CommandError)
    (orphan,) = live_bid_ids(slow_mithril)
    assert task_ids_in_state(engine, stack) == [], "the state has no id for it: the create never returned"
    slow_mithril.control.call("POST", "settings", {"allocation_delay": 0})

    # The documented recovery (README, "Interrupted runs"): release the dead run's lock, drop the
    # create it never finished from the state, then `up`, which adopts the bid that create placed.
    with pytest.raises(auto.CommandError, match="locked"):
        stack.refresh()
    engine.run(stack, "cancel", "--yes")
    stack.refresh(clear_pending_creates=True)
    recovered = stack.up(policy_packs=[PACK])
    assert recovered.summary.result == "succeeded"
    assert live_bid_ids(slow_mithril) == [orphan], "the next up adopted the bid it had placed: none leaked"
    assert task_ids_in_state(engine, stack) == [orphan]
    assert recovered.outputs["task_id"].value == orphan
