"""The analytics page, rendered in-process with AppTest against the sandbox and a real SQLite store."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from smslib.services.analytics import View, kpis
from smslib.core.models import MessageState
from smslib.services.demo import seed_demo_data
from smslib.store import Store
from ui import resources

ROOT = Path(__file__).resolve().parent.parent
PAGE = "pages/analytics.py"


@pytest.fixture
def app_env(sandbox, tmp_path, monkeypatch):
    monkeypatch.setenv("SMS_API_URL", sandbox.url)
    monkeypatch.setenv("SMS_API_USERNAME", sandbox.username)
    monkeypatch.setenv("SMS_API_PASSWORD", sandbox.password)
    monkeypatch.setenv("SMS_SIMPLEAPI_EMAIL", sandbox.email)
    monkeypatch.setenv("SMS_SIMPLEAPI_PASSWORD", sandbox.simple_password)
    monkeypatch.setenv("SMS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SMS_RUN_WORKER_IN_APP", "false")
    monkeypatch.delenv("SMS_DB_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    import streamlit as st

    resources.shutdown()
    st.cache_data.clear()
    yield tmp_path
    resources.shutdown()


@pytest.fixture
def seeded(app_env):
    with Store(f"sqlite:///{app_env / 'sms.db'}") as store:
        seed_demo_data(store, None, messages_count=2000, days=10, seed=11)
    return app_env


def open_page(query: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.switch_page(PAGE)
    return at.run()


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_page_shows_kpis_and_charts_with_data(seeded):
    at = open_page()
    assert not at.exception, at.exception
    with Store(f"sqlite:///{seeded / 'sms.db'}") as store:
        expected = kpis(store, View().resolve("Europe/Warsaw"))
    assert metric(at, "Messages") == f"{expected.messages:,}"
    assert metric(at, "Delivered") == f"{expected.delivered_share:.1%}"
    charts = at.get("plotly_chart")
    assert len(charts) >= 6
    # The status chart uses the app's state names, colours and order.
    import json

    status = json.loads(charts[0].proto.spec)["data"][0]
    assert status["y"] == [s.label for s in MessageState]
    assert status["marker"]["color"] == [s.color for s in MessageState]


def test_filters_come_from_the_url(seeded):
    query = {"range": "custom", "from": (date.today() - timedelta(days=12)).isoformat(),
             "to": date.today().isoformat(), "sender": "ACME"}
    at = open_page(query)
    assert not at.exception, at.exception
    assert at.selectbox(key="analytics.range").value == "custom"
    assert at.selectbox(key="analytics.sender").value == "ACME"
    with Store(f"sqlite:///{seeded / 'sms.db'}") as store:
        expected = kpis(store, View.from_params(query).resolve("Europe/Warsaw"))
        everything = kpis(store, View.from_params({**query, "sender": ""}).resolve("Europe/Warsaw"))
    assert 0 < expected.messages < everything.messages
    assert metric(at, "Messages") == f"{expected.messages:,}"


def test_changing_a_filter_puts_it_in_the_url(seeded):
    at = open_page()
    at.selectbox(key="analytics.priority").set_value(3).run()
    assert not at.exception, at.exception
    assert at.query_params["priority"] == "3"
    at.selectbox(key="analytics.range").set_value("30d").run()
    assert at.query_params["range"] == "30d" and at.query_params["priority"] == "3"


def test_selecting_a_state_shows_its_messages(seeded):
    at = open_page()
    at.selectbox(key="analytics.drill_state").set_value(MessageState.EXPIRED.value).run()
    assert not at.exception, at.exception
    frames = [d.value for d in at.dataframe]
    shown = next(frame for frame in frames if "state" in frame.columns and "latency_s" in frame.columns)
    assert len(shown) > 0 and set(shown["state"]) == {MessageState.EXPIRED.label}


def test_empty_store_shows_an_empty_state(app_env):
    at = open_page()
    assert not at.exception, at.exception
    assert metric(at, "Messages") == "0"
    assert any("No messages in this period" in i.value for i in at.info)
    assert not at.get("plotly_chart")


def test_new_reports_show_without_a_restart(seeded):
    at = open_page()
    before = int(metric(at, "Messages").replace(",", ""))
    with Store(f"sqlite:///{seeded / 'sms.db'}") as store:
        seed_demo_data(store, None, messages_count=10, days=1, seed=12)
    at.run()
    assert int(metric(at, "Messages").replace(",", "")) == before + 10


# -- the cache: reruns reuse the numbers until the store changes ----------------------------------

@pytest.fixture
def overview_calls(monkeypatch):
    """Every call of smslib.services.analytics.overview (the real one runs): how often the page counted."""
    from smslib.services import analytics

    calls = []
    real = analytics.overview

    def counted(*args, **kwargs):
        calls.append(args[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(analytics, "overview", counted)
    return calls


@pytest.mark.parametrize("period", ["today", "7d", "30d", "custom"])
def test_reruns_count_once_until_the_store_changes_even_for_a_period_ending_now(seeded, overview_calls,
                                                                                 period):
    days = {"from": (date.today() - timedelta(days=3)).isoformat(), "to": date.today().isoformat()}
    at = open_page({"range": period, **(days if period == "custom" else {})})
    assert not at.exception, at.exception
    shown = metric(at, "Messages")
    at.run()
    at.selectbox(key="analytics.drill_state").set_value(MessageState.EXPIRED.value).run()  # a rerun, same view
    assert not at.exception, at.exception
    assert len(overview_calls) == 1 and metric(at, "Messages") == shown

    with Store(f"sqlite:///{seeded / 'sms.db'}") as store:
        store.block(["+48600999999"])  # any write moves the store's change counter
    at.run()
    assert len(overview_calls) == 2
    if period != "custom":
        assert overview_calls[1].until > overview_calls[0].until  # counted again, up to now


def test_a_message_sent_after_the_numbers_were_counted_shows_on_the_next_rerun(seeded, overview_calls):
    at = open_page({"range": "today"})
    before = int(metric(at, "Messages").replace(",", ""))
    with Store(f"sqlite:///{seeded / 'sms.db'}") as store:
        send_and_record_later(store)
    at.run()
    assert len(overview_calls) == 2
    assert int(metric(at, "Messages").replace(",", "")) == before + 1


def send_and_record_later(store):
    """One message written now, as a send records it (sent at this moment)."""
    from smslib.store import messages

    with store.atomic() as connection:
        connection.execute(messages.insert(), [{
            "phone": "+48600100999", "text": "late", "channel": "smses", "sent_by": "test",
            "submitted_at": datetime.now(UTC), "state": "pending", "segments": 1}])


# -- from a chart to History: the same period and filters ----------------------------------------

def test_open_in_history_carries_the_period_and_shows_only_its_messages(app_env):
    from smslib.store import messages

    def add(submitted, count, **fields):
        with Store(f"sqlite:///{app_env / 'sms.db'}") as store, store.atomic() as connection:
            connection.execute(messages.insert(), [
                {"phone": f"+4860010{n:04d}", "text": "hi", "channel": "smses", "sent_by": "test",
                 "submitted_at": submitted, "state": "expired", "segments": 1, **fields} for n in range(count)])

    add(datetime(2026, 3, 9, 22, 30, tzinfo=UTC), 4, sender="ACME")   # 9 March in Warsaw: before
    add(datetime(2026, 3, 9, 23, 30, tzinfo=UTC), 2, sender="ACME")   # 10 March, 00:30
    add(datetime(2026, 3, 11, 21, 0, tzinfo=UTC), 3, sender="ACME")   # 11 March, 22:00
    add(datetime(2026, 3, 11, 12, 0, tzinfo=UTC), 5, sender="Shop")   # in the period, another sender
    add(datetime(2026, 3, 11, 23, 30, tzinfo=UTC), 6, sender="ACME")  # 12 March: after
    at = open_page({"range": "custom", "from": "2026-03-10", "to": "2026-03-11", "sender": "ACME"})
    at.selectbox(key="analytics.drill_state").set_value(MessageState.EXPIRED.value).run()
    assert not at.exception, at.exception
    [link] = [link for link in at.page_link if link.value == "Open in History"]
    query = {key: values[0] for key, values in parse_qs(link.proto.query_string).items()}
    assert query == {"from": "2026-03-10", "to": "2026-03-11", "sender": "ACME", "state": "expired"}

    at.query_params.clear()
    at.query_params.update(query)
    at.switch_page("pages/history.py").run()
    assert not at.exception, at.exception
    assert any("**5** messages match" in m.value for m in at.markdown)
    shown = at.dataframe[0].value
    assert set(shown["Sender"]) == {"ACME"} and len(shown) == 5
    assert shown["Sent"].min() >= pd.Timestamp("2026-03-10") and shown["Sent"].max() < pd.Timestamp("2026-03-12")


def test_the_prefix_link_opens_history_with_exactly_the_failing_numbers_of_that_prefix(app_env):
    from smslib.store import messages

    def add(submitted, phone, state, count=1):
        with Store(f"sqlite:///{app_env / 'sms.db'}") as store, store.atomic() as connection:
            connection.execute(messages.insert(), [
                {"phone": phone, "text": "hi", "channel": "smses", "sent_by": "test",
                 "submitted_at": submitted, "state": state, "segments": 1} for _ in range(count)])

    in_period = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    add(in_period, "+48791000001", "expired", count=2)
    add(in_period, "+48791000002", "undelivered")
    add(in_period, "+48604879100", "expired")  # 48791 in the middle of the number
    add(datetime(2026, 3, 12, 12, 0, tzinfo=UTC), "+48791000003", "expired")  # after the period
    at = open_page({"range": "custom", "from": "2026-03-10", "to": "2026-03-11"})
    assert not at.exception, at.exception
    prefixes = next(d.value for d in at.dataframe if d.key == "analytics.failing_prefixes")
    assert prefixes["prefix"].iloc[0] == "+48791" and prefixes["failed"].iloc[0] == 3
    at.session_state["analytics.failing_prefixes"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert not at.exception, at.exception
    drilled = next(d.value for d in at.dataframe if "latency_s" in d.value.columns)
    [link] = [link for link in at.page_link if link.value == "Open in History"]
    query = {key: values[0] for key, values in parse_qs(link.proto.query_string).items()}
    assert query == {"from": "2026-03-10", "to": "2026-03-11", "phone": "+48791"}

    at.query_params.clear()
    at.query_params.update(query)
    at.switch_page("pages/history.py").run()
    assert not at.exception, at.exception
    assert at.text_input(key="history.phone").value == "+48791"
    assert any("**3** messages match" in m.value for m in at.markdown)
    shown = at.dataframe[0].value
    assert sorted(shown["Number"]) == sorted(drilled["phone"]) == [
        "+48791000001", "+48791000001", "+48791000002"]
