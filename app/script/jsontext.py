"""Turning bytes and text into parsed JSON, or into a precise `INVALID_JSON` problem.

Strict where JSON is strict and the renderer would otherwise guess: `NaN`/`Infinity` literals,
numbers that overflow a double (`1e400`), trailing commas, non-UTF-8 bytes and absurd nesting
are refused with a message and the line and column where they happen. Duplicate keys parse (the
last value wins, as in every JSON parser) but are reported at the later key, because a
duplicated key is almost always a mistake.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from app.script.jsonpath import Path, format_path

BOM = "\ufeff"

_TOKEN = re.compile(
    r'"(?:[^"\\]|\\.)*"|(-?Infinity|NaN)|(-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)'
)


@dataclass(frozen=True)
class ParseError:
    """Why a text is not a JSON document, where (0-based offset; 1-based line and column)."""

    message: str
    offset: int
    line: int
    column: int


@dataclass(frozen=True)
class DuplicateKey:
    path: Path
    key: str


@dataclass
class Parsed:
    """The outcome of `parse`: `data` when the text is JSON, else `error`."""

    data: Any = None
    error: ParseError | None = None
    duplicates: list[DuplicateKey] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None


class _Reject(ValueError):
    def __init__(self, message: str, pattern: re.Pattern[str] | None = None) -> None:
        super().__init__(message)
        self.pattern = pattern


def line_column(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a 0-based character offset."""
    offset = max(0, min(offset, len(text)))
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


def _error(text: str, message: str, offset: int) -> ParseError:
    line, column = line_column(text, offset)
    return ParseError(message, offset, line, column)


def decode(data: bytes) -> tuple[str, ParseError | None]:
    """UTF-8 bytes → text (a leading BOM is dropped); a precise error for any other bytes."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        good = data[: exc.start].decode("utf-8")
        bad = data[exc.start : exc.start + 1].hex()
        text = good + "\ufffd"
        return good, _error(
            text,
            f"Not UTF-8 text: byte 0x{bad} cannot be decoded (save the file as UTF-8)",
            len(good),
        )


def _friendly(text: str, exc: json.JSONDecodeError) -> tuple[str, int]:
    """Rephrase the standard library's messages where a clearer one exists."""
    pos = exc.pos
    before = text[:pos].rstrip()
    here = text[pos : pos + 1]
    if exc.msg.startswith("Expecting property name") or exc.msg == "Expecting value":
        if before.endswith(",") and here in ("}", "]"):
            comma = len(before) - 1
            return f"Trailing comma before '{here}'", comma
        if exc.msg == "Expecting value" and pos >= len(text.rstrip()):
            if not text.strip():
                return "The document is empty", 0
            return "Unexpected end of the document: a value is missing", pos
        if exc.msg.startswith("Expecting property name") and here == "'":
            return "Keys must be in double quotes, not single quotes", pos
        if exc.msg.startswith("Expecting property name"):
            return "Expecting a key in double quotes", pos
    if exc.msg.startswith("Expecting ',' delimiter") and pos >= len(text.rstrip()):
        return "Unexpected end of the document: a closing bracket is missing", pos
    if exc.msg.startswith("Unterminated string"):
        return "Unterminated string: a closing double quote is missing", pos
    if exc.msg.startswith("Invalid control character"):
        return "A raw line break or control character inside a string (use \\n)", pos
    if exc.msg == "Extra data":
        return "Unexpected text after the end of the document", pos
    return exc.msg, pos


def _overflowing_number(text: str) -> int:
    for match in _TOKEN.finditer(text):
        number = match.group(2)
        if number is not None and math.isinf(float(number)):
            return match.start(2)
    return 0


def _first_constant(text: str) -> int:
    for match in _TOKEN.finditer(text):
        if match.group(1) is not None:
            return match.start(1)
    return 0


def _parse_float(literal: str) -> float:
    value = float(literal)
    if math.isinf(value):
        raise _Reject(f"Number {literal} is too large")
    return value


def _parse_constant(literal: str) -> Any:
    raise _Reject(f"{literal} is not valid JSON; write a number (or null)")


def _depth_offset(text: str) -> int:
    depth = 0
    for match in re.finditer(r'"(?:[^"\\]|\\.)*"|[\[{]|[\]}]', text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > 500:
                return match.start()
        elif token in "]}":
            depth -= 1
    return 0


def parse(text: str) -> Parsed:
    """Parse JSON text; never raises. A leading BOM character is treated as white space."""
    if text.startswith(BOM):
        text = " " + text[1:]  # same length: offsets stay those of the editor's text
    dup_objects: list[tuple[dict[str, Any], str]] = []

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) != len(pairs):
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen:
                    dup_objects.append((obj, key))
                seen.add(key)
        return obj

    try:
        data = json.loads(
            text,
            object_pairs_hook=pairs_hook,
            parse_float=_parse_float,
            parse_constant=_parse_constant,
        )
    except json.JSONDecodeError as exc:
        message, offset = _friendly(text, exc)
        return Parsed(error=_error(text, message, offset))
    except _Reject as exc:
        finder = _overflowing_number if "too large" in str(exc) else _first_constant
        return Parsed(error=_error(text, str(exc), finder(text)))
    except RecursionError:
        return Parsed(error=_error(text, "The document is nested too deeply", _depth_offset(text)))
    except ValueError as exc:  # e.g. an integer literal with thousands of digits
        return Parsed(error=_error(text, f"Invalid number: {exc}", 0))
    parsed = Parsed(data=data)
    if dup_objects:
        parsed.duplicates = _locate_duplicates(data, dup_objects)
    return parsed


def _locate_duplicates(data: Any, dups: list[tuple[dict[str, Any], str]]) -> list[DuplicateKey]:
    wanted = {id(obj): [key for o, key in dups if o is obj] for obj, _ in dups}
    found: list[DuplicateKey] = []
    stack: list[tuple[Any, Path]] = [(data, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            for key in wanted.get(id(node), []):
                found.append(DuplicateKey((*path, key), key))
            stack.extend((value, (*path, key)) for key, value in node.items())
        elif isinstance(node, list):
            stack.extend((value, (*path, i)) for i, value in enumerate(node))
    found.sort(key=lambda d: format_path(d.path))
    return found
