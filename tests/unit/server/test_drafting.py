"""drafting.py, the sandbox's stand-in for the AI: scripts from the brief's structure, timed
captions, the tone bed, the cards and the movie built from them."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.render.fonts import ensure_qt
from app.script.model import Movie
from app.server import drafting


@pytest.fixture(scope="module", autouse=True)
def qt_app() -> None:
    ensure_qt()


def speeches(prompt: str, feedback: str = "") -> list[str]:
    return [speech for speech, _ in drafting.write_script(prompt, feedback)]


def test_a_structured_brief_becomes_scenes_in_order() -> None:
    brief = (
        "Topic: Photosynthesis\n"
        "Audience: 10th graders\n"
        "Tone: friendly\n"
        "Structure: light reactions, Calvin cycle\n"
        "Plants make sugar. They release oxygen!\n"
        "- Chlorophyll is green\n"
        "2) Leaves face the sun\n"
        "Call to action: try the leaf experiment"
    )
    assert speeches(brief) == [
        "Let's explore Photosynthesis.",
        "This one is for 10th graders.",
        "Light reactions.",
        "Calvin cycle.",
        "Plants make sugar.",
        "They release oxygen!",
        "Chlorophyll is green.",
        "Leaves face the sun.",
        "Try the leaf experiment.",
    ]
    script = drafting.write_script(brief)
    assert script == drafting.write_script(brief)  # deterministic
    assert all(visual.startswith("A hand-drawn") for _, visual in script)
    assert "photosynthesis" in script[0][1]


def test_scripts_are_cut_to_40_scenes_and_never_empty() -> None:
    assert len(speeches("\n".join(f"- Point number {i}" for i in range(55)))) == 40
    assert speeches("Audience: kids") == ["Audience: kids."]
    assert speeches("how plants eat") == ["how plants eat"]


def test_feedback_shortens_lengthens_or_adds_scenes() -> None:
    base = "One idea. Two, three and four. Five ideas. Six ideas. The end."
    assert speeches(base, "Make it shorter please") == [
        "One idea.",
        "Two, three and four.",
        "Six ideas.",
        "The end.",
    ]
    longer = speeches(base, "Longer: more detail")
    assert longer[1:3] == ["Two.", "Three and four."]
    assert speeches(base, "Mention oak trees. Thanks.")[-3:] == [
        "Mention oak trees.",
        "Thanks.",
        "The end.",
    ]


def test_narration_times_each_word_with_pauses_at_punctuation() -> None:
    timing = drafting.narrate("Plants grow. Slowly, surely")
    words = timing.captions
    assert [w["word"] for w in words] == ["Plants", "grow.", "Slowly,", "surely"]
    assert words[0]["start"] == drafting.LEAD_IN
    assert words[2]["start"] - words[1]["end"] == pytest.approx(0.4)
    assert words[3]["start"] - words[2]["end"] == pytest.approx(0.2)
    assert timing.duration == pytest.approx(words[-1]["end"] + drafting.TAIL, abs=1e-3)
    assert drafting.narrate("Hi").duration == drafting.MIN_SCENE_SECONDS


def test_the_tone_bed_is_quiet_and_swells_on_words(tmp_path: Path) -> None:
    a, b = drafting.narrate("Plants grow tall."), drafting.narrate("Yes.")
    path = tmp_path / "bed.wav"
    total = drafting.write_tone_bed(
        path, [(a.duration, a.captions, 220.0), (b.duration, b.captions, 330.0)]
    )
    with wave.open(str(path)) as bed:
        assert bed.getframerate() == 48000 and bed.getnchannels() == 1
        assert bed.getnframes() == round(total * 48000)
        samples = np.frombuffer(bed.readframes(bed.getnframes()), "<i2") / 32768
    assert 0.02 < np.abs(samples).max() <= 0.07
    rate = 48000
    word = a.captions[1]
    middle = round((word["start"] + word["end"]) / 2 * rate)
    quiet = np.abs(samples[: round(0.2 * rate)]).max()
    assert np.abs(samples[middle - 200 : middle + 200]).max() > 2.5 * quiet


@pytest.mark.parametrize(
    ("aspect", "short", "size"),
    [("16:9", 1080, (1920, 1080)), ("9:16", 1080, (1080, 1920)), ("1:1", 180, (180, 180)),
     ("16:9", 180, (320, 180))],
)  # fmt: skip
def test_frame_sizes(aspect: str, short: int, size: tuple[int, int]) -> None:
    assert drafting.frame_size(aspect, short) == size


@pytest.mark.parametrize("bg_mode", ["white", "dynamic"])
def test_cards_use_the_size_background_and_theme(tmp_path: Path, bg_mode: str) -> None:
    theme = drafting.THEMES["presentation"]
    path = tmp_path / "card.png"
    drafting.draw_card(
        path,
        visual_description="A leaf under sun rays",
        index=1,
        size=(320, 180),
        theme=theme,
        bg_mode=bg_mode,
        seed="scene-1",
    )
    with Image.open(path) as image:
        assert image.size == (320, 180)
        corner = image.convert("RGB").getpixel((1, 1))
        middle = np.asarray(image.convert("RGB"))[60:140, 40:280]
    expected = "#FFFFFF" if bg_mode == "white" else theme.tints[1]
    assert corner == tuple(int(expected[i : i + 2], 16) for i in (1, 3, 5))
    ink = np.array([int(theme.ink[i : i + 2], 16) for i in (1, 3, 5)])
    assert (np.abs(middle - ink).sum(axis=2) < 60).sum() > 30  # the text is drawn in ink
    again = tmp_path / "again.png"
    drafting.draw_card(
        again,
        visual_description="A leaf under sun rays",
        index=1,
        size=(320, 180),
        theme=theme,
        bg_mode=bg_mode,
        seed="scene-1",
    )
    assert again.read_bytes() == path.read_bytes()


def test_the_movie_has_cards_timed_captions_and_audio_slices(tmp_path: Path) -> None:
    theme = drafting.THEMES["blueprint"]
    scenes = []
    cards = []
    for i, speech in enumerate(["One two three four five six seven.", "Done."]):
        timing = drafting.narrate(speech)
        scenes.append({"speech": speech, "captions": timing.captions})
        cards.append(tmp_path / f"{i}.png")
    durations = [drafting.narrate(s["speech"]).duration for s in scenes]
    movie = drafting.build_movie(
        scenes=scenes,
        cards=cards,
        durations=durations,
        audio=tmp_path / "a.wav",
        size=(320, 180),
        fps=12,
        theme=theme,
        bg_mode="dynamic",
    )
    model = Movie.model_validate(movie)
    assert (model.width, model.height, model.fps) == (320, 180, 12.0)
    first = movie["scenes"][0]["elements"]
    assert [e["type"] for e in first] == ["image", "text", "text", "audio"]
    assert first[1]["text"] == "One two three four five"
    assert first[2]["text"] == "six seven."
    assert movie["scenes"][1]["elements"][-1]["trim_start"] == pytest.approx(durations[0])
    assert movie["scenes"][1]["background"] == theme.tints[1]
