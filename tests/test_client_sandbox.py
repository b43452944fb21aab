"""The real client against the sandbox gateway over HTTP on 127.0.0.1: every endpoint,
every error class, idempotent replay and retries under injected faults, with the
sandbox's own record proving every message was accepted exactly once."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timezone

import pytest

from smslib.gateway.client import SmsClient
from smslib.core.errors import (
    AuthenticationError,
    ConflictError,
    GatewayError,
    RateLimitError,
    TransportError,
    ValidationError,
)
from smslib.core.models import Channel, DeliveryStatus


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def client(sandbox, sleeps):
    with make_client(sandbox, sleeps) as client:
        yield client


def make_client(sandbox, sleeps=None, **options) -> SmsClient:
    options.setdefault("read_timeout", 0.5)
    options.setdefault("retry_backoff", 0.01)
    return SmsClient(
        sandbox.url, sandbox.username, options.pop("password", sandbox.password),
        simpleapi_email=sandbox.email, simpleapi_password=sandbox.simple_password,
        sleep=options.pop("sleep", sleeps.append if sleeps is not None else (lambda s: None)), **options,
    )


def accepted_per_phone(sandbox) -> Counter:
    return Counter(m["phone"] for m in sandbox.backend.accepted_messages())


def test_send_returns_one_id_per_phone_and_the_gateway_time(client, sandbox):
    result = client.send(["48600100200", "48600100201"], "Hello", sender="ACME", priority=2,
                         flash=False, cost_center="it")
    assert len(result.message_ids) == 2 and len(set(result.message_ids)) == 2
    assert result.current_time is not None and result.current_time.tzinfo == timezone.utc
    assert result.transaction_id and result.channel is Channel.SMSES
    stored = {m["message_id"]: m for m in sandbox.backend.accepted_messages()}
    assert [stored[i]["phone"] for i in result.message_ids] == ["48600100200", "48600100201"]
    assert {m["transaction_id"] for m in stored.values()} == {result.transaction_id}


def test_simple_send_through_the_sandbox(client, sandbox):
    result = client.simple_send(["48600100200", "48600100201"], "Hello")
    assert result.channel is Channel.SIMPLEAPI and len(result.message_ids) == 2
    assert accepted_per_phone(sandbox) == Counter({"48600100200": 1, "48600100201": 1})


def test_reports_arrive_for_the_magic_numbers_with_their_promised_status(client, sandbox):
    phones = ["48600100000", "48600100001", "48600100002", "48600100003", "48600100004"]
    result = client.send(phones, "Hello")
    sandbox.backend.force_deliver_all()
    batch = client.delivery_reports(message_ids=list(result.message_ids), mark_as_read=False)
    status_by_phone = {r.phone: r.status for r in batch.reports}
    assert status_by_phone == {
        "48600100000": DeliveryStatus.DELIVERED,
        "48600100001": DeliveryStatus.UNDELIVERED,
        "48600100002": DeliveryStatus.EXPIRED,
        "48600100003": DeliveryStatus.REJECTED,
    }  # 0004 is never reported
    assert all(r.delivery_time and r.delivery_time.tzinfo == timezone.utc for r in batch.reports)
    assert batch.current_time is not None


def test_mark_as_read_is_only_done_when_asked(client, sandbox):
    result = client.send(["48600100000", "48600100001"], "Hello")
    sandbox.backend.force_deliver_all()
    assert len(client.delivery_reports(mark_as_read=False)) == 2
    assert len(client.delivery_reports(mark_as_read=False)) == 2  # reading did not mark
    client.delivery_reports(message_ids=list(result.message_ids), mark_as_read=True)
    assert len(client.delivery_reports(mark_as_read=False)) == 0


def test_wrong_password_is_an_authentication_error_without_the_password(sandbox):
    with make_client(sandbox, password="wrong-Secret-42") as client:
        for call in (lambda: client.send(["48600100200"], "hi"), lambda: client.delivery_reports()):
            with pytest.raises(AuthenticationError) as caught:
                call()
            assert caught.value.http_status == 401
            assert "wrong-Secret-42" not in str(caught.value) + repr(caught.value) + (caught.value.body or "")
            assert "SMS_API_PASSWORD" in str(caught.value)


def test_a_bad_field_is_a_validation_error_naming_it(client):
    with pytest.raises(ValidationError) as caught:
        client.send(["48600100200"], "hi", sender="this sender is far too long")
    assert caught.value.http_status == 400
    assert caught.value.field == "Sender"
    assert "Sender" in str(caught.value)
    with pytest.raises(ValidationError) as caught:
        client.send(["48600100200"], "hi", cost_center="no-such-centre")
    assert caught.value.field == "CostCenter"


def test_repeated_transaction_id_replays_and_a_different_body_conflicts(client, sandbox):
    first = client.send(["48600100200"], "Hello", transaction_id="order-17")
    again = client.send(["48600100200"], "Hello", transaction_id="order-17")
    assert again.message_ids == first.message_ids
    assert accepted_per_phone(sandbox) == Counter({"48600100200": 1})
    with pytest.raises(ConflictError) as caught:
        client.send(["48600100200"], "Other text", transaction_id="order-17")
    assert caught.value.http_status == 409


def test_retries_under_injected_503s_accept_every_message_exactly_once(sandbox, sleeps):
    sandbox.backend.configure_faults(fail_rate=0.5)
    phones = [f"486001{n:05d}" for n in range(100, 140)]
    with make_client(sandbox, sleeps, retry_attempts=12) as client:
        for phone in phones:
            client.send([phone], "Hello")
    assert accepted_per_phone(sandbox) == Counter({p: 1 for p in phones})
    assert sleeps, "some 503 must have been retried"


def test_503s_beyond_the_attempts_raise_a_gateway_error(sandbox, sleeps):
    sandbox.backend.configure_faults(fail_rate=1.0)
    with make_client(sandbox, sleeps, retry_attempts=3) as client:
        with pytest.raises(GatewayError) as caught:
            client.send(["48600100200"], "Hello")
    assert caught.value.http_status == 503
    assert len(sleeps) == 2
    assert sleeps[1] > sleeps[0] * 0.9  # the wait grows (jitter keeps it from being exact)


def test_hangs_before_and_after_acceptance_are_retried_without_duplicates(sandbox, sleeps):
    sandbox.backend.configure_faults(hang_rate=0.2, hang_after_accept_rate=0.2, hang_seconds=1.0)
    phones = [f"486002{n:05d}" for n in range(100, 125)]
    with make_client(sandbox, sleeps, read_timeout=0.3, retry_attempts=10) as client:
        results = [client.send([phone], "Hello") for phone in phones]
    assert sandbox.backend.wait_idle(timeout=10)
    assert accepted_per_phone(sandbox) == Counter({p: 1 for p in phones})
    assert sleeps, "some hang must have timed out and been retried"
    by_id = {m["message_id"]: m["phone"] for m in sandbox.backend.accepted_messages()}
    assert all(by_id[r.message_ids[0]] == r.phones[0] for r in results)


def test_without_deduplication_an_ambiguous_send_is_not_retried(sandbox, sleeps):
    sandbox.backend.configure_faults(hang_after_accept_rate=1.0, hang_seconds=1.0)
    with make_client(sandbox, sleeps, read_timeout=0.3, gateway_deduplicates=False) as client:
        with pytest.raises(TransportError) as caught:
            client.send(["48600100200"], "Hello")
    assert caught.value.may_have_reached_gateway is True
    assert "may have reached" in str(caught.value)
    assert sleeps == []
    assert sandbox.backend.wait_idle(timeout=10)
    assert accepted_per_phone(sandbox) == Counter({"48600100200": 1})


def test_simple_api_is_never_retried_after_it_may_have_arrived(sandbox, sleeps):
    sandbox.backend.configure_faults(fail_rate=1.0)
    with make_client(sandbox, sleeps) as client:
        with pytest.raises(GatewayError):
            client.simple_send(["48600100200"], "Hello")
    assert sleeps == []


def test_rate_limit_429_is_retried_after_retry_after(sandbox, sleeps):
    sandbox.backend.configure_faults(rate_limit=1)
    with make_client(sandbox, sleeps, retry_attempts=1) as client:
        client.send(["48600100200"], "one")
        with pytest.raises(RateLimitError) as caught:
            client.send(["48600100201"], "two")
    assert caught.value.retry_after is not None and caught.value.retry_after >= 1
    real_sleeps = []

    def sleep(seconds: float) -> None:
        real_sleeps.append(seconds)
        time.sleep(seconds)

    with make_client(sandbox, retry_attempts=3, sleep=sleep) as client:
        client.send(["48600100202"], "three")
    assert real_sleeps and real_sleeps[0] >= caught.value.retry_after * 0.99
    assert accepted_per_phone(sandbox) == Counter({"48600100200": 1, "48600100202": 1})


def test_reports_with_more_than_1000_ids_are_split(client, sandbox):
    result = client.send([f"486003{n:05d}" for n in range(1000)], "Hello")
    result2 = client.send([f"486004{n:05d}" for n in range(200)], "Hello")
    sandbox.backend.force_deliver_all()
    ids = list(result.message_ids) + list(result2.message_ids)
    batch = client.delivery_reports(message_ids=ids, mark_as_read=False)
    assert {r.message_id for r in batch.reports} <= set(ids)
    assert len(batch.reports) == len([m for m in sandbox.backend.accepted_messages()
                                       if m["due_at"] is not None])


def test_one_client_serves_concurrent_calls_from_many_threads(sandbox):
    # The bulk runner sends a round of batches at once from its threads through one client.
    with make_client(sandbox, read_timeout=5.0) as shared:
        def send_five(worker: int) -> list[str]:
            return [shared.send([f"4860020{worker:02d}{n:02d}"], f"thread {worker}, message {n}").message_ids[0]
                    for n in range(5)]

        with ThreadPoolExecutor(8) as pool:
            ids = [message_id for sent in pool.map(send_five, range(8)) for message_id in sent]
    assert len(set(ids)) == 40
    assert set(accepted_per_phone(sandbox).values()) == {1} and len(accepted_per_phone(sandbox)) == 40
