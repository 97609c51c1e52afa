"""Provider errors as data: one shape (problem, fix), the facts as attributes, the kind kept through scrubbing."""

from __future__ import annotations

import pickle
from decimal import Decimal

import pytest

from pulumi_flow import provider
from pulumi_flow.provider import errors
from pulumi_flow.provider.session import scrubbed

NAMED = [
    errors.MissingApiKeyError(),
    errors.BidLookupError(name="train-1a2b", cause="ReadTimeout: timed out"),
    errors.BelowMarketError(instance_type="8xa100", bid=Decimal("12.00"), least=Decimal("16.00"),
                            markets={"us-central1-a": Decimal("16.00"), "eu-central1-a": Decimal("17.60")}),
    errors.CreateRolledBackError(errors.FlowProviderError("the wait ended", "wait longer"), bid_id="bid_1"),
    errors.StillBillingError("bid bid_1 is still live", "cancel it", bid_id="bid_1", refusal="HTTP 503"),
    errors.NotOurBidError(name="train-1a2b", bid_id="bid_2", mismatch="it bids $33.00, not $40.00"),
    errors.NotReadyError(task_id="bid_3", until="running", waited="30 seconds", status="pending", bid_status="Open",
                         up=0, wanted=2, bound="ready_timeout_minutes"),
    errors.VolumeGoneError("vol_1"),
    errors.VolumeInUseError(volume_id="vol_1", volume_name="data", users=["bid_1"]),
    errors.VolumeNameTakenError(name="data", found="vol_1, 100 GB in us-central1-a", volume_id="vol_1"),
]


@pytest.mark.parametrize("error", NAMED, ids=lambda e: type(e).__name__)
def test_every_named_error_reads_problem_then_fix_and_survives_a_pickle(error: errors.FlowProviderError) -> None:
    assert isinstance(error, errors.FlowProviderError)
    assert error.problem and error.fix, "a case users meet says what to do"
    assert str(error) == f"{error.problem}. Fix: {error.fix}"
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error) and copy.__dict__ == error.__dict__ and str(copy) == str(error)


def test_the_facts_are_attributes_not_text_to_parse() -> None:
    below = NAMED[2]
    assert isinstance(below, errors.BelowMarketError)
    assert (below.bid, below.least) == (Decimal("12.00"), Decimal("16.00"))
    assert "now eu-central1-a $17.60, us-central1-a $16.00 per instance-hour" in below.problem
    assert below.fix.startswith("set max_price_per_hour to at least 16.00")
    rolled_back = NAMED[3]
    assert isinstance(rolled_back, errors.CreateRolledBackError)
    assert (rolled_back.bid_id, rolled_back.fix) == ("bid_1", "wait longer")
    assert rolled_back.problem == "the wait ended; bid bid_1 was cancelled, nothing is left billing"
    plain = errors.CreateRolledBackError(TimeoutError("no answer"), bid_id="bid_9")
    assert str(plain) == "no answer; bid bid_9 was cancelled, nothing is left billing", "no fix: no 'Fix:'"


def test_scrubbing_removes_a_key_from_problem_and_fix_and_keeps_the_kind_and_data() -> None:
    key = "fkey_abcdefghijklmnop"
    with pytest.raises(errors.StillBillingError) as caught, scrubbed(key, "deleting"):
        raise errors.StillBillingError(f"refused with {key}", f"export MITHRIL_API_KEY={key} and retry",
                                       bid_id="bid_1", refusal="HTTP 401")
    assert key not in str(caught.value) and key not in repr(caught.value.args)
    assert caught.value.bid_id == "bid_1" and caught.value.__context__ is None


def test_the_errors_are_importable_where_they_were() -> None:
    from pulumi_flow.provider.session import FlowProviderError, MissingApiKeyError
    from pulumi_flow.provider.task import BidLookupError, CreateRolledBackError
    from pulumi_flow.provider.volume import VolumeNameTakenError, VolumeReplacementRefusedError

    assert (FlowProviderError, MissingApiKeyError) == (errors.FlowProviderError, errors.MissingApiKeyError)
    assert (BidLookupError, CreateRolledBackError) == (errors.BidLookupError, errors.CreateRolledBackError)
    assert VolumeNameTakenError is errors.VolumeNameTakenError
    assert VolumeReplacementRefusedError is errors.VolumeReplacementRefusedError
    assert set(provider.__all__) >= {name for name in dir(errors) if name.endswith("Error")}
