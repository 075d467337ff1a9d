"""Timeline, cost and templates: the arithmetic the renderer and the services rely on."""

from __future__ import annotations

import pytest

from app.script.cost import credits_for_seconds, estimate_credits
from app.script.model import Movie
from app.script.templates import find_variables, substitute
from app.script.timeline import Timeline


def movie(durations, transitions=None, fps=30) -> Movie:
    scenes = []
    for i, d in enumerate(durations):
        scene = {
            "duration": d,
            "elements": [{"type": "text", "text": "x", "start": 0.5, "duration": 10}],
        }
        if transitions and transitions.get(i):
            scene["transition"] = {"type": "crossfade", "duration": transitions[i]}
        scenes.append(scene)
    return Movie.model_validate({"fps": fps, "scenes": scenes})


def test_scene_starts_and_total() -> None:
    timeline = Timeline(movie([2, 3.5, 1], transitions={1: 1.0}))
    assert [s.start for s in timeline.scenes] == [0, 2, 5.5]
    assert timeline.total == 6.5  # transitions do not shorten the movie
    assert timeline.frame_count() == 195


def test_element_interval_is_cut_at_the_scene_end() -> None:
    timeline = Timeline(movie([2, 3]))
    span = timeline.element_span(1, 0)
    assert (span.start, span.end) == (2.5, 5.0)


def test_moment_during_a_transition_has_the_outgoing_scene_running_on() -> None:
    timeline = Timeline(movie([2, 3], transitions={1: 1.0}))
    moment = timeline.moment(2.25)
    assert (moment.scene, moment.outgoing) == (1, 0)
    assert moment.progress == pytest.approx(0.25)
    assert moment.outgoing_time == pytest.approx(2.25)  # past scene 0's own 2 s
    assert timeline.moment(3.5).outgoing is None
    assert timeline.moment(99).scene == 1 and timeline.moment(-1).scene == 0


@pytest.mark.parametrize(
    ("seconds", "credits"), [(0.1, 1), (3.0, 3), (3.0000001, 4), (0.1 + 0.2 + 2.7, 3), (0, 0)]
)
def test_credits_are_ceil_of_seconds_without_float_noise(seconds, credits) -> None:
    assert credits_for_seconds(seconds) == credits


def test_estimate_uses_the_sum_of_scene_durations() -> None:
    assert estimate_credits(movie([1.1, 1.1, 1.1])) == 4
    assert estimate_credits(movie([1.5, 1.5])) == 3


def test_variables_are_found_in_document_order_with_first_path() -> None:
    data = {"a": "{{x}} and {{ y }}", "b": ["{{x}}", {"c": "{{z}}"}], "n": "{{ 9bad }}"}
    assert find_variables(data) == {"x": ("a",), "y": ("a",), "z": ("b", 1, "c")}


def test_substitution_is_typed_for_whole_placeholders_and_textual_inside() -> None:
    data = {"d": "{{n}}", "t": "n={{n}}, s={{s}}", "o": "{{obj}}", "untouched": [1, 2]}
    result = substitute(data, {"n": 2.5, "s": "hi", "obj": {"k": [1]}})
    assert result.data == {"d": 2.5, "t": "n=2.5, s=hi", "o": {"k": [1]}, "untouched": [1, 2]}
    assert result.data["untouched"] is data["untouched"]  # untouched branches are shared
    assert data["d"] == "{{n}}"  # the input is not modified
    assert result.missing == {} and result.unused == []


def test_a_value_can_never_break_the_structure() -> None:
    result = substitute({"t": "{{v}}!"}, {"v": '"}, "evil": {'})
    assert result.data == {"t": '"}, "evil": {!'}
