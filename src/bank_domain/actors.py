"""Who asks: an API key, the master key or the service itself, and what it may see.

Every command and query the domain receives carries an ``Actor``. The web layer makes it from
the request's key (``Ledger.authenticate``) and its request id; a library user who gives none
is the operator, ``MASTER``. What an actor may see is decided in ``bank_domain.access``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from bank_domain.api_keys import EVERY_SCOPE, Scope
from bank_domain.identifiers import AccountNumber

MASTER_ID: Final = "master"
SYSTEM_ID: Final = "system"


@dataclass(frozen=True, slots=True)
class Actor:
    actor_id: str
    """The key's ``key_id``, ``master``, or ``system``: what history and events name."""
    scopes: frozenset[Scope] = EVERY_SCOPE
    account_numbers: frozenset[AccountNumber] | None = None
    """The only accounts this actor sees; None: every account."""
    request_id: str | None = None
    """The id of the request this actor came with (None for ``system`` and library calls)."""

    @property
    def is_restricted(self) -> bool:
        return self.account_numbers is not None

    def sees(self, number: AccountNumber) -> bool:
        return self.account_numbers is None or number in self.account_numbers

    def may(self, scope: Scope) -> bool:
        return scope in self.scopes

    def with_request_id(self, request_id: str | None) -> Actor:
        # Once per request: built directly, as dataclasses.replace costs several times this.
        return Actor(self.actor_id, self.scopes, self.account_numbers, request_id)


MASTER: Final = Actor(MASTER_ID)
"""The master key, and any library user: every scope over every account."""
SYSTEM: Final = Actor(SYSTEM_ID)
"""The service itself, for what it does on its own (an expiry)."""
