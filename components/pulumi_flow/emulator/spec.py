"""Mithril's OpenAPI spec, the copy inside flow-compute: the one source of what a request and an answer may be.

The emulator refuses every request whose query or JSON body breaks the spec's request schemas, with
the spec's own `HTTPValidationError` shape (a 422 whose `detail` lists each problem's location), and
the tests check every answer against the response schemas from the same file.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import attrs


def spec_path() -> Path:
    import flow

    return Path(flow.__file__).parent / "adapters" / "providers" / "builtin" / "mithril" / "api" / "openapi.json"


@functools.cache
def load() -> dict[str, Any]:
    return json.loads(spec_path().read_text())


def json_schema(node: Any) -> Any:
    """The spec is 3.1 but writes `nullable: true` (3.0 style): make null explicit for JSON Schema."""
    if isinstance(node, dict):
        node = {k: json_schema(v) for k, v in node.items()}
        if node.pop("nullable", False):
            if "type" in node:
                types = node["type"] if isinstance(node["type"], list) else [node["type"]]
                node["type"] = [*types, "null"]
            elif "$ref" in node:
                node = {"anyOf": [{"$ref": node.pop("$ref")}, {"type": "null"}], **node}
            if "enum" in node:
                node["enum"] = [*node["enum"], None]
        return node
    if isinstance(node, list):
        return [json_schema(v) for v in node]
    return node


@functools.cache
def components() -> dict[str, Any]:
    return json_schema(load()["components"])


@functools.cache
def _templates() -> tuple[tuple[re.Pattern[str], str], ...]:
    compiled = [(re.compile(re.sub(r"\{[^}/]+\}", "[^/]+", path)), path) for path in load()["paths"]]
    return tuple(sorted(compiled, key=lambda item: item[1].count("{")))  # literal paths first


def operation(method: str, path: str) -> tuple[str, dict[str, Any]] | None:
    """(path template, operation) of Mithril's API for this request, or None."""
    for pattern, template in _templates():
        if pattern.fullmatch(path):
            found = load()["paths"][template].get(method.lower())
            if found is not None:
                return template, found
    return None


@functools.cache
def _validator(schema_json: str) -> Any:
    import jsonschema

    schema = {**json.loads(schema_json), "components": components()}
    return jsonschema.Draft202012Validator(schema)


def _problems(schema: dict[str, Any], value: Any, where: list[str]) -> list[dict[str, Any]]:
    """Each problem located as FastAPI (which wrote this spec) locates it: a missing field by its name."""
    validator = _validator(json.dumps(json_schema(schema), sort_keys=True))
    problems: list[dict[str, Any]] = []
    for error in sorted(validator.iter_errors(value), key=lambda e: list(map(str, e.absolute_path))):
        loc = [*where, *map(str, error.absolute_path)]
        if error.validator == "required" and isinstance(error.instance, dict):
            # jsonschema reports each missing field with the whole `required` list: name each one once.
            for name in error.validator_value:
                missing = {"loc": [*loc, name], "msg": "field required", "type": "value_error.missing"}
                if name not in error.instance and missing not in problems:
                    problems.append(missing)
        else:
            problems.append({"loc": loc, "msg": error.message, "type": "value_error"})
    return problems


def _query_value(raw: str, schema: dict[str, Any]) -> Any:
    """A query string value as the spec's type reads it (`?limit=5` is an integer)."""
    types = schema.get("type")
    types = types if isinstance(types, list) else [types]
    if "integer" in types and re.fullmatch(r"-?\d+", raw):
        return int(raw)
    if "number" in types and re.fullmatch(r"-?\d+(\.\d+)?", raw):
        return float(raw)
    if "boolean" in types and raw in ("true", "false"):
        return raw == "true"
    return raw


def request_problems(method: str, path: str, query: dict[str, list[str]], body: Any) -> list[dict[str, Any]]:
    """Every way this request breaks the spec's request schemas, as `HTTPValidationError.detail` items."""
    found = operation(method, path)
    if found is None:
        return []
    _template, op = found
    problems: list[dict[str, Any]] = []
    for parameter in op.get("parameters", []):
        if parameter.get("in") != "query":
            continue
        name, schema = parameter["name"], parameter.get("schema", {})
        values = query.get(name)
        if not values:
            if parameter.get("required"):
                problems.append({"loc": ["query", name], "msg": "field required", "type": "value_error.missing"})
            continue
        array = "array" in (schema.get("type") if isinstance(schema.get("type"), list) else [schema.get("type")])
        value = ([_query_value(v, schema.get("items", {})) for v in values] if array
                 else _query_value(values[-1], schema))
        problems += _problems(schema, value, ["query", name])
    content = (op.get("requestBody") or {}).get("content", {}).get("application/json")
    if content is not None:
        if body is None:
            if (op.get("requestBody") or {}).get("required"):
                problems.append({"loc": ["body"], "msg": "field required", "type": "value_error.missing"})
        else:
            problems += _problems(content["schema"], body, ["body"])
    return problems


@attrs.frozen
class StricterRule:
    """Where the emulator refuses what the spec's schemas allow, and why. Each is what a real Mithril must do for the
    Flow SDK to work as written (the SDK file cited), or an identity the spec's types cannot express. A schema-valid
    request the emulator refuses for any other reason is a bug (tests/emulator/test_schemathesis.py)."""

    operations: tuple[str, ...]  # "METHOD /v2/path" as the spec names them
    message: str  # a regular expression for the refusal's `detail[].msg`
    source: str


STRICTER_THAN_SPEC: tuple[StricterRule, ...] = (
    StricterRule(
        ("GET /v2/instances", "GET /v2/instances/pricing/history", "GET /v2/instances/status/history",
         "GET /v2/spot/bids", "GET /v2/ssh-keys", "GET /v2/volumes", "POST /v2/spot/bids", "POST /v2/ssh-keys",
         "POST /v2/volumes", "GET /v2/reservation", "POST /v2/reservation", "GET /v2/reservation/quote",
         "GET /v2/reservation/availability"),
        r"unknown project .*",
        "A project is an id the spec types as any string; a server answers only for projects that exist. The SDK "
        "resolves MITHRIL_PROJECT to an id from GET /v2/projects before scoping a call to it "
        "(flow/adapters/providers/builtin/mithril/provider/facets/meta.py, get_project_id)."),
    StricterRule(
        ("POST /v2/reservation", "GET /v2/reservation/quote", "GET /v2/reservation/availability"),
        r"end_time \S+ must be after start_time \S+|end_time \S+ has passed|mode=\w+ needs (start_time and quantity|"
        r"end_time)|unknown instance type .*",
        "A reservation is a window of time: the spec types its ends as independent strings, but a window ends after "
        "it starts, a reservation cannot be bought for the past, and an availability question needs the window it "
        "asks about (the SDK sends start and quantity: flow/sdk/clients/reservations.py, availability). "
        "instance_type is an `it_` id from GET /v2/reservation/instance-types."),
    StricterRule(
        ("POST /v2/reservation", "PATCH /v2/reservation/{reservation_fid}"),
        r"volume \S+ does not exist in .*",
        "A volume is an id the spec types as any string; a reservation's instances mount only volumes that exist, "
        "in its own region, as a bid's do (the SDK checks a task's volumes' region before it places it)."),
    StricterRule(
        ("POST /v2/spot/bids",),
        r"unknown instance type .*",
        "instance_type is an `it_` id the spec types as any string; the SDK takes it from GET /v2/instance-types "
        "(flow/adapters/providers/builtin/mithril/api/client.py) and a bid for a type that does not exist cannot "
        "be allocated."),
    StricterRule(
        ("POST /v2/volumes",),
        r"size_gb must be an integer 1\.\.\d+, got .*",
        "The spec's size_gb carries pydantic ByteSize bounds but no JSON type, so it admits anything, null "
        "included. The SDK sends a positive integer (facets/storage.py, create_volume: required_positive_int_value) "
        "within flow.utils.volume_limits (MIN_VOLUME_SIZE_GB..MAX_VOLUME_SIZE_GB)."),
    StricterRule(
        ("GET /v2/instances/pricing/history", "GET /v2/instances/status/history", "GET /v2/pricing/history",
         "GET /v2/reservation/quote", "GET /v2/reservation/availability", "POST /v2/reservation",
         "POST /v2/reservation/{reservation_fid}/extend"),
        r"(start|end|earliest_start|latest_end)_time (must be|is required,) an ISO 8601 time such as .*",
        "The spec types these as strings of `format: datetime`, which JSON Schema does not know (its format is "
        "`date-time`), so any string passes the schema; its examples are ISO 8601, and a server can filter by "
        "time only on a time. The SDK sends ISO 8601 (flow/application/market.py, _history_window_start)."),
    StricterRule(
        ("GET /v2/instances/pricing/history", "GET /v2/instances/status/history", "GET /v2/spot/bids",
         "GET /v2/instances", "GET /v2/reservation"),
        r"next_cursor .* is not one this emulator gave",
        "A cursor is a token the server gave in an earlier page, which the spec types as any string."),
    StricterRule(
        ("POST /v2/api-keys",),
        r"name is required and must be a non-empty string, got .*",
        "The SDK always names the keys it mints (flow/adapters/providers/builtin/mithril/domain/node_keys.py, "
        "node_key_name); a nameless key could not be told apart in GET /v2/api-keys."),
)


def stricter_rule(operation_name: str, message: str) -> StricterRule | None:
    """The documented rule behind a refusal of a schema-valid request, or None (then it is a bug)."""
    for rule in STRICTER_THAN_SPEC:
        if operation_name in rule.operations and re.fullmatch(rule.message, message):
            return rule
    return None
