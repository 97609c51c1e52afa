"""`pulumi-flow sdk`: the TypeScript and Go SDKs, laid out as the examples use them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pulumi_flow.cli import main
from pulumi_flow.plugin import sdk


def test_the_command_writes_each_sdk(pulumi_cli: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", f"{pulumi_cli}:{monkeypatch.delenv('PATH', raising=False) or ''}")
    assert main(["sdk", "--language", "go", "--out", str(tmp_path / "go")]) == 0
    assert (tmp_path / "go" / "go.mod").read_text().startswith(f"module {sdk.GO_MODULE}\n")
    assert {p.name for p in (tmp_path / "go" / "flow").glob("*.go")} >= {
        "trainingCluster.go", "dataVolumes.go", "trainingJob.go", "task.go", "volume.go", "provider.go"}
    assert main(["sdk", "--language", "nodejs", "--out", str(tmp_path / "ts")]) == 0
    package = json.loads((tmp_path / "ts" / "package.json").read_text())
    assert (package["name"], package["version"], package["pulumi"]) == (
        "@pulumi-flow/flow", "0.1.0", {"resource": True, "name": "flow"})
    cluster = (tmp_path / "ts" / "trainingCluster.ts").read_text()
    assert "instanceType: pulumi.Input<string>;" in cluster and "Missing required property 'instanceType'" in cluster
    assert "maxPricePerHour?: pulumi.Input<number | undefined>;" in cluster, "optional: the threshold by default"


def test_no_generator_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(sdk.SdkGenerationError, match=r"no SDK generator.*scripts/install-pulumi"):
        sdk.generate("go", tmp_path / "out")
    with pytest.raises(sdk.SdkGenerationError, match=r"language 'rust': expected one of nodejs, go"):
        sdk.generate("rust", tmp_path / "out", generator=["true"])
