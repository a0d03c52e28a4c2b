"""The ledger as a library: every use case over one store, in one object."""

from __future__ import annotations

from bank_domain.ports import Clock, PostingUnitOfWorkFactory, UnitOfWorkFactory
from bank_domain.use_cases._common import utc_now
from bank_domain.use_cases.accounts import (
    CloseAccount,
    GetAccount,
    ListAccounts,
    OpenAccount,
    UpdateAccount,
)
from bank_domain.use_cases.balance import RecalculateBalance
from bank_domain.use_cases.transactions import (
    AmendTransaction,
    DeleteTransaction,
    GetTransaction,
    ListTransactions,
    PostTransaction,
)


class Ledger:
    """Bank accounts and their transactions over any store that implements the ports.

    >>> ledger = Ledger(InMemoryStore().unit_of_work)          # doctest: +SKIP
    >>> account = await ledger.open_account(OpenAccountCommand("Ada", "checking"))  # +SKIP
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock = utc_now,
        postings: PostingUnitOfWorkFactory | None = None,
    ) -> None:
        """``postings``, when given, serves PostTransaction instead of ``uow``: a store's leaner
        path for the busiest use case. Every other use case runs on ``uow``."""
        self.open_account = OpenAccount(uow, clock)
        self.update_account = UpdateAccount(uow, clock)
        self.close_account = CloseAccount(uow, clock)
        self.get_account = GetAccount(uow)
        self.list_accounts = ListAccounts(uow)
        self.post_transaction = PostTransaction(postings or uow, clock)
        self.amend_transaction = AmendTransaction(uow, clock)
        self.delete_transaction = DeleteTransaction(uow, clock)
        self.get_transaction = GetTransaction(uow)
        self.list_transactions = ListTransactions(uow)
        self.recalculate_balance = RecalculateBalance(uow, clock)
