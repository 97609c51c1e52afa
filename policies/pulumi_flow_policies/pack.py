"""The pack itself, and the files that make a directory a Pulumi policy pack.

The repository's `policies/` directory is such a directory; `write_pack(dir)` makes another one
from an installed wheel (`pulumi-flow policy-pack --out DIR`), with the same pack in it.

How the CLI starts a pack matters for what these files say. For `--policy-pack DIR`, the CLI asks
its Python language host, which runs `python -u -m pulumi.policy` in the virtualenv that
`PulumiPolicy.yaml` names (`venv/`, made by `pulumi install` in DIR); it creates and installs
nothing by itself. For `--policy-pack DIR/pulumi-analyzer-flow`, the CLI starts that executable
directly, which runs the same command with the same interpreter choice.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

from pulumi_flow_policies import PACK_NAME, POLICIES

LAUNCHER = "pulumi-analyzer-flow"
VIRTUALENV = "venv"
DESCRIPTION = "Safety and budget rules for Mithril GPU infrastructure managed with pulumi-flow."


def policy_yaml(*, virtualenv: bool = True) -> str:
    runtime = f"runtime:\n  name: python\n  options:\n    virtualenv: {VIRTUALENV}\n" if virtualenv \
        else "runtime: python\n"
    return f"{runtime}version: 0.1.0\ndescription: {DESCRIPTION}\n"


MAIN = (
    '"""The pulumi-flow policy pack: `pulumi preview --policy-pack <this directory>`.\n\n'
    "Only assembly happens here; each policy lives, with its tests, in pulumi_flow_policies.\n"
    '"""\n\n'
    "from pulumi_flow_policies.pack import serve\n\n"
    "serve()\n"
)

LAUNCHER_SCRIPT = r"""#!/bin/sh
# The pack as a binary analyzer: `pulumi preview --policy-pack <this directory>/pulumi-analyzer-flow`.
#
# It runs the same pack in the same way as `--policy-pack <this directory>`: `python -u -m pulumi.policy
# <engine-address> <this directory>`, with this directory as the working directory. What differs
# is who starts it. For a directory, the CLI asks its Python language host (pulumi-language-python)
# to; for an executable file, the CLI starts the file itself (CLI >= 3.221). So this path works with
# a CLI that has no Python language host, such as one built from the pkg/v3 Go module alone.
#
# The interpreter is the pack's own venv/ when there is one (`pulumi install` makes it), else
# $PULUMI_PYTHON_CMD, else python3 from PATH: the same choice the language host makes.
here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd) || exit 1
if [ -x "$here/venv/bin/python" ]; then
    python="$here/venv/bin/python"
else
    python="${PULUMI_PYTHON_CMD:-python3}"
fi
cd "$here" || exit 1
exec "$python" -u -m pulumi.policy "$@" "$here"
"""

# In a clone, `pulumi install` (run in policies/) installs pulumi-flow from the clone: pip reads a
# relative path against its working directory, which the language host sets to the pack.
REQUIREMENTS_FROM_CLONE = (
    "# pulumi-flow is not published on PyPI yet: `pulumi install` in this directory installs it from\n"
    "# this clone (pip reads the path below from here, the pack's directory).\n"
    "..\n"
    "pulumi-policy>=1.21,<2\n"
)
REQUIREMENTS_FROM_WHEEL = (
    "# pulumi-flow comes from venv/, a link to the Python environment that ran `pulumi-flow policy-pack`.\n"
    "pulumi-policy>=1.21,<2\n"
)

# The repository's policies/ holds exactly these files.
CLONE_FILES = {
    "PulumiPolicy.yaml": policy_yaml(),
    "__main__.py": MAIN,
    "requirements.txt": REQUIREMENTS_FROM_CLONE,
    LAUNCHER: LAUNCHER_SCRIPT,
}


def serve() -> None:
    """Build the PolicyPack: this starts its gRPC server and blocks, as the CLI expects."""
    from pulumi_policy import PolicyPack

    PolicyPack(name=PACK_NAME, policies=POLICIES)


def write_pack(directory: str | os.PathLike[str]) -> Path:
    """A pack directory that runs with this Python environment (and so with this pulumi-flow).

    When this Python is a virtualenv, `venv` in the pack links to it, which both ways of starting the
    pack use; otherwise the pack runs on `python3` from PATH, which must have pulumi-flow installed.
    """
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    in_virtualenv = sys.prefix != sys.base_prefix
    files = {
        "PulumiPolicy.yaml": policy_yaml(virtualenv=in_virtualenv),
        "__main__.py": MAIN,
        "requirements.txt": REQUIREMENTS_FROM_WHEEL,
        LAUNCHER: LAUNCHER_SCRIPT,
    }
    for name, content in files.items():
        (target / name).write_text(content)
    launcher = target / LAUNCHER
    launcher.chmod(launcher.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    link = target / VIRTUALENV
    if in_virtualenv and not link.exists():
        link.symlink_to(Path(sys.prefix).resolve(), target_is_directory=True)
    return target
