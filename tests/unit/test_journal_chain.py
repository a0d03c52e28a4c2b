"""The journal's hash chain (contract section 11): the hashed text to the character, and the
verification that names the first entry a tamper breaks.

The expected hashes are SHA-256 over texts written out by hand here, not over the module's own
text, so a wrong field order, separator or number format fails these tests."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from bank_domain import AccountNumber, Money, TransactionId
from bank_domain.journal import (
    EMPTY_CHAIN,
    GENESIS_HASH,
    ChainBreak,
    ChainHead,
    JournalCheck,
    JournalEntry,
    chain_hash,
    posted_at_text,
    verify_chain,
)
from bank_web.json_codec import dumps

ACCOUNT = AccountNumber("1234567890")
SIXTY_FOUR_ZEROS = "0000000000000000000000000000000000000000000000000000000000000000"


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def money(text: str) -> Money:
    return Money(Decimal(text))


def at(second: int, microsecond: int = 0) -> datetime:
    return datetime(2024, 5, 1, 12, 0, second, microsecond, tzinfo=UTC)


class TestPostedAtText:
    def test_writes_utc_with_z_and_six_digits_of_fraction(self) -> None:
        assert posted_at_text(at(0, 250)) == "2024-05-01T12:00:00.000250Z"

    def test_leaves_out_a_zero_fraction(self) -> None:
        assert posted_at_text(at(0)) == "2024-05-01T12:00:00Z"

    def test_writes_another_zone_in_utc(self) -> None:
        two_hours_east = timezone(timedelta(hours=2))
        moment = datetime(2024, 5, 1, 14, 0, 0, 5, tzinfo=two_hours_east)
        assert posted_at_text(moment) == "2024-05-01T12:00:00.000005Z"

    def test_refuses_a_naive_timestamp(self) -> None:
        with pytest.raises(ValueError, match="time zone"):
            posted_at_text(datetime(2024, 5, 1, 12, 0, 0))  # naive on purpose

    @pytest.mark.parametrize(
        "moment",
        [at(0), at(0, 1), at(59, 999_999), at(7, 120_000), datetime(1999, 12, 31, tzinfo=UTC)],
    )
    def test_is_the_text_the_api_writes_for_a_timestamp(self, moment: datetime) -> None:
        assert dumps(moment).decode() == f'"{posted_at_text(moment)}"'


class TestChainHash:
    def test_genesis_is_sixty_four_zeros(self) -> None:
        assert GENESIS_HASH == SIXTY_FOUR_ZEROS
        assert ChainHead(0, SIXTY_FOUR_ZEROS, None) == EMPTY_CHAIN

    def test_hashes_the_fields_in_the_contract_order(self) -> None:
        hashed = chain_hash(
            GENESIS_HASH,
            entry_id=1,
            account_number=ACCOUNT,
            transaction_id=TransactionId("abcdefghijk"),
            amount=money("500"),
            balance_after=money("500"),
            posted_at=at(0, 250),
        )
        assert hashed == sha256_hex(
            "0000000000000000000000000000000000000000000000000000000000000000"
            "|1|1234567890|abcdefghijk|500.00|500.00|2024-05-01T12:00:00.000250Z"
        )

    @pytest.mark.parametrize(
        ("amount", "balance_after", "written"),
        [
            pytest.param("-5", "495", "-5.00|495.00", id="negative-amount"),
            pytest.param("0.3", "0.3", "0.30|0.30", id="leading-zero-two-places"),
            pytest.param("-0.3", "-0.3", "-0.30|-0.30", id="negative-below-one"),
            pytest.param("-12.5", "0", "-12.50|0.00", id="zero-balance"),
            pytest.param("-0.00", "-0.00", "0.00|0.00", id="negative-zero-is-unsigned"),
            pytest.param(
                "1E+14", "1E+14", "100000000000000.00|100000000000000.00", id="no-exponent"
            ),
        ],
    )
    def test_writes_amounts_with_two_places_and_a_sign_only_when_negative(
        self, amount: str, balance_after: str, written: str
    ) -> None:
        hashed = chain_hash(
            "ab" * 32,
            entry_id=42,
            account_number=ACCOUNT,
            transaction_id=TransactionId("tx_0000001"),
            amount=money(amount),
            balance_after=money(balance_after),
            posted_at=at(1),
        )
        expected_text = f"{'ab' * 32}|42|1234567890|tx_0000001|{written}|2024-05-01T12:00:01Z"
        assert hashed == sha256_hex(expected_text)

    def test_a_second_entry_chains_to_the_first_entrys_hash(self) -> None:
        first = JournalEntry.next(
            EMPTY_CHAIN,
            money("0.00"),
            account_number=ACCOUNT,
            transaction_id=TransactionId("abcdefghijk"),
            amount=money("500.00"),
            now=at(0, 250),
        )
        second = JournalEntry.next(
            first.head,
            first.balance_after,
            account_number=ACCOUNT,
            transaction_id=TransactionId("withdraw-0001"),
            amount=money("-5.00"),
            now=at(1),
        )
        first_hash = sha256_hex(
            "0000000000000000000000000000000000000000000000000000000000000000"
            "|1|1234567890|abcdefghijk|500.00|500.00|2024-05-01T12:00:00.000250Z"
        )
        assert first.hash == first_hash
        assert (second.entry_id, second.balance_after) == (2, money("495.00"))
        assert second.hash == sha256_hex(
            f"{first_hash}|2|1234567890|withdraw-0001|-5.00|495.00|2024-05-01T12:00:01Z"
        )


class TestJournalEntry:
    def test_next_numbers_the_entry_and_adds_the_amount_to_the_balance(self) -> None:
        entry = JournalEntry.next(
            ChainHead(2, "cd" * 32, at(1)),
            money("10.00"),
            account_number=ACCOUNT,
            transaction_id=TransactionId("abcdefghijk"),
            amount=money("-10.00"),
            now=at(2),
        )
        assert (entry.entry_id, entry.balance_after, entry.posted_at) == (3, money("0.00"), at(2))
        assert entry.head == ChainHead(3, entry.hash, at(2))
        assert entry.hash == entry.hash_after("cd" * 32)

    def test_is_never_posted_before_the_entry_before_it(self) -> None:
        # Another process's clock may be a moment behind: the account's entries stay in
        # posting-time order, so a balance at a time is the balance after one entry.
        entry = JournalEntry.next(
            ChainHead(1, "cd" * 32, at(5, 7)),
            money("1.00"),
            account_number=ACCOUNT,
            transaction_id=TransactionId("abcdefghijk"),
            amount=money("1.00"),
            now=at(5),
        )
        assert entry.posted_at == at(5, 7)

    def test_refuses_a_zero_amount(self) -> None:
        with pytest.raises(ValueError, match="zero"):
            JournalEntry.next(
                EMPTY_CHAIN,
                money("1.00"),
                account_number=ACCOUNT,
                transaction_id=TransactionId("abcdefghijk"),
                amount=money("0.00"),
                now=at(0),
            )

    def test_keeps_its_timestamp_in_utc_and_hashes_the_same_moment_alike(self) -> None:
        def posted(moment: datetime) -> JournalEntry:
            return JournalEntry.next(
                EMPTY_CHAIN,
                money("0.00"),
                account_number=ACCOUNT,
                transaction_id=TransactionId("abcdefghijk"),
                amount=money("1.00"),
                now=moment,
            )

        east = posted(datetime(2024, 5, 1, 14, 0, 3, tzinfo=timezone(timedelta(hours=2))))
        assert east.posted_at.utcoffset() == timedelta(0)
        assert dumps(east.posted_at) == b'"2024-05-01T12:00:03Z"'
        assert east.hash == posted(at(3)).hash

    @pytest.mark.parametrize("entry_id", [0, -1])
    def test_refuses_an_entry_id_below_one(self, entry_id: int) -> None:
        with pytest.raises(ValueError, match="positive"):
            JournalEntry(
                entry_id=entry_id,
                account_number=ACCOUNT,
                transaction_id=TransactionId("abcdefghijk"),
                amount=money("1.00"),
                balance_after=money("1.00"),
                posted_at=at(0),
                hash=GENESIS_HASH,
            )


def a_chain() -> list[JournalEntry]:
    """Four entries of one account: 100.00, -30.00, 0.30, -70.30 (back to 0.00)."""
    entries: list[JournalEntry] = []
    head, balance = EMPTY_CHAIN, money("0.00")
    for number, amount in enumerate(["100.00", "-30.00", "0.30", "-70.30"], start=1):
        entry = JournalEntry.next(
            head,
            balance,
            account_number=ACCOUNT,
            transaction_id=TransactionId(f"transaction-{number}"),
            amount=money(amount),
            now=at(number, number),
        )
        entries.append(entry)
        head, balance = entry.head, entry.balance_after
    return entries


class TestVerifyChain:
    def test_an_intact_chain_passes_with_its_count_and_sum(self) -> None:
        entries = a_chain()
        check = verify_chain(entries)
        assert check.intact
        assert check.first_bad is None
        assert check.entry_count == 4
        assert check.entries_sum == money("0.00") == entries[-1].balance_after

    def test_no_entries_is_an_intact_chain_summing_to_zero(self) -> None:
        check = verify_chain([])
        assert check.intact
        assert (check.entry_count, check.entries_sum) == (0, money("0.00"))

    def test_reads_the_entries_once_as_they_come(self) -> None:
        check = verify_chain(entry for entry in a_chain())
        assert check.intact
        assert check.entry_count == 4

    def test_a_changed_amount_names_its_entry(self) -> None:
        entries = a_chain()
        entries[1] = dataclasses.replace(entries[1], amount=money("-3.00"))
        check = verify_chain(entries)
        assert check.first_bad is not None
        assert check.first_bad.entry_id == 2
        assert check.first_bad.why is ChainBreak.BROKEN_LINK
        assert check.entries_sum == money("27.00")  # the amounts as stored, every one counted

    def test_a_changed_hash_names_its_entry_not_the_next(self) -> None:
        entries = a_chain()
        entries[1] = dataclasses.replace(entries[1], hash="ef" * 32)
        check = verify_chain(entries)
        assert check.first_bad is not None
        assert check.first_bad.entry_id == 2
        assert check.first_bad.why is ChainBreak.HASH_MISMATCH

    def test_a_changed_timestamp_is_a_hash_mismatch(self) -> None:
        entries = a_chain()
        entries[2] = dataclasses.replace(entries[2], posted_at=at(2, 999))
        check = verify_chain(entries)
        assert check.first_bad is not None
        assert check.first_bad.entry_id == 3
        assert check.first_bad.why is ChainBreak.HASH_MISMATCH

    def test_an_entry_removed_from_the_middle_names_the_missing_one(self) -> None:
        entries = a_chain()
        del entries[1]
        check = verify_chain(entries)
        assert check.first_bad is not None
        assert check.first_bad.entry_id == 2
        assert check.first_bad.why is ChainBreak.ENTRY_MISSING

    def test_a_removed_first_entry_is_missing(self) -> None:
        entries = a_chain()[1:]
        check = verify_chain(entries)
        assert check.first_bad is not None
        assert check.first_bad.entry_id == 1
        assert check.first_bad.why is ChainBreak.ENTRY_MISSING

    def test_a_renumbered_chain_still_breaks_its_link(self) -> None:
        # Removing an entry and renumbering those after it closes the gap, not the chain.
        entries = a_chain()
        del entries[1]
        entries[1:] = [
            dataclasses.replace(entry, entry_id=entry.entry_id - 1) for entry in entries[1:]
        ]
        check = verify_chain(entries)
        assert check.first_bad is not None
        assert check.first_bad.entry_id == 2
        assert check.first_bad.why is ChainBreak.BROKEN_LINK

    def test_a_changed_balance_after_names_its_entry(self) -> None:
        entries = a_chain()
        entries[2] = dataclasses.replace(entries[2], balance_after=money("1000.30"))
        check = verify_chain(entries)
        assert check.first_bad is not None
        assert check.first_bad.entry_id == 3
        assert check.first_bad.why is ChainBreak.BROKEN_LINK

    def test_a_rewrite_with_recomputed_hashes_is_caught_by_the_sum(self) -> None:
        entries = a_chain()
        forged = dataclasses.replace(entries[1], amount=money("-3.00"))
        entries[1] = dataclasses.replace(forged, hash=forged.hash_after(entries[0].hash))
        check = verify_chain(entries)
        assert check.first_bad is not None
        assert check.first_bad.entry_id == 2
        assert check.first_bad.why is ChainBreak.BALANCE_NOT_RUNNING_SUM

    def test_a_removed_last_entry_leaves_the_chain_itself_intact(self) -> None:
        # Nothing comes after the last entry to break: the account's row tells (next class).
        entries = a_chain()
        entries.pop()
        check = verify_chain(entries)
        assert check.intact
        assert check.entry_count == 3


class TestJournalCheck:
    """A journal held against its account's row: the balance and the last entry it kept."""

    def check(self, entries: list[JournalEntry], *, balance: str, head: ChainHead) -> JournalCheck:
        return JournalCheck.of(ACCOUNT, money(balance), head, verify_chain(entries))

    def test_an_intact_journal_matches_its_row(self) -> None:
        entries = a_chain()
        check = self.check(entries, balance="0.00", head=entries[-1].head)
        assert check.sound
        assert (check.balance_matches, check.chain_intact) == (True, True)
        assert (check.entry_count, check.entries_sum, check.balance) == (
            4,
            money("0.00"),
            money("0.00"),
        )

    def test_a_changed_balance_on_the_row_does_not_match(self) -> None:
        entries = a_chain()
        check = self.check(entries, balance="5.00", head=entries[-1].head)
        assert (check.balance_matches, check.chain_intact) == (False, True)
        assert not check.sound

    def test_a_removed_last_entry_is_missing(self) -> None:
        entries = a_chain()
        head = entries.pop().head
        check = self.check(entries, balance="0.00", head=head)
        assert check.first_bad is not None
        assert (check.first_bad.entry_id, check.first_bad.why) == (4, ChainBreak.ENTRY_MISSING)
        assert not check.balance_matches  # the sum lost the removed amount too

    def test_a_rewrite_with_every_hash_and_sum_recomputed_is_caught_by_the_row(self) -> None:
        entries = a_chain()
        kept_head = entries[-1].head
        forged: list[JournalEntry] = []
        head, balance = EMPTY_CHAIN, money("0.00")
        for entry in entries:
            amount = money("-3.00") if entry.entry_id == 2 else entry.amount
            amount = money("-97.30") if entry.entry_id == 4 else amount
            rewritten = JournalEntry.next(
                head,
                balance,
                account_number=ACCOUNT,
                transaction_id=entry.transaction_id,
                amount=amount,
                now=entry.posted_at,
            )
            forged.append(rewritten)
            head, balance = rewritten.head, rewritten.balance_after
        assert verify_chain(forged).intact  # the forgery holds together on its own
        check = self.check(forged, balance="0.00", head=kept_head)
        assert check.balance_matches
        assert check.first_bad is not None
        assert (check.first_bad.entry_id, check.first_bad.why) == (4, ChainBreak.HEAD_MISMATCH)
