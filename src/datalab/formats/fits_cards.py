"""FITS header cards: reading a header unit, and writing keyword records.

Only what table reading and writing need (FITS Standard 4.0 §4): fixed 80-character
cards in 2880-byte blocks, string/logical/integer/real values, commentary keywords,
and the long-string convention (§4.2.1.2, CONTINUE) so that column descriptions are
not cut short.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["BLOCK", "CARD", "Header", "card", "padding", "read_header"]

CARD = 80
BLOCK = 2880
_INT_RE = re.compile(r"^[+-]?\d+$")
_FLOAT_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([EeDd][+-]?\d+)?$")
_COMMENTARY = ("COMMENT", "HISTORY", "")

Value = str | bool | int | float | None


def padding(size: int) -> int:
    """Bytes needed to bring ``size`` to a whole number of 2880-byte blocks."""
    return -size % BLOCK


@dataclass
class Header:
    """One header unit: keyword values (first occurrence wins) and commentary text."""

    values: dict[str, Value] = field(default_factory=dict)
    comments: list[str] = field(default_factory=list)
    size: int = 0

    def get(self, key: str, default: Value = None) -> Value:
        return self.values.get(key, default)

    def integer(self, key: str, default: int | None = None) -> int:
        value = self.values.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"keyword {key} must be an integer, not {value!r}")
        return value

    def text(self, key: str) -> str | None:
        value = self.values.get(key)
        return value if isinstance(value, str) and value.strip() else None

    def number(self, key: str) -> float | int | None:
        value = self.values.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return value


def _parse_string(text: str) -> tuple[str, str]:
    """A quoted value starting at ``text[0]``; returns (value, rest after the quote)."""
    out, i = [], 1
    while i < len(text):
        if text[i] == "'":
            if text[i + 1 : i + 2] == "'":
                out.append("'")
                i += 2
                continue
            return "".join(out).rstrip(), text[i + 1 :]
        out.append(text[i])
        i += 1
    raise ValueError("string value has no closing quote")


def _parse_value(text: str) -> Value:
    text = text.lstrip()
    if text.startswith("'"):
        return _parse_string(text)[0]
    raw = text.split("/", 1)[0].strip()
    if raw in ("T", "F"):
        return raw == "T"
    if _INT_RE.match(raw):
        return int(raw)
    if _FLOAT_RE.match(raw):
        return float(raw.replace("D", "E").replace("d", "e"))
    return raw or None


def read_header(read: Callable[[int], bytes]) -> Header | None:
    """The next header unit from ``read``; None at a clean end of file.

    Raises ValueError for a header cut short or not made of ASCII cards.
    """
    header = Header()
    last_key: str | None = None
    while True:
        block = read(BLOCK)
        if not block and header.size == 0:
            return None
        if len(block) < BLOCK:
            raise ValueError("the file ends inside a header (no END card)")
        header.size += BLOCK
        try:
            text = block.decode("ascii")
        except UnicodeDecodeError:
            raise ValueError("a header contains bytes that are not ASCII") from None
        for i in range(0, BLOCK, CARD):
            line = text[i : i + CARD]
            key = line[:8].rstrip()
            if key == "END":
                return header
            if key in _COMMENTARY:
                if key == "COMMENT":
                    header.comments.append(line[8:].rstrip())
                continue
            if key == "CONTINUE" and last_key is not None:
                previous = header.values.get(last_key)
                rest = line[8:].lstrip()
                if isinstance(previous, str) and previous.endswith("&") and rest.startswith("'"):
                    header.values[last_key] = previous[:-1] + _parse_string(rest)[0]
                continue
            if line[8:10] != "= ":
                continue
            try:
                value = _parse_value(line[10:])
            except ValueError as exc:
                raise ValueError(f"keyword {key}: {exc}") from None
            if key not in header.values:
                header.values[key] = value
                last_key = key
            else:
                last_key = None


def ascii_text(text: str) -> str:
    """``text`` in printable ASCII, as headers require (accents dropped, others '?')."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return "".join(c if " " <= c <= "~" else "?" for c in plain)


def _format_number(value: bool | int | float) -> str:
    if isinstance(value, bool):
        return "T" if value else "F"
    if isinstance(value, int):
        return str(value)
    text = repr(float(value)).upper()
    return text if any(c in text for c in ".EN") else text + ".0"


def card(key: str, value: Value, comment: str | None = None) -> bytes:
    """One keyword record (several with CONTINUE for a long string), 80 bytes each."""
    key = key.upper()
    if key in _COMMENTARY:
        text = ascii_text(str(value or ""))
        return f"{key:<8}{text}"[:CARD].ljust(CARD).encode("ascii")
    if not isinstance(value, str):
        line = f"{key:<8}= {_format_number(value) if value is not None else '':>20}"
        if comment:
            line = f"{line} / {ascii_text(comment)}"
        return line[:CARD].ljust(CARD).encode("ascii")
    escaped = ascii_text(value).replace("'", "''")
    if len(escaped) <= 68:
        quoted = "'" + escaped.ljust(8) + "'"
        line = f"{key:<8}= {quoted:<20}"
        if comment and len(line) + 3 + len(comment) <= CARD:
            line = f"{line} / {ascii_text(comment)}"
        return line.ljust(CARD).encode("ascii")
    # Long-string convention: pieces of 67 characters, all but the last ending in '&'.
    pieces, start = [], 0
    while start < len(escaped):
        end = min(start + 67, len(escaped))
        if end < len(escaped) and escaped[start:end].count("'") % 2:
            end -= 1  # never split a doubled quote
        pieces.append(escaped[start:end])
        start = end
    lines = [f"{key:<8}= '{pieces[0]}&'"]
    lines += [f"CONTINUE  '{p}&'" for p in pieces[1:-1]]
    lines.append(f"CONTINUE  '{pieces[-1]}'")
    return "".join(line.ljust(CARD) for line in lines).encode("ascii")
