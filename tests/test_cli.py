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
