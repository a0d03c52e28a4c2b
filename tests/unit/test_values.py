"""Identifiers, free text and choices: what the ledger lets in, to the character."""

from __future__ import annotations

import pytest

from bank_domain import (
    AccountNumber,
    AccountStatus,
    AccountType,
    InvalidValue,
    TransactionId,
    TransactionStatus,
    TransactionType,
)
from bank_domain.account import customer_name
from bank_domain.transaction import description


class TestAccountNumber:
    @pytest.mark.parametrize("value", ["0123456789", "0000000000", "9999999999"])
    def test_accepts_exactly_ten_ascii_digits(self, value: str) -> None:
        assert str(AccountNumber(value)) == value

    @pytest.mark.parametrize(
        "value",
        [
            pytest.param("", id="empty"),
            pytest.param("123456789", id="9-digits"),
            pytest.param("12345678901", id="11-digits"),
            pytest.param("1234567890\n", id="newline-at-end"),
            pytest.param("\n1234567890", id="newline-at-start"),
            pytest.param(" 1234567890", id="leading-space"),
            pytest.param("1234567890 ", id="trailing-space"),
            pytest.param("12345-7890", id="dash"),
            pytest.param("12345678a0", id="letter"),
            pytest.param(
                "".join(chr(0x0660 + d) for d in (1, 2, 3, 4, 5, 6, 7, 8, 9, 0)),
                id="arabic-indic-digits",
            ),
            pytest.param(
                "".join(chr(0xFF10 + d) for d in (1, 2, 3, 4, 5, 6, 7, 8, 9, 0)),
                id="fullwidth-digits",
            ),
            pytest.param("123456789\u0660", id="one-unicode-digit"),
            pytest.param("²³⁴⁵⁶⁷⁸⁹¹⁰", id="superscripts"),
        ],
    )
    def test_refuses_anything_else(self, value: str) -> None:
        with pytest.raises(InvalidValue) as caught:
            AccountNumber(value)
        assert caught.value.field == "account_number"
        assert caught.value.code == "validation_error"

    @pytest.mark.parametrize("value", [1234567890, None, b"1234567890"])
    def test_refuses_what_is_not_a_string(self, value: object) -> None:
        with pytest.raises(InvalidValue):
            AccountNumber(value)  # type: ignore[arg-type]  # not a str, on purpose

    def test_generates_ten_digit_numbers(self) -> None:
        numbers = {AccountNumber.generate().value for _ in range(200)}
        assert len(numbers) > 190
        for number in numbers:
            assert len(number) == 10
            assert number.isascii()
            assert number.isdigit()

    def test_equal_by_value_and_ordered(self) -> None:
        assert AccountNumber("0000000001") == AccountNumber("0000000001")
        assert AccountNumber("0000000001") < AccountNumber("0000000002")


class TestTransactionId:
    @pytest.mark.parametrize(
        "value",
        [
            pytest.param("a" * 8, id="length-8"),
            pytest.param("Z" * 64, id="length-64"),
            pytest.param("abcdefghijk", id="contract-example"),
            pytest.param("AZaz09_-", id="every-kind-of-character"),
            pytest.param("--------", id="dashes"),
            pytest.param("________", id="underscores"),
        ],
    )
    def test_accepts_8_to_64_allowed_characters(self, value: str) -> None:
        assert str(TransactionId(value)) == value

    @pytest.mark.parametrize(
        "value",
        [
            pytest.param("", id="empty"),
            pytest.param("a" * 7, id="length-7"),
            pytest.param("a" * 65, id="length-65"),
            pytest.param("abcdefgh\n", id="newline-at-end"),
            pytest.param("abcdefg\n", id="newline-makes-8"),
            pytest.param("abcd efgh", id="space"),
            pytest.param("abcd.efgh", id="dot"),
            pytest.param("abcd/efgh", id="slash"),
            pytest.param("abcdéfgh", id="accented-letter"),
            pytest.param("abcdefg\u0661", id="unicode-digit"),
            pytest.param("abcdefgh\x00", id="nul"),
            pytest.param("".join(chr(0xFF21 + i) for i in range(8)), id="fullwidth-letters"),
        ],
    )
    def test_refuses_anything_else(self, value: str) -> None:
        with pytest.raises(InvalidValue) as caught:
            TransactionId(value)
        assert caught.value.field == "transaction_id"

    def test_refuses_what_is_not_a_string(self) -> None:
        with pytest.raises(InvalidValue):
            TransactionId(12345678)  # type: ignore[arg-type]  # not a str, on purpose

    def test_generates_valid_unique_ids(self) -> None:
        ids = {TransactionId.generate().value for _ in range(200)}
        assert len(ids) == 200
        for value in ids:
            assert TransactionId(value).value == value


class TestCustomerName:
    def test_trims_surrounding_white_space(self) -> None:
        assert customer_name("  Ada Lovelace \t\n") == "Ada Lovelace"

    def test_keeps_inner_white_space_and_any_script(self) -> None:
        assert customer_name("Zoë  李 O'Brien-Ñuñez") == "Zoë  李 O'Brien-Ñuñez"

    @pytest.mark.parametrize("length", [1, 199, 200])
    def test_accepts_1_to_200_characters(self, length: int) -> None:
        assert customer_name("n" * length) == "n" * length

    def test_counts_characters_after_trimming(self) -> None:
        assert customer_name("   " + "n" * 200 + "   ") == "n" * 200

    @pytest.mark.parametrize(
        "value",
        [
            pytest.param("n" * 201, id="201-chars"),
            pytest.param("", id="empty"),
            pytest.param("   ", id="spaces"),
            pytest.param("\t\n\r", id="white-space"),
            pytest.param("\u3000", id="ideographic-space"),
            pytest.param("Ada\x00Lovelace", id="nul"),
            pytest.param("\x00", id="only-nul"),
            pytest.param("Ada \ud800", id="lone-surrogate"),
            pytest.param("\udfff", id="lone-low-surrogate"),
        ],
    )
    def test_refuses(self, value: str) -> None:
        with pytest.raises(InvalidValue) as caught:
            customer_name(value)
        assert caught.value.field == "customer_name"

    @pytest.mark.parametrize("value", [None, 42, b"Ada"])
    def test_refuses_what_is_not_a_string(self, value: object) -> None:
        with pytest.raises(InvalidValue):
            customer_name(value)


class TestDescription:
    @pytest.mark.parametrize("value", [None, "", "Rent", "d" * 500, "Café ☕ 李"])
    def test_accepts_none_and_up_to_500_characters(self, value: str | None) -> None:
        assert description(value) == value

    @pytest.mark.parametrize(
        "value",
        [
            pytest.param("d" * 501, id="501-chars"),
            pytest.param("rent\x00", id="nul"),
            pytest.param("\ud800", id="lone-surrogate"),
            pytest.param("rent \udc00 due", id="lone-low-surrogate"),
        ],
    )
    def test_refuses(self, value: str) -> None:
        with pytest.raises(InvalidValue) as caught:
            description(value)
        assert caught.value.field == "description"

    @pytest.mark.parametrize("value", [42, b"rent", ["rent"]])
    def test_refuses_what_is_not_a_string(self, value: object) -> None:
        with pytest.raises(InvalidValue):
            description(value)

    @pytest.mark.parametrize(
        "value",
        [
            pytest.param("d" * 500 + " ", id="500-chars-and-a-space"),
            pytest.param(" " * 10_000, id="10000-spaces"),
        ],
    )
    def test_what_it_keeps_is_never_longer_than_500_characters(self, value: str) -> None:
        # The contract: a description is at most 500 characters. Whatever is accepted is what
        # the store keeps, so it must fit (a VARCHAR(500) column would refuse it).
        try:
            kept = description(value)
        except InvalidValue:
            return
        assert kept is not None
        assert len(kept) <= 500


class TestChoices:
    @pytest.mark.parametrize(
        ("choices", "value", "field"),
        [
            (AccountType, "savings", "account_type"),
            (AccountType, "checking", "account_type"),
            (AccountStatus, "active", "status"),
            (AccountStatus, "frozen", "status"),
            (TransactionType, "deposit", "transaction_type"),
            (TransactionType, "withdrawal", "transaction_type"),
            (TransactionStatus, "pending", "status"),
            (TransactionStatus, "success", "status"),
            (TransactionStatus, "failed", "status"),
            (TransactionStatus, "cancelled", "status"),
        ],
    )
    def test_reads_the_exact_words(
        self,
        choices: type[AccountType | AccountStatus | TransactionType | TransactionStatus],
        value: str,
        field: str,
    ) -> None:
        parsed = choices.parse(value)
        assert parsed.value == value
        for wrong in (value.upper(), f" {value}", f"{value}\n", value[:-1], None, 1):
            with pytest.raises(InvalidValue) as caught:
                choices.parse(wrong)
            assert caught.value.field == field

    def test_only_failed_and_cancelled_are_final(self) -> None:
        assert {s for s in TransactionStatus if s.is_final} == {
            TransactionStatus.FAILED,
            TransactionStatus.CANCELLED,
        }
