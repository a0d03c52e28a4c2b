"""``bank-api migrate`` and ``serve`` on a SQLite file that cannot be made (its folder does not
exist) stop at once, with one line naming the file: no traceback, no wait."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.server import free_port


@pytest.mark.parametrize("name", ["migrate", "serve"])
def test_a_sqlite_file_in_a_missing_folder_is_refused_at_once_in_one_line(
    tmp_path: Path, name: str
) -> None:
    command = ["migrate"] if name == "migrate" else ["serve", "--port", str(free_port())]
    path = tmp_path / "no" / "such" / "folder" / "bank.db"
    environment = {**os.environ, "BANK_LOG_LEVEL": "warning"}
    started = time.monotonic()

    finished = subprocess.run(
        [sys.executable, "-m", "bank_web.cli", "--database-url", f"sqlite:///{path}", *command],
        env=environment,
        capture_output=True,
        text=True,
        timeout=25,
        check=False,
    )

    assert time.monotonic() - started < 15, "it waited instead of failing at once"
    assert finished.returncode != 0
    assert "Traceback" not in finished.stderr
    lines = finished.stderr.strip().splitlines()
    assert len(lines) == 1, finished.stderr
    assert str(path) in lines[0]
    assert not path.parent.exists()
