"""Who may use the dashboard: the shared password, Streamlit's OIDC login, the exposure
warning, and "Sent by" on every send."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from smslib.core.auth import (
    LoginThrottle,
    PasswordCheck,
    PasswordHashError,
    hash_password,
    parse_hash,
    verify_password,
)
from smslib.core.config import Settings, credentials_in_clear, is_loopback_host
from smslib.core.errors import ConfigError
from ui import resources
from ui.auth import listens_only_locally

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery staple"
FAST = dict(n=2**10)  # a cheap scrypt cost keeps these tests quick; the format is the same


# -- hashing -------------------------------------------------------------------------------------


def test_a_hash_verifies_its_password_only_and_is_salted():
    first, second = hash_password(PASSWORD, **FAST), hash_password(PASSWORD, **FAST)
    assert first != second  # a fresh salt each time
    assert first.startswith("scrypt$n=1024,r=8,p=1$") and PASSWORD not in first
    assert verify_password(PASSWORD, first) and verify_password(PASSWORD, second)
    assert not verify_password(PASSWORD + " ", first)
    assert not verify_password("", first)


def test_a_pbkdf2_hash_made_elsewhere_is_accepted():
    import base64
    import hashlib

    salt = b"0123456789abcdef"
    digest = hashlib.pbkdf2_hmac("sha256", PASSWORD.encode(), salt, 200_000)
    encoded = "pbkdf2_sha256$200000${}${}".format(
        *(base64.urlsafe_b64encode(b).decode().rstrip("=") for b in (salt, digest)))
    assert verify_password(PASSWORD, encoded)
    assert not verify_password("wrong", encoded)


@pytest.mark.parametrize("encoded, words", [
    ("plain text", "not a hash"),
    ("scrypt$n=1024$abc$def", "not a hash"),
    ("scrypt$n=1000,r=8,p=1$YWJj$ZGVm", "cost"),        # n not a power of two
    ("scrypt$n=4194304,r=8,p=1$YWJj$ZGVm", "cost"),     # 4 GiB of memory per login
    ("pbkdf2_sha256$1000$YWJj$ZGVm", "iterations"),      # too cheap to guess against
    ("pbkdf2_sha256$99999999999$YWJj$ZGVm", "iterations"),
    ("md5$abc", "not a hash"),
])
def test_a_malformed_or_dangerous_hash_is_refused_with_the_way_to_make_one(encoded, words):
    with pytest.raises(PasswordHashError, match=words) as caught:
        parse_hash(encoded)
    assert "hash-password" in str(caught.value)


def test_a_bad_hash_setting_names_the_variable_but_not_the_value():
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"DASHBOARD_PASSWORD_HASH": "hunter2-is-not-a-hash"}, dotenv_path=None)
    assert "DASHBOARD_PASSWORD_HASH" in str(caught.value) and "hash-password" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_a_hash_in_dotenv_survives_its_dollar_signs(tmp_path):
    encoded = hash_password(PASSWORD, **FAST)
    (tmp_path / ".env").write_text(f"DASHBOARD_PASSWORD_HASH='{encoded}'\n")
    settings = Settings.from_env({}, dotenv_path=tmp_path / ".env")
    assert settings.dashboard_password_hash == encoded and settings.password_configured
    assert encoded not in repr(settings)


def test_password_check_issues_a_token_that_is_not_the_password():
    check = PasswordCheck(password_hash=hash_password(PASSWORD, **FAST))
    assert check.matches(PASSWORD) and not check.matches("nope")
    token = check.token()
    assert PASSWORD not in token and check.token_valid(token)
    tampered = token[:-1] + ("1" if token[-1] == "0" else "0")
    assert not check.token_valid(tampered) and not check.token_valid(None)
    # Another process (another key) does not take this process's token.
    assert not PasswordCheck(password_hash=hash_password(PASSWORD, **FAST)).token_valid(token)


def test_a_clear_password_setting_works_and_the_hash_wins_over_it():
    assert PasswordCheck(password=PASSWORD).matches(PASSWORD)
    assert not PasswordCheck(password=PASSWORD).matches(PASSWORD[:-1])
    both = PasswordCheck(password_hash=hash_password("the hashed one!", **FAST), password=PASSWORD)
    assert both.matches("the hashed one!") and not both.matches(PASSWORD)
    assert PasswordCheck.from_settings(Settings()) is None


def test_the_throttle_pauses_after_too_many_failures_then_lets_go():
    now = [0.0]
    throttle = LoginThrottle(limit=3, window=60, clock=lambda: now[0])
    for _ in range(3):
        assert throttle.wait_seconds() == 0
        throttle.failed()
    assert throttle.wait_seconds() == pytest.approx(60)
    now[0] = 45.0
    assert throttle.wait_seconds() == pytest.approx(15)
    now[0] = 60.5
    assert throttle.wait_seconds() == 0


def run_cli(*args: str, stdin: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "smslib", *args], input=stdin, capture_output=True, text=True,
                          cwd=ROOT, timeout=60)


def test_hash_password_command_prints_only_a_hash_that_verifies():
    done = run_cli("hash-password", stdin=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    encoded = done.stdout.strip()
    assert verify_password(PASSWORD, encoded)
    assert PASSWORD not in done.stdout + done.stderr


def test_hash_password_command_refuses_a_short_password():
    done = run_cli("hash-password", stdin="short\n")
    assert done.returncode == 1 and "at least 12" in done.stderr and not done.stdout


# -- where the server listens, where the gateway is ---------------------------------------------


@pytest.mark.parametrize("address, local", [
    ("localhost", True), ("127.0.0.1", True), ("127.3.4.5", True), ("::1", True), ("[::1]", True),
    ("0.0.0.0", False), ("::", False), ("192.168.1.10", False), ("sms.example.com", False),
    ("", False), (None, False),  # unset: Streamlit listens on every interface
])
def test_which_server_addresses_keep_the_dashboard_on_this_machine(address, local):
    assert listens_only_locally(address) is local


@pytest.mark.parametrize("url, clear", [
    ("http://gateway.example/api", True), ("http://10.0.0.5:8080", True),
    ("https://gateway.example/api", False), ("http://127.0.0.1:8600", False), ("http://localhost/api", False),
    ("http://[::1]:8600", False),
])
def test_plain_http_to_another_machine_is_credentials_in_clear(url, clear):
    assert credentials_in_clear(url) is clear
    assert is_loopback_host("LOCALHOST") and not is_loopback_host("")


# -- the app ---------------------------------------------------------------------------------------


@pytest.fixture
def server_address():
    """Set Streamlit's server.address for one test, restoring it afterwards."""
    before = st_config.get_option("server.address")
    yield lambda value: st_config.set_option("server.address", value)
    st_config.set_option("server.address", before)


def app() -> AppTest:
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)


def all_text(at: AppTest) -> str:
    parts = [str(e.value) for kind in ("markdown", "caption", "error", "warning", "success", "info", "title")
             for e in getattr(at, kind)]
    return "\n".join(parts)


def session_dump(at: AppTest) -> str:
    """Everything a session holds — values set by code and every widget's raw state — as text."""
    safe = object.__getattribute__(at.session_state, "_state")
    state = object.__getattribute__(safe, "_state")
    parts = [repr(state._old_state), repr(state._new_session_state)]
    parts += [repr(value) for value in state._new_widget_state.states.values()]
    return "\n".join(parts)


def log_in(at: AppTest, password: str, name: str = "") -> AppTest:
    at.text_input(key="auth.password").input(password)
    if name:
        at.text_input(key="auth.name_input").input(name)
    next(b for b in at.button if b.label == "Log in").click().run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def password_env(app_env, monkeypatch):
    monkeypatch.setenv("DASHBOARD_PASSWORD_HASH", hash_password(PASSWORD, **FAST))
    monkeypatch.delenv("DASHBOARD_PASSWORD", raising=False)
    return app_env


def test_with_a_password_only_the_login_is_shown_and_nothing_starts(password_env):
    at = app().run()
    assert not at.exception
    assert at.text_input(key="auth.password").proto.type == at.text_input(key="auth.password").proto.PASSWORD
    assert not any("Gateway" in c.value for c in at.sidebar.caption)  # no sidebar, no pages
    assert [t.value for t in at.title] == ["SMS dashboard"]
    with pytest.raises(ValueError, match="Known pages: \\['Log in'\\]"):
        at.switch_page("pages/compose.py")  # no other page is even registered


PAGES = ["pages/home.py", "pages/compose.py", "pages/bulk.py", "pages/history.py", "pages/analytics.py"]


@pytest.mark.parametrize("page", PAGES)
def test_a_page_run_without_the_router_still_asks_for_the_password(password_env, page):
    # What a fresh server does with the first request for /compose etc.: Streamlit's
    # pages-folder mode runs the page's script alone, without app.py.
    at = AppTest.from_file(str(ROOT / page), default_timeout=30).run()
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["SMS dashboard"]
    assert [t.key for t in at.text_input] == ["auth.password", "auth.name_input"]
    assert not at.text_area and not at.dataframe


def test_a_wrong_password_is_refused_and_never_kept(password_env):
    at = log_in(app().run(), "not the password")
    assert any("Wrong password" in e.value for e in at.error)
    assert at.text_input(key="auth.password").value == ""
    assert "not the password" not in session_dump(at)


def test_the_right_password_opens_every_page_and_the_session_keeps_only_a_token(password_env):
    at = log_in(app().run(), PASSWORD, name="Ana Nowak")
    assert not at.error
    assert "Signed in as Ana Nowak" in [c.value for c in at.sidebar.caption]
    assert PASSWORD not in session_dump(at)
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, at.exception
        assert at.title and "auth.password" not in [t.key for t in at.text_input], page
    assert PASSWORD not in session_dump(at)


def test_log_out_asks_for_the_password_again(password_env):
    at = log_in(app().run(), PASSWORD)
    next(b for b in at.sidebar.button if b.label == "Log out").click().run()
    assert at.text_input(key="auth.password").value == ""
    assert "Signed in" not in all_text(at)


def test_a_clear_text_password_setting_works_too(app_env, monkeypatch):
    monkeypatch.setenv("DASHBOARD_PASSWORD", PASSWORD)
    at = log_in(app().run(), PASSWORD)
    assert not at.error and "Signed in as local" in [c.value for c in at.sidebar.caption]


def compose_and_send(at: AppTest, text: str = "Sent by whom?") -> AppTest:
    at.switch_page("pages/compose.py").run()
    at.text_area(key="compose.recipients").input("600100000").run()
    at.text_area(key="compose.text").input(text).run()
    at.button(key="compose.review").click().run()
    at.button(key="compose.send").click().run()
    assert not at.exception, at.exception
    return at


def test_a_send_records_who_logged_in_with_the_password(password_env):
    at = compose_and_send(log_in(app().run(), PASSWORD, name="Ana\u202e Nowak\x00"))
    rows = resources.store().query_messages(limit=10).rows
    assert [m.sent_by for m in rows] == ["Ana Nowak"]  # control and bidi characters dropped
    at.switch_page("pages/history.py").run()
    assert list(at.dataframe[0].value["Sent by"]) == ["Ana Nowak"]


def test_without_a_login_a_send_is_recorded_as_local(app_env):
    compose_and_send(app().run())
    assert [m.sent_by for m in resources.store().query_messages(limit=10).rows] == ["local"]


OIDC = {"auth": {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32,
                 "client_id": "id", "client_secret": "oidc-client-secret",
                 "server_metadata_url": "https://accounts.example/.well-known/openid-configuration"}}


def test_with_oidc_a_visitor_sees_only_the_login(app_env):
    at = app()
    at.secrets.update(OIDC)
    at.user = {"is_logged_in": False}
    at.run()
    assert not at.exception, at.exception
    assert "Log in to send messages" in all_text(at)
    assert not any("Gateway" in c.value for c in at.sidebar.caption)
    assert "oidc-client-secret" not in all_text(at)


def test_with_oidc_the_logged_in_email_is_shown_and_recorded_as_the_sender(app_env):
    at = app()
    at.secrets.update(OIDC)
    at.user = {"is_logged_in": True, "email": "ana@example.com", "name": "Ana"}
    at.run()
    assert not at.exception, at.exception
    assert "Signed in as ana@example.com" in [c.value for c in at.sidebar.caption]
    compose_and_send(at)
    assert [m.sent_by for m in resources.store().query_messages(limit=10).rows] == ["ana@example.com"]


def test_bulk_jobs_record_who_created_and_sent_them(password_env):
    from smslib.services import jobs

    at = log_in(app().run(), PASSWORD, name="Bulk Person")
    at.switch_page("pages/bulk.py").run()
    at.file_uploader(key="bulk.file").set_value(("people.csv", b"phone,text\n600100000,a\n600100001,b\n",
                                                 "text/csv")).run()
    at.radio(key="bulk.mode").set_value("From a column").run()
    at.selectbox(key="bulk.message_column").set_value("text").run()
    at.button(key="bulk.validate").click().run()
    at.checkbox(key="bulk.confirm").check().run()
    at.button(key="bulk.start").click().run()
    assert not at.exception, at.exception
    store = resources.store()
    job_id = at.session_state["bulk.job_id"]
    assert store.get_job(job_id).created_by == "Bulk Person"
    jobs.JobRunner.from_settings(resources.gateway().client, store, resources.settings()).run_job(job_id)
    assert {m.sent_by for m in store.query_messages(limit=10).rows} == {"Bulk Person"}


# -- exposure -------------------------------------------------------------------------------------


def exposure_warnings(at: AppTest) -> list[str]:
    return [w.value for w in at.warning if "Anyone who can reach this server" in w.value]


def test_no_password_and_listening_beyond_localhost_warns(app_env, server_address):
    server_address("0.0.0.0")
    at = app().run()
    assert exposure_warnings(at) and "0.0.0.0" in exposure_warnings(at)[0]


def test_an_unset_address_means_every_interface_and_warns(app_env, server_address):
    server_address(None)
    assert "every network interface" in exposure_warnings(app().run())[0]


def test_on_localhost_or_with_a_password_there_is_no_exposure_warning(app_env, server_address, monkeypatch):
    server_address("127.0.0.1")
    assert not exposure_warnings(app().run())
    server_address("0.0.0.0")
    monkeypatch.setenv("DASHBOARD_PASSWORD", PASSWORD)
    resources.shutdown()
    assert not exposure_warnings(log_in(app().run(), PASSWORD))


def test_the_shipped_config_binds_to_localhost():
    import tomllib

    shipped = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert listens_only_locally(shipped["server"]["address"])


def test_plain_http_to_a_remote_gateway_warns_in_the_sidebar(app_env, monkeypatch):
    # A name under .invalid never resolves: the health check fails at once, no traffic leaves.
    monkeypatch.setenv("SMS_API_URL", "http://gateway.invalid/api")
    monkeypatch.setenv("SMS_RETRY_ATTEMPTS", "1")
    at = app().run()
    assert not at.exception, at.exception
    assert any("plain http://" in w.value for w in at.sidebar.warning)
    assert any("could not be resolved" in e.value for e in at.sidebar.error)
