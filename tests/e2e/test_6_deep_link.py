"""Scenario 6: the first visitor of a freshly started server arrives by a bookmark."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .conftest import open_tab, start_server

pytestmark = pytest.mark.e2e


@pytest.fixture
def fresh_server(browser, tmp_path):
    """A dashboard that no browser has opened yet."""
    server = start_server(tmp_path, {"SMS_SANDBOX_TIME_SCALE": "0.01"}, browser)
    yield server
    server.stop()


@pytest.fixture
def fresh(browser, fresh_server, request):
    yield from open_tab(browser, fresh_server, request)


def test_a_deep_link_on_a_fresh_server_gets_the_whole_app(fresh):
    d = fresh.open("history")
    expect(d.page.get_by_role("heading", name="History")).to_be_visible()
    for title in ("Home", "Compose", "Bulk upload", "History", "Analytics"):
        expect(d.sidebar.get_by_role("link", name=title, exact=True)).to_be_visible()
    expect(d.sidebar.get_by_test_id("stAlertContentSuccess")).to_contain_text("Gateway answers")
