"""The pack itself, and the files that make a directory a Pulumi policy pack.

The repository's `policies/` directory is such a directory; `write_pack(dir)` makes another one
from an installed wheel (`pulumi-flow policy-pack --out DIR`), with the same content.
"""

from __future__ import annotations

from pathlib import Path

from pulumi_flow_policies import PACK_NAME, POLICIES

FILES = {
    "PulumiPolicy.yaml": (
        "runtime: python\n"
        "version: 0.1.0\n"
        "description: Safety and budget rules for Mithril GPU infrastructure managed with pulumi-flow.\n"
    ),
    "__main__.py": (
        '"""The pulumi-flow policy pack: `pulumi preview --policy-pack <this directory>`.\n\n'
        "Only assembly happens here; each policy lives, with its tests, in pulumi_flow_policies.\n"
        '"""\n\n'
        "from pulumi_flow_policies.pack import serve\n\n"
        "serve()\n"
    ),
    "requirements.txt": "pulumi-flow\npulumi-policy>=1.21,<2\n",
}


def serve() -> None:
    """Build the PolicyPack: this starts its gRPC server and blocks, as the CLI expects."""
    from pulumi_policy import PolicyPack

    PolicyPack(name=PACK_NAME, policies=POLICIES)


def write_pack(directory: str | Path) -> Path:
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    for name, content in FILES.items():
        (target / name).write_text(content)
    return target
