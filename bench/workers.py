"""Bulk-send throughput with 1, 2 and 4 worker processes on one PostgreSQL (``python -m bench.workers``).

Two gateways, both the sandbox on loopback: one that takes 100 ms per request and has no
rate limit (more workers send more), and one limited to 10 requests/s for the account with
SMS_RATE_LIMIT_REQUESTS=10 on every worker (more workers must not send more, nor get 429s).
The job is queued once every worker is up (its heartbeat), and SMS/s is counted from the
first message the gateway accepted to the last, so start-up (about 2 s) is left out. Needs the PostgreSQL server
binaries (apt-get install postgresql), as the tests do.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from smslib.services import jobs
from smslib.sandbox import SandboxConfig, serve_in_thread
from smslib.store import JobState, Store
from tests.postgres import PostgresServer, find_postgres_bin
from tests.test_workers import CountingBackend, make_job, numbers, stop_workers, worker_env

SCENARIOS = {
    "100 ms per request, no limit": dict(config=dict(hang_rate=1.0, hang_seconds=0.1), limit=0),
    "limit 10 requests/s": dict(config=dict(rate_limit=10), limit=10),
}


def measure(server: PostgresServer, workers: int, rows: int, batch_size: int, config: dict, limit: float,
            folder) -> tuple[float, int]:
    """SMS/s and 429s of one job sent by ``workers`` processes."""
    backend = CountingBackend(SandboxConfig(time_scale=0.001, fault_endpoints=("smses",), **config))
    sandbox = serve_in_thread(backend)
    url = server.create_database()
    started: list[subprocess.Popen] = []
    try:
        with Store(url) as store:
            env = worker_env(sandbox.url, url, folder, SMS_RATE_LIMIT_REQUESTS=str(limit), SMS_READ_TIMEOUT="5")
            started = [subprocess.Popen([sys.executable, "-m", "smslib", "worker"], env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                       for _ in range(workers)]
            deadline = time.monotonic() + 300
            while len(store.list_workers()) < workers:  # all started (their heartbeat): start-up left out
                if time.monotonic() > deadline:
                    raise RuntimeError("the workers did not start in 300 s")
                time.sleep(0.05)
            job = make_job(store, numbers(rows), batch_size=batch_size)
            while store.get_job(job.id).state is not JobState.DONE:
                if time.monotonic() > deadline:
                    raise RuntimeError("the job did not finish in 300 s")
                time.sleep(0.05)
            progress = jobs.job_progress(store, job.id)
        accepted = [m["accepted_at"] for m in backend.accepted_messages()]
        span = (max(accepted) - min(accepted)).total_seconds()
        assert progress.sent == rows and len(accepted) == rows
        return rows / span if span else float("inf"), backend.refused
    finally:
        stop_workers(started)
        sandbox.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.workers", description=__doc__)
    parser.add_argument("--rows", type=int, default=6000)
    parser.add_argument("--batch-size", type=int, default=100)
    args = parser.parse_args(argv)
    bin_dir = find_postgres_bin()
    if bin_dir is None:
        print("PostgreSQL server binaries not found: apt-get install postgresql", file=sys.stderr)
        return 1
    import tempfile
    from pathlib import Path

    folder = Path(tempfile.mkdtemp(prefix="bench-workers-"))
    server = PostgresServer(bin_dir).start()
    try:
        print(f"{args.rows:,} rows, {args.batch_size} per request, PostgreSQL, sandbox on loopback")
        print(f"{'gateway':32} {'workers':>7} {'SMS/s':>8} {'requests/s':>10} {'429s':>5}")
        for name, scenario in SCENARIOS.items():
            for workers in (1, 2, 4):
                rate, refused = measure(server, workers, args.rows, args.batch_size, scenario["config"],
                                        scenario["limit"], folder)
                print(f"{name:32} {workers:>7} {rate:>8,.0f} {rate / args.batch_size:>10.1f} {refused:>5}",
                      flush=True)
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
