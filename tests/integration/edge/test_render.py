"""deploy/haproxy/render: every placeholder filled, one server line per API address, a
configuration HAProxy accepts; a wrong port or address refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.edge.haproxy import RENDER, haproxy_binary, render_configuration


def test_each_placeholder_is_in_the_template_once_where_it_goes() -> None:
    # Another renderer (deploy/local-cluster's) replaces them with sed: one in a comment
    # would put server lines where they do not belong.
    template = (RENDER.parent / "haproxy.cfg.in").read_text()
    for placeholder in ("@LISTEN_PORT@", "@STATS_PORT@", "@API_SERVERS@"):
        assert template.count(placeholder) == 1, placeholder
        line = next(line for line in template.splitlines() if placeholder in line)
        assert not line.lstrip().startswith("#"), line


def test_the_rendered_configuration_is_one_haproxy_accepts(tmp_path: Path) -> None:
    output = tmp_path / "haproxy.cfg"
    render_configuration(18080, 18404, ["127.0.0.1:8101", "[::1]:8102"], output)
    text = output.read_text()
    assert "@" not in text.replace("%[", "")
    assert "    server api1 127.0.0.1:8101\n    server api2 [::1]:8102\n" in text
    assert ':18080"' in text
    assert ':18404"' in text
    checked = subprocess.run(
        [haproxy_binary(), "-c", "-f", str(output)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize(
    "arguments",
    [
        ["--listen-port", "99999", "--stats-port", "8404", "127.0.0.1:8101"],
        ["--listen-port", "8080", "--stats-port", "8080", "127.0.0.1:8101"],
        ["--listen-port", "8080", "--stats-port", "8404", "127.0.0.1"],
        ["--listen-port", "8080", "--stats-port", "8404", "127.0.0.1:8101 backup"],
        ["--listen-port", "8080", "--stats-port", "8404"],
    ],
)
def test_a_wrong_argument_is_refused(arguments: list[str]) -> None:
    finished = subprocess.run(
        [sys.executable, str(RENDER), *arguments],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert finished.returncode == 2, finished
    assert finished.stdout == ""
    assert "Traceback" not in finished.stderr
