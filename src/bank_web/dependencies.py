"""What routes take from the container.

Async functions on purpose: FastAPI runs a synchronous dependency (such as
dependency-injector's ``Provide[...]`` marker) in a worker thread, a thread hop on every request
that cost the posting route a tenth of its time. The container stays the one composition root:
tests override its providers (``container.ledger.override(...)``) as before.
"""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request

from bank_adapters.stores import Store
from bank_domain.actors import Actor
from bank_domain.ledger import Ledger
from bank_web.authentication import actor_of_request
from bank_web.containers import Container
from bank_web.metrics import Metrics


def _container(request: Request) -> Container:
    return cast(Container, request.app.state.container)


async def ledger(request: Request) -> Ledger:
    return _container(request).ledger()


async def store(request: Request) -> Store:
    return _container(request).store()


async def metrics(request: Request) -> Metrics:
    return _container(request).metrics()


async def actor(request: Request) -> Actor:
    """Who sent the request, with its id: what the route's authentication found
    (bank_web.authentication, run by ExactJSONRoute before the body is read)."""
    return actor_of_request(request.scope)


LedgerDep = Annotated[Ledger, Depends(ledger)]
StoreDep = Annotated[Store, Depends(store)]
ActorDep = Annotated[Actor, Depends(actor)]
MetricsDep = Annotated[Metrics, Depends(metrics)]
