"""Many clients posting deposits and withdrawals at once, each posting recorded with its fate."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

import httpx

from tests.integration.api.helpers import post
from tests.support.keys import AUTH

MAX_DEPOSIT_CENTS: Final = 2_500
MAX_WITHDRAWAL_CENTS: Final = 4_000


@dataclass(slots=True)
class Posting:
    """One POST /v1/transactions and what came back; ``status`` is None when no answer did
    (the connection broke, or the client gave up waiting)."""

    transaction_id: str
    account_number: str
    transaction_type: str
    amount: Decimal
    started: float = 0.0
    finished: float = 0.0
    status: int | None = None
    code: str | None = None
    content_type: str = ""
    retry_after: str | None = None
    error: str = ""
    cancelled: bool = False
    """Cancelled afterwards (PATCH status=cancelled answered 200): it no longer counts."""
    keyed: bool = False
    """Sent with ``transaction_id`` as its Idempotency-Key instead of as its id (the server
    makes the id)."""
    answer: bytes = b""
    """The body answered, if any."""

    @property
    def effect(self) -> Decimal:
        """What the posting, if stored, adds to its account's balance now."""
        if self.cancelled:
            return Decimal(0)
        return self.amount if self.transaction_type == "deposit" else -self.amount

    @property
    def latency(self) -> float:
        return self.finished - self.started

    def describe(self) -> str:
        answer = self.status if self.status is not None else f"no answer ({self.error})"
        return (
            f"{self.transaction_type} {self.amount} on {self.account_number} "
            f"id={self.transaction_id} -> {answer} {self.code or ''} in {self.latency:.2f}s"
        )


@dataclass(frozen=True, slots=True)
class Cancellation:
    """One PATCH /v1/transactions/{id} {"status": "cancelled"} of an accepted posting."""

    posting: Posting
    status: int | None
    code: str | None = None
    error: str = ""

    def describe(self) -> str:
        answer = self.status if self.status is not None else f"no answer ({self.error})"
        return f"cancel {self.posting.describe()} -> {answer} {self.code or ''}"


def send_posting(http: httpx.Client, posting: Posting) -> httpx.Response:
    """POSTs the posting: with its id, or with it as its Idempotency-Key (``keyed``)."""
    if posting.keyed:
        return post(
            http,
            posting.account_number,
            str(posting.amount),
            posting.transaction_type,
            headers={"Idempotency-Key": posting.transaction_id},
        )
    return post(
        http,
        posting.account_number,
        str(posting.amount),
        posting.transaction_type,
        transaction_id=posting.transaction_id,
    )


def status_counts(postings: Sequence[Posting]) -> Counter[int | None]:
    return Counter(p.status for p in postings)


class Load:
    """``clients`` threads, each with its own connection, each posting up to
    ``postings_per_client`` deposits and withdrawals (50/50, random cents) to random accounts
    among ``accounts``, with client-made transaction ids, ``pause_seconds`` apart. The postings
    are reproducible from ``seed``. With ``cancelling`` (a list of accepted postings per
    client), every other step of a client cancels the next of its postings instead: a
    change to the balance that takes the account's lock by another path than posting does."""

    def __init__(
        self,
        base_url: str,
        accounts: Sequence[str],
        *,
        clients: int,
        postings_per_client: int,
        seed: int,
        timeout: float = 30.0,
        stop_on_broken_connection: bool = False,
        pause_seconds: float = 0.0,
        cancelling: Sequence[Sequence[Posting]] | None = None,
        keyed: bool = False,
    ) -> None:
        self._base_url = base_url
        self._accounts = list(accounts)
        self._clients = clients
        self._per_client = postings_per_client
        self._seed = seed
        self._timeout = timeout
        self._stop_on_broken = stop_on_broken_connection
        self._pause = pause_seconds
        self._keyed = keyed
        self._cancelling = [list(mine) for mine in cancelling or [[] for _ in range(clients)]]
        assert len(self._cancelling) == clients
        self._cancellations: list[list[Cancellation]] = [[] for _ in range(clients)]
        self._run = uuid.uuid4().hex[:8]
        self._stop = threading.Event()
        self._answered = threading.Condition()
        self._answers = 0
        self._postings: list[list[Posting]] = [[] for _ in range(clients)]
        self._threads = [
            threading.Thread(target=self._client, args=(index,), name=f"load-{index}", daemon=True)
            for index in range(clients)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Clients finish the posting they are on and post no more."""
        self._stop.set()

    def join(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        stuck = [thread.name for thread in self._threads if thread.is_alive()]
        if stuck:
            self._stop.set()
            raise AssertionError(f"{len(stuck)} clients still waiting after {timeout:g} s")

    def run(self, timeout: float) -> list[Posting]:
        self.start()
        self.join(timeout)
        return self.postings

    def wait_for_answers(self, count: int, timeout: float) -> None:
        with self._answered:
            if not self._answered.wait_for(lambda: self._answers >= count, timeout):
                raise AssertionError(f"only {self._answers} of {count} answers in {timeout:g} s")

    def wait_for_posting(self, wanted: Callable[[Posting], bool], timeout: float) -> Posting:
        """The first answered posting that is ``wanted``, waiting up to ``timeout`` for one."""
        found: list[Posting] = []

        def look() -> bool:
            found[:] = [p for p in self.postings if p.status is not None and wanted(p)][:1]
            return bool(found)

        with self._answered:
            if not self._answered.wait_for(look, timeout):
                raise AssertionError(f"no such answer within {timeout:g} s")
        return found[0]

    @property
    def answers(self) -> int:
        with self._answered:
            return self._answers

    @property
    def postings(self) -> list[Posting]:
        """Every posting sent so far (read it after join for the final word)."""
        return [posting for postings in self._postings for posting in list(postings)]

    @property
    def postings_by_client(self) -> list[list[Posting]]:
        return [list(postings) for postings in self._postings]

    @property
    def cancellations(self) -> list[Cancellation]:
        return [done for mine in self._cancellations for done in list(mine)]

    def _client(self, index: int) -> None:
        rng = random.Random(self._seed * 1_000 + index)
        with httpx.Client(base_url=self._base_url, timeout=self._timeout, headers=AUTH) as http:
            to_cancel = self._cancelling[index]
            for step in range(self._per_client):
                if self._stop.is_set():
                    return
                if to_cancel and step % 2 == 0:
                    self._cancellations[index].append(self._cancel(http, to_cancel.pop(0)))
                    continue
                posting = self._next(rng, index, step)
                self._postings[index].append(posting)
                if not self._send(http, posting) and self._stop_on_broken:
                    return
                if self._pause:
                    self._stop.wait(self._pause)

    def _next(self, rng: random.Random, index: int, step: int) -> Posting:
        deposit = rng.random() < 0.5
        cents = rng.randint(1, MAX_DEPOSIT_CENTS if deposit else MAX_WITHDRAWAL_CENTS)
        return Posting(
            transaction_id=f"load-{self._run}-{index:03d}-{step:05d}",
            account_number=rng.choice(self._accounts),
            transaction_type="deposit" if deposit else "withdrawal",
            amount=Decimal(cents).scaleb(-2),
            keyed=self._keyed,
        )

    def _cancel(self, http: httpx.Client, posting: Posting) -> Cancellation:
        try:
            response = http.patch(
                f"/v1/transactions/{posting.transaction_id}", json={"status": "cancelled"}
            )
        except httpx.TransportError as error:
            return Cancellation(posting, None, error=repr(error))
        posting.cancelled = response.status_code == 200
        code = None
        if response.headers.get("content-type", "").startswith("application/problem+json"):
            code = str(response.json().get("code"))
        self._count_answer()
        return Cancellation(posting, response.status_code, code)

    def _count_answer(self) -> None:
        with self._answered:
            self._answers += 1
            self._answered.notify_all()

    def _send(self, http: httpx.Client, posting: Posting) -> bool:
        """Sends one posting; False when no answer came."""
        posting.started = time.monotonic()
        try:
            response = send_posting(http, posting)
        except httpx.TransportError as error:
            posting.finished = time.monotonic()
            posting.error = repr(error)
            return False
        posting.finished = time.monotonic()
        posting.status = response.status_code
        posting.answer = response.content
        posting.content_type = response.headers.get("content-type", "")
        posting.retry_after = response.headers.get("retry-after")
        if posting.content_type.startswith("application/problem+json"):
            try:
                posting.code = str(response.json().get("code"))
            except ValueError:
                posting.code = "<not JSON>"
        self._count_answer()
        return True
