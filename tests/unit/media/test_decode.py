"""VideoReader shows the right frame at any time; load_image keeps alpha and EXIF orientation."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.media.decode import VideoReader, first_frame, load_image
from app.media.errors import MediaError
from tests.unit.media.conftest import FPS, FRAMES, index_of


def test_sequential_frames_match_their_times(clip: Path) -> None:
    with VideoReader(clip) as reader:
        assert (reader.width, reader.height) == (320, 240)
        assert reader.fps == pytest.approx(FPS)
        assert reader.duration == pytest.approx(2.0, abs=0.05)
        for i in range(FRAMES):
            # Exactly on the frame's timestamp and just before the next one.
            assert index_of(reader.frame_at(i / FPS).pixels) == i
            assert index_of(reader.frame_at((i + 0.9) / FPS).pixels) == i


def test_random_seeks_are_frame_accurate(clip: Path) -> None:
    rng = random.Random(7)
    with VideoReader(clip) as reader:
        for _ in range(60):
            i = rng.randrange(FRAMES)
            t = (i + rng.random() * 0.95) / FPS
            assert index_of(reader.frame_at(t).pixels) == i, f"t={t}"


def test_past_the_end_holds_the_last_frame(clip: Path) -> None:
    with VideoReader(clip) as reader:
        assert index_of(reader.frame_at(100.0).pixels) == FRAMES - 1
        assert index_of(reader.frame_at(2.5).pixels) == FRAMES - 1
        assert index_of(reader.frame_at(0.0).pixels) == 0  # and can come back


def test_negative_time_shows_the_first_frame(clip: Path) -> None:
    with VideoReader(clip) as reader:
        assert index_of(reader.frame_at(-1.0).pixels) == 0


def test_pictures_are_rgba_and_opaque(clip: Path) -> None:
    with VideoReader(clip) as reader:
        pixels = reader.frame_at(0.5).pixels
    assert pixels.dtype == np.uint8 and pixels.shape == (240, 320, 4)
    assert pixels.flags.c_contiguous
    assert (pixels[..., 3] == 255).all()


def test_output_size_and_scale(clip: Path) -> None:
    with VideoReader(clip, size=(160, 90)) as reader:
        picture = reader.frame_at(1.0)
        assert (picture.width, picture.height) == (160, 90)
        assert index_of(picture.pixels) == 30
    with VideoReader(clip, scale=0.5) as reader:
        assert reader.frame_at(0).pixels.shape == (120, 160, 4)


def test_rotation_is_applied(rotated_clip: Path) -> None:
    with VideoReader(rotated_clip) as reader:
        assert (reader.width, reader.height) == (240, 320)
        pixels = reader.frame_at(0).pixels
    assert pixels.shape == (320, 240, 4)
    # Stored top-left marker; a 90° counter-clockwise turn puts it bottom-left.
    assert pixels[-5, 5, :3].min() > 200
    assert pixels[5, 5, :3].min() < 200
    assert pixels[-5, -5, :3].min() < 200


def test_rotation_with_output_size(rotated_clip: Path) -> None:
    with VideoReader(rotated_clip, size=(120, 160)) as reader:
        assert reader.frame_at(0).pixels.shape == (160, 120, 4)


def test_first_frame(clip: Path) -> None:
    assert index_of(first_frame(clip).pixels) == 0


def test_closed_reader_refuses(clip: Path) -> None:
    reader = VideoReader(clip)
    reader.close()
    reader.close()  # twice is fine
    with pytest.raises(ValueError):
        reader.frame_at(0)


def test_audio_only_file_has_no_video(tone_file: Path) -> None:
    with pytest.raises(MediaError) as caught:
        VideoReader(tone_file)
    assert caught.value.reason == "no_video"


def test_not_media_is_a_media_error(tmp_path: Path) -> None:
    path = tmp_path / "x.mp4"
    path.write_text("hello")
    with pytest.raises(MediaError) as caught:
        VideoReader(path)
    assert caught.value.reason == "not_media"


# ---- stills ---------------------------------------------------------------------------------


def _half_transparent(size: tuple[int, int] = (8, 6)) -> Image.Image:
    img = Image.new("RGBA", size, (255, 0, 0, 255))
    img.paste((0, 0, 255, 0), (0, 0, size[0] // 2, size[1]))
    return img


def test_png_keeps_alpha(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    _half_transparent().save(path)
    pixels = load_image(path).pixels
    assert pixels.shape == (6, 8, 4)
    assert tuple(pixels[0, 0]) == (0, 0, 255, 0)
    assert tuple(pixels[0, 7]) == (255, 0, 0, 255)


def test_webp_keeps_alpha(tmp_path: Path) -> None:
    path = tmp_path / "a.webp"
    _half_transparent().save(path, lossless=True)
    pixels = load_image(path).pixels
    assert pixels[0, 0, 3] == 0 and pixels[0, 7, 3] == 255


def test_gif_first_frame_with_transparency(tmp_path: Path) -> None:
    path = tmp_path / "a.gif"
    first = Image.new("P", (4, 4), 1)
    first.putpalette([0, 0, 0, 0, 255, 0, 255, 0, 0] + [0] * 759)
    first.putpixel((0, 0), 0)
    second = first.copy()
    second.paste(2, (0, 0, 4, 4))
    first.save(path, save_all=True, append_images=[second], transparency=0, duration=100)
    pixels = load_image(path).pixels
    assert pixels.shape == (4, 4, 4)
    assert pixels[0, 0, 3] == 0
    assert tuple(pixels[2, 2]) == (0, 255, 0, 255)  # green: the first frame, not the red second


def test_jpeg_exif_orientation_is_applied(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    stored = Image.new("RGB", (40, 20), (0, 0, 0))
    stored.paste((255, 255, 255), (0, 0, 10, 10))  # white square at the stored top-left
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    stored.save(path, exif=exif, quality=95)
    pixels = load_image(path).pixels
    assert pixels.shape == (40, 20, 4)
    # Clockwise turn: the stored top-left goes to the top-right.
    assert pixels[3, 17, 0] > 200
    assert pixels[3, 3, 0] < 60
    assert (pixels[..., 3] == 255).all()


def test_not_an_image(tmp_path: Path) -> None:
    path = tmp_path / "fake.png"
    path.write_text("not a picture")
    with pytest.raises(MediaError) as caught:
        load_image(path)
    assert caught.value.reason == "not_an_image"


def test_truncated_image(tmp_path: Path) -> None:
    path = tmp_path / "cut.png"
    Image.effect_noise((64, 64), 50).convert("RGB").save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(MediaError) as caught:
        load_image(path)
    assert caught.value.reason == "truncated"


def test_missing_image(tmp_path: Path) -> None:
    with pytest.raises(MediaError) as caught:
        load_image(tmp_path / "gone.png")
    assert caught.value.reason == "not_found"


def test_playing_forward_never_seeks_and_jumps_seek_only_past_a_keyframe(
    clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeks: list[float] = []
    original = VideoReader._seek

    def counting(self: VideoReader, target: float) -> None:
        seeks.append(target)
        original(self, target)

    monkeypatch.setattr(VideoReader, "_seek", counting)
    with VideoReader(clip) as reader:  # GOP 10 at 30 fps: keyframes every 1/3 s
        for i in range(FRAMES):
            reader.frame_at(i / FPS)
            reader.frame_at((i + 0.5) / FPS)  # a 60 fps timeline asks twice per frame
        assert seeks == []
        reader.frame_at(0.0)  # backwards: seek
        assert len(seeks) == 1
        reader.frame_at(5 / FPS)  # same GOP ahead: decode through
        assert len(seeks) == 1
        assert index_of(reader.frame_at(45 / FPS).pixels) == 45  # keyframes in between: seek
        assert len(seeks) == 2
