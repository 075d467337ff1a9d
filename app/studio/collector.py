"""Python's cycle collector runs on the GUI thread only.

Left automatic, the collector runs on whichever thread happens to allocate when a threshold is
crossed: a preview frame worker, a task pool thread, the local service's threads. A Python-owned
`QObject` in a reference cycle is then destroyed on that thread while the GUI thread goes on
using Qt (its timers, posted events and connections belong to the GUI thread): undefined
behaviour, seen as rare segfaults inside libpython or Qt. `GuiThreadCollector` turns the
automatic collector off and runs the same collections from a timer on the GUI thread, using the
thresholds in force (`gc.set_threshold` still tunes it). Code that calls `gc.collect()` itself
still collects on its own thread.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

#: How often the GUI thread looks whether a collection is due.
INTERVAL_MS = 100


class GuiThreadCollector(QObject):
    """Create it on the GUI thread and `start()` it; `stop()` gives collection back to Python."""

    def __init__(self, interval_ms: int = INTERVAL_MS, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.collections = 0
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.collect_if_due)

    @property
    def active(self) -> bool:
        return self._timer.isActive()

    def start(self) -> None:
        gc.disable()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        gc.enable()

    def collect_if_due(self) -> int | None:
        """Collect the generation Python would collect now (None when none is due); also turns
        the automatic collector off again if something turned it on."""
        if gc.isenabled():
            gc.disable()
        thresholds = gc.get_threshold()
        counts = gc.get_count()
        if thresholds[0] <= 0 or counts[0] <= thresholds[0]:
            return None
        generation = 0
        for g in (2, 1):
            if counts[g] > thresholds[g]:
                generation = g
                break
        gc.collect(generation)
        self.collections += 1
        return generation
