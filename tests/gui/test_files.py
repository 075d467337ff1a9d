"""files.py: atomic saves that never half-write, tolerant opening, recent files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from app.studio.files import FileError, RecentFiles, atomic_write, example_script, read_text
from tests.gui.support import FileSizeLimit


def test_atomic_write_replaces_the_file_and_keeps_its_permissions(tmp_path: Path) -> None:
    target = tmp_path / "movie.json"
    target.write_text("old")
    os.chmod(target, 0o640)
    atomic_write(target, '{"scenes": []}\n')
    assert target.read_text() == '{"scenes": []}\n'
    assert target.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["movie.json"]  # no temporary left behind


def test_a_write_failing_midway_leaves_the_old_file_intact(tmp_path: Path) -> None:
    target = tmp_path / "movie.json"
    old = json.dumps({"scenes": [{"duration": 1}]})
    target.write_text(old)
    with FileSizeLimit(4096), pytest.raises(FileError) as failure:
        atomic_write(target, "x" * 200_000)
    assert target.read_text() == old
    assert str(target) in str(failure.value)
    assert "too large" in str(failure.value).lower()
    assert [p.name for p in tmp_path.iterdir()] == ["movie.json"]


def test_writing_to_a_folder_or_a_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileError, match="it is a folder"):
        atomic_write(tmp_path, "{}")
    with pytest.raises(FileError, match="does not exist"):
        atomic_write(tmp_path / "nope" / "movie.json", "{}")


def test_text_that_cannot_be_utf8_is_an_error_not_a_crash(tmp_path: Path) -> None:
    target = tmp_path / "movie.json"
    target.write_text("old")
    with pytest.raises(FileError, match="UTF-8"):
        atomic_write(target, "\ud800")
    assert target.read_text() == "old"


def test_read_text_drops_a_bom_and_repairs_non_utf8_with_a_warning(tmp_path: Path) -> None:
    bom = tmp_path / "bom.json"
    bom.write_bytes(b'\xef\xbb\xbf{"a": 1}')
    assert read_text(bom).text == '{"a": 1}'
    assert read_text(bom).warning is None
    latin = tmp_path / "latin.json"
    latin.write_bytes(b'{\n"name": "Caf\xe9"}')
    opened = read_text(latin)
    assert opened.text == '{\n"name": "Caf\ufffd"}'
    assert opened.warning is not None and "line 2" in opened.warning


def test_read_text_names_the_file_when_it_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(FileError, match="does not exist") as missing:
        read_text(tmp_path / "missing.json")
    assert "missing.json" in str(missing.value)
    with pytest.raises(FileError, match="folder"):
        read_text(tmp_path)


def test_recent_files_are_newest_first_unique_limited_and_pruned(tmp_path: Path) -> None:
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    recent = RecentFiles(settings, limit=3)
    files = []
    for name in "abcd":
        path = tmp_path / f"{name}.json"
        path.write_text("{}")
        files.append(path)
        recent.add(path)
    recent.add(files[1])
    assert recent.paths() == [files[1], files[3], files[2]]
    files[3].unlink()
    assert recent.paths() == [files[1], files[2]]
    reread = RecentFiles(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    assert reread.paths() == [files[1], files[2]]
    recent.clear()
    assert recent.paths() == []


def test_an_example_opens_with_absolute_media_paths_and_its_variables(tmp_path: Path) -> None:
    from app.examples import examples_source

    text, variables = example_script(examples_source() / "title-card.json", tmp_path)
    data = json.loads(text)
    sources = [
        e["src"] for scene in data["scenes"] for e in scene.get("elements", []) if "src" in e
    ]
    assert sources and all(Path(src).is_absolute() for src in sources)
    assert all(src.startswith(str(tmp_path.resolve())) for src in sources)
    assert variables == {"headline": "Hello, Reelsmith"}
