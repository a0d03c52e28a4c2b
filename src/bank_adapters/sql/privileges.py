"""What the service's runtime role may do to each table on PostgreSQL: only what the service
does (bank_adapters.sql's statements), and nothing else. The migration role owns the schema
and runs the migrations (``bank-api migrate``); the runtime role serves. deploy/roles.sql makes
both roles; ``bank-api migrate --runtime-role NAME`` grants these privileges after migrating,
in the migration's own transaction, so a table added by a later migration gets its row here
(a test holds this map to the schema) and its grant on the next migrate.

No UPDATE or DELETE on the journal (an entry is never changed or removed; its trigger says so
too) nor on the events (the audit trail and each transaction's history: only appended), no
TRUNCATE anywhere, no DDL (the runtime role owns nothing, and may create nothing in the
schema, temporary tables included).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from sqlalchemy import text
from sqlalchemy.engine import Connection

RUNTIME_PRIVILEGES: Final[Mapping[str, tuple[str, ...]]] = {
    # Opened, changed (balance, holds, status, limit) and closed (a status): never deleted.
    "accounts": ("SELECT", "INSERT", "UPDATE"),
    # Posted, amended, expired, cancelled, deleted (a flag: the record is kept for audit).
    "transactions": ("SELECT", "INSERT", "UPDATE"),
    # Made and revoked (revoked_at).
    "api_keys": ("SELECT", "INSERT", "UPDATE"),
    # The audit trail and the histories: appended only.
    "events": ("SELECT", "INSERT"),
    # The journal: appended only.
    "journal_entries": ("SELECT", "INSERT"),
    # Kept answers, removed once older than the retention (the periodic cleanup).
    "idempotency_keys": ("SELECT", "INSERT", "DELETE"),
    # Read by serve's check that the schema is the newest; written by migrations only.
    "alembic_version": ("SELECT",),
}


def grant_runtime_privileges(connection: Connection, role: str) -> None:
    """Gives ``role`` exactly RUNTIME_PRIVILEGES on the schema's tables (taking away any other
    privilege it had on them), the use of their sequences, and the use of the schema. Run as
    the tables' owner (the migration role), inside the migration's transaction."""
    quoted = connection.dialect.identifier_preparer.quote(role)
    connection.execute(text(f"GRANT USAGE ON SCHEMA public TO {quoted}"))
    connection.execute(text(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {quoted}"))
    for table, privileges in RUNTIME_PRIVILEGES.items():
        connection.execute(text(f"GRANT {', '.join(privileges)} ON TABLE {table} TO {quoted}"))
    connection.execute(text(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {quoted}"))
    connection.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {quoted}"))
