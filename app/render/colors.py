"""Script colours (`#RGB`, `#RRGGBB`, `#RRGGBBAA`) as Qt colours.

One parser for every colour field, so scene backgrounds, text, boxes and outlines all read alpha
the same way (CSS order: the last two hex digits are alpha). Qt's own `#AARRGGBB` order would
silently swap the channels, which is why `QColor(str)` is never used on script colours.
"""

from __future__ import annotations

import re
from functools import lru_cache

from PySide6.QtGui import QColor

RGBA = tuple[int, int, int, int]
_HEX = re.compile(r"[0-9A-Fa-f]+")


@lru_cache(maxsize=1024)
def parse_color(value: str) -> RGBA:
    """(r, g, b, a) in 0..255 from `#RGB`, `#RRGGBB` or `#RRGGBBAA`; ValueError otherwise."""
    digits = value[1:] if value.startswith("#") else ""
    if not _HEX.fullmatch(digits):
        raise ValueError(f"Invalid colour {value!r}")
    if len(digits) == 3:
        r, g, b = (int(c * 2, 16) for c in digits)
        return r, g, b, 255
    if len(digits) in (6, 8):
        channels = [int(digits[i : i + 2], 16) for i in range(0, len(digits), 2)]
        if len(channels) == 3:
            channels.append(255)
        r, g, b, a = channels
        return r, g, b, a
    raise ValueError(f"Invalid colour {value!r}")


def qcolor(value: str) -> QColor:
    """A QColor (with alpha) for a script colour."""
    r, g, b, a = parse_color(value)
    return QColor(r, g, b, a)


def over_black(value: str) -> QColor:
    """The opaque colour a translucent scene background shows: the colour over black."""
    r, g, b, a = parse_color(value)
    return QColor(round(r * a / 255), round(g * a / 255), round(b * a / 255), 255)
