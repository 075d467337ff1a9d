"""Media files become elements: the right type, src relative to the script, clear refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QUrl

from app.examples import write_wav
from app.media.encode import Mp4Writer
from app.media.errors import MediaError
from app.studio.document import ScriptDocument, dumps
from app.studio.media_elements import (
    MediaElementError,
    add_elements,
    element_for_file,
    elements_for_files,
    local_files,
)


def write_clip(path: Path, seconds: float = 1.0, fps: int = 10, audio: bool = True) -> Path:
    frames = round(seconds * fps)
    with Mp4Writer(path, 64, 48, fps, "low", audio=audio, gop=5) as out:
        for i in range(frames):
            out.write_frame(np.full((48, 64, 3), (i * 20 % 255, 80, 160), np.uint8))
        if audio:
            out.write_audio(np.zeros((round(seconds * 48000), 2), np.float32))
    return path


def write_png(path: Path) -> Path:
    Image.new("RGB", (40, 30), (200, 30, 30)).save(path)
    return path


def write_tone(path: Path, seconds: float = 1.5) -> Path:
    n = round(seconds * 48000)
    wave = 0.2 * np.sin(2 * np.pi * 440 * np.arange(n) / 48000)
    write_wav(path, np.stack([wave, wave], axis=1).astype(np.float32))
    return path


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("project")
    (folder / "clips").mkdir()
    write_clip(folder / "clips" / "two.mp4", seconds=2.0)
    write_png(folder / "logo.png")
    write_tone(folder / "music.wav", 1.5)
    (folder / "notes.txt").write_text("not a video at all\n" * 20)
    (folder / "empty.mp4").write_bytes(b"")
    whole = (folder / "clips" / "two.mp4").read_bytes()
    (folder / "cut.mp4").write_bytes(whole[: len(whole) // 2])
    return folder


def test_video_becomes_a_video_element_with_its_duration_and_a_relative_src(media):
    element = element_for_file(media / "clips" / "two.mp4", media)
    assert element["type"] == "video"
    assert element["src"] == "clips/two.mp4"
    assert element["duration"] == pytest.approx(2.0, abs=0.1)


def test_image_becomes_an_image_element_without_duration(media):
    assert element_for_file(media / "logo.png", media) == {"type": "image", "src": "logo.png"}


def test_audio_becomes_an_audio_element_with_its_duration(media):
    element = element_for_file(media / "music.wav", media)
    assert element["type"] == "audio"
    assert element["src"] == "music.wav"
    assert element["duration"] == pytest.approx(1.5, abs=0.05)


def test_file_outside_the_script_folder_gets_an_absolute_src(media, tmp_path):
    elsewhere = tmp_path / "other"
    elsewhere.mkdir()
    element = element_for_file(media / "logo.png", elsewhere)
    assert Path(element["src"]).is_absolute()
    assert Path(element["src"]) == (media / "logo.png").absolute()
    assert element_for_file(media / "logo.png", None)["src"] == str(media / "logo.png")


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("notes.txt", "not_media"),
        ("empty.mp4", "empty"),
        ("cut.mp4", "truncated"),
        ("no.mp4", "not_found"),
    ],
)
def test_unusable_files_raise_a_media_error_naming_the_file(media, name, reason):
    with pytest.raises(MediaElementError) as caught:
        element_for_file(media / name, media)
    assert isinstance(caught.value, MediaError)
    assert caught.value.reason == reason
    assert name in str(caught.value)


def test_a_drop_of_several_files_keeps_the_good_ones_and_lists_the_refused(media):
    dropped = elements_for_files(
        [media / "logo.png", media / "notes.txt", media / "music.wav"], media
    )
    assert [e["type"] for e in dropped.elements] == ["image", "audio"]
    assert [e.path.name for e in dropped.errors] == ["notes.txt"]
    assert "notes.txt" in dropped.message()


def test_add_elements_is_one_undo_step_and_valid(qtbot, media):
    document = ScriptDocument(
        dumps({"width": 64, "height": 48, "scenes": [{"duration": 3}, {"duration": 2}]}),
        file_path=media / "movie.json",
    )
    try:
        dropped = elements_for_files([media / "logo.png", media / "clips" / "two.mp4"], media)
        assert add_elements(document, 1, dropped.elements)
        assert [e["type"] for e in document.data["scenes"][1]["elements"]] == ["image", "video"]
        assert document.undo_stack.count() == 1
        assert document.undo_stack.undoText() == "Add 2 media elements to scene 2"
        assert document.validate_now().problems == []
        document.undo_stack.undo()
        assert "elements" not in document.data["scenes"][1]
        assert not add_elements(document, 7, dropped.elements)  # no such scene: nothing happens
        assert document.undo_stack.count() == 1
    finally:
        document.close()


def test_local_files_reads_only_local_urls_of_a_drag(media):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(media / "logo.png")), QUrl("https://example.com/a.mp4")])
    assert local_files(mime) == [media / "logo.png"]
