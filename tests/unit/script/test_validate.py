"""Validation messages, paths and the whole pipeline (templates → schema → rules → lint)."""

from __future__ import annotations

import json

import pytest

from app.script.lint import LintOptions
from app.script.model import Movie
from app.script.problems import DUPLICATE_KEY, INVALID_JSON, MISSING_VARIABLE, UNUSED_VARIABLE
from app.script.schema import Schema
from app.script.validate import validate_data, validate_text


def messages(data) -> dict[str, str]:
    return {p.path_text: p.message for p in validate_data(data)}


def test_valid_example_has_no_problems(example) -> None:
    assert validate_data(example) == []
    report = validate_text(json.dumps(example))
    assert report.ok and report.problems == []


@pytest.mark.parametrize(
    ("mutate", "path", "message"),
    [
        (
            lambda d: d["scenes"][0].__setitem__("duration", "3"),
            "scenes.0.duration",
            "Expected number, received string",
        ),
        (lambda d: d["scenes"][0].pop("duration"), "scenes.0.duration", "Required"),
        (
            lambda d: d["scenes"][0].__setitem__("duration", 0),
            "scenes.0.duration",
            "Number must be greater than 0",
        ),
        (
            lambda d: d.__setitem__("quality", "ultra"),
            "quality",
            "Invalid enum value. Expected 'low' | 'medium' | 'high', received 'ultra'",
        ),
        (
            lambda d: d["scenes"][0]["elements"][0].__setitem__("font-size", 3),
            "scenes.0.elements.0.font-size",
            "Unrecognized key 'font-size'. Did you mean 'font_size'?",
        ),
        (
            lambda d: d.__setitem__("widht", 3),
            "widht",
            "Unrecognized key 'widht'. Did you mean 'width'?",
        ),
        (lambda d: d.__setitem__("width", 1281), "width", "Number must be a multiple of 2"),
        (lambda d: d.__setitem__("width", 1280.5), "width", "Expected integer, received number"),
        (lambda d: d.__setitem__("fps", 121), "fps", "Number must be less than or equal to 120"),
        (
            lambda d: d.__setitem__("scenes", []),
            "scenes",
            "Array must contain at least 1 element(s)",
        ),
        (
            lambda d: d["scenes"][0]["elements"][0].__setitem__("text", ""),
            "scenes.0.elements.0.text",
            "String must contain at least 1 character(s)",
        ),
        (
            lambda d: d["scenes"][0].__setitem__("background", "red"),
            "scenes.0.background",
            "Invalid colour. Expected #RGB, #RRGGBB or #RRGGBBAA, received 'red'",
        ),
        (
            lambda d: d["scenes"][1]["elements"][0].__setitem__("src", "ftp://host/a.mp4"),
            "scenes.1.elements.0.src",
            "Invalid media source. Expected an http(s):// or file:// URL or a file path, "
            "received 'ftp://host/a.mp4'",
        ),
        (
            lambda d: d["scenes"][0]["elements"][0].__setitem__("italic", "yes"),
            "scenes.0.elements.0.italic",
            "Expected boolean, received string",
        ),
        (
            lambda d: d["scenes"][0]["elements"][0].__setitem__("duration", "x"),
            "scenes.0.elements.0.duration",
            "Expected number or null, received string",
        ),
        (
            lambda d: d.__setitem__("webhook_uri", "not a url"),
            "webhook_uri",
            "Invalid URL. Expected an absolute http(s) URL, received 'not a url'",
        ),
        (
            lambda d: d.__setitem__("exports", [{"type": "dropbox", "token": 1}]),
            "exports.0.type",
            "Invalid enum value. Expected 's3' | 'ftp' | 'sftp' | 'email' | 'youtube', "
            "received 'dropbox'",
        ),
    ],
)
def test_documented_messages_at_exact_paths(example, mutate, path, message) -> None:
    mutate(example)
    assert messages(example) == {path: message}


def test_all_problems_are_reported_not_only_the_first(example) -> None:
    example["fps"] = "thirty"
    example["scenes"][0]["duration"] = -1
    example["scenes"][1]["elements"][1]["fit"] = "stretch"
    assert set(messages(example)) == {"fps", "scenes.0.duration", "scenes.1.elements.1.fit"}


def test_valid_windows_and_file_sources_pass(example) -> None:
    for src in ["C:\\clips\\a.mp4", "/abs/a.mp4", "rel/a.mp4", "file:///tmp/a.mp4", "a b.mp4"]:
        example["scenes"][1]["elements"][0]["src"] = src
        assert validate_data(example) == [], src


def test_cross_field_rules_are_errors_at_the_field_to_change(example) -> None:
    example["scenes"][0]["transition"] = {"type": "fade", "duration": 1}
    example["scenes"][1]["transition"]["duration"] = 4
    example["scenes"][1]["duration"] = 3
    example["scenes"][1]["elements"][2]["start"] = 3
    report = validate_text(json.dumps(example))
    assert {p.path_text for p in report.errors} == {
        "scenes.0.transition",
        "scenes.1.transition.duration",
        "scenes.1.elements.2.start",
    }
    # and the model agrees: no Movie from a script validate rejects
    with pytest.raises(ValueError):
        Movie.model_validate(report.resolved)


def test_templates_typed_substitution_then_validation(example) -> None:
    example["scenes"][0]["duration"] = "{{secs}}"
    example["scenes"][0]["elements"][0]["text"] = "Hi {{ name }}!"
    text = json.dumps(example)
    report = validate_text(text, variables={"secs": 5, "name": "Ada", "extra": 1})
    assert report.ok
    assert report.resolved["scenes"][0]["duration"] == 5
    assert report.resolved["scenes"][0]["elements"][0]["text"] == "Hi Ada!"
    assert [(p.code, p.severity, p.message) for p in report.problems] == [
        (UNUSED_VARIABLE, "warning", "Variable 'extra' is not used")
    ]


def test_missing_variables_are_errors_at_the_first_use_without_type_noise(example) -> None:
    example["scenes"][0]["duration"] = "{{secs}}"
    example["scenes"][1]["duration"] = "{{secs}}"
    report = validate_text(json.dumps(example), variables={})
    assert [(p.code, p.path_text, p.message) for p in report.problems] == [
        (MISSING_VARIABLE, "scenes.0.duration", "Missing template variable 'secs'")
    ]


def test_template_errors_after_substitution_point_inside_the_script(example) -> None:
    example["scenes"][0]["duration"] = "{{secs}}"
    report = validate_text(json.dumps(example), variables={"secs": "five"})
    assert [(p.path_text, p.message) for p in report.problems] == [
        ("scenes.0.duration", "Expected number, received string")
    ]


def test_duplicate_keys_are_reported_at_the_later_key() -> None:
    text = '{"scenes": [{"duration": 1, "duration": 2}]}'
    report = validate_text(text)
    [problem] = report.problems
    assert problem.code == DUPLICATE_KEY and problem.path_text == "scenes.0.duration"
    assert text[report.locate(problem).start :].startswith('"duration": 2')


@pytest.mark.parametrize(
    ("text", "message", "line", "column"),
    [
        ("", "The document is empty", 1, 1),
        ("   \n ", "The document is empty", 1, 1),
        ('{\n  "a": 1,\n}', "Trailing comma before '}'", 2, 9),
        ('{"a": [1, 2,]}', "Trailing comma before ']'", 1, 12),
        ('{"a": NaN}', "NaN is not valid JSON; write a number (or null)", 1, 7),
        ('{"a": -Infinity}', "-Infinity is not valid JSON; write a number (or null)", 1, 7),
        ('{"b": "1e400", "a": 1e400}', "Number 1e400 is too large", 1, 21),
        ('{"a": 1', "Unexpected end of the document: a closing bracket is missing", 1, 8),
        ('{"a": "x', "Unterminated string: a closing double quote is missing", 1, 7),
        ("{'a': 1}", "Keys must be in double quotes, not single quotes", 1, 2),
        ('{"a": 1} x', "Unexpected text after the end of the document", 1, 10),
        ("[" * 10_000 + "]" * 10_000, "The document is nested too deeply", 1, 501),
    ],
)
def test_malformed_json_is_invalid_json_with_line_and_column(text, message, line, column) -> None:
    report = validate_text(text)
    [problem] = report.problems
    assert problem.code == INVALID_JSON
    assert problem.message == message
    location = report.locate(problem)
    assert (location.line, location.column) == (line, column)


def test_bom_is_accepted_and_offsets_stay_those_of_the_text(example) -> None:
    text = "\ufeff" + json.dumps(example, indent=2)
    report = validate_text(text)
    assert report.ok
    example["fps"] = "x"
    text = "\ufeff" + json.dumps(example, indent=2)
    report = validate_text(text)
    [problem] = report.problems
    location = report.locate(problem)
    assert text[location.start : location.end] == '"fps": "x"'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1, 2]", "Expected object, received array"),
        ('"movie"', "Expected object, received string"),
        ("null", "Expected object, received null"),
    ],
)
def test_non_object_roots_get_a_root_problem(text, message) -> None:
    report = validate_text(text)
    assert [(p.path_text, p.message) for p in report.problems] == [("", message)]


def test_huge_integers_are_range_errors_not_crashes(example) -> None:
    example["width"] = 10**40
    assert messages(example) == {"width": "Number must be less than or equal to 7680"}


def test_any_json_schema_works_with_the_validators_own_words() -> None:
    schema = Schema.from_dict(
        {"type": "object", "properties": {"tags": {"uniqueItems": True}}}, source="server"
    )
    [problem] = validate_data({"tags": [1, 1]}, schema=schema)
    assert problem.path_text == "tags" and "unique" in problem.message


def test_lint_local_files_against_remote_and_disk(example, tmp_path) -> None:
    (tmp_path / "logo.png").write_bytes(b"png")
    example["scenes"][1]["elements"][1]["src"] = "logo.png"
    example["scenes"][1]["elements"][0]["src"] = "missing.mp4"
    local = validate_text(json.dumps(example), lint_options=LintOptions(base_dir=tmp_path))
    assert [(p.path_text, p.code) for p in local.problems] == [
        ("scenes.1.elements.0.src", "FILE_NOT_FOUND")
    ]
    remote = validate_text(
        json.dumps(example), lint_options=LintOptions(base_dir=tmp_path, remote=True)
    )
    assert {(p.path_text, p.message) for p in remote.problems} == {
        ("scenes.1.elements.0.src", "Local file — the service cannot reach it"),
        ("scenes.1.elements.1.src", "Local file — the service cannot reach it"),
    }


def test_lint_warns_about_text_leaving_the_canvas(example) -> None:
    example["scenes"][0]["elements"][0].update(position="top-left", x=1200)
    report = validate_text(json.dumps(example))
    assert report.ok  # a warning, not an error
    [problem] = report.problems
    assert problem.severity == "warning" and problem.path_text == "scenes.0.elements.0"
    assert "leaves the 1280×720 canvas" in problem.message
