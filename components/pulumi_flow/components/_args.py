"""attrs converters built from the shared input rules.

An argument that is a plain value is checked and normalised when the args object is built,
so a mistake fails at construction, before anything is registered. A Pulumi Output is left
alone: its value is not known yet, and the provider's `check` sees it once it is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from pulumi_flow.validation import is_unknown


def rule(check: Callable[[Any, str], Any], *, optional: bool = False) -> attrs.Converter:
    def convert(value: Any, instance: Any, field: attrs.Attribute) -> Any:
        if value is None and optional:
            return None
        if is_unknown(value):
            return value
        return check(value, f"{type(instance).__name__}.{field.name}")

    return attrs.Converter(convert, takes_self=True, takes_field=True)


def recorded_inputs(args: Any) -> dict[str, Any]:
    """An Args object as the component's inputs in state (as pulumi-eks records its own): its fields,
    with mounts and volume specs reduced to plain data, so `pulumi stack export` shows what was asked."""

    def plain(value: Any) -> Any:
        if attrs.has(type(value)):
            return {f.name: plain(getattr(value, f.name)) for f in attrs.fields(type(value))
                    if f.name not in ("volume",)}
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        return value

    return {f.name: plain(getattr(args, f.name)) for f in attrs.fields(type(args))}
