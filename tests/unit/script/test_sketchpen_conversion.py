"""A Sketchpen video becomes a movie script that validates, plays its narration in step with the
scenes, and shows the speech as readable caption lines timed to the words."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.script.model import Movie
from app.script.sketchpen import (
    MAX_LINE_CHARS,
    MIN_SCENE_SECONDS,
    SCENE_TAIL,
    ConversionError,
    Word,
    caption_lines,
    clean_captions,
    estimate_words,
    resolution,
    scene_length,
    video_to_script,
)
from app.script.validate import check

FILES = "http://127.0.0.1:48213/files/tok"


def timed(text: str, *, start: float = 0.0, step: float = 0.4, word: float = 0.3) -> list[dict]:
    return [
        {"word": w, "start": round(start + i * step, 3), "end": round(start + i * step + word, 3)}
        for i, w in enumerate(text.split())
    ]


SPEECHES = [
    "Plants make food from light. They need water, air and sunshine to grow tall.",
    "Inside every leaf, tiny chloroplasts catch the light and turn it into sugar.",
    "So next time you see a tree, thank it for the air you breathe!",
]


def completed_video(aspect: str = "16:9", fps: int = 24, **extra: Any) -> dict[str, Any]:
    scenes = [
        {
            "id": f"scene-{i}",
            "speech": speech,
            "visual_description": f"Card {i}: a leaf under sun rays",
            "image_url": f"{FILES}/scene-{i}.png",
            "assets": [],
            "captions": timed(speech),
        }
        for i, speech in enumerate(SPEECHES)
    ]
    video = {
        "id": "3f1c9a7e-0000-4000-8000-000000000000",
        "status": "completed",
        "prompt": "How photosynthesis works, for 10th graders",
        "theme": "presentation",
        "scenes": scenes,
        "video_url": f"{FILES}/video.mp4",
        "audio_url": f"{FILES}/narration.wav",
        "thumbnail_url": f"{FILES}/thumb.png",
        "processing_time_sec": 12.5,
        "config": {"fps": fps, "aspect_ratio": aspect, "audio_mode": "single", "bg_mode": "white"},
        "created_at": "2025-05-04T09:00:00Z",
        "updated_at": "2025-05-04T09:03:12Z",
        "error": None,
        "credits_charged": 3,
    }
    video.update(extra)
    return video


def draft_video() -> dict[str, Any]:
    video = completed_video(status="refining", audio_url=None, video_url=None)
    for scene in video["scenes"]:
        scene["image_url"] = None
        scene["captions"] = []
    return video


def errors_of(script: dict[str, Any]) -> list[str]:
    _, problems = check(script, has_placeholders=True)
    return [f"{p.path}: {p.message}" for p in problems if p.severity == "error"]


def texts(scene: dict[str, Any], position: str = "bottom-center") -> list[dict[str, Any]]:
    return [e for e in scene["elements"] if e["type"] == "text" and e["position"] == position]


# -- resolution --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("aspect", "size"),
    [("16:9", (1920, 1080)), ("9:16", (1080, 1920)), ("1:1", (1080, 1080)), ("4:3", (1920, 1080))],
)
def test_aspect_ratio_gives_the_contract_resolution(aspect: str, size: tuple[int, int]) -> None:
    assert resolution(aspect) == size


def test_short_side_scales_to_even_sizes() -> None:
    assert resolution("16:9", 180) == (320, 180)
    assert resolution("9:16", 181) == (180, 320)
    assert resolution("1:1", 5) == (16, 16)
    assert resolution("9:16", 5000) == (2160, 3840)
    assert resolution("16:9", 5000) == (3840, 2160)


def test_script_has_the_videos_size_and_rate() -> None:
    script = video_to_script(completed_video("9:16", fps=30))
    assert (script["width"], script["height"], script["fps"]) == (1080, 1920, 30)
    script = video_to_script(completed_video("1:1", fps=12), short_side=240)
    assert (script["width"], script["height"], script["fps"]) == (240, 240, 12)


@pytest.mark.parametrize("fps", [0, -3, 500, "24", None, True, float("nan")])
def test_unusable_fps_falls_back_to_the_contract_default(fps: Any) -> None:
    video = completed_video()
    video["config"]["fps"] = fps
    assert video_to_script(video)["fps"] == 24


# -- a completed video -------------------------------------------------------------------------


def test_completed_video_converts_to_a_valid_script_with_a_scene_per_scene() -> None:
    video = completed_video()
    script = video_to_script(video)
    assert errors_of(script) == []
    Movie.model_validate(script)  # what the renderer reads
    assert len(script["scenes"]) == len(video["scenes"])
    for scene, source in zip(script["scenes"], video["scenes"], strict=True):
        images = [e for e in scene["elements"] if e["type"] == "image"]
        assert [e["src"] for e in images] == [source["image_url"]]
        assert scene["name"].startswith(f"{script['scenes'].index(scene) + 1}. Card")


def test_scene_lasts_until_its_last_word_its_pause_and_the_tail() -> None:
    script = video_to_script(completed_video())
    for scene, speech in zip(script["scenes"], SPEECHES, strict=True):
        last_end = (len(speech.split()) - 1) * 0.4 + 0.3
        pause = 0.4  # every speech ends a sentence
        assert scene["duration"] == pytest.approx(last_end + pause + SCENE_TAIL)


def test_narration_plays_each_scene_from_that_scenes_offset() -> None:
    script = video_to_script(completed_video())
    offset = 0.0
    for scene in script["scenes"]:
        audio = [e for e in scene["elements"] if e["type"] == "audio"]
        assert len(audio) == 1
        assert audio[0]["src"] == f"{FILES}/narration.wav"
        assert audio[0].get("trim_start", 0.0) == pytest.approx(offset)
        assert audio[0].get("duration") is None  # until the scene ends
        offset += scene["duration"]


def test_caption_lines_cover_every_word_once_in_order_and_in_time() -> None:
    video = completed_video()
    script = video_to_script(video)
    for scene, source in zip(script["scenes"], video["scenes"], strict=True):
        lines = texts(scene)
        assert " ".join(e["text"] for e in lines) == source["speech"]
        starts = [w["start"] for w in source["captions"]]
        for k, element in enumerate(lines):
            assert element["start"] in starts  # a line starts with its first word
            assert element["duration"] > 0
            end = element["start"] + element["duration"]
            assert end <= scene["duration"] + 1e-9
            if k + 1 < len(lines):
                assert end <= lines[k + 1]["start"] + 1e-9  # never two lines at once
            assert len(element["text"]) <= MAX_LINE_CHARS


def test_a_line_shows_until_its_last_word_is_spoken() -> None:
    words = [Word("One", 0.0, 0.3), Word("two", 0.4, 0.7), Word("three.", 0.8, 1.6)]
    script = video_to_script(
        {
            "status": "completed",
            "scenes": [
                {
                    "speech": "One two three.",
                    "captions": [{"word": w.text, "start": w.start, "end": w.end} for w in words],
                }
            ],
        }
    )
    (line,) = texts(script["scenes"][0])
    assert line["text"] == "One two three."
    assert line["start"] == 0.0
    assert line["start"] + line["duration"] >= 1.6


def test_local_copies_replace_the_media_urls(tmp_path: Path) -> None:
    video = completed_video()
    image, narration = tmp_path / "scene-01.png", tmp_path / "narration.wav"
    image.write_bytes(b"png")
    narration.write_bytes(b"wav")
    media = {f"{FILES}/scene-0.png": str(image), f"{FILES}/narration.wav": str(narration)}
    script = video_to_script(video, media=media)
    first = script["scenes"][0]["elements"]
    assert first[0]["src"] == str(image)
    assert first[-1]["src"] == str(narration)
    assert script["scenes"][1]["elements"][0]["src"] == f"{FILES}/scene-1.png"
    assert errors_of(script) == []


def test_relative_media_urls_are_resolved_against_the_base_or_left_out() -> None:
    video = completed_video(audio_url="/files/tok/narration.wav")
    video["scenes"][0]["image_url"] = "/files/tok/scene-0.png"
    script = video_to_script(video, base_url="http://127.0.0.1:9/api/v1")
    assert script["scenes"][0]["elements"][0]["src"] == "http://127.0.0.1:9/files/tok/scene-0.png"
    assert (
        script["scenes"][0]["elements"][-1]["src"] == "http://127.0.0.1:9/files/tok/narration.wav"
    )
    script = video_to_script(video)
    kinds = [e["type"] for e in script["scenes"][0]["elements"]]
    assert "image" not in kinds and "audio" not in kinds
    assert errors_of(script) == []


def test_ai_text_never_becomes_a_template_variable() -> None:
    video = completed_video()
    video["scenes"][0]["speech"] = "Say {{name}} out loud."
    video["scenes"][0]["captions"] = timed("Say {{name}} out loud.")
    video["scenes"][0]["image_url"] = f"{FILES}/{{{{x}}}}.png"
    script = video_to_script(video)
    assert errors_of(script) == []
    assert "{ {name}}" in texts(script["scenes"][0])[0]["text"]


# -- a draft -----------------------------------------------------------------------------------


def test_draft_converts_with_its_visual_descriptions_and_estimated_timing() -> None:
    video = draft_video()
    script = video_to_script(video)
    assert errors_of(script) == []
    for scene, source in zip(script["scenes"], video["scenes"], strict=True):
        kinds = [e["type"] for e in scene["elements"]]
        assert "image" not in kinds and "audio" not in kinds
        (description,) = texts(scene, "center")
        assert description["text"] == source["visual_description"]
        assert " ".join(e["text"] for e in texts(scene)) == source["speech"]
        assert scene["duration"] == pytest.approx(scene_length(estimate_words(source["speech"])))
        assert 0.2 < len(source["speech"].split()) / scene["duration"] < 4  # words a second


def test_estimated_words_follow_a_steady_narrator_with_pauses() -> None:
    words = estimate_words("A bb, ccc. dddd", chars_per_second=10)
    assert [w.text for w in words] == ["A", "bb,", "ccc.", "dddd"]
    assert [w.start for w in words] == pytest.approx([0.3, 0.6, 1.2, 2.1])
    assert [w.end - w.start for w in words] == pytest.approx([0.3, 0.4, 0.5, 0.6])
    assert estimate_words("   ") == []


# -- caption lines -----------------------------------------------------------------------------


def words_of(text: str, step: float = 0.4) -> list[Word]:
    return [Word(w, i * step, i * step + 0.3) for i, w in enumerate(text.split())]


def test_lines_end_at_sentences() -> None:
    lines = caption_lines(words_of("Hi there. How are you? Fine!"))
    assert [line.text for line in lines] == ["Hi there.", "How are you?", "Fine!"]


def test_lines_split_at_a_pause_in_speech() -> None:
    words = [Word("before", 0.0, 0.3), Word("the", 0.4, 0.6), Word("pause", 1.5, 1.9)]
    assert [line.text for line in caption_lines(words)] == ["before the", "pause"]


def test_long_sentence_is_split_into_balanced_lines_without_an_orphan() -> None:
    lines = caption_lines(words_of("Plants make food from light."), max_chars=25)
    assert [line.text for line in lines] == ["Plants make food", "from light."]


def test_long_sentence_prefers_breaking_after_a_clause() -> None:
    text = "Water rises from the roots, and the leaves turn it into sugar."
    lines = caption_lines(words_of(text, step=0.05), max_chars=42)
    assert [line.text for line in lines] == [
        "Water rises from the roots,",
        "and the leaves turn it into sugar.",
    ]


def test_lines_never_last_longer_than_the_limit() -> None:
    slow = [Word(w, i * 1.5, i * 1.5 + 1.4) for i, w in enumerate(["one", "two", "three", "four"])]
    lines = caption_lines(slow, max_seconds=4.0)
    assert all(line.end - line.start <= 4.0 for line in lines)
    assert len(lines) == 2


def test_a_word_longer_than_a_line_gets_a_line_of_its_own() -> None:
    word = "Pneumonoultramicroscopicsilicovolcanoconiosis"
    lines = caption_lines(words_of(f"the {word} is long"), max_chars=20)
    assert word in [line.text for line in lines]


# -- bad input ---------------------------------------------------------------------------------


def test_garbage_captions_are_cleaned_not_fatal() -> None:
    captions = [
        {"word": "late", "start": 2.0, "end": 2.4},
        {"word": "early", "start": 0.0, "end": 0.3},
        {"word": "", "start": 1.0, "end": 1.2},
        {"word": "nan", "start": math.nan, "end": 1.0},
        {"word": "backwards", "start": 1.0, "end": 0.5},
        {"word": "negative", "start": -4, "end": -3},
        {"word": 7, "start": 1, "end": 2},
        "not a caption",
        {"word": "huge", "start": 1e12, "end": 1e13},
    ]
    words = clean_captions(captions)
    assert [w.text for w in words] == ["negative", "early", "backwards", "late", "huge"]
    assert all(0 <= w.start <= w.end <= 3600 for w in words)
    video = completed_video()
    video["scenes"][0]["captions"] = captions
    assert errors_of(video_to_script(video)) == []


def test_scene_length_has_a_floor_and_counts_the_last_pause() -> None:
    assert scene_length([]) == MIN_SCENE_SECONDS
    assert scene_length([Word("hi", 0, 0.1)]) == MIN_SCENE_SECONDS
    assert scene_length([Word("one", 0, 2.0)]) == pytest.approx(2.0 + SCENE_TAIL)
    assert scene_length([Word("one,", 0, 2.0)]) == pytest.approx(2.2 + SCENE_TAIL)
    assert scene_length([Word("one?", 0, 2.0), Word("x", 0, 1)]) == pytest.approx(2.4 + SCENE_TAIL)


@pytest.mark.parametrize(
    ("video", "path"),
    [
        (None, ""),
        ("video", ""),
        ([], ""),
        ({"status": "scripting", "scenes": []}, "scenes"),
        ({"status": "pending"}, "scenes"),
        ({"scenes": ["not", "scenes"]}, "scenes"),
        ({"scenes": {"0": {}}}, "scenes"),
    ],
)
def test_nothing_to_convert_is_a_conversion_error(video: Any, path: str) -> None:
    with pytest.raises(ConversionError) as caught:
        video_to_script(video)
    assert caught.value.path == path


def test_no_scenes_yet_names_the_status() -> None:
    with pytest.raises(ConversionError, match="no scenes yet \\(it is scripting\\)"):
        video_to_script({"status": "scripting", "scenes": []})


json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)
caption = st.fixed_dictionaries(
    {},
    optional={
        "word": st.text(max_size=10) | json_leaf,
        "start": st.floats(-5, 5000) | json_leaf,
        "end": st.floats(-5, 5000) | json_leaf,
    },
)
scene_strategy = st.fixed_dictionaries(
    {},
    optional={
        "id": st.text(max_size=4),
        "speech": st.text(max_size=300) | json_leaf,
        "visual_description": st.text(max_size=80) | json_leaf,
        "image_url": st.sampled_from([f"{FILES}/a.png", "/rel.png", "ftp://x", " ", "a b"])
        | json_leaf,
        "captions": st.lists(caption | json_leaf, max_size=30) | json_leaf,
    },
)
video_strategy = st.fixed_dictionaries(
    {"scenes": st.lists(scene_strategy | json_leaf, max_size=5) | json_leaf},
    optional={
        "status": st.sampled_from(["refining", "completed"]) | json_leaf,
        "audio_url": st.sampled_from([f"{FILES}/n.wav", "n.wav"]) | json_leaf,
        "config": st.fixed_dictionaries(
            {},
            optional={
                "fps": st.integers(-5, 200) | json_leaf,
                "aspect_ratio": st.sampled_from(["16:9", "9:16", "1:1", "2:1"]) | json_leaf,
            },
        )
        | json_leaf,
    },
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(video=video_strategy, short_side=st.integers(-10, 5000))
def test_any_input_converts_to_a_valid_script_or_a_conversion_error(
    video: dict[str, Any], short_side: int
) -> None:
    try:
        script = video_to_script(video, short_side=short_side)
    except ConversionError:
        return
    assert errors_of(script) == []
    Movie.model_validate(script)
