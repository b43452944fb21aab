"""Scenario 1: one message from the Compose page, as a person writes and sends it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from smslib.core.models import MessageState

from .flows import MESSAGE_ID

pytestmark = pytest.mark.e2e

POLISH = "Zażółć gęślą jaźń — dzień dobry! Przypominamy o wizycie jutro o 10:00 w gabinecie."
ASCII = "Zazolc gesla jazn - dzien dobry! Przypominamy o wizycie jutro o 10:00 w gabinecie."


def test_compose_refuses_a_bad_number_explains_ucs2_transliterates_sends_and_shows_the_report(
        dashboard, dashboard_store):
    d = dashboard.open("compose")
    expect(d.page.get_by_role("heading", name="Compose")).to_be_visible()

    d.type_into("compose.recipients", "600 100 000\n12345")
    expect(d.main).to_contain_text("1 recipient, 1 entry refused.")
    refused = d.main.get_by_test_id("stDataFrame").last
    expect(refused).to_contain_text("12345")
    expect(refused).to_contain_text("too short")

    d.type_into("compose.text", POLISH)
    counter = d.main.get_by_test_id("stCaptionContainer").filter(has_text="characters ·")
    expect(counter).to_contain_text(f"{len(POLISH)} characters · UCS-2 · 2 SMS")
    warning = d.main.get_by_test_id("stAlertContentWarning")
    expect(warning).to_contain_text("UCS-2")
    expect(warning).to_contain_text("ż")
    d.screenshot("compose")

    d.click("compose.transliterate")
    expect(d.widget("compose.text").locator("textarea")).to_have_value(ASCII)
    expect(counter).to_contain_text(f"{len(ASCII)} characters · GSM-7 · 1 SMS")
    expect(d.main.get_by_test_id("stAlertContentWarning")).to_have_count(0)
    expect(d.main).to_contain_text("1 SMS × 1 recipient = 1 SMS billed (GSM-7)")

    d.click("compose.review")
    dialog = d.page.get_by_test_id("stDialog")
    expect(dialog).to_contain_text("1 SMS × 1 recipient = 1 SMS billed")
    expect(dialog).to_contain_text("+48600100000")
    expect(dialog).not_to_contain_text("12345")
    d.act(dialog.locator(".st-key-compose-send button").click)
    expect(dialog).to_have_count(0)

    expect(d.main.get_by_test_id("stAlertContentSuccess")).to_contain_text("Sent to 1 recipient.")
    message_id = d.main.locator("code").filter(has_text=re.compile(MESSAGE_ID.pattern)).first
    expect(message_id).to_be_visible()
    shown_id = message_id.inner_text().strip()

    # A number ending in 0000 is always delivered by the sandbox: its report arrives on the page.
    d.act(d.widget("compose.check_reports").get_by_role("button").click)
    expect(d.main.get_by_text("Delivered", exact=False).first).to_be_visible()
    assert dashboard_store.message_states([shown_id]) == {shown_id: MessageState.DELIVERED}
    assert not d.page.get_by_test_id("stException").count()
