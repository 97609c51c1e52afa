"""The dynamic provider behind `FlowOwner`: a random token that marks what one Pulumi state owns.

Names derive from project, stack and URN, so two states (two teammates' `dev` stacks, or a `pulumi-flow run`
beside a real stack) compute the same ones. The token is what tells them apart: drawn once when the owner is
created, kept in state, and folded into every bid's and generated volume's name by the tasks and volumes that
take it as their `owner` input. Because those resources depend on it, the token is in state before any bid or
volume is placed, so a create retried after `pulumi up` was killed finds its own bid again, and only it.

Nothing here talks to Mithril: creating, refreshing or deleting an owner costs nothing and needs no key.
"""

from __future__ import annotations

from typing import Any

from pulumi.dynamic import CheckResult, CreateResult, DiffResult, ReadResult, ResourceProvider

from pulumi_flow import declarations as d
from pulumi_flow import naming

OUTPUT_KEYS = d.OWNER.output_keys
(TOKEN,) = OUTPUT_KEYS
ID_PREFIX = "owner-"


class FlowOwnerProvider(ResourceProvider):
    """Create (draw a token), read (the state is the only record), delete (nothing to do)."""

    serialize_as_secret_always = False

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        return CheckResult({}, [])  # no inputs: an owner is the same owner whatever the program says

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return DiffResult(changes=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        token = naming.new_owner_token()
        return CreateResult(f"{ID_PREFIX}{token}", {TOKEN: token})

    def read(self, owner_id: str, props: dict[str, Any]) -> ReadResult:
        # The id carries the token too, so `pulumi import` of an owner (a state rebuilt by hand) recovers it.
        token = props.get(TOKEN) or owner_id.removeprefix(ID_PREFIX)
        return ReadResult(owner_id, {TOKEN: token}, inputs={})

    def delete(self, owner_id: str, props: dict[str, Any]) -> None:
        return None
