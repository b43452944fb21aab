"""The background runner: one thread per process doing the work that must not live in a
Streamlit script run — the periodic delivery-report sync and (see ``smslib.services.jobs``) the
bulk jobs.

Pages never do this work themselves; they enqueue, ``wake()`` the runner, and read
progress from the store. The same runner serves headless workers (``python -m smslib
worker``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

log = logging.getLogger(__name__)


@dataclass
class Task:
    """A piece of background work run every ``interval`` seconds, or sooner on ``wake()``.

    ``run`` returns True when it did something and has more to do at once (a job with
    batches left): the runner then calls it again without waiting.
    """

    name: str
    interval: float
    run: Callable[[], Any]
    wake_runs_it: bool = False
    last_started: datetime | None = None
    last_finished: datetime | None = None
    last_result: Any = None
    last_error: str | None = None
    _next_due: float = field(default=0.0, repr=False)


class Runner:
    """Runs its tasks in one daemon thread until ``stop()``."""

    def __init__(self, tasks: list[Task], *, name: str = "sms-runner",
                 clock: Callable[[], float] = time.monotonic, beat: Task | None = None,
                 on_stop: Callable[[], Any] | None = None) -> None:
        """``beat``: a task run every ``beat.interval`` in a thread of its own (a heartbeat, which
        a long send must not delay); ``on_stop``: called once the threads have stopped."""
        self.tasks = {task.name: task for task in tasks}
        self.beat = beat
        self.busy_with: str | None = None  # the task running in the runner's thread now
        self._clock = clock
        self._on_stop = on_stop
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._task_locks = {task.name: threading.Lock() for task in [*tasks, *([beat] if beat else [])]}
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._beat_thread = (threading.Thread(target=self._beat_loop, name=f"{name}-beat", daemon=True)
                             if beat else None)

    def start(self) -> Runner:
        if self._beat_thread is not None:
            self.run_beat()  # seen alive at once, before the first task
            self._beat_thread.start()
        self._thread.start()
        return self

    def run_beat(self) -> None:
        if self.beat is not None:
            self._run(self.beat, raise_errors=False)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def wake(self) -> None:
        """Run the tasks that react to new work (e.g. a job just queued) without waiting."""
        for task in self.tasks.values():
            if task.wake_runs_it:
                task._next_due = 0.0
        self._wake.set()

    def run_now(self, name: str) -> Any:
        """Run one task in the caller's thread (a "check now" button) and return its result.

        Never concurrently with the same task in the runner's thread.
        """
        return self._run(self.tasks[name], raise_errors=True)

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._wake.set()
        for thread in (self._thread, self._beat_thread):
            if thread is not None and thread.is_alive():
                thread.join(timeout)
        if self._on_stop is not None:
            try:
                self._on_stop()
            except Exception as e:  # noqa: BLE001 - stopping goes on whatever the clean-up meets
                log.warning("runner clean-up failed: %s: %s", type(e).__name__, e)
            self._on_stop = None

    def _beat_loop(self) -> None:
        while not self._stopping.wait(self.beat.interval):
            self.run_beat()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            busy = False
            for task in self.tasks.values():
                if self._stopping.is_set():
                    return
                if self._clock() >= task._next_due:
                    self.busy_with = task.name
                    try:
                        did_work = self._run(task, raise_errors=False)
                    finally:
                        self.busy_with = None
                    busy = busy or did_work is True
            if busy:
                continue
            next_due = min((t._next_due for t in self.tasks.values()), default=self._clock() + 1)
            self._wake.wait(timeout=max(0.05, min(1.0, next_due - self._clock())))
            self._wake.clear()

    def _run(self, task: Task, *, raise_errors: bool) -> Any:
        with self._task_locks[task.name]:
            task.last_started = datetime.now(timezone.utc)
            try:
                result = task.run()
            except Exception as e:  # noqa: BLE001 - the runner must outlive any one failure
                # A background thread that dies silently would stop every job and sync;
                # the error is logged, kept for the sidebar, and the task tried again later.
                task.last_error = f"{type(e).__name__}: {e}"
                log.warning("background task %s failed: %s", task.name, task.last_error)
                task._next_due = self._clock() + task.interval
                if raise_errors:
                    raise
                return False
            task.last_result = result
            task.last_error = None
            task.last_finished = datetime.now(timezone.utc)
            # More to do at once (True): due again now, not after the interval.
            task._next_due = self._clock() + (0.0 if result is True else task.interval)
            return result
