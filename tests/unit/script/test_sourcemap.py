"""Paths ↔ text ranges."""

from __future__ import annotations

import json

from app.script.jsonpath import parse_path
from app.script.sourcemap import SourceMap

TEXT = """{
  "width": 1280,
  "scenes": [
    {"duration": 3, "elements": [{"type": "text", "text": "a \\" [ { b"}]},
    {"duration": 5, "name": "Two"}
  ],
  "nested": {"k.with.dots": [[1, 2], {"x": null}]}
}"""


def text_of(source: SourceMap, path: str) -> str:
    span = source.span(parse_path(path))
    assert span is not None, path
    return TEXT[span.start : span.end]


def test_every_path_maps_to_its_key_and_value() -> None:
    source = SourceMap(TEXT)
    assert text_of(source, "width") == '"width": 1280'
    assert text_of(source, "scenes.1.duration") == '"duration": 5'
    assert text_of(source, "scenes.0.elements.0.text") == '"text": "a \\" [ { b"'
    assert text_of(source, "scenes.1") == '{"duration": 5, "name": "Two"}'
    assert source.span(("nested", "k.with.dots", 0, 1)) is not None
    span = source.span(("nested", "k.with.dots", 1, "x"))
    assert span is not None and TEXT[span.value_start : span.value_end] == "null"


def test_missing_paths_locate_their_nearest_parent() -> None:
    source = SourceMap(TEXT)
    assert source.span(parse_path("scenes.1.elements")) is None
    found, span = source.locate(parse_path("scenes.1.elements.0.type"))
    assert found == ("scenes", 1)
    assert span is not None and TEXT[span.start :].startswith('{"duration": 5')
    assert source.span(parse_path("scenes.7")) is None


def test_cursor_offsets_map_back_to_paths() -> None:
    source = SourceMap(TEXT)
    assert source.path_at(TEXT.index("1280")) == ("width",)
    assert source.path_at(TEXT.index('"width"') + 2) == ("width",)
    assert source.path_at(TEXT.index('"Two"')) == ("scenes", 1, "name")
    assert source.path_at(TEXT.index("null")) == ("nested", "k.with.dots", 1, "x")
    assert source.path_at(0) == ()


def test_line_and_column_are_one_based() -> None:
    source = SourceMap(TEXT)
    span = source.span(("scenes", 1, "name"))
    assert span is not None
    assert source.line_column(span.start) == (5, 21)


def test_every_path_of_a_large_document_round_trips() -> None:
    data = {
        "scenes": [
            {"duration": i + 1, "elements": [{"type": "text", "text": str(i)}]} for i in range(300)
        ]
    }
    text = json.dumps(data, indent=2)
    source = SourceMap(text)
    for i in (299, 0, 150):
        span = source.span(("scenes", i, "elements", 0, "text"))
        assert span is not None
        assert json.loads(text[span.value_start : span.value_end]) == str(i)
        assert source.path_at(span.value_start + 1) == ("scenes", i, "elements", 0, "text")
