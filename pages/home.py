"""Home: what the dashboard does and where to start."""

import streamlit as st

from ui import resources

gateway = resources.gateway()

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
else:
    st.caption(f"Gateway: {gateway.label}")
