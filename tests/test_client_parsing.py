"""The client's tolerant parsing (contract §2, §6, §8) and its error mapping, against a
gateway that answers canned responses over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from smslib.gateway.client import SmsClient, parse_gateway_time
from smslib.core.errors import (
    AuthenticationError,
    BadResponseError,
    ConfigError,
    ConflictError,
    GatewayError,
    RateLimitError,
    TransportError,
    ValidationError,
)
from smslib.core.models import DeliveryStatus

from .canned import CannedGateway, free_port as _free_port

PASSWORD = "pa55-canned-SECRET"


@pytest.fixture
def free_port() -> int:
    return _free_port()


@pytest.fixture
def canned():
    with CannedGateway() as gateway:
        yield gateway


def make_client(url: str, **options) -> SmsClient:
    options.setdefault("retry_attempts", 1)
    options.setdefault("read_timeout", 2)
    return SmsClient(url, "user", PASSWORD, simpleapi_email="me@example.com",
                     simpleapi_password=PASSWORD, sleep=lambda s: None, **options)


# -- times (§6) ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    "text, expected",
    [
        ("2026-11-24T10:15:30.123+01:00", datetime(2026, 11, 24, 9, 15, 30, 123000, tzinfo=timezone.utc)),
        ("2026-11-24 10:15:30+01:00", datetime(2026, 11, 24, 9, 15, 30, tzinfo=timezone.utc)),
        ("2026-11-24T10:15:30Z", datetime(2026, 11, 24, 10, 15, 30, tzinfo=timezone.utc)),
        ("2026-11-24T10:15:30.1234567Z", datetime(2026, 11, 24, 10, 15, 30, 123456, tzinfo=timezone.utc)),
        # no offset: the gateway's zone, Europe/Warsaw: CET (+1) in winter, CEST (+2) in summer
        ("2026-11-24T10:15:30", datetime(2026, 11, 24, 9, 15, 30, tzinfo=timezone.utc)),
        ("2026-07-01 10:15:30", datetime(2026, 7, 1, 8, 15, 30, tzinfo=timezone.utc)),
        # the repeated hour of the autumn change (25 Oct 2026, 02:00-03:00 twice): first occurrence
        ("2026-10-25 02:30:00", datetime(2026, 10, 25, 0, 30, tzinfo=timezone.utc)),
        ("/Date(1764000000000)/", datetime.fromtimestamp(1764000000, tz=timezone.utc)),
    ],
)
def test_gateway_times_become_aware_utc(text, expected):
    assert parse_gateway_time(text, "Europe/Warsaw") == expected


def test_empty_time_is_none_and_garbage_is_a_bad_response():
    assert parse_gateway_time(None) is None
    assert parse_gateway_time("") is None
    with pytest.raises(BadResponseError, match="unknown format"):
        parse_gateway_time("yesterday at noon")


# -- message ids (§2, §8) -------------------------------------------------------------------

@pytest.mark.parametrize(
    "message_ids",
    [["a1", "b2"], "a1,b2", "a1;b2", "a1, b2", [" a1", "b2 "]],
)
def test_send_accepts_every_shape_of_message_ids(canned, message_ids):
    canned.respond(200, {"MessageIds": message_ids, "CurrentTime": "2026-11-24T10:15:30+01:00"})
    result = make_client(canned.url).send(["48600100200", "48600100201"], "hi")
    assert result.message_ids == ("a1", "b2")
    assert result.pairs() == [("48600100200", "a1"), ("48600100201", "b2")]
    assert result.current_time == datetime(2026, 11, 24, 9, 15, 30, tzinfo=timezone.utc)


def test_send_with_fewer_ids_than_numbers_is_a_bad_response_that_warns_it_may_have_gone(canned):
    canned.respond(200, {"MessageIds": ["only-one"], "CurrentTime": "2026-11-24T10:15:30Z"})
    with pytest.raises(BadResponseError, match="may have been sent"):
        make_client(canned.url).send(["48600100200", "48600100201"], "hi")


def test_simple_send_splits_comma_joined_ids_and_sends_credentials_only_in_the_body(canned):
    canned.respond(200, {"MessageId": "x1,x2"})
    result = make_client(canned.url).simple_send(["48600100200", "48600100201"], "hi", sender="ACME")
    assert result.message_ids == ("x1", "x2")
    request = canned.requests[-1]
    assert request.path == "/SimpleApi"
    assert "Authorization" not in request.headers
    assert request.json == {"UserEmail": "me@example.com", "Password": PASSWORD,
                            "Phone": ["48600100200", "48600100201"], "Message": "hi", "Sender": "ACME"}


def test_send_body_is_strict_optional_fields_omitted_and_strings_as_documented(canned):
    canned.respond(200, {"MessageIds": ["1"], "CurrentTime": None})
    client = make_client(canned.url)
    client.send(["48600100200"], "hi", transaction_id="t-1")
    assert canned.requests[-1].json == {"Phone": ["48600100200"], "Message": "hi", "TransactionId": "t-1"}
    client.send(["48600100200"], "hi", transaction_id="t-2", sender="ACME", priority=3, flash=True,
                cost_center="it")
    assert canned.requests[-1].json == {
        "Phone": ["48600100200"], "Message": "hi", "TransactionId": "t-2", "Sender": "ACME",
        "Priority": "3", "FlashSms": "true", "CostCenter": "it",
    }
    assert canned.requests[-1].headers["Authorization"].startswith("Basic ")


# -- reports ------------------------------------------------------------------------------

def test_reports_keep_unknown_status_codes_and_parse_times(canned):
    canned.respond(200, {
        "CurrentTime": "2026-11-24T10:15:30+01:00",
        "DeliveryReports": [
            {"ReportId": 7, "Phone": "48600100200", "MessageId": "m1", "Status": 1,
             "DeliveryTime": "2026-11-24 10:15:00"},
            {"ReportId": "8", "Phone": "48600100201", "MessageId": "m2", "Status": "-2",
             "DeliveryTime": None},
            {"ReportId": "9", "Phone": "48600100202", "MessageId": "m3", "Status": 42,
             "DeliveryTime": "2026-11-24T09:15:00Z"},
        ],
    })
    batch = make_client(canned.url).delivery_reports(message_ids=["m1", "m2", "m3"], mark_as_read=False)
    first, second, third = batch.reports
    assert first.report_id == "7" and first.status is DeliveryStatus.DELIVERED
    assert first.delivery_time == datetime(2026, 11, 24, 9, 15, tzinfo=timezone.utc)
    assert second.status is DeliveryStatus.EXPIRED and second.delivery_time is None
    assert int(third.status) == 42 and not third.status.is_known
    assert canned.requests[-1].query == [("MessageIds", "m1"), ("MessageIds", "m2"),
                                         ("MessageIds", "m3"), ("MarkAsRead", "false")]


def test_more_than_1000_ids_are_asked_in_several_calls(canned):
    canned.respond(200, {"CurrentTime": "2026-11-24T10:15:30Z", "DeliveryReports": []})
    ids = [f"m{i}" for i in range(2500)]
    make_client(canned.url).delivery_reports(message_ids=ids)
    sizes = [len([k for k, _ in r.query if k == "MessageIds"]) for r in canned.requests]
    assert sizes == [1000, 1000, 500]


@pytest.mark.parametrize(
    "body, match",
    [
        ("<html><body>Welcome to nginx</body></html>", "HTML instead of the documented JSON"),
        ('{"MessageIds": ["1"', "instead of the documented JSON"),
        ("", "with nothing instead"),
    ],
)
def test_a_body_that_is_not_the_documented_json_is_a_bad_response(canned, body, match):
    canned.respond(200, body)
    with pytest.raises(BadResponseError, match=match):
        make_client(canned.url).send(["48600100200"], "hi")


def test_a_200_of_the_wrong_shape_names_the_missing_field(canned):
    canned.respond(200, {"Ids": ["1"]})
    with pytest.raises(BadResponseError, match="no MessageIds field"):
        make_client(canned.url).send(["48600100200"], "hi")


# -- errors (§9) --------------------------------------------------------------------------

def test_each_status_maps_to_its_error_class(canned):
    client = make_client(canned.url)
    cases = [
        (401, {"title": "Unauthorized"}, AuthenticationError),
        (400, {"title": "Invalid", "errors": {"Sender": ["too long"]}}, ValidationError),
        (409, {"title": "TransactionId reused"}, ConflictError),
        (429, {"title": "Slow down"}, RateLimitError),
        (503, {"title": "Down"}, GatewayError),
    ]
    for status, body, error_class in cases:
        canned.respond(status, body, headers={"Retry-After": "3"})
        with pytest.raises(error_class) as caught:
            client.send(["48600100200"], "hi")
        assert caught.value.http_status == status
    canned.respond(400, {"title": "Invalid", "errors": {"Sender": ["too long"]}})
    with pytest.raises(ValidationError) as caught:
        client.send(["48600100200"], "hi")
    assert caught.value.field == "Sender"
    assert caught.value.field_errors == {"Sender": ["too long"]}
    assert "Sender: too long" in str(caught.value)


def test_rate_limit_error_carries_retry_after(canned):
    canned.respond(429, {"title": "Slow down"}, headers={"Retry-After": "7"})
    with pytest.raises(RateLimitError) as caught:
        make_client(canned.url).delivery_reports()
    assert caught.value.retry_after == 7.0
    assert "7 s" in str(caught.value)


def test_an_echoed_password_is_scrubbed_from_errors(canned):
    canned.respond(400, {"title": f"Bad body: Password={PASSWORD}"})
    with pytest.raises(ValidationError) as caught:
        make_client(canned.url).simple_send(["48600100200"], "hi")
    for text in (str(caught.value), repr(caught.value), caught.value.body, json.dumps(caught.value.json_body)):
        assert PASSWORD not in text


def test_connection_refused_is_a_transport_error_that_sent_nothing(free_port):
    client = make_client(f"http://127.0.0.1:{free_port}")
    with pytest.raises(TransportError) as caught:
        client.send(["48600100200"], "hi")
    assert caught.value.may_have_reached_gateway is False
    assert "nothing was sent" in str(caught.value)


def test_local_validation_names_the_field_before_any_http(canned):
    client = make_client(canned.url)
    with pytest.raises(ValidationError) as caught:
        client.send([], "hi")
    assert caught.value.field == "Phone"
    with pytest.raises(ValidationError) as caught:
        client.send(["48600100200"], "  ")
    assert caught.value.field == "Message"
    with pytest.raises(ValidationError) as caught:
        client.send(["48600100200"], "hi", priority=4)
    assert caught.value.field == "Priority"
    with pytest.raises(ValidationError) as caught:
        client.send(["48600100200", ""], "hi")
    assert caught.value.field == "Phone"
    assert canned.requests == []


def test_repr_of_the_client_hides_the_password(canned):
    client = make_client(canned.url)
    assert PASSWORD not in repr(client)
    assert "***" in repr(client)


def test_the_reports_of_an_acknowledgement_already_held_are_given_back_not_parsed_again(canned):
    first = {"ReportId": "r1", "Phone": "48600100200", "MessageId": "m1", "Status": 1,
             "DeliveryTime": "2026-11-24T10:00:00Z"}
    second = {"ReportId": "r2", "Phone": "48600100201", "MessageId": "m2", "Status": -1,
              "DeliveryTime": "2026-11-24T10:01:00Z"}
    client = make_client(canned.url)
    canned.respond(200, {"CurrentTime": "2026-11-24T10:15:30Z", "DeliveryReports": [first]})
    [held] = client.delivery_reports(message_ids=["m1"], mark_as_read=False).reports
    canned.respond(200, {"CurrentTime": "2026-11-24T10:15:30Z", "DeliveryReports": [first, second]})
    answer = client.delivery_reports(message_ids=["m1", "m2"], mark_as_read=True, known={"r1": held}).reports
    assert answer[0] is held  # the very report the caller holds
    assert (answer[1].report_id, answer[1].status) == ("r2", DeliveryStatus.UNDELIVERED)  # a new one: parsed


def test_message_ids_that_need_quoting_are_quoted_in_the_query(canned):
    canned.respond(200, {"CurrentTime": "2026-11-24T10:15:30Z", "DeliveryReports": []})
    make_client(canned.url).delivery_reports(message_ids=["plain-1.a_b~c", "a b&c=d/é"], mark_as_read=True)
    assert canned.requests[-1].query == [("MessageIds", "plain-1.a_b~c"), ("MessageIds", "a b&c=d/é"),
                                         ("MarkAsRead", "true")]


# -- the environment: proxies and CA certificates, read once per client ----------------------

def test_a_proxy_from_the_environment_carries_the_requests_and_is_read_once(canned, monkeypatch):
    canned.respond(200, {"CurrentTime": "2026-11-24T10:15:30Z", "DeliveryReports": []})
    monkeypatch.setenv("HTTP_PROXY", canned.url)  # the canned server stands in for the proxy
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = make_client("http://gateway.invalid/api")  # a name that never resolves: only a proxy reaches it
    client.check()
    monkeypatch.delenv("HTTP_PROXY")  # read when the client was made, not on every call
    client.check()
    assert [r.headers["Host"] for r in canned.requests] == ["gateway.invalid"] * 2


def test_no_proxy_sends_straight_to_the_gateway(canned, monkeypatch, free_port):
    canned.respond(200, {"CurrentTime": "2026-11-24T10:15:30Z", "DeliveryReports": []})
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port}")  # nothing listens there
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    make_client(canned.url).check()
    assert len(canned.requests) == 1


def test_a_ca_bundle_that_does_not_exist_is_a_clear_error_for_an_https_gateway(monkeypatch, tmp_path):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "missing.pem"))
    with pytest.raises(ConfigError, match="REQUESTS_CA_BUNDLE") as caught:
        make_client("https://gateway.example/api")
    assert caught.value.field == "REQUESTS_CA_BUNDLE"
    make_client("http://127.0.0.1:1")  # plain HTTP checks no certificate: no error
    (tmp_path / "missing.pem").write_text("")
    make_client("https://gateway.example/api")
