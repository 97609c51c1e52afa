"""An emulator in this process (for `pulumi-flow run`, tests and demos), and steering it over its control API."""

from __future__ import annotations

import json
import os
import tempfile
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import attrs

from pulumi_flow.emulator.models import Settings
from pulumi_flow.emulator.records import PROJECT_NAME
from pulumi_flow.emulator.server import MithrilEmulator

TEST_API_KEY = "fkey_pulumi_flow_tests_0123456789"
FAST = Settings(allocation_delay=0.05, boot_delay=0.05)
WRITE_METHODS = ("POST", "PATCH", "PUT", "DELETE")


@attrs.define
class EmulatorControl:
    """The emulator's `/_emulator/` API over HTTP: works for an emulator in another process too."""

    url: str

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + "/_emulator/" + path.lstrip("/"), data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            payload = response.read()
        return json.loads(payload) if payload else None

    def state(self) -> dict[str, Any]:
        return self.call("GET", "state")

    def live_bids(self) -> list[dict[str, Any]]:
        return self.state()["bids"]

    def live_volumes(self) -> list[dict[str, Any]]:
        return self.state()["volumes"]

    def preempt(self, bid_id: str) -> dict[str, Any]:
        return self.call("POST", f"bids/{bid_id}/preempt")

    def terminate(self, bid_id: str) -> dict[str, Any]:
        return self.call("POST", f"bids/{bid_id}/terminate")

    def pause(self, bid_id: str, paused: bool = True) -> dict[str, Any]:
        return self.call("POST", f"bids/{bid_id}/pause", {"paused": paused})

    def set_limit_price(self, bid_id: str, limit_price: str) -> dict[str, Any]:
        return self.call("POST", f"bids/{bid_id}/limit-price", {"limit_price": limit_price})

    def forget_bid(self, bid_id: str) -> None:
        self.call("DELETE", f"bids/{bid_id}")

    def delete_volume(self, volume_id: str) -> None:
        self.call("DELETE", f"volumes/{volume_id}")

    def set_market(self, instance_type: str, region: str, price_cents: int) -> None:
        self.call("POST", "market", {"instance_type": instance_type, "region": region, "price_cents": price_cents})

    def set_capacity(self, region: str, capacity: int, instance_type: str | None = None) -> list[str]:
        """How many instances the region's markets hold from now on; returns the bids given notice (or preempted)."""
        body = {"region": region, "capacity": capacity, "instance_type": instance_type}
        return list(self.call("POST", "capacity", body)["preempted"])

    def schedule_market(self, instance_type: str, region: str, moves: list[tuple[float, int]]) -> None:
        """The market moves to each price (cents) that many seconds from now, as the emulator's clock runs."""
        self.call("POST", "market", {"instance_type": instance_type, "region": region,
                                     "schedule": [{"after_seconds": a, "price_cents": c} for a, c in moves]})

    def set_reservation_quote(self, instance_type: str, region: str, unit_price_cents: int) -> None:
        """The unit price (cents an instance-hour) that quotes and new reservations get here from now on."""
        self.call("POST", "reservations/quote", {"instance_type": instance_type, "region": region,
                                                 "unit_price_cents": unit_price_cents})

    def end_reservation(self, reservation_id: str) -> dict[str, Any]:
        """Mithril ends the reservation now, before its end time."""
        return self.call("POST", f"reservations/{reservation_id}/end")

    def add_fault(self, **rule: Any) -> dict[str, Any]:
        return self.call("POST", "faults", rule)

    def clear_faults(self) -> None:
        self.call("DELETE", "faults")

    def requests(self) -> list[dict[str, Any]]:
        return self.call("GET", "requests")

    def clear_requests(self) -> None:
        self.call("DELETE", "requests")

    def write_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests() if r["method"] in WRITE_METHODS]


@attrs.define
class RunningEmulator:
    """An emulator in this process, with the environment that points the Flow SDK at it."""

    emulator: MithrilEmulator
    control: EmulatorControl
    env: Mapping[str, str]

    @property
    def url(self) -> str:
        return self.emulator.url

    @property
    def backend(self) -> Any:
        return self.emulator.backend


def sdk_environment(url: str, flow_dir: str, api_key: str = TEST_API_KEY) -> dict[str, str]:
    return {
        "MITHRIL_API_URL": url,
        "MITHRIL_API_KEY": api_key,
        "MITHRIL_PROJECT": PROJECT_NAME,
        "FLOW_DIR": flow_dir,
        "FLOW_PROVIDER": "mithril",
        "FLOW_HTTP_CACHE_DIR": os.path.join(flow_dir, "http_cache"),
    }


@contextmanager
def running_emulator(settings: Settings | None = None, flow_dir: str | None = None,
                     set_environ: bool = True) -> Iterator[RunningEmulator]:
    """Start an emulator on a free loopback port; with `set_environ`, point this process's
    Flow SDK at it (and restore the environment afterwards)."""
    emulator = MithrilEmulator(settings=attrs.evolve(settings or FAST)).start()
    own_dir = None
    if flow_dir is None:
        own_dir = tempfile.TemporaryDirectory(prefix="pulumi-flow-")
        flow_dir = own_dir.name
    env = sdk_environment(emulator.url, flow_dir)
    saved = {key: os.environ.get(key) for key in (*env, "MITHRIL_REGION", "FLOW_DEMO_MODE")}
    try:
        if set_environ:
            os.environ.update(env)
            os.environ.pop("MITHRIL_REGION", None)
            os.environ.pop("FLOW_DEMO_MODE", None)
        yield RunningEmulator(emulator, EmulatorControl(emulator.url), env)
    finally:
        if set_environ:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        emulator.stop()
        if own_dir is not None:
            own_dir.cleanup()
