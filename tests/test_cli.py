"""The command line end to end: a real process against the sandbox over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    full_env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), **env}
    return subprocess.run([sys.executable, "-m", "smslib", *args], env=full_env, cwd=cwd,
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def cli_env(sandbox, tmp_path):
    return {
        "SMS_API_URL": sandbox.url,
        "SMS_API_USERNAME": sandbox.username,
        "SMS_API_PASSWORD": sandbox.password,
        "SMS_SIMPLEAPI_EMAIL": sandbox.email,
        "SMS_SIMPLEAPI_PASSWORD": sandbox.simple_password,
        "SMS_DATA_DIR": str(tmp_path / "data"),
    }


def test_send_prints_one_phone_and_message_id_per_recipient(cli_env, sandbox, tmp_path):
    done = run_cli(["send", "48600100200", "48600100201", "--message", "Hello", "--sender", "ACME",
                    "--priority", "2", "--cost-center", "it", "--transaction-id", "cli-1"], cli_env, tmp_path)
    assert done.returncode == 0, done.stderr
    lines = [line.split("\t") for line in done.stdout.splitlines()]
    accepted = {m["message_id"]: m for m in sandbox.backend.accepted_messages()}
    assert [phone for phone, _ in lines] == ["48600100200", "48600100201"]
    assert all(accepted[mid]["phone"] == phone for phone, mid in lines)
    assert {m["transaction_id"] for m in accepted.values()} == {"cli-1"}


def test_send_through_simple_api(cli_env, sandbox, tmp_path):
    done = run_cli(["send", "48600100200", "--message", "Hello", "--simple"], cli_env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert len(sandbox.backend.accepted_messages()) == 1


def test_reports_prints_json_lines(cli_env, sandbox, tmp_path):
    sent = run_cli(["send", "48600100000", "48600100003", "--message", "Hello"], cli_env, tmp_path)
    ids = [line.split("\t")[1] for line in sent.stdout.splitlines()]
    sandbox.backend.force_deliver_all()
    done = run_cli(["reports", "--ids", *ids], cli_env, tmp_path)
    assert done.returncode == 0, done.stderr
    reports = {r["message_id"]: r for r in map(json.loads, done.stdout.splitlines())}
    assert reports[ids[0]]["status"] == 1 and reports[ids[0]]["status_name"] == "delivered"
    assert reports[ids[1]]["status"] == -3 and reports[ids[1]]["status_name"] == "rejected"


def test_a_wrong_password_is_one_line_on_stderr_without_traceback_or_secret(cli_env, tmp_path):
    cli_env["SMS_API_PASSWORD"] = "Wrong-Pass-123"
    done = run_cli(["send", "48600100200", "--message", "Hello"], cli_env, tmp_path)
    assert done.returncode == 1
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1
    assert "401" in done.stderr and "Traceback" not in done.stderr
    assert "Wrong-Pass-123" not in done.stderr


def test_an_invalid_setting_is_one_line_naming_it(cli_env, tmp_path):
    cli_env["SMS_READ_TIMEOUT"] = "soon"
    done = run_cli(["reports"], cli_env, tmp_path)
    assert done.returncode == 1
    assert "SMS_READ_TIMEOUT" in done.stderr and "Traceback" not in done.stderr


def test_a_gateway_field_error_is_reported_by_field(cli_env, tmp_path):
    done = run_cli(["send", "48600100200", "--message", "Hello", "--sender", "!!"], cli_env, tmp_path)
    assert done.returncode == 1
    assert "Sender" in done.stderr and "Traceback" not in done.stderr


def test_env_example_prints_every_setting(tmp_path):
    done = run_cli(["env-example"], {}, tmp_path)
    assert done.returncode == 0
    assert (ROOT / ".env.example").read_text() == done.stdout


def test_send_records_the_messages_in_the_store_and_sync_applies_their_reports(cli_env, sandbox, tmp_path):
    from smslib.store import MessageFilter, Store

    sent = run_cli(["send", "600 100 000", "+48 600-100-003", "--message", "Hello"], cli_env, tmp_path)
    assert sent.returncode == 0, sent.stderr
    assert [line.split("\t")[0] for line in sent.stdout.splitlines()] == ["48600100000", "48600100003"]
    sandbox.backend.force_deliver_all()
    synced = run_cli(["sync", "--json"], cli_env, tmp_path)
    assert synced.returncode == 0, synced.stderr
    assert json.loads(synced.stdout)["new"] == 2
    with Store(f"sqlite:///{tmp_path / 'data' / 'sms.db'}") as store:
        rows = {m.phone: m for m in store.query_messages(MessageFilter()).rows}
    assert rows["+48600100000"].state.value == "delivered"
    assert rows["+48600100003"].state.value == "rejected"
    assert {m.sent_by for m in rows.values()} == {"cli"}


def test_an_invalid_number_is_refused_before_anything_is_sent(cli_env, sandbox, tmp_path):
    done = run_cli(["send", "600100200", "12", "--message", "Hello"], cli_env, tmp_path)
    assert done.returncode == 1
    assert "12" in done.stderr and "Traceback" not in done.stderr
    assert sandbox.backend.accepted_messages() == []


def test_a_database_that_cannot_be_reached_is_one_line_without_its_password(cli_env, tmp_path):
    cli_env["SMS_DB_URL"] = "postgresql://sms:Db-Secret-77@127.0.0.1:1/sms"  # port 1: nothing listens
    done = run_cli(["sync"], cli_env, tmp_path)
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "message store cannot be used" in done.stderr and "SMS_DB_URL" in done.stderr
    assert "Traceback" not in done.stderr and "Db-Secret-77" not in done.stderr


# -- send-file: a start time and a daily window ---------------------------------------------------

ZONE = "America/New_York"  # not the default zone: the flags must read SMS_DISPLAY_TIMEZONE


@pytest.fixture
def contacts(tmp_path):
    source = tmp_path / "people.csv"
    source.write_text("Name,Phone\nAla,600100200\nEla,600100201\n", encoding="utf-8")
    return source


def send_file_args(source, *flags: str) -> list[str]:
    return ["send-file", str(source), "--phone-column", "Phone", "--template", "Hi {Name}", *flags]


def stored_jobs(tmp_path):
    from smslib.services import jobs
    from smslib.store import Store

    with Store(f"sqlite:///{tmp_path / 'data' / 'sms.db'}") as store:
        rows = store.query_messages().rows
        return [(job, [m for m in rows if m.job_id == job.id]) for job in jobs.list_jobs(store)]


def test_send_file_documents_the_start_time_and_the_window(tmp_path):
    done = run_cli(["send-file", "--help"], {}, tmp_path)
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    assert "--at DATE_TIME" in text and "2026-12-01T09:00" in text and "must be in the future" in text
    assert "--window HH:MM-HH:MM" in text and "08:00-20:00" in text and "SMS_DISPLAY_TIMEZONE" in text


def test_send_file_at_a_time_to_come_waits_for_it_then_sends_once(cli_env, sandbox, tmp_path, contacts):
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    cli_env["SMS_DISPLAY_TIMEZONE"] = ZONE
    # Far enough ahead that the CLI has started (imports and all) on a loaded machine before it comes.
    start = (datetime.now(ZoneInfo(ZONE)) + timedelta(seconds=15)).replace(microsecond=0)
    done = run_cli(send_file_args(contacts, "--at", start.replace(tzinfo=None).isoformat()), cli_env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"queued: starts at {start:%Y-%m-%d %H:%M:%S} ({ZONE})" in done.stderr
    assert done.stderr.count("waiting: scheduled for") == 1  # said once, not at every poll
    assert "done: sent 2, failed 0, uncertain 0, not sent 0" in done.stdout
    [(job, messages)] = stored_jobs(tmp_path)
    assert job.scheduled_at == start.astimezone(UTC)
    assert len(messages) == 2 and all(m.submitted_at >= start for m in messages)
    assert sorted(m["phone"] for m in sandbox.backend.accepted_messages()) == ["48600100200", "48600100201"]


def test_send_file_outside_its_window_waits_and_an_interrupt_leaves_the_job_queued(cli_env, sandbox, tmp_path,
                                                                                    contacts):
    import signal
    import time
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from smslib.store import JobState

    cli_env["SMS_DISPLAY_TIMEZONE"] = ZONE
    now = datetime.now(ZoneInfo(ZONE))
    opens, closes = now + timedelta(hours=2), now + timedelta(hours=3)
    window = f"{opens:%H:%M}-{closes:%H:%M}"
    process = subprocess.Popen([sys.executable, "-m", "smslib", *send_file_args(contacts, "--window", window)],
                               env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), **cli_env},
                               cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        said = ""
        deadline = time.monotonic() + 60
        while "waiting: outside the sending window" not in said and time.monotonic() < deadline:
            line = process.stderr.readline()
            if not line:
                break
            said += line
        assert f"outside the sending window {opens:%H:%M}–{closes:%H:%M} {ZONE}" in said, said
        process.send_signal(signal.SIGINT)
        out, rest = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130
    assert "stays queued" in rest and "Traceback" not in rest
    [(job, messages)] = stored_jobs(tmp_path)
    assert job.state is JobState.QUEUED and messages == []
    assert job.send_window == {"start": f"{opens:%H:%M}", "end": f"{closes:%H:%M}", "timezone": ZONE}
    assert sandbox.backend.accepted_messages() == []


def test_send_file_inside_its_window_sends_at_once(cli_env, sandbox, tmp_path, contacts):
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    cli_env["SMS_DISPLAY_TIMEZONE"] = ZONE
    now = datetime.now(ZoneInfo(ZONE))
    window = f"{now - timedelta(hours=1):%H:%M}-{now + timedelta(hours=1):%H:%M}"  # across midnight works too
    done = run_cli(send_file_args(contacts, "--window", window), cli_env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "waiting" not in done.stderr
    [(job, messages)] = stored_jobs(tmp_path)
    assert job.send_window["timezone"] == ZONE and len(messages) == 2
    assert len(sandbox.backend.accepted_messages()) == 2


@pytest.mark.parametrize("flags, said", [
    (["--at", "2020-01-01T09:00"], "--at 2020-01-01 09:00 is in the past"),
    (["--at", "2030-01-01"], "needs a time as well as the day"),
    (["--at", "soon"], "is not an ISO date or time"),
    (["--window", "8-20"], "--window '8-20' is not two times of day, e.g. 08:00-20:00."),
    (["--window", "08:00-25:00"], "is not two times of day"),
    (["--window", "09:00-09:00"], "starts when it ends"),
])
def test_send_file_refuses_a_past_or_unreadable_time_in_one_line_before_anything(cli_env, sandbox, tmp_path,
                                                                                contacts, flags, said):
    done = run_cli(send_file_args(contacts, *flags), cli_env, tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [done.stderr.strip()] and said in done.stderr
    assert done.stderr.startswith("error: ") and "Traceback" not in done.stderr
    assert done.stdout == ""  # refused before the file was read: no totals, no job
    assert sandbox.backend.accepted_messages() == []


def test_start_time_reads_the_local_zone_and_refuses_a_skipped_hour():
    from datetime import UTC, datetime, time as dtime

    from smslib.cli.main import send_window, start_time
    from smslib.core.errors import ValidationError

    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    assert start_time("2026-12-01T09:00", "Europe/Warsaw", now=now) == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert start_time("2026-12-01 09:00", ZONE, now=now) == datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
    assert start_time("2026-12-01T09:00+00:00", ZONE, now=now) == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    with pytest.raises(ValidationError, match="does not exist in Europe/Warsaw"):
        start_time("2027-03-28T02:30", "Europe/Warsaw", now=now)  # the clocks go from 02:00 to 03:00
    with pytest.raises(ValidationError, match="in the past"):
        start_time("2026-11-25T12:59", "Europe/Warsaw", now=now)  # 11:59 UTC
    overnight = send_window("22:00-06:30", ZONE)
    assert (overnight.start, overnight.end, overnight.timezone) == (dtime(22, 0), dtime(6, 30), ZONE)
