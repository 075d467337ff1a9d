"""`reelsmith serve`'s own log: time with milliseconds and UTC offset, level, logger, message —
and never an API key or a URL's credentials, whatever a log call is handed."""

from __future__ import annotations

import io
import logging
from datetime import datetime
from pathlib import Path

import pytest

from app.server.serve import ServeError, _log_to, run


def test_serve_log_lines_are_timed_and_redacted() -> None:
    stream = io.StringIO()
    level = logging.getLogger("app").level
    handler = _log_to(stream)
    try:
        log = logging.getLogger("app.server.sketchpen_pipeline")
        log.info("callback to %s failed: %s", "https://u:pw-123456@h.example/cb?token=t0k3n", "503")
        log.warning("key %s refused", "ve_live_0123456789abcdef0123456789abcdef")
        logging.getLogger("app.server.store").debug("not shown: below INFO")
    finally:
        logging.getLogger("app").removeHandler(handler)
        logging.getLogger("app").setLevel(level)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2, lines
    stamp, level, name, message = lines[1].split(" ", 3)
    when = datetime.fromisoformat(stamp)
    assert when.utcoffset() is not None and abs(when.timestamp() - datetime.now().timestamp()) < 60
    assert (level, name) == ("WARNING", "app.server.sketchpen_pipeline:")
    assert message == "key [redacted] refused"
    assert "pw-123456" not in lines[0] and "t0k3n" not in lines[0]
    assert "https://u:[redacted]@h.example/cb?token=[redacted] failed: 503" in lines[0]


@pytest.mark.parametrize("value", [-1.0, float("nan"), float("inf")])
def test_serve_refuses_a_stall_threshold_that_is_not_a_number_of_ms(
    value: float, tmp_path: Path
) -> None:
    with pytest.raises(ServeError, match="--stall-warning-ms"):
        run(port=0, data=tmp_path, stall_warning_ms=value)
    assert not any(tmp_path.iterdir())  # refused before anything was created
