"""The composition root: which store, and the ledger over it."""

from __future__ import annotations

from dependency_injector import containers, providers

from bank_adapters.stores import open_store
from bank_domain.ledger import Ledger
from bank_web.authentication import Authenticator
from bank_web.metrics import Metrics


class Container(containers.DeclarativeContainer):
    config = providers.Configuration()
    metrics = providers.Singleton(Metrics)
    store = providers.Singleton(
        open_store,
        url=config.database_url,
        read_timeout_seconds=config.read_timeout_seconds,
        standby_url=config.read_database_url,
        observer=metrics,
    )
    ledger = providers.Singleton(
        Ledger,
        uow=store.provided.unit_of_work,
        postings=store.provided.posting_unit_of_work,
        cursor_secret=config.cursor_secret,
        reads=store.provided.read_unit_of_work,
    )
    authenticator = providers.Singleton(Authenticator, master_key=config.master_key, ledger=ledger)
