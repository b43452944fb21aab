"""The Compose page, rendered in-process with AppTest against the sandbox over loopback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from smslib.core.models import Channel, MessageState
from smslib.store import BatchState
from ui import resources

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def page_env(sandbox, tmp_path, monkeypatch):
    """Environment pointing the app at the sandbox fixture; resources fresh before and after."""
    for name in list(os.environ):
        if name.startswith("SMS_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no .env from the working copy
    values = dict(
        SMS_API_URL=sandbox.url, SMS_API_USERNAME=sandbox.username, SMS_API_PASSWORD=sandbox.password,
        SMS_SIMPLEAPI_EMAIL=sandbox.email, SMS_SIMPLEAPI_PASSWORD=sandbox.simple_password,
        SMS_DATA_DIR=str(tmp_path), SMS_RUN_WORKER_IN_APP="false", SMS_RETRY_BACKOFF="0",
        SMS_COST_CENTERS="marketing,it,nowhere",
    )
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    resources.shutdown()
    yield monkeypatch
    resources.shutdown()


def open_page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    at.switch_page("pages/compose.py").run()
    assert not at.exception, at.exception
    return at


def fill(at: AppTest, recipients: str = "600123456\n601000001", text: str = "Hello from the test") -> AppTest:
    at.text_area(key="compose.recipients").input(recipients).run()
    at.text_area(key="compose.text").input(text).run()
    return at


def review_and_send(at: AppTest) -> AppTest:
    at.button(key="compose.review").click().run()
    assert not at.exception, at.exception
    at.button(key="compose.send").click().run()
    assert not at.exception, at.exception
    return at


def texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def stored_messages():
    return resources.store().query_messages(limit=100).rows


# -- validation --------------------------------------------------------------------------------


def test_invalid_and_duplicate_numbers_are_listed_with_reasons(page_env):
    at = fill(open_page(), recipients="600 123 456\n+48600123456; 12, abc\t601-000-001")
    assert "2 recipients, 2 entries refused, 1 duplicate removed." in texts(at.markdown)
    refused = at.dataframe[-1].value
    assert list(refused["Refused entry"]) == ["12", "abc"]
    assert refused["Reason"].str.len().min() > 0
    assert list(at.dataframe[0].value["Number (E.164)"]) == ["+48600123456", "+48601000001"]
    assert "Duplicates removed: +48600123456" in texts(at.caption)


def test_a_blocked_number_is_refused_as_blocked(page_env):
    at = open_page()
    resources.store().block(["+48601000001"])
    fill(at)
    refused = at.dataframe[-1].value
    assert list(zip(refused["Refused entry"], refused["Reason"])) == [("+48601000001", "blocked")]
    assert "1 recipient, 1 entry refused." in texts(at.markdown)


def test_the_send_button_waits_for_a_valid_form(page_env):
    at = open_page()
    assert at.button(key="compose.review").disabled
    fill(at, recipients="abc")
    assert at.button(key="compose.review").disabled
    assert "Recipients: add at least one valid number." in texts(at.caption)


# -- the counter, UCS-2 and transliteration ---------------------------------------------------


def test_counter_for_gsm7(page_env):
    at = fill(open_page(), text="Hello")
    assert "5 characters · GSM-7 · 1 SMS · 155 left in this SMS" in texts(at.caption)
    assert not at.warning


def test_one_polish_letter_switches_to_ucs2_and_is_named(page_env):
    at = fill(open_page(), text="a" * 100 + "ą")
    assert "101 characters · UCS-2 · 2 SMS · 33 left in this SMS" in texts(at.caption)
    warning = texts(at.warning)
    assert "Unicode" in warning and "because of ą" in warning and "1 SMS instead of 2" in warning


def test_transliteration_replaces_the_text_and_shows_what_changed(page_env):
    at = fill(open_page(), text="Zażółć „gęślą” jaźń")
    at.button(key="compose.transliterate").click().run()
    assert at.text_area(key="compose.text").value == 'Zazolc "gesla" jazn'
    assert "GSM-7 · 1 SMS" in texts(at.caption)
    replaced = texts(at.info)
    assert "ż → z (1×)" in replaced and "„ (U+201E) → \" (U+0022) (1×)" in replaced
    assert not at.warning


def test_a_message_over_ten_segments_is_refused_clearly(page_env):
    at = fill(open_page(), text="x" * 1531)
    assert "too long" in texts(at.error)
    assert at.button(key="compose.review").disabled


# -- confirmation and success ------------------------------------------------------------------


def test_confirmation_dialog_shows_cost_and_options(page_env):
    at = fill(open_page(), text="ą" * 71)
    at.selectbox(key="compose.priority").select(3).run()
    at.checkbox(key="compose.flash").check().run()
    at.selectbox(key="compose.cost_center").select("marketing").run()
    at.text_input(key="compose.custom_sender").input("ACME").run()
    at.button(key="compose.review").click().run()
    shown = texts(at.markdown)
    assert "2 SMS × 2 recipients = 4 SMS billed (UCS-2)" in shown
    for line in ("Sender: ACME", "Priority: 3 – Highest", "Flash SMS: yes", "Cost centre: marketing"):
        assert line in shown
    at.button(key="compose.cancel").click().run()
    assert "compose.send" not in [b.key for b in at.button]


def test_sending_shows_ids_stores_messages_and_never_sends_twice(page_env, sandbox):
    at = fill(open_page())
    first_tid = at.text_input(key="compose.transaction_id").value
    review_and_send(at)
    assert "Sent to 2 recipients." in texts(at.success)
    accepted = sandbox.backend.accepted_messages()
    assert len(accepted) == 2
    stored = stored_messages()
    assert {m.message_id for m in stored} == {m["message_id"] for m in accepted}
    assert {m.transaction_id for m in stored} == {first_tid}
    shown = texts(at.markdown)
    for message in stored:
        assert f"`{message.message_id}`" in shown
    assert MessageState.PENDING.label in shown
    # a new TransactionId for the next message; the form keeps its text
    assert at.text_input(key="compose.transaction_id").value != first_tid
    assert at.text_area(key="compose.text").value == "Hello from the test"

    at.run()  # a rerun sends nothing
    at.run()
    assert len(sandbox.backend.accepted_messages()) == 2

    # the same TransactionId again (a double click that raced the first answer): answered from the store
    at.text_input(key="compose.transaction_id").input(first_tid).run()
    review_and_send(at)
    assert "Already sent to 2 recipients: nothing was sent again." in texts(at.info)
    assert len(sandbox.backend.accepted_messages()) == 2
    assert len(stored_messages()) == 2


def test_states_update_as_reports_arrive(page_env, sandbox):
    at = review_and_send(fill(open_page(), recipients="600123456"))
    sandbox.backend.force_deliver_all()
    at.button(key="compose.check_reports").click().run()
    state = stored_messages()[0].state
    assert state.is_final
    assert state.label in texts(at.markdown)


def test_simpleapi_channel(page_env, sandbox):
    at = fill(open_page(), recipients="600123456")
    at.radio(key="compose.channel").set_value(Channel.SIMPLEAPI).run()
    assert at.selectbox(key="compose.priority").disabled
    assert "no TransactionId" in texts(at.caption)
    review_and_send(at)
    assert "Sent to 1 recipient." in texts(at.success)
    assert [m["channel"] for m in sandbox.backend.accepted_messages()] == ["simpleapi"]


def test_one_click_test_send(page_env, sandbox):
    page_env.setenv("SMS_TEST_PHONE", "600100200")
    at = fill(open_page(), recipients="")
    at.button(key="compose.test_send").click().run()
    assert "Test send: Sent to 1 recipient." in texts(at.success)
    assert [m["phone"] for m in sandbox.backend.accepted_messages()] == ["48600100200"]


def test_a_double_click_on_the_test_button_sends_one_sms(page_env, sandbox):
    page_env.setenv("SMS_TEST_PHONE", "600100200")
    at = fill(open_page(), recipients="")
    at.button(key="compose.test_send").click().run()
    at.button(key="compose.test_send").click().run()  # the second click of a double click
    assert not at.exception, at.exception
    assert "Test send: Already sent to 1 recipient: nothing was sent again." in texts(at.info)
    assert len(sandbox.backend.accepted_messages()) == 1
    assert len(stored_messages()) == 1
    main_tid = at.text_input(key="compose.transaction_id").value
    assert stored_messages()[0].transaction_id != main_tid  # the test never spends the real send's key

    # A changed text is a new test; so is the same text once a new TransactionId is asked for.
    at.text_area(key="compose.text").input("Hello again").run()
    at.button(key="compose.test_send").click().run()
    assert "Test send: Sent to 1 recipient." in texts(at.success)
    at.button(key="compose.test_renew").click().run()
    at.button(key="compose.test_send").click().run()
    assert "Test send: Sent to 1 recipient." in texts(at.success)
    sent = sandbox.backend.accepted_messages()
    assert [m["message"] for m in sent] == ["Hello from the test", "Hello again", "Hello again"]
    assert len({m["transaction_id"] for m in sent}) == 3
    assert len(stored_messages()) == 3


def test_a_test_whose_answer_was_lost_is_sent_again_with_its_transaction_id(page_env, sandbox):
    page_env.setenv("SMS_TEST_PHONE", "600100200")
    page_env.setenv("SMS_RETRY_ATTEMPTS", "1")
    page_env.setenv("SMS_READ_TIMEOUT", "0.3")
    at = fill(open_page(), recipients="")
    sandbox.backend.configure_faults(hang_after_accept_rate=1.0, hang_seconds=1.0, endpoints=("smses",))
    at.button(key="compose.test_send").click().run()
    warning = texts(at.warning)
    assert "Test send: Uncertain" in warning
    assert "de-duplicates it" in texts(at.caption)
    assert not [b for b in at.button if b.key == "compose.test_renew"]  # sending again is the safe way
    sandbox.backend.configure_faults(hang_after_accept_rate=0.0)
    at.button(key="compose.test_send").click().run()
    assert "Test send: Sent to 1 recipient." in texts(at.success)
    sent = sandbox.backend.accepted_messages()
    assert len(sent) == 1  # the gateway had it: it answered with the first send's id
    stored = stored_messages()
    assert [(m.message_id, m.transaction_id) for m in stored] == [
        (sent[0]["message_id"], sent[0]["transaction_id"])]
    assert stored[0].state is MessageState.PENDING


def test_without_deduplication_an_uncertain_test_is_not_sent_again_by_a_click(page_env, sandbox):
    page_env.setenv("SMS_TEST_PHONE", "600100200")
    page_env.setenv("SMS_RETRY_ATTEMPTS", "1")
    page_env.setenv("SMS_GATEWAY_DEDUPLICATES", "false")
    at = fill(open_page(), recipients="")
    sandbox.backend.configure_faults(fail_rate=1.0, endpoints=("smses",))
    at.button(key="compose.test_send").click().run()
    sandbox.backend.configure_faults(fail_rate=0.0)
    at.button(key="compose.test_send").click().run()
    assert "Test send: Uncertain" in texts(at.warning)
    assert sandbox.backend.accepted_messages() == []
    at.button(key="compose.test_renew").click().run()  # a person's decision: a new send
    at.button(key="compose.test_send").click().run()
    assert len(sandbox.backend.accepted_messages()) == 1


def test_templates_are_saved_and_reused(page_env):
    at = fill(open_page(), text="Your parcel is ready")
    at.text_input(key="compose.template_name").input("parcel").run()
    at.button(key="compose.template_save").click().run()
    assert "Template 'parcel' saved." in texts(at.success)
    at.text_area(key="compose.text").input("something else").run()
    at.selectbox(key="compose.template_pick").select("parcel").run()
    at.button(key="compose.template_use").click().run()
    assert at.text_area(key="compose.text").value == "Your parcel is ready"


# -- gateway errors: a sentence, never a traceback; the form keeps its input --------------------


def _assert_form_kept(at: AppTest) -> None:
    assert at.text_area(key="compose.recipients").value == "600123456\n601000001"
    assert at.text_area(key="compose.text").value == "Hello from the test"
    assert not at.exception


def test_wrong_password_is_a_clear_error(page_env, sandbox):
    page_env.setenv("SMS_API_PASSWORD", "wrong")
    at = review_and_send(fill(open_page()))
    error = texts(at.main.error)
    assert "refused the credentials (401)" in error and "SMS_API_PASSWORD" in error
    assert "wrong" not in error
    _assert_form_kept(at)
    assert sandbox.backend.accepted_messages() == []


def test_unknown_cost_centre_names_the_field(page_env, sandbox):
    at = fill(open_page())
    at.selectbox(key="compose.cost_center").select("nowhere").run()
    tid = at.text_input(key="compose.transaction_id").value
    review_and_send(at)
    error = texts(at.main.error)
    assert "CostCenter" in error and "nowhere" in error
    assert "Nothing went out" in texts(at.caption)
    _assert_form_kept(at)
    assert at.text_input(key="compose.transaction_id").value != tid  # settled: the next send is new
    assert {m.state for m in stored_messages()} == {MessageState.FAILED}


def test_rate_limit_keeps_the_transaction_id_and_sends_later(page_env, sandbox):
    page_env.setenv("SMS_RETRY_ATTEMPTS", "1")
    at = fill(open_page())
    sandbox.backend.configure_faults(rate_limit=0.001, endpoints=("smses",))
    review_and_send(at)  # takes the bucket's only token
    assert "Sent to 2 recipients." in texts(at.success)
    tid = at.text_input(key="compose.transaction_id").value
    review_and_send(at)
    warning = texts(at.warning)
    assert "Not sent yet" in warning and "429" in warning
    _assert_form_kept(at)
    assert at.text_input(key="compose.transaction_id").value == tid
    sandbox.backend.configure_faults(rate_limit=0.0)
    review_and_send(at)
    assert "Sent to 2 recipients." in texts(at.success)
    assert len(sandbox.backend.accepted_messages()) == 4
    assert [m["transaction_id"] for m in sandbox.backend.accepted_messages()][2:] == [tid, tid]


def test_gateway_failure_is_uncertain_and_explained(page_env, sandbox):
    page_env.setenv("SMS_RETRY_ATTEMPTS", "1")
    page_env.setenv("SMS_GATEWAY_DEDUPLICATES", "false")
    at = fill(open_page())
    sandbox.backend.configure_faults(fail_rate=1.0, endpoints=("smses",))
    tid = at.text_input(key="compose.transaction_id").value
    review_and_send(at)
    warning = texts(at.warning)
    assert "Uncertain" in warning and "(503)" in warning
    assert "may or may not have sent" in texts(at.caption)
    assert MessageState.UNCERTAIN.label in texts(at.markdown)
    _assert_form_kept(at)
    # Sending it again with the same TransactionId is no offer: this gateway would send it twice.
    assert not [b for b in at.button if b.key == "compose.resend_uncertain"]
    # sending again with the same TransactionId does not send; a person may choose a new one
    sandbox.backend.configure_faults(fail_rate=0.0)
    review_and_send(at)
    assert "Uncertain" in texts(at.warning)
    assert sandbox.backend.accepted_messages() == []
    at.button(key="compose.renew_after_uncertain").click().run()
    assert at.text_input(key="compose.transaction_id").value != tid


def test_an_uncertain_send_goes_again_with_its_transaction_id_on_a_deduplicating_gateway(page_env, sandbox):
    page_env.setenv("SMS_RETRY_ATTEMPTS", "1")
    page_env.setenv("SMS_READ_TIMEOUT", "0.3")
    at = fill(open_page(), recipients="600123456")
    tid = at.text_input(key="compose.transaction_id").value
    sandbox.backend.configure_faults(hang_after_accept_rate=1.0, hang_seconds=1.0, endpoints=("smses",))
    review_and_send(at)  # the gateway accepts it, but its answer never arrives
    assert "Uncertain" in texts(at.warning)
    assert "de-duplicates it" in texts(at.caption)
    assert not [b for b in at.button if b.key == "compose.renew_after_uncertain"]  # the same id is safe
    sandbox.backend.configure_faults(hang_after_accept_rate=0.0)

    at.button(key="compose.resend_uncertain").click().run()  # the confirmation again, of the same message
    assert not at.exception, at.exception
    assert "same TransactionId" in texts(at.info) and f"TransactionId {tid}" in texts(at.markdown)
    at.button(key="compose.send").click().run()
    assert not at.exception, at.exception
    assert "Sent to 1 recipient." in texts(at.success)
    sent = sandbox.backend.accepted_messages()
    assert len(sent) == 1 and sent[0]["transaction_id"] == tid  # answered with the first send's id
    [stored] = stored_messages()
    assert (stored.message_id, stored.transaction_id, stored.state) == (
        sent[0]["message_id"], tid, MessageState.PENDING)
    assert resources.store().get_batch(stored.batch_id).state is BatchState.ACCEPTED
    assert at.text_input(key="compose.transaction_id").value != tid  # settled: the next send is new


def test_a_hang_times_out_as_uncertain(page_env, sandbox):
    page_env.setenv("SMS_RETRY_ATTEMPTS", "1")
    page_env.setenv("SMS_READ_TIMEOUT", "0.3")
    at = fill(open_page())
    sandbox.backend.configure_faults(hang_rate=1.0, hang_seconds=1.0, endpoints=("smses",))
    review_and_send(at)
    warning = texts(at.warning)
    assert "Uncertain" in warning and "did not answer within 0.3 s" in warning
    assert {m.state for m in stored_messages()} == {MessageState.UNCERTAIN}
    _assert_form_kept(at)
