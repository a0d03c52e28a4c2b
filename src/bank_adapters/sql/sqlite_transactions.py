"""SQLite as a ledger store: one writer at a time, waiting its turn rather than failing.

Every unit of work opens SQLite's write transaction up front (``BEGIN IMMEDIATE``), so the
balance it reads cannot change under it until it ends: SQLite renders ``FOR UPDATE`` as nothing,
and a deferred transaction that reads first and writes later fails with "database is locked"
instead of waiting. This follows SQLAlchemy's recipe: the driver's own BEGIN handling is turned
off, and the engine's "begin" event emits ours.
"""

from __future__ import annotations

import asyncio
import sqlite3
from threading import Thread
from typing import Any, Final

import aiosqlite
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import ConnectionPoolEntry

BUSY_TIMEOUT_SECONDS: Final = 30.0
"""How long a unit of work waits for SQLite's write lock before the store reports unavailable."""

BEGIN_MODE_OPTION: Final = "bank_sqlite_begin"
"""Execution option naming the BEGIN a connection uses; a read-only check may say DEFERRED."""

_WAL_RETRY_SECONDS: Final = 0.05

_BEGIN_MODES: Final = frozenset({"IMMEDIATE", "DEFERRED", "EXCLUSIVE"})


_WORKER_END_SECONDS: Final = 1.0


def serialize_writers(engine: AsyncEngine) -> None:
    event.listen(engine.sync_engine, "do_connect", _open_with_aiosqlite_in_order)
    event.listen(engine.sync_engine, "connect", _configure_connection)
    event.listen(engine.sync_engine, "begin", _begin)


def _open_with_aiosqlite_in_order(
    _dialect: Any, _record: ConnectionPoolEntry, _args: Any, parameters: dict[str, Any]
) -> None:
    # SQLAlchemy's aiosqlite dialect takes the coroutine that opens the connection from here.
    parameters["async_creator_fn"] = _open


async def _open(*args: Any, **kwargs: Any) -> aiosqlite.Connection:
    """aiosqlite.connect as SQLAlchemy calls it, except when the file cannot be opened: then
    aiosqlite stops its worker thread, which answers on the event loop once it has stopped.
    That answer must not find the loop closed ("Exception in thread ... Event loop is closed",
    after a test, or after ``bank-api migrate`` exits): the failure waits for the thread."""
    connection = aiosqlite.connect(*args, **kwargs)
    worker: Thread = connection._thread  # as SQLAlchemy's own dialect does
    worker.daemon = True
    try:
        return await connection
    except BaseException:
        await _until_ended(worker)
        raise


async def _until_ended(worker: Thread) -> None:
    await asyncio.to_thread(worker.join, _WORKER_END_SECONDS)
    await asyncio.sleep(0)  # its last answer, scheduled on this loop, runs now


def _configure_connection(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    # isolation_level None stops the driver from emitting its own (deferred) BEGIN.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_SECONDS * 1000)}")
    finally:
        cursor.close()


def _begin(connection: Connection) -> None:
    mode = connection.get_execution_options().get(BEGIN_MODE_OPTION, "IMMEDIATE")
    if mode not in _BEGIN_MODES:
        raise ValueError(f"{BEGIN_MODE_OPTION} is one of {sorted(_BEGIN_MODES)}, not {mode!r}.")
    connection.exec_driver_sql(f"BEGIN {mode}")


async def use_write_ahead_log(engine: AsyncEngine) -> None:
    """Switches the database file to WAL, which lets readers go on while the one writer works.

    The file keeps the mode, so the migrations do this once rather than every connection. Two
    connections switching a new file at once make one of them fail at once with "database is
    locked", whatever the busy timeout: that one tries again. Any other error (a folder that
    does not exist, a read-only mount) will not go away by waiting, so it is raised at once. The
    PRAGMA goes to the driver directly, since SQLAlchemy would wrap it in a transaction, where
    the mode cannot change.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BUSY_TIMEOUT_SECONDS
    while True:
        try:
            async with engine.connect() as connection:
                raw = await connection.get_raw_connection()
                driver: Any = raw.driver_connection
                cursor = await driver.execute("PRAGMA journal_mode=WAL")
                await cursor.close()
            return
        except (OperationalError, sqlite3.OperationalError) as error:
            if not _is_locked(error) or loop.time() >= deadline:
                raise
        await asyncio.sleep(_WAL_RETRY_SECONDS)


def _is_locked(error: OperationalError | sqlite3.OperationalError) -> bool:
    """Whether another connection holds the lock (SQLITE_BUSY or SQLITE_LOCKED), the one error
    that waiting cures."""
    driver_error = error.orig if isinstance(error, OperationalError) else error
    return "locked" in str(driver_error)
