"""Postings on PostgreSQL, grouped: many concurrent postings share one database transaction.

A ledger's busiest work is posting, and each posting on its own pays for a whole database
transaction: a round trip per statement and a WAL flush per commit, all while the account's row
is locked. Here the postings that arrive while one group is being written wait together for the
next group, which:

1. locks every account its postings touch with one ``SELECT ... FOR UPDATE``, in account-number
   order (every process locks in that order, so two groups never deadlock);
2. lets each posting run the domain's rules in turn against the locked rows; postings to the
   same account take turns, each seeing the balance its predecessors left;
3. writes what the accepted postings changed (their transaction rows, each account's final row
   with the head of its journal, their journal entries, their events) in one statement, and
   commits once: one round trip for the writes and one WAL flush for the whole group.

A posting's ``commit()`` returns only once its group is durable. If the group fails to commit,
every posting in it fails with StorageUnavailable and nothing of the group is stored, so a
client's retry is safe.

A posting with an idempotency key takes the same path: its claim is looked up in a batch, its
group takes the key's advisory lock in its transaction (after 1) and checks, in a statement of
its own, that no answer was kept for the key meanwhile, and the answer is a row of the group's
write (3), committed with the posting. A member whose key is not its to use is turned away
alone, before it stages anything (group_writer.py says how).

The files, each one job, importing only down this list (a contract in pyproject.toml keeps
them free of import circles):

- ``member.py``: a posting's unit of work in a group; it enforces the port's call order.
- ``committer.py``: the scheduler: joins postings into groups, starts them, keeps two groups
  on one account apart, hands out the writers.
- ``group_writer.py``: the one place that speaks SQL for a group: lock, write, commit.
- ``id_reservations.py``: which ids are being written, and which were written too recently
  for a look-up still in use to have seen them.
- ``group.py``: one group's state, changed only through its methods.
- ``transaction_lookups.py``: look-ups by id, and of kept answers by key, batched into queries.
- ``kept_connection.py`` and ``driver_statements.py``: the connections and statements above
  (``WRITE_GROUP``, the group's write, says how it is built and why).
"""
