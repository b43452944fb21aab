"""Process-wide resources, created once per server process with ``st.cache_resource``."""

from __future__ import annotations

import streamlit as st

from smslib.config import Settings
from smslib.errors import SmsError
from smslib.gateway import Gateway, connect


@st.cache_resource(show_spinner=False)
def settings() -> Settings:
    """The settings, read once at start (a bad value stops the app with its name)."""
    return Settings.from_env()


@st.cache_resource(show_spinner="Starting the gateway connection…")
def gateway() -> Gateway:
    """The client for the configured gateway, or for the built-in sandbox."""
    return connect(settings())


@st.cache_data(ttl=20, show_spinner=False)
def gateway_health(label: str) -> tuple[bool, str]:
    """Whether the gateway answers and takes the credentials; cached briefly per gateway."""
    try:
        gateway().client.check()
    except SmsError as e:
        return False, str(e)
    return True, "answers"
