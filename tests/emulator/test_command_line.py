"""The emulator as users start it: `python -m pulumi_flow.emulator`, and its state file."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from .conftest import validate_response
from .test_sdk_over_http import _alias, _raw


def test_state_file_persists_across_restarts(tmp_path: Any) -> None:
    from pulumi_flow.emulator import MithrilEmulator

    state = tmp_path / "state.json"
    with MithrilEmulator(state_file=state) as first:
        created = _raw(first.url, "POST", "/v2/volumes", {"name": "keep", "project": "proj_emulator0001",
                                                          "disk_interface": "File", "region": "us-central1-a",
                                                          "size_gb": 10})[1]
    with MithrilEmulator(state_file=state) as second:
        listed = _raw(second.url, "GET", "/v2/volumes?project=proj_emulator0001")[1]
    assert [v["fid"] for v in listed] == [created["fid"]]


def test_command_line_prints_url_first_and_serves(tmp_path: Any) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "pulumi_flow.emulator", "--port", "0", "--capacity", "3",
                             "--preemption-notice", "5"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        status, body = _raw(url, "GET", "/v2/instance-types")
        validate_response("GET", "/v2/instance-types", status, body)
        assert {"8xa100", "8xh100", "8xh200"} <= {_alias(it["name"]) for it in body}
        status, rows = _raw(url, "GET", "/v2/spot/availability")
        assert len({r["region"] for r in rows}) >= 2
        assert {r["capacity"] for r in rows} == {3}, "--capacity: instances each market holds"
        status, settings = _raw(url, "POST", "/_emulator/settings", {})
        assert settings["preemption_notice"] == 5.0
    finally:
        proc.terminate()
        proc.wait(timeout=10)
