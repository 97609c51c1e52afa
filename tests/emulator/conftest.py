"""Validation of emulator responses against the OpenAPI spec that ships inside flow-compute."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import jsonschema
import pytest

from pulumi_flow.emulator import spec as emulator_spec
from pulumi_flow.emulator.models import MithrilBackend, Settings


def spec() -> dict[str, Any]:
    return emulator_spec.load()


_nullable_to_type = emulator_spec.json_schema


@cache
def _components() -> dict[str, Any]:
    return _nullable_to_type(spec()["components"])  # type: ignore[no-any-return]


@cache
def _templates() -> list[tuple[re.Pattern[str], str]]:
    out = []
    for template in spec()["paths"]:
        pattern = re.sub(r"\{[^}]+\}", r"[^/]+", template)
        out.append((re.compile(pattern + "$"), template))
    # Literal paths before templated ones: /v2/spot/bids before /v2/spot/bids/{id}.
    return sorted(out, key=lambda item: item[1].count("{"))


ERROR_SCHEMA: dict[str, Any] = {"type": "object", "required": ["detail"],
                                "properties": {"detail": {"type": ["string", "array"]}}}


def response_schema(method: str, path: str, status: int) -> dict[str, Any] | None:
    for pattern, template in _templates():
        if pattern.match(path):
            operation = spec()["paths"][template].get(method.lower())
            if operation is None:
                continue
            response = operation["responses"].get(str(status))
            if response is None and status >= 400:
                return ERROR_SCHEMA  # the spec leaves most 4xx undocumented; FastAPI's shape
            if response is None:
                raise AssertionError(f"{method} {path} answered {status}, which the spec does not list")
            content = response.get("content", {}).get("application/json")
            return _nullable_to_type(content["schema"]) if content else None
    if status >= 400:
        return ERROR_SCHEMA  # a refusal of a method or path Mithril lacks: still JSON with `detail`
    raise AssertionError(f"{method} {path} is not a route in Mithril's spec")


def validate_response(method: str, path: str, status: int, body: Any) -> None:
    if path == "/marketplace/v1/regions" and status == 200:
        # Outside the OpenAPI spec: the SDK's own model of it is the contract.
        from flow.adapters.providers.builtin.mithril.api.types import RegionModel

        assert body["data"] and [RegionModel(**row) for row in body["data"]]
        return
    schema = response_schema(method, path, status)
    if schema is None:
        assert body is None, f"{method} {path} {status} should have no body"
        return
    jsonschema.validate(body, {**schema, "components": _components()},
                        cls=jsonschema.Draft202012Validator)


@pytest.fixture
def validated_log(mithril: Any) -> Any:
    """Keep response bodies; at teardown, check every one against the spec."""
    mithril.emulator.log.keep_bodies = True
    yield mithril.emulator.log
    entries = mithril.emulator.log.entries()
    assert entries, "no Mithril request was made, so nothing was validated"
    for entry in entries:
        if entry["status"] in (0,) or entry["status"] >= 500 or entry["status"] == 429:
            continue  # injected faults carry no spec body
        validate_response(entry["method"], entry["path"], entry["status"], entry.get("body"))


class Clock:
    """The backend's clock, driven by the test: every transition happens exactly when the test says."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def backend(clock: Clock) -> MithrilBackend:
    """The auction without HTTP: bids allocate 10 s after they are placed (or repriced into the market) and
    instances boot 5 s after allocation."""
    return MithrilBackend(Settings(allocation_delay=10, boot_delay=5), clock=clock)
