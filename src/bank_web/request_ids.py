"""The id of the request being served: taken from the client's ``X-Request-Id`` or made here,
kept in a context variable for the code that serves the request, its problem bodies and its
log lines.

``current_request_id()`` is the one way to read it (None outside a request). The context
variable is set by ``bank_web.edge.RequestEdge``, the app's outermost middleware, so everything
inside it (routes, the posting fast path, problem handlers, UnexpectedErrors, the server's
access log line) sees the same id.
"""

from __future__ import annotations

import copy
import logging
import os
import re
from contextvars import ContextVar, Token
from typing import Any, Final

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter
from uvicorn.config import LOGGING_CONFIG

REQUEST_ID_HEADER: Final = b"x-request-id"
_ID: Final = "[A-Za-z0-9._-]{1,128}"
REQUEST_ID_PATTERN: Final = f"^{_ID}$"
"""What a request id is, client's or ours (ours are 32 hex digits), as OpenAPI publishes it."""
_GIVEN_ID: Final = re.compile(_ID.encode("ascii"))
NO_REQUEST: Final = "-"
"""What log lines written outside any request show in place of an id."""

_current: Final[ContextVar[str | None]] = ContextVar("bank_request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request being served, or None outside one (a command line, a test of the
    domain alone)."""
    return _current.get()


def set_request_id(request_id: str) -> Token[str | None]:
    """Makes ``request_id`` the current one; give the token to ``reset_request_id`` after."""
    return _current.set(request_id)


def reset_request_id(token: Token[str | None]) -> None:
    _current.reset(token)


def request_id_for(given: bytes | None) -> str:
    """The client's own id when it is 1 to 128 characters of ``A-Z a-z 0-9 . _ -``; else a new
    random one (32 hex digits)."""
    if given is not None and _GIVEN_ID.fullmatch(given):
        return given.decode("ascii")
    return os.urandom(16).hex()


class RequestIdFilter(logging.Filter):
    """Gives every record the current request's id as ``record.request_id`` (``-`` outside a
    request), for formats that show ``%(request_id)s``. A handler's filter, so it sees the
    records of every logger that reaches the handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _current.get() or NO_REQUEST
        return True


def json_log_formatter() -> logging.Formatter:
    """One JSON object per record: timestamp (UTC, ISO 8601), level, logger, message, the
    request id, and whatever the record carries besides (the access line's fields)."""
    return JsonFormatter(
        "%(levelname)s %(name)s %(message)s %(request_id)s",
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp=True,
        # uvicorn's copy of some messages with terminal colour codes.
        reserved_attrs=[*RESERVED_ATTRS, "color_message"],
    )


def server_log_config(level: str, log_format: str = "text") -> dict[str, Any]:
    """uvicorn's logging configuration with the request id on every line: the access log line
    (``INFO: [<id>] 127.0.0.1:5000 - "POST /v1/transactions HTTP/1.1" 201``) and every other
    record, the service's own (logger ``bank_web``) included, in every worker process. With
    ``log_format="json"`` every record is one JSON object per line (python-json-logger), and
    the access line is the service's own (bank_web.access_log), not uvicorn's."""
    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"request_id": {"()": RequestIdFilter}}
    if log_format == "json":
        json_lines = {"()": json_log_formatter}
        config["formatters"] = {"default": json_lines, "access": json_lines}
    else:
        config["formatters"]["default"]["fmt"] = "%(levelprefix)s [%(request_id)s] %(message)s"
        # uvicorn's line with the id, in one step (bank_web.access_line).
        config["formatters"]["access"] = {"()": "bank_web.access_line.AccessLineFormatter"}
    for handler in config["handlers"].values():
        handler["filters"] = ["request_id"]
    config["loggers"]["bank_web"] = {
        "handlers": ["default"],
        "level": level.upper(),
        "propagate": False,
    }
    return config
