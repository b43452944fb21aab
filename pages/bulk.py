"""Bulk upload: a spreadsheet → map columns → validate → plan → send as a background job → results."""

from __future__ import annotations

from datetime import datetime, time as dtime, timezone
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from smslib.services import jobs
from smslib.services import planning
from smslib.core.errors import SmsError
from smslib.core.models import PRIORITY_NAMES, MessageState
from smslib.rules.phones import normalize_series
from smslib.rules.spreadsheet import list_sheets, read_table, write_table
from smslib.store import JobState
from smslib.services.worker import live_workers
from ui import auth, resources, shell, widgets

shell.enter_page(__file__)

settings = resources.settings()
store = resources.store()
runner = resources.runner()

ONE_VALUE = "(one value for all rows)"
TABLE = "bulk.table"            # (file id, sheet, DataFrame) of the uploaded file
VALIDATION = "bulk.validation"  # (mapping, Validation) of the last validation
JOB = "bulk.job_id"             # the job shown below (also in the URL as ?job=)
st.session_state.setdefault("bulk.template", "")
st.session_state.setdefault(TABLE, None)
st.session_state.setdefault(VALIDATION, None)
st.session_state.setdefault(JOB, int(st.query_params["job"]) if st.query_params.get("job", "").isdigit() else None)


def _insert_column(column: str) -> None:
    st.session_state["bulk.template"] = st.session_state["bulk.template"] + "{" + column + "}"


def _show_job(job_id: int | None) -> None:
    st.session_state[JOB] = job_id
    if job_id is None:
        st.query_params.pop("job", None)
    else:
        st.query_params["job"] = str(job_id)


def _job_action(action, job_id: int) -> None:
    try:
        action(store, job_id)
    except SmsError as e:
        st.session_state["bulk.action_error"] = str(e)
    if runner is not None:
        runner.wake()


st.title("Bulk upload")  # the name the navigation gives this page
if runner is None:
    st.info("Jobs are sent by a separate worker (`python -m smslib worker`); this dashboard only queues them.",
            icon=":material/info:")
new_tab, jobs_tab, blocklist_tab = st.tabs(["New job", "Jobs", "Blocklist"])

# -- 1. upload ---------------------------------------------------------------------------------

with new_tab:
    upload = st.file_uploader(
        "Spreadsheet with one recipient per row", type=["csv", "tsv", "txt", "xlsx", "xls", "ods"], key="bulk.file",
        help=f"At most {settings.max_upload_mb} MB and {settings.max_rows:,} rows.")
    st.caption(f"CSV, TSV, TXT, XLSX, XLS or ODS; at most {settings.max_upload_mb} MB.")
    frame: pd.DataFrame | None = None
    if upload is not None:
        data = upload.getvalue()
        max_bytes = settings.max_upload_mb * 1024 * 1024
        try:
            sheets = list_sheets(data, upload.name, max_bytes=max_bytes)
            sheet = st.selectbox("Sheet", sheets, key="bulk.sheet") if len(sheets) > 1 else None
            cached = st.session_state[TABLE]
            if cached is not None and cached[0] == (upload.file_id, sheet):
                frame = cached[1]
            else:
                frame = read_table(data, upload.name, sheet, max_rows=settings.max_rows, max_bytes=max_bytes)
                st.session_state[TABLE] = ((upload.file_id, sheet), frame)
                st.session_state[VALIDATION] = None
        except SmsError as e:
            st.error(str(e), icon=":material/error:")
    if frame is not None:
        st.markdown(f"**{len(frame):,} rows**, {len(frame.columns)} columns. The first rows:")
        st.dataframe(frame.head(10), key="bulk.preview")

# -- 2. map columns ---------------------------------------------------------------------------

mapping: planning.ColumnMapping | None = None
if frame is not None and len(frame.columns):
    with new_tab:
        st.subheader("Columns")
        columns = [str(c) for c in frame.columns]
        guess = planning.guess_phone_column(frame, settings.phone_region)
        phone_column = st.selectbox("Phone numbers", columns, index=columns.index(guess) if guess in columns else 0,
                                    key="bulk.phone_column")
        mode = st.radio("Message", ["From a column", "A template"], horizontal=True, key="bulk.mode")
        message_column = template = None
        if mode == "From a column":
            message_column = st.selectbox("Message column", columns, key="bulk.message_column")
        else:
            template = st.text_area("Template: {column} is replaced by the row's value", key="bulk.template")
            buttons = st.columns(min(len(columns), 6))
            for i, column in enumerate(columns):
                buttons[i % len(buttons)].button(f"{{{column}}}", key=f"bulk.insert.{i}",
                                                 on_click=_insert_column, args=(column,))

        def option(label: str, name: str, widget):
            source = st.selectbox(label, [ONE_VALUE, *columns], key=f"bulk.{name}_source")
            if source != ONE_VALUE:
                return source, None
            return None, widget()

        with st.expander("Sender, priority, flash, cost centre"):
            sender_column, sender = option("Sender", "sender", lambda: st.text_input(
                "Sender for all", value=settings.default_sender, key="bulk.sender") or None)
            priority_column, priority = option("Priority", "priority", lambda: st.selectbox(
                "Priority for all", [None, 0, 1, 2, 3], format_func=lambda p: "Gateway default" if p is None
                else f"{p} – {PRIORITY_NAMES[p]}", key="bulk.priority"))
            flash_column, flash = option("Flash SMS", "flash", lambda: st.checkbox(
                "Flash SMS for all", key="bulk.flash") or None)
            cost_column, cost_center = option("Cost centre", "cost_center", lambda: st.selectbox(
                "Cost centre for all", [None, *settings.cost_centers], key="bulk.cost_center"))
        mapping = planning.ColumnMapping(
            phone_column, message_column=message_column, template=template if template else None,
            sender_column=sender_column, sender=sender, priority_column=priority_column, priority=priority,
            flash_column=flash_column, flash=flash, cost_center_column=cost_column, cost_center=cost_center)
        if mapping.template is None and mapping.message_column is None:
            st.info("Write the template, or choose the message column.")
            mapping = None
        else:
            preview = planning.validate(frame.head(5), mapping, region=settings.phone_region)
            st.caption("Preview of the first messages")
            st.dataframe(pd.DataFrame({"phone": preview.rows["given_phone"], "message": preview.rows["text"],
                                       "SMS": preview.rows["segments"], "problem": preview.rows["reason"]}),
                         key="bulk.message_preview")

# -- 3. validate and 4. plan --------------------------------------------------------------------

if mapping is not None and frame is not None:
    with new_tab:
        st.subheader("Check")
        if st.button("Validate all rows", key="bulk.validate", type="primary"):
            try:
                st.session_state[VALIDATION] = (mapping, planning.validate(
                    frame, mapping, region=settings.phone_region, mobile_only=settings.mobile_only,
                    blocked=store.blocked, cost_centers=settings.cost_centers))
            except SmsError as e:
                st.error(str(e), icon=":material/error:")
        checked = st.session_state[VALIDATION]
        if checked is not None and checked[0] != mapping:
            st.info("The columns changed since the last check: validate again.")
            checked = None
        if checked is not None:
            validation = checked[1]
            totals = validation.totals
            cells = st.columns(6)
            for cell, (label, value) in zip(cells, [
                ("Rows", totals.rows), ("Valid", totals.valid), ("Invalid", totals.invalid),
                ("Duplicates removed", totals.duplicates), ("Unique recipients", totals.unique_recipients),
                ("SMS billed", totals.billed)]):
                cell.metric(label, f"{value:,}")
            if totals.invalid:
                report = validation.invalid_report()
                st.dataframe(report, key="bulk.invalid_rows", hide_index=True)
                left, right = st.columns(2)
                left.download_button("Invalid rows as CSV", write_table(report, "csv"), "invalid-rows.csv",
                                     "text/csv", key="bulk.invalid_csv")
                right.download_button("Invalid rows as XLSX", write_table(report, "xlsx"), "invalid-rows.xlsx",
                                      key="bulk.invalid_xlsx")
            planned = planning.plan(validation, settings.batch_size, sent_by=auth.current_user())
            st.markdown(f"**{len(planned):,} gateway requests** of at most {settings.batch_size} numbers each.")

            # -- 5./6. schedule and send ---------------------------------------------------------
            if planned:
                st.subheader("Send")
                when = st.radio("Start", ["Now", "At a chosen time"], horizontal=True, key="bulk.when")
                scheduled_at = None
                zone = ZoneInfo(settings.display_timezone)
                if when == "At a chosen time":
                    day = st.date_input("Day", key="bulk.day")
                    hour = st.time_input("Time", key="bulk.time", value=dtime(9))
                    scheduled_at = datetime.combine(day, hour, tzinfo=zone).astimezone(timezone.utc)
                window = None
                if st.checkbox("Send only within daily hours", key="bulk.use_window"):
                    start = st.time_input("From", value=dtime(8), key="bulk.window_start")
                    end = st.time_input("Until", value=dtime(20), key="bulk.window_end")
                    window = jobs.SendWindow(start, end, settings.display_timezone)
                    st.caption(f"Outside {start:%H:%M}–{end:%H:%M} ({settings.display_timezone}) the job waits.")
                confirmed = st.checkbox(
                    f"Send {totals.valid:,} messages ({totals.billed:,} SMS billed) to "
                    f"{totals.unique_recipients:,} recipients", key="bulk.confirm")
                if st.button("Start the job", key="bulk.start", type="primary", disabled=not confirmed):
                    try:
                        job = jobs.create_job(store, planned, name=upload.name, source_filename=upload.name,
                                              created_by=auth.current_user(),
                                              scheduled_at=scheduled_at, send_window=window,
                                              settings={"mapping": mapping.to_dict(),
                                                        "batch_size": settings.batch_size})
                    except SmsError as e:
                        st.error(str(e), icon=":material/error:")
                    else:
                        _show_job(job.id)
                        st.session_state[VALIDATION] = None
                        if runner is not None:
                            runner.wake()
                        st.success(f"Job {job.id} queued. Its progress is on the Jobs tab.")


# -- progress and results -----------------------------------------------------------------------


def worker_health(job) -> None:
    """Who sends: the workers alive (by their heartbeat), or why an open job waits for one."""
    now = datetime.now(timezone.utc)
    alive = live_workers(store, now=now)
    if not alive:
        if job.state in (JobState.QUEUED, JobState.RUNNING):
            st.warning("No worker is running, so this job waits: start `python -m smslib worker` "
                       "or set SMS_RUN_WORKER_IN_APP=true.", icon=":material/warning:")
        return
    st.caption("Workers: " + "; ".join(
        f"{beat.worker.kind} on {beat.worker.host} (pid {beat.worker.pid}), {beat.doing}, "
        f"seen {max(0, round((now - beat.heartbeat_at).total_seconds()))} s ago" for beat in alive))


@st.fragment(run_every=2)
def job_panel(job_id: int) -> None:
    try:
        progress = jobs.job_progress(store, job_id)
    except SmsError as e:
        st.error(str(e), icon=":material/error:")
        return
    job = progress.job
    st.subheader(f"Job {job.id}: {job.name}")
    st.markdown(f"State: **{job.state.value}** · created {widgets.format_time(job.created_at)}")
    st.progress(progress.fraction, text=f"{progress.done:,} of {job.total:,}")
    cells = st.columns(5)
    cells[0].metric("Sent", f"{progress.sent:,}")
    cells[1].metric("Failed", f"{progress.failed:,}")
    cells[2].metric("Uncertain", f"{progress.uncertain:,}")
    cells[3].metric("Waiting", f"{progress.waiting:,}")
    cells[4].metric("Rate", f"{progress.rate:.1f} SMS/s" if progress.rate else "—")
    if progress.eta_seconds and job.state is JobState.RUNNING:
        eta = progress.eta_seconds
        st.caption(f"About {eta:.0f} s left" if eta < 90 else f"About {eta / 60:.0f} min left")
    if progress.waiting_for:
        st.info(f"Waiting: {progress.waiting_for}", icon=":material/schedule:")
    worker_health(job)
    if job.last_error:
        st.warning(job.last_error, icon=":material/warning:")
    if error := st.session_state.pop("bulk.action_error", None):
        st.error(error, icon=":material/error:")
    actions = st.columns(3)
    if job.state in (JobState.QUEUED, JobState.RUNNING):
        actions[0].button("Pause", key="bulk.pause", on_click=_job_action, args=(jobs.pause, job.id))
    if job.state in (JobState.PAUSED, JobState.FAILED):
        actions[0].button("Resume", key="bulk.resume", on_click=_job_action, args=(jobs.resume, job.id))
    if job.state in (JobState.QUEUED, JobState.RUNNING, JobState.PAUSED, JobState.FAILED):
        actions[1].button("Cancel", key="bulk.cancel", on_click=_job_action, args=(jobs.cancel, job.id))

    for batch in jobs.uncertain_batches(store, job.id)[:20]:
        with st.container(border=True):
            st.markdown(f"Request {batch.seq} ({len(batch.phones)} numbers) may or may not have gone out: "
                        f"{batch.last_error or ''}")
            left, right = st.columns(2)
            if left.button("Send again", key=f"bulk.resend.{batch.id}",
                           help="Safe when the gateway de-duplicates TransactionIds."):
                outcome = jobs.resend_uncertain(resources.gateway().client, store, batch.id,
                                                phone_format=settings.phone_format)
                if outcome.error and not outcome.accepted:
                    st.error(outcome.error, icon=":material/error:")
            if right.button("Mark as sent", key=f"bulk.mark_sent.{batch.id}"):
                jobs.mark_uncertain_as_sent(store, batch.id)

    rows = jobs.job_rows(store, job.id)
    if len(rows):
        # A table cell shows text, not Markdown: the state's label, and times in the display zone.
        shown = rows.assign(state=rows["state"].map(lambda s: MessageState(s).label),
                            delivered_at=rows["delivered_at"].map(
                                lambda t: widgets.format_time(t) if pd.notna(t) else "—"),
                            error=rows["error"].fillna(""))
        st.dataframe(shown.head(1000), key="bulk.results", hide_index=True, column_config={
            "row": "Row in file", "phone": "Number", "text": "Message", "message_id": "Gateway message id",
            "state": "State", "error": "Error", "delivered_at": "Delivered"})
        if len(rows) > 1000:
            st.caption(f"The first 1,000 of {len(rows):,} rows; the downloads below hold them all.")
        left, right = st.columns(2)
        left.download_button("Results as CSV", write_table(rows, "csv"), f"job-{job.id}.csv", "text/csv",
                             key="bulk.results_csv")
        right.download_button("Results as XLSX", write_table(rows, "xlsx"), f"job-{job.id}.xlsx",
                              key="bulk.results_xlsx")


@st.fragment(run_every=2)  # the same pace as the job panel, so the two never disagree for long
def jobs_table() -> None:
    """The list of jobs, refreshed on its own so its states follow the open job's panel."""
    st.dataframe(pd.DataFrame([{"job": j.id, "name": j.name, "state": j.state.value, "recipients": j.total,
                                "created": widgets.format_time(j.created_at)} for j in jobs.list_jobs(store)]),
                 key="bulk.jobs", hide_index=True)


with jobs_tab:
    past = jobs.list_jobs(store)
    if not past:
        st.caption("No jobs yet.")
    else:
        jobs_table()
        ids = [j.id for j in past]
        current = st.session_state[JOB]
        chosen = st.selectbox("Open job", ids, index=ids.index(current) if current in ids else 0,
                              key="bulk.open_job")
        if chosen != current:
            _show_job(chosen)
        job_panel(chosen)

# -- 7. blocklist -------------------------------------------------------------------------------

with blocklist_tab:
    st.caption("Numbers here are never sent to: validation marks them \"blocked\".")
    to_block = st.text_area("Numbers to block (one per line, or separated by commas)", key="bulk.block_text")
    reason = st.text_input("Reason", key="bulk.block_reason")
    block_file = st.file_uploader("…or a spreadsheet whose first column holds numbers",
                                  type=["csv", "tsv", "txt", "xlsx", "xls", "ods"], key="bulk.block_file")
    if st.button("Block", key="bulk.block"):
        raw = [part for part in to_block.replace(",", "\n").splitlines() if part.strip()]
        try:
            if block_file is not None:
                listed = read_table(block_file.getvalue(), block_file.name)
                raw += listed.iloc[:, 0].tolist() if len(listed.columns) else []
            found = normalize_series(pd.Series(raw, dtype=object), settings.phone_region)
            good = found["phone"].dropna().tolist()
            added = store.block(good, reason=reason)
            st.success(f"{added} numbers added to the blocklist.")
            if bad := int(found["phone"].isna().sum()):
                st.warning(f"{bad} entries are not phone numbers and were skipped.")
        except SmsError as e:
            st.error(str(e), icon=":material/error:")
    blocked = store.list_blocked()
    if blocked:
        listing = pd.DataFrame([{"phone": b.phone, "reason": b.reason, "added": widgets.format_time(b.added_at)}
                                for b in blocked])
        st.dataframe(listing, key="bulk.blocked", hide_index=True)
        remove = st.multiselect("Remove from the blocklist", listing["phone"].tolist(), key="bulk.unblock_pick")
        if st.button("Remove", key="bulk.unblock", disabled=not remove):
            st.success(f"{store.unblock(remove)} numbers removed.")
        st.download_button("Blocklist as CSV", write_table(listing, "csv"), "blocklist.csv", "text/csv",
                           key="bulk.blocklist_csv")
