"""Money as users and Mithril see it: what is accepted, what a bid becomes on the wire, what a message shows.

`pulumi_flow.money` and `pulumi_flow.pricing` are the one place money is parsed, rounded and written, so these
tests pin their observable results: the exact amount, the wire string Mithril receives, the text people read.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from pulumi_flow import money, pricing


@pytest.mark.parametrize(("given", "amount"), [
    (12, Decimal("12")),
    (12.5, Decimal("12.5")),
    (3.125, Decimal("3.125")),
    (0.1 + 0.2, Decimal("0.300000")),
    (27.500000000000004, Decimal("27.500000")),
    (Decimal("7.25"), Decimal("7.25")),
    ("12.5", Decimal("12.5")),
    ("$1,025.60", Decimal("1025.60")),
    ("  $3.13 ", Decimal("3.13")),
    ("0.0000015", Decimal("0.000002")),
    ("0.0000025", Decimal("0.000002")),
    ("0.000001", Decimal("0.000001")),
])
def test_amounts_are_read_exactly(given: object, amount: Decimal) -> None:
    """Float noise is cut at the micro-dollar (six places), never more finely and never more coarsely."""
    read = money.usd(given)
    assert read == amount
    assert str(read) == str(amount)


@pytest.mark.parametrize("given", [True, False, float("nan"), float("inf"), -float("inf"), "NaN", "Infinity", "",
                                   "twelve", "$", None, [12], {"usd": 12}])
def test_what_is_not_money_is_refused_and_named(given: object) -> None:
    with pytest.raises(money.NotMoneyError) as caught:
        money.usd(given)
    assert caught.value.value is given or caught.value.value == given
    assert str(caught.value) == f"{given!r} is not a finite number of US dollars, such as 12.5 or '$12.50'"
    assert money.maybe_usd(given) is None


def test_the_refusal_can_say_what_was_expected_instead() -> None:
    error = money.NotMoneyError("x", expected="a price per hour")
    assert (error.value, error.expected, str(error)) == ("x", "a price per hour", "'x' is not a price per hour")


@pytest.mark.parametrize(("amount", "up"), [
    ("3.125", "3.13"), ("3.121", "3.13"), ("3.12", "3.12"), ("50", "50.00"), ("0.001", "0.01"), ("-0.005", "-0.00"),
])
def test_cents_up_never_rounds_down(amount: str, up: str) -> None:
    assert str(money.cents_up(Decimal(amount))) == up


@pytest.mark.parametrize(("amount", "wire"), [
    (52.5, "$52.50"), (50.4, "$50.40"), (50, "$50.00"), (3.125, "$3.13"), (Decimal("25.6"), "$25.60"),
    (1025.6, "$1025.60"), (0.001, "$0.01"),
])
def test_the_limit_price_mithril_receives_is_whole_cents_rounded_up(amount: object, wire: str) -> None:
    assert money.limit_price(amount) == wire  # type: ignore[arg-type]


@pytest.mark.parametrize(("amount", "text"), [
    (1025.6, "$1,025.60"), (3.125, "$3.125"), (50, "$50.00"), (Decimal("0.5"), "$0.50"),
    (1234567.891, "$1,234,567.891"),
    (Decimal("12.50"), "$12.50"),
])
def test_people_see_thousands_separators_and_every_significant_digit(amount: object, text: str) -> None:
    assert money.show(amount) == text  # type: ignore[arg-type]


@pytest.mark.parametrize(("amount", "text"), [
    (1025.6, "1025.60"), (3.125, "3.125"), (Decimal("46080"), "46080.00"), (0, "0.00"),
])
def test_scripts_read_exact_decimal_strings(amount: object, text: str) -> None:
    assert money.as_text(amount) == text  # type: ignore[arg-type]


def test_state_numbers_are_exact_for_whole_cents() -> None:
    assert money.as_number(Decimal("52.50")) == 52.5
    assert isinstance(money.as_number(Decimal("3")), float)


@pytest.mark.parametrize(("instance_type", "floor"), [
    ("1xa100", "3.125"), ("8xa100", "25.000"), ("4xa100", "12.500"), ("8xh100", "50.00"), ("2xh100", "12.50"),
    ("8xA100", "25.000"),
])
def test_the_floor_is_per_gpu_times_gpus_exactly(instance_type: str, floor: str) -> None:
    assert pricing.on_demand_threshold(instance_type) == Decimal(floor)


def test_the_margin_multiplies_the_floor_and_the_default_bid_rounds_it_up() -> None:
    assert pricing.on_demand_threshold("1xa100", margin=1.1) == Decimal("3.4375")
    assert pricing.default_bid("1xa100", margin="1.1") == Decimal("3.44")
    assert pricing.default_bid("1xa100") == Decimal("3.13")
    assert pricing.default_bid("8xh100") == Decimal("50.00")


def test_overrides_are_merged_over_the_defaults_case_folded_and_exact() -> None:
    merged = pricing.merged_thresholds({"H100": 7.5, "b200": "$9.99"})
    assert merged == {"a100": Decimal("3.125"), "h100": Decimal("7.5"), "b200": Decimal("9.99")}
    assert pricing.merged_thresholds() == dict(pricing.DEFAULT_THRESHOLDS_PER_GPU_HOUR)
    assert pricing.on_demand_threshold("2xb200", {"b200": "9.99"}) == Decimal("19.98")
    # The defaults themselves are never changed by an override.
    assert pricing.DEFAULT_THRESHOLDS_PER_GPU_HOUR["h100"] == Decimal("6.25")


def test_a_family_without_a_figure_says_which_and_how_to_configure_it() -> None:
    with pytest.raises(pricing.MissingThresholdError) as caught:
        pricing.on_demand_threshold("8xb200", {"l40s": 1})
    error = caught.value
    assert (error.family, error.instance_type) == ("b200", "8xb200")
    assert str(error) == (
        "no on-demand threshold is known for GPU family 'b200' (instance type '8xb200'); known families: "
        "a100, h100, l40s. Fix: give the cluster an explicit max_price_per_hour, and configure the policy pack's "
        'threshold, e.g. {"infrastructure-bid-floor": {"thresholds": {"b200": 7.5}}} (USD per GPU-hour) in '
        "--policy-pack-config")
    assert "known families: none" in str(pricing.MissingThresholdError("b200", "8xb200", {}))


@pytest.mark.parametrize(("instance_type", "parsed"), [("8xh100", ("h100", 8)), ("1xa100", ("a100", 1))])
def test_instance_types_are_read_by_flows_grammar(instance_type: str, parsed: tuple[str, int]) -> None:
    assert pricing.gpu_family_and_count(instance_type) == parsed


def test_a_bare_family_is_refused_because_the_floor_is_per_gpu() -> None:
    with pytest.raises(ValueError, match=r"^instance type 'h100' names no GPU count; the threshold is per GPU, "
                                         r"so write e.g. '8xh100'$"):
        pricing.gpu_family_and_count("h100")


def test_maybe_usd_reads_money_and_gives_none_for_the_rest() -> None:
    assert money.maybe_usd("$12.50") == Decimal("12.50")
    assert money.maybe_usd(None) is None


@pytest.mark.parametrize(("wire", "amount", "cents"), [
    ("$12", Decimal("12"), 1_200), ("$12.5", Decimal("12.5"), 1_250), ("$12.50", Decimal("12.50"), 1_250),
    ("$0.01", Decimal("0.01"), 1), ("$0", Decimal("0"), 0), ("$9999999.99", Decimal("9999999.99"), 999_999_999),
])
def test_mithrils_wire_prices_are_read_exactly_and_round_trip(wire: str, amount: Decimal, cents: int) -> None:
    assert money.from_wire(wire) == amount
    assert money.in_cents(money.from_wire(wire)) == cents
    assert money.from_cents(cents) == amount
    assert money.limit_price(money.from_cents(cents)) == f"${amount:.2f}"


@pytest.mark.parametrize("wire", ["12.50", "$ 5", "$1_000", "$1,000.00", "$inf", "$1e3", "$12.505", "$-1", "$01",
                                  "$12.", "$10000000", 12.5, None, ""])
def test_anything_but_mithrils_wire_form_is_refused_as_a_wire_price(wire: object) -> None:
    with pytest.raises(money.NotMoneyError) as caught:
        money.from_wire(wire)
    assert caught.value.value == wire and caught.value.expected == "a dollar string such as '$12.50'"


def test_a_fraction_of_a_cent_is_refused_not_dropped() -> None:
    with pytest.raises(money.NotMoneyError, match="a whole number of cents"):
        money.in_cents(Decimal("12.505"))
