"""Paths into a JSON document: tuples of keys and 0-based indices, and their documented text form.

The text form is dot-separated with numeric indices (`scenes.0.elements.2.font_size`); the root
is the empty string. Tuples are what the code passes around, because a key may itself contain a
dot or look like a number.
"""

from __future__ import annotations

from typing import Any

Path = tuple[str | int, ...]


def format_path(path: Path) -> str:
    """`("scenes", 0, "duration")` → `"scenes.0.duration"`."""
    return ".".join(str(part) for part in path)


def parse_path(text: str) -> Path:
    """`"scenes.0.duration"` → `("scenes", 0, "duration")` (digit runs become indices)."""
    if not text:
        return ()
    return tuple(int(part) if part.isdigit() else part for part in text.split("."))


def get_at(data: Any, path: Path) -> Any:
    """The value at `path`; raises KeyError when it is not there."""
    node = data
    for part in path:
        if isinstance(node, dict):
            key = str(part)
            if key not in node:
                raise KeyError(path)
            node = node[key]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        elif isinstance(node, list) and isinstance(part, str) and part.isdigit():
            index = int(part)
            if index >= len(node):
                raise KeyError(path)
            node = node[index]
        else:
            raise KeyError(path)
    return node


def exists(data: Any, path: Path) -> bool:
    try:
        get_at(data, path)
    except KeyError:
        return False
    return True
