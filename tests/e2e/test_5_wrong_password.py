"""Scenario 5: a gateway that refuses the password: a clear message, no traceback, no secret shown."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .conftest import open_tab, start_server

pytestmark = pytest.mark.e2e

WRONG_PASSWORD = "not-the-password-42"


@pytest.fixture(scope="module")
def refused_server(browser, sandbox_server, tmp_path_factory):
    """A second dashboard whose SMS_API_URL points at the test's sandbox, with a wrong password."""
    server = start_server(tmp_path_factory.mktemp("wrong-password"), {
        "SMS_API_URL": sandbox_server.url, "SMS_API_USERNAME": sandbox_server.username,
        "SMS_API_PASSWORD": WRONG_PASSWORD, "SMS_SYNC_INTERVAL": "2"}, browser)
    yield server
    server.stop()


@pytest.fixture
def refused(browser, refused_server, request):
    yield from open_tab(browser, refused_server, request)


def assert_no_traceback_or_secret(d) -> None:
    expect(d.page.get_by_test_id("stException")).to_have_count(0)
    text = d.page.get_by_test_id("stApp").inner_text()
    assert "Traceback" not in text
    assert WRONG_PASSWORD not in text


def test_a_wrong_gateway_password_is_explained_where_it_matters(refused, sandbox_server):
    d = refused.open()
    expect(d.sidebar).to_contain_text(sandbox_server.url)
    problem = d.sidebar.get_by_test_id("stAlertContentError")
    expect(problem).to_contain_text("refused the credentials")
    expect(problem).to_contain_text("SMS_API_PASSWORD")
    assert_no_traceback_or_secret(d)

    d.open("compose")
    d.type_into("compose.recipients", "600 100 000")
    d.type_into("compose.text", "Test")
    d.click("compose.review")
    dialog = d.page.get_by_test_id("stDialog")
    d.act(dialog.locator(".st-key-compose-send button").click)
    refusal = d.main.get_by_test_id("stAlertContentError")
    expect(refusal).to_contain_text("refused the credentials")
    assert_no_traceback_or_secret(d)
    assert sandbox_server.backend is not None
