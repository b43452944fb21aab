"""History: find any message, see its state and reports, export what you found."""

from __future__ import annotations

import json

import streamlit as st

from smslib.services.analytics import View
from smslib.core.errors import SmsError
from smslib.services.history import (NUMBER_FILTER_HELP, day_range, export_messages, messages_frame, number_filter,
                            parse_channel, parse_day, parse_states)
from smslib.core.models import PRIORITY_NAMES, Channel, MessageState
from smslib.services.reports import sync_reports
from smslib.store import MessageFilter
from ui import resources, shell, widgets

shell.enter_page(__file__)

PAGE_SIZES = (25, 50, 100, 250)

settings = resources.settings()
store = resources.store()
zone = settings.display_timezone
params = st.query_params

st.title("History")
st.caption("Every message sent from this dashboard, newest first. Filters can be shared: they live in the URL.")


@st.cache_data(max_entries=64, show_spinner=False)
def count(filters: MessageFilter, changes: int) -> int:
    return store.count_messages(filters)


def check_reports_now() -> None:
    runner = resources.runner()
    try:
        counts = runner.run_now("sync") if runner else sync_reports(
            resources.gateway().client, store, pending_check_after=settings.pending_check_after)
    except SmsError as e:
        st.session_state["history.sync"] = ("error", str(e))
        return
    st.session_state["history.sync"] = (
        "ok", f"{counts.new} new report(s), {counts.duplicate} already known, "
              f"{counts.unknown} for unknown messages, {counts.still_pending} still pending.")


# -- filters ------------------------------------------------------------------------------
with st.container(border=True):
    row = st.columns([2, 3, 3, 2, 2])
    phone = row[0].text_input("Number", value=params.get("phone", ""), key="history.phone",
                              placeholder="e.g. +48600 or 600100200", help=NUMBER_FILTER_HELP)
    text = row[1].text_input("Text contains", value=params.get("q", ""), key="history.text")
    state_values = row[2].multiselect(
        "State", [s.value for s in MessageState], key="history.states",
        default=[s.value for s in parse_states(params.get_all("state"))],
        format_func=lambda v: MessageState(v).label,
    )
    first_day = row[3].date_input("Sent from", value=parse_day(params.get("from")), key="history.from",
                                  format="YYYY-MM-DD", help=f"The first day, in {zone}. Empty: from the first message.")
    last_day = row[4].date_input("Sent to", value=parse_day(params.get("to")), key="history.to",
                                 format="YYYY-MM-DD", help=f"The last day (included), in {zone}. Empty: up to now.")
    row = st.columns(4)
    sender = row[0].text_input("Sender", value=params.get("sender", ""), key="history.sender")
    cost_center = row[1].text_input("Cost centre", value=params.get("cost_center", ""), key="history.cost_center")
    channel_value = row[2].selectbox(
        "Channel", ["", *(c.value for c in Channel)], key="history.channel",
        index=["", *(c.value for c in Channel)].index(params.get("channel", "")) if
        params.get("channel", "") in ("", *(c.value for c in Channel)) else 0,
        format_func=lambda v: {"": "Any", "smses": "/Smses", "simpleapi": "/SimpleApi"}[v],
    )
    job_text = row[3].text_input("Job", value=params.get("job", ""), key="history.job", placeholder="job number")
    # Priority and flash read the URL as the analytics page writes it, so its "Open in History" matches.
    linked = View.from_params(params.to_dict())
    row = st.columns(4)
    priority = row[0].selectbox("Priority", [None, *PRIORITY_NAMES], key="history.priority",
                                index=[None, *PRIORITY_NAMES].index(linked.priority),
                                format_func=lambda v: "Any" if v is None else f"{v} · {PRIORITY_NAMES[v]}")
    flash = row[1].selectbox("Flash SMS", [None, True, False], key="history.flash",
                             index=[None, True, False].index(linked.flash),
                             format_func=lambda v: {None: "Any", True: "Yes", False: "No"}[v])

since, until = day_range(first_day, last_day, zone)
number, number_match = number_filter(phone)
filters = MessageFilter(
    since=since, until=until, phone=number, phone_match=number_match, text=text.strip(),
    states=parse_states(state_values),
    sender=sender.strip() or None, cost_center=cost_center.strip() or None, priority=priority, flash=flash,
    channel=parse_channel(channel_value), job_id=int(job_text) if job_text.strip().isdigit() else None,
)
if job_text.strip() and not job_text.strip().isdigit():
    st.warning("The job is a number, e.g. 12.", icon=":material/info:")
if first_day and last_day and last_day < first_day:
    st.warning("The last day is before the first one, so no message can match: swap them.", icon=":material/info:")

# The URL carries the filters so a view can be shared.
shared = {"phone": phone.strip(), "q": text.strip(), "state": state_values,
          "from": first_day.isoformat() if first_day else "", "to": last_day.isoformat() if last_day else "",
          "sender": sender.strip(), "cost_center": cost_center.strip(), "channel": channel_value,
          "job": job_text.strip(),
          "priority": "" if priority is None else str(priority),
          "flash": "" if flash is None else ("true" if flash else "false")}
for key, value in shared.items():
    if value:
        params[key] = value
    elif key in params:
        del params[key]

# -- actions ------------------------------------------------------------------------------
total = count(filters, store.change_counter())
top = st.columns([3, 2, 2, 2])
top[0].markdown(f"**{total:,}** {'message matches' if total == 1 else 'messages match'}")
top[1].button("Check for reports now", icon=":material/sync:", on_click=check_reports_now,
              key="history.sync_button")
top[2].download_button(
    "Export CSV", data=lambda: export_messages(store, filters, "csv", zone), file_name="messages.csv",
    mime="text/csv", icon=":material/download:", disabled=total == 0, key="history.export_csv")
top[3].download_button(
    "Export XLSX", data=lambda: export_messages(store, filters, "xlsx", zone), file_name="messages.xlsx",
    mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", icon=":material/download:",
    disabled=total == 0, key="history.export_xlsx")
if "history.sync" in st.session_state:
    kind, sentence = st.session_state["history.sync"]
    (st.success if kind == "ok" else st.error)(sentence)

# -- the table, page by page (keyset: page 1,000 is as fast as page 1) ----------------------
filter_key = repr(filters)
if st.session_state.get("history.filter_key") != filter_key:
    st.session_state["history.filter_key"] = filter_key
    st.session_state["history.cursors"] = [None]  # the cursor each visited page starts after
cursors = st.session_state["history.cursors"]
page_size = st.session_state.get("history.page_size", 50)
page = store.query_messages(filters, after=cursors[-1], limit=page_size)

if total == 0:
    st.info("No messages match. Send one from **Compose** or **Bulk upload**, or loosen the filters.",
            icon=":material/inbox:")
else:
    frame = messages_frame(page.rows, zone)
    selection = st.dataframe(
        frame, hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row",
        key="history.table",
        column_config={
            "ID": st.column_config.NumberColumn(width="small"),
            "Sent": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
            "Delivered": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
            "Latency (s)": st.column_config.NumberColumn(format="%.1f"),
        },
    )
    nav = st.columns([1, 1, 2, 4])
    if nav[0].button("Previous", disabled=len(cursors) == 1, icon=":material/chevron_left:", key="history.prev"):
        cursors.pop()
        st.rerun()
    if nav[1].button("Next", disabled=page.next_cursor is None, icon=":material/chevron_right:", key="history.next"):
        cursors.append(page.next_cursor)
        st.rerun()
    nav[2].selectbox("Rows per page", PAGE_SIZES, index=PAGE_SIZES.index(page_size), key="history.page_size",
                     label_visibility="collapsed", format_func=lambda n: f"{n} per page")
    first = (len(cursors) - 1) * page_size
    nav[3].caption(f"Page {len(cursors)} · rows {first + 1:,}–{first + len(page.rows):,} of {total:,}")
    chosen = selection.selection.rows if selection else []
    if chosen:
        params["message"] = str(int(frame.iloc[chosen[0]]["ID"]))

# -- one message in detail ------------------------------------------------------------------
message_param = params.get("message", "")
if message_param.isdigit():
    detail = store.get_message(int(message_param))
    if detail is None:
        st.warning(f"There is no message {message_param}.")
    else:
        m = detail.message
        with st.container(border=True):
            st.subheader(f"Message {m.id} to {m.phone}")
            st.markdown(widgets.state_badge(m.state))
            if m.error:
                st.error(m.error)
            st.text(m.text)
            fields = {
                "Gateway message id": m.message_id or "—", "Sender": m.sender or "(gateway default)",
                "Priority": "—" if m.priority is None else str(m.priority),
                "Flash SMS": "yes" if m.flash else "no", "Cost centre": m.cost_center or "—",
                "Channel": "/Smses" if m.channel is Channel.SMSES else "/SimpleApi", "TransactionId": m.transaction_id or "—",
                "Job": str(m.job_id) if m.job_id else "—", "Row in file": str(m.source_row or "—"),
                "Segments": f"{m.segments} ({m.encoding})" if m.segments else "—",
                "Sent by": m.sent_by, "Sent": widgets.format_time(m.submitted_at),
                "Accepted (gateway clock)": widgets.format_time(m.accepted_at),
                "Delivered (gateway clock)": widgets.format_time(m.delivered_at),
                "Latency": f"{m.latency.total_seconds():.1f} s" if m.latency else "—",
                "Status code": "—" if m.status_code is None else str(m.status_code),
            }
            st.table({"Field": list(fields), "Value": list(fields.values())})
            st.markdown(f"**Reports received** ({len(detail.reports)})")
            if not detail.reports:
                st.caption("No report yet. Reports arrive when the message reaches a final status.")
            for report in detail.reports:
                st.code(json.dumps(report.raw, ensure_ascii=False, indent=2, default=str), language="json")
            if st.button("Close", key="history.close"):
                del params["message"]
                st.rerun()
