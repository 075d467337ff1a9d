"""GUI tests collect garbage on the GUI thread only, as the studio does (app/studio/collector.py).

The tests make Python-owned QObjects (documents, players) that can end up in reference cycles;
left to Python's automatic collector, they were destroyed on whatever thread allocated at the
wrong moment (a preview frame worker, a probe pool thread, a test HTTP server) while the GUI
thread ran on: rare segfaults in libpython in the middle of the run."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from app.studio.collector import GuiThreadCollector


@pytest.fixture(scope="package", autouse=True)
def _garbage_collected_on_the_gui_thread(qapp) -> Iterator[GuiThreadCollector]:
    collector = GuiThreadCollector(parent=qapp)
    collector.start()
    yield collector
    collector.stop()
    gc.collect()
