"""Shared fixtures: one sandbox gateway per test session on 127.0.0.1, reset before each test.

Use ``sandbox`` in a test: a ``RunningSandbox`` with ``.url``, ``.username``/``.password``
(Basic Auth), ``.email``/``.simple_password`` (SimpleApi) and ``.backend`` (inspection,
``configure_faults``, ``force_deliver_all``). Its delays are scaled by 0.001, so most
reports are due within milliseconds; call ``sandbox.backend.force_deliver_all()`` when a
test needs every report now.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

from tests.postgres import PostgresServer, find_postgres_bin

from smslib.gateway.client import SmsClient
from smslib.sandbox import RunningSandbox, serve_in_thread
from smslib.store import Store

SANDBOX_SEED = 20261124
SANDBOX_TIME_SCALE = 0.001


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[RunningSandbox]:
    """The session's sandbox gateway (fixed seed, delays x0.001); prefer ``sandbox``."""
    server = serve_in_thread(seed=SANDBOX_SEED, time_scale=SANDBOX_TIME_SCALE)
    yield server
    server.stop()


@pytest.fixture
def sandbox(sandbox_server: RunningSandbox) -> Iterator[RunningSandbox]:
    """The session's sandbox, empty and without faults; an error inside the server fails the test."""
    # A request a previous test's fault still holds would land in this test's state.
    if not sandbox_server.backend.wait_idle(timeout=10):
        pytest.fail("a request held by an earlier test's hang fault is still in flight after 10 s")
    sandbox_server.backend.reset()
    yield sandbox_server
    sandbox_server.raise_errors()


@pytest.fixture(scope="session", autouse=True)
def streamlit_on_localhost():
    """Pages run as .streamlit/config.toml serves them (on localhost), whatever folder a test is in.

    Streamlit reads its config once, from the working folder of the first read: without
    this, whether the no-password exposure warning shows would depend on test order.
    """
    from streamlit import config

    config.set_option("server.address", "localhost")


# -- a throwaway PostgreSQL server for the session ----------------------------------------------

POSTGRES_MISSING = ("PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb): the PostgreSQL "
                    "tests are SKIPPED. Install them with `apt-get install postgresql` to run them.")


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory) -> Iterator[PostgresServer]:
    """A PostgreSQL cluster in a temporary folder on a free loopback port, stopped at the end.

    Skipped (loudly) when the server is not installed, unless SMS_REQUIRE_POSTGRES=1 (CI),
    where that is a failure.
    """
    bin_dir = find_postgres_bin()
    if bin_dir is None:
        if os.environ.get("SMS_REQUIRE_POSTGRES") == "1":
            pytest.fail(POSTGRES_MISSING.replace("SKIPPED", "REQUIRED (SMS_REQUIRE_POSTGRES=1)"))
        print(f"\n*** {POSTGRES_MISSING} ***", file=sys.stderr)
        pytest.skip(POSTGRES_MISSING)
    server = PostgresServer(bin_dir, tmp_path_factory.mktemp("postgres")).start()
    try:
        yield server
    finally:
        server.stop()


# -- the store: every store test runs on each engine in DATABASES ---------------------------

DATABASES = ["sqlite", "postgresql"]


def url_for(database: str, folder, request=None) -> str:
    """The URL of an empty database of kind ``database`` for one test (or module)."""
    if database == "sqlite":
        return f"sqlite:///{folder / 'data' / 'sms.db'}"
    if database == "postgresql":
        return request.getfixturevalue("postgres_server").create_database()
    raise AssertionError(f"no URL for {database}")


@pytest.fixture(params=DATABASES)
def db_url(request, tmp_path) -> str:
    """A fresh, empty database per test."""
    return url_for(request.param, tmp_path, request)


@pytest.fixture
def pg_url(postgres_server) -> str:
    """A fresh, empty PostgreSQL database (for tests that are about PostgreSQL only)."""
    return postgres_server.create_database()


@pytest.fixture
def store(db_url) -> Iterator[Store]:
    """An empty store on a fresh database of each engine."""
    with Store(db_url) as opened:
        yield opened



@pytest.fixture
def client(sandbox) -> Iterator[SmsClient]:
    """A client of the session's sandbox with short timeouts and no waiting between retries."""
    with SmsClient(sandbox.url, sandbox.username, sandbox.password, simpleapi_email=sandbox.email,
                   simpleapi_password=sandbox.simple_password, read_timeout=2.0, retry_backoff=0.0,
                   sleep=lambda seconds: None) as made:
        yield made


# -- the app: AppTest against the session's sandbox -----------------------------------------

@pytest.fixture
def app_env(request, sandbox, tmp_path, monkeypatch):
    """Settings for an AppTest: the sandbox as gateway, a fresh data folder and store.

    The dashboard's background runner is off unless the test parametrises this fixture
    with True (``@pytest.mark.parametrize("app_env", [True], indirect=True)``).
    """
    from ui import resources

    monkeypatch.setenv("SMS_API_URL", sandbox.url)
    monkeypatch.setenv("SMS_API_USERNAME", sandbox.username)
    monkeypatch.setenv("SMS_API_PASSWORD", sandbox.password)
    monkeypatch.setenv("SMS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SMS_DB_URL", "")
    monkeypatch.setenv("SMS_RUN_WORKER_IN_APP", "true" if getattr(request, "param", False) else "false")
    monkeypatch.chdir(tmp_path)
    resources.shutdown()
    yield tmp_path
    resources.shutdown()
