"""JSON syntax colours for the Script editor, readable on light and dark palettes, and lazy on
large texts.

`JsonHighlighter` colours one line at a time (JSON strings never span lines, so no state passes
between blocks). Qt re-highlights only the blocks an edit touches; a big change (opening a
1 MB script, a paste) would make Qt call us for every line, so the highlighter is told to be
`lazy` for such a change and leaves those blocks plain; the editor then colours the blocks it is
about to paint (`highlight_visible`). A block without formats but with text is "not coloured yet".

`OffsetMap` converts between Python string offsets (what the script core reports) and Qt
document positions, which differ after a character outside the BMP (two UTF-16 units in Qt)
and after a CRLF line break (one paragraph separator in Qt).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from PySide6.QtGui import (
    QColor,
    QFont,
    QPalette,
    QSyntaxHighlighter,
    QTextBlock,
    QTextCharFormat,
    QTextDocument,
)

_TOKEN = re.compile(
    r'(?P<string>"(?:[^"\\]|\\.)*"?)(?P<colon>[ \t]*:)?'
    r"|(?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)"
    r"|(?P<literal>\b(?:true|false|null)\b)"
    r"|(?P<punct>[{}\[\],:])"
)

#: A change adding more characters than this is left for `highlight_visible` to colour.
LAZY_CHANGE = 20_000
#: Lines longer than this stay plain (a minified script is one line of a megabyte: colouring
#: it would cost a second per keystroke), as in VS Code.
LONG_LINE = 5_000


@dataclass(frozen=True)
class Theme:
    key: str
    string: str
    number: str
    literal: str
    error: str
    warning: str


#: VS Code's Light+ and Dark+ token colours: familiar, and each contrasts with its background.
LIGHT = Theme("#0451a5", "#a31515", "#098658", "#0000ff", "#d11a1a", "#b86e00")
DARK = Theme("#9cdcfe", "#ce9178", "#b5cea8", "#569cd6", "#f14c4c", "#e8a317")


def is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Base).lightness() < 128


def theme_for(palette: QPalette) -> Theme:
    return DARK if is_dark(palette) else LIGHT


class JsonHighlighter(QSyntaxHighlighter):
    """Keys, strings, numbers, true/false/null and punctuation, each in its colour."""

    def __init__(self, document: QTextDocument, palette: QPalette) -> None:
        self.lazy = False
        self._formats: dict[str, QTextCharFormat] = {}
        self.set_palette(palette, rehighlight=False)
        super().__init__(document)

    def set_palette(self, palette: QPalette, rehighlight: bool = True) -> None:
        theme = theme_for(palette)
        punct = QColor(palette.color(QPalette.ColorRole.Text))
        punct.setAlpha(170)

        def fmt(color: QColor | str, bold: bool = False) -> QTextCharFormat:
            f = QTextCharFormat()
            f.setForeground(QColor(color))
            if bold:
                f.setFontWeight(QFont.Weight.Bold)
            return f

        self._formats = {
            "key": fmt(theme.key),
            "string": fmt(theme.string),
            "number": fmt(theme.number),
            "literal": fmt(theme.literal, bold=True),
            "punct": fmt(punct),
        }
        if rehighlight and self.document() is not None:
            # Clear everything cheaply; the editor colours what it shows.
            self.lazy = self.document().blockCount() > 2000
            try:
                self.rehighlight()
            finally:
                self.lazy = False

    def highlightBlock(self, text: str) -> None:
        if self.lazy or len(text) > LONG_LINE:
            return
        formats = self._formats
        for match in _TOKEN.finditer(text):
            kind = match.lastgroup
            if kind == "colon":  # a key: colour the string, then its colon as punctuation
                start, end = match.span("string")
                self.setFormat(start, end - start, formats["key"])
                colon = match.end() - 1
                self.setFormat(colon, 1, formats["punct"])
                continue
            start, end = match.span()
            self.setFormat(start, end - start, formats[kind or "punct"])

    def highlight_visible(self, blocks: list[QTextBlock]) -> None:
        """Colour the blocks among `blocks` that a lazy change left plain."""
        self.lazy = False
        for block in blocks:
            if block.length() > LONG_LINE:
                continue
            layout = block.layout()
            if layout is not None and not layout.formats() and block.text().strip():
                self.rehighlightBlock(block)


_SPECIAL = re.compile(r"\r\n|[\U00010000-\U0010ffff]")


class OffsetMap:
    """Python offsets ↔ Qt positions for one text (identity for almost every text)."""

    def __init__(self, text: str) -> None:
        self._py: list[int] = []  # Python offsets after which the difference changes
        self._qt: list[int] = []  # the same points as Qt positions
        self._delta: list[int] = []  # Qt - Python from that point on
        if text.isascii() and "\r" not in text:
            return
        delta = 0
        for match in _SPECIAL.finditer(text):
            start = match.start()
            delta += -1 if match.group() == "\r\n" else 1
            after = start + (2 if match.group() == "\r\n" else 1)
            self._py.append(after)
            self._qt.append(after + delta)
            self._delta.append(delta)

    @property
    def identity(self) -> bool:
        return not self._py

    def to_qt(self, offset: int) -> int:
        if not self._py:
            return offset
        i = bisect.bisect_right(self._py, offset) - 1
        return offset + (self._delta[i] if i >= 0 else 0)

    def to_python(self, position: int) -> int:
        if not self._qt:
            return position
        i = bisect.bisect_right(self._qt, position) - 1
        return position - (self._delta[i] if i >= 0 else 0)
