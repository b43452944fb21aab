"""The settings of this server process, read once (the login reads them before any resource opens)."""

from __future__ import annotations

import streamlit as st

from smslib.core.config import Settings


@st.cache_resource(show_spinner=False)
def configured_settings() -> Settings:
    """The settings without the login check (for the login itself); a bad value raises ConfigError."""
    return Settings.from_env()
