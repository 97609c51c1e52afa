"""Hostile input: every request gets a JSON answer that refuses it; the emulator never drops a connection.

The cases are the ones real clients and spec-driven fuzzing found: out-of-range query values, prices
that are not the SDK's `$25.60` form, wrongly typed fields, bodies nested 100,000 deep, a lying or
missing body, and fields a PATCH would silently ignore.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from pulumi_flow.emulator import Settings
from pulumi_flow.emulator.records import PROJECT_ID
from pulumi_flow.testing.emulator import TEST_API_KEY, RunningEmulator, running_emulator

A100_8X = "it_Sg1nDx1I8NFep60J"


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[RunningEmulator]:
    with running_emulator(Settings(allocation_delay=0.0, boot_delay=0.0, request_timeout=0.5),
                          flow_dir=str(tmp_path / "flow"), set_environ=False) as mithril:
        yield mithril


def exchange(mithril: RunningEmulator, request: bytes, *, done_sending: bool = True) -> tuple[int, dict[str, Any]]:
    """Send raw bytes; return the status and the JSON body. A closed socket without an answer fails.
    `done_sending=False` keeps the connection open for writing, as a client whose body is late does."""
    url = urlsplit(mithril.url)
    with socket.create_connection((url.hostname, url.port), timeout=10) as conn:
        conn.sendall(request)
        if done_sending:
            conn.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
            if b"\r\n\r\n" in data:
                head, _, body = data.partition(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                if len(body) >= length:
                    break
    assert data, "the connection was dropped without an answer"
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    assert b"content-type: application/json" in head.lower(), head
    return status, json.loads(body)


def http(method: str, path: str, body: Any = None, *, raw: bytes | None = None,
         headers: dict[str, str] | None = None) -> bytes:
    payload = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Authorization: Bearer {TEST_API_KEY}",
             "Content-Type: application/json", "Connection: close"]
    all_headers = {"Content-Length": str(len(payload)), **(headers or {})}
    lines += [f"{k}: {v}" for k, v in all_headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


def bid(**changes: Any) -> dict[str, Any]:
    body = {"project": PROJECT_ID, "region": "us-central1-a", "instance_type": A100_8X, "limit_price": "$30.00",
            "instance_quantity": 1, "name": "b", "launch_specification": {"volumes": [], "ssh_keys": []}}
    return {**body, **changes}


def spec(**changes: Any) -> dict[str, Any]:
    return {"volumes": [], "ssh_keys": [], **changes}


PRICES = ["$inf", "$-inf", "$1e308", "$1e400", "$ 5", "$1_000", "$1,000.00", "$5.555", "5.00", "$nan", "$0.00"]
CASES: list[tuple[str, bytes, int]] = [
    ("limit=abc", http("GET", f"/v2/spot/bids?project={PROJECT_ID}&limit=abc"), 422),
    ("limit=0", http("GET", f"/v2/spot/bids?project={PROJECT_ID}&limit=0"), 422),
    *[(f"create price {p}", http("POST", "/v2/spot/bids", bid(limit_price=p)), 422) for p in PRICES],
    *[(f"volumes {v!r}", http("POST", "/v2/spot/bids", bid(launch_specification=spec(volumes=v))), 422)
      for v in (5, [[1]], [{"a": 1}])],
    ("ssh_keys [1, {}]", http("POST", "/v2/spot/bids", bid(launch_specification=spec(ssh_keys=[1, {}]))), 422),
    ("script of 10,001 characters",
     http("POST", "/v2/spot/bids", bid(launch_specification=spec(startup_script="x" * 10_001))), 422),
    ("body of 10 MB", http("POST", "/v2/spot/bids", bid(launch_specification=spec(startup_script="x" * 10**7))),
     413),
    ("JSON nested 100,000 deep", http("POST", "/v2/spot/bids", raw=b"[" * 100_000 + b"]" * 100_000), 422),
    ("Content-Length: abc", http("POST", "/v2/volumes", raw=b"{}", headers={"Content-Length": "abc"}), 400),
    ("ssh key NaN", http("POST", "/v2/ssh-keys", raw=b'{"name": "k", "public_key": NaN}'), 422),
    ("ssh key object", http("POST", "/v2/ssh-keys", {"name": "k", "public_key": {"a": 1}}), 422),
    ("api-key expires_at 5", http("POST", "/v2/api-keys", {"name": "k", "expires_at": 5}), 422),
    ("volume name 'BAD NAME/..'", http("POST", "/v2/volumes", {"name": "BAD NAME/..", "project": PROJECT_ID,
                                                               "disk_interface": "File", "region": "us-central1-a",
                                                               "size_gb": 1}), 422),
]


@pytest.mark.parametrize(("case", "request_bytes", "status"), CASES, ids=[c[0] for c in CASES])
def test_hostile_input_is_refused_with_a_json_answer(emulator: RunningEmulator, case: str, request_bytes: bytes,
                                                    status: int) -> None:
    answered, body = exchange(emulator, request_bytes)
    assert answered == status, (case, body)
    assert isinstance(body.get("detail"), str | list)
    assert emulator.control.live_bids() == [] and emulator.control.live_volumes() == []
    assert emulator.backend.ssh_keys == {} and emulator.backend.api_keys == {}


def test_a_body_shorter_than_its_content_length_is_a_408_not_a_held_thread(emulator: RunningEmulator) -> None:
    status, body = exchange(emulator, http("POST", "/v2/volumes", raw=b"{}", headers={"Content-Length": "99"}),
                            done_sending=False)
    assert status == 408 and "did not arrive" in body["detail"]


@pytest.mark.parametrize("change", [{"limit_price": "$inf"}, {"limit_price": "$1e400"}, {"name": "renamed"},
                                    {"instance_quantity": 4}])
def test_a_bid_update_that_would_not_be_applied_is_refused(emulator: RunningEmulator,
                                                           change: dict[str, Any]) -> None:
    created, placed = emulator.backend.create_bid(bid(), None)
    assert placed
    status, body = exchange(emulator, http("PATCH", f"/v2/spot/bids/{created['fid']}", change))
    assert status == 422, body
    assert emulator.backend.get_bid(created["fid"])["limit_price"] == "$30.00"
