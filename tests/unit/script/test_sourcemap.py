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


def _scenes_text(n: int) -> tuple[str, dict]:
    data = {
        "scenes": [
            {"duration": i + 1, "elements": [{"type": "text", "text": f"t{i}"}]} for i in range(n)
        ]
    }
    return json.dumps(data, indent=2), data


def _assert_items_located(text: str) -> None:
    data = json.loads(text)
    source = SourceMap(text, data=data)
    for i in (len(data["scenes"]) - 1, 40, 120, 0, 77):
        span = source.span(("scenes", i, "elements", 0, "text"))
        assert span is not None, i
        assert (
            json.loads(text[span.value_start : span.value_end])
            == data["scenes"][i]["elements"][0]["text"]
        )


def test_deep_items_of_a_pretty_printed_array_are_found_by_their_line() -> None:
    text, _ = _scenes_text(200)
    _assert_items_located(text)


def test_an_item_sharing_a_line_with_the_previous_one_is_still_found() -> None:
    text, _ = _scenes_text(200)
    joined = text.replace(
        '\n    },\n    {\n      "duration": 101', '\n    }, {\n      "duration": 101'
    )
    assert joined != text and json.loads(joined)["scenes"][100]["duration"] == 101
    text = joined
    _assert_items_located(text)


def test_a_nested_object_at_the_items_indentation_does_not_fool_the_jump() -> None:
    text, _ = _scenes_text(200)
    marker = '"duration": 60,'
    nested = text.replace(
        marker, marker + '\n    "extra": {"a": 1},\n    "more":\n    {"b": 2},', 1
    )
    assert json.loads(nested)["scenes"][59]["more"] == {"b": 2}
    text = nested
    _assert_items_located(text)


def test_mixed_item_types_fall_back_to_the_general_search() -> None:
    _, data = _scenes_text(200)
    data["scenes"].insert(100, [1, 2])
    data["scenes"].insert(150, "text")
    text = json.dumps(data, indent=2)
    source = SourceMap(text, data=data)
    span = source.span(("scenes", 199, "elements", 0, "text"))
    assert span is not None and text[span.value_start : span.value_end] == '"t197"'
    span = source.span(("scenes", 150))
    assert span is not None and text[span.value_start : span.value_end] == '"text"'
