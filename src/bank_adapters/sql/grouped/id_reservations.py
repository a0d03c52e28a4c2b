"""The transaction ids of grouped postings: which are being written, and which were written
too recently for a look-up still in use to have seen them.

A posting that brings its own id looks it up before it joins a group; by the time it hands its
transaction over, another group may have written that id, or may be writing it. Either makes
the posting a duplicate, which its look-up could not see. Ids are remembered only while a
look-up that began before they were written is in use (else every posting's id would pile up
for the life of the process).
"""

from __future__ import annotations

from collections import Counter

from bank_adapters.sql.grouped.group import Group
from bank_domain.errors import DuplicateTransactionId
from bank_domain.identifiers import TransactionId


class IdReservations:
    def __init__(self) -> None:
        self._pending: dict[TransactionId, Group] = {}
        self._groups_written = 0
        self._recently_written: dict[TransactionId, int] = {}
        self._live_lookups: Counter[int] = Counter()

    def begin_lookup(self) -> int:
        """Marks a look-up in use; returns the mark that ``reserve`` and ``end_lookup`` take."""
        self._live_lookups[self._groups_written] += 1
        return self._groups_written

    def end_lookup(self, began_at: int) -> None:
        self._live_lookups[began_at] -= 1
        if self._live_lookups[began_at] == 0:
            del self._live_lookups[began_at]
        oldest = min(self._live_lookups, default=self._groups_written)
        for tid in [t for t, written in self._recently_written.items() if written <= oldest]:
            del self._recently_written[tid]

    def reserve(self, ids: list[TransactionId], group: Group, looked_up_at: int | None) -> None:
        """Claims the ids for the group; raises DuplicateTransactionId, claiming none, if one
        is being written, or was written after the look-up began."""
        for tid in ids:
            written_by = self._recently_written.get(tid)
            stale = (
                looked_up_at is not None and written_by is not None and written_by > looked_up_at
            )
            if tid in self._pending or stale:
                raise DuplicateTransactionId(str(tid))
        for tid in ids:
            self._pending[tid] = group

    def writing(self, tid: TransactionId) -> Group | None:
        """The group writing this id, if one is."""
        return self._pending.get(tid)

    def written(self, ids: list[TransactionId]) -> None:
        self._groups_written += 1
        # Only a look-up still in use can be stale; with none, nothing needs keeping.
        if self._live_lookups:
            for tid in ids:
                self._recently_written[tid] = self._groups_written

    def release(self, ids: list[TransactionId]) -> None:
        """The group that claimed these ids has ended, one way or the other."""
        for tid in ids:
            self._pending.pop(tid, None)
