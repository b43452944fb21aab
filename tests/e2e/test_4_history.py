"""Scenario 4: History finds a sent message by its text, and its detail shows the delivery report."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from .flows import send_from_compose, wait_for_reports

pytestmark = pytest.mark.e2e


def test_history_search_finds_a_sent_message_and_its_detail_shows_the_report(dashboard):
    marker = uuid.uuid4().hex[:8]
    [message_id] = send_from_compose(dashboard, "600 200 000", f"Potwierdzenie zamówienia {marker}")
    wait_for_reports(dashboard, 1)

    d = dashboard.open("history")
    expect(d.page.get_by_role("heading", name="History")).to_be_visible()
    d.type_into("history.text", marker)
    expect(d.main).to_contain_text("1 message matches")
    assert f"q={marker}" in d.page.url
    table = d.main.get_by_test_id("stDataFrame")
    expect(table).to_contain_text(marker)
    expect(table).to_contain_text("+48600200000")

    # Choosing the row opens its detail (the row's checkbox sits in the grid's first column).
    grid = table.locator(".dvn-scroller").first
    row_height, header_height = 35, 35
    d.act(lambda: grid.click(position={"x": 15, "y": header_height + row_height / 2}))
    expect(d.page.get_by_role("heading", name="to +48600200000")).to_be_visible()
    assert "message=" in d.page.url
    details = d.main.get_by_test_id("stTable")
    expect(details).to_contain_text(message_id)
    expect(details).to_contain_text("ACME")
    expect(d.main.get_by_text("Delivered", exact=False).last).to_be_visible()
    expect(d.main).to_contain_text("Reports received (1)")
    expect(d.main.get_by_test_id("stCode")).to_contain_text(f'"MessageId": "{message_id}"')
    expect(d.main.get_by_test_id("stCode")).to_contain_text('"Status": 1')
    d.screenshot("history")
