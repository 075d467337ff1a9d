"""The bundled schema: generated from the models, kept on disk, cascade-free."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.script.schema import (
    Schema,
    SchemaError,
    active_schema,
    build_schema,
    bundled_schema,
    schema_text,
    set_active_schema,
)
from app.script.validate import validate_data

ROOT = Path(__file__).resolve().parents[3]


def test_bundled_copy_is_not_stale() -> None:
    on_disk = (ROOT / "resources" / "schema" / "movie-script.schema.json").read_text("utf-8")
    assert on_disk == schema_text(build_schema()), (
        "resources/schema/movie-script.schema.json is stale: "
        "run `python -m app schema > resources/schema/movie-script.schema.json`"
    )


def test_schema_is_draft_2020_12_without_oneof_cascades() -> None:
    schema = build_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "oneOf" not in json.dumps(schema)
    assert "anyOf" not in json.dumps(schema)


def test_unknown_element_type_is_reported_at_type_only(example) -> None:
    example["scenes"][1]["elements"][0] = {"type": "sticker", "src": "x.png", "fit": "zz"}
    problems = validate_data(example)
    assert [p.path_text for p in problems] == ["scenes.1.elements.0.type"]


def test_bad_field_of_text_element_is_reported_at_that_field(example) -> None:
    example["scenes"][0]["elements"][0]["font_size"] = "big"
    problems = validate_data(example)
    assert [(p.path_text, p.message) for p in problems] == [
        ("scenes.0.elements.0.font_size", "Expected number, received string")
    ]


def test_server_schema_becomes_active_and_can_be_reset(example) -> None:
    strict = Schema.from_dict(
        {"type": "object", "properties": {"width": {"maximum": 640}}}, source="test"
    )
    set_active_schema(strict)
    try:
        assert active_schema() is strict
        assert [p.path_text for p in validate_data(example)] == ["width"]
    finally:
        set_active_schema(None)
    assert active_schema() is bundled_schema()
    assert validate_data(example) == []


@pytest.mark.parametrize(
    "text", ["not json", "[1]", '{"type": "nonsense-type"}', '{"$ref": "#/nowhere"}']
)
def test_unusable_schemas_are_rejected_with_a_message(text: str) -> None:
    with pytest.raises(SchemaError) as info:
        Schema.from_text(text, source="server")
    assert "server" in str(info.value)
