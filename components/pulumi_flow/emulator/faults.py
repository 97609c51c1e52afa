"""Scripted HTTP faults: what a flaky network and an overloaded API do to a client.

A rule matches requests by method and path pattern and fires `times` times. Faults live at
the HTTP layer on purpose: the auction in `models.py` never knows a request failed.
"""

from __future__ import annotations

import re
import threading
from typing import Any, Literal

import attrs

FaultKind = Literal["status", "delay", "drop", "accept_then_fail"]
KINDS: tuple[str, ...] = ("status", "delay", "drop", "accept_then_fail")


def _upper(value: str) -> str:
    return value.upper()


@attrs.define
class FaultRule:
    """One scripted fault.

    - ``status``: answer ``status`` (500, 502, 503, 429…) without touching the backend;
      ``retry_after`` seconds go into a ``Retry-After`` header.
    - ``delay``: sleep ``delay`` seconds before serving, longer than a client timeout if you like.
    - ``drop``: close the connection without any answer; the backend is not touched.
    - ``accept_then_fail``: the backend performs the request, then the client gets ``status``
      (the answer is lost): the case an idempotent client must survive.

    The first ``skip`` matching requests pass untouched; then the rule fires ``times`` times.
    ``body`` replaces the error's ``detail`` text (an API that echoes too much, say).
    """

    kind: str = attrs.field(validator=attrs.validators.in_(KINDS))
    method: str = attrs.field(default="*", converter=_upper)
    path: str = attrs.field(default=".*")
    status: int = attrs.field(default=503, validator=attrs.validators.and_(
        attrs.validators.ge(400), attrs.validators.le(599)))
    retry_after: float | None = attrs.field(default=None)
    delay: float = attrs.field(default=0.0, validator=attrs.validators.ge(0))
    times: int = attrs.field(default=1, validator=attrs.validators.ge(1))
    skip: int = attrs.field(default=0, validator=attrs.validators.ge(0))
    body: str | None = None
    seen: int = 0
    fired: int = 0

    def matches(self, method: str, path: str) -> bool:
        return (self.method in ("*", method)) and re.fullmatch(self.path, path) is not None

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


class FaultPlan:
    """Rules in the order they were added; the first live match fires."""

    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()

    def add(self, spec: dict[str, Any]) -> FaultRule:
        fields = {f.name for f in attrs.fields(FaultRule)} - {"fired", "seen"}
        unknown = set(spec) - fields
        if unknown:
            raise ValueError(f"unknown fault field(s) {sorted(unknown)}; expected some of {sorted(fields)}")
        rule = FaultRule(**spec)
        try:
            re.compile(rule.path)
        except re.error as exc:
            raise ValueError(f"path is not a regular expression: {exc}") from None
        with self._lock:
            self._rules.append(rule)
        return rule

    def take(self, method: str, path: str) -> FaultRule | None:
        with self._lock:
            for rule in self._rules:
                if rule.fired < rule.times and rule.matches(method, path):
                    rule.seen += 1
                    if rule.seen > rule.skip:
                        rule.fired += 1
                        return rule
        return None

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def to_json(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.to_json() for r in self._rules]
