"""Scenario 0: a new user opens the dashboard for the first time."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from smslib.core.models import MessageState

pytestmark = pytest.mark.e2e


def test_home_says_where_messages_go_and_leads_to_every_page(dashboard):
    d = dashboard.open()
    expect(d.page.get_by_role("heading", name="SMS dashboard")).to_be_visible()
    expect(d.main).to_contain_text("built-in sandbox")
    expect(d.sidebar).to_contain_text("Built-in sandbox (no real SMS)")
    expect(d.sidebar.get_by_test_id("stAlertContentSuccess")).to_contain_text("Gateway answers")
    for title in ("Home", "Compose", "Bulk upload", "History", "Analytics"):
        expect(d.sidebar.get_by_role("link", name=title, exact=True)).to_be_visible()

    d.main.get_by_text("What the message states mean").click()
    for state in MessageState:
        expect(d.main).to_contain_text(state.label)
    d.screenshot("home")

    d.act(d.main.get_by_role("link", name="Compose").click)
    expect(d.page.get_by_role("heading", name="Compose")).to_be_visible()
    assert d.page.url.endswith("/compose")
