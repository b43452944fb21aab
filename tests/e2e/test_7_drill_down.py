"""Scenario 7: from Analytics to History, which opens with the same period (and number prefix)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from smslib.core.models import MessageState
from smslib.store import messages

pytestmark = pytest.mark.e2e

ZONE = ZoneInfo("Europe/Warsaw")  # the dashboard's display time zone (the default)
# Forty days back: no other scenario sends then, and no "last N days" period reaches it.
FIRST = datetime.now(ZONE).date() - timedelta(days=40)
LAST = FIRST + timedelta(days=1)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), ZONE).astimezone(UTC)


# (number, state, sent): the period's days are FIRST and LAST, local midnight to midnight.
TRAFFIC = [
    ("+48791000001", MessageState.EXPIRED, local(FIRST, 0, 30)),
    ("+48791000002", MessageState.UNDELIVERED, local(LAST, 22)),
    ("+48604879100", MessageState.EXPIRED, local(LAST, 22)),        # 48791 in the middle of the number
    ("+48600700001", MessageState.DELIVERED, local(LAST, 12)),
    ("+48791000003", MessageState.EXPIRED, local(FIRST - timedelta(days=1), 23, 30)),  # the evening before
    ("+48600700002", MessageState.EXPIRED, local(FIRST - timedelta(days=1), 23, 30)),
    ("+48791000004", MessageState.EXPIRED, local(LAST + timedelta(days=1), 0, 10)),    # just after midnight
]


@pytest.fixture(scope="module")
def past_traffic(dashboard_store):
    """The messages of TRAFFIC, written into the dashboard's store as sends record them."""
    with dashboard_store.atomic() as connection:
        connection.execute(messages.insert(), [
            {"phone": phone, "text": "Drill-down", "channel": "smses", "sent_by": "e2e", "state": state.value,
             "submitted_at": sent, "segments": 1} for phone, state, sent in TRAFFIC])


def open_analytics_for_the_period(d):
    d.open(f"analytics?range=custom&from={FIRST.isoformat()}&to={LAST.isoformat()}")
    expect(d.page.get_by_role("heading", name="Analytics")).to_be_visible()
    messages_kpi = d.main.get_by_test_id("stMetric").filter(has_text="Messages").first
    expect(messages_kpi.get_by_test_id("stMetricValue")).to_have_text("4")


def follow_open_in_history(d):
    d.act(d.main.get_by_role("link", name="Open in History").click)
    expect(d.page.get_by_role("heading", name="History")).to_be_visible()
    expect(d.widget("history.from").locator("input")).to_have_value(FIRST.isoformat())
    expect(d.widget("history.to").locator("input")).to_have_value(LAST.isoformat())


def expect_numbers(d, shown: list[str]) -> None:
    """History lists exactly the messages to ``shown`` (a number once per message) and no other of TRAFFIC."""
    expect(d.main).to_contain_text(re.compile(rf"(^|\D){len(shown)} messages? match"))
    table = d.main.get_by_test_id("stDataFrame")
    for phone, _, _ in TRAFFIC:
        if phone in shown:
            expect(table).to_contain_text(phone)
        else:
            expect(table).not_to_contain_text(phone)


def test_open_in_history_shows_the_period_of_analytics_and_only_its_messages(dashboard, past_traffic):
    d = dashboard
    open_analytics_for_the_period(d)
    d.choose("analytics.drill_state", MessageState.EXPIRED.label)
    follow_open_in_history(d)
    assert f"from={FIRST.isoformat()}" in d.page.url and f"to={LAST.isoformat()}" in d.page.url
    expect_numbers(d, ["+48791000001", "+48604879100"])

    # A prefix of "What fails most": the numbers that start with it, not those that hold its digits.
    open_analytics_for_the_period(d)
    prefixes = d.widget("analytics.failing_prefixes")
    expect(prefixes).to_contain_text("+48791")
    grid = prefixes.locator(".dvn-scroller").first
    row_height, header_height = 35, 35  # the first row's checkbox, as in scenario 4
    d.act(lambda: grid.click(position={"x": 15, "y": header_height + row_height / 2}))
    follow_open_in_history(d)
    expect(d.widget("history.phone").locator("input")).to_have_value("+48791")
    expect_numbers(d, ["+48791000001", "+48791000002"])
    assert not d.page.get_by_test_id("stException").count()
