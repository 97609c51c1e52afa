"""Names on Mithril: unique per URN, and the bid name the same however its numbers travelled."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

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


IDENTITY = naming.identity(None, "proj", "dev", "t", "llama")


def test_the_identity_at_the_root_is_project_and_stack_then_type_and_name() -> None:
    assert IDENTITY == "proj\x1fdev\x1ft\x1fllama"
    assert naming.identity("urn:x", "proj", "dev", "t", "n") == "urn:x\x1ft\x1fn"
    assert naming.identity("", "proj", "dev", "t", "n") == "proj\x1fdev\x1ft\x1fn"


# Names of things that exist: a change to any of them renames, and so replaces, every live bid and volume.
@pytest.mark.parametrize(("resource_name", "name"), [
    ("llama", "llama-980ee61e"),
    ("Llama 70B/run", "llama-70b-run-980ee61e"),
    ("---", "task-980ee61e"),
    ("x.y_z", "x.y_z-980ee61e"),
    ("a--b", "a-b-980ee61e"),
    ("-a.", "a-980ee61e"),
    ("a" * 80, "a" * 54 + "-980ee61e"),
    ("a" * 53 + ".b", "a" * 53 + "-980ee61e"),
])
def test_task_names_are_stable_safe_and_at_most_63_characters(resource_name: str, name: str) -> None:
    made = naming.task_name(resource_name, IDENTITY)
    assert made == name
    assert len(made) <= 63
    assert re.fullmatch(r"[a-z0-9][a-z0-9._-]*", made)


@pytest.mark.parametrize(("resource_name", "name"), [
    ("data", "data-980ee61e"),
    ("Data Set", "data-set-980ee61e"),
    ("7data", "vol-7data-980ee61e"),
    ("", "vol-980ee61e"),
    ("d.a_t", "d-a-t-980ee61e"),
    ("b" * 80, "b" * 54 + "-980ee61e"),
    ("a" * 53 + "-b", "a" * 53 + "-980ee61e"),
])
def test_volume_names_are_stable_safe_and_at_most_63_characters(resource_name: str, name: str) -> None:
    made = naming.volume_name(resource_name, IDENTITY)
    assert made == name
    assert len(made) <= 63
    assert re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])?", made)


def test_a_bid_name_is_the_task_name_and_a_digest_of_the_canonical_spec() -> None:
    spec = {"b": 1, "a": [2.0, {"c": 3.5}]}
    assert naming.bid_name("gpu-1", spec) == "gpu-1.c02ca300"
    assert naming.bid_name("gpu-1", {"a": [2, {"c": 3.5}], "b": 1.0}) == "gpu-1.c02ca300"
    assert naming.bid_name("gpu-1", {"a": (2, {"c": 3.5}), "b": 1}) == "gpu-1.c02ca300"
    assert naming.bid_name("gpu-1", {"b": 1, "a": [2.5, {"c": 3.5}]}) != "gpu-1.c02ca300"


@pytest.mark.parametrize(("olds", "news", "kept"), [
    ({"task_name": "old-1", "auto_named": True}, {"task_name": "new-2", "auto_named": True}, "old-1"),
    # State from before `auto_named` existed held only generated names.
    ({"task_name": "old-1"}, {"task_name": "new-2", "auto_named": True}, "old-1"),
    # A name the program gives is the program's to change.
    ({"task_name": "old-1", "auto_named": True}, {"task_name": "mine", "auto_named": False}, "mine"),
    ({"task_name": "mine", "auto_named": False}, {"task_name": "new-2", "auto_named": True}, "new-2"),
    # Nothing in state yet: the new name.
    ({}, {"task_name": "new-2", "auto_named": True}, "new-2"),
])
def test_a_generated_name_once_in_state_stays(olds: dict[str, object], news: dict[str, object], kept: str) -> None:
    naming.keep_auto_name(olds, news, "task_name")
    assert news["task_name"] == kept


def test_a_spec_value_json_cannot_write_still_names_the_bid() -> None:
    """Exact money (a Decimal) in a spec is written as its text, not refused."""
    assert naming.bid_name("gpu-1", {"price": Decimal("3.13")}) == naming.bid_name("gpu-1", {"price": "3.13"})
