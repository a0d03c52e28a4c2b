"""uvicorn's access line, ``INFO:     [<id>] 127.0.0.1:5000 - "POST /v1/transactions HTTP/1.1"
201 Created``, written in one step.

uvicorn's own ``AccessFormatter`` copies every record twice and looks the status's phrase up
anew each time: about 30 µs a request, a twentieth of a posting's CPU in a worker
(bench/README.md). ``AccessLineFormatter`` writes the same text, colours included (it leaves
those to uvicorn's formatter), from the same record: the request id that
``bank_web.request_ids.RequestIdFilter`` puts on it and the arguments uvicorn logs.
"""

from __future__ import annotations

import http
import logging
from typing import Final

from uvicorn.logging import AccessFormatter

from bank_web.request_ids import NO_REQUEST

ACCESS_LINE_FORMAT: Final = (
    '%(levelprefix)s [%(request_id)s] %(client_addr)s - "%(request_line)s" %(status_code)s'
)
"""The line's format, for uvicorn's formatter (which draws the colours): ``AccessLineFormatter``
writes exactly this without it."""

_LEVEL_NAME_WIDTH: Final = 8


class AccessLineFormatter(AccessFormatter):
    def __init__(self, use_colors: bool | None = None) -> None:
        super().__init__(fmt=ACCESS_LINE_FORMAT, use_colors=use_colors)
        self._statuses: dict[int, str] = {}

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        if self.use_colors or not isinstance(record.args, tuple) or len(record.args) != 5:
            return super().formatMessage(record)
        client_addr, method, full_path, http_version, status_code = record.args
        level = record.levelname
        request_id = getattr(record, "request_id", NO_REQUEST)
        return (
            f"{level}:{' ' * (_LEVEL_NAME_WIDTH - len(level))} [{request_id}] "
            f'{client_addr} - "{method} {full_path} HTTP/{http_version}" '
            f"{self._status(int(status_code))}"  # type: ignore[call-overload]
        )

    def _status(self, status_code: int) -> str:
        text = self._statuses.get(status_code)
        if text is None:
            try:
                phrase = http.HTTPStatus(status_code).phrase
            except ValueError:
                phrase = ""
            text = self._statuses[status_code] = f"{status_code} {phrase}"
        return text
