"""Property: whatever a script turns into, every problem points at a real place in the text."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from app.script.jsonpath import Path, exists, get_at
from app.script.model import Movie
from app.script.validate import validate_text

colors = st.sampled_from(["#000", "#FFFFFF", "#10182080"])
text_el = st.fixed_dictionaries(
    {"type": st.just("text"), "text": st.text(min_size=1, max_size=12)},
    optional={"font_size": st.integers(1, 200), "color": colors, "position": st.just("top-left")},
)
image_el = st.fixed_dictionaries(
    {"type": st.just("image"), "src": st.just("https://example.com/a.png")},
    optional={"fit": st.sampled_from(["contain", "cover"]), "opacity": st.floats(0, 1)},
)
audio_el = st.fixed_dictionaries(
    {"type": st.just("audio"), "src": st.just("https://example.com/a.ogg")},
    optional={"volume": st.floats(0, 1), "loop": st.booleans()},
)
scene = st.fixed_dictionaries(
    {
        "duration": st.floats(0.5, 20),
        "elements": st.lists(text_el | image_el | audio_el, max_size=4),
    },
    optional={"background": colors, "name": st.text(max_size=8)},
)
movies = st.fixed_dictionaries(
    {"scenes": st.lists(scene, min_size=1, max_size=4)},
    optional={"width": st.sampled_from([640, 1280]), "fps": st.sampled_from([24, 30])},
)
junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=6),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.just("{{v}}"),
)


def all_paths(data: Any, path: Path = ()) -> list[Path]:
    paths = [path]
    if isinstance(data, dict):
        for key, value in data.items():
            paths += all_paths(value, (*path, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            paths += all_paths(value, (*path, i))
    return paths


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    data = copy.deepcopy(draw(movies))
    for _ in range(draw(st.integers(1, 4))):
        paths = [p for p in all_paths(data) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = get_at(data, path[:-1])
        action = draw(st.sampled_from(["retype", "remove", "unknown", "enum"]))
        if action == "retype":
            parent[path[-1]] = draw(junk)
        elif action == "remove":
            del parent[path[-1]]
        elif action == "unknown" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["font-size", "colour", "x_y", "Type"]))] = 1
        elif action == "enum" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["type", "position", "fit", "quality"]))] = "bogus"
    return data


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(), st.booleans())
def test_every_problem_path_exists_and_maps_to_a_text_range(data: Any, indent: bool) -> None:
    text = json.dumps(data, indent=2 if indent else None)
    report = validate_text(text)
    for problem in report.problems:
        path = problem.path
        assert exists(data, path) or exists(data, path[:-1]), problem
        location = report.locate(problem)
        assert 0 <= location.start < location.end <= len(text), problem
        if location.exact:
            assert report.source_map is not None
            span = report.source_map.span(path)
            assert span is not None
            assert json.loads(text[span.value_start : span.value_end]) == get_at(data, path)
        else:
            assert not exists(data, path)  # only a missing key is located at its parent


@settings(max_examples=200, deadline=None)
@given(mutated())
def test_the_model_accepts_exactly_what_validation_accepts(data: Any) -> None:
    report = validate_text(json.dumps(data), variables={"v": 1})
    try:
        Movie.model_validate(report.resolved)
        model_ok = True
    except ValidationError:
        model_ok = False
    assert model_ok == report.ok, [p.as_dict() for p in report.problems]
