"""Faults of the gateway, end to end through send_and_record, the report sync and the app:
each ends in a sentence that says what happened, and nothing is lost — a send that may
have gone out is kept as *uncertain*, one that surely did not stays *pending* with its
TransactionId, and no report is acknowledged before it is stored.

Built on the sandbox's fault injection (503s, hangs, 429s) and, for answers the sandbox
never gives (HTML, truncated JSON, wrong shapes, odd times), on a canned gateway over
loopback. Database faults mid-job belong to tests/test_jobs.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from smslib.gateway.client import SmsClient
from smslib.core.errors import BadResponseError, GatewayError, RateLimitError, TransportError
from smslib.core.models import MessageState
from smslib.services.reports import sync_reports
from smslib.services.sending import send_and_record
from smslib.store import BatchState
from ui import resources

from .canned import CannedGateway, free_port
from .test_access import compose_and_send

ROOT = Path(__file__).resolve().parent.parent
PHONES = ["+48600100000", "+48600100001"]

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def canned():
    with CannedGateway() as gateway:
        yield gateway


def client_for(url: str, username: str = "user", password: str = "password", **options) -> SmsClient:
    options = {"retry_attempts": 2, "read_timeout": 2.0, "connect_timeout": 2.0, "retry_backoff": 0.0,
               "sleep": lambda seconds: None, **options}
    return SmsClient(url, username, password, **options)


def messages(store):
    return store.query_messages(limit=100).rows


# -- answers that are not the documented JSON ----------------------------------------------------


@pytest.mark.parametrize("status, body, words", [
    (200, "<!doctype html><html><body>Login to the portal</body></html>", "HTML instead of the documented JSON"),
    (200, '{"MessageIds": ["a1", "a2"], "CurrentTi', "instead of the documented JSON"),   # truncated
    (200, "", "nothing instead of the documented JSON"),
    (200, '{"Status": "OK"}', "no MessageIds field"),                                       # wrong shape
    (200, '{"MessageIds": {"a": 1}}', "neither a list nor a text"),
    (200, '{"MessageIds": ["only-one"]}', "1 message id(s) for 2 number(s)"),
    (502, "<html><h1>502 Bad Gateway</h1></html>", "failed on its side (502)"),
])
def test_an_unreadable_send_answer_keeps_the_messages_as_uncertain(canned, store, status, body, words):
    canned.respond(status, body)
    outcome = send_and_record(client_for(canned.url), store, PHONES, "Hello")
    assert outcome.state is BatchState.UNCERTAIN
    assert words in outcome.error
    assert isinstance(outcome.exception, (BadResponseError, GatewayError))
    kept = messages(store)
    assert {m.phone for m in kept} == set(PHONES) and {m.state for m in kept} == {MessageState.UNCERTAIN}
    assert {m.transaction_id for m in kept} == {outcome.transaction_id}  # resendable with the same key


def test_a_send_answer_with_an_odd_time_keeps_its_message_ids(canned, store):
    canned.respond(200, {"MessageIds": ["id-1", "id-2"], "CurrentTime": "25.11.2026 10:15"})
    outcome = send_and_record(client_for(canned.url), store, PHONES, "Hello")
    assert outcome.accepted and outcome.message_ids == ("id-1", "id-2")
    assert {m.state for m in messages(store)} == {MessageState.PENDING}


def test_a_report_with_an_odd_time_still_delivers_its_message(canned, store):
    canned.respond(200, {"MessageIds": ["id-1"], "CurrentTime": "2026-11-25T10:15:00+01:00"})
    send_and_record(client_for(canned.url), store, PHONES[:1], "Hello")
    canned.respond(200, {"CurrentTime": "Wednesday", "DeliveryReports": [
        {"ReportId": "r-1", "MessageId": "id-1", "Phone": "48600100000", "Status": 1, "DeliveryTime": "1764062100"}]})
    counts = sync_reports(client_for(canned.url), store)
    assert counts.new == 1
    [message] = messages(store)
    assert message.state is MessageState.DELIVERED and message.delivered_at is None


@pytest.mark.parametrize("body, words", [
    ("<html>maintenance</html>", "HTML"),
    ('{"DeliveryReports": [{"MessageId": "id-1", "Sta', "instead of the documented JSON"),
    ('{"DeliveryReports": "none"}', "not a list"),
    ('{"DeliveryReports": [{"Status": 1}]}', "no MessageId"),
    ('{"DeliveryReports": [{"MessageId": "id-1", "Status": "delivered"}]}', "not a number"),
])
def test_an_unreadable_report_answer_changes_and_acknowledges_nothing(canned, store, body, words):
    canned.respond(200, {"MessageIds": ["id-1"], "CurrentTime": "2026-11-25T10:15:00+01:00"})
    send_and_record(client_for(canned.url), store, PHONES[:1], "Hello")
    canned.requests.clear()
    canned.respond(200, body)
    with pytest.raises(BadResponseError, match=words):
        sync_reports(client_for(canned.url), store)
    assert [m.state for m in messages(store)] == [MessageState.PENDING]
    assert not any(("MarkAsRead", "true") in r.query for r in canned.requests)  # nothing marked read


# -- the network ----------------------------------------------------------------------------------


def test_a_gateway_that_does_not_answer_leaves_the_send_pending(store):
    outcome = send_and_record(client_for(f"http://127.0.0.1:{free_port()}"), store, PHONES, "Hello")
    assert outcome.state is BatchState.PENDING and "connection refused" in outcome.error
    assert "nothing was sent" in outcome.error
    assert isinstance(outcome.exception, TransportError) and not outcome.exception.may_have_reached_gateway


def test_a_name_that_does_not_resolve_is_said_so_and_nothing_is_sent(store):
    # Names under .invalid never resolve (RFC 6761): no traffic reaches any gateway.
    outcome = send_and_record(client_for("https://gateway.invalid/api"), store, PHONES, "Hello")
    assert outcome.state is BatchState.PENDING
    assert "could not be resolved" in outcome.error and "nothing was sent" in outcome.error


def test_a_pending_send_goes_out_once_the_gateway_is_back(store, sandbox):
    down = send_and_record(client_for(f"http://127.0.0.1:{free_port()}"), store, PHONES, "Hello")
    assert down.state is BatchState.PENDING
    back = client_for(sandbox.url, sandbox.username, sandbox.password)
    again = send_and_record(back, store, PHONES, "Hello", transaction_id=down.transaction_id)
    assert again.accepted and len(sandbox.backend.accepted_messages()) == 2


# -- the sandbox's fault injection ----------------------------------------------------------------


@pytest.fixture
def sandbox_client(sandbox):
    with SmsClient(sandbox.url, sandbox.username, sandbox.password, read_timeout=0.5, retry_attempts=3,
                   retry_backoff=0.0, sleep=lambda seconds: None) as made:
        yield made


def test_503s_past_every_retry_are_uncertain_and_a_resend_after_sends_once(sandbox, sandbox_client, store):
    sandbox.backend.configure_faults(fail_rate=1.0)
    outcome = send_and_record(sandbox_client, store, PHONES, "Hello")
    assert outcome.state is BatchState.UNCERTAIN and "(503)" in outcome.error
    sandbox.backend.configure_faults(fail_rate=0.0)
    again = send_and_record(sandbox_client, store, PHONES, "Hello", transaction_id=outcome.transaction_id,
                            retry_uncertain=True)
    assert again.accepted and len(sandbox.backend.accepted_messages()) == 2


def test_a_hang_after_acceptance_is_uncertain_and_the_resend_is_deduplicated(sandbox, sandbox_client, store):
    sandbox.backend.configure_faults(hang_after_accept_rate=1.0, hang_seconds=1.0)
    outcome = send_and_record(sandbox_client, store, PHONES, "Hello")
    assert outcome.state is BatchState.UNCERTAIN and "did not answer" in outcome.error
    assert sandbox.backend.wait_idle(timeout=10)
    sandbox.backend.configure_faults(hang_after_accept_rate=0.0)
    again = send_and_record(sandbox_client, store, PHONES, "Hello", transaction_id=outcome.transaction_id,
                            retry_uncertain=True)
    assert again.accepted
    assert len(sandbox.backend.accepted_messages()) == 2  # the gateway kept the first; nothing twice


def test_rate_limited_past_the_retries_stays_pending(sandbox, store):
    sandbox.backend.configure_faults(rate_limit=0.001)
    with SmsClient(sandbox.url, sandbox.username, sandbox.password, retry_attempts=1,
                   sleep=lambda seconds: None) as one_try:
        send_and_record(one_try, store, PHONES[:1], "first")  # takes the only token
        outcome = send_and_record(one_try, store, PHONES[1:], "second")
    assert outcome.state is BatchState.PENDING and "429" in outcome.error
    assert isinstance(outcome.exception, RateLimitError)


def test_a_failing_report_sync_loses_no_report(sandbox, sandbox_client, store):
    send_and_record(sandbox_client, store, PHONES, "Hello")
    sandbox.backend.force_deliver_all()
    sandbox.backend.configure_faults(fail_rate=1.0, endpoints=("reports",))
    with pytest.raises(GatewayError, match="503"):
        sync_reports(sandbox_client, store)
    assert {m.state for m in messages(store)} == {MessageState.PENDING}
    sandbox.backend.configure_faults(fail_rate=0.0)
    counts = sync_reports(sandbox_client, store)
    assert counts.new == 2 and counts.acknowledged == 2
    # The magic numbers: ...0000 is delivered, ...0001 not delivered.
    assert {m.state for m in messages(store)} == {MessageState.DELIVERED, MessageState.UNDELIVERED}


# -- the app --------------------------------------------------------------------------------------


def app() -> AppTest:
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)


def test_the_app_starts_with_the_gateway_down_and_says_so(app_env, monkeypatch):
    monkeypatch.setenv("SMS_API_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("SMS_RETRY_ATTEMPTS", "1")
    at = app().run()
    assert not at.exception, at.exception
    assert any("connection refused" in e.value for e in at.sidebar.error)
    compose_and_send(at, "Hello")
    shown = " ".join(str(e.value) for kind in (at.error, at.warning, at.info) for e in kind)
    assert "nothing was sent" in shown
    stored = resources.store().get_batch_by_transaction(at.session_state["compose.transaction_id"])
    assert stored is not None and stored.state is BatchState.PENDING


@pytest.mark.parametrize("body, words", [
    ("<html><body>Welcome to nginx!</body></html>", "HTML instead of the documented JSON"),
    ('{"CurrentTime": "2026-11-25T10:00:00Z", "DeliveryReports": [{"MessageId": ', "documented JSON"),
])
def test_the_sidebar_explains_a_gateway_that_answers_garbage(app_env, monkeypatch, canned, body, words):
    canned.respond(200, body)
    monkeypatch.setenv("SMS_API_URL", canned.url)
    at = app().run()
    assert not at.exception, at.exception
    assert any(words in e.value for e in at.sidebar.error), [e.value for e in at.sidebar.error]


def test_the_canned_gateway_records_json_bodies(canned):
    # The fixture behind the tests above: what it was sent is what the client sent.
    canned.respond(200, {"MessageIds": ["x"]})
    client_for(canned.url).send(["48600100000"], "hi", transaction_id="t-1")
    assert json.loads(json.dumps(canned.requests[0].json))["TransactionId"] == "t-1"
