"""Money: exact decimals to the cent; floats, NaN, infinities and a third decimal place refused."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bank_domain import InvalidValue, Money
from bank_domain.money import MAX_AMOUNT, MAX_BALANCE, deposit_amount, transaction_amount

D = Decimal


class TestParsing:
    @pytest.mark.parametrize(
        ("given", "expected"),
        [
            (D("12.5"), "12.50"),
            (D("12.50"), "12.50"),
            (D("0.01"), "0.01"),
            (D("1E+2"), "100.00"),
            (7, "7.00"),
            (0, "0.00"),
            (-3, "-3.00"),
            ("3.14", "3.14"),
            ("  42 ", "42.00"),
            ("1e2", "100.00"),
            ("-0.5", "-0.50"),
            ("+9", "9.00"),
        ],
    )
    def test_reads_decimals_ints_and_strings_exactly(self, given: object, expected: str) -> None:
        money = Money.parse(given)
        assert isinstance(money.amount, Decimal)
        assert str(money) == expected
        assert money.amount == D(expected)
        assert money.amount.as_tuple().exponent == -2

    def test_money_passes_through(self) -> None:
        money = Money.parse("1.23")
        assert Money.parse(money) is money

    @pytest.mark.parametrize("value", [0.1, 1.0, 0.0, 100.25, float("nan"), float("inf")])
    def test_refuses_floats(self, value: float) -> None:
        with pytest.raises(InvalidValue) as caught:
            Money.parse(value)
        assert caught.value.field == "amount"
        assert caught.value.code == "validation_error"

    @pytest.mark.parametrize("value", [True, False])
    def test_refuses_booleans(self, value: bool) -> None:
        with pytest.raises(InvalidValue):
            Money.parse(value)

    @pytest.mark.parametrize("value", [None, [1], {"amount": 1}, b"1.00", object()])
    def test_refuses_what_is_no_number(self, value: object) -> None:
        with pytest.raises(InvalidValue):
            Money.parse(value)

    @pytest.mark.parametrize(
        "value",
        [
            "NaN",
            "nan",
            "-NaN",
            "sNaN",
            D("NaN"),
            D("sNaN"),
            "Infinity",
            "-Infinity",
            "+Infinity",
            "inf",
            "-inf",
            D("Infinity"),
            D("-Infinity"),
        ],
    )
    def test_refuses_nan_and_infinities(self, value: object) -> None:
        with pytest.raises(InvalidValue):
            Money.parse(value)

    @pytest.mark.parametrize(
        "value", ["", "   ", "abc", "1,00", "1 000", "0x10", "1.2.3", "--1", "1e", "12abc", "$5"]
    )
    def test_refuses_strings_that_are_no_number(self, value: str) -> None:
        with pytest.raises(InvalidValue):
            Money.parse(value)

    @pytest.mark.parametrize(
        "value", ["0.001", "1.005", "-0.125", D("0.125"), "1e-3", D("99.999"), "0.0000001"]
    )
    def test_refuses_more_than_two_decimal_places(self, value: object) -> None:
        with pytest.raises(InvalidValue) as caught:
            Money.parse(value)
        assert "2 decimal places" in caught.value.detail

    def test_names_the_field_it_read(self) -> None:
        with pytest.raises(InvalidValue) as caught:
            Money.parse("x", field="initial_deposit")
        assert caught.value.field == "initial_deposit"

    @pytest.mark.parametrize(
        "value",
        [
            pytest.param("1e999999", id="str-1e999999"),
            pytest.param("1e999999999999", id="str-1e999999999999"),
            pytest.param("-1e999999999999", id="str-minus-1e999999999999"),
            pytest.param(D("1E+1000000"), id="Decimal-1E+1000000"),
            pytest.param("9" * 60, id="str-60-nines"),
            pytest.param(10**40, id="int-10**40"),
        ],
    )
    def test_refuses_huge_numbers_as_invalid_values_not_arithmetic_errors(
        self, value: object
    ) -> None:
        # A client can send any exponent; the answer must be a validation error, never a crash.
        with pytest.raises(InvalidValue):
            Money.parse(value)

    def test_refuses_vanishingly_small_numbers(self) -> None:
        with pytest.raises(InvalidValue):
            Money.parse("1e-999999999999")


class TestTransactionAmounts:
    @pytest.mark.parametrize("value", ["0.01", "1", "1000000000000.00", "1e12", MAX_AMOUNT])
    def test_accepts_amounts_from_one_cent_to_a_trillion(self, value: object) -> None:
        assert transaction_amount(value).amount == D(str(value))

    @pytest.mark.parametrize(
        "value", ["1000000000000.01", "1e13", "1000000000001", 10**12 + 1, MAX_BALANCE]
    )
    def test_refuses_amounts_above_a_trillion(self, value: object) -> None:
        with pytest.raises(InvalidValue) as caught:
            transaction_amount(value)
        assert caught.value.field == "amount"

    @pytest.mark.parametrize("value", ["0", "0.00", 0, "-0.01", -5, "-0"])
    def test_refuses_zero_and_negative_amounts(self, value: object) -> None:
        with pytest.raises(InvalidValue):
            transaction_amount(value)

    def test_deposit_amount_allows_zero_but_not_negative_or_too_much(self) -> None:
        assert deposit_amount(0, "initial_deposit").is_zero()
        assert deposit_amount("1000000000000.00", "initial_deposit").amount == MAX_AMOUNT
        with pytest.raises(InvalidValue) as caught:
            deposit_amount("-0.01", "initial_deposit")
        assert caught.value.field == "initial_deposit"
        with pytest.raises(InvalidValue):
            deposit_amount("1000000000000.01", "initial_deposit")


class TestArithmetic:
    def test_point_one_plus_point_two_is_exactly_point_three(self) -> None:
        total = Money.parse("0.1") + Money.parse("0.2")
        assert total == Money.parse("0.3")
        assert total.amount == D("0.3")
        assert str(total) == "0.30"

    def test_ten_dimes_make_exactly_one(self) -> None:
        total = Money.zero()
        for _ in range(10):
            total += Money.parse("0.10")
        assert total == Money.parse(1)

    def test_subtraction_negation_and_predicates(self) -> None:
        a, b = Money.parse("5.25"), Money.parse("7.50")
        assert (a - b) == Money.parse("-2.25")
        assert (a - b).is_negative()
        assert -a == Money.parse("-5.25")
        assert (a - a).is_zero()
        assert not a.is_zero()
        assert not a.is_negative()
        assert a < b

    def test_constructor_refuses_floats_nan_and_a_third_place(self) -> None:
        with pytest.raises(TypeError):
            Money(1.5)  # type: ignore[arg-type]  # a float on purpose: refused at run time
        with pytest.raises(TypeError):
            Money(D("NaN"))
        with pytest.raises(InvalidValue):
            Money(D("0.001"))

    def test_equal_amounts_with_different_exponents_are_one_value(self) -> None:
        assert Money(D("1")) == Money(D("1.00"))
        assert hash(Money(D("1"))) == hash(Money(D("1.00")))
        assert str(Money(D("1"))) == "1.00"


class TestCents:
    @pytest.mark.parametrize(
        ("text", "cents"),
        [("0.01", 1), ("12.34", 1234), ("-0.99", -99), ("0", 0), ("1e12", 10**14)],
    )
    def test_known_values(self, text: str, cents: int) -> None:
        assert Money.parse(text).cents == cents
        assert Money.from_cents(cents) == Money.parse(text)

    @given(st.integers(min_value=-(10**16), max_value=10**16))
    def test_cents_round_trip(self, cents: int) -> None:
        money = Money.from_cents(cents)
        assert money.cents == cents
        assert Money.parse(str(money)) == money
        assert Money.parse(money.amount) == money

    @given(st.lists(st.integers(min_value=-(10**12), max_value=10**12), max_size=30))
    def test_sums_are_exact(self, cents: list[int]) -> None:
        total = Money.zero()
        for c in cents:
            total += Money.from_cents(c)
        assert total.cents == sum(cents)

    @given(st.decimals(min_value=-MAX_BALANCE, max_value=MAX_BALANCE, places=2, allow_nan=False))
    def test_any_two_place_decimal_parses_to_itself(self, value: Decimal) -> None:
        assert Money.parse(value).amount == value
        assert Money.parse(str(value)).amount == value


@pytest.mark.parametrize("text", ["1_000", "\u0661\u0662", "\uff11\uff12", "1,000", "0x10"])
def test_amount_text_is_plain_ascii_decimal_notation(text: str) -> None:
    with pytest.raises(InvalidValue):
        Money.parse(text)


@pytest.mark.parametrize("value", ["\u20035", "5\u00a0", "\u30005"])
def test_only_ascii_white_space_may_surround_an_amount_written_as_text(value: str) -> None:
    with pytest.raises(InvalidValue):
        Money.parse(value)


_CENTS = st.integers(min_value=-int(MAX_BALANCE * 100), max_value=int(MAX_BALANCE * 100))


@given(_CENTS, _CENTS)
def test_arithmetic_skips_no_rule_that_the_checked_constructor_keeps(a: int, b: int) -> None:
    """Sums, differences, negations and cents are made without the constructor's checks: each
    must equal what the checked constructor makes of the same amount, to the cent."""
    left, right = Money.from_cents(a), Money.from_cents(b)
    for made, cents in ((left + right, a + b), (left - right, a - b), (-left, -a), (left, a)):
        checked = Money(Decimal(cents) / 100)
        assert made == checked
        assert made.amount.as_tuple().exponent == -2
        assert str(made.amount) == str(checked.amount)
        assert made.cents == cents


def test_cents_are_whole() -> None:
    with pytest.raises(TypeError):
        Money.from_cents(1.5)  # type: ignore[arg-type]
