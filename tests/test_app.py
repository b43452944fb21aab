"""The Streamlit app, rendered in-process with AppTest."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent


def test_app_renders_with_no_configuration_at_all(tmp_path, monkeypatch):
    """No .env, no SMS_* variables: the app starts its own sandbox and says it answers."""
    for name in list(__import__("os").environ):
        if name.startswith("SMS_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no .env here, and data/ is created in tmp_path
    monkeypatch.setenv("SMS_SANDBOX_TIME_SCALE", "0.001")
    import streamlit as st

    st.cache_resource.clear()
    st.cache_data.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    try:
        assert not at.exception, at.exception
        assert "Built-in sandbox" in " ".join(m.value for m in at.sidebar.markdown)
        assert [s.value for s in at.sidebar.success] == ["Gateway answers"]
        assert at.title[0].value == "SMS dashboard"
        assert (tmp_path / "data" / "sandbox.db").exists()
    finally:
        from ui import resources

        resources.shutdown()


PAGES = ["pages/home.py", "pages/compose.py", "pages/bulk.py", "pages/history.py", "pages/analytics.py"]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_through_the_router_without_an_exception(app_env, page):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    assert at.title, f"{page} shows no title"
