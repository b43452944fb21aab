"""Assembles the background runner of a process: what it runs and with which parts.

The dashboard builds one (unless ``SMS_RUN_WORKER_IN_APP`` is off); ``python -m smslib
worker`` builds one and waits on it until stopped. Any number of them may share one
store: batches are claimed under leases, the rate limit is one budget in the database,
and one report sync runs at a time. Each writes a heartbeat (``workers`` table), which
also renews the leases of the batches it is sending, and which the bulk page shows.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import threading
from datetime import datetime, timedelta, timezone
from typing import Any

from smslib.core.config import Settings
from smslib.gateway.connect import Gateway
from .jobs import JobRunner
from .reports import sync_reports
from .runner import Runner, Task
from smslib.store import Store, WorkerBeat, WorkerInfo

SYNC_TASK = "sync"
JOBS_TASK = "jobs"
BEAT_TASK = "heartbeat"
JOBS_INTERVAL = 2.0  # seconds between looks for due jobs (a schedule, a window, a 429) when idle
HEARTBEAT_EVERY = 5.0  # seconds between heartbeats (more often when SMS_LEASE_SECONDS is short)
ALIVE_WITHIN = timedelta(seconds=30)  # a worker silent for longer is shown as gone


def new_worker(kind: str) -> WorkerInfo:
    """This process as a worker: host, pid, and a random part (a pid is reused after a restart)."""
    host = socket.gethostname()
    return WorkerInfo(f"{host}:{os.getpid()}:{secrets.token_hex(3)}", kind, host, os.getpid(),
                      datetime.now(timezone.utc))


def heartbeat_interval(settings: Settings) -> float:
    """Often enough that a lease is renewed about three times before it would run out."""
    return min(HEARTBEAT_EVERY, settings.lease_seconds / 3)


def live_workers(store: Store, *, now: datetime | None = None) -> list[WorkerBeat]:
    """The workers and dashboard runners whose heartbeat is recent, the most recent first."""
    now = now or datetime.now(timezone.utc)
    return [beat for beat in store.list_workers() if beat.alive(now, ALIVE_WITHIN)]


def build_runner(gateway: Gateway, store: Store, settings: Settings, *, kind: str = "dashboard") -> Runner:
    """A runner (not yet started) with the report sync, the bulk jobs and the heartbeat."""
    worker = new_worker(kind)
    job_runner = JobRunner.from_settings(gateway.client, store, settings, worker_id=worker.id)

    def sync() -> Any:
        return sync_reports(gateway.client, store, pending_check_after=settings.pending_check_after)

    def beat() -> None:
        doing = {JOBS_TASK: job_runner.activity, SYNC_TASK: "syncing delivery reports"}.get(runner.busy_with, "idle")
        store.record_heartbeat(worker, doing=doing)
        # The holders of this worker's claims are "<worker id>/<n>" (JobRunner.holder_prefix).
        store.renew_leases(f"{worker.id}/", lease_seconds=settings.lease_seconds)

    def stopped() -> None:
        job_runner.close()
        store.forget_worker(worker.id)

    runner = Runner(
        [Task(SYNC_TASK, settings.sync_interval, sync), Task(JOBS_TASK, JOBS_INTERVAL, job_runner.run, wake_runs_it=True)],
        beat=Task(BEAT_TASK, heartbeat_interval(settings), beat),
        on_stop=stopped,
    )
    return runner


def run_worker(gateway: Gateway, store: Store, settings: Settings,
               stop: threading.Event | None = None) -> None:
    """Run the background work in this process until SIGTERM/SIGINT or ``stop`` is set."""
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    runner = build_runner(gateway, store, settings, kind="worker").start()
    try:
        while not stop.wait(0.5):
            pass
    finally:
        runner.stop()
