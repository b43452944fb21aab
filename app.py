"""The SMS dashboard: page router and the sidebar every page shares."""

import streamlit as st

from smslib.errors import ConfigError
from ui import resources

st.set_page_config(page_title="SMS dashboard", page_icon=":material/sms:", layout="wide")

try:
    gateway = resources.gateway()
except ConfigError as e:
    st.error(f"The dashboard cannot start: {e}", icon=":material/settings:")
    st.stop()

pages = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
]
navigation = st.navigation(pages)

with st.sidebar:
    st.caption("Gateway")
    st.markdown(f"**{gateway.label}**")
    healthy, detail = resources.gateway_health(gateway.label)
    if healthy:
        st.success("Gateway answers", icon=":material/check_circle:")
    else:
        st.error(detail, icon=":material/cloud_off:")

navigation.run()
