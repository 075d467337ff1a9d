"""A problem found in a script: where (path), what (message), how bad (severity), which kind (code).

Codes follow the render service's error codes where one fits (`INVALID_JSON`,
`SCHEMA_VALIDATION_ERROR`, `VALIDATION_ERROR`) and name our own checks otherwise
(`MISSING_VARIABLE`, `UNUSED_VARIABLE`, `DUPLICATE_KEY`, `LOCAL_FILE`, `FILE_NOT_FOUND`,
`OFF_CANVAS`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from app.script.jsonpath import Path, format_path

Severity = Literal["error", "warning"]

INVALID_JSON = "INVALID_JSON"
SCHEMA_VALIDATION_ERROR = "SCHEMA_VALIDATION_ERROR"
VALIDATION_ERROR = "VALIDATION_ERROR"
DUPLICATE_KEY = "DUPLICATE_KEY"
MISSING_VARIABLE = "MISSING_VARIABLE"
UNUSED_VARIABLE = "UNUSED_VARIABLE"
LOCAL_FILE = "LOCAL_FILE"
FILE_NOT_FOUND = "FILE_NOT_FOUND"
OFF_CANVAS = "OFF_CANVAS"


@dataclass(frozen=True)
class Problem:
    """One finding. `path` is a tuple; `path_text` is the documented dotted form."""

    path: Path
    message: str
    severity: Severity = "error"
    code: str = SCHEMA_VALIDATION_ERROR

    @property
    def path_text(self) -> str:
        return format_path(self.path)

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def as_dict(self) -> dict[str, str]:
        """The documented wire form `{path, message, severity}` plus our `code`."""
        return {
            "path": self.path_text,
            "message": self.message,
            "severity": self.severity,
            "code": self.code,
        }
