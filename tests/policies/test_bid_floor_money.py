"""The bid floor in exact money: the default bid always clears the floor computed from the same figures.

The bid travels as Pulumi state does (a float64 on the wire) into the policy, built the way the
policy SDK builds its arguments, so the property covers the real path of the number.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pulumi_flow import pricing, validation
from pulumi_flow.money import as_number, cents_up, usd
from pulumi_flow_policies import bid_floor

from .conftest import TASK_TYPE, resource_args, task, violations

FAMILIES = ("a100", "h100", "h200", "b200", "mi300x")
figures = st.decimals(min_value=Decimal("0.001"), max_value=Decimal("40"), places=4)
margins = st.decimals(min_value=Decimal("0.5"), max_value=Decimal("3"), places=3)


def floor_config(thresholds: dict[str, Decimal], margin: Decimal) -> dict[str, object]:
    # As --policy-pack-config JSON carries them: numbers.
    return {"thresholds": {k: float(v) for k, v in thresholds.items()}, "margin": float(margin)}


@settings(max_examples=300, deadline=None)
@given(family=st.sampled_from(FAMILIES), gpus=st.sampled_from([1, 2, 4, 8]), figure=figures, margin=margins)
def test_the_default_bid_is_never_below_the_floor_and_always_accepted(family: str, gpus: int, figure: Decimal,
                                                                      margin: Decimal) -> None:
    instance_type = f"{gpus}x{family}"
    thresholds = {family: figure}
    config = floor_config(thresholds, margin)
    bid = pricing.default_bid(instance_type, thresholds, usd(config["margin"]))
    floor = pricing.on_demand_threshold(instance_type, thresholds, usd(config["margin"]))
    assert bid >= floor and bid - floor < Decimal("0.01") and bid == bid.quantize(Decimal("0.01"))
    # Through validation (what the provider's check records) and the wire, into the policy.
    recorded = validation.price(as_number(bid))
    args = resource_args(TASK_TYPE, task(instance_type=instance_type, max_price_per_hour=recorded), config=config)
    assert violations(bid_floor.policy, args) == []


@settings(max_examples=200, deadline=None)
@given(family=st.sampled_from(FAMILIES), gpus=st.sampled_from([1, 2, 4, 8]), figure=figures, margin=margins)
def test_a_cent_under_the_least_whole_cent_bid_is_refused(family: str, gpus: int, figure: Decimal,
                                                          margin: Decimal) -> None:
    instance_type = f"{gpus}x{family}"
    config = floor_config({family: figure}, margin)
    least = pricing.default_bid(instance_type, {family: figure}, usd(config["margin"]))
    under = least - Decimal("0.01")
    if under <= 0:
        return
    args = resource_args(TASK_TYPE, task(instance_type=instance_type, max_price_per_hour=as_number(under)),
                         config=config)
    (message,) = violations(bid_floor.policy, args)
    assert f"at least {least}" in message


def test_one_a100_defaults_to_the_threshold_rounded_up_not_down() -> None:
    """$3.125 per GPU-hour: the old code bid $3.12, a cent under its own floor, and nothing noticed."""
    assert pricing.default_bid("1xa100") == Decimal("3.13")
    args = resource_args(TASK_TYPE, task(instance_type="1xa100", max_price_per_hour=3.12))
    (message,) = violations(bid_floor.policy, args)
    assert "$3.12" in message and "$3.125" in message and "at least 3.13" in message
    assert violations(bid_floor.policy, resource_args(TASK_TYPE, task(instance_type="1xa100",
                                                                      max_price_per_hour=3.13))) == []


@pytest.mark.parametrize(("written", "sent"), [(3.125, 3.13), (50.0, 50.0), (50.001, 50.01), (52.5, 52.5),
                                               (0.1 + 0.2, 0.3), (3.125 * 8 * 1.1, 27.5)])
def test_a_bid_is_whole_cents_rounded_up_never_down(written: float, sent: float) -> None:
    assert validation.price(written) == sent
    assert usd(validation.price(written)) == cents_up(usd(written))


def test_the_message_says_where_the_floor_came_from() -> None:
    built_in = violations(bid_floor.policy, resource_args(TASK_TYPE, task(max_price_per_hour=30.0)))
    assert "pulumi-flow's built-in thresholds" in built_in[0]
    configured = violations(bid_floor.policy, resource_args(TASK_TYPE, task(max_price_per_hour=30.0),
                                                            config={"margin": 1.2}))
    assert "--policy-pack-config" in configured[0] and "$60" in configured[0]
