"""Two resources never own one bid: names follow the URN; two states never touch each other's resources: the
owner token decides, through the real engine."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest
from pulumi import automation as auto

from pulumi_flow import (
    DataVolumes,
    DataVolumesArgs,
    TrainingCluster,
    TrainingClusterArgs,
    TrainingJob,
    TrainingJobArgs,
)
from pulumi_flow.engines.pulumi_cli import PulumiCli
from pulumi_flow.testing.emulator import RunningEmulator
from tests.engine.conftest import PACK

pytestmark = pytest.mark.engine



def llama_program() -> None:
    """A cluster and a job that share the name `llama`; the job only when config says so."""
    cluster = TrainingCluster("llama", TrainingClusterArgs(instance_type="8xa100", max_price_per_hour=30.0))
    pulumi.export("cluster", cluster.task_id)
    if pulumi.Config().get_bool("with_job"):
        job = TrainingJob("llama", TrainingJobArgs(command="python train.py", instance_type="8xa100",
                                                   max_price_per_hour=30.0, max_run_time_hours=1))
        pulumi.export("job", job.task_id)


def ids(result: Any) -> dict[str, str]:
    return {key: value.value for key, value in result.outputs.items()}


def test_a_cluster_and_a_job_of_one_name_created_together_get_two_bids(engine: PulumiCli,
                                                                       mithril: RunningEmulator) -> None:
    stack = engine.stack("dev", project="llama", program=llama_program, env=mithril.env,
                         config={"with_job": "true"})
    outputs = ids(stack.up(policy_packs=[PACK]))
    bids = {b["fid"]: b["name"] for b in mithril.control.live_bids()}
    assert sorted(bids) == sorted([outputs["cluster"], outputs["job"]])
    assert len(set(bids.values())) == 2, "two names, so no conflict and no adoption"


def test_a_job_added_later_does_not_adopt_the_cluster_and_leaves_with_its_own_bid(
        engine: PulumiCli, mithril: RunningEmulator) -> None:
    stack = engine.stack("dev", project="llama", program=llama_program, env=mithril.env)
    cluster = ids(stack.up(policy_packs=[PACK]))["cluster"]

    stack.set_config("with_job", auto.ConfigValue("true"))
    job = ids(stack.up(policy_packs=[PACK]))["job"]
    assert job != cluster
    assert sorted(b["fid"] for b in mithril.control.live_bids()) == sorted([cluster, job])

    stack.set_config("with_job", auto.ConfigValue("false"))
    stack.up(policy_packs=[PACK])
    assert [b["fid"] for b in mithril.control.live_bids()] == [cluster], "deleting the job kept the cluster"


def test_one_program_in_two_stacks_gets_two_bids(engine: PulumiCli, mithril: RunningEmulator) -> None:
    first = ids(engine.stack("dev", project="llama", program=llama_program, env=mithril.env).up())
    second = ids(engine.stack("prod", project="llama", program=llama_program, env=mithril.env).up())
    assert first["cluster"] != second["cluster"]
    assert len({b["name"] for b in mithril.control.live_bids()}) == 2


def storage_program() -> None:
    """Data and a cluster that mounts it: what two teammates' `dev` stacks of one repository both declare."""
    storage = DataVolumes("storage", DataVolumesArgs(volumes={"data": 100}, region="us-central1-a"))
    cluster = TrainingCluster("llama", TrainingClusterArgs(instance_type="8xa100", max_price_per_hour=30.0,
                                                           volumes=[storage.mount("data", "/data")]))
    pulumi.export("cluster", cluster.task_id)
    pulumi.export("volumes", storage.volume_ids)


def test_two_states_with_one_project_and_stack_name_never_touch_each_others_resources(
        pulumi_cli: Any, tmp_path: Any, mithril: RunningEmulator) -> None:
    """Two teammates, each with their own backend and a stack named `dev`, against one Mithril project: the second
    `up` makes its own bid and volume, and its `destroy` removes only those (the first's volume is data)."""
    mine = PulumiCli(pulumi_cli, home=tmp_path / "mine-home", backend=tmp_path / "mine-state")
    theirs = PulumiCli(pulumi_cli, home=tmp_path / "theirs-home", backend=tmp_path / "theirs-state")
    my_stack = mine.stack("dev", project="llama", program=storage_program, env=mithril.env)
    my_outputs = ids(my_stack.up(policy_packs=[PACK]))
    their_stack = theirs.stack("dev", project="llama", program=storage_program, env=mithril.env)
    their_outputs = ids(their_stack.up(policy_packs=[PACK]))
    assert their_outputs["cluster"] != my_outputs["cluster"]
    assert their_outputs["volumes"]["data"] != my_outputs["volumes"]["data"]
    names = {v["fid"]: v["name"] for v in mithril.control.live_volumes()}
    assert len(set(names.values())) == 2, f"each volume's name carries its own state's owner tag: {names}"

    theirs.run(their_stack, "state", "unprotect", "--all", "--yes")
    their_stack.destroy()
    assert [b["fid"] for b in mithril.control.live_bids()] == [my_outputs["cluster"]]
    assert [v["fid"] for v in mithril.control.live_volumes()] == [my_outputs["volumes"]["data"]]
    my_stack.refresh(expect_no_changes=True)
