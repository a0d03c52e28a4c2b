"""The command line's parser: one line for every mistake, defaults in every help text, and the
database named before or after the command (``bank-api --database-url U serve`` or ``bank-api
serve --database-url U``)."""

from __future__ import annotations

import argparse
from typing import Any, NoReturn

DATABASE_URL_HELP = (
    "sqlite:///path, postgresql://user@host:port/db (several hosts: host=h1:p1&host=h2:p2, or "
    "libpq's h1:p1,h2:p2) or memory:// (default: $BANK_DATABASE_URL, else sqlite:///./bank.db)"
)


class CommandParser(argparse.ArgumentParser):
    """An ArgumentParser whose every command (sub-commands included, which argparse builds
    with the parser's own class) takes ``--database-url`` too."""

    def __init__(self, *args: Any, is_command: bool = True, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", argparse.ArgumentDefaultsHelpFormatter)
        super().__init__(*args, **kwargs)
        if is_command:
            # SUPPRESS: left out after the command, it keeps what was given before it.
            self.add_argument("--database-url", default=argparse.SUPPRESS, help=DATABASE_URL_HELP)

    def error(self, message: str) -> NoReturn:
        """One line, not argparse's usage block: what is wrong and where to read more."""
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def port(text: str) -> int:
    """A TCP port to listen on: 1 to 65535 (0, any free port, would leave the address unknown)."""
    value = _whole_number(text, "a port")
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text} is not a port (1 to 65535)")
    return value


def worker_count(text: str) -> int:
    value = _whole_number(text, "a number of workers")
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} workers: at least 1")
    return value


def _whole_number(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
