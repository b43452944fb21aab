"""send_and_record against the sandbox gateway over HTTP: what is recorded for each
answer, and the sandbox's own record proving that nothing is ever sent twice."""

from __future__ import annotations

import socket
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from smslib.gateway.client import SmsClient
from smslib.core.errors import (
    AuthenticationError,
    ConflictError,
    GatewayError,
    InvalidPhoneNumber,
    RateLimitError,
    TransportError,
    ValidationError,
)
from smslib.core.models import Channel, MessageState
from smslib.services.sending import send_and_record, send_batch
from smslib.store import BatchState, MessageFilter, batches

PHONES = ["+48600100200", "+48600100201"]


def make_client(sandbox, **options) -> SmsClient:
    options.setdefault("read_timeout", 2.0)
    options.setdefault("retry_backoff", 0.0)
    return SmsClient(
        options.pop("url", sandbox.url), sandbox.username, options.pop("password", sandbox.password),
        simpleapi_email=sandbox.email, simpleapi_password=sandbox.simple_password,
        sleep=lambda seconds: None, **options,
    )


@pytest.fixture
def client(sandbox):
    with make_client(sandbox) as made:
        yield made


def at_gateway(sandbox) -> list[dict]:
    return sandbox.backend.accepted_messages()


def test_an_accepted_send_records_one_message_per_recipient_with_its_id(client, store, sandbox):
    outcome = send_and_record(client, store, PHONES, "Hello", sender="ACME", priority=2, flash=False,
                              cost_center="it", sent_by="anna", transaction_id="tx-accepted")
    assert outcome.accepted and not outcome.replayed and outcome.exception is None
    gateway = at_gateway(sandbox)
    assert [m["phone"] for m in gateway] == ["48600100200", "48600100201"]  # digits, as configured
    assert outcome.message_ids == tuple(m["message_id"] for m in gateway)
    rows = store.batch_messages(outcome.batch_id)
    assert [(m.phone, m.message_id, m.state) for m in rows] == [
        (phone, message_id, MessageState.PENDING) for phone, message_id in zip(PHONES, outcome.message_ids)]
    first = rows[0]
    assert (first.text, first.sender, first.priority, first.flash, first.cost_center) == ("Hello", "ACME", 2, False, "it")
    assert (first.channel, first.sent_by, first.transaction_id) == (Channel.SMSES, "anna", "tx-accepted")
    assert (first.segments, first.encoding) == (1, "GSM-7")
    assert abs(first.accepted_at - gateway[0]["accepted_at"]) < timedelta(milliseconds=1)  # the gateway clock
    assert abs(first.submitted_at - first.accepted_at) < timedelta(minutes=1)
    assert store.get_batch(outcome.batch_id).state is BatchState.ACCEPTED


def test_a_unicode_text_is_recorded_with_its_encoding_and_segments(client, store):
    outcome = send_and_record(client, store, PHONES[:1], "Zażółć gęślą jaźń " * 5)
    message = store.batch_messages(outcome.batch_id)[0]
    assert (message.encoding, message.segments) == ("UCS-2", 2)


def test_the_same_transaction_id_twice_sends_once(client, store, sandbox):
    first = send_and_record(client, store, PHONES, "Hello", transaction_id="tx-twice")
    second = send_and_record(client, store, PHONES, "Hello", transaction_id="tx-twice")
    assert second.replayed and second.accepted and second.message_ids == first.message_ids
    assert len(at_gateway(sandbox)) == 2
    assert store.count_messages() == 2


def test_a_double_click_from_two_threads_sends_once(client, store, sandbox):
    outcomes, errors = [], []
    start = threading.Barrier(2)

    def click() -> None:
        try:
            start.wait(timeout=10)
            outcomes.append(send_and_record(client, store, PHONES, "Hello", transaction_id="tx-click"))
        except BaseException as error:  # noqa: BLE001 -- handed to the main thread, which fails the test
            errors.append(error)

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    assert len(at_gateway(sandbox)) == 2 and store.count_messages() == 2
    assert sorted(o.replayed for o in outcomes) == [False, True]
    assert store.get_batch(outcomes[0].batch_id).state is BatchState.ACCEPTED


def test_a_transaction_id_reused_for_another_text_is_refused_before_sending(client, store, sandbox):
    send_and_record(client, store, PHONES, "Hello", transaction_id="tx-reused")
    with pytest.raises(ConflictError, match="tx-reused"):
        send_and_record(client, store, PHONES, "Other text", transaction_id="tx-reused")
    assert len(at_gateway(sandbox)) == 2


def test_a_400_records_failed_messages_with_the_gateways_reason(client, store, sandbox):
    outcome = send_and_record(client, store, PHONES, "Hello", cost_center="no-such-centre")
    assert outcome.state is BatchState.REJECTED and isinstance(outcome.exception, ValidationError)
    assert "CostCenter" in outcome.error or "cost" in outcome.error.lower()
    rows = store.batch_messages(outcome.batch_id)
    assert [(m.phone, m.state, m.message_id) for m in rows] == [(p, MessageState.FAILED, None) for p in PHONES]
    assert all(m.error == outcome.error for m in rows)
    assert at_gateway(sandbox) == []
    with pytest.raises(ValidationError):
        outcome.raise_for_error()
    again = send_and_record(client, store, PHONES, "Hello", cost_center="no-such-centre",
                            transaction_id=outcome.transaction_id)
    assert again.replayed and again.state is BatchState.REJECTED and again.error == outcome.error


def test_wrong_credentials_reject_the_batch(sandbox, store):
    with make_client(sandbox, password="wrong") as client:
        outcome = send_and_record(client, store, PHONES, "Hello")
    assert outcome.state is BatchState.REJECTED and isinstance(outcome.exception, AuthenticationError)
    assert store.count_messages(MessageFilter(states=(MessageState.FAILED,))) == 2


def test_a_hang_after_accepting_marks_the_batch_uncertain_and_a_retry_sends_nothing_twice(sandbox, store):
    sandbox.backend.configure_faults(hang_after_accept_rate=1.0, hang_seconds=1.0, endpoints=("smses",))
    with make_client(sandbox, read_timeout=0.2, retry_attempts=1) as client:
        outcome = send_and_record(client, store, PHONES, "Hello", transaction_id="tx-hang")
    assert outcome.state is BatchState.UNCERTAIN and isinstance(outcome.exception, TransportError)
    assert [m.state for m in store.batch_messages(outcome.batch_id)] == [MessageState.UNCERTAIN] * 2
    assert len(at_gateway(sandbox)) == 2  # it did go out
    sandbox.backend.configure_faults(hang_after_accept_rate=0.0)
    with make_client(sandbox) as client:
        assert send_and_record(client, store, PHONES, "Hello", transaction_id="tx-hang").replayed
        resolved = send_and_record(client, store, PHONES, "Hello", transaction_id="tx-hang", retry_uncertain=True)
    assert resolved.accepted and not resolved.replayed
    gateway = at_gateway(sandbox)
    assert len(gateway) == 2 and resolved.message_ids == tuple(m["message_id"] for m in gateway)
    assert [m.state for m in store.batch_messages(outcome.batch_id)] == [MessageState.PENDING] * 2
    assert store.count_messages() == 2


def test_gateway_errors_after_retries_mark_the_batch_uncertain(sandbox, store):
    sandbox.backend.configure_faults(fail_rate=1.0, endpoints=("smses",))
    with make_client(sandbox, retry_attempts=2) as client:
        outcome = send_and_record(client, store, PHONES, "Hello")
    assert outcome.state is BatchState.UNCERTAIN and isinstance(outcome.exception, GatewayError)
    assert store.count_messages(MessageFilter(states=(MessageState.UNCERTAIN,))) == 2


def test_a_rate_limit_leaves_the_batch_pending_and_the_same_call_later_sends_it(sandbox, store):
    with make_client(sandbox, retry_attempts=2) as client:
        sandbox.backend.configure_faults(rate_limit=0.001, endpoints=("smses",))
        send_and_record(client, store, ["+48600100299"], "Take the only token")
        outcome = send_and_record(client, store, PHONES, "Hello", transaction_id="tx-429")
        assert outcome.state is BatchState.PENDING and isinstance(outcome.exception, RateLimitError)
        assert store.batch_messages(outcome.batch_id) == [] and len(at_gateway(sandbox)) == 1
        sandbox.backend.configure_faults(rate_limit=0.0)
        later = send_and_record(client, store, PHONES, "Hello", transaction_id="tx-429")
    assert later.accepted and store.get_batch(later.batch_id).attempts == 2
    assert len(at_gateway(sandbox)) == 3


def test_an_unreachable_gateway_leaves_the_batch_pending(sandbox, store):
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with make_client(sandbox, url=closed_url, retry_attempts=1, connect_timeout=1.0) as client:
        outcome = send_and_record(client, store, PHONES, "Hello")
    assert outcome.state is BatchState.PENDING and isinstance(outcome.exception, TransportError)
    assert not outcome.exception.may_have_reached_gateway
    assert "nothing was sent" in outcome.error


class _CrashAfterSending:
    """A real client in a process that dies right after the gateway accepted the send."""

    def __init__(self, client: SmsClient) -> None:
        self._client = client
        self.connect_timeout, self.read_timeout = client.connect_timeout, client.read_timeout
        self.retry_attempts, self.retry_max_wait = client.retry_attempts, client.retry_max_wait

    def send(self, *args, **kwargs):
        self._client.send(*args, **kwargs)
        raise SystemExit("crashed before recording")


def test_a_crash_after_sending_is_recovered_with_the_same_transaction_id(client, store, sandbox):
    with pytest.raises(SystemExit):
        send_and_record(_CrashAfterSending(client), store, PHONES, "Hello", transaction_id="tx-crash")
    batch = store.get_batch_by_transaction("tx-crash")
    assert batch.state is BatchState.SENDING and store.batch_messages(batch.id) == []
    while_leased = send_and_record(client, store, PHONES, "Hello", transaction_id="tx-crash")
    assert while_leased.replayed and while_leased.state is BatchState.SENDING
    with store.atomic() as connection:  # the lease runs out, as it would after the crash
        connection.execute(sa.update(batches).where(batches.c.id == batch.id)
                           .values(lease_expires_at=batch.lease_expires_at - timedelta(days=1)))
    recovered = send_and_record(client, store, PHONES, "Hello", transaction_id="tx-crash")
    assert recovered.accepted and not recovered.replayed
    gateway = at_gateway(sandbox)
    assert len(gateway) == 2 and recovered.message_ids == tuple(m["message_id"] for m in gateway)


def test_simpleapi_sends_are_recorded_with_their_channel(client, store, sandbox):
    outcome = send_and_record(client, store, PHONES, "Hello", channel=Channel.SIMPLEAPI, sender="ACME")
    assert outcome.accepted
    assert {m.channel for m in store.batch_messages(outcome.batch_id)} == {Channel.SIMPLEAPI}
    assert [m["channel"] for m in at_gateway(sandbox)] == ["simpleapi", "simpleapi"]


def test_simpleapi_refuses_options_it_cannot_carry_before_writing_anything(client, store):
    with pytest.raises(ValidationError, match="priority"):
        send_and_record(client, store, PHONES, "Hello", channel=Channel.SIMPLEAPI, priority=3)
    assert store.get_batch(1) is None


def test_a_number_not_in_e164_is_refused_before_writing_anything(client, store, sandbox):
    with pytest.raises(InvalidPhoneNumber):
        send_and_record(client, store, ["600100200"], "Hello")
    assert store.get_batch(1) is None and at_gateway(sandbox) == []


def test_the_e164_phone_format_sends_the_plus(client, store, sandbox):
    send_and_record(client, store, PHONES[:1], "Hello", phone_format="e164")
    assert [m["phone"] for m in at_gateway(sandbox)] == ["+48600100200"]


def test_a_batch_a_job_planned_is_sent_by_the_same_rules(client, store, sandbox):
    job = store.create_job("Planned", total=2)
    batch = store.create_batch(f"job-{job.id}-0", PHONES, "Hello", job_id=job.id, seq=0, source_rows=[2, 3])
    outcome = send_batch(client, store, batch)
    assert outcome.accepted and send_batch(client, store, batch).replayed
    assert [(m.job_id, m.source_row) for m in store.batch_messages(batch.id)] == [(job.id, 2), (job.id, 3)]
    assert len(at_gateway(sandbox)) == 2
