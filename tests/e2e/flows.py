"""Steps a person repeats across scenarios, written once."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from .dashboard import Dashboard

MESSAGE_ID = re.compile(r"^[0-9A-Za-z_-]{6,}$")  # a gateway message id as the page shows it


def send_from_compose(d: Dashboard, recipients: str, text: str, *, sender: str | None = None) -> list[str]:
    """Compose, review, confirm and send; return the message ids the page shows, in order."""
    d.open("compose")
    d.type_into("compose.recipients", recipients)
    d.type_into("compose.text", text)
    if sender is not None:
        d.choose("compose.sender", sender)
    d.click("compose.review")
    dialog = d.page.get_by_test_id("stDialog")
    expect(dialog).to_contain_text("Confirm the send")
    d.act(dialog.locator(".st-key-compose-send button").click)
    expect(dialog).to_have_count(0)
    expect(d.main.get_by_test_id("stAlertContentSuccess")).to_contain_text("Sent to")
    shown = d.main.locator("code").filter(has_text=MESSAGE_ID)
    expect(shown).to_have_count(len([line for line in recipients.splitlines() if line.strip()]))
    return [code.inner_text().strip() for code in shown.all()]


def wait_for_reports(d: Dashboard, count: int) -> None:
    """On Compose after a send: wait until ``count`` messages show a final state.

    The page re-reads states every few seconds; "Check reports now" asks the gateway at once.
    """
    check = d.widget("compose.check_reports")
    if check.count():
        d.act(check.get_by_role("button").click)
    expect(d.main.get_by_text("schedule Pending")).to_have_count(0)
    expect(d.main.locator('[data-testid="stMarkdownContainer"] span').filter(
        has_text=re.compile("Delivered|Not delivered|Expired|Rejected"))).to_have_count(count)
