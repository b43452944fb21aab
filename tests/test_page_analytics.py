"""The analytics page, rendered in-process with AppTest against the sandbox and a real SQLite store."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from smslib.analytics import View, kpis
from smslib.models import MessageState
from smslib.seed import seed_demo_data
from smslib.store import Store
from ui import resources

ROOT = Path(__file__).resolve().parent.parent
PAGE = "views/analytics.py"


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
