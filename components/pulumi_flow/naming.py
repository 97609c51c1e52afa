"""Deterministic names for things on Mithril.

A resource's name on Mithril is its Pulumi name made safe plus a short hash of what makes its URN
unique: the parent's URN (which carries project, stack and the whole parent chain) or, at the
root, project and stack; then its own type and name. `TrainingCluster("llama")` and
`TrainingJob("llama")` therefore never share a name, nor do two stacks of one program.

A bid's name also carries a digest of its full specification (`bid_name`): a live bid of that
name is this resource's own bid, placed for exactly these machines, which is the only bid
`create` may adopt after an answer was lost. A changed specification gives a new name, so an old
and a new bid never clash either.

Names alone cannot tell two states apart: two teammates' `dev` stacks of one program compute the same
URNs. So every task and volume also carries an owner token, drawn at random once per state (by an
`Owner` resource that is in state before any bid or volume, or by `check` as a last resort) and
kept for the resource's life. The bid's name digests it with the specification, and a generated
volume name ends with its tag (`owner_tag`): a bid or volume is adopted only when its name carries
this state's token, so one state never takes over, changes or deletes what another created.

Like Pulumi's auto-names, a generated name is fixed when the resource is created: the provider's
`check` keeps the name already in state (`keep_auto_name`), so a later change of this scheme
never renames, and so never replaces, what exists.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Mapping
from typing import Any

HASH_LENGTH = 8
MAX_LENGTH = 63
AUTO_NAMED = "auto_named"
OWNER = "owner"  # the input that carries the owner token
OWNER_TOKEN_BYTES = 8  # 16 hex digits: a collision between two states is a 1 in 2**64 event
OWNER_RE = re.compile(r"^[0-9a-f]{16,64}$")


def identity(parent_urn: str | None, project: str, stack: str, resource_type: str, resource_name: str) -> str:
    """The material of a URN: enough to tell this resource from every other in every stack."""
    scope = parent_urn if parent_urn else f"{project}\x1f{stack}"
    return "\x1f".join((scope, resource_type, resource_name))


def _digest(material: str) -> str:
    return hashlib.sha256(material.encode()).hexdigest()[:HASH_LENGTH]


def _stem(resource_name: str, allowed: str) -> str:
    stem = re.sub(allowed, "-", resource_name.lower()).strip("-._")
    return re.sub(r"-{2,}", "-", stem)


def task_name(resource_name: str, urn_identity: str) -> str:
    """A Flow task name: ^[a-z0-9][a-z0-9._-]*$, at most 63 characters."""
    stem = _stem(resource_name, r"[^a-z0-9._-]+") or "task"
    stem = stem[: MAX_LENGTH - HASH_LENGTH - 1].rstrip("-._")
    return f"{stem}-{_digest(urn_identity)}"


def volume_name(resource_name: str, urn_identity: str) -> str:
    """A Mithril volume name: ^[a-z]([-a-z0-9]*[a-z0-9])?$, at most 63 characters."""
    stem = _stem(resource_name, r"[^a-z0-9]+")
    if not stem or not stem[0].isalpha():
        stem = "vol-" + stem
    stem = stem[: MAX_LENGTH - HASH_LENGTH - 1].rstrip("-")
    return f"{stem}-{_digest(urn_identity)}"


def canonical(value: Any) -> Any:
    """One form per value: Pulumi's wire makes every number a float (4 -> 4.0) and its state JSON does not."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    return value


def bid_name(name: str, spec: Mapping[str, Any], owner: str | None = None) -> str:
    """The bid's name on Mithril: the task name, then a digest of everything that decides what runs and of the
    owner token. Resources created before owner tokens existed have none: their digest is unchanged."""
    material = dict(spec) if owner is None else {**spec, OWNER: owner}
    text = json.dumps(canonical(material), sort_keys=True, separators=(",", ":"), default=str)
    return f"{name}.{_digest(text)}"


def new_owner_token() -> str:
    return secrets.token_hex(OWNER_TOKEN_BYTES)


def owner_tag(owner: str) -> str:
    """The short mark of an owner token that a volume's generated name ends with."""
    return _digest(f"owner\x1f{owner}")


def owner_tagged_volume_name(name: str, owner: str) -> str:
    """A generated volume name that carries its owner's tag (idempotent), still a valid Mithril volume name."""
    tag = owner_tag(owner)
    if name.endswith(f"-{tag}"):
        return name
    stem = name[: MAX_LENGTH - HASH_LENGTH - 1].rstrip("-")
    return f"{stem}-{tag}"


def carries_owner(volume_name: str, owner: str | None) -> bool:
    return owner is not None and volume_name.endswith(f"-{owner_tag(owner)}")


def keep_owner(olds: Mapping[str, Any], news: dict[str, Any]) -> None:
    """The owner token is fixed when a resource is created, like its name: the one in state stays. A resource
    given none (a raw `Task` in another language) gets one drawn here, so it is still never another state's."""
    if olds.get(OWNER):
        news[OWNER] = olds[OWNER]
    elif news.get(OWNER) is None:
        news[OWNER] = new_owner_token()


def keep_auto_name(olds: Mapping[str, Any], news: dict[str, Any], key: str) -> None:
    """Pulumi's auto-naming rule: a generated name, once in state, stays. State written before
    `auto_named` existed had only generated names, so it counts as auto-named too."""
    if news.get(AUTO_NAMED) and olds.get(key) and olds.get(AUTO_NAMED, True):
        news[key] = olds[key]
