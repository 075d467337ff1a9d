"""Validation: JSON text or parsed data → every problem, each at its exact path.

    report = validate_text(text, variables={"headline": "Hi"}, lint_options=LintOptions(...))
    for problem in report.problems:
        where = report.locate(problem)      # line, column and text range for underlining

Messages follow the documented style (`Expected number, received string`, `Required`,
`Invalid enum value. Expected 'low' | 'medium' | 'high', received 'ultra'`,
`Unrecognized key 'font-size'. Did you mean 'font_size'?`). Any JSON Schema works, not only
ours: keywords without a message of ours fall back to the validator's own words, and a schema
node may carry `errorMessage` (with `{value}`) to word its failure itself.

The pipeline: parse (INVALID_JSON, duplicate keys) → template substitution (missing variables
are errors, unused ones warnings) → schema → cross-field rules → lint.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jsonschema_rs

from app.script import lint as lint_module
from app.script.jsonpath import Path
from app.script.jsontext import Parsed, ParseError, parse
from app.script.lint import LintOptions
from app.script.problems import (
    DUPLICATE_KEY,
    INVALID_JSON,
    MISSING_VARIABLE,
    UNUSED_VARIABLE,
    Problem,
)
from app.script.schema import Schema, active_schema
from app.script.sourcemap import SourceMap, Span
from app.script.templates import substitute

_JSON_KIND = {
    bool: "boolean",
    int: "number",
    float: "number",
    str: "string",
    type(None): "null",
    list: "array",
    dict: "object",
}


def json_kind(value: Any) -> str:
    """The JSON name of a parsed value's kind (`number` for ints and floats alike)."""
    return _JSON_KIND.get(type(value), type(value).__name__)


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f"'{value}'" if len(value) <= 60 else f"'{value[:57]}…'"
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, dict | list) else ""
    return text or json_kind(value)


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _did_you_mean(key: str, allowed: list[str]) -> str:
    normal = key.replace("-", "_").replace(" ", "_").lower()
    for candidate in allowed:
        if candidate.lower() == normal:
            return candidate
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    return close[0] if close else ""


class _Messages:
    """Turns one validator error into problems in the documented style."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema

    def problems(self, error: jsonschema_rs.ValidationError) -> list[Problem]:
        path: Path = tuple(error.instance_path)
        kind = error.kind
        name = type(kind).__name__
        value = error.instance
        schema_path = list(error.schema_path)
        node = self.schema.subschema(schema_path[:-1]) if schema_path else None
        custom = node.get("errorMessage") if isinstance(node, dict) else None
        if isinstance(custom, str) and name not in ("Required", "AdditionalProperties"):
            return [Problem(path, custom.replace("{value}", _show(value)))]
        if name == "Required":
            return [Problem((*path, getattr(kind, "property", "")), "Required")]
        if name == "AdditionalProperties":
            allowed = sorted(node.get("properties", {})) if isinstance(node, dict) else []
            out = []
            for key in getattr(kind, "unexpected", []):
                message = f"Unrecognized key '{key}'"
                suggestion = _did_you_mean(key, allowed)
                if suggestion:
                    message += f". Did you mean '{suggestion}'?"
                out.append(Problem((*path, key), message))
            return out
        return [Problem(path, self._message(name, kind, value, error.message))]

    def _message(self, name: str, kind: Any, value: Any, fallback: str) -> str:
        limit = getattr(kind, "limit", None)
        if name == "Type":
            types = sorted(kind.types, key=lambda t: t == "null")  # "number or null"
            return f"Expected {' or '.join(types)}, received {json_kind(value)}"
        if name == "Enum":
            options = " | ".join(
                f"'{o}'" if isinstance(o, str) else json.dumps(o) for o in kind.options
            )
            return f"Invalid enum value. Expected {options}, received {_show(value)}"
        if name == "Constant":
            return f"Invalid literal value, expected {_show(kind.expected_value)}"
        if name == "Minimum":
            return f"Number must be greater than or equal to {_number(limit)}"
        if name == "ExclusiveMinimum":
            return f"Number must be greater than {_number(limit)}"
        if name == "Maximum":
            return f"Number must be less than or equal to {_number(limit)}"
        if name == "ExclusiveMaximum":
            return f"Number must be less than {_number(limit)}"
        if name == "MultipleOf":
            return f"Number must be a multiple of {_number(kind.multiple_of)}"
        if name == "MinLength":
            return f"String must contain at least {limit} character(s)"
        if name == "MaxLength":
            return f"String must contain at most {limit} character(s)"
        if name == "MinItems":
            return f"Array must contain at least {limit} element(s)"
        if name == "MaxItems":
            return f"Array must contain at most {limit} element(s)"
        if name == "Pattern":
            return f"Invalid format: {_show(value)} does not match {kind.pattern}"
        return fallback


def validate_data(data: Any, *, schema: Schema | None = None) -> list[Problem]:
    """Schema problems of a parsed document (no templates, rules or lint), deduplicated."""
    schema = schema or active_schema()
    messages = _Messages(schema)
    seen: set[tuple[Path, str]] = set()
    problems: list[Problem] = []
    try:
        errors = list(schema.validator.iter_errors(data))
    except (ValueError, OverflowError, RecursionError) as exc:  # values the validator can't take
        return [Problem((), f"The document cannot be validated: {exc}")]
    mistyped: set[Path] = set()
    for error in errors:
        if type(error.kind).__name__ == "Type":
            mistyped.add(tuple(error.instance_path))
    for error in errors:
        for problem in messages.problems(error):
            key = (problem.path, problem.message)
            if key in seen:
                continue
            if problem.path in mistyped and type(error.kind).__name__ != "Type":
                continue  # "Expected integer" says it all; "not a multiple of 2" is noise
            seen.add(key)
            problems.append(problem)
    return problems


def check(
    data: Any,
    *,
    schema: Schema | None = None,
    variables: Mapping[str, Any] | None = None,
    lint_options: LintOptions | None = None,
    has_placeholders: bool = True,
) -> tuple[Any, list[Problem]]:
    """Every problem of a parsed document: templates, schema, cross-field rules, lint.

    Returns the document after template substitution (what a renderer would render) and the
    problems. `variables=None` checks placeholders as if no values were given: each used name is
    then a missing variable. `has_placeholders=False` is a shortcut the text path takes when the
    text contains no `{{` at all.
    """
    problems: list[Problem] = []
    unresolved: set[Path] = set()
    if has_placeholders or variables:
        sub = substitute(data, variables or {})
        data = sub.data
        unresolved = sub.unresolved
        problems += [
            Problem(path, f"Missing template variable '{name}'", code=MISSING_VARIABLE)
            for name, path in sub.missing.items()
        ]
        problems += [
            Problem((), f"Variable '{name}' is not used", "warning", UNUSED_VARIABLE)
            for name in sub.unused
        ]
    schema_problems = validate_data(data, schema=schema)
    problems += [p for p in schema_problems if p.path not in unresolved]
    rule_problems, lint_problems = lint_module.rules_and_lint(data, lint_options)
    problems += rule_problems
    problems += lint_problems
    return data, problems


@dataclass(frozen=True)
class Location:
    """Where a problem stands in the text: the range to underline and its 1-based start.

    `exact` is False when the path itself is absent (a missing required key): the range is then
    that of the nearest enclosing member."""

    start: int
    end: int
    line: int
    column: int
    exact: bool


@dataclass
class Report:
    """The outcome of `validate_text`."""

    text: str
    data: Any = None
    #: the document after template substitution (None when the text is not JSON)
    resolved: Any = None
    problems: list[Problem] = field(default_factory=list)
    parse_error: ParseError | None = None
    duplicate_keys: bool = False
    _map: SourceMap | None = None

    @property
    def ok(self) -> bool:
        """No errors (warnings allowed)."""
        return not any(p.is_error for p in self.problems)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    @property
    def source_map(self) -> SourceMap | None:
        if self._map is None and self.parse_error is None:
            self._map = SourceMap(self.text, duplicate_keys=self.duplicate_keys, data=self.data)
        return self._map

    def located(self) -> list[tuple[Problem, Location]]:
        """Every problem with its location, in document order."""
        ranges = [self._range(problem) for problem in self.problems]
        if self.parse_error is not None or self.source_map is None:
            positions = [(1, 1)] * len(ranges)
        else:
            positions = self.source_map.line_columns([r[0] for r in ranges])
        pairs = [
            (problem, self._location(problem, r, pos))
            for problem, r, pos in zip(self.problems, ranges, positions, strict=True)
        ]
        pairs.sort(key=lambda pair: (pair[1].start, pair[1].end))
        return pairs

    def locate(self, problem: Problem) -> Location:
        """The text range of a problem's path (or of its nearest existing parent)."""
        text_range = self._range(problem)
        source_map = self.source_map
        position = source_map.line_column(text_range[0]) if source_map else (1, 1)
        return self._location(problem, text_range, position)

    def _range(self, problem: Problem) -> tuple[int, int, bool]:
        if problem.code == INVALID_JSON and self.parse_error is not None:
            offset = self.parse_error.offset
            return offset, min(len(self.text), offset + 1), True
        source_map = self.source_map
        if source_map is None:
            return 0, 0, False
        found, span = source_map.locate(problem.path)
        if span is None:
            return 0, 0, False
        exact = found == problem.path
        start, end = _span_range(self.text, span, exact)
        return start, end, exact

    def _location(
        self, problem: Problem, text_range: tuple[int, int, bool], position: tuple[int, int]
    ) -> Location:
        if problem.code == INVALID_JSON and self.parse_error is not None:
            position = (self.parse_error.line, self.parse_error.column)
        start, end, exact = text_range
        return Location(start, end, position[0], position[1], exact)


def _span_range(text: str, span: Span, exact: bool) -> tuple[int, int]:
    if exact:
        return span.start, span.end
    # A key is missing inside this member: mark its key, or the first line of its value,
    # never the whole (maybe huge) value.
    if span.key_start is not None and span.key_end is not None:
        return span.key_start, span.key_end
    line_end = text.find("\n", span.value_start)
    end = span.value_end if line_end == -1 else min(line_end, span.value_end)
    return span.value_start, end


def validate_text(
    text: str,
    *,
    schema: Schema | None = None,
    variables: Mapping[str, Any] | None = None,
    lint_options: LintOptions | None = None,
    parsed: Parsed | None = None,
) -> Report:
    """Parse and check a JSON text; never raises. See the module docstring.

    `parsed`: `jsontext.parse(text)` when the caller already has it (the studio parses every
    keystroke for its views); it must be the parse of exactly this text. Validation only reads
    it."""
    if parsed is None:
        parsed = parse(text)
    if parsed.error is not None:
        problem = Problem((), parsed.error.message, code=INVALID_JSON)
        return Report(text=text, problems=[problem], parse_error=parsed.error)
    report = Report(text=text, data=parsed.data, duplicate_keys=bool(parsed.duplicates))
    report.problems += [
        Problem(
            dup.path,
            f"Duplicate key '{dup.key}': only its last value counts",
            code=DUPLICATE_KEY,
        )
        for dup in parsed.duplicates
    ]
    resolved, problems = check(
        parsed.data,
        schema=schema,
        variables=variables,
        lint_options=lint_options,
        has_placeholders="{{" in text,
    )
    report.resolved = resolved
    report.problems += problems
    return report
