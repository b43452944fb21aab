"""Browser tests: Debian's Chromium, driven by Playwright, against ``streamlit run app.py``.

One dashboard server (the built-in sandbox at 100x speed) serves every scenario that
does not need a gateway of its own; each test gets a fresh tab, that is a
fresh Streamlit session. Without Chromium the tests are skipped with a line saying how to
install it, unless ``SMS_REQUIRE_BROWSER=1`` (CI) makes that a failure.

The browser and the server live as long as this package's tests (``scope="package"``):
Playwright's sync API keeps an event loop running in the main thread while it is open,
and the rest of the suite calls ``asyncio.run``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from smslib.store import Store

from .dashboard import Dashboard
from .server import StreamlitServer

CHROMIUM = os.environ.get("SMS_CHROMIUM", "/usr/bin/chromium")
INSTALL = "install it with: apt-get install chromium (Debian/Ubuntu), or set SMS_CHROMIUM to its path"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
VIEWPORT = {"width": 1400, "height": 900}

# The session's dashboard: fast deliveries, and bulk jobs paced so that a person (and a test)
# can watch one run for a few seconds.
DASHBOARD_SETTINGS = {
    "SMS_SANDBOX_TIME_SCALE": "0.01",
    "SMS_SANDBOX_SEED": "20261124",
    "SMS_SYNC_INTERVAL": "2",
    "SMS_BATCH_SIZE": "50",
    "SMS_RATE_LIMIT_SMS": "100",
    "SMS_SENDERS": "ACME,Shop",
    "SMS_COST_CENTERS": "Sales,Support",
}

_skipped_for_browser: list[str] = []


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not Path(CHROMIUM).is_file():
        return f"Chromium not found at {CHROMIUM}"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright package is missing (make test installs requirements-dev.txt)"
    return None


def pytest_terminal_summary(terminalreporter) -> None:
    if _skipped_for_browser:
        terminalreporter.write_sep("!", f"BROWSER TESTS SKIPPED: {_skipped_for_browser[0]}; {INSTALL}",
                                   yellow=True, bold=True)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)  # a fixture's teardown reads whether the test failed
    return report


@pytest.fixture(scope="package")
def browser(tmp_path_factory):
    """A headless Chromium with a fresh profile; skips (or, in CI, fails) when there is none."""
    missing = browser_missing()
    if missing:
        if os.environ.get("SMS_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{missing}, and SMS_REQUIRE_BROWSER=1 requires the browser tests; {INSTALL}",
                        pytrace=False)
        _skipped_for_browser.append(missing)
        pytest.skip(f"{missing}; {INSTALL}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # A persistent context is how Playwright takes a --user-data-dir: a fresh, empty one.
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM, headless=True,
            args=CHROMIUM_ARGS, viewport=VIEWPORT, accept_downloads=True, locale="en-GB")
        yield context
        context.close()


def start_server(folder: Path, settings: dict[str, str], browser) -> StreamlitServer:
    """A started dashboard, its health endpoint answering (``browser`` orders the teardown)."""
    return StreamlitServer(folder, settings).start()


@pytest.fixture(scope="package")
def dashboard_server(browser, tmp_path_factory) -> Iterator[StreamlitServer]:
    """The session's dashboard on the built-in sandbox."""
    server = start_server(tmp_path_factory.mktemp("dashboard"), DASHBOARD_SETTINGS, browser)
    yield server
    server.stop()


@pytest.fixture(scope="package")
def dashboard_store(dashboard_server) -> Iterator[Store]:
    """The session dashboard's own store, opened beside it to check what the pages claim."""
    with Store(f"sqlite:///{dashboard_server.folder / 'data' / 'sms.db'}") as opened:
        yield opened


def open_tab(browser, server: StreamlitServer, request) -> Iterator[Dashboard]:
    page = browser.new_page()
    try:
        yield Dashboard(page, server.url)
    finally:
        if getattr(request.node, "report_call", None) is not None and request.node.report_call.failed:
            shot = server.folder / f"failed-{request.node.name}.png"
            page.screenshot(path=str(shot))
            print(f"--- the page at the failure: {shot}")
            print(f"--- streamlit log ({server.log_path}) ---\n{server.log_tail()}")
        page.close()


@pytest.fixture
def dashboard(browser, dashboard_server, request) -> Iterator[Dashboard]:
    """A new tab (a new Streamlit session) on the session's dashboard."""
    yield from open_tab(browser, dashboard_server, request)
