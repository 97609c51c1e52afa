"""Names on Mithril: unique per URN, and the bid name the same however its numbers travelled."""

from __future__ import annotations

from pulumi_flow import naming
from pulumi_flow.resources import TASK_TYPE


def test_a_bid_name_does_not_depend_on_how_numbers_travelled() -> None:
    """The provider sees 4.0 (Pulumi's wire), a state file 4: a pending create must map to the same bid."""
    from_wire = {"num_instances": 4.0, "max_run_time_hours": 24.0, "volumes": [{"size": 1.0}], "role": "x"}
    from_state = {"num_instances": 4, "max_run_time_hours": 24, "volumes": [{"size": 1}], "role": "x"}
    assert naming.bid_name("gpu-1a2b3c4d", from_wire) == naming.bid_name("gpu-1a2b3c4d", from_state)
    assert naming.bid_name("gpu-1a2b3c4d", from_wire) != naming.bid_name("gpu-1a2b3c4d", {**from_state, "role": "y"})


def test_identity_separates_parents_types_names_and_stacks() -> None:
    base = naming.identity(None, "proj", "dev", TASK_TYPE, "llama-task")
    others = [
        naming.identity(None, "proj", "prod", TASK_TYPE, "llama-task"),
        naming.identity(None, "other", "dev", TASK_TYPE, "llama-task"),
        naming.identity("urn:pulumi:dev::proj::flow:index:TrainingJob::llama", "proj", "dev",
                        TASK_TYPE, "llama-task"),
        naming.identity("urn:pulumi:dev::proj::flow:index:TrainingCluster::llama", "proj", "dev",
                        TASK_TYPE, "llama-task"),
    ]
    names = {naming.task_name("llama-task", i) for i in [base, *others]}
    assert len(names) == 5
