"""Generate the `flow` SDK for TypeScript or Go, laid out as the examples (and `pulumi package add`) expect.

Pulumi generates SDKs inside each language's host (`pulumi package gen-sdk`); where those hosts are not
installed, `pulumi-flow-gen-sdk` (scripts/gen-sdk, built by scripts/install-pulumi) runs the same code
generators from Pulumi's Go module. Either way the schema is the plugin's own, validated by Pulumi.

- `nodejs`: DIR is an npm package `@pulumi-flow/flow` (TypeScript sources, compiled by its postinstall).
- `go`: DIR is the Go module `github.com/pulumi-flow/pulumi-flow/sdk/go`, package `flow` inside it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from pulumi_flow import __version__
from pulumi_flow.plugin import schema

LANGUAGES = ("nodejs", "go")
GENERATOR = "pulumi-flow-gen-sdk"
GO_MODULE = "github.com/pulumi-flow/pulumi-flow/sdk/go"
GO_PULUMI_SDK = "github.com/pulumi/pulumi/sdk/v3 v3.274.1"


class SdkGenerationError(RuntimeError):
    """No generator, or the generator refused: the message says which and what to do."""


def find_generator(search: list[Path] | None = None) -> list[str]:
    """`pulumi-flow-gen-sdk` beside the CLI or on PATH, else `pulumi package gen-sdk` (needs language hosts)."""
    for directory in search or []:
        if (directory / GENERATOR).is_file():
            return [str(directory / GENERATOR)]
    found = shutil.which(GENERATOR)
    if found:
        return [found]
    pulumi = shutil.which("pulumi")
    if pulumi:
        return [pulumi, "package", "gen-sdk"]
    raise SdkGenerationError(
        f"no SDK generator: put the Pulumi CLI (with its language hosts) or {GENERATOR} on PATH. "
        f"Fix: run `scripts/install-pulumi` and add the directory it prints to PATH")


def generate(language: str, out: Path, *, generator: list[str] | None = None) -> Path:
    """Write the SDK for `language` into `out` (replaced if it exists); returns `out`."""
    if language not in LANGUAGES:
        raise SdkGenerationError(f"language {language!r}: expected one of {', '.join(LANGUAGES)}")
    command = generator or find_generator()
    with tempfile.TemporaryDirectory(prefix="flow-sdk-") as scratch:
        schema_file = Path(scratch) / "schema.json"
        schema_file.write_text(json.dumps(schema.build()))
        generated = Path(scratch) / "out"
        if command[-2:] == ["package", "gen-sdk"]:
            argv = [*command, str(schema_file), "--language", language, "--out", str(generated)]
            root = generated / language
        else:
            argv = [*command, "-schema", str(schema_file), "-language", language, "-out", str(generated)]
            root = generated
        run = subprocess.run(argv, capture_output=True, text=True, check=False)
        if run.returncode != 0:
            raise SdkGenerationError(f"{' '.join(argv[:3])} failed: {run.stderr.strip() or run.stdout.strip()}")
        if out.exists():
            shutil.rmtree(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        if language == "nodejs":
            shutil.copytree(root, out)
            package = out / "package.json"
            package.write_text(package.read_text().replace("${VERSION}", __version__))
        else:
            shutil.copytree(root / schema.PACKAGE, out / schema.PACKAGE)
            (out / "go.mod").write_text(f"module {GO_MODULE}\n\ngo 1.24\n\nrequire {GO_PULUMI_SDK}\n")
    return out
