"""Assembles the background runner of a process: what it runs and with which parts.

The dashboard builds one (unless ``SMS_RUN_WORKER_IN_APP`` is off); ``python -m smslib
worker`` builds one and waits on it until stopped.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

from .config import Settings
from .gateway import Gateway
from .jobs import JobRunner
from .reports import sync_reports
from .runner import Runner, Task
from .store import Store

SYNC_TASK = "sync"
JOBS_TASK = "jobs"
JOBS_INTERVAL = 2.0  # seconds between looks for due jobs (a schedule, a window, a 429) when idle


def build_runner(gateway: Gateway, store: Store, settings: Settings) -> Runner:
    """A runner (not yet started) with the report sync and the bulk jobs for ``gateway`` and ``store``."""

    def sync() -> Any:
        return sync_reports(gateway.client, store, pending_check_after=settings.pending_check_after)

    job_runner = JobRunner.from_settings(gateway.client, store, settings)
    return Runner([
        Task(SYNC_TASK, settings.sync_interval, sync),
        Task(JOBS_TASK, JOBS_INTERVAL, job_runner.run, wake_runs_it=True),
    ])


def run_worker(gateway: Gateway, store: Store, settings: Settings,
               stop: threading.Event | None = None) -> None:
    """Run the background work in this process until SIGTERM/SIGINT or ``stop`` is set."""
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    runner = build_runner(gateway, store, settings).start()
    try:
        while not stop.wait(0.5):
            pass
    finally:
        runner.stop()
