"""Analytics: how many messages went out, what became of them and how fast, for a period and filters.

Everything is counted in the database by smslib.services.analytics; this page picks the filters
(kept in the URL so a view can be shared), draws the results and shows the messages
behind a selected part of a chart.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from smslib.services import analytics
from smslib.services.analytics import DIMENSIONS, PERCENTILES, RANGES, STATE_ORDER, AnalyticsFilter, Overview, View
from smslib.core.errors import SmsError
from smslib.core.models import PRIORITY_NAMES, Channel, MessageState
from smslib.rules.spreadsheet import write_table
from ui import resources, shell, widgets

shell.enter_page(__file__)

settings = resources.settings()
store = resources.store()
zone = settings.display_timezone
P = "analytics."  # the prefix of this page's session_state keys
HOLD_SECONDS = 60  # how long the numbers of a period that ends "now" are reused while the store is unchanged


@st.cache_data(max_entries=32, show_spinner="Counting messages…")
def compute(store_key: str, f: AnalyticsFilter, zone: str, changes: int) -> Overview:
    """The numbers of a period of fixed days; counted again when anything in the store changes."""
    return analytics.overview(store, f, zone)


@st.cache_data(max_entries=32, ttl=HOLD_SECONDS, show_spinner="Counting messages…")
def compute_until_now(store_key: str, view: View, since: datetime, zone: str, changes: int,
                      _f: AnalyticsFilter) -> Overview:
    """The numbers of a period that ends now ("today", "last N days"): ``_f``, the filter of ``view`` now.

    Keyed by the period's first moment, not by its end, which moves on with every rerun.
    While the store's change counter stands still no message can have joined the period
    since it was counted, so the numbers are reused, for up to HOLD_SECONDS: then the end
    (and the length of the period compared with) moves on. A write or a new day counts again.
    """
    return analytics.overview(store, _f, zone)


@st.cache_data(max_entries=64, show_spinner=False)
def drill(store_key: str, f: AnalyticsFilter, changes: int, **part) -> pd.DataFrame:
    return analytics.matching_messages(store, f, **part)


# -- filters, from and back to the URL ---------------------------------------------------------
url_view = View.from_params(st.query_params.to_dict())
if st.session_state.get(P + "url") != url_view.to_params():
    # First visit, or the URL was changed from outside: it wins over the widgets.
    today = datetime.now(ZoneInfo(zone)).date()
    st.session_state[P + "range"] = url_view.range
    st.session_state[P + "days"] = (url_view.start or today - timedelta(days=6), url_view.end or today)
    st.session_state[P + "sender"] = url_view.sender
    st.session_state[P + "cost_center"] = url_view.cost_center
    st.session_state[P + "priority"] = url_view.priority
    st.session_state[P + "flash"] = {None: "any", True: "yes", False: "no"}[url_view.flash]
    st.session_state[P + "job"] = str(url_view.job_id) if url_view.job_id is not None else ""
    st.session_state[P + "channel"] = url_view.channel.value if url_view.channel else ""

st.title("Analytics")
st.caption(f"Times and days in {zone}. Counted in the database; new reports show up on the next rerun.")

with st.container(border=True):
    row = st.columns([2, 3, 2, 2, 2])
    range_name = row[0].selectbox("Period", list(RANGES), format_func=RANGES.get, key=P + "range")
    days = row[1].date_input("Days (custom period)", key=P + "days", format="YYYY-MM-DD",
                             disabled=range_name != "custom")
    sender = row[2].selectbox("Sender", [None, *settings.senders, *([st.session_state[P + "sender"]]
                              if st.session_state[P + "sender"] not in (None, *settings.senders) else [])],
                              format_func=lambda v: "Any" if v is None else v, accept_new_options=True,
                              key=P + "sender")
    cost_center = row[3].selectbox(
        "Cost centre", [None, *settings.cost_centers, *([st.session_state[P + "cost_center"]]
                        if st.session_state[P + "cost_center"] not in (None, *settings.cost_centers) else [])],
        format_func=lambda v: "Any" if v is None else v, accept_new_options=True, key=P + "cost_center")
    priority = row[4].selectbox("Priority", [None, *PRIORITY_NAMES], key=P + "priority",
                                format_func=lambda v: "Any" if v is None else f"{v} · {PRIORITY_NAMES[v]}")
    row = st.columns([2, 2, 2, 5])
    flash = row[0].selectbox("Flash SMS", ["any", "yes", "no"], key=P + "flash", format_func=str.capitalize)
    channel = row[1].selectbox("Channel", ["", *(c.value for c in Channel)], key=P + "channel",
                               format_func=lambda v: {"": "Any", "smses": "/Smses", "simpleapi": "/SimpleApi"}[v])
    job_text = row[2].text_input("Job", key=P + "job", placeholder="job number")

start, end = (tuple(days) + (None, None))[:2] if isinstance(days, (tuple, list)) else (days, days)
if range_name == "custom" and not (isinstance(start, date) and isinstance(end, date)):
    st.info("Pick the first and the last day of the period.", icon=":material/date_range:")
    st.stop()
if job_text.strip() and not job_text.strip().isdigit():
    st.warning("The job is a number, e.g. 12.", icon=":material/info:")
view = View(
    range=range_name, start=start if range_name == "custom" else None, end=end if range_name == "custom" else None,
    sender=sender or None, cost_center=cost_center or None, priority=priority,
    flash={"any": None, "yes": True, "no": False}[flash], channel=Channel(channel) if channel else None,
    job_id=int(job_text) if job_text.strip().isdigit() else None,
)
st.session_state[P + "url"] = view.to_params()
if st.query_params.to_dict() != view.to_params():
    st.query_params.from_dict(view.to_params())

try:
    # The counter first: a message written after it is read moves it, one written before is in the period.
    changes = store.change_counter()
    resolved = view.resolve(zone)
    result = (compute(repr(store), resolved, zone, changes) if view.range == "custom" else
              compute_until_now(repr(store), view, resolved.since, zone, changes, resolved))
except SmsError as e:
    st.error(str(e), icon=":material/error:")
    st.stop()

f = result.filter  # the period as counted: drill-downs and links show the same messages
k, before = result.kpis, result.previous
st.caption(f"{widgets.format_time(f.since)} – {widgets.format_time(f.until)}, "
           f"compared with the {f.length.total_seconds() / 86400:.3g} day(s) before.")


# -- KPIs ---------------------------------------------------------------------------------------
def delta(now: float | None, then: float | None, scale: float = 1.0, unit: str = "") -> str | None:
    if now is None or then is None:
        return None
    return f"{(now - then) * scale:+,.1f}{unit}" if scale != 1 or unit else f"{now - then:+,.0f}"


def share(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f} s"


cols = st.columns(7)
cols[0].metric("Messages", f"{k.messages:,}", delta(k.messages, before.messages), border=True)
cols[1].metric("SMS segments", f"{k.segments:,}", delta(k.segments, before.segments), border=True)
cols[2].metric("Delivered", share(k.delivered_share), delta(k.delivered_share, before.delivered_share, 100, " pp"),
               help="Of the messages whose outcome is known (not pending or uncertain).", border=True)
cols[3].metric("Failed", share(k.failed_share), delta(k.failed_share, before.failed_share, 100, " pp"),
               delta_color="inverse", border=True,
               help="; ".join(f"{s.label}: {share(v)}" for s, v in k.failed_share_by_kind().items()))
cols[4].metric("Pending", f"{k.pending:,}", delta(k.pending, before.pending), delta_color="off", border=True)
cols[5].metric("Median latency", seconds(k.latency[50]), delta(k.latency[50], before.latency[50], 1, " s"),
               delta_color="inverse", border=True, help="Delivery time minus acceptance time, gateway clock.")
cols[6].metric("p95 latency", seconds(k.latency[95]), delta(k.latency[95], before.latency[95], 1, " s"),
               delta_color="inverse", border=True)
st.caption("Failed by kind: " + " · ".join(f"{s.label} {share(v)}" for s, v in k.failed_share_by_kind().items()))

if k.messages == 0:
    st.info("No messages in this period with these filters. Send some from **Compose** or **Bulk upload**, "
            "widen the period, or fill the store with demo data: `python -m smslib seed-demo --messages 100000`.",
            icon=":material/query_stats:")
    st.stop()

COLORS = {s.label: s.color for s in STATE_ORDER}
LABEL_ORDER = [s.label for s in STATE_ORDER]


def selected(event, field: str = "customdata"):
    points = (event or {}).get("selection", {}).get("points", []) if event else []
    if not points:
        return None
    value = points[0].get(field)
    return value[0] if isinstance(value, list) else value


def show_messages(title: str, history_params: dict[str, str], **part) -> None:
    st.markdown(f"**{title}** (newest 200)")
    frame = drill(repr(store), f, changes, **part)
    if not len(frame):
        st.caption("No messages.")
        return
    frame = frame.assign(
        submitted_at=pd.to_datetime(frame["submitted_at"], utc=True).dt.tz_convert(zone).dt.tz_localize(None),
        state=frame["state"].map(lambda s: MessageState(s).label))
    st.dataframe(frame, hide_index=True, width="stretch")
    st.page_link("pages/history.py", label="Open in History", icon=":material/history:",
                 query_params={**f.history_params(zone), **history_params})


# -- status distribution ------------------------------------------------------------------------
st.subheader("Status")
st.caption("How many messages of the period are in each state. Select a bar to see its messages.")
states = result.states
figure = go.Figure(go.Bar(x=states["messages"], y=states["label"], orientation="h",
                          marker_color=states["color"], customdata=states["state"],
                          text=[f"{m:,} ({s:.1%})" for m, s in zip(states["messages"], states["share"])]))
figure.update_layout(yaxis={"categoryorder": "array", "categoryarray": LABEL_ORDER[::-1]}, height=320,
                     margin={"t": 10, "b": 10}, xaxis_title="messages")
event = st.plotly_chart(figure, key=P + "states_chart", on_select="rerun", selection_mode="points")
state_value = selected(event) or st.selectbox(
    "Show the messages in state", [None, *(s.value for s in STATE_ORDER)], key=P + "drill_state",
    format_func=lambda v: "—" if v is None else MessageState(v).label)
if state_value:
    show_messages(f"Messages: {MessageState(state_value).label}", {"state": state_value},
                  state=MessageState(state_value))

# -- over time ----------------------------------------------------------------------------------
st.subheader("Over time")
st.caption(f"Messages per {result.bucket} by state (stacked), by the time they were sent.")
over = result.over_time
if len(over):
    # Each bucket by its label: the hour that repeats when the clocks go back is two bars, not one.
    figure = px.bar(over, x="time", y="messages", color="label", color_discrete_map=COLORS,
                    category_orders={"label": LABEL_ORDER, "time": list(dict.fromkeys(over["time"]))},
                    labels={"time": "", "label": "State"})
    figure.update_layout(barmode="stack", height=360, margin={"t": 10, "b": 10}, xaxis_type="category")
    st.plotly_chart(figure, key=P + "time_chart")
else:
    st.caption("Nothing to show.")

# -- latency ------------------------------------------------------------------------------------
st.subheader("Latency")
hist = result.latency_histogram
if not len(hist):
    st.caption("No delivered message with both an acceptance and a delivery time in this period.")
else:
    left, right = st.columns(2)
    with left:
        st.caption("How long delivered messages took from acceptance to delivery (log scale).")
        figure = go.Figure(go.Scatter(x=hist["lower"], y=hist["messages"], line_shape="hv", fill="tozeroy",
                                      line_color=MessageState.DELIVERED.color, name="messages"))
        figure.update_layout(xaxis_type="log", xaxis_title="seconds", yaxis_title="messages per 1 % bucket",
                             height=320, margin={"t": 10, "b": 10})
        st.plotly_chart(figure, key=P + "latency_hist")
    with right:
        st.caption("Share delivered within a time (ECDF), with p50, p90, p95 and p99 marked.")
        figure = go.Figure(go.Scatter(x=hist["upper"], y=hist["cumulative_share"], line_shape="hv",
                                      line_color=MessageState.DELIVERED.color, name="ECDF"))
        for p in PERCENTILES:
            if k.latency[p] is not None:
                figure.add_vline(x=k.latency[p], line_dash="dot", annotation_text=f"p{p} {k.latency[p]:.1f} s")
        figure.update_layout(xaxis_type="log", xaxis_title="seconds", yaxis_tickformat=".0%", height=320,
                             margin={"t": 10, "b": 10})
        st.plotly_chart(figure, key=P + "latency_ecdf")
    trend = result.latency_over_time
    st.caption(f"Latency percentiles per {result.bucket} (log scale).")
    figure = go.Figure([go.Scatter(x=trend["time"], y=trend[f"p{p}"], mode="lines+markers", name=f"p{p}")
                        for p in PERCENTILES])
    figure.update_layout(yaxis_type="log", yaxis_title="seconds", xaxis_type="category", height=320,
                         margin={"t": 10, "b": 10})
    st.plotly_chart(figure, key=P + "latency_trend")

# -- breakdowns ---------------------------------------------------------------------------------
st.subheader("Breakdowns")
st.caption("Messages and delivered share by sender, cost centre, priority and job. Select a bar to see its messages.")
tabs = st.tabs(list(DIMENSIONS.values()))
for tab, (dimension, title) in zip(tabs, DIMENSIONS.items()):
    with tab:
        table = result.breakdowns.get(dimension, pd.DataFrame())
        if not len(table):
            st.caption("Nothing to show.")
            continue
        table = table.head(30)
        figure = go.Figure(go.Bar(
            x=table["label"], y=table["messages"], customdata=list(range(len(table))),
            marker_color=MessageState.DELIVERED.color,
            text=[share(v) if pd.notna(v) else "" for v in table["delivered_share"]],
            hovertemplate="%{x}: %{y:,} messages, %{text} delivered<extra></extra>"))
        figure.update_layout(height=320, margin={"t": 10, "b": 10}, yaxis_title="messages",
                             xaxis={"type": "category"})
        event = st.plotly_chart(figure, key=P + "by_" + dimension, on_select="rerun", selection_mode="points")
        position = selected(event)
        if position is not None:
            value = table["value"].iloc[int(position)]
            value = None if pd.isna(value) else value
            show_messages(f"Messages: {title} {table['label'].iloc[int(position)]}",
                          {{"job_id": "job"}.get(dimension, dimension): str(value)} if value is not None else {},
                          dimension=dimension, value=value)

# -- what fails most ----------------------------------------------------------------------------
st.subheader("What fails most")
st.caption("Numbers and number prefixes with the most failed messages (not delivered, expired, rejected, "
           "failed to send). Select a row to see its messages.")


def failing_table(frame: pd.DataFrame, column: str, key: str, title: str) -> None:
    """A "fails most" table; selecting a row shows the messages to that number or prefix."""
    if not len(frame):
        st.caption("No failed messages.")
        return
    event = st.dataframe(frame, hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row",
                         key=P + key, column_config={"failed_share": st.column_config.NumberColumn(
                             "failed share", format="percent")})
    rows = event.selection.rows if event else []
    if rows:
        value = frame[column].iloc[rows[0]]
        # With its "+", History reads the number as the start of numbers, as the drill-down does.
        show_messages(title.format(value), {"phone": value}, phone_prefix=value)


left, right = st.columns(2)
with left:
    failing_table(result.failing_numbers, "phone", "failing_numbers", "Messages to {}")
with right:
    failing_table(result.failing_prefixes, "prefix", "failing_prefixes", "Messages to {}…")

# -- exports ------------------------------------------------------------------------------------
st.subheader("Export")
st.caption("The aggregated tables behind the charts. Charts download as PNG from their toolbar (camera icon).")
tables = result.tables()
name = st.selectbox("Table", list(tables), key=P + "export_table", format_func=lambda n: n.replace("_", " "))
row = st.columns([1, 1, 6])
row[0].download_button("CSV", data=lambda: write_table(tables[name], "csv"), file_name=f"{name}.csv",
                       mime="text/csv", icon=":material/download:", key=P + "export_csv")
row[1].download_button("XLSX", data=lambda: write_table(tables[name], "xlsx"), file_name=f"{name}.xlsx",
                       mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                       icon=":material/download:", key=P + "export_xlsx")
