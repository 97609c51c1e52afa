"""The `pulumi-flow` command as users run it: the installed console script, in a subprocess."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pulumi_flow.engines.plugins import PolicyPackProcess, StackResource
from pulumi_flow.money import from_wire, show
from pulumi_flow.resources import TASK_TYPE
from pulumi_flow.testing.emulator import RunningEmulator
from pulumi_flow.testing.languages import build_python
from pulumi_flow_policies.pack import CLONE_FILES, LAUNCHER

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).parent / "pulumi-flow"


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("MITHRIL_", "FLOW_"))}
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout,
                          env={**base, **(env or {})}, cwd=ROOT)


def test_console_script_is_installed() -> None:
    assert SCRIPT.is_file(), "pip install should put `pulumi-flow` next to the interpreter"


@pytest.mark.parametrize("command", [[], ["run"], ["emulator"], ["prices"], ["policy-pack"]])
def test_every_command_has_help(command: list[str]) -> None:
    result = cli(*command, "--help")
    assert result.returncode == 0 and "usage: pulumi-flow" in result.stdout


ENGINES = ["builtin", "pulumi"]


@pytest.fixture(params=ENGINES)
def engine_env(request: pytest.FixtureRequest) -> tuple[str, dict[str, str]]:
    """Each `run` test on both engines: the built-in one, and the real Pulumi CLI."""
    if request.param == "builtin":
        return "builtin", {}
    cli_dir = request.getfixturevalue("pulumi_cli")
    return "pulumi", {"PULUMI_FLOW_CLI_DIR": str(cli_dir)}


def run(engine_env: tuple[str, dict[str, str]], *args: str, env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:
    engine, engine_vars = engine_env
    return cli("run", *args, "--engine", engine, env={**engine_vars, **(env or {})})


def test_run_complete_example_on_the_embedded_emulator(engine_env: tuple[str, dict[str, str]]) -> None:
    result = run(engine_env, "examples/complete")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    engine_line = "engine: Pulumi CLI v" if engine_env[0] == "pulumi" else "engine: built-in"
    assert out.startswith(engine_line), out[:200]
    assert "no MITHRIL_API_URL: using a local Mithril emulator" in out
    assert "└─ FlowTask gpu-infra-task\n        infrastructure  4 x 8xa100 (32 GPUs)  bid $50.00/instance-hour = " \
           "$200.00/hour\n        running  bid_" in out
    assert "hourly bid across 1 task: $200.00/hour" in out
    gpu_ips = json.loads(out.split("gpu_ips: ", 1)[1].splitlines()[0])
    assert len(gpu_ips) == 4
    assert "Policies: no violations" in out
    assert "torn down: 1 bid, 2 volumes" in out
    assert max(len(line) for line in out.splitlines() if "FlowTask" in line or "FlowVolume" in line) <= 120
    assert "\033[" not in out, "no colour when stdout is not a terminal"
    if engine_env[0] == "pulumi":
        assert "Resources:\n    + 8 created" in out, "the CLI's own update output (with the components' 2 owners)"
    else:
        assert re.search(r"previewing flow-complete/run-[0-9a-f]{8} \.\.\.", result.stderr), \
            "plain progress lines off a terminal, for a stack of the run's own"


def test_run_reserved_example_says_what_a_reservation_commits_and_ends_its_instances(mithril: RunningEmulator) -> None:
    """A run tears down what it made, but a reservation is owed in full: the run says so before it buys one, and its
    teardown ends the instances (the commitment stays on Mithril, as the emulator shows)."""
    result = run(("builtin", {}), "examples/reserved", env=dict(mithril.env))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "1 reservation: a commitment, owed in full once bought, even when this run tears it down" in out
    assert "└─ FlowReservation gpu-infra-reservation\n        reserved  4 x 8xa100 (32 GPUs)  168 h  at most " \
           "$40.00/instance-hour\n        Active  res_" in out
    (held,) = mithril.backend.list_reservations()
    assert f"{held['unit_price']}/instance-hour, committed {show(from_wire(held['total_price']))}" in out
    assert "torn down: 0 bids, 1 reservation (instances ended; the commitment stands, nothing is refunded), " \
           "2 volumes" in out
    assert held["status"] == "Canceled" and mithril.control.live_volumes() == []


def test_run_spot_pool_shows_the_pool_and_ends_every_bid(mithril: RunningEmulator) -> None:
    """A pool in the run's tree: its target and ceiling (counted in the hourly total), what it holds where; its
    bids all ended by the teardown."""
    mithril.control.set_capacity("us-central1-a", 2)
    result = run(("builtin", {}), "examples/spot-pool", env=dict(mithril.env))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "└─ FlowSpotPool gpus-pool\n        pool  32 GPUs on 8xh100, 8xa100  at most $6.50/GPU-hour = " \
           "$208.00/hour\n        holds 32 GPUs (us-central1-a/8xa100 16, us-central1-a/8xh100 16), 0 unfilled" in out
    assert "hourly bid across 0 tasks and 1 pool: $208.00/hour" in out
    assert "gpus_held: 32\n" in out, "whole numbers as the program wrote them"
    assert "torn down: 4 bids, 0 volumes" in out and mithril.control.live_bids() == []


def test_run_underbid_is_blocked_before_anything_is_created(engine_env: tuple[str, dict[str, str]],
                                                            mithril: RunningEmulator) -> None:
    result = run(engine_env, "examples/underbid", env=dict(mithril.env))
    assert result.returncode == 1
    assert "[mandatory] infrastructure-bid-floor: cheap-cluster-task: infrastructure bids $30.00" in result.stdout
    assert "blocked by mandatory policy violations: nothing was created" in result.stdout
    assert mithril.control.write_requests() == []


@pytest.fixture
def installed_quickstart(tmp_path: Path) -> Path:
    """examples/quickstart after `pulumi install`: its venv/ is this environment, which holds this pulumi-flow.
    The program notes which process ran it."""
    project = build_python(ROOT / "examples" / "quickstart", tmp_path).directory
    with (project / "__main__.py").open("a") as main:
        main.write("\nimport pathlib, sys\npathlib.Path(__file__).with_name('ran-by').write_text(sys.executable)\n")
    return project


def test_run_against_a_given_url_tears_down_unless_kept(engine_env: tuple[str, dict[str, str]],
                                                       mithril: RunningEmulator, installed_quickstart: Path) -> None:
    env = dict(mithril.env)
    result = run(engine_env, str(installed_quickstart), env=env)
    assert result.returncode == 0, result.stderr
    assert f"using emulator at {mithril.url}" in result.stdout
    assert mithril.control.live_bids() == [] and len(mithril.control.requests()) > 10
    ran_by = Path((installed_quickstart / "ran-by").read_text()).parent
    # As `pulumi up` there would, the CLI's language host runs the project in its virtualenv.
    assert ran_by == (installed_quickstart / "venv" / "bin" if engine_env[0] == "pulumi"
                      else Path(sys.executable).parent)
    stack_files = sorted(installed_quickstart.glob("Pulumi.*yaml"))
    assert stack_files == [installed_quickstart / "Pulumi.yaml"], "the run leaves no stack file behind"

    kept = run(engine_env, str(installed_quickstart), "--keep", env=env)
    assert kept.returncode == 0
    assert len(mithril.control.live_bids()) == 1
    if engine_env[0] == "builtin":
        assert "kept 1 resource running" in kept.stdout
        return
    (stack_file,) = set(installed_quickstart.glob("Pulumi.run-*.yaml"))
    assert f"its file is {stack_file}; destroy it with (cd {installed_quickstart} && PULUMI_BACKEND_URL=" \
        in kept.stdout
    command = kept.stdout.split("destroy it with ", 1)[1].splitlines()[0].strip("()").split(" && ", 1)[1]
    destroyed = subprocess.run(f"{command} --yes --non-interactive", shell=True, cwd=installed_quickstart,
                               capture_output=True, text=True, env={**os.environ, **env,
                               "PATH": f"{engine_env[1]['PULUMI_FLOW_CLI_DIR']}{os.pathsep}{os.environ['PATH']}"})
    assert destroyed.returncode == 0, destroyed.stderr + destroyed.stdout
    assert mithril.control.live_bids() == [], "the kept stack's own command tears it down"


def test_run_engine_auto_says_which_it_chose(pulumi_cli: Path) -> None:
    on_cli = cli("run", "examples/underbid", "--preview", env={"PULUMI_FLOW_CLI_DIR": str(pulumi_cli)})
    assert on_cli.stdout.startswith("engine: Pulumi CLI v")
    bare = {"PATH": os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep)
                                    if not (Path(p) / "pulumi").exists())}
    without = cli("run", "examples/underbid", "--preview", env={"PULUMI_FLOW_CLI_DIR": "", **bare})
    assert without.stdout.startswith("engine: built-in (no Pulumi CLI found")
    forced = cli("run", "examples/underbid", "--engine", "pulumi", env={"PULUMI_FLOW_CLI_DIR": "", **bare})
    assert forced.returncode == 2 and "--engine pulumi: no Pulumi CLI" in forced.stderr


def test_run_preview_only_and_policy_config(tmp_path: Path) -> None:
    config = tmp_path / "policy.json"
    config.write_text(json.dumps({"infrastructure-bid-floor": {"enforcementLevel": "advisory"}}))
    result = cli("run", "examples/underbid", "--preview", "--policy-pack-config", str(config), "--engine", "builtin")
    assert result.returncode == 0
    assert "[advisory] infrastructure-bid-floor" in result.stdout
    assert "Created" not in result.stdout


def test_errors_without_traceback_unless_debug() -> None:
    result = cli("run", "examples/nowhere")
    assert result.returncode == 2
    assert "error: examples/nowhere: no __main__.py there" in result.stderr and "Traceback" not in result.stderr
    assert "Traceback" in cli("--debug", "run", "examples/nowhere").stderr
    assert "Traceback" in cli("run", "examples/nowhere", "--debug").stderr, "--debug after the command works too"


def test_bad_program_input_fails_cleanly(engine_env: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: bad-input\nruntime: python\n")
    (tmp_path / "__main__.py").write_text(
        "from pulumi_flow import TrainingCluster, TrainingClusterArgs\n"
        "TrainingCluster('c', TrainingClusterArgs(instance_type='h100'))\n")
    result = run(engine_env, str(tmp_path))
    assert result.returncode == 2
    assert "TrainingClusterArgs.instance_type='h100'" in result.stderr and "Traceback" not in result.stderr
    assert "Traceback" not in result.stdout


def test_a_program_bug_shows_its_type_and_the_programs_own_line(engine_env: tuple[str, dict[str, str]],
                                                                tmp_path: Path) -> None:
    """Run in this Python (the built-in engine, or the CLI's inline fallback), a program error is one line."""
    runtime = "runtime: python\n" if engine_env[0] == "builtin" else \
        "runtime:\n  name: python\n  options:\n    virtualenv: venv\n"  # no venv/: the CLI engine runs it inline
    (tmp_path / "Pulumi.yaml").write_text(f"name: buggy\n{runtime}")
    (tmp_path / "__main__.py").write_text("import pulumi\n\nsizes = {'data': 100}\nprint(sizes['models'])\n")
    result = run(engine_env, str(tmp_path))
    assert result.returncode == 2
    if engine_env[0] == "pulumi":
        assert f"the program inline in this Python: {tmp_path / 'venv'} does not exist yet (`pulumi install` " \
               f"there makes it)" in result.stdout.splitlines()[0]
    assert "error: the program failed: KeyError: 'models'" in result.stderr
    assert f"{tmp_path / '__main__.py'}:4" in result.stderr and "Traceback" not in result.stderr + result.stdout
    debug = run(engine_env, str(tmp_path), "--debug")
    assert "Traceback" in debug.stderr and "KeyError" in debug.stderr


def test_a_program_bug_by_its_language_host_reads_as_pulumi_up_shows_it(pulumi_cli: Path, tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: buggy\nruntime: python\n")
    (tmp_path / "__main__.py").write_text("import pulumi\n\nsizes = {'data': 100}\nprint(sizes['models'])\n")
    result = run(("pulumi", {"PULUMI_FLOW_CLI_DIR": str(pulumi_cli)}), str(tmp_path))
    assert result.returncode == 2
    assert "the program by its language host, as `pulumi up` there" in result.stdout.splitlines()[0]
    assert f'File "{tmp_path / "__main__.py"}", line 4' in result.stdout and "KeyError: 'models'" in result.stdout
    assert result.stderr.startswith(
        "error: the program failed: its error and traceback are in the Pulumi CLI's diagnostics above")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Pulumi.yaml", "__main__.py"], "the run's stack file goes"


def test_prices_writes_a_policy_config_that_follows_the_market(mithril: RunningEmulator, tmp_path: Path) -> None:
    out = tmp_path / "thresholds.json"
    result = cli("prices", "--out", str(out), env=dict(mithril.env))
    assert result.returncode == 0, result.stderr
    assert "h200" in result.stdout
    written = json.loads(out.read_text())
    config = written["infrastructure-bid-floor"]
    # The emulator's reserved price is twice spot; the dearest region sets the figure.
    assert config["thresholds"] == {"a100": 4.4, "h100": 6.4, "h200": 8.4}
    assert written["consider-reservation"] == {"thresholds": config["thresholds"]}
    assert config["source"].startswith(f"reserved prices from {mithril.url}") and config["generated_at"].endswith("Z")
    assert mithril.control.write_requests() == [], "reading prices writes nothing"

    h200 = {"role": "infrastructure", "instance_type": "8xh200", "num_instances": 1, "max_price_per_hour": 67.2}
    with PolicyPackProcess(ROOT / "policies") as pack:
        pack.configure(json.loads(out.read_text()))
        resource = StackResource(type=TASK_TYPE, name="h200", urn="urn:pulumi:dev::p::t::h200", properties=h200)
        assert pack.analyze(resource) == [], "an H200 cluster can now be judged, and this one passes"


def test_the_repository_pack_is_the_one_the_package_describes() -> None:
    for name, text in CLONE_FILES.items():
        assert (ROOT / "policies" / name).read_text() == text, name
    assert os.access(ROOT / "policies" / LAUNCHER, os.X_OK)


def test_policy_pack_command_writes_the_pack_bound_to_this_environment(tmp_path: Path) -> None:
    result = cli("policy-pack", "--out", str(tmp_path / "pack"))
    assert result.returncode == 0
    pack = tmp_path / "pack"
    for name in ("PulumiPolicy.yaml", "__main__.py", LAUNCHER):
        assert (pack / name).read_text() == (ROOT / "policies" / name).read_text(), name
    assert os.access(pack / LAUNCHER, os.X_OK)
    assert ".." not in (pack / "requirements.txt").read_text().split(), "no path into a clone it does not have"
    # The pack's venv/ is the environment that holds this pulumi-flow (the test runs in a virtualenv).
    assert (pack / "venv").resolve() == Path(sys.prefix).resolve()


def test_emulator_command_prints_its_url_first() -> None:
    proc = subprocess.Popen([str(SCRIPT), "emulator", "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("http://127.0.0.1:")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_errors_name_their_context(tmp_path: Path) -> None:
    prices = cli("prices")
    assert prices.returncode == 2 and "export MITHRIL_API_KEY" in prices.stderr
    assert "pulumi config" not in prices.stderr, "prices runs outside any Pulumi stack"

    keyed = cli("run", "examples/quickstart", "--config", "flow:apiKey=fkey_abc123", "--engine", "builtin")
    assert keyed.returncode == 2 and "export MITHRIL_API_KEY" in keyed.stderr
    assert "fkey_abc123" not in keyed.stderr + keyed.stdout

    (tmp_path / "__main__.py").write_text("import pulumi\n")
    bare = cli("run", str(tmp_path), "--engine", "builtin")
    assert bare.returncode == 2 and "no Pulumi.yaml, so this is not a Pulumi project" in bare.stderr


def test_a_run_never_touches_what_an_earlier_kept_run_owns(mithril: RunningEmulator) -> None:
    """Same program, same project, same resource names: the second run has a stack and an owner token of its own,
    so its teardown cancels and deletes only what it created (the first run's volumes are protected data). On the
    real engine the same rule is tested between two states (tests/engine/test_identity_on_engine.py)."""
    engine_env: tuple[str, dict[str, str]] = ("builtin", {})
    env = dict(mithril.env)
    kept = run(engine_env, "examples/complete", "--keep", "--no-policies", env=env)
    assert kept.returncode == 0, kept.stdout + kept.stderr
    first_bids = sorted(b["fid"] for b in mithril.control.live_bids())
    first_volumes = sorted(v["fid"] for v in mithril.control.live_volumes())
    assert len(first_bids) == 1 and len(first_volumes) == 2
    second = run(engine_env, "examples/complete", "--no-policies", env=env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "torn down: 1 bid, 2 volumes" in second.stdout
    assert sorted(b["fid"] for b in mithril.control.live_bids()) == first_bids
    assert sorted(v["fid"] for v in mithril.control.live_volumes()) == first_volumes


def test_a_bid_placed_by_a_create_whose_answer_was_lost_is_torn_down(engine_env: tuple[str, dict[str, str]],
                                                                      mithril: RunningEmulator) -> None:
    """The bid POST is accepted but its answer lost, and Mithril's bid list fails for the provider's look-ups: the
    create fails with no id for the engine. The teardown still finds the bid by its owned name and cancels it. The
    look-ups are refused (400, which the Flow SDK does not retry): a subprocess keeps the real retry pauses, and a
    503 retried to the end is the same path (tests/provider, with quick retries)."""
    mithril.control.add_fault(kind="accept_then_fail", method="POST", path="/v2/spot/bids", status=502)
    # The SDK's own name check before the POST passes; the provider's three look-ups after the lost answer fail.
    mithril.control.add_fault(kind="status", method="GET", path="/v2/spot/bids", status=400, skip=1, times=3)
    result = run(engine_env, "examples/quickstart", env=dict(mithril.env))
    assert result.returncode == 2, result.stdout + result.stderr
    assert mithril.control.call("GET", "faults")[1]["fired"] == 3
    assert "torn down: 1 bid, 0 volumes" in result.stdout, result.stdout
    assert mithril.control.live_bids() == []
    assert "pulumi destroy" not in result.stdout + result.stderr


def test_a_bid_that_cannot_be_looked_up_is_named_with_its_cancel_command(mithril: RunningEmulator) -> None:
    """Bid listings fail for good: the run cannot know whether the lost create placed a bid. It names the bid and
    the exact command that cancels it, never a state (it keeps none). The listings are refused outright (400), which
    the Flow SDK does not retry: a subprocess keeps the real retry pauses, and a 503 retried to the end is the same
    path (tests/provider, with quick retries)."""
    mithril.control.add_fault(kind="accept_then_fail", method="POST", path="/v2/spot/bids", status=502)
    mithril.control.add_fault(kind="status", method="GET", path="/v2/spot/bids", status=400, skip=1, times=1000)
    result = run(("builtin", {}), "examples/quickstart", env=dict(mithril.env))
    assert result.returncode == 2
    (bid,) = mithril.control.live_bids()
    assert f"If `flow status` lists it, cancel it: flow cancel --yes {bid['name']}" in result.stdout
    assert "teardown left 1 resource live on Mithril" in result.stderr
    mithril.control.clear_faults()


SHIFTY_PROGRAM = '''
import pulumi
from pulumi_flow import TrainingCluster, TrainingClusterArgs

# A bid the preview cannot judge: what `up` creates is not what the preview saw.
price = 50.0 if pulumi.runtime.is_dry_run() else 17.0
TrainingCluster("shifty", TrainingClusterArgs(instance_type="8xa100", max_price_per_hour=price))
'''


def test_a_bid_the_preview_did_not_see_is_judged_before_it_is_created(engine_env: tuple[str, dict[str, str]],
                                                                      mithril: RunningEmulator,
                                                                      tmp_path: Path) -> None:
    """An 8xA100 bid of $17 against its $25 floor, hidden from the preview: refused before its create, exit 1,
    nothing placed (the real engine runs the pack per resource during `up`; the built-in engine does the same)."""
    (tmp_path / "Pulumi.yaml").write_text("name: shifty\nruntime: python\n")
    (tmp_path / "__main__.py").write_text(SHIFTY_PROGRAM)
    result = run(engine_env, str(tmp_path), env=dict(mithril.env))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "infrastructure-bid-floor" in result.stdout and "$17.00" in result.stdout
    assert [r for r in mithril.control.write_requests() if r["path"] == "/v2/spot/bids"] == []
    assert mithril.control.live_bids() == []


@pytest.mark.parametrize(("config", "note"), [
    ({"infrastructure-bid-floor": "disabled"}, "infrastructure-bid-floor: disabled (default mandatory)"),
    ({"infrastructure-bid-floor": {"enforcementLevel": "advisory", "thresholds": {"a100": 2.0}}},
     'infrastructure-bid-floor: thresholds={"a100": 2.0} (default {"a100": 3.125, "h100": 6.25})'),
])
def test_a_weakened_pack_says_so_above_the_verdicts(config: dict[str, Any], note: str, tmp_path: Path) -> None:
    path = tmp_path / "policy-config.json"
    path.write_text(json.dumps(config))
    result = run(("builtin", {}), "examples/underbid", "--preview", "--policy-pack-config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Policy configuration differs from the pack's defaults (--policy-pack-config):" in result.stdout
    assert note in result.stdout
