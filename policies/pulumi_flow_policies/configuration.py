"""What a `--policy-pack-config` changes from the pack's defaults, said where the verdicts are.

A config that disables a mandatory policy, or lowers a threshold, is the team's right; passing silently is not. Both
engines print these notes above the verdicts, so a green run under a weakened pack says so.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pulumi_flow import pricing
from pulumi_flow_policies import POLICIES

LEVEL = "enforcementLevel"
# Defaults that the schema states only as "merged over the built-in figures".
_BUILT_IN = {("infrastructure-bid-floor", "thresholds"):
             {family: float(value) for family, value in pricing.DEFAULT_THRESHOLDS_PER_GPU_HOUR.items()}}


def normalised(config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The CLI's two forms of a policy's entry, `"disabled"` and `{"enforcementLevel": "disabled", ...}`, as one."""
    return {name: {LEVEL: settings} if isinstance(settings, str) else dict(settings or {})
            for name, settings in config.items()}


def notes(config: Mapping[str, Any]) -> list[str]:
    """One line per setting that differs from the pack's default: which policy, what it is now, what it was."""
    by_name = {policy.name: policy for policy in POLICIES}
    lines: list[str] = []
    for name, settings in normalised(config).items():
        policy = by_name.get(name)
        if policy is None:
            lines.append(f"{name}: not a policy of this pack (it has {', '.join(sorted(by_name))}); ignored")
            continue
        default_level = policy.enforcement_level.value if policy.enforcement_level is not None else "advisory"
        level = settings.get(LEVEL)
        if level is not None and str(level).lower() != default_level:
            lines.append(f"{name}: {str(level).lower()} (default {default_level})")
        schema = policy.config_schema.properties if policy.config_schema is not None else {}
        for key, value in settings.items():
            if key == LEVEL:
                continue
            default = _BUILT_IN.get((name, key), (schema.get(key) or {}).get("default"))
            shown = "none" if default is None else json.dumps(default)
            if value != default:
                lines.append(f"{name}: {key}={json.dumps(value)} (default {shown})")
    return lines
