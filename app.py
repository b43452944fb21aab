"""The SMS dashboard: page router and the sidebar every page shares."""

import streamlit as st
from sqlalchemy.exc import DBAPIError as DatabaseError

from smslib.errors import SmsError
from ui import auth, resources, widgets

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
    [
        st.Page("views/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("views/compose.py", title="Compose", icon=":material/edit_square:"),
        st.Page("views/bulk.py", title="Bulk upload", icon=":material/upload_file:"),
        st.Page("views/history.py", title="History", icon=":material/history:"),
        st.Page("views/analytics.py", title="Analytics", icon=":material/monitoring:"),
    ]
)

with st.sidebar:
    widgets.gateway_status(gateway)
    auth.account_block()

auth.exposure_warning()
navigation.run()
