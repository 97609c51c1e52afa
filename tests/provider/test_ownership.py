"""Only the state that created a bid or volume adopts it: the owner token, not the name, decides.

Two states with the same project, stack and resource names (two teammates' `dev` stacks, a `pulumi-flow run` beside
a real stack) compute the same task and volume names. Each has its own owner token, and what Mithril stores carries
it: the bid's name digests it, a generated volume name ends with its tag.
"""

from __future__ import annotations

import pytest

from pulumi_flow import naming
from pulumi_flow.emulator.records import PROJECT_ID
from pulumi_flow.provider import FlowOwnerProvider, FlowTaskProvider, FlowVolumeProvider, NoAnswerError
from pulumi_flow.provider.session import Credentials, flow_session
from pulumi_flow.provider.task import bid_name
from pulumi_flow.provider.volume import VolumeNameTakenError
from pulumi_flow.testing.emulator import RunningEmulator

from .conftest import OTHER_OWNER, OWNER, bid_whose_answer_and_lookups_were_lost, checked_task, checked_volume


def live_bids(mithril: RunningEmulator) -> list[str]:
    return sorted(str(bid["fid"]) for bid in mithril.control.live_bids())


def test_another_states_bid_of_the_same_name_is_never_adopted(task_provider: FlowTaskProvider,
                                                             mithril: RunningEmulator) -> None:
    ours = task_provider.create(checked_task())
    # The other state's create loses its answer: it must find its own bid, not ours listed under the same task name.
    mithril.control.add_fault(kind="accept_then_fail", method="POST", path="/v2/spot/bids", status=502)
    theirs = task_provider.create(checked_task(owner=OTHER_OWNER))
    assert theirs.id != ours.id
    assert live_bids(mithril) == sorted([ours.id, theirs.id])
    assert ours.outs["bid_name"] != theirs.outs["bid_name"]
    assert ours.outs["bid_name"].startswith("gpu-infra-1a2b3c4d.")
    task_provider.delete(theirs.id, theirs.outs)
    assert live_bids(mithril) == [ours.id], "tearing down the other state cancelled our bid"


def test_a_create_retried_after_a_killed_up_adopts_its_own_bid(task_provider: FlowTaskProvider,
                                                               mithril: RunningEmulator) -> None:
    """The owner is in state before the bid: the create after `refresh --clear-pending-creates` has the same token,
    finds the bid the killed `up` placed, and places no second one; another state's create never takes it."""
    ours = bid_whose_answer_and_lookups_were_lost(task_provider, mithril, checked_task())
    theirs = task_provider.create(checked_task(owner=OTHER_OWNER))
    assert theirs.id != ours
    assert task_provider.create(checked_task()).id == ours  # a fresh check: the token comes from the Owner
    assert live_bids(mithril) == sorted([ours, theirs.id])


def test_check_keeps_the_owner_in_state_and_draws_one_only_for_a_new_resource() -> None:
    provider = FlowTaskProvider()
    assert provider.check({"owner": OWNER}, checked_task(owner=OTHER_OWNER)).inputs["owner"] == OWNER
    drawn = {provider.check({}, {**checked_task(), "owner": None}).inputs["owner"] for _ in range(3)}
    assert len(drawn) == 3 and all(naming.OWNER_RE.fullmatch(token) for token in drawn)


def test_an_owner_token_is_checked() -> None:
    failures = FlowTaskProvider().check({}, {**checked_task(), "owner": "dev"}).failures
    assert [(f.property, f.reason.split(":")[0]) for f in failures] == [("owner", "'dev'")]


def test_state_from_before_owner_tokens_keeps_its_bid_name() -> None:
    """Existing stacks migrate without replacing anything: no token, the same digest as before."""
    legacy = {k: v for k, v in checked_task().items() if k != "owner"}
    spec = {k: legacy.get(k) for k in ("role", "instance_type", "num_instances", "region", "command", "image", "env",
                                       "volumes", "ssh_keys", "max_run_time_hours")}
    assert bid_name(legacy) == naming.bid_name("gpu-infra-1a2b3c4d", spec)
    assert bid_name(checked_task()) != bid_name(legacy)


def test_a_generated_volume_name_carries_its_owner(volume_provider: FlowVolumeProvider,
                                                   mithril: RunningEmulator) -> None:
    ours = volume_provider.create(checked_volume(region="us-central1-a", auto_named=True))
    theirs = volume_provider.create(checked_volume(region="us-central1-a", auto_named=True, owner=OTHER_OWNER))
    assert ours.id != theirs.id
    assert ours.outs["volume_name"] == f"data-1a2b3c4d-{naming.owner_tag(OWNER)}"
    assert theirs.outs["volume_name"] == f"data-1a2b3c4d-{naming.owner_tag(OTHER_OWNER)}"
    volume_provider.delete(theirs.id, theirs.outs)
    assert [v["fid"] for v in mithril.control.live_volumes()] == [ours.id]


def test_a_generated_volume_name_in_state_is_never_retagged() -> None:
    olds = checked_volume(auto_named=True)
    news = FlowVolumeProvider().check(olds, {**olds, "owner": None, "volume_name": "data-1a2b3c4d"}).inputs
    assert news["volume_name"] == olds["volume_name"] and news["owner"] == OWNER


def test_a_chosen_volume_name_taken_by_a_volume_of_unknown_owner_is_refused(
        volume_provider: FlowVolumeProvider, mithril: RunningEmulator) -> None:
    existing = volume_provider.create(checked_volume(region="us-central1-a", owner=OTHER_OWNER))
    mithril.control.clear_requests()
    with pytest.raises(VolumeNameTakenError, match=rf"volume_name='data-1a2b3c4d'.*{existing.id}.*pulumi import"):
        volume_provider.create(checked_volume(region="us-central1-a"))
    assert mithril.control.write_requests() == []
    assert [v["fid"] for v in mithril.control.live_volumes()] == [existing.id]


def test_an_unrecorded_create_is_found_by_its_owned_name_and_nothing_else(
        task_provider: FlowTaskProvider, volume_provider: FlowVolumeProvider, mithril: RunningEmulator) -> None:
    other = task_provider.create(checked_task(owner=OTHER_OWNER))
    ours = task_provider.create(checked_task())
    assert task_provider.delete_unrecorded(checked_task()) == ours.id
    assert task_provider.delete_unrecorded(checked_task()) is None
    assert live_bids(mithril) == [other.id]
    chosen = volume_provider.create(checked_volume(region="us-central1-a"))
    assert volume_provider.delete_unrecorded(checked_volume(region="us-central1-a")) is None, \
        "a volume under a chosen name is not provably this create's"
    generated = volume_provider.create(checked_volume(region="us-central1-a", auto_named=True))
    assert volume_provider.delete_unrecorded(checked_volume(region="us-central1-a", auto_named=True)) == generated.id
    assert [v["fid"] for v in mithril.control.live_volumes()] == [chosen.id]


def test_an_owner_costs_nothing_and_keeps_its_token(mithril: RunningEmulator) -> None:
    provider = FlowOwnerProvider()
    created = provider.create({})
    assert created.id == f"owner-{created.outs['token']}" and naming.OWNER_RE.fullmatch(created.outs["token"])
    assert provider.read(created.id, created.outs).outs == created.outs
    assert provider.read(created.id, {}).outs == created.outs  # an import recovers the token from the id
    assert provider.diff(created.id, created.outs, {}).changes is False
    provider.delete(created.id, created.outs)
    assert mithril.control.requests() == []


def _volume_behind_our_back(mithril: RunningEmulator, name: str) -> str:
    """A volume made a moment ago by another client, after this process's Flow SDK cached the volume list (90 s)."""
    with flow_session(Credentials.resolve()) as flow:
        flow.volumes.list()
    body = {"name": name, "region": "us-central1-a", "disk_interface": "File", "size_gb": 100, "project": PROJECT_ID}
    return str(mithril.backend.create_volume(body)["fid"])


def test_a_chosen_name_taken_a_moment_ago_is_seen_through_the_sdks_cache(
        volume_provider: FlowVolumeProvider, mithril: RunningEmulator) -> None:
    first = _volume_behind_our_back(mithril, "data-1a2b3c4d")
    second = str(mithril.backend.create_volume({**dict(mithril.backend.volumes[first].to_api([])),
                                                "disk_interface": "File", "size_gb": 200,
                                                "project": PROJECT_ID})["fid"])
    with pytest.raises(VolumeNameTakenError) as refused:
        volume_provider.create(checked_volume(region="us-central1-a"))
    assert refused.value.name == "data-1a2b3c4d" and refused.value.volume_id in (first, second)
    found = refused.value.problem.split("project (", 1)[1].split(")", 1)[0]
    assert sorted(found.split("; ")) == sorted([f"{first}, 100 GB in us-central1-a",
                                                f"{second}, 200 GB in us-central1-a"]), found
    assert f"pulumi import flow:index:Volume <resource name> {refused.value.volume_id}`" in refused.value.fix


def test_an_unrecorded_volume_made_a_moment_ago_is_found_through_the_sdks_cache(
        volume_provider: FlowVolumeProvider, mithril: RunningEmulator) -> None:
    inputs = checked_volume(region="us-central1-a", auto_named=True)
    made = _volume_behind_our_back(mithril, inputs["volume_name"])
    assert volume_provider.delete_unrecorded(inputs) == made
    assert volume_provider.delete_unrecorded(inputs) is None, "nothing left of that name"
    assert mithril.control.live_volumes() == []


def test_an_unrecorded_bid_that_cannot_be_looked_up_says_mithril_did_not_answer(
        task_provider: FlowTaskProvider, mithril: RunningEmulator) -> None:
    mithril.control.add_fault(kind="status", method="GET", path="/v2/spot/bids", status=503, times=1000)
    with pytest.raises(NoAnswerError) as caught:
        task_provider.delete_unrecorded(checked_task())
    assert caught.value.cause.startswith("APIError: ") and caught.value.fix == ""
    assert str(caught.value) == f"Mithril's bid list did not answer: {caught.value.cause}"
    mithril.control.clear_faults()
