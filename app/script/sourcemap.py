"""Where each path of a JSON document stands in its text, and which path stands at a cursor.

This is what the studio underlines and navigates with, and what gives the CLI its line and
column. The map is lazy: a container's members are scanned only as far as a lookup needs, and
values are skipped with the C JSON decoder, so locating fifty problems in a 1,000-scene document
costs about one parse of it. Scans are remembered, so later lookups are cheap.

Offsets are 0-based character offsets into the text given (the editor's text); `Span.start` is
the member's key when it has one, so underlining a span marks `"key": value`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from app.script.jsonpath import Path

_WS = re.compile(r"[ \t\n\r\ufeff]*")
_decoder = json.JSONDecoder()
_NO_DATA: Any = object()
_INDENT = re.compile(r"[ \t]*")
#: Jump to a far item of a pretty-printed array instead of skipping this many items or more.
_JUMP_AFTER = 8
_scanstring: Callable[[str, int], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]


class Span:
    """A member's text: `key_start`/`key_end` around its quoted key (None for array items) and
    `value_start`/`value_end` around its value.

    The end of a value is found only when first asked for, so that looking up a member of a
    large array does not cost a parse of everything after it.
    """

    __slots__ = ("_end", "_map", "key_end", "key_start", "value_start")

    def __init__(
        self,
        source: SourceMap,
        value_start: int,
        key_start: int | None = None,
        key_end: int | None = None,
    ) -> None:
        self._map = source
        self._end: int | None = None
        self.value_start = value_start
        self.key_start = key_start
        self.key_end = key_end

    @property
    def value_end(self) -> int:
        if self._end is None:
            self._end = self._map._value_end(self.value_start)
        return self._end

    @property
    def start(self) -> int:
        return self.value_start if self.key_start is None else self.key_start

    @property
    def end(self) -> int:
        return self.value_end

    def __repr__(self) -> str:
        key = f"{self.key_start}..{self.key_end}"
        return f"Span(key={key}, value={self.value_start}..{self.value_end})"


class _Container:
    """The scanned members of one object or array; scanning resumes where it stopped."""

    __slots__ = ("by_key", "done", "end", "is_object", "line_starts", "members", "pos")

    def __init__(self, is_object: bool, pos: int) -> None:
        self.is_object = is_object
        self.pos = pos  # just after the opening bracket
        self.done = False
        self.end = -1  # after the closing bracket, once done
        self.members: list[tuple[str | int, Span]] = []
        self.by_key: dict[str | int, Span] = {}
        #: for a one-item-per-line array: where each item starts (see `_jump`); [] = unusable
        self.line_starts: list[int] | None = None


class SourceMap:
    """Path ↔ text range for one JSON text (which must parse; see `jsontext.parse`)."""

    def __init__(self, text: str, *, duplicate_keys: bool = False, data: Any = _NO_DATA) -> None:
        """`duplicate_keys`: the text has duplicated keys (`jsontext.parse` says so); then
        lookups make sure they return the last one, as JSON parsers do.

        `data`: the parsed text, when the caller has it. It lets lookups deep into a large,
        pretty-printed array jump to the item's line instead of skipping every item before it
        (each jump is checked against the parsed item, and falls back to scanning)."""
        self.text = text
        self.duplicate_keys = duplicate_keys
        self._data = data
        self._containers: dict[int, _Container] = {}
        start = self._skip_ws(0)
        self._root = Span(self, start) if start < len(text) else None

    # ---- lookups -------------------------------------------------------------------------

    def span(self, path: Path) -> Span | None:
        """The exact span of `path`, or None when the document has no such member."""
        found, span = self.locate(path)
        return span if found == path else None

    def locate(self, path: Path) -> tuple[Path, Span | None]:
        """The deepest existing path on the way to `path` and its span.

        A missing required key is thus shown on the object that should hold it.
        """
        span = self._root
        node = self._data
        found: Path = ()
        for part in path:
            if span is None:
                break
            child, node = self._child(span, part, node)
            if child is None:
                break
            span = child
            found = (*found, part)
        return found, span

    def path_at(self, offset: int) -> Path:
        """The deepest path whose key or value contains `offset` (the root when none)."""
        path: Path = ()
        span = self._root
        while span is not None and span.value_start <= offset <= span.value_end:
            container = self._container(span)
            if container is None:
                break
            inner = self._member_at(container, offset)
            if inner is None:
                break
            key, child = inner
            path = (*path, key)
            if child.key_start is not None and offset <= (child.key_end or 0):
                break  # on the key itself
            span = child
        return path

    def line_column(self, offset: int) -> tuple[int, int]:
        """1-based line and column of an offset."""
        return self.line_columns([offset])[0]

    def line_columns(self, offsets: list[int]) -> list[tuple[int, int]]:
        """1-based line and column of many offsets, in one pass over the text."""
        text = self.text
        order = sorted(range(len(offsets)), key=offsets.__getitem__)
        result: list[tuple[int, int]] = [(1, 1)] * len(offsets)
        line, counted = 1, 0
        for index in order:
            offset = max(0, min(offsets[index], len(text)))
            line += text.count("\n", counted, offset)
            counted = offset
            result[index] = (line, offset - (text.rfind("\n", 0, offset) + 1) + 1)
        return result

    # ---- scanning ------------------------------------------------------------------------

    def _skip_ws(self, pos: int) -> int:
        match = _WS.match(self.text, pos)
        return match.end() if match else pos

    def _value_end(self, pos: int) -> int:
        container = self._containers.get(pos)
        if container is not None and container.done:
            return container.end
        try:
            return _decoder.raw_decode(self.text, pos)[1]
        except (ValueError, RecursionError):
            return len(self.text)

    def _container(self, span: Span) -> _Container | None:
        start = span.value_start
        container = self._containers.get(start)
        if container is None:
            opener = self.text[start : start + 1]
            if opener not in ("{", "["):
                return None
            container = _Container(opener == "{", start + 1)
            self._containers[start] = container
        return container

    def _child(self, span: Span, part: str | int, node: Any = _NO_DATA) -> tuple[Span | None, Any]:
        """The member `part` of the container at `span`, and its parsed value if known."""
        container = self._container(span)
        if container is None:
            return None, _NO_DATA
        key: str | int
        if container.is_object:
            key = str(part)
        elif isinstance(part, int):
            key = part
        elif isinstance(part, str) and part.isdigit():
            key = int(part)
        else:
            return None, _NO_DATA
        child_node: Any = _NO_DATA
        if isinstance(node, dict) and key in node:
            child_node = node[key]
        elif isinstance(node, list) and isinstance(key, int) and key < len(node):
            child_node = node[key]
        found = container.by_key.get(key)
        if (
            found is None
            and isinstance(key, int)
            and isinstance(node, list)
            and key >= len(container.members) + _JUMP_AFTER
        ):
            found = self._jump(container, node, key)
        while found is None and not container.done:
            member = self._scan_next(container)
            if member is not None and member[0] == key:
                found = member[1]
        if self.duplicate_keys and container.is_object and found is not None:
            # JSON's last duplicate wins: make sure no later member has the same key.
            while not container.done:
                self._scan_next(container)
            found = container.by_key.get(key)
        return found, child_node

    def _jump(self, container: _Container, items: list[Any], index: int) -> Span | None:
        """Item `index` of a one-item-per-line array, found by its line, or None.

        JSON strings cannot hold raw line breaks, so in pretty-printed text every item of
        an array starts a line at the same indentation. The candidates are trusted only if
        there are exactly as many as items and the chosen one parses to the parsed item."""
        text = self.text
        if container.line_starts is None:
            container.line_starts = []
            if not container.members:
                self._scan_next(container)
            if container.members:
                first = container.members[0][1].value_start
                line_start = text.rfind("\n", 0, first) + 1
                indent = text[line_start:first]
                opener_line = text.rfind("\n", 0, container.pos) + 1
                outer = _INDENT.match(text, opener_line).group()  # type: ignore[union-attr]
                closer = "}" if container.is_object else "]"
                if line_start and not indent.strip(" \t"):
                    container.line_starts = self._container_item_lines(items, first, indent, closer)
                if (
                    not container.line_starts
                    and line_start
                    and not indent.strip(" \t")
                    and indent.startswith(outer)
                    and indent != outer
                ):
                    # Item lines, up to the line that closes this container (one scan).
                    pattern = re.compile(
                        "\n"
                        + re.escape(outer)
                        + "(?:"
                        + re.escape(indent[len(outer) :])
                        + r"(?=[^ \t\r\n\]}])|"
                        + re.escape(closer)
                        + ")"
                    )
                    starts = [first]
                    closed = False
                    for match in pattern.finditer(text, first):
                        if text[match.end() - 1] == closer and match.end() - match.start() == (
                            len(outer) + 2
                        ):
                            closed = True
                            break
                        starts.append(match.end())
                    if closed and len(starts) == len(items):
                        container.line_starts = starts
        starts = container.line_starts
        if not starts or index >= len(starts):
            return None
        start = starts[index]
        before = start - 1
        while before > 0 and text[before] in " \t\r\n":
            before -= 1
        if text[before] != ",":
            return None
        try:
            value, end = _decoder.raw_decode(text, start)
        except (ValueError, RecursionError):
            return None
        if value != items[index]:
            return None
        span = Span(self, start)
        span._end = end
        container.by_key[index] = span
        return span

    def _container_item_lines(
        self, items: list[Any], first: int, indent: str, closer: str
    ) -> list[int]:
        """Item starts of an array whose items are all objects (or all arrays), or [].

        The common case (the scenes list): a literal search for `newline, indent, opener` is
        twice as fast as the general pattern. Trusted only if the N-th candidate is the last
        item: it parses to the last parsed item and the container closes right after it."""
        opener = self.text[first]
        kind = dict if opener == "{" else list if opener == "[" else None
        if kind is None or not all(type(item) is kind for item in items):
            return []
        text = self.text
        needle = re.compile(re.escape("\n" + indent + opener))
        starts = [first]
        for match in needle.finditer(text, first):
            if len(starts) == len(items):
                break
            starts.append(match.end() - 1)
        if len(starts) != len(items):
            return []
        try:
            value, end = _decoder.raw_decode(text, starts[-1])
        except (ValueError, RecursionError):
            return []
        after = self._skip_ws(end)
        if value != items[-1] or text[after : after + 1] != closer:
            return []
        return starts

    def _member_at(self, container: _Container, offset: int) -> tuple[str | int, Span] | None:
        members = container.members
        while not container.done and (not members or members[-1][1].end < offset):
            self._scan_next(container)
        for key, span in members:  # few members per container in practice
            if span.start <= offset <= span.end:
                return key, span
        return None

    def _scan_next(self, container: _Container) -> tuple[str | int, Span] | None:
        text = self.text
        if container.members:
            pos = self._skip_ws(container.members[-1][1].value_end)
        else:
            pos = self._skip_ws(container.pos)
        closer = "}" if container.is_object else "]"
        if pos >= len(text) or text[pos] == closer:
            container.done = True
            container.end = pos + 1
            return None
        if container.members:
            if text[pos] != ",":
                container.done = True
                return None
            pos = self._skip_ws(pos + 1)
        key: str | int
        key_start = key_end = None
        if container.is_object:
            if text[pos : pos + 1] != '"':
                container.done = True
                return None
            key_start = pos
            try:
                key, key_end = _scanstring(text, pos + 1)
            except ValueError:
                container.done = True
                return None
            pos = self._skip_ws(key_end)
            if text[pos : pos + 1] != ":":
                container.done = True
                return None
            pos = self._skip_ws(pos + 1)
        else:
            key = len(container.members)
        span = Span(self, pos, key_start, key_end)
        container.members.append((key, span))
        container.by_key[key] = span
        return key, span
