"""Bulk jobs: validation and planning (pure), and sending against the sandbox with faults."""

from __future__ import annotations

import collections
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime, time as dtime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from smslib.services import jobs
from smslib.services import planning
from smslib.gateway.client import SmsClient
from smslib.sandbox.backend import SANDBOX_PASSWORD, SANDBOX_USERNAME
from smslib.core.errors import ValidationError
from smslib.store import BatchState, JobState, Store, batches

ROOT = Path(__file__).resolve().parent.parent


def table(rows: list[dict[str, str]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows).astype("str")
    frame.index = pd.RangeIndex(2, len(frame) + 2, name="row")
    return frame


def numbers(count: int, start: int = 600_000_000) -> list[str]:
    return [f"+48{start + i}" for i in range(count)]


def sandbox_client(sandbox, **options) -> SmsClient:
    defaults = dict(read_timeout=0.3, retry_backoff=0.0, sleep=lambda seconds: None)
    return SmsClient(sandbox.url, sandbox.username, sandbox.password, **{**defaults, **options})


# -- validation ------------------------------------------------------------------------------


def test_each_invalid_row_says_why():
    frame = table([
        {"phone": "600 100 200", "text": "Hi", "prio": "1", "flash": "yes"},
        {"phone": "not a number", "text": "Hi", "prio": "", "flash": ""},
        {"phone": "600100201", "text": "  ", "prio": "", "flash": ""},
        {"phone": "600100202", "text": "x" * 1600, "prio": "", "flash": ""},
        {"phone": "600100203", "text": "Hi", "prio": "7", "flash": ""},
        {"phone": "600100204", "text": "Hi", "prio": "", "flash": "maybe"},
        {"phone": "600100205", "text": "Hi", "prio": "", "flash": ""},
        {"phone": "22 123 45 67", "text": "Hi", "prio": "", "flash": ""},
    ])
    mapping = planning.ColumnMapping("phone", message_column="text", priority_column="prio", flash_column="flash")
    result = planning.validate(frame, mapping, blocked=store_blocked({"+48600100205"}), mobile_only=True)
    reasons = result.rows["reason"].tolist()
    assert reasons[0] is None or pd.isna(reasons[0])
    assert reasons[1].startswith(planning.BAD_NUMBER)
    assert reasons[2] == planning.EMPTY_MESSAGE
    assert reasons[3].startswith(planning.TOO_LONG)
    assert reasons[4] == planning.BAD_PRIORITY
    assert reasons[5] == planning.BAD_FLASH
    assert reasons[6] == planning.BLOCKED
    assert reasons[7] == planning.LANDLINE_REASON
    assert result.valid.iloc[0][["phone", "priority", "flash"]].tolist() == ["+48600100200", 1, True]


def store_blocked(blocked: set[str]):
    return lambda phones: blocked & set(phones)


def test_an_unknown_placeholder_makes_every_row_invalid_with_that_reason():
    frame = table([{"phone": "600100200", "name": "Ala"}])
    result = planning.validate(frame, planning.ColumnMapping("phone", template="Hi {nmae}"))
    assert result.rows["reason"].iloc[0].startswith(planning.UNKNOWN_PLACEHOLDER)
    assert "Did you mean {name}" in result.rows["reason"].iloc[0]


def test_same_number_and_text_is_sent_once_and_counted_as_duplicate():
    frame = table([
        {"phone": "600100200", "name": "Ala"},
        {"phone": "+48 600-100-200", "name": "Ala"},
        {"phone": "600100200", "name": "Ola"},
    ])
    result = planning.validate(frame, planning.ColumnMapping("phone", template="Hi {name}"))
    totals = result.totals
    assert (totals.rows, totals.valid, totals.invalid, totals.duplicates, totals.unique_recipients) == (3, 2, 0, 1, 1)
    assert result.rows["status"].tolist() == ["valid", "duplicate", "valid"]


def test_totals_count_segments_billed():
    frame = table([{"phone": "600100200", "text": "a" * 161}, {"phone": "600100201", "text": "żółw"}])
    totals = planning.validate(frame, planning.ColumnMapping("phone", message_column="text")).totals
    assert (totals.segments, totals.billed, totals.max_segments) == (3, 3, 2)


def test_invalid_report_lists_row_number_number_and_reason():
    frame = table([{"phone": "600100200", "t": "Hi"}, {"phone": "12", "t": "Hi"}])
    report = planning.validate(frame, planning.ColumnMapping("phone", message_column="t")).invalid_report()
    assert report["row"].tolist() == [3]
    assert report["phone"].tolist() == ["12"]
    assert report["reason"].iloc[0].startswith(planning.BAD_NUMBER)


def test_a_missing_column_is_a_clear_error():
    with pytest.raises(ValidationError, match="no column 'tel'"):
        planning.validate(table([{"phone": "1"}]), planning.ColumnMapping("tel", message_column="phone"))


def test_guess_phone_column_by_name_then_by_values():
    assert planning.guess_phone_column(table([{"name": "A", "Telefon": "600100200"}])) == "Telefon"
    assert planning.guess_phone_column(table([{"name": "A", "x": "600100200"}])) == "x"


# -- planning --------------------------------------------------------------------------------


def test_plan_groups_same_text_and_options_into_requests_of_batch_size():
    rows = [{"phone": p, "text": "A", "sender": "ACME"} for p in numbers(5)]
    rows += [{"phone": p, "text": "B", "sender": "ACME"} for p in numbers(2, 700_000_000)]
    rows += [{"phone": p, "text": "A", "sender": "Other"} for p in numbers(1, 800_000_000)]
    validation = planning.validate(table(rows), planning.ColumnMapping("phone", message_column="text", sender_column="sender"))
    planned = planning.plan(validation, batch_size=2)
    assert [(b.text, b.options.sender, len(b.phones)) for b in planned] == [
        ("A", "ACME", 2), ("A", "ACME", 2), ("A", "ACME", 1), ("B", "ACME", 2), ("A", "Other", 1)]
    assert [b.seq for b in planned] == [1, 2, 3, 4, 5]
    assert planned[0].source_rows == (2, 3)


def test_batch_size_above_the_gateway_limit_is_refused():
    validation = planning.validate(table([{"p": "600100200", "t": "x"}]), planning.ColumnMapping("p", message_column="t"))
    with pytest.raises(ValidationError):
        planning.plan(validation, batch_size=1001)


def test_validate_and_plan_100k_rows_fast():
    phones = numbers(100_000, 500_000_000)
    frame = table([{"phone": p, "name": "Ala"} for p in phones])
    started = time.perf_counter()
    validation = planning.validate(frame, planning.ColumnMapping("phone", template="Hi {name}"))
    planned = planning.plan(validation, batch_size=500)
    elapsed = time.perf_counter() - started
    print(f"100k rows validated and planned in {elapsed:.2f} s")
    assert len(planned) == 200 and validation.totals.valid == 100_000


# -- send window ------------------------------------------------------------------------------


def test_send_window_in_its_own_time_zone_and_across_midnight():
    window = jobs.SendWindow(dtime(8), dtime(20), "Europe/Warsaw")
    assert window.is_open(datetime(2026, 7, 1, 6, 30, tzinfo=timezone.utc))   # 08:30 CEST
    assert not window.is_open(datetime(2026, 7, 1, 5, 30, tzinfo=timezone.utc))
    assert window.next_open(datetime(2026, 7, 1, 19, 0, tzinfo=timezone.utc)) == datetime(
        2026, 7, 2, 6, 0, tzinfo=timezone.utc)
    night = jobs.SendWindow(dtime(22), dtime(6), "UTC")
    assert night.is_open(datetime(2026, 1, 1, 23, tzinfo=timezone.utc))
    assert not night.is_open(datetime(2026, 1, 1, 12, tzinfo=timezone.utc))


# -- jobs against the sandbox --------------------------------------------------------------------


def make_job(store, phones, *, invalid=(), batch_size=50, **job_options):
    rows = [{"phone": p, "name": "Ala"} for p in phones] + [{"phone": p, "name": "X"} for p in invalid]
    validation = planning.validate(table(rows), planning.ColumnMapping("phone", template="Hello {name}"))
    return jobs.create_job(store, planning.plan(validation, batch_size), name="test", **job_options)


def accepted_phones(sandbox) -> collections.Counter:
    return collections.Counter("+" + m["phone"].lstrip("+") for m in sandbox.backend.accepted_messages())


def test_all_batches_are_written_before_anything_is_sent(store, sandbox):
    job = make_job(store, numbers(120))
    assert job.state is JobState.QUEUED and job.total == 120
    with store.engine.connect() as connection:
        rows = connection.execute(sa.select(batches.c.seq, batches.c.transaction_id, batches.c.state)
                                  .where(batches.c.job_id == job.id).order_by(batches.c.seq)).all()
    assert [r.state for r in rows] == ["pending"] * 3
    assert [r.transaction_id for r in rows] == [jobs.transaction_id(job.settings["nonce"], job.id, s) for s in (1, 2, 3)]
    assert sandbox.backend.accepted_messages() == []


@pytest.mark.parametrize("in_flight", [1, 8], ids=["one-at-a-time", "rounds-of-8"])
def test_job_with_faults_sends_every_valid_row_exactly_once(store, sandbox, in_flight):
    phones = numbers(3000)
    invalid = ["12", "not a phone", "+1 555"]
    job = make_job(store, phones, invalid=invalid, batch_size=50)
    sandbox.backend.configure_faults(fail_rate=0.1, hang_rate=0.05, hang_after_accept_rate=0.05, hang_seconds=0.5)
    with sandbox_client(sandbox) as client:
        progress = jobs.JobRunner(client, store, requests_in_flight=in_flight).run_job(job.id, idle_sleep=0.05)
    sandbox.backend.configure_faults(fail_rate=0.0, hang_rate=0.0, hang_after_accept_rate=0.0)
    assert sandbox.backend.wait_idle(timeout=10)
    sent = accepted_phones(sandbox)
    assert set(sent) == set(phones) and max(sent.values()) == 1
    assert progress.job.state is JobState.DONE
    assert (progress.sent, progress.failed, progress.uncertain, progress.waiting) == (3000, 0, 0, 0)
    results = jobs.job_rows(store, job.id)
    assert len(results) == 3000 and results["message_id"].notna().all()


def test_without_deduplication_ambiguous_batches_wait_for_a_person(store, sandbox):
    phones = numbers(200)
    job = make_job(store, phones, batch_size=20)
    sandbox.backend.configure_faults(fail_rate=0.3)
    with sandbox_client(sandbox, gateway_deduplicates=False) as client:
        progress = jobs.JobRunner(client, store, gateway_deduplicates=False).run_job(job.id, idle_sleep=0.05)
        assert progress.job.state is JobState.DONE and progress.uncertain > 0
        sandbox.backend.configure_faults(fail_rate=0.0)
        uncertain = jobs.uncertain_batches(store, job.id)
        for batch in uncertain[:-1]:
            assert jobs.resend_uncertain(client, store, batch.id).accepted
    assert jobs.mark_uncertain_as_sent(store, uncertain[-1].id)
    progress = jobs.job_progress(store, job.id)
    assert progress.uncertain == 0 and progress.sent == 200
    sent = accepted_phones(sandbox)
    assert max(sent.values()) == 1
    assert set(sent) == set(phones) - set(uncertain[-1].phones)  # a 503 sends nothing in the sandbox


def test_pause_resume_and_cancel(store, sandbox):
    job = make_job(store, numbers(100), batch_size=10)
    with sandbox_client(sandbox) as client:
        runner = jobs.JobRunner(client, store)
        assert runner.run_next_batch(job.id)
        jobs.pause(store, job.id)
        assert not runner.run_next_batch(job.id)
        assert jobs.job_progress(store, job.id).sent == 10
        jobs.resume(store, job.id)
        assert runner.run_next_batch(job.id)
        jobs.cancel(store, job.id)
        assert not runner.run_next_batch(job.id) and not runner.run()
    progress = jobs.job_progress(store, job.id)
    assert (progress.job.state, progress.sent, progress.waiting) == (JobState.CANCELLED, 20, 80)
    assert len(sandbox.backend.accepted_messages()) == 20
    with pytest.raises(ValidationError, match="is cancelled"):
        jobs.resume(store, job.id)


class PausingPacer:
    """A pacer that pauses the job when the first request of a round asks to go."""

    def __init__(self, store, job_id: int) -> None:
        self.store, self.job_id, self.asked = store, job_id, 0
        self._lock = threading.Lock()

    def book(self, sms: int) -> float:
        with self._lock:
            self.asked += 1
            if self.asked == 1:
                jobs.pause(self.store, self.job_id)
        return 0.0


def test_a_pause_during_a_round_stops_the_job_at_the_next_round(store, sandbox):
    job = make_job(store, numbers(100), batch_size=10)
    with sandbox_client(sandbox) as client:
        runner = jobs.JobRunner(client, store, requests_in_flight=4, pacer=PausingPacer(store, job.id))
        assert runner.run() is False  # paused
        progress = jobs.job_progress(store, job.id)
        # The round under way when the pause came went out and was recorded, all 4 batches of it; no more.
        assert (progress.job.state, progress.sent, progress.batches) == (
            JobState.PAUSED, 40, {"accepted": 4, "pending": 6})
        assert len(sandbox.backend.accepted_messages()) == 40
        jobs.resume(store, job.id)
        runner.pacer = jobs.Pacer()
        assert runner.run_job(job.id, idle_sleep=0.01).sent == 100
    assert set(accepted_phones(sandbox).values()) == {1}
    runner.close()


def test_a_batch_waiting_its_turn_under_the_rate_limit_keeps_its_lease(store, sandbox):
    job = make_job(store, numbers(20), batch_size=10)  # one round of 2 batches, 1 request/s: one waits 1 s
    taken: list = []

    def sleep(seconds: float) -> None:
        # Another sender looks for work when the waiting batch's turn comes, after its first lease ran out.
        later = datetime.now(timezone.utc) + timedelta(seconds=seconds)
        taken.extend(store.claim_batches(job.id, "another/1", 10, lease_seconds=60, now=later))

    pacer = jobs.Pacer(requests_per_second=1, clock=lambda: 0.0, sleep=sleep)
    with sandbox_client(sandbox) as client:
        runner = jobs.JobRunner(client, store, requests_in_flight=2, lease_seconds=0.5, pacer=pacer)
        runner.run()
        runner.close()
    assert taken == []
    progress = jobs.job_progress(store, job.id)
    assert (progress.job.state, progress.sent) == (JobState.DONE, 20) and set(accepted_phones(sandbox).values()) == {1}


def test_a_round_is_claimed_in_one_transaction_and_recorded_in_another(store, sandbox):
    job = make_job(store, numbers(80), batch_size=10)  # 8 batches: one round of 8
    with sandbox_client(sandbox) as client:
        runner = jobs.JobRunner(client, store, requests_in_flight=8)
        before = store.change_counter()
        runner.run()
        runner.close()
    progress = jobs.job_progress(store, job.id)
    assert (progress.job.state, progress.sent) == (JobState.DONE, 80)
    # queued -> running, the claim, the answers, done: each batch did not cost a transaction of its own
    assert store.change_counter() - before == 4


def test_a_scheduled_job_or_one_outside_its_window_waits_and_says_so(store, sandbox):
    later = make_job(store, numbers(5), scheduled_at=datetime.now(timezone.utc) + timedelta(hours=1))
    now = datetime.now(timezone.utc)
    closed = jobs.SendWindow(dtime((now.hour + 2) % 24), dtime((now.hour + 3) % 24), "UTC")
    outside = make_job(store, numbers(5, 700_000_000), send_window=closed)
    with sandbox_client(sandbox) as client:
        runner = jobs.JobRunner(client, store)
        assert runner.run() is False
    assert sandbox.backend.accepted_messages() == []
    assert jobs.job_progress(store, later.id).waiting_for.startswith("scheduled for")
    assert "outside the sending window" in jobs.job_progress(store, outside.id).waiting_for


def test_rate_limit_spaces_requests():
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = jobs.Pacer(sms_per_second=100, requests_per_second=0, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        pacer.wait(50)
    assert slept == [0.5, 0.5]


def test_runner_task_runs_queued_jobs(store, sandbox):
    from smslib.services.runner import Runner, Task

    job = make_job(store, numbers(60), batch_size=25)
    with sandbox_client(sandbox) as client:
        runner = Runner([Task("jobs", 0.05, jobs.JobRunner(client, store).run, wake_runs_it=True)]).start()
        try:
            runner.wake()
            deadline = time.monotonic() + 30
            while store.get_job(job.id).state is not JobState.DONE and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            runner.stop()
    assert store.get_job(job.id).state is JobState.DONE
    assert len(sandbox.backend.accepted_messages()) == 60


# -- the database refusing writes mid-job -----------------------------------------------------------


@pytest.mark.parametrize("refusal, reason", [
    ("database or disk is full", "the disk holding the database is full"),
    ("database is locked", "the database stayed locked by another program"),
])
def test_a_database_refusing_writes_pauses_the_job_with_the_reason_and_loses_nothing(
        tmp_path, sandbox, refusal, reason):
    phones = numbers(100)
    with Store(f"sqlite:///{tmp_path / 'sms.db'}") as store:
        job = make_job(store, phones, batch_size=10)

        def refuse_messages(connection, cursor, statement, *args):
            # The gateway has accepted the batch; recording its messages is what fails.
            if statement.lstrip().upper().startswith("INSERT INTO MESSAGES"):
                raise sqlite3.OperationalError(refusal)

        with sandbox_client(sandbox) as client:
            runner = jobs.JobRunner(client, store)
            assert runner.run_next_batch(job.id)  # the first batch goes through
            sa.event.listen(store.engine, "before_cursor_execute", refuse_messages)
            try:
                assert runner.run_next_batch(job.id) is False
            finally:
                sa.event.remove(store.engine, "before_cursor_execute", refuse_messages)
            paused = store.get_job(job.id)
            assert paused.state is JobState.PAUSED
            assert reason in paused.last_error and "Nothing is lost" in paused.last_error
            assert "INSERT" not in paused.last_error  # a sentence, not the SQL
            states = [b.state for b in store_batches(store, job.id)]
            assert states.count(BatchState.ACCEPTED) == 1 and states.count(BatchState.SENDING) == 1
            assert runner.run_next_batch(job.id) is False  # paused: nothing more goes out

            jobs.resume(store, job.id)
            progress = runner.run_job(job.id, idle_sleep=0.01)
    assert (progress.job.state, progress.sent, progress.failed, progress.uncertain) == (JobState.DONE, 100, 0, 0)
    sent = accepted_phones(sandbox)
    assert set(sent) == set(phones) and max(sent.values()) == 1  # the interrupted batch went out once


def test_a_database_refusing_the_record_of_a_round_pauses_the_job_and_sends_nothing_twice(tmp_path, sandbox):
    phones = numbers(100)
    with Store(f"sqlite:///{tmp_path / 'sms.db'}") as store:
        job = make_job(store, phones, batch_size=10)

        def refuse_messages(connection, cursor, statement, *args):
            if statement.lstrip().upper().startswith("INSERT INTO MESSAGES"):
                raise sqlite3.OperationalError("database or disk is full")

        with sandbox_client(sandbox) as client:
            runner = jobs.JobRunner(client, store, requests_in_flight=4)
            sa.event.listen(store.engine, "before_cursor_execute", refuse_messages)
            try:
                assert runner.run() is False
            finally:
                sa.event.remove(store.engine, "before_cursor_execute", refuse_messages)
            assert store.get_job(job.id).state is JobState.PAUSED
            under_way = [b for b in store_batches(store, job.id) if b.state is BatchState.SENDING]
            assert len(under_way) == 4  # the whole round: sent, not recorded, its leases ended for the resume
            assert all(b.lease_expires_at <= datetime.now(timezone.utc) for b in under_way)
            assert len(sandbox.backend.accepted_messages()) == 40
            jobs.resume(store, job.id)
            progress = runner.run_job(job.id, idle_sleep=0.01)
            runner.close()
    assert (progress.job.state, progress.sent) == (JobState.DONE, 100)
    sent = accepted_phones(sandbox)
    assert set(sent) == set(phones) and max(sent.values()) == 1  # the round went again with its TransactionIds


def store_batches(store, job_id):
    with store.engine.connect() as connection:
        ids = connection.execute(sa.select(batches.c.id).where(batches.c.job_id == job_id)).scalars().all()
    return [store.get_batch(i) for i in ids]


# -- a worker killed mid-job ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on port {port}")


def test_worker_killed_mid_job_finishes_it_without_duplicates(tmp_path):
    port = free_port()
    log = tmp_path / "sandbox.log"
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT)}
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "smslib.sandbox", "--db", str(tmp_path / "sandbox.db"), "--log", str(log),
         "--port", str(port), "--time-scale", "0.001", "--fail-rate", "0.05", "--hang-after-accept-rate", "0.05",
         "--hang-seconds", "0.4"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        db_url = f"sqlite:///{tmp_path / 'sms.db'}"
        worker_env = {**env, "SMS_API_URL": f"http://127.0.0.1:{port}", "SMS_API_USERNAME": SANDBOX_USERNAME,
                      "SMS_API_PASSWORD": SANDBOX_PASSWORD, "SMS_DB_URL": db_url, "SMS_DATA_DIR": str(tmp_path),
                      "SMS_READ_TIMEOUT": "0.3", "SMS_RETRY_BACKOFF": "0", "SMS_SYNC_INTERVAL": "3600"}
        phones = numbers(2000)
        with Store(db_url) as store:
            job = make_job(store, phones, batch_size=20)

            def start_worker():
                return subprocess.Popen([sys.executable, "-m", "smslib", "worker"], env=worker_env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

            worker = start_worker()
            deadline = time.monotonic() + 60
            while jobs.job_progress(store, job.id).sent < 600 and time.monotonic() < deadline:
                time.sleep(0.02)
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
            killed_at = jobs.job_progress(store, job.id)
            assert 0 < killed_at.sent < 2000
            # Time passes: the dead worker's lease on a batch it was sending runs out.
            with store.atomic() as connection:
                connection.execute(sa.update(batches).where(batches.c.state == BatchState.SENDING.value)
                                   .values(lease_expires_at=datetime.now(timezone.utc) - timedelta(seconds=1)))
            worker = start_worker()
            try:
                deadline = time.monotonic() + 120
                while store.get_job(job.id).state is not JobState.DONE and time.monotonic() < deadline:
                    time.sleep(0.1)
            finally:
                worker.send_signal(signal.SIGTERM)
                worker.wait(20)
            progress = jobs.job_progress(store, job.id)
        assert progress.job.state is JobState.DONE
        assert (progress.sent, progress.failed, progress.uncertain) == (2000, 0, 0)
        sent = collections.Counter("+" + json.loads(line)["phone"].lstrip("+")
                                   for line in log.read_text().splitlines() if line.strip())
        assert set(sent) == set(phones) and max(sent.values()) == 1
    finally:
        sandbox.send_signal(signal.SIGINT)
        try:
            sandbox.wait(10)
        except subprocess.TimeoutExpired:
            sandbox.kill()


# -- the command line -----------------------------------------------------------------------------


def test_cli_send_file_validates_sends_and_summarises(sandbox, tmp_path):
    source = tmp_path / "people.csv"
    source.write_text("Name,Phone\nAla,600100200\nOla,12\nEla,600100201\n", encoding="utf-8")
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), "SMS_API_URL": sandbox.url,
           "SMS_API_USERNAME": sandbox.username, "SMS_API_PASSWORD": sandbox.password,
           "SMS_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run([sys.executable, "-m", "smslib", "send-file", str(source), "--phone-column", "Phone",
                           "--template", "Hi {Name}", "--sender", "ACME"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "rows 3, valid 2, invalid 1" in done.stdout
    assert "invalid row 3\t12\tbad number" in done.stdout
    assert "done: sent 2, failed 0, uncertain 0, not sent 0" in done.stdout
    assert sorted((m["phone"], m["message"], m["sender"]) for m in sandbox.backend.accepted_messages()) == [
        ("48600100200", "Hi Ala", "ACME"), ("48600100201", "Hi Ela", "ACME")]
