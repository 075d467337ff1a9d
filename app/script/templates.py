"""Template variables: `{{name}}` discovery and substitution on parsed values (spec §5).

Substitution works string by string on the parsed document, never on the JSON text, so a value
can never break the document's structure. A string that is exactly one placeholder takes the
variable's JSON value as is (`"duration": "{{secs}}"` can become the number 5); any other
string gets the value's text (numbers as JSON writes them, strings as they are).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.script.jsonpath import Path

#: `{{ name }}`: a name of letters, digits and underscores not starting with a digit.
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_WHOLE = re.compile(r"^\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$")


@dataclass
class Substitution:
    """The substituted document and what the substitution found."""

    data: Any
    #: every variable name used, with the first path that uses it (document order)
    used: dict[str, Path] = field(default_factory=dict)
    #: names used but not given, with the first path using each
    missing: dict[str, Path] = field(default_factory=dict)
    #: names given but not used
    unused: list[str] = field(default_factory=list)
    #: paths whose value still holds a placeholder (its variable is missing)
    unresolved: set[Path] = field(default_factory=set)


def _text_of(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _walk_strings(data: Any) -> list[tuple[Path, str]]:
    """Every string value with its path, in document order (iterative: no recursion limit)."""
    found: list[tuple[Path, str]] = []
    stack: list[tuple[Any, Path]] = [(data, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, str):
            if "{{" in node:
                found.append((path, node))
        elif isinstance(node, dict):
            stack.extend((value, (*path, key)) for key, value in reversed(node.items()))
        elif isinstance(node, list):
            stack.extend((value, (*path, i)) for i, value in reversed(list(enumerate(node))))
    return found


def find_variables(data: Any) -> dict[str, Path]:
    """Every `{{name}}` in the document's string values, with the first path using it."""
    used: dict[str, Path] = {}
    for path, text in _walk_strings(data):
        for match in PLACEHOLDER.finditer(text):
            used.setdefault(match.group(1), path)
    return used


def _replace_at(data: Any, path: Path, value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(data, dict):
        copy = dict(data)
        copy[str(head)] = _replace_at(data[str(head)], rest, value)
        return copy
    copy_list = list(data)
    copy_list[int(head)] = _replace_at(data[int(head)], rest, value)
    return copy_list


def substitute(data: Any, variables: Mapping[str, Any]) -> Substitution:
    """Replace placeholders with `variables`; the input is not modified.

    Only the containers on the way to a changed string are copied, so a large document with a
    few placeholders is cheap to substitute.
    """
    result = Substitution(data=data)
    for path, text in _walk_strings(data):
        names = [m.group(1) for m in PLACEHOLDER.finditer(text)]
        if not names:
            continue
        for name in names:
            result.used.setdefault(name, path)
        absent = [name for name in names if name not in variables]
        for name in absent:
            result.missing.setdefault(name, path)
        if absent:
            result.unresolved.add(path)
            continue
        whole = _WHOLE.match(text)
        if whole:
            new_value: Any = variables[whole.group(1)]
        else:
            new_value = PLACEHOLDER.sub(lambda m: _text_of(variables[m.group(1)]), text)
        result.data = _replace_at(result.data, path, new_value)
    result.unused = [name for name in variables if name not in result.used]
    return result
