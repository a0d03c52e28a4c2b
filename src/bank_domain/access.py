"""Object-level authorization: what an actor may see and do, decided here and nowhere else.

The rule: an actor restricted to some accounts sees nothing else, as if it did not exist. An
account outside its list is "not found" (AccountNotFound), and so is every transaction of one
(TransactionNotFound), and so is every transfer that touches one (TransferNotFound: a
transfer is seen only by an actor that sees both of its accounts); lists hold only its
accounts' items (the restriction goes into the
store's query, so pages stay full and cursors right); it cannot open accounts nor manage keys
(Forbidden); a posting that reuses the id of a transaction on an account it cannot see is
refused as any other reuse with other fields is, in words that tell nothing of that
transaction (``sees_account``, in posting's replay).

Use cases never test an actor themselves: they look things up through the ``require_*``
helpers of ``use_cases/_common.py``, which call these functions. Scopes (which routes a key may
call at all) are the web layer's check, before a use case runs.
"""

from __future__ import annotations

from collections.abc import Iterable

from bank_domain.actors import Actor
from bank_domain.errors import AccountNotFound, Forbidden
from bank_domain.identifiers import AccountNumber


def require_visible_account_number(actor: Actor, number: AccountNumber) -> AccountNumber:
    """The number, if the actor may see its account; else AccountNotFound, before any look-up."""
    if not actor.sees(number):
        raise AccountNotFound(str(number))
    return number


def sees_account(actor: Actor, number: AccountNumber) -> bool:
    return actor.sees(number)


def sees_every_account(actor: Actor, numbers: Iterable[AccountNumber]) -> bool:
    """Whether the actor sees each of these accounts (a transfer's two)."""
    return all(actor.sees(number) for number in numbers)


def visible_accounts(actor: Actor) -> frozenset[AccountNumber] | None:
    """The accounts a listing may show this actor (None: every one); for the store's query."""
    return actor.account_numbers


def require_unrestricted(actor: Actor, action: str) -> None:
    """Some actions reach beyond any list of accounts (opening an account, managing keys): an
    actor restricted to accounts may not take them."""
    if actor.is_restricted:
        raise Forbidden(f"A key restricted to accounts may not {action}.")
