"""/docs and /redoc work with no internet access (contract section 7): every script, style
sheet, font and icon their pages load is served by the service itself, on every store."""

from __future__ import annotations

import re

import httpx
import pytest

_REFERENCE = re.compile(r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']|url:\s*['"]([^'"]+)['"]""")
_ABSOLUTE = re.compile(r"""(?:https?:)?//[A-Za-z0-9.-]+""")
_CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]+)")


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        (
            "/docs",
            {"/openapi.json", "/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"},
        ),
        ("/redoc", {"/openapi.json", "/docs/assets/redoc.standalone.js"}),
    ],
)
def test_the_docs_load_nothing_from_elsewhere(base_url: str, page: str, expected: set[str]) -> None:
    with httpx.Client(base_url=base_url, timeout=30) as bare:  # the docs need no key
        html = bare.get(page)
        assert html.status_code == 200
        assert html.headers["content-type"].startswith("text/html")
        assert not _ABSOLUTE.search(html.text), "the page names another server"
        references = {first or second for first, second in _REFERENCE.findall(html.text)}
        assert expected <= references
        for reference in references:
            assert reference.startswith("/"), reference
            asset = bare.get(reference)
            assert asset.status_code == 200, reference
            if reference.endswith(".css"):
                outside = [
                    url for url in _CSS_URL.findall(asset.text) if not url.startswith("data:")
                ]
                assert outside == [], outside
