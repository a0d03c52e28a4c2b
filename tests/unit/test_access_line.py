"""The access line written in one step is uvicorn's, character for character."""

from __future__ import annotations

import logging

import pytest
from uvicorn.logging import AccessFormatter

from bank_web.access_line import ACCESS_LINE_FORMAT, AccessLineFormatter
from bank_web.request_ids import RequestIdFilter


def _access_record(status: int, level: int = logging.INFO) -> logging.LogRecord:
    record = logging.LogRecord(
        "uvicorn.access",
        level,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:50312", "POST", "/v1/transactions?x=%C3%A9", "1.1", status),
        None,
    )
    record.request_id = "lane-7"
    return record


@pytest.mark.parametrize("status", [200, 201, 404, 409, 500, 599])
@pytest.mark.parametrize("level", [logging.INFO, logging.WARNING, logging.DEBUG])
def test_the_line_is_uvicorns_line(status: int, level: int) -> None:
    uvicorns = AccessFormatter(fmt=ACCESS_LINE_FORMAT, use_colors=False)
    ours = AccessLineFormatter(use_colors=False)
    line = ours.format(_access_record(status, level))
    assert line == uvicorns.format(_access_record(status, level))
    assert ours.format(_access_record(status, level)) == line  # the phrase, kept, is the same


def test_the_line_shows_the_request_id_and_the_status_phrase() -> None:
    line = AccessLineFormatter(use_colors=False).format(_access_record(201))
    assert line == (
        'INFO:     [lane-7] 127.0.0.1:50312 - "POST /v1/transactions?x=%C3%A9 HTTP/1.1" 201 Created'
    )


def test_a_record_outside_a_request_shows_a_dash() -> None:
    record = _access_record(200)
    del record.request_id  # type: ignore[attr-defined]
    assert RequestIdFilter().filter(record)
    assert "[-]" in AccessLineFormatter(use_colors=False).format(record)


def test_colours_are_drawn_by_uvicorns_formatter() -> None:
    coloured = AccessLineFormatter(use_colors=True).format(_access_record(404))
    assert coloured == AccessFormatter(fmt=ACCESS_LINE_FORMAT, use_colors=True).format(
        _access_record(404)
    )
    assert "\x1b[" in coloured
