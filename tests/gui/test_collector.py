"""Garbage is collected on the GUI thread, never on a worker that happens to allocate."""

from __future__ import annotations

import gc
import threading

from PySide6.QtCore import Qt

from app.studio.collector import GuiThreadCollector
from app.studio.document import ScriptDocument


def test_a_qobject_in_a_reference_cycle_is_destroyed_on_the_gui_thread(qtbot):
    destroyed_on: list[threading.Thread] = []
    document = ScriptDocument()
    document.cycle = document  # type: ignore[attr-defined]  # only the collector can free it
    document.destroyed.connect(
        lambda: destroyed_on.append(threading.current_thread()),
        Qt.ConnectionType.DirectConnection,
    )
    del document

    kept: list[list[object]] = []

    def allocate() -> None:  # far past every threshold: Python's own collector would run here
        kept.extend([] for _ in range(50 * gc.get_threshold()[0] + 100_000))

    worker = threading.Thread(target=allocate, name="allocating-worker")
    worker.start()
    worker.join()
    assert destroyed_on == []
    qtbot.waitUntil(lambda: bool(destroyed_on), timeout=3000)  # the collector's next tick
    assert destroyed_on == [threading.main_thread()]
    kept.clear()


def test_the_collector_runs_the_generation_that_is_due_and_keeps_python_s_off(qtbot):
    collector = GuiThreadCollector(interval_ms=10_000)
    thresholds = gc.get_threshold()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        gc.set_threshold(100, 1_000_000, 1_000_000)
        gc.collect()
        assert collector.collect_if_due() is None  # nothing allocated since
        junk = [[] for _ in range(500)]
        assert collector.collect_if_due() == 0
        assert gc.get_count()[0] < 100
        del junk
        gc.enable()  # something turns Python's own collector back on: the next check undoes it
        collector.collect_if_due()
        assert not gc.isenabled()
    finally:
        gc.set_threshold(*thresholds)
        if was_enabled:
            gc.enable()
        else:
            gc.disable()
