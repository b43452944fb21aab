"""Scenario 3: the analytics page draws its charts, and a filter changes the numbers and the URL."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .flows import send_from_compose, wait_for_reports

pytestmark = pytest.mark.e2e

SHOP_PHONES = "600 100 000\n600 100 001\n600 100 003"  # delivered, not delivered, rejected


@pytest.fixture(scope="module")
def shop_traffic(browser, dashboard_server):
    """Three messages from the sender "Shop", with their reports; other tests send from "ACME"."""
    from .dashboard import Dashboard

    page = browser.new_page()
    try:
        d = Dashboard(page, dashboard_server.url)
        send_from_compose(d, SHOP_PHONES, "Promocja tygodnia w naszym sklepie.", sender="Shop")
        wait_for_reports(d, 3)
    finally:
        page.close()


def kpi(d, label: str) -> str:
    metric = d.main.get_by_test_id("stMetric").filter(
        has=d.page.get_by_test_id("stMetricLabel").get_by_text(label, exact=True))
    return metric.get_by_test_id("stMetricValue").inner_text()


def test_analytics_charts_render_and_a_sender_filter_changes_the_kpis_and_the_url(dashboard, shop_traffic):
    d = dashboard.open("analytics")
    expect(d.page.get_by_role("heading", name="Analytics")).to_be_visible()
    charts = d.main.get_by_test_id("stPlotlyChart")
    expect(charts.first.locator(".main-svg").first).to_be_attached()
    expect(charts.nth(2)).to_be_attached()  # the page draws its charts one after another
    everyone = int(kpi(d, "Messages").replace(",", ""))
    assert everyone >= 3
    d.screenshot("analytics")

    d.choose("analytics.sender", "Shop")
    expect(d.main.get_by_test_id("stMetricValue").first).to_have_text("3")
    assert kpi(d, "Messages") == "3"
    assert kpi(d, "Delivered") == "33.3%"
    assert re.search(r"[?&]sender=Shop(&|$)", d.page.url), d.page.url

    # The URL is the view: opened again (or sent to a colleague) it shows the same numbers.
    d.open("analytics?" + d.page.url.split("?", 1)[1])
    assert kpi(d, "Messages") == "3"
    expect(d.widget("analytics.sender").get_by_role("combobox")).to_have_value("Shop")
    assert not d.page.get_by_test_id("stException").count()
