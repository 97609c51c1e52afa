"""`python -m build` output, and a wheel installed into a fresh virtualenv, as users get it."""

from __future__ import annotations

import site
import subprocess
import sys
import tarfile
import venv
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)], check=True,
                   capture_output=True, text=True, timeout=600)
    yield out


def test_wheel_contents_and_metadata(dist: Path) -> None:
    (wheel,) = dist.glob("pulumi_flow-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        info = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(info).decode()
        entry_points = archive.read(info.replace("METADATA", "entry_points.txt")).decode()
    for expected in ("pulumi_flow/py.typed", "pulumi_flow/resources.py", "pulumi_flow/emulator/models.py",
                     "pulumi_flow/cli/__init__.py", "pulumi_flow/testing/plugin.py", "pulumi_flow_policies/pack.py",
                     "pulumi_flow_policies/py.typed"):
        assert expected in names, expected
    assert not [n for n in names if n.startswith(("tests/", "examples/", "bench/"))]
    assert "pulumi-flow = pulumi_flow.cli:main" in entry_points
    assert "[pytest11]" in entry_points and "pulumi_flow = pulumi_flow.testing.plugin" in entry_points
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    assert any("flow-compute" in r for r in requires) and not any("flow-sdk" in r for r in requires)
    assert {"pulumi", "pulumi-policy", "attrs"} <= {r.split()[1].split(">")[0].split("<")[0] for r in requires}
    assert "License-Expression: Apache-2.0" in metadata


def test_sdist_carries_the_pack_examples_and_tests(dist: Path) -> None:
    (sdist,) = dist.glob("pulumi_flow-*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {n.split("/", 1)[1] for n in archive.getnames() if "/" in n}
    for expected in ("LICENSE", "README.md", "policies/PulumiPolicy.yaml", "policies/__main__.py",
                     "policies/requirements.txt", "examples/complete/__main__.py", "examples/complete/Pulumi.yaml",
                     "tests/conftest.py", ".ci/run", "bench/components.py"):
        assert expected in names, expected


def test_installed_wheel_works_on_its_own(dist: Path, tmp_path: Path) -> None:
    """Library, console script, pytest plugin entry point and policy pack, from the wheel alone."""
    (wheel,) = dist.glob("pulumi_flow-*.whl")
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    # The dependencies come from this interpreter's site-packages, added as plain paths: a path in a
    # .pth file runs none of that directory's own .pth hooks, so the editable pulumi_flow of the
    # development install stays invisible and only the wheel's can be imported.
    target = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                            capture_output=True, text=True, check=True).stdout.strip()
    Path(target, "_test_dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", str(wheel)], check=True,
                   capture_output=True, timeout=300)
    where = subprocess.run([str(python), "-c", "import pulumi_flow, pulumi_flow_policies; "
                            "print(pulumi_flow.__file__); print(pulumi_flow_policies.__file__)"],
                           capture_output=True, text=True, check=True, cwd=tmp_path).stdout.split()
    assert all(str(env_dir) in path for path in where), f"imported from outside the wheel: {where}"
    pack = tmp_path / "pack"
    subprocess.run([str(env_dir / "bin" / "pulumi-flow"), "policy-pack", "--out", str(pack)], check=True,
                   capture_output=True, cwd=tmp_path)
    assert (pack / "PulumiPolicy.yaml").is_file()
    preview = subprocess.run([str(env_dir / "bin" / "pulumi-flow"), "run", str(ROOT / "examples" / "underbid"),
                              "--preview", "--policy-pack", str(pack)], capture_output=True, text=True,
                             cwd=tmp_path, timeout=300)
    assert preview.returncode == 1 and "infrastructure-bid-floor" in preview.stdout
