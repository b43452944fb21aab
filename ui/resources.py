"""Process-wide resources, created once per server process with ``st.cache_resource``.

Pages get everything through these functions: the settings, the gateway (client, and
the sandbox when no gateway is configured), the store, and the background runner.
Nothing here sends; nothing that sends is ever cached as data.
"""

from __future__ import annotations

import streamlit as st

from smslib.config import Settings
from smslib.errors import SmsError
from smslib.gateway import Gateway, connect
from smslib.runner import Runner
from smslib.store import Store
from smslib.worker import build_runner


@st.cache_resource(show_spinner=False)
def settings() -> Settings:
    """The settings, read once at start (a bad value stops the app with its name)."""
    return Settings.from_env()


@st.cache_resource(show_spinner="Connecting to the gateway…")
def gateway() -> Gateway:
    """The client for the configured gateway, or for the built-in sandbox."""
    return _track(connect(settings()))


@st.cache_resource(show_spinner="Opening the message store…")
def store() -> Store:
    """The message store (migrated on open)."""
    return _track(Store.from_settings(settings()))


@st.cache_resource(show_spinner=False)
def runner() -> Runner | None:
    """The background runner of this server process; None when dedicated workers run."""
    if not settings().run_worker_in_app:
        return None
    return _track(build_runner(gateway(), store(), settings()).start())


@st.cache_data(ttl=20, show_spinner=False)
def gateway_health(label: str) -> tuple[bool, str]:
    """Whether the gateway answers and takes the credentials; cached briefly per gateway."""
    try:
        gateway().client.check()
    except SmsError as e:
        return False, str(e)
    return True, "answers"


def shutdown() -> None:
    """Stop the runner, close the store and the gateway, and forget them all (used by tests)."""
    while _opened:
        closing = _opened.pop()
        closing.stop() if isinstance(closing, Runner) else closing.close()
    for resource in (runner, store, gateway, settings, gateway_health):
        resource.clear()


_opened: list[Gateway | Store | Runner] = []  # in order of creation; closed in reverse


def _track(resource):
    _opened.append(resource)
    return resource
