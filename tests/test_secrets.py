"""No secret ever shows: every configured password is a unique marker, everything the
dashboard and the CLI can do is done — error paths included — and every output, log
line, exception, export and database row is searched for the markers (also as they
would look Base64-encoded in a Basic Auth header, or URL-quoted)."""

from __future__ import annotations

import base64
import io
import logging
import os
import signal
import subprocess
import sys
import zipfile
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from smslib.cli import main as cli
from smslib.services import jobs
from smslib.core.config import Settings
from smslib.core.errors import SmsError
from smslib.gateway.connect import connect
from smslib.services.history import export_messages
from smslib.sandbox import serve_in_thread
from smslib.rules.spreadsheet import write_table
from smslib.store import MessageFilter, Store
from ui import resources

from .canned import free_port
from .test_access import session_dump

ROOT = Path(__file__).resolve().parent.parent
USER = "acme"
EMAIL = "ops@example.com"
API = "mArKeR-api-5d1f0a"           # SMS_API_PASSWORD (the right one)
SIMPLE = "mArKeR-simple-8e2c6b"     # SMS_SIMPLEAPI_PASSWORD
DASH = "mArKeR-dash-3b7a99"         # DASHBOARD_PASSWORD (typed into the login form too)
DB = "mArKeR-db-9c4e21"             # the password inside SMS_DB_URL
WRONG = "mArKeR-wrong-77aa10"       # a wrong SMS_API_PASSWORD, for the error paths
TYPED = "mArKeR-typed-1c2d3e"       # a wrong dashboard password someone types
MARKERS = (API, SIMPLE, DASH, DB, WRONG, TYPED)


def forms(marker: str) -> list[str]:
    """How a marker could leak: as is, URL-quoted, or inside a Basic Auth header."""
    basic = base64.b64encode(f"{USER}:{marker}".encode()).decode()
    return [marker, marker.lower(), quote(marker), basic]


def assert_clean(text: str, where: str) -> None:
    for marker in MARKERS:
        for form in forms(marker):
            assert form not in text, f"a secret ({marker}) leaked into {where}"


@pytest.fixture(scope="module")
def gateway_with_secrets():
    """A sandbox whose credentials are the markers (as a real account's would be secret)."""
    server = serve_in_thread(username=USER, password=API, email=EMAIL, simple_password=SIMPLE, seed=7,
                             time_scale=0.001)
    yield server
    server.stop()


@pytest.fixture
def env(gateway_with_secrets, tmp_path, monkeypatch, caplog):
    for name in list(os.environ):
        if name.startswith(("SMS_", "DASHBOARD_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    values = dict(
        SMS_API_URL=gateway_with_secrets.url, SMS_API_USERNAME=USER, SMS_API_PASSWORD=API,
        SMS_SIMPLEAPI_EMAIL=EMAIL, SMS_SIMPLEAPI_PASSWORD=SIMPLE, DASHBOARD_PASSWORD=DASH,
        SMS_DATA_DIR=str(tmp_path / "data"), SMS_RUN_WORKER_IN_APP="false", SMS_RETRY_BACKOFF="0",
        SMS_RETRY_ATTEMPTS="2", SMS_CONNECT_TIMEOUT="2", SMS_READ_TIMEOUT="5",
    )
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    caplog.set_level(logging.DEBUG)  # urllib3, sqlalchemy, streamlit: everything they would log
    resources.shutdown()
    yield monkeypatch
    resources.shutdown()
    assert_clean(caplog.text, "the log")


# -- what a page shows -------------------------------------------------------------------------


def page_text(at: AppTest) -> str:
    """Every element of the rendered page (widget values, tables, sidebar) as text."""
    out: list[str] = []

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None:
            out.append(str(proto))
        for child in (getattr(node, "children", None) or {}).values():
            walk(child)

    walk(at._tree)
    out.extend(str(e.value) for e in at.exception)
    return "\n".join(out)


def check(at: AppTest, step: str) -> AppTest:
    assert not at.exception, (step, at.exception)
    assert_clean(page_text(at), f"the page after {step}")
    assert_clean(session_dump(at), f"the session state after {step}")
    return at


def logged_in_app() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    at.text_input(key="auth.password").input(TYPED)
    next(b for b in at.button if b.label == "Log in").click().run()
    check(at, "a wrong dashboard password")
    assert any("Wrong password" in e.value for e in at.error)
    at.text_input(key="auth.password").input(DASH)
    next(b for b in at.button if b.label == "Log in").click().run()
    return check(at, "logging in")


def compose_send(at: AppTest, channel=None) -> AppTest:
    at.switch_page("pages/compose.py").run()
    at.text_area(key="compose.recipients").input("600100000, 600100001").run()
    at.text_area(key="compose.text").input("Hello, nothing secret here").run()
    if channel is not None:
        at.radio(key="compose.channel").set_value(channel).run()
    at.button(key="compose.review").click().run()
    check(at, "the confirmation")
    at.button(key="compose.send").click().run()
    return check(at, "a send")


def scan_store(url: str) -> None:
    """Every text column of every table of the store."""
    engine = sa.create_engine(url)
    try:
        metadata = sa.MetaData()
        metadata.reflect(engine)
        with engine.connect() as connection:
            for table in metadata.sorted_tables:
                for row in connection.execute(sa.select(table)):
                    assert_clean(repr(tuple(row)), f"table {table.name}")
    finally:
        engine.dispose()


def scan_export(data: bytes, what: str) -> None:
    if data[:2] == b"PK":  # XLSX: the cells are in the zipped XML
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            data = b"".join(archive.read(name) for name in archive.namelist())
    assert_clean(data.decode("utf-8", "replace"), what)


def test_every_page_and_export_with_the_right_credentials(env, gateway_with_secrets):
    from smslib.core.models import Channel

    at = logged_in_app()
    compose_send(at)
    compose_send(at, Channel.SIMPLEAPI)
    at.switch_page("pages/bulk.py").run()
    at.file_uploader(key="bulk.file").set_value(
        ("people.csv", b"phone,text\n600100002,hi\n12,bad\n600100003,=1+1\n", "text/csv")).run()
    at.radio(key="bulk.mode").set_value("From a column").run()
    at.selectbox(key="bulk.message_column").set_value("text").run()
    at.button(key="bulk.validate").click().run()
    check(at, "a bulk validation")
    at.checkbox(key="bulk.confirm").check().run()
    at.button(key="bulk.start").click().run()
    check(at, "starting a job")
    store, settings = resources.store(), resources.settings()
    job_id = at.session_state["bulk.job_id"]
    jobs.JobRunner.from_settings(resources.gateway().client, store, settings).run_job(job_id)
    gateway_with_secrets.backend.force_deliver_all()
    at.switch_page("pages/bulk.py").run()
    check(at, "the job's results")
    at.switch_page("pages/history.py").run()
    at.button(key="history.sync_button").click().run()
    check(at, "a report sync")
    for page in ("pages/home.py", "pages/analytics.py"):
        at.switch_page(page).run()
        check(at, page)

    for fmt in ("csv", "xlsx"):
        scan_export(export_messages(store, MessageFilter(), fmt, settings.display_timezone), f"history {fmt}")
        scan_export(write_table(jobs.job_rows(store, job_id), fmt), f"job results {fmt}")
    assert_clean(repr(settings) + repr(resources.gateway().client) + repr(store), "a repr")
    scan_store(settings.store_url)


@pytest.mark.parametrize("fault", ["wrong password", "gateway down"])
def test_pages_on_the_gateways_error_paths(env, fault):
    from smslib.core.models import Channel

    if fault == "wrong password":
        env.setenv("SMS_API_PASSWORD", WRONG)
        env.setenv("SMS_SIMPLEAPI_PASSWORD", WRONG)
    else:
        env.setenv("SMS_API_URL", f"http://127.0.0.1:{free_port()}")
    at = logged_in_app()
    assert at.sidebar.error
    compose_send(at)
    compose_send(at, Channel.SIMPLEAPI)
    at.switch_page("pages/history.py").run()
    at.button(key="history.sync_button").click().run()
    check(at, f"a report sync with the {fault}")
    scan_store(resources.settings().store_url)


def test_the_app_when_the_database_cannot_be_reached(env):
    env.setenv("SMS_DB_URL", f"postgresql://sms:{DB}@127.0.0.1:{free_port()}/sms")
    at = logged_in_app()
    assert any("message store" in e.value for e in at.error), [e.value for e in at.error]


def test_a_bad_database_url_or_hash_is_refused_without_the_secret(env):
    env.setenv("SMS_DB_URL", f"sqlite://sms:{DB}@/nowhere.db")  # SQLite takes no password
    with pytest.raises(Exception) as caught:  # noqa: B017 - the store's to choose; it must not show the password
        Store.from_settings(Settings.from_env())
    assert_clean(str(caught.value) + repr(caught.value), "the store's error")
    with pytest.raises(SmsError) as caught:
        Settings.from_env({"DASHBOARD_PASSWORD_HASH": DASH}, dotenv_path=None)
    assert_clean(str(caught.value) + repr(caught.value), "the settings' error")


# -- the command line ------------------------------------------------------------------------------


def run(capsys, *argv: str) -> tuple[int | None, str]:
    """One CLI command in-process: its exit status and everything it printed (or raised)."""
    try:
        status = cli.main(list(argv))
    except SystemExit as e:  # argparse's usage errors
        status = e.code
    except Exception as e:  # noqa: BLE001 - a crash is reported, and checked for secrets too
        status = None
        captured = capsys.readouterr()
        return status, captured.out + captured.err + repr(e) + str(e)
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def test_every_cli_command_and_its_error_paths(env, gateway_with_secrets, capsys, tmp_path, monkeypatch):
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("phone;name\n600100004;Ala\n600100005;Ola\n12;bad\n")
    outputs: dict[str, tuple] = {}
    outputs["send"] = run(capsys, "send", "600100006", "-m", "hi")
    outputs["send --simple"] = run(capsys, "send", "600100007", "-m", "hi", "--simple")
    outputs["reports"] = run(capsys, "reports")
    outputs["sync"] = run(capsys, "sync", "--json")
    outputs["send-file"] = run(capsys, "send-file", str(contacts), "--phone-column", "phone", "--template",
                               "Hi {name}")
    outputs["env-example"] = run(capsys, "env-example")
    outputs["usage error"] = run(capsys, "send")
    monkeypatch.setattr(sys, "stdin", io.StringIO(DASH + "\n"))
    outputs["hash-password"] = run(capsys, "hash-password")
    assert [outputs[k][0] for k in ("send", "send --simple", "sync", "env-example", "hash-password")] == [0] * 5
    scan_store(Settings.from_env().store_url)

    env.setenv("SMS_API_PASSWORD", WRONG)
    env.setenv("SMS_SIMPLEAPI_PASSWORD", WRONG)
    outputs["send, wrong password"] = run(capsys, "send", "600100008", "-m", "hi")
    outputs["send --simple, wrong password"] = run(capsys, "send", "600100008", "-m", "hi", "--simple")
    outputs["reports, wrong password"] = run(capsys, "reports")
    env.setenv("SMS_API_URL", f"http://127.0.0.1:{free_port()}")
    outputs["send, gateway down"] = run(capsys, "send", "600100009", "-m", "hi")
    outputs["sync, gateway down"] = run(capsys, "sync")
    env.setenv("SMS_DB_URL", f"postgresql://sms:{DB}@127.0.0.1:{free_port()}/sms")
    outputs["sync, database down"] = run(capsys, "sync")
    env.setenv("SMS_BATCH_SIZE", "lots")
    outputs["a bad setting"] = run(capsys, "sync")
    for what, (status, text) in outputs.items():
        assert_clean(text, f"the output of {what}")
    print({what: status for what, (status, _) in outputs.items()})
    for what in ("send, wrong password", "reports, wrong password", "send, gateway down", "a bad setting"):
        assert outputs[what][0] == 1, (what, outputs[what])
    assert "refused the credentials" in outputs["send, wrong password"][1]


def test_the_worker_prints_no_secret(env, tmp_path):
    env.setenv("SMS_SYNC_INTERVAL", "0.2")
    worker = subprocess.Popen([sys.executable, "-m", "smslib", "worker"], cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        first = worker.stdout.readline()
        assert "worker running" in first, first
        worker.send_signal(signal.SIGTERM)
        rest, _ = worker.communicate(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)
    assert_clean(first + rest, "the worker's output")


def test_client_and_settings_reprs_and_errors_hide_every_secret(env, gateway_with_secrets):
    settings = Settings.from_env()
    with connect(settings) as gateway:
        assert_clean(repr(settings) + str(settings) + repr(gateway.client) + repr(gateway), "a repr")
    wrong = settings.with_gateway(settings.api_url, USER, WRONG, EMAIL, WRONG)
    with connect(wrong) as gateway:
        for call in (lambda: gateway.client.send(["48600100000"], "x"),
                     lambda: gateway.client.simple_send(["48600100000"], "x"),
                     gateway.client.check):
            with pytest.raises(SmsError) as caught:
                call()
            error = caught.value
            chain = [error, error.__cause__, error.__context__]
            assert_clean(" ".join(f"{e!s} {e!r}" for e in chain if e is not None)
                         + repr(error.body) + repr(error.json_body), "an error")
