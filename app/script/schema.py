"""The movie script's JSON Schema (draft 2020-12), generated from `model.py`, and the active schema.

Pydantic's own output is reshaped so that a validator reports every problem at its exact path:

* an element's kind is chosen with `if`/`then` on `type` instead of `oneOf`, so an unknown or
  missing `type` is reported at `…elements.N.type` alone and a bad field of a text element is
  reported at that field, never as a cascade of failures from every element kind;
* `X | None` becomes `"type": ["x", "null"]` (one error, one message) instead of `anyOf`;
* titles are dropped; descriptions, defaults, units (`unit`) and custom messages
  (`errorMessage`) stay, for the inspector and for `validate`'s messages.

The studio validates against the *active* schema: the bundled one by default, or the schema a
connected server serves (`Schema.from_dict`). The bundled copy in
`resources/schema/movie-script.schema.json` is kept equal to `build_schema()` by a test.
"""

from __future__ import annotations

import copy
import json
import threading
from functools import lru_cache
from typing import Any

import jsonschema_rs

from app.script.model import ELEMENT_TYPES, Movie

DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = "urn:reelsmith:movie-script"

JSONDict = dict[str, Any]


class SchemaError(Exception):
    """A schema that cannot be used for validation (not JSON, not a valid JSON Schema)."""


def _merge_nullable(node: JSONDict) -> JSONDict | None:
    """`anyOf: [S, {type: null}]` → S with "null" added to its type; None if not that shape."""
    options = node.get("anyOf")
    if not isinstance(options, list) or len(options) != 2:
        return None
    nulls = [o for o in options if o == {"type": "null"}]
    others = [o for o in options if o != {"type": "null"}]
    if len(nulls) != 1 or len(others) != 1:
        return None
    other = dict(others[0])
    rest = {k: v for k, v in node.items() if k != "anyOf"}
    if "$ref" in other or "type" not in other:
        # An optional object: absent means "none"; null is not needed and would need anyOf.
        return {**other, **{k: v for k, v in rest.items() if k != "default"}}
    kind = other["type"]
    other["type"] = [*kind, "null"] if isinstance(kind, list) else [kind, "null"]
    return {**other, **rest}


def _element_items() -> JSONDict:
    kinds = list(ELEMENT_TYPES)
    return {
        "type": "object",
        "description": "An element; its `type` selects its fields.",
        "required": ["type"],
        "properties": {"type": {"enum": kinds}},
        "allOf": [
            {
                "if": {
                    "type": "object",
                    "properties": {"type": {"const": kind}},
                    "required": ["type"],
                },
                "then": {"$ref": f"#/$defs/{ELEMENT_TYPES[kind].__name__}"},
            }
            for kind in kinds
        ],
    }


def _reshape(node: Any) -> Any:
    if isinstance(node, list):
        return [_reshape(item) for item in node]
    if not isinstance(node, dict):
        return node
    if "discriminator" in node and "oneOf" in node:
        return _element_items()
    merged = _merge_nullable(node)
    if merged is not None:
        node = merged
    out: JSONDict = {}
    for key, value in node.items():
        if key == "title":
            continue
        if key in ("properties", "$defs"):
            out[key] = {name: _reshape(sub) for name, sub in value.items()}
        else:
            out[key] = _reshape(value)
    return out


def build_schema() -> JSONDict:
    """Generate the movie-script JSON Schema from the models (a fresh dict each call)."""
    raw = Movie.model_json_schema(mode="validation")
    schema: JSONDict = {"$schema": DIALECT, "$id": SCHEMA_ID, **_reshape(raw)}
    schema["title"] = "Reelsmith movie script"
    schema["description"] = (
        "A movie: canvas, frame rate, quality and scenes that play one after another. "
        "See shared/spec/movie-script.md."
    )
    return schema


def schema_text(schema: JSONDict) -> str:
    """The canonical text form (2-space indent, sorted keys, final newline)."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


class Schema:
    """A JSON Schema compiled for validation, with where it came from and its ETag."""

    def __init__(self, document: JSONDict, *, source: str, etag: str | None = None) -> None:
        if not isinstance(document, dict):
            raise SchemaError(f"{source}: a JSON Schema must be a JSON object")
        try:
            self.validator = jsonschema_rs.validator_for(document)
        except (ValueError, jsonschema_rs.ValidationError, jsonschema_rs.ReferencingError) as exc:
            raise SchemaError(f"{source}: not a usable JSON Schema: {exc}") from exc
        self.document = document
        self.source = source
        self.etag = etag

    @classmethod
    def from_text(cls, text: str | bytes, *, source: str, etag: str | None = None) -> Schema:
        try:
            document = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise SchemaError(f"{source}: the schema is not valid JSON: {exc}") from exc
        return cls(document, source=source, etag=etag)

    @classmethod
    def from_dict(cls, document: JSONDict, *, source: str, etag: str | None = None) -> Schema:
        return cls(copy.deepcopy(document), source=source, etag=etag)

    @property
    def is_bundled(self) -> bool:
        return self.source == BUNDLED_SOURCE

    def subschema(self, schema_path: list[str | int]) -> Any:
        """The schema node at an absolute keyword location (as the validator reports it)."""
        node: Any = self.document
        for part in schema_path:
            if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                node = node[part]
                continue
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return node


BUNDLED_SOURCE = "bundled"


@lru_cache(maxsize=1)
def bundled_schema() -> Schema:
    """The schema generated from this version's models."""
    return Schema(build_schema(), source=BUNDLED_SOURCE)


_active: Schema | None = None
_lock = threading.Lock()


def active_schema() -> Schema:
    """The schema validation uses when none is given: the bundled one unless replaced."""
    with _lock:
        return _active or bundled_schema()


def set_active_schema(schema: Schema | None) -> None:
    """Make a server-provided schema the active one (None restores the bundled schema)."""
    global _active
    with _lock:
        _active = schema
