"""The history page with AppTest, against the sandbox and a real SQLite store."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from smslib.services.history import export_messages, messages_frame
from smslib.services.sending import send_and_record
from smslib.rules.spreadsheet import read_table
from smslib.store import MessageFilter
from ui import resources

ROOT = Path(__file__).resolve().parent.parent


def history_page(**params) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / "history.py"), default_timeout=30)
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
    from smslib.services.reports import sync_reports

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
    # A CSV has no cell types: "+" would start a formula. XLSX cells are text: a plain number stays as it is.
    for fmt, numbers in (("csv", {"'+48600100000", "'+48600100003"}), ("xlsx", {"+48600100000", "+48600100003"})):
        data = export_messages(store, MessageFilter(), fmt, "Europe/Warsaw")
        table = read_table(data, f"messages.{fmt}")
        assert len(table) == 4
        assert set(table["Message"]) == {"Hello", "'=cmd|' /C calc'!A0"}
        assert set(table["Number"]) == numbers


def test_messages_frame_uses_the_viewers_time_zone(app_env, client):
    store = resources.store()
    seed(client, store, texts=("Hello",))
    rows = store.query_messages(MessageFilter()).rows
    frame = messages_frame(rows, "Europe/Warsaw")
    expected = pd.Timestamp(rows[0].submitted_at).tz_convert("Europe/Warsaw").tz_localize(None)
    assert frame["Sent"].iloc[0] == expected


# -- a period of local days, kept in the URL -----------------------------------------------------

def add_messages(store, submitted, count=1, **fields):
    """``count`` messages sent at ``submitted`` (UTC), written as the store keeps them."""
    from smslib.store import messages

    rows = [{"phone": f"+48600{len(fields)}{n:05d}", "text": "hi", "channel": "smses", "sent_by": "test",
             "submitted_at": submitted, "state": "pending", "segments": 1, **fields} for n in range(count)]
    with store.atomic() as connection:
        connection.execute(messages.insert(), rows)


def test_a_date_range_in_the_url_filters_by_local_days_and_pages_by_keyset(app_env):
    from datetime import UTC, date, datetime

    store = resources.store()
    add_messages(store, datetime(2026, 3, 9, 22, 30, tzinfo=UTC))             # 9 March, 23:30 in Warsaw: before
    add_messages(store, datetime(2026, 3, 9, 23, 30, tzinfo=UTC))             # 10 March, 00:30 in Warsaw
    add_messages(store, datetime(2026, 3, 11, 12, 0, tzinfo=UTC), count=150)  # 11 March
    add_messages(store, datetime(2026, 3, 11, 23, 10, tzinfo=UTC))            # 12 March, 00:10 in Warsaw: after
    inside = {m.id for m in store.query_messages(MessageFilter(since=datetime(2026, 3, 9, 23, 0, tzinfo=UTC),
                                                               until=datetime(2026, 3, 11, 23, 0, tzinfo=UTC)),
                                                 limit=500).rows}
    assert len(inside) == 151

    at = history_page(**{"from": "2026-03-10", "to": "2026-03-11"})
    assert not at.exception, at.exception
    assert at.date_input(key="history.from").value == date(2026, 3, 10)
    assert at.date_input(key="history.to").value == date(2026, 3, 11)
    assert any("**151** messages match" in m.value for m in at.markdown)
    at.selectbox(key="history.page_size").set_value(100).run()
    seen = list(at.dataframe[0].value["ID"])
    at.button(key="history.next").click().run()
    seen += list(at.dataframe[0].value["ID"])
    assert len(seen) == 151 and set(seen) == inside
    assert at.button(key="history.next").disabled
    assert (at.query_params["from"], at.query_params["to"]) in (("2026-03-10", "2026-03-11"),
                                                                (["2026-03-10"], ["2026-03-11"]))


def test_choosing_days_puts_them_in_the_url_and_an_open_end_runs_on(app_env):
    from datetime import UTC, date, datetime

    store = resources.store()
    add_messages(store, datetime(2026, 3, 9, 12, 0, tzinfo=UTC))
    add_messages(store, datetime(2026, 3, 12, 12, 0, tzinfo=UTC), count=2)
    at = history_page()
    assert any("**3** messages match" in m.value for m in at.markdown)
    at.date_input(key="history.from").set_value(date(2026, 3, 10)).run()
    assert any("**2** messages match" in m.value for m in at.markdown)
    assert at.query_params["from"] in ("2026-03-10", ["2026-03-10"]) and "to" not in at.query_params
    at.date_input(key="history.to").set_value(date(2026, 3, 9)).run()  # before the first day
    assert any("**0** messages match" in m.value for m in at.markdown)
    assert any("before the first one" in w.value for w in at.warning)


def test_a_date_that_is_not_a_date_is_ignored(app_env):
    at = history_page(**{"from": "yesterday", "to": "2026-02-30"})
    assert not at.exception, at.exception
    assert at.date_input(key="history.from").value is None and at.date_input(key="history.to").value is None


# -- the number filter: "+48600" is the start of a number, "48600" anywhere in it ---------------

def test_a_number_starting_with_plus_or_00_finds_numbers_that_start_with_it(app_env):
    from datetime import UTC, datetime

    store = resources.store()
    sent = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    for phone in ("+48600100200", "+48600100201", "+48512486001", "+48512600100"):
        add_messages(store, sent, phone=phone)
    at = history_page()
    assert "start with it" in at.text_input(key="history.phone").help
    for typed in ("+48600", "+48 600", "0048600", "00 48 600-"):
        at.text_input(key="history.phone").input(typed).run()
        assert not at.exception, at.exception
        assert sorted(at.dataframe[0].value["Number"]) == ["+48600100200", "+48600100201"], typed
    assert at.query_params["phone"] in ("00 48 600-", ["00 48 600-"])
    at.text_input(key="history.phone").input("48600").run()  # no + or 00: the digits anywhere
    assert sorted(at.dataframe[0].value["Number"]) == ["+48512486001", "+48600100200", "+48600100201"]
    at.text_input(key="history.phone").input("600").run()
    assert len(at.dataframe[0].value) == 4
    at.text_input(key="history.phone").input("+600").run()  # no number starts with it
    assert any("**0** messages match" in m.value for m in at.markdown)


def test_a_number_prefix_pages_by_keyset_through_its_numbers_only(app_env):
    from datetime import UTC, datetime, timedelta

    store = resources.store()
    start = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    for n in range(130):  # interleaved in time, so that every page has numbers of both kinds to skip
        add_messages(store, start + timedelta(minutes=n), phone=f"+48791{n:06d}")
        add_messages(store, start + timedelta(minutes=n, seconds=30), phone=f"+485{n:03d}48791")
    at = history_page(phone="+48791")
    assert any("**130** messages match" in m.value for m in at.markdown)
    at.selectbox(key="history.page_size").set_value(100).run()
    seen = list(at.dataframe[0].value["Number"])
    at.button(key="history.next").click().run()
    seen += list(at.dataframe[0].value["Number"])
    assert sorted(seen) == [f"+48791{n:06d}" for n in range(130)]
    assert at.button(key="history.next").disabled
