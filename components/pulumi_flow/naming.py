"""Deterministic names for things on Mithril.

A dynamic provider's `check` never sees the URN, so the name is computed in the program:
the resource name made safe, plus a short hash of (project, stack, kind, name). Two stacks
never collide, and the same resource always gets the same name, which is what lets
`create` find and adopt its own bid after an ambiguous failure.
"""

from __future__ import annotations

import hashlib
import re

HASH_LENGTH = 8
MAX_LENGTH = 63


def _digest(project: str, stack: str, kind: str, resource_name: str) -> str:
    material = "\x1f".join((project, stack, kind, resource_name)).encode()
    return hashlib.sha256(material).hexdigest()[:HASH_LENGTH]


def _stem(resource_name: str, allowed: str) -> str:
    stem = re.sub(allowed, "-", resource_name.lower()).strip("-._")
    return re.sub(r"-{2,}", "-", stem)


def task_name(project: str, stack: str, kind: str, resource_name: str) -> str:
    """A Flow task name: ^[a-z0-9][a-z0-9._-]*$, at most 63 characters."""
    stem = _stem(resource_name, r"[^a-z0-9._-]+") or "task"
    stem = stem[: MAX_LENGTH - HASH_LENGTH - 1].rstrip("-._")
    return f"{stem}-{_digest(project, stack, kind, resource_name)}"


def volume_name(project: str, stack: str, resource_name: str) -> str:
    """A Mithril volume name: ^[a-z]([-a-z0-9]*[a-z0-9])?$, at most 63 characters."""
    stem = _stem(resource_name, r"[^a-z0-9]+")
    if not stem or not stem[0].isalpha():
        stem = "vol-" + stem
    stem = stem[: MAX_LENGTH - HASH_LENGTH - 1].rstrip("-")
    return f"{stem}-{_digest(project, stack, 'volume', resource_name)}"
