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
# Each page's title and icon as the navigation shows them (ui.shell.PAGES), with what it is for.
PLACES = {
    "compose.py": "Write one message to one or many numbers and see its cost before sending.",
    "bulk.py": "Send personalised messages from a spreadsheet (CSV, Excel, ODS) as a background job.",
    "history.py": "Find any message, its delivery report, and export what you found.",
    "analytics.py": "Delivery rates, latency and failures over time, by sender, cost centre and job.",
}
places = [(script, label, icon) for script, label, icon in shell.PAGES if script in PLACES]
for column, (script, label, icon) in zip(st.columns(len(places)), places):
    with column.container(border=True):
        st.page_link(f"pages/{script}", label=f"**{label}**", icon=icon)
        st.caption(PLACES[script])

total = store.count_messages()
if total:
    st.subheader("So far")
    st.metric("Messages sent from this dashboard", f"{total:,}")
else:
    st.caption("No messages yet: the first one you send will appear in History.")

with st.expander("What the message states mean"):
    for state in MessageState:
        st.markdown(f"{widgets.state_badge(state)} — {state.style.meaning}")
