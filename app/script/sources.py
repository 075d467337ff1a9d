"""Media sources (`src`, spec §4): what a string names, and where a local one lives on disk."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath
from typing import Literal
from urllib.parse import unquote, urlparse


@dataclass(frozen=True)
class Source:
    """`kind` "url" for http(s) (downloaded into the media cache), "file" for local media."""

    kind: Literal["url", "file"]
    url: str | None = None
    path: Path | None = None

    @property
    def is_local(self) -> bool:
        return self.kind == "file"


def resolve_src(src: str, base_dir: Path | None = None) -> Source:
    """Classify `src` and make a local path absolute (relative paths are relative to `base_dir`,
    the script file's folder; with no folder known, to the working directory)."""
    lowered = src[:8].lower()
    if lowered.startswith(("http://", "https://")):
        return Source("url", url=src)
    if lowered.startswith("file://"):
        parsed = urlparse(src)
        raw = unquote(parsed.path)
        if parsed.netloc and parsed.netloc != "localhost":
            raw = f"//{parsed.netloc}{raw}"  # UNC share
        if os.name == "nt" and len(raw) > 2 and raw[0] == "/" and raw[2] == ":":
            raw = raw[1:]  # file:///C:/clips/a.mp4
        return Source("file", path=Path(raw))
    path = Path(src).expanduser()
    if not path.is_absolute() and not PureWindowsPath(src).is_absolute():
        path = (base_dir or Path.cwd()) / path
    return Source("file", path=path)
