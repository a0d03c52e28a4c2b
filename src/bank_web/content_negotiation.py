"""Which of two representations a request asks for, by its ``Accept`` header (RFC 9110,
section 12.5.1): used by the one route that has two (a statement, as JSON or as CSV).

The rule: each representation gets the quality of the most specific media range that names it
(``text/csv`` before ``text/*`` before ``*/*``; none: 0). The other representation is chosen
only when its quality is above 0 and above the default's; a tie, no ``Accept`` at all, or a
header that accepts neither gets the default, as every other route of the API answers JSON
whatever ``Accept`` says. Media type parameters other than ``q`` are not compared; a range
that cannot be read (a malformed ``q``) counts as absent. Qualities are read as thousandths,
exactly, never as floats.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

_FULL_QUALITY: Final = 1000
_QUALITY_DIGITS: Final = 3


@dataclass(frozen=True, slots=True)
class _MediaRange:
    type: str
    subtype: str
    quality: int
    """In thousandths: ``q=0.5`` is 500."""

    def specificity(self, media_type: str) -> int:
        """How exactly this range names ``media_type`` (``type/subtype``): 3 by name, 2 by
        its type (``text/*``), 1 as ``*/*``; 0 when it does not name it."""
        wanted_type, _, wanted_subtype = media_type.partition("/")
        if self.type == "*" and self.subtype == "*":
            return 1
        if self.type != wanted_type:
            return 0
        if self.subtype == "*":
            return 2
        return 3 if self.subtype == wanted_subtype else 0


def prefers(accept_headers: Iterable[str], offered: str, default: str) -> bool:
    """Whether the ``Accept`` header values (each a comma-separated list; several headers
    are one list) ask for ``offered`` rather than ``default``."""
    ranges = [found for value in accept_headers for found in _media_ranges(value)]
    offered_quality = _quality(ranges, offered)
    return offered_quality > 0 and offered_quality > _quality(ranges, default)


def _quality(ranges: list[_MediaRange], media_type: str) -> int:
    best_specificity = 0
    quality = 0
    for media_range in ranges:
        specificity = media_range.specificity(media_type)
        if specificity > best_specificity:
            best_specificity, quality = specificity, media_range.quality
        elif specificity and specificity == best_specificity:
            quality = max(quality, media_range.quality)
    return quality


def _media_ranges(header: str) -> list[_MediaRange]:
    ranges = []
    for item in header.split(","):
        media_type, *parameters = (part.strip() for part in item.split(";"))
        kind, slash, subtype = media_type.lower().partition("/")
        if not slash or not kind or not subtype:
            continue
        quality: int | None = _FULL_QUALITY
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                quality = _thousandths(value.strip())
        if quality is not None:
            ranges.append(_MediaRange(kind, subtype, quality))
    return ranges


def _thousandths(text: str) -> int | None:
    """A qvalue (``0``, ``0.5``, ``1.000``: at most three decimals, at most 1) in
    thousandths; None for anything else."""
    whole, _, fraction = text.partition(".")
    if whole not in ("0", "1") or len(fraction) > _QUALITY_DIGITS:
        return None
    if fraction and not (fraction.isascii() and fraction.isdigit()):
        return None
    value = int(whole) * _FULL_QUALITY + int(fraction.ljust(_QUALITY_DIGITS, "0"))
    return value if value <= _FULL_QUALITY else None
