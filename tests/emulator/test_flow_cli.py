"""The real `flow` CLI (flow-compute's console script) against the emulator: a client nobody here wrote.

Configured by environment variables only, with a temporary HOME, as a user's shell would be. Each
everyday command must succeed, and what `flow status` prints must match the emulator's state.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pulumi_flow.emulator import Settings
from pulumi_flow.testing.emulator import RunningEmulator, running_emulator

pytestmark = pytest.mark.slow

FLOW = str(Path(sys.executable).parent / "flow")


class FlowCli:
    def __init__(self, mithril: RunningEmulator, home: Path) -> None:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("MITHRIL_", "FLOW_"))}
        self.env = {**base, **mithril.env, "HOME": str(home), "NO_COLOR": "1", "COLUMNS": "200"}

    def status(self, *args: str) -> str:
        """`flow status`, read fresh: the SDK caches bid lists for 5 s across invocations (FLOW_DIR), so a
        status right after a pause or cancel would otherwise show the state before it."""
        shutil.rmtree(self.env["FLOW_HTTP_CACHE_DIR"], ignore_errors=True)
        return self("status", *args).stdout

    def __call__(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([FLOW, *args], env=self.env, capture_output=True, text=True, timeout=180)
        if ok:
            assert done.returncode == 0, f"flow {' '.join(args)} -> {done.returncode}\n{done.stdout}\n{done.stderr}"
        return done


@pytest.fixture
def cli_on_emulator(tmp_path: Path) -> Iterator[tuple[FlowCli, RunningEmulator]]:
    with running_emulator(Settings(allocation_delay=0.0, boot_delay=0.0), flow_dir=str(tmp_path / "flow"),
                          set_environ=False) as mithril:
        yield FlowCli(mithril, tmp_path / "home"), mithril


def test_prices_and_availability(cli_on_emulator: tuple[FlowCli, RunningEmulator]) -> None:
    flow, mithril = cli_on_emulator
    assert "8\u00d7A100" in flow("availability").stdout  # the CLI's multiplication sign
    flow("pricing")
    assert not [r for r in mithril.control.requests() if r["status"] >= 400], "every request was served"


def test_ssh_keys_upload_list_delete(cli_on_emulator: tuple[FlowCli, RunningEmulator], tmp_path: Path) -> None:
    flow, mithril = cli_on_emulator
    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    flow("ssh-key", "upload", str(key.with_suffix(".pub")), "--name", "laptop")
    (stored,) = mithril.backend.list_ssh_keys()
    public = key.with_suffix(".pub").read_text().split()[:2]
    assert stored["name"] == "laptop" and stored["public_key"].split()[:2] == public
    assert "laptop" in flow("ssh-key", "list").stdout
    flow("ssh-key", "delete", stored["fid"], "--yes")
    assert mithril.backend.list_ssh_keys() == []


@pytest.mark.parametrize("region", [None, "us-central1-a"])
def test_a_task_with_a_volume_through_its_life(cli_on_emulator: tuple[FlowCli, RunningEmulator],
                                              region: str | None) -> None:
    flow, mithril = cli_on_emulator
    where = ["-r", region] if region else []
    flow("volume", "create", "--size", "100", "--name", "data", "--interface", "file", "--yes", *where)
    (volume,) = mithril.control.live_volumes()
    assert volume["capacity_gb"] == 100 and (region is None or volume["region"] == region)
    assert "data" in flow("volume", "list").stdout and "data" in flow("volume", "info", "data").stdout

    run_region = ["-r", volume["region"]] if region else []
    flow("run", "sleep infinity", "-i", "8xa100", "-m", "30", "--name", "job1", "--mount", "/data=data",
         "--no-upload-code", "--wait-until", "running", "--yes", *run_region, ok=region is not None)
    if region is None:
        # The SDK's default region sells no GPUs (it is storage only here, as on Mithril), so a task that
        # mounts a volume there cannot run: the CLI must say so, not hang or crash.
        return
    (bid,) = mithril.control.live_bids()
    assert bid["launch_specification"]["volumes"] == [volume["fid"]]
    status = flow.status()
    assert re.search(r"job1\S*\s+running\s+8xa100", status), status
    detail = flow.status("job1")
    (machine,) = mithril.backend.list_instances([bid["fid"]])
    for fact in ("Status: \u25c6 running", f"Region: {bid['region']}", f"IP: {machine['ssh_destination']}:22",
                 f"Private IP: {machine['private_ip']}", f"Limit Price: {bid['limit_price']}/hr"):
        assert fact in detail, (fact, detail)
    flow("status", "job1", "--wait-until", "running", "--timeout", "30")

    flow("bid", "update", bid["fid"], "-m", "35", "--yes")
    assert mithril.backend.get_bid(bid["fid"])["limit_price"] == "$35.00"
    flow("bid", "pause", bid["fid"], "--yes")
    assert mithril.backend.get_bid(bid["fid"])["status"] == "Paused"
    assert re.search(r"job1\S*\s+paused", flow.status())
    flow("bid", "unpause", bid["fid"])
    assert mithril.backend.get_bid(bid["fid"])["status"] == "Allocated"

    refused = flow("volume", "delete", "data", "--yes", ok=False)
    assert refused.returncode != 0 and [v["fid"] for v in mithril.control.live_volumes()] == [volume["fid"]]

    flow("cancel", "job1", "--yes")
    assert mithril.control.live_bids() == []
    assert re.search(r"job1\S*\s+cancelled", flow.status("--all"))
    flow("volume", "delete", "data", "--yes")
    assert mithril.control.live_volumes() == []


def test_flow_mount_takes_a_volume_pulumi_flow_attached_in_place_as_attached(
        cli_on_emulator: tuple[FlowCli, RunningEmulator], monkeypatch: pytest.MonkeyPatch) -> None:
    """What the README tells a user to run for a volume in `unmounted_volume_ids`: `flow mount` finds it attached
    and sends no PATCH (the SDK pauses and resumes a bid when it attaches a volume itself), then mounts over SSH,
    which the emulator's machines do not serve, so it reports the volume attached and unverified."""
    from pulumi_flow.provider import FlowTaskProvider, FlowVolumeProvider
    from tests.provider.conftest import checked_task, checked_volume

    flow, mithril = cli_on_emulator
    for key, value in mithril.env.items():
        monkeypatch.setenv(key, value)
    data, scratch = (FlowVolumeProvider().create(checked_volume(volume_name=name, region="us-central1-a")).id
                     for name in ("data-1", "scratch-1"))
    tasks = FlowTaskProvider()
    tasks.poll_interval_seconds = 0.05
    created = tasks.create(checked_task(volumes=[{"volume_id": data, "mount_path": "/data"}]))
    news = tasks.check(created.outs, {**created.outs, "volumes": [
        {"volume_id": data, "mount_path": "/data"}, {"volume_id": scratch, "mount_path": "/mnt/scratch"}]}).inputs
    assert tasks.update(created.id, created.outs, news).outs["unmounted_volume_ids"] == [scratch]
    mithril.control.clear_requests()

    done = flow("mount", scratch, created.id, "--mount-point", "/mnt/scratch", "--json", "--yes", "--no-wait")
    assert '"status": "attached"' in done.stdout, done.stdout
    assert mithril.control.write_requests() == [], "no PATCH, no pause: the bid keeps its machines"
    assert mithril.backend.get_bid(created.id)["status"] == "Allocated"
