"""Compose: write one SMS, see what it costs and how it travels, confirm, send, watch it arrive."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from smslib.services import compose
from smslib.gateway.client import new_transaction_id
from smslib.core.errors import SmsError
from smslib.core.models import Channel
from smslib.services.reports import sync_reports
from smslib.services.sending import SendOutcome
from smslib.store import BatchState
from smslib.rules.text import to_gsm7
from ui import auth, resources, shell, widgets

shell.enter_page(__file__)

settings = resources.settings()
gateway = resources.gateway()
store = resources.store()

# Keys of this page; widgets' initial values are set here once, never with value=.
PLAN = "compose.plan"          # the ComposePlan under confirmation (dialog open), or None
RESULT = "compose.result"      # the last Sent (or an error sentence) shown under the form
TRANSLIT = "compose.translit"  # (text after, description) of the last transliteration
TEST = "compose.test"          # the ComposePlan the test button offers (its TransactionId lasts while it does)
st.session_state.setdefault("compose.recipients", "")
st.session_state.setdefault("compose.text", "")
st.session_state.setdefault("compose.transaction_id", new_transaction_id())
st.session_state.setdefault(PLAN, None)
st.session_state.setdefault(RESULT, None)
st.session_state.setdefault(TEST, None)


@dataclass(frozen=True)
class Sent:
    """What one send from this page did, kept in the session to show its outcome."""

    plan: compose.ComposePlan
    outcome: SendOutcome
    test: bool = False
    retried_if_uncertain: bool = False  # sending again resends it, if uncertain, for the gateway to de-duplicate


# -- callbacks: they run before the page is drawn, so they may set widget values ----------------


def _transliterate(text: str) -> None:
    result = to_gsm7(text)
    st.session_state["compose.text"] = result.text
    st.session_state[TRANSLIT] = (result.text, compose.describe_changes(result))


def _load_template() -> None:
    chosen = store.get_template(st.session_state.get("compose.template_pick") or "")
    if chosen is not None:
        st.session_state["compose.text"] = chosen.text


def _new_transaction_id() -> None:
    st.session_state["compose.transaction_id"] = new_transaction_id()


def _review(plan: compose.ComposePlan) -> None:
    st.session_state[PLAN] = plan


def _cancel() -> None:
    st.session_state[PLAN] = None


def _send_confirmed() -> None:
    # Taken from the session, not from the button: a second click finds no plan and sends nothing.
    plan = st.session_state.get(PLAN)
    st.session_state[PLAN] = None
    if plan is not None:
        _send(plan, test=False)


def _send_test(plan: compose.ComposePlan) -> None:
    # The plan keeps its TransactionId while the test is the same message (compose.plan_test_send):
    # a second click is answered from the store, a retry after an unclear outcome by the gateway.
    _send(plan, test=True)


def _another_test() -> None:
    st.session_state[TEST] = None  # the next test of the same message gets a new TransactionId


def _send(plan: compose.ComposePlan, *, test: bool) -> None:
    # Where the gateway de-duplicates (/Smses), an uncertain send goes again with its TransactionId.
    retry = compose.retries_uncertain(plan, gateway_deduplicates=settings.gateway_deduplicates)
    try:
        outcome = compose.send_plan(gateway.client, store, plan, phone_format=settings.phone_format,
                                    sent_by=auth.current_user(), retry_uncertain=retry)
    except SmsError as e:  # refused before anything was written, e.g. a TransactionId reused
        st.session_state[RESULT] = str(e)
        return
    st.session_state[RESULT] = Sent(plan, outcome, test, retry)
    if not test:
        st.session_state["compose.transaction_id"] = compose.transaction_id_after(outcome, plan.transaction_id)
    runner = resources.runner()
    if runner is not None and outcome.accepted:
        runner.wake()


# -- the dialog and the live states ---------------------------------------------------------------


@st.dialog("Confirm the send", width="medium", on_dismiss=_cancel)
def _confirm() -> None:
    plan = st.session_state.get(PLAN)
    if plan is None:  # sent or cancelled from inside the dialog: close it
        st.rerun()
    st.markdown(f"**{plan.cost_line}**")
    shown = ", ".join(plan.phones[:20]) + (f" and {len(plan.phones) - 20:,} more" if len(plan.phones) > 20 else "")
    st.markdown(f"To {len(plan.phones):,}: {shown}")
    st.text(plan.text)
    for line in plan.option_lines():
        st.markdown(f"- {line}")
    if _resends_uncertain(plan):
        st.info("This was sent before with an unclear outcome. It goes again with the same TransactionId, "
                "which the gateway de-duplicates: a number that already got it does not get it twice.",
                icon=":material/replay:")
    left, right = st.columns(2)
    left.button("Send", key="compose.send", type="primary", icon=":material/send:", on_click=_send_confirmed,
                use_container_width=True)
    right.button("Cancel", key="compose.cancel", on_click=_cancel, use_container_width=True)


def _resends_uncertain(plan: compose.ComposePlan) -> bool:
    """Whether sending ``plan`` sends again the last send of this page, uncertain, with its TransactionId."""
    last = st.session_state.get(RESULT)
    # Not isinstance(last, Sent): each run of this script makes a new Sent class.
    return (not isinstance(last, str) and last is not None and last.plan == plan and last.retried_if_uncertain
            and last.outcome.state is BatchState.UNCERTAIN)


@st.fragment(run_every=5)
def _delivery_states(batch_id: int) -> None:
    """The sent messages with their state, re-read from the store as reports arrive."""
    rows = store.batch_messages(batch_id)
    for message in rows:
        phone, message_id, state, link = st.columns([3, 3, 3, 2], vertical_alignment="center")
        phone.markdown(message.phone)
        message_id.markdown(f"`{message.message_id}`" if message.message_id else "—")
        state.markdown(widgets.state_badge(message.state))
        link.page_link("pages/history.py", label="History", icon=":material/history:",
                       query_params={"message": str(message.id)})
    if rows and not all(m.state.is_final for m in rows):
        st.button("Check for reports now", key="compose.check_reports", icon=":material/sync:", on_click=_check_reports)
    failure = st.session_state.pop("compose.sync_error", None)
    if failure:
        st.error(f"The report check failed: {failure}")


def _check_reports() -> None:
    try:
        runner = resources.runner()
        if runner is not None:
            runner.run_now("sync")
        else:
            sync_reports(gateway.client, store, pending_check_after=settings.pending_check_after)
    except SmsError as e:
        st.session_state["compose.sync_error"] = str(e)


def _show_result(result: Sent | str | None) -> None:
    if result is None:
        return
    if isinstance(result, str):
        st.error(result, icon=":material/error:")
        st.button("Use a new TransactionId", key="compose.renew_after_error", on_click=_new_transaction_id)
        return
    view = compose.explain_outcome(result.outcome, retried_if_uncertain=result.retried_if_uncertain)
    prefix = "Test send: " if result.test else ""
    show = {"success": st.success, "info": st.info, "warning": st.warning, "error": st.error}[view.tone]
    show(prefix + view.headline, icon=":material/sms:")
    if view.detail:
        st.caption(view.detail)
    if result.outcome.state is BatchState.UNCERTAIN and not result.test and result.retried_if_uncertain:
        st.button("Send again (same TransactionId, the gateway de-duplicates it)",
                  key="compose.resend_uncertain", icon=":material/replay:",
                  on_click=_review, args=(result.plan,),
                  help="Confirm this same message again; what already went out is not sent twice.")
    elif result.outcome.state is BatchState.UNCERTAIN and not result.test:
        st.button("Send it again anyway (new TransactionId)", key="compose.renew_after_uncertain",
                  on_click=_new_transaction_id,
                  help="Only if the History shows no report for it: a new TransactionId makes a new send.")
    if result.test and result.outcome.state is not BatchState.PENDING and not (
            result.outcome.state is BatchState.UNCERTAIN and result.retried_if_uncertain):
        st.button("New TransactionId for the next test", key="compose.test_renew", on_click=_another_test,
                  help="The test button then sends this message again, as a new SMS"
                       + (" (only if the History shows no report for the uncertain one)."
                          if result.outcome.state is BatchState.UNCERTAIN else "."))
    if result.outcome.state in (BatchState.ACCEPTED, BatchState.UNCERTAIN):
        _delivery_states(result.outcome.batch_id)


# -- the page --------------------------------------------------------------------------------------

st.title("Compose")
if gateway.is_sandbox:
    st.caption("Built-in sandbox: nothing leaves this computer and no SMS is billed.")

with st.expander("Templates", icon=":material/bookmarks:"):
    saved = [t.name for t in store.list_templates()]
    if saved:
        st.selectbox("Saved templates", saved, key="compose.template_pick")
        use, delete = st.columns(2)
        use.button("Use this text", key="compose.template_use", on_click=_load_template)
        if delete.button("Delete template", key="compose.template_delete"):
            store.delete_template(st.session_state["compose.template_pick"])
            st.rerun()
    else:
        st.caption("No templates yet: write a text below and save it here.")
    name = st.text_input("Save the current text as", key="compose.template_name", placeholder="Template name")
    if st.button("Save template", key="compose.template_save"):
        try:
            store.save_template(name, st.session_state["compose.text"], replace=name.strip() in saved)
        except SmsError as e:
            st.error(str(e))
        else:
            st.success(f"Template {name.strip()!r} saved.")

# Recipients
st.text_area("Recipients", key="compose.recipients", height=120,
             placeholder="+48 600 123 456\n600123457; 600123458",
             help="Numbers separated by new lines, commas, semicolons or spaces; a column pasted from Excel works. "
                  f"Numbers without a country code are read as {settings.phone_region}.")
recipients = compose.check_recipients(
    st.session_state["compose.recipients"], region=settings.phone_region, mobile_only=settings.mobile_only,
    blocked=store.blocked,
)
if st.session_state["compose.recipients"].strip():
    st.markdown(f"**{recipients.summary()}**")
    if recipients.phones:
        with st.expander(f"Valid numbers ({recipients.count:,})"):
            st.dataframe(pd.DataFrame({"Number (E.164)": recipients.phones}), hide_index=True)
    if recipients.refused:
        st.dataframe(pd.DataFrame({"Refused entry": [r.text for r in recipients.refused],
                                   "Reason": [r.reason for r in recipients.refused]}), hide_index=True)
    if recipients.duplicates:
        st.caption("Duplicates removed: " + ", ".join(dict.fromkeys(recipients.duplicates)))

# Message
st.text_area("Message", key="compose.text", height=160)
message = compose.check_message(st.session_state["compose.text"])
st.caption(message.counter)
if message.error:
    st.error(message.error)
if message.unicode_reason:
    st.warning(message.unicode_reason.replace("`", "\\`"), icon=":material/translate:")
    if message.transliteration is not None:
        st.button("Replace with GSM-7 characters", key="compose.transliterate", on_click=_transliterate,
                  args=(message.text,), help="Preview: " + compose.describe_changes(message.transliteration))
translit = st.session_state.get(TRANSLIT)
if translit and translit[0] == st.session_state["compose.text"]:
    st.info("Replaced: " + translit[1].replace("`", "\\`"), icon=":material/check:")

# Options
channel = Channel.SMSES
if gateway.settings.simpleapi_enabled:
    channel = st.radio("Channel", list(Channel), key="compose.channel", horizontal=True,
                       format_func=lambda c: "/Smses" if c is Channel.SMSES else "/SimpleApi")
st.caption(compose.CHANNEL_HELP[channel])
smses = channel is Channel.SMSES

OTHER = "Other…"
left, right = st.columns(2)
with left:
    if settings.senders:
        options = list(settings.senders) + ([OTHER] if settings.allow_custom_sender else [])
        default = settings.senders.index(settings.default_sender) if settings.default_sender in settings.senders else 0
        picked = st.selectbox("Sender", options, index=default, key="compose.sender")
        sender = st.text_input("Your sender", key="compose.custom_sender") if picked == OTHER else picked
    elif settings.allow_custom_sender:
        st.session_state.setdefault("compose.custom_sender", settings.default_sender)
        sender = st.text_input("Sender", key="compose.custom_sender",
                               help="1–11 letters, digits, spaces, '.' or '-' with a letter; or a number of up to "
                                    "16 digits. Empty: the gateway's default.")
    else:
        sender = settings.default_sender
        st.markdown(f"Sender: **{sender or 'the gateway default'}**")
    st.selectbox("Priority", [None, 0, 1, 2, 3], key="compose.priority", disabled=not smses,
                 format_func=compose.priority_label)
with right:
    cost_center = st.selectbox("Cost centre", [""] + list(settings.cost_centers), key="compose.cost_center",
                               disabled=not smses or not settings.cost_centers,
                               format_func=lambda c: c or "None")
    st.checkbox("Flash SMS", key="compose.flash", disabled=not smses, help=compose.FLASH_HELP)
    st.caption(compose.FLASH_HELP)
with st.expander("Advanced"):
    st.text_input("TransactionId", key="compose.transaction_id", disabled=not smses,
                  help="The key that makes a repeated send harmless: the gateway and the store send one "
                       "TransactionId only once. A new one is made after each successful send.")
    st.button("Generate a new TransactionId", key="compose.renew", on_click=_new_transaction_id)

given = compose.ComposeInput(
    recipients=st.session_state["compose.recipients"], text=st.session_state["compose.text"], sender=sender or "",
    priority=st.session_state.get("compose.priority") if smses else None,
    flash=bool(st.session_state.get("compose.flash")) if smses else False,
    cost_center=cost_center if smses else "", channel=channel,
    transaction_id=st.session_state["compose.transaction_id"],
)
plan_options = dict(allowed_senders=settings.senders, allow_custom_sender=settings.allow_custom_sender,
                    cost_centers=settings.cost_centers)
checked = compose.build_plan(given, recipients, **plan_options)
if checked.plan is not None:
    st.markdown(f"**{checked.plan.cost_line}**")
elif recipients.phones or given.text.strip():
    for problem in checked.problems:
        st.caption(f":material/info: {problem}")

send_col, test_col = st.columns(2)
send_col.button("Review and send…", key="compose.review", type="primary", icon=":material/send:",
                disabled=checked.plan is None, on_click=_review, args=(checked.plan,))
if settings.test_phone:
    test = compose.plan_test_send(given, settings.test_phone, region=settings.phone_region,
                                  offered=st.session_state[TEST], **plan_options)
    if test.plan is not None:
        st.session_state[TEST] = test.plan
    test_col.button(f"Send a test to {settings.test_phone}", key="compose.test_send", icon=":material/science:",
                    disabled=test.plan is None, on_click=_send_test, args=(test.plan,),
                    help=test.problems[0] if test.problems else "Sends this text and these options to the test "
                                                                "number only, at once, and once: clicking again "
                                                                "sends nothing until the text or an option changes.")

if st.session_state[PLAN] is not None:
    _confirm()

_show_result(st.session_state[RESULT])
