"""Benchmarks 2 and 4: sending to the sandbox, and syncing the reports back into the store.

The sandbox serves in this process on loopback (``serve_in_thread``), with no faults and
no rate limit; its delays are scaled to nothing so every report is due at once. The store
is a SQLite file in a temporary folder. Everything runs in one process, so the client,
the store and the sandbox share one interpreter lock: the figures are those of a laptop
running the dashboard with its built-in sandbox, not of a dedicated gateway.

2a. One text to many recipients: a bulk job (``jobs.create_job`` + ``JobRunner.run``,
    the runner thread's own loop), 1,000 numbers per request.
2b. Personalised texts: a bulk job whose template makes every text different, so one
    request per recipient.
    Baseline for both: ``requests.post`` per recipient on a new connection. It is bounded
    to ``BASELINE_SENDS`` requests and its rate extrapolated (its cost per send is flat).
    Ceiling: requests per second the sandbox serves to a tight keep-alive client
    (``http.client`` on one connection, bodies prepared in advance).
4.  ``reports.sync_reports`` bringing every report of 2a into the store. Baseline: the same
    fetch, then one UPDATE per report (no report log, no acknowledgement).

2b is also measured against a sandbox in a process of its own (``SandboxProcess``), beside
that sandbox's own ceiling measured the same way: there the gateway's work does not share
our interpreter lock, so the runner's requests in flight overlap it, as they would a real
gateway's. Not an issue line; the in-process lines above stay as the issue defines them.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import shutil
import sqlite3
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd
import requests

from smslib.gateway.client import SmsClient
from smslib.services.jobs import JobRunner, create_job, job_progress
from smslib.services.planning import ColumnMapping, plan, validate
from smslib.services.reports import sync_reports
from smslib.sandbox import RunningSandbox, SandboxProcess, serve_in_thread
from smslib.store import JobState, Store

from .common import Result, print_table, timer

GOAL_BULK_SMS_PER_SECOND = 20_000
GOAL_SHARE_OF_CEILING = 0.80
GOAL_REPORTS_PER_SECOND = 20_000
BASELINE_SENDS = 2_000
TEXT = "Przypominamy o wizycie jutro o 10:00. Odpowiedz NIE, aby zrezygnować z powiadomień."


def phones(count: int, start: int = 0) -> list[str]:
    """Distinct valid Polish mobile numbers (E.164), none with a magic ending that never reports."""
    return [f"+4869{n:07d}" for n in range(start * 10 + 1, (start + count) * 10 + 1, 10)]


def sandbox() -> RunningSandbox:
    return serve_in_thread(seed=1, time_scale=0.0)


def separate_sandbox() -> SandboxProcess:
    """The sandbox in a process of its own, started and stopped by ``with``."""
    return SandboxProcess("--seed", "1", "--time-scale", "0")


def client_for(server: RunningSandbox | SandboxProcess) -> SmsClient:
    return SmsClient(server.url, server.username, server.password, read_timeout=60.0)


def run_bulk_job(store: Store, client: SmsClient, frame: pd.DataFrame, mapping: ColumnMapping,
                 batch_size: int) -> tuple[float, int]:
    """Plan and queue a job (not timed), then run it as the runner thread does (timed)."""
    planned = plan(validate(frame, mapping), batch_size)
    job = create_job(store, planned, name="bench")
    runner = JobRunner(client, store)
    with timer() as elapsed:
        while runner.run():
            pass
    seconds = elapsed()
    progress = job_progress(store, job.id)
    if progress.job.state is not JobState.DONE or progress.sent != job.total:
        raise RuntimeError(f"the job ended {progress.job.state.value} with {progress.sent} of {job.total} sent")
    return seconds, job.total


def baseline_posts(server: RunningSandbox, numbers: list[str], personalised: bool) -> float:
    """SMS per second of ``requests.post`` per recipient, a new connection each time."""
    auth = (server.username, server.password)
    with timer() as elapsed:
        for i, phone in enumerate(numbers):
            text = f"{TEXT} Kod: {i:06d}" if personalised else TEXT
            answer = requests.post(f"{server.url}/Smses", json={"Phone": [phone.lstrip("+")], "Message": text},
                                   auth=auth, timeout=30)
            answer.raise_for_status()
    return len(numbers) / elapsed()


def ceiling(server: RunningSandbox | SandboxProcess, requests_count: int) -> float:
    """Requests per second the sandbox answers to one tight keep-alive client (one SMS each)."""
    address = urlsplit(server.url)
    token = base64.b64encode(f"{server.username}:{server.password}".encode()).decode()
    headers = {"Content-Type": "application/json", "Authorization": f"Basic {token}"}
    bodies = [json.dumps({"Phone": [f"4869{n:07d}"], "Message": f"{TEXT} Kod: {n:06d}",
                          "TransactionId": f"ceiling-{n}"}).encode()
              for n in range(requests_count)]
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    try:
        with timer() as elapsed:
            for body in bodies:
                connection.request("POST", "/Smses", body, headers)
                answer = connection.getresponse()
                answer.read()
                if answer.status != 200:
                    raise RuntimeError(f"the sandbox answered {answer.status}")
        return requests_count / elapsed()
    finally:
        connection.close()


def baseline_sync(client: SmsClient, db_path: Path) -> float:
    """Reports per second: fetch them all (not marking read), then one UPDATE per report."""
    with timer() as elapsed:
        reports = client.delivery_reports(mark_as_read=False).reports
        db = sqlite3.connect(db_path)
        try:
            with db:
                for report in reports:
                    db.execute("UPDATE messages SET status_code = ?, delivered_at = ? WHERE message_id = ?",
                               (int(report.status), report.delivery_time, report.message_id))
        finally:
            db.close()
    return len(reports) / elapsed()


def run(quick: bool = False) -> list[Result]:
    recipients = 20_000 if quick else 100_000
    personalised = 1_000 if quick else 20_000
    baseline_sends = 500 if quick else BASELINE_SENDS
    results = []
    with tempfile.TemporaryDirectory(prefix="sms-bench-") as folder, sandbox() as server, \
            client_for(server) as client:
        db_path = Path(folder) / "sms.db"
        with Store(f"sqlite:///{db_path}") as store:
            # 2a: one text, 1,000 numbers a request.
            frame = pd.DataFrame({"Telefon": phones(recipients)})
            seconds, sent = run_bulk_job(store, client, frame, ColumnMapping("Telefon", template=TEXT), 1000)
            bulk_rate = sent / seconds
            base_rate = baseline_posts(server, phones(baseline_sends, start=recipients), personalised=False)
            results.append(Result(
                f"send_one_text_{recipients // 1000}k", bulk_rate, "SMS/s", base_rate, higher_is_better=True,
                goal=f">= {GOAL_BULK_SMS_PER_SECOND:,} SMS/s", met=bulk_rate >= GOAL_BULK_SMS_PER_SECOND,
                note=(f"{sent:,} recipients of one text in {seconds:.2f} s, a bulk job of 1,000-number requests; "
                      f"baseline measured on {baseline_sends:,} posts and extrapolated")))

            # 4: every report of 2a (and of the baseline's sends, which the store does not know).
            server.backend.force_deliver_all()
            copy = Path(folder) / "baseline.db"
            store.engine.dispose()
            shutil.copyfile(db_path, copy)
            base_reports = baseline_sync(client, copy)
            with timer() as elapsed:
                counts = sync_reports(client, store, pending_check_after=None)
            seconds = elapsed()
            handled = counts.new + counts.unknown
            report_rate = handled / seconds
            results.append(Result(
                f"report_sync_{recipients // 1000}k", report_rate, "reports/s", base_reports,
                higher_is_better=True, goal=f">= {GOAL_REPORTS_PER_SECOND:,} reports/s",
                met=report_rate >= GOAL_REPORTS_PER_SECOND and counts.new >= recipients,
                note=(f"{counts.new:,} new reports stored and {counts.acknowledged:,} acknowledged in "
                      f"{seconds:.2f} s (SQLite); baseline: fetch + one UPDATE per report")))

            # 2b: a different text per recipient, one request each.
            server.backend.reset()
            frame = pd.DataFrame({"Telefon": phones(personalised), "Kod": [f"{i:06d}" for i in range(personalised)]})
            seconds, sent = run_bulk_job(store, client, frame,
                                         ColumnMapping("Telefon", template=TEXT + " Kod: {Kod}"), 500)
            personal_rate = sent / seconds
            server.backend.reset()
            top = ceiling(server, 1000 if quick else 5000)
            server.backend.reset()
            base_rate = baseline_posts(server, phones(baseline_sends), personalised=True)
            results.append(Result(
                f"send_personalised_{personalised // 1000}k", personal_rate, "SMS/s", base_rate,
                higher_is_better=True, goal=f">= {GOAL_SHARE_OF_CEILING:.0%} of the ceiling ({top:,.0f} req/s)",
                met=personal_rate >= GOAL_SHARE_OF_CEILING * top,
                note=(f"{sent:,} different texts in {seconds:.2f} s, one request each = "
                      f"{personal_rate / top:.0%} of the sandbox's ceiling")))
            results.append(Result("sandbox_ceiling", top, "req/s", base_rate, higher_is_better=True,
                                  note="one keep-alive http.client connection, prepared bodies; "
                                       "baseline: requests.post on a new connection each"))

            # 2b against a sandbox in a process of its own, each measurement on a fresh one.
            with separate_sandbox() as gateway, client_for(gateway) as separate_client:
                seconds, sent = run_bulk_job(store, separate_client, frame,
                                             ColumnMapping("Telefon", template=TEXT + " Kod: {Kod}"), 500)
            separate_rate = sent / seconds
            with separate_sandbox() as gateway:
                separate_top = ceiling(gateway, 1000 if quick else 5000)
            results.append(Result(
                f"send_personalised_{personalised // 1000}k_separate_sandbox", separate_rate, "SMS/s", separate_top,
                higher_is_better=True, goal=f">= {GOAL_SHARE_OF_CEILING:.0%} of that sandbox's ceiling",
                met=separate_rate >= GOAL_SHARE_OF_CEILING * separate_top,
                note=(f"{sent:,} different texts in {seconds:.2f} s against python -m smslib.sandbox in its own "
                      f"process = {separate_rate / separate_top:.0%} of its ceiling ({separate_top:,.0f} req/s, "
                      "one keep-alive http.client connection, the baseline column); not an issue line")))
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sending")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    print_table("Sending and report sync", run(args.quick))


if __name__ == "__main__":
    main()
