"""What names and descriptions may hold: no control or format characters (Unicode Cc, Cf) that
would make what is shown differ from what is stored; names in NFC; line breaks in descriptions."""

from __future__ import annotations

import unicodedata

import pytest

from bank_domain import (
    InvalidValue,
    Ledger,
    ListAccountsQuery,
    OpenAccountCommand,
    PostTransactionCommand,
    UpdateAccountCommand,
)
from bank_domain.account import customer_name
from bank_domain.transaction import description

from .support import number_of, open_account

HIDDEN_IN_NAMES = [
    pytest.param("\u202eevil.exe", id="rtl-override"),
    pytest.param("Ada\u200bLovelace", id="zero-width-space"),
    pytest.param("\u200b", id="only-zero-width-space"),
    pytest.param("\u200b\u200b\u200b", id="only-zero-width-spaces"),
    pytest.param("\x1b[31mAda\x1b[0m", id="ansi-escape"),
    pytest.param("Ada\r\nLovelace", id="crlf"),
    pytest.param("Ada\nLovelace", id="lf"),
    pytest.param("Ada\rLovelace", id="cr"),
    pytest.param("Ada\tLovelace", id="tab"),
    pytest.param("Ada\x85Lovelace", id="c1-next-line"),
    pytest.param("\ufeffAda", id="byte-order-mark"),
    pytest.param("Ada\u2066Lovelace\u2069", id="bidi-isolate"),
    pytest.param("Ada\u00adLovelace", id="soft-hyphen"),
]


class TestNames:
    @pytest.mark.parametrize("value", HIDDEN_IN_NAMES)
    def test_refuses_control_and_format_characters(self, value: str) -> None:
        with pytest.raises(InvalidValue) as caught:
            customer_name(value)
        assert caught.value.field == "customer_name"

    def test_is_normalised_to_nfc(self) -> None:
        decomposed = "Zoe\u0308 Nun\u0303ez"
        assert customer_name(decomposed) == "Zoë Nuñez"
        assert unicodedata.is_normalized("NFC", customer_name(decomposed))

    @pytest.mark.parametrize("value", HIDDEN_IN_NAMES)
    async def test_the_ledger_opens_no_account_with_one(self, ledger: Ledger, value: str) -> None:
        with pytest.raises(InvalidValue) as caught:
            await ledger.open_account(OpenAccountCommand(value, "checking"))
        assert caught.value.field == "customer_name"

    @pytest.mark.parametrize("value", HIDDEN_IN_NAMES)
    async def test_the_ledger_renames_no_account_to_one(self, ledger: Ledger, value: str) -> None:
        account = await open_account(ledger, name="Ada")
        with pytest.raises(InvalidValue):
            await ledger.update_account(UpdateAccountCommand(number_of(account), value))
        assert (await ledger.get_account(number_of(account))).customer_name == "Ada"

    async def test_one_name_has_one_spelling_stored_and_looked_up(self, ledger: Ledger) -> None:
        account = await open_account(ledger, name="Zoe\u0308 Quinn")
        assert account.customer_name == "Zoë Quinn"
        for spelling in ("Zoë Quinn", "Zoe\u0308 Quinn"):
            page = await ledger.list_accounts(ListAccountsQuery(customer_name=spelling))
            assert [number_of(a) for a in page.items] == [number_of(account)]


class TestDescriptions:
    @pytest.mark.parametrize(
        "value", ["line one\nline two", "line one\r\nline two", "ends with a break\n", "\n"]
    )
    def test_keeps_line_breaks(self, value: str) -> None:
        assert description(value) == value

    @pytest.mark.parametrize(
        "value",
        [
            pytest.param("a lone\rcarriage return", id="lone-cr"),
            pytest.param("tab\there", id="tab"),
            pytest.param("\x1b[2Jcleared", id="ansi-escape"),
            pytest.param("bell\x07", id="bell"),
            pytest.param("rent\u202e", id="rtl-override"),
            pytest.param("rent\u200b", id="zero-width-space"),
            pytest.param("\u200b", id="only-zero-width-space"),
            pytest.param("line\x85next", id="c1-next-line"),
        ],
    )
    def test_refuses_every_other_control_or_format_character(self, value: str) -> None:
        with pytest.raises(InvalidValue) as caught:
            description(value)
        assert caught.value.field == "description"

    async def test_the_ledger_posts_no_transaction_with_one(self, ledger: Ledger) -> None:
        account = await open_account(ledger)
        with pytest.raises(InvalidValue) as caught:
            await ledger.post_transaction(
                PostTransactionCommand(number_of(account), "1.00", "deposit", description="\x1b[")
            )
        assert caught.value.field == "description"
