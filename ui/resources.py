"""Process-wide resources, created once per server process with ``st.cache_resource``.

Pages get everything through these functions: the settings, the gateway (client, and
the sandbox when no gateway is configured), the store, and the background runner.
Nothing here sends; nothing that sends is ever cached as data.

Each accessor first admits the visitor (``ui.auth.require_login``): a visitor who is
not logged in gets the login instead of the resource. The gate sits here, and not only
in app.py, so that no page script can ever show anything to a visitor who has not
logged in, however it is run: every page reaches for a resource before showing anything.
(A page script run alone by Streamlit's ``pages/`` mode is routed through the app first:
see ``ui.shell.enter_page``.)
"""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from smslib.core.config import Settings
from smslib.core.errors import SmsError
from smslib.gateway.connect import Gateway, connect
from smslib.services.runner import Runner
from smslib.store import Store, database_problem
from smslib.services.worker import build_runner

from . import auth
from .settings import configured_settings


def settings() -> Settings:
    """The settings, read once at start (a bad value stops the app with its name)."""
    _admit()
    return configured_settings()


def gateway() -> Gateway:
    """The client for the configured gateway, or for the built-in sandbox."""
    _admit()
    return _gateway()


def store() -> Store:
    """The message store (migrated on open)."""
    _admit()
    return _store()


def runner() -> Runner | None:
    """The background runner of this server process; None when dedicated workers run."""
    _admit()
    return _runner()


@st.cache_resource(show_spinner="Connecting to the gateway…")
def _gateway() -> Gateway:
    return _track(connect(configured_settings()))


@st.cache_resource(show_spinner="Opening the message store…")
def _store() -> Store:
    return _track(Store.from_settings(configured_settings()))


@st.cache_resource(show_spinner=False)
def _runner() -> Runner | None:
    if not configured_settings().run_worker_in_app:
        return None
    return _track(build_runner(_gateway(), _store(), configured_settings()).start())


@st.cache_data(ttl=20, show_spinner=False)
def gateway_health(label: str) -> tuple[bool, str]:
    """Whether the gateway answers and takes the credentials; cached briefly per gateway."""
    try:
        _gateway().client.check()
    except SmsError as e:
        return False, str(e)
    return True, "answers"


def store_problem(error: Exception) -> str:
    """A sentence for a store that cannot be opened; the database's own reason, never the URL's password."""
    return database_problem(error, configured_settings().store_url)


def shutdown() -> None:
    """Stop the runner, close the store and the gateway, and forget them all (used by tests)."""
    while _opened:
        closing = _opened.pop()
        closing.stop() if isinstance(closing, Runner) else closing.close()
    for resource in (_runner, _store, _gateway, configured_settings, gateway_health):
        resource.clear()
    auth.forget()


def _admit() -> None:
    # Outside a script run (tests, background threads) there is no visitor to admit.
    if get_script_run_ctx(suppress_warning=True) is not None:
        auth.require_login()


_opened: list[Gateway | Store | Runner] = []  # in order of creation; closed in reverse


def _track(resource):
    _opened.append(resource)
    return resource
