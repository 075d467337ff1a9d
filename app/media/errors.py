"""The one error type of the media layer."""

from __future__ import annotations


class MediaError(Exception):
    """Media that cannot be read, decoded, downloaded or written.

    `source` is the file path or URL as the caller gave it; `reason` a short machine-readable
    kind (`not_found`, `empty`, `not_media`, `truncated`, `unsupported_codec`, `no_video`,
    `no_audio`, `http_error`, `timeout`, `network`, `too_large`, `write_failed`, ...);
    `str(error)` is a sentence for people that names the source.
    """

    def __init__(self, source: str, reason: str, detail: str) -> None:
        super().__init__(f"{detail} ({source})")
        self.source = source
        self.reason = reason
        self.detail = detail
