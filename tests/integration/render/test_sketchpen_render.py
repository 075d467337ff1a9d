"""A converted Sketchpen video renders with the real engine: each scene shows its card, the
captions appear while their words are spoken, and the narration stays in step with the scenes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
import numpy as np
from PIL import Image, ImageDraw

from app.examples import write_wav
from app.media.audio import load_audio
from app.media.probe import probe
from app.render.engine import render_movie
from app.script.model import Movie
from app.script.sketchpen import video_to_script
from app.script.validate import check

SAMPLE_RATE = 48000
FILES = "https://sketchpen.invalid/files/tok"
CARD_COLOURS = [(200, 40, 40), (40, 160, 60), (40, 70, 200)]
SPEECHES = [
    "Plants make food from light.",
    "Roots drink the water.",
    "Leaves breathe the air in and out.",
]


def card(path: Path, colour: tuple[int, int, int], text: str) -> Path:
    """A 16:9 illustration card: a solid colour with a hand-drawn-ish frame and its label."""
    image = Image.new("RGB", (640, 360), colour)
    draw = ImageDraw.Draw(image)
    draw.rectangle((20, 20, 620, 340), outline=(255, 255, 255), width=6)
    draw.text((40, 40), text, fill=(255, 255, 255))
    image.save(path)
    return path


def words(speech: str, step: float = 0.35) -> list[dict[str, Any]]:
    return [
        {"word": w, "start": round(i * step, 3), "end": round(i * step + 0.3, 3)}
        for i, w in enumerate(speech.split())
    ]


def video_json() -> dict[str, Any]:
    return {
        "id": "3f1c9a7e-0000-4000-8000-000000000001",
        "status": "completed",
        "prompt": "How plants live",
        "theme": "presentation",
        "scenes": [
            {
                "id": f"s{i}",
                "speech": speech,
                "visual_description": f"Card {i}",
                "image_url": f"{FILES}/scene-{i}.png",
                "assets": [],
                "captions": words(speech),
            }
            for i, speech in enumerate(SPEECHES)
        ],
        "video_url": f"{FILES}/video.mp4",
        "audio_url": f"{FILES}/narration.wav",
        "thumbnail_url": None,
        "config": {"fps": 10, "aspect_ratio": "16:9", "audio_mode": "single", "bg_mode": "white"},
        "error": None,
        "credits_charged": 3,
    }


def frame_at(path: Path, seconds: float, fps: int) -> np.ndarray:
    index = round(seconds * fps)
    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i == index:
                return frame.to_ndarray(format="rgb24").astype(int)
    raise AssertionError(f"no frame {index}")


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples)))) if samples.size else 0.0


def test_converted_video_renders_cards_captions_and_narration_in_step(tmp_path: Path) -> None:
    video = video_json()
    media: dict[str, str] = {}
    for i, colour in enumerate(CARD_COLOURS):
        media[f"{FILES}/scene-{i}.png"] = str(card(tmp_path / f"scene-{i}.png", colour, f"{i}"))
    # A probe of the first conversion gives the scene layout; the narration track is written to
    # it: a 440 Hz tone under scenes 0 and 2, silence under scene 1.
    durations = [s["duration"] for s in video_to_script(video, short_side=180)["scenes"]]
    pieces = []
    for i, seconds in enumerate(durations):
        n = round(seconds * SAMPLE_RATE)
        t = np.arange(n) / SAMPLE_RATE
        level = 0.0 if i == 1 else 0.5
        pieces.append(level * np.sin(2 * np.pi * 440 * t))
    wave = np.concatenate(pieces).astype(np.float32)
    narration = tmp_path / "narration.wav"
    write_wav(narration, np.stack([wave, wave], axis=1))
    media[f"{FILES}/narration.wav"] = str(narration)

    script = video_to_script(video, media=media, short_side=180)
    _, problems = check(script, has_placeholders=True)
    assert [p for p in problems if p.severity == "error"] == []
    out = tmp_path / "draft.mp4"
    result = render_movie(Movie.model_validate(script), out, jobs=1)

    info = probe(out)
    total = sum(durations)
    assert (info.width, info.height) == (320, 180)
    assert abs(info.duration - total) <= 0.15
    assert result.frames == round(total * 10)

    starts = np.cumsum([0.0, *durations[:-1]])
    for i, (start, colour) in enumerate(zip(starts, CARD_COLOURS, strict=True)):
        # Mid-scene, while a caption line is up: the card fills the frame around the centre …
        frame = frame_at(out, start + 0.5, 10)
        centre = frame[60, 160]
        assert np.abs(centre - colour).max() < 40, (i, centre)
        # … and the caption box darkens the bottom centre.
        bottom = frame[150:172, 120:200].mean(axis=(0, 1))
        assert bottom.max() < np.max(colour) * 0.7, (i, bottom)
        # In the scene's last tenth of a second the line has gone: only the card is there.
        tail = frame_at(out, start + durations[i] - 0.1, 10)[150:172, 120:200].mean(axis=(0, 1))
        assert np.abs(tail - colour).max() < 40, (i, tail)

    sound = load_audio(out)
    for i, (start, seconds) in enumerate(zip(starts, durations, strict=True)):
        a = int((start + 0.2) * SAMPLE_RATE)
        b = int((start + seconds - 0.2) * SAMPLE_RATE)
        level = rms(sound[a:b])
        if i == 1:
            assert level < 0.01, level  # scene 1's stretch of the narration is its silence
        else:
            assert level > 0.2, level
