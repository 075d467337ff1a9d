"""Reading and writing the user's files: atomic saves, tolerant opening, recent files.

Saves write a temporary file beside the target, flush it to disk (fsync) and rename it over the
target (what `QSaveFile` does, but with the system's own error messages): a failure at any point
leaves the old file exactly as it was. Opening never refuses a readable file: text that is not
JSON still opens (the JSON editor shows where it breaks), and bytes that are not UTF-8 open with
replacement characters and a warning.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QSettings

#: Bigger than any movie script (a 1,000-scene script is about 1 MB): refused with a message.
MAX_OPEN_BYTES = 64 * 1024 * 1024
MAX_RECENT = 10


class FileError(Exception):
    """A file could not be read or written; `str()` is a sentence that names the file."""

    def __init__(self, path: Path, reason: str, *, writing: bool) -> None:
        self.path = path
        self.reason = reason
        verb = "save" if writing else "open"
        super().__init__(f"Could not {verb} “{path}”: {reason}")


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def atomic_write(path: Path, data: str | bytes) -> None:
    """Replace `path` with `data` (text is written as UTF-8) or raise `FileError`, leaving the old
    file untouched: write a temporary file beside it, flush it to disk, rename it over the old
    one. The new file keeps the old one's permissions; a symlink's target is written."""
    try:
        payload = data.encode("utf-8") if isinstance(data, str) else data
    except UnicodeEncodeError as exc:
        raise FileError(
            path,
            f"the text has a character that cannot be written as UTF-8 (at offset {exc.start})",
            writing=True,
        ) from None
    if path.is_dir():
        raise FileError(path, "it is a folder", writing=True)
    target = Path(os.path.realpath(path))
    if not target.parent.is_dir():
        raise FileError(path, f"the folder {target.parent} does not exist", writing=True)
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    except OSError as exc:
        raise FileError(path, _reason(exc), writing=True) from None
    try:
        fd, temp_name = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
        )
    except OSError as exc:
        raise FileError(path, _reason(exc), writing=True) from None
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(payload)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, mode)
        os.replace(temp, target)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise FileError(path, _reason(exc), writing=True) from None
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _sync_folder(target.parent)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); best effort."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@dataclass(frozen=True)
class OpenedText:
    """A file's text and, when it needed repair to open, a warning for the user."""

    text: str
    warning: str | None = None


def read_text(path: Path) -> OpenedText:
    """A script file's text. UTF-8 (a BOM is dropped); other bytes become U+FFFD with a warning.
    Raises `FileError` for a missing, unreadable, folder or absurdly large file."""
    try:
        if path.is_dir():
            raise FileError(path, "it is a folder, not a movie script", writing=False)
        size = path.stat().st_size
        if size > MAX_OPEN_BYTES:
            raise FileError(
                path, f"{size / 1e6:.0f} MB is too large for a movie script", writing=False
            )
        data = path.read_bytes()
    except FileNotFoundError:
        raise FileError(path, "the file does not exist", writing=False) from None
    except PermissionError:
        raise FileError(path, "permission denied", writing=False) from None
    except OSError as exc:
        raise FileError(path, _reason(exc), writing=False) from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return OpenedText(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        text = data.decode("utf-8", errors="replace")
        line = data[: exc.start].count(b"\n") + 1
        return OpenedText(
            text,
            f"“{path.name}” is not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}). "
            "Bytes that could not be read are shown as �; saving writes the file as UTF-8.",
        )


class RecentFiles:
    """The most recently opened or saved scripts, newest first, in the settings file."""

    KEY = "files/recent"

    def __init__(self, settings: QSettings, limit: int = MAX_RECENT) -> None:
        self._settings = settings
        self._limit = limit

    def _stored(self) -> list[str]:
        raw = self._settings.value(self.KEY, [])
        if isinstance(raw, str):  # QSettings returns a lone string for a one-item list
            raw = [raw]
        if not isinstance(raw, list):
            return []
        return [item for item in raw if isinstance(item, str) and item]

    def paths(self) -> list[Path]:
        """The recent files that still exist (missing ones are pruned from the settings)."""
        stored = self._stored()
        kept = [item for item in stored if Path(item).is_file()]
        if kept != stored:
            self._store(kept)
        return [Path(item) for item in kept]

    def add(self, path: Path) -> None:
        item = str(path.resolve())
        items = [item, *(other for other in self._stored() if other != item)]
        self._store(items[: self._limit])

    def clear(self) -> None:
        self._store([])

    def _store(self, items: list[str]) -> None:
        self._settings.setValue(self.KEY, items)
        self._settings.sync()


def _absolute_sources(node: object, base: Path) -> None:
    """Make every relative local `src` absolute against `base` (in place)."""
    if isinstance(node, dict):
        src = node.get("src")
        if isinstance(src, str) and src and "://" not in src and not Path(src).is_absolute():
            node["src"] = str((base / src).resolve())
        for value in node.values():
            _absolute_sources(value, base)
    elif isinstance(node, list):
        for value in node:
            _absolute_sources(value, base)


def example_script(script: Path, media_base: Path) -> tuple[str, dict[str, object]]:
    """A bundled example as the text of a new, untitled script: its relative media paths made
    absolute against `media_base` (where the sample media are installed), so the script works
    wherever the user saves it. Also returns its sample variables (`NAME.vars.json`), if any."""
    import json

    from app.studio.document import dumps

    data = json.loads(script.read_text("utf-8"))
    _absolute_sources(data, media_base)
    variables: dict[str, object] = {}
    vars_file = script.with_name(f"{script.stem}.vars.json")
    if vars_file.is_file():
        try:
            loaded = json.loads(vars_file.read_text("utf-8"))
        except (OSError, ValueError):
            loaded = {}
        if isinstance(loaded, dict):
            variables = loaded
    return dumps(data), variables
