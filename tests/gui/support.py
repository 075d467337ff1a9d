"""Helpers more than one GUI test module uses."""

from __future__ import annotations

import resource
import signal


def text_scenes_script(scenes: int = 2) -> dict:
    """A small valid script: `scenes` named scenes of 2, 3, … seconds with one text each."""
    return {
        "width": 640,
        "height": 360,
        "scenes": [
            {
                "name": f"S{i}",
                "duration": 2 + i,
                "elements": [{"type": "text", "text": f"hello {i}"}],
            }
            for i in range(scenes)
        ],
    }


class FileSizeLimit:
    """Make writes beyond `limit` bytes fail with EFBIG (a disk filling up mid-write)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def __enter__(self) -> None:
        self.old_limit = resource.getrlimit(resource.RLIMIT_FSIZE)
        self.old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (self.limit, self.old_limit[1]))

    def __exit__(self, *exc: object) -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, self.old_limit)
        signal.signal(signal.SIGXFSZ, self.old_handler)
