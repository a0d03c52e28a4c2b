"""Opening, changing, closing and reading accounts."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bank_domain.access import require_unrestricted, visible_accounts
from bank_domain.account import MAX_CUSTOMER_NAME_LENGTH, Account, AccountStatus, AccountType
from bank_domain.actors import MASTER, Actor
from bank_domain.errors import DuplicateAccountNumber, InvalidValue
from bank_domain.events import Event, EventType
from bank_domain.idempotency import IdempotencyClaim
from bank_domain.identifiers import AccountNumber, TransactionId
from bank_domain.money import Money, deposit_amount, overdraft_limit
from bank_domain.pagination import Page, not_a_cursor, page_size
from bank_domain.ports import AccountQuery, Clock, UnitOfWorkFactory
from bank_domain.text import name_for_lookup
from bank_domain.transaction import Transaction, TransactionStatus, TransactionType
from bank_domain.use_cases._common import (
    PagedRead,
    account_number_for_lookup,
    as_shown,
    lock_open_account,
    record_expiries,
    require_open_account,
    utc_now,
)
from bank_domain.use_cases.idempotency import ClaimingUseCase

INITIAL_DEPOSIT_DESCRIPTION = "Initial deposit"
_NUMBER_ATTEMPTS = 8


@dataclass(frozen=True, slots=True)
class OpenAccountCommand:
    customer_name: str
    account_type: str
    account_number: str | None = None
    initial_deposit: Decimal | int | str = 0
    actor: Actor = MASTER
    overdraft_limit: Decimal | int | str = 0
    idempotency: IdempotencyClaim[Account] | None = None


class OpenAccount(ClaimingUseCase):
    """Opens an account. A non-zero initial deposit is posted as a real deposit transaction
    described "Initial deposit", so the balance always equals the sum of the transactions."""

    async def __call__(self, command: OpenAccountCommand) -> Account:
        return await self._idempotency.run(command.idempotency, lambda: self._open_any(command))

    async def _open_any(self, command: OpenAccountCommand) -> Account:
        require_unrestricted(command.actor, "open accounts")
        account_type = AccountType.parse(command.account_type)
        deposit = deposit_amount(command.initial_deposit, "initial_deposit")
        limit = overdraft_limit(command.overdraft_limit)
        if command.account_number is not None:
            return await self._open(
                AccountNumber(command.account_number), command, account_type, deposit, limit
            )
        for _ in range(_NUMBER_ATTEMPTS - 1):
            try:
                return await self._open(
                    AccountNumber.generate(), command, account_type, deposit, limit
                )
            except DuplicateAccountNumber:
                continue
        return await self._open(AccountNumber.generate(), command, account_type, deposit, limit)

    async def _open(
        self,
        number: AccountNumber,
        command: OpenAccountCommand,
        account_type: AccountType,
        deposit: Money,
        limit: Money,
    ) -> Account:
        now = self._clock()
        opening_deposit = (
            None
            if deposit.is_zero()
            else Transaction.new(
                TransactionId.generate(),
                number,
                deposit,
                TransactionType.DEPOSIT,
                INITIAL_DEPOSIT_DESCRIPTION,
                TransactionStatus.SUCCESS,
                now,
            )
        )
        account = Account.open(
            number,
            command.customer_name,
            account_type,
            now,
            opening_deposit=opening_deposit,
            overdraft_limit=limit,
        )
        async with self._uow() as uow:
            await self._idempotency.check(uow, command.idempotency)
            if await uow.accounts.number_taken(number):
                raise DuplicateAccountNumber(str(number))
            await uow.accounts.add(account)
            await uow.events.add(Event.of(EventType.ACCOUNT_OPENED, account, command.actor, now))
            if opening_deposit is not None:
                await uow.transactions.add(opening_deposit)
                await uow.events.add(
                    Event.of(EventType.TRANSACTION_POSTED, opening_deposit, command.actor, now)
                )
            await self._idempotency.keep(uow, command.idempotency, account)
            await uow.commit()
        return account


@dataclass(frozen=True, slots=True)
class UpdateAccountCommand:
    """Fields left as None stay as they are. ``expected_version`` is the client's If-Match."""

    account_number: str
    customer_name: str | None = None
    account_type: str | None = None
    status: str | None = None
    expected_version: int | None = None
    actor: Actor = MASTER
    overdraft_limit: Decimal | int | str | None = None


class UpdateAccount:
    """Changes an account's holder name, type, status (freezing stops new transactions) or
    overdraft limit (not below what the account uses: 409 ``overdraft_limit_in_use``)."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock = utc_now) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, command: UpdateAccountCommand) -> Account:
        number = account_number_for_lookup(command.account_number, actor=command.actor)
        account_type = (
            None if command.account_type is None else AccountType.parse(command.account_type)
        )
        status = None if command.status is None else AccountStatus.parse(command.status)
        limit = (
            None if command.overdraft_limit is None else overdraft_limit(command.overdraft_limit)
        )
        async with self._uow() as uow:
            account, now = await lock_open_account(uow, number, self._clock, actor=command.actor)
            account.expect_version(command.expected_version)
            version = account.version
            account.update(
                now,
                name=command.customer_name,
                account_type=account_type,
                status=status,
                overdraft_limit=limit,
            )
            if account.version != version:
                await uow.accounts.save(account)
                await uow.events.add(
                    Event.of(EventType.ACCOUNT_UPDATED, account, command.actor, now)
                )
            await uow.commit()  # the change, and the expiries recorded under the lock, if any
        return account


@dataclass(frozen=True, slots=True)
class CloseAccountCommand:
    account_number: str
    expected_version: int | None = None
    actor: Actor = MASTER


class CloseAccount:
    """Closes an empty account: a balance of zero and no pending transaction (those whose
    expiry has come are expired first). Its number is never handed out again and its
    transactions stay readable by id."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock = utc_now) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, command: CloseAccountCommand) -> None:
        number = account_number_for_lookup(command.account_number, actor=command.actor)
        async with self._uow() as uow:
            account = require_open_account(
                await uow.accounts.get_for_update(number), number, actor=command.actor
            )
            now = self._clock()
            pending = await uow.transactions.pending(number)
            if any(transaction.is_due(now) for transaction in pending):
                await record_expiries(uow, account, now, pending)
            account.expect_version(command.expected_version)
            account.close(now, pending)
            await uow.accounts.save(account)
            await uow.events.add(Event.of(EventType.ACCOUNT_CLOSED, account, command.actor, now))
            await uow.commit()


class GetAccount:
    """One open account as it stands now: its holds whose expiry has come no longer count,
    whether or not their expiry is recorded yet."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock = utc_now) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, account_number: str, *, actor: Actor = MASTER) -> Account:
        number = account_number_for_lookup(account_number, actor=actor)
        async with self._uow(read_only=True) as uow:
            found = require_open_account(await uow.accounts.get(number), number, actor=actor)
            return await as_shown(uow, found, self._clock())


@dataclass(frozen=True, slots=True)
class ListAccountsQuery:
    limit: int | None = None
    cursor: str | None = None
    customer_name: str | None = None
    account_type: str | None = None
    status: str | None = None
    actor: Actor = MASTER


class ListAccounts(PagedRead):
    """Open accounts in account-number order, a page at a time: those the actor may see, each
    as it stands now (as GetAccount shows it)."""

    async def __call__(self, request: ListAccountsQuery) -> Page[Account]:
        limit = page_size(request.limit)
        after = None
        if request.cursor is not None:
            (number,) = self._cursors.decode(request.cursor, 1)
            try:
                after = AccountNumber(number)
            except InvalidValue:
                raise not_a_cursor() from None
        query = AccountQuery(
            limit=limit + 1,
            after=after,
            customer_name=None
            if request.customer_name is None
            else name_for_lookup("customer_name", request.customer_name, MAX_CUSTOMER_NAME_LENGTH),
            account_type=None
            if request.account_type is None
            else AccountType.parse(request.account_type),
            status=None if request.status is None else AccountStatus.parse(request.status),
            account_numbers=visible_accounts(request.actor),
        )
        async with self._uow(read_only=True) as uow:
            found = await uow.accounts.list(query)
            now = self._clock()
            items = [await as_shown(uow, account, now) for account in found[:limit]]
        more = len(found) > limit
        return Page(items, self._cursors.encode([str(items[-1].number)]) if more else None)
