"""Which resource options a component hands to its children.

Pulumi children inherit `protect` and `providers` from their parent, but not `depends_on`,
`ignore_changes`, `custom_timeouts`, `retain_on_delete` or `additional_secret_outputs`. A user
who sets those on a component means them for the resources that do the work, so each
component passes them on deliberately.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi


def child_options(parent: pulumi.Resource, opts: pulumi.ResourceOptions | None, *,
                  depends_on: Sequence[pulumi.Resource] = (), protect: bool | None = None) -> pulumi.ResourceOptions:
    opts = opts or pulumi.ResourceOptions()
    user_depends: list[Any] = []
    if opts.depends_on is not None:
        user_depends = list(opts.depends_on) if isinstance(opts.depends_on, Sequence) else [opts.depends_on]
    return pulumi.ResourceOptions(
        parent=parent,
        depends_on=[*user_depends, *depends_on] or None,
        ignore_changes=opts.ignore_changes,
        custom_timeouts=opts.custom_timeouts,
        retain_on_delete=opts.retain_on_delete,
        additional_secret_outputs=opts.additional_secret_outputs,
        protect=protect,
    )
