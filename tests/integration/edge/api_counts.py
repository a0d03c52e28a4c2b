"""How many requests an API process has answered, read from its own /metrics: a request that
the edge refused never reaches it, so never counts."""

from __future__ import annotations

import re

import httpx

_SAMPLE = re.compile(r"^bank_http_requests_total\{(?P<labels>[^}]*)\} (?P<value>[0-9.e+]+)$")


def requests_answered(api_base_url: str, route: str) -> int:
    """Requests the API answered on ``route`` (its path template), whatever their status."""
    text = httpx.get(f"{api_base_url}/metrics", timeout=10).text
    total = 0.0
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match and f'route="{route}"' in match["labels"]:
            total += float(match["value"])
    return int(total)
