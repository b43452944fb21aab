"""The history page with AppTest, against the sandbox and a real SQLite store."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from smslib.history import export_messages, messages_frame
from smslib.sending import send_and_record
from smslib.spreadsheet import read_table
from smslib.store import MessageFilter
from ui import resources

ROOT = Path(__file__).resolve().parent.parent


def history_page(**params) -> AppTest:
    at = AppTest.from_file(str(ROOT / "views" / "history.py"), default_timeout=30)
    for key, value in params.items():
        at.query_params[key] = value
    return at.run()


def seed(client, store, texts=("Hello", "=cmd|' /C calc'!A0")) -> list[int]:
    phones = ["+48600100000", "+48600100003"]
    for text in texts:
        send_and_record(client, store, phones, text, sender="ACME")
    return [m.id for m in store.query_messages(MessageFilter()).rows]


def test_an_empty_store_says_what_to_do(app_env):
    at = history_page()
    assert not at.exception
    assert any("**0** messages match" in m.value for m in at.markdown)
    assert any("Compose" in i.value for i in at.info)


def test_rows_are_listed_filtered_and_checked_for_reports(app_env, client, sandbox):
    store = resources.store()
    seed(client, store)
    at = history_page()
    assert not at.exception
    assert any("**4** messages match" in m.value for m in at.markdown)
    table = at.dataframe[0].value
    assert set(table["Number"]) == {"+48600100000", "+48600100003"}
    assert set(table["State"]) == {"Pending"}

    sandbox.backend.force_deliver_all()
    at.button(key="history.sync_button").click().run()
    assert any("4 new report(s)" in s.value for s in at.success)
    states = dict(zip(at.dataframe[0].value["Number"], at.dataframe[0].value["State"]))
    assert states == {"+48600100000": "Delivered", "+48600100003": "Rejected by operator"}

    at.text_input(key="history.phone").input("600100003").run()
    assert set(at.dataframe[0].value["Number"]) == {"+48600100003"}
    assert at.query_params["phone"] in ("600100003", ["600100003"])
    at.multiselect(key="history.states").set_value(["delivered"]).run()
    assert any("**0** messages match" in m.value for m in at.markdown)


def test_filters_come_from_the_url(app_env, client):
    seed(client, resources.store(), texts=("Hello", "Promo code"))
    at = history_page(q="promo")
    assert set(at.dataframe[0].value["Message"]) == {"Promo code"}


def test_the_detail_shows_every_field_and_its_raw_report(app_env, client, sandbox):
    store = resources.store()
    ids = seed(client, store, texts=("Hello",))
    sandbox.backend.force_deliver_all()
    from smslib.reports import sync_reports

    sync_reports(client, store)
    delivered = next(m for m in store.query_messages(MessageFilter()).rows if m.phone == "+48600100000")
    at = history_page(message=str(delivered.id))
    assert not at.exception
    assert any(f"Message {delivered.id} to +48600100000" in h.value for h in at.subheader)
    assert any("Delivered" in m.value for m in at.markdown)
    assert any(delivered.message_id in c.value for c in at.code)  # the raw report
    assert set(ids) >= {delivered.id}


def test_keyset_paging_walks_every_row_once(app_env, client):
    store = resources.store()
    for n in range(3):
        send_and_record(client, store, [f"+486001{n:02d}{k:03d}" for k in range(100)], f"Batch {n}")
    at = history_page()
    at.selectbox(key="history.page_size").set_value(100).run()
    seen = list(at.dataframe[0].value["ID"])
    at.button(key="history.next").click().run()
    seen += list(at.dataframe[0].value["ID"])
    at.button(key="history.next").click().run()
    seen += list(at.dataframe[0].value["ID"])
    assert len(seen) == 300 and len(set(seen)) == 300
    assert at.button(key="history.next").disabled
    at.button(key="history.prev").click().run()
    assert list(at.dataframe[0].value["ID"]) == seen[100:200]


def test_exports_neutralise_formulas_and_keep_full_text(app_env, client):
    store = resources.store()
    seed(client, store)
    for fmt in ("csv", "xlsx"):
        data = export_messages(store, MessageFilter(), fmt, "Europe/Warsaw")
        table = read_table(data, f"messages.{fmt}")
        assert len(table) == 4
        assert set(table["Message"]) == {"Hello", "'=cmd|' /C calc'!A0"}
        assert set(table["Number"]) == {"'+48600100000", "'+48600100003"}  # "+" starts a formula too


def test_messages_frame_uses_the_viewers_time_zone(app_env, client):
    store = resources.store()
    seed(client, store, texts=("Hello",))
    rows = store.query_messages(MessageFilter()).rows
    frame = messages_frame(rows, "Europe/Warsaw")
    expected = pd.Timestamp(rows[0].submitted_at).tz_convert("Europe/Warsaw").tz_localize(None)
    assert frame["Sent"].iloc[0] == expected
