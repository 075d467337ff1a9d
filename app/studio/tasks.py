"""One way off the GUI thread: run a callable on a worker, get its result or error back on the GUI.

    tasks = TaskRunner()
    tasks.run(probe, path, done=lambda result, error: ...)   # `done` runs on the GUI thread

Results and errors travel the same road (as in Picard's `run_task`): `done(result, None)` or
`done(None, error)`. Never touch widgets from the callable; touch them in `done`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from PySide6.QtCore import QObject, Signal

log = logging.getLogger(__name__)

Done = Callable[[Any, BaseException | None], None]


class TaskRunner(QObject):
    """A small thread pool whose completions are delivered on the thread that owns this object."""

    _finished = Signal(object, object, object)  # done, result, error

    def __init__(
        self, max_workers: int = 2, name: str = "reelsmith-task", parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=name)
        self._closed = False
        # A queued connection: emitted on a worker, the slot runs on this object's thread.
        self._finished.connect(self._deliver)

    def run(self, fn: Callable[..., Any], *args: Any, done: Done | None = None) -> Future[Any]:
        """Run `fn(*args)` on a worker; call `done(result, error)` on the GUI thread."""
        future = self._pool.submit(fn, *args)
        if done is not None:
            future.add_done_callback(lambda f: self._complete(f, done))
        return future

    def _complete(self, future: Future[Any], done: Done) -> None:
        if self._closed or future.cancelled():
            return
        error = future.exception()
        result = None if error is not None else future.result()
        with contextlib.suppress(RuntimeError):  # the runner was deleted while the task ran
            self._finished.emit(done, result, error)

    def _deliver(self, done: Done, result: Any, error: BaseException | None) -> None:
        if self._closed:
            return
        try:
            done(result, error)
        except Exception:
            log.exception("task completion handler failed")
            raise

    def shutdown(self, wait: bool = False) -> None:
        """Stop delivering results; running tasks finish on their own."""
        self._closed = True
        self._pool.shutdown(wait=wait, cancel_futures=True)
