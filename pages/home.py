"""Home: what the dashboard does and where to start."""

import streamlit as st

from smslib.core.models import MessageState
from ui import resources, shell, widgets

shell.enter_page(__file__)

gateway = resources.gateway()
store = resources.store()

st.title("SMS dashboard")
st.write(
    "Send SMS through your company's gateway and see what happened to them: "
    "who received them, how fast, and what failed."
)
if gateway.is_sandbox:
    st.info(
        "You are connected to the **built-in sandbox**: nothing leaves this computer and no SMS "
        "is billed. Deliveries are simulated. To send real SMS, set `SMS_API_URL`, "
        "`SMS_API_USERNAME` and `SMS_API_PASSWORD` in `.env` (see `.env.example`) and restart.",
        icon=":material/science:",
    )

st.subheader("Where to start")
PLACES = [
    ("pages/compose.py", "Compose", ":material/edit_square:",
     "Write one message to one or many numbers and see its cost before sending."),
    ("pages/bulk.py", "Bulk upload", ":material/upload_file:",
     "Send personalised messages from a spreadsheet (CSV, Excel, ODS) as a background job."),
    ("pages/history.py", "History", ":material/history:",
     "Find any message, its delivery report, and export what you found."),
    ("pages/analytics.py", "Analytics", ":material/monitoring:",
     "Delivery rates, latency and failures over time, by sender, cost centre and job."),
]
for column, (page, label, icon, caption) in zip(st.columns(len(PLACES)), PLACES):
    with column.container(border=True):
        st.page_link(page, label=f"**{label}**", icon=icon)
        st.caption(caption)

total = store.count_messages()
if total:
    st.subheader("So far")
    st.metric("Messages sent from this dashboard", f"{total:,}")
else:
    st.caption("No messages yet: the first one you send will appear in History.")

with st.expander("What the message states mean"):
    for state in MessageState:
        st.markdown(f"{widgets.state_badge(state)} — {state.style.meaning}")
