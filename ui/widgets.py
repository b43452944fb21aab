"""Small Streamlit pieces shared by pages, so a state or an error looks the same everywhere."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import streamlit as st

from smslib.core.config import credentials_in_clear
from smslib.gateway.connect import Gateway
from smslib.core.models import MessageState

from . import resources


def gateway_status(gateway: Gateway) -> None:
    """The sidebar block: which gateway is in use (never credentials) and whether it answers."""
    st.caption("Gateway")
    st.markdown(f"**{gateway.label}**")
    if not gateway.is_sandbox and credentials_in_clear(gateway.settings.api_url):
        st.warning("This gateway is reached over plain http://: the API password (Basic Auth) and the "
                   "SimpleApi password cross the network readable by anyone on the way. Use its https:// "
                   "address in SMS_API_URL.", icon=":material/no_encryption:")
    healthy, detail = resources.gateway_health(gateway.label)
    if healthy:
        st.success("Gateway answers", icon=":material/check_circle:")
    else:
        st.error(detail, icon=":material/cloud_off:")
    runner = resources.runner()
    if runner is not None:
        sync = runner.tasks.get("sync")
        if sync is not None and sync.last_error:
            st.warning(f"Last report sync failed: {sync.last_error}", icon=":material/sync_problem:")
        elif sync is not None and sync.last_finished:
            st.caption(f"Reports synced {format_time(sync.last_finished)}")


def state_badge(state: MessageState | str) -> str:
    """A message state as Markdown with its icon and colour, the same on every page."""
    state = MessageState(state)
    return f":{state.style.badge}-badge[{state.icon} {state.label}]"


def format_time(value: datetime | None) -> str:
    """A UTC time in the viewer's time zone (``SMS_DISPLAY_TIMEZONE``), to the second."""
    if value is None:
        return "—"
    zone = ZoneInfo(resources.configured_settings().display_timezone)
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
