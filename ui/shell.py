"""The app's shell: page set-up, login gate, navigation and the sidebar every page shares.

``app.py`` runs it (``run_app``). Every page script opens with ``enter_page(__file__)``,
which matters once: Streamlit treats a ``pages/`` folder beside the main script as its
old multipage mode until ``st.navigation`` has run once in the process, so the very first
visitor of a fresh server who arrives by a deep link (``/analytics``) gets the page
script run alone, without ``app.py``. ``enter_page`` notices that the router is not
running and runs the app instead: the app's ``st.navigation`` ends the old mode for the
whole process, and its router runs the same page again, this time inside the shell.
"""

from __future__ import annotations

import threading
from pathlib import Path

import streamlit as st
from sqlalchemy.exc import DBAPIError as DatabaseError
from streamlit.runtime.scriptrunner import get_script_run_ctx

from smslib.core.errors import SmsError

from . import auth, resources, widgets

PAGES_DIR = Path(__file__).resolve().parent.parent / "pages"

# (script, title, icon); the first is the default page.
PAGES = (
    ("home.py", "Home", ":material/home:"),
    ("compose.py", "Compose", ":material/edit_square:"),
    ("bulk.py", "Bulk upload", ":material/upload_file:"),
    ("history.py", "History", ":material/history:"),
    ("analytics.py", "Analytics", ":material/monitoring:"),
)

_routing = threading.local()  # set while the router runs a page, per script thread


def run_app() -> None:
    """Everything app.py does: configure, admit, open the resources, route, draw the sidebar."""
    st.set_page_config(page_title="SMS dashboard", page_icon=":material/sms:", layout="wide")
    try:
        resources.configured_settings()
    except SmsError as e:
        st.error(f"The dashboard cannot start: {e}", icon=":material/settings:")
        st.stop()

    # Before anything else is drawn or started: a visitor who is not logged in sees only the login.
    auth.require_login()

    try:
        gateway = resources.gateway()
        resources.store()
        resources.runner()
    except SmsError as e:
        st.error(f"The dashboard cannot start: {e}", icon=":material/settings:")
        st.stop()
    except DatabaseError as e:
        st.error(resources.store_problem(e), icon=":material/database:")
        st.stop()

    navigation = st.navigation(
        [st.Page(PAGES_DIR / script, title=title, icon=icon, default=index == 0)
         for index, (script, title, icon) in enumerate(PAGES)]
    )
    with st.sidebar:
        widgets.gateway_status(gateway)
        auth.account_block()
    auth.exposure_warning()

    _routing.active = True
    try:
        navigation.run()
    finally:
        _routing.active = False


def enter_page(page_file: str) -> None:
    """The first call of every page script: run alone by Streamlit's ``pages/`` mode, run the app instead."""
    if getattr(_routing, "active", False):
        return
    context = get_script_run_ctx(suppress_warning=True)
    if context is None or Path(context.main_script_path).resolve() == Path(page_file).resolve():
        # No script run (imported), or the page is itself the main script (a test runs it
        # alone): it goes on as it is, its resources still admitting only a logged-in person.
        return
    run_app()
    st.stop()
