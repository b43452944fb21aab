"""The sandbox gateway's rules, tested on the backend without HTTP (gateway-api.md §1–§10)."""

from __future__ import annotations

import json
import re
import statistics
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from smslib.sandbox import Admission, SandboxBackend, SandboxConfig, SandboxError

USER, PASSWORD = "sandbox", "sandbox"
WARSAW = ZoneInfo("Europe/Warsaw")
GATEWAY_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d")
# Magic endings: 0000 delivered, 0001 undelivered, 0002 expired, 0003 rejected, 0004 never reported.
DELIVERED, UNDELIVERED, EXPIRED, REJECTED, SILENT = (f"4860010{ending}" for ending in
                                                     ("0000", "0001", "0002", "0003", "0004"))


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start.timestamp()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 24, 10, 15, 30, tzinfo=WARSAW))


def make_backend(clock: Clock, **config: Any) -> SandboxBackend:
    return SandboxBackend(SandboxConfig(**{"seed": 7, **config}), clock=clock)


@pytest.fixture
def backend(clock: Clock) -> SandboxBackend:
    with make_backend(clock) as backend:
        yield backend


def send(backend: SandboxBackend, phones: list[str], message: str = "Hello", **fields: Any) -> dict[str, Any]:
    return backend.send(USER, PASSWORD, {"Phone": phones, "Message": message, **fields})


def reports(backend: SandboxBackend, ids: list[str] | None = None, mark: bool | None = None) -> list[dict]:
    return backend.delivery_reports(USER, PASSWORD, ids, mark)["DeliveryReports"]


def rejected(call, *args: Any) -> SandboxError:
    with pytest.raises(SandboxError) as caught:
        call(*args)
    return caught.value


# -- sending ----------------------------------------------------------------------------------

def test_send_answers_one_id_per_phone_in_order_with_the_gateway_time(backend: SandboxBackend) -> None:
    phones = ["48600100200", "+48600100201", "48600100200"]
    answer = send(backend, phones, Sender="Shop", Priority="2", FlashSms="true", CostCenter="it")
    assert len(answer["MessageIds"]) == 3 and len(set(answer["MessageIds"])) == 3
    assert answer["CurrentTime"] == "2026-11-24T10:15:30.000+01:00"
    stored = backend.accepted_messages()
    assert [(m["phone"], m["message_id"]) for m in stored] == list(zip(phones, answer["MessageIds"]))
    assert {(m["sender"], m["priority"], m["flash"], m["cost_center"], m["channel"]) for m in stored} == {
        ("Shop", "2", True, "it", "smses")}


def test_gateway_times_carry_the_warsaw_offset_of_their_season(clock: Clock) -> None:
    clock.now = datetime(2026, 7, 1, 12, 0, tzinfo=WARSAW).timestamp()
    with make_backend(clock) as backend:
        answer = send(backend, ["48600100200"])
    assert GATEWAY_TIME.fullmatch(answer["CurrentTime"])
    assert answer["CurrentTime"].endswith("+02:00")


def test_message_ids_are_unique_across_fresh_sandboxes_with_the_same_seed(clock: Clock) -> None:
    with make_backend(clock) as first, make_backend(clock) as second:
        ids = send(first, ["48600100200"] * 50)["MessageIds"] + send(second, ["48600100200"] * 50)["MessageIds"]
    assert len(set(ids)) == 100


def test_simple_api_answers_the_ids_joined_with_commas(backend: SandboxBackend) -> None:
    answer = backend.simple_send({"UserEmail": "sandbox@example.com", "Password": "sandbox",
                                  "Phone": ["48600100200", "48600100201"], "Message": "Hi", "Sender": "Shop"})
    stored = backend.accepted_messages()
    assert answer == {"MessageId": ",".join(m["message_id"] for m in stored)}
    assert [(m["phone"], m["channel"], m["sender"]) for m in stored] == [
        ("48600100200", "simpleapi", "Shop"), ("48600100201", "simpleapi", "Shop")]


# -- validation (§1, §10) ------------------------------------------------------------------------

VALID = {"Phone": ["48600100200"], "Message": "Hello"}


@pytest.mark.parametrize(("change", "field"), [
    ({"Phone": None}, "Phone"),
    ({"Phone": "48600100200"}, "Phone"),
    ({"Phone": []}, "Phone"),
    ({"Phone": ["48600100200"] * 1001}, "Phone"),
    ({"Phone": ["123456"]}, "Phone"),
    ({"Phone": ["1234567890123456"]}, "Phone"),
    ({"Phone": ["+48 600 100 200"]}, "Phone"),
    ({"Phone": [48600100200]}, "Phone"),
    ({"Message": None}, "Message"),
    ({"Message": ""}, "Message"),
    ({"Message": 5}, "Message"),
    ({"Message": "a" * 1531}, "Message"),
    ({"Message": "€" * 766}, "Message"),      # extension characters take two septets
    ({"Message": "ą" * 671}, "Message"),
    ({"Message": "😀" * 336}, "Message"),     # outside the BMP: two UTF-16 units each
    ({"Sender": ""}, "Sender"),
    ({"Sender": "ABCDEFGHIJKL"}, "Sender"),
    ({"Sender": "Shop!"}, "Sender"),
    ({"Sender": "..."}, "Sender"),
    ({"Sender": "12345678901234567"}, "Sender"),
    ({"Sender": None}, "Sender"),
    ({"Priority": 2}, "Priority"),
    ({"Priority": "4"}, "Priority"),
    ({"FlashSms": True}, "FlashSms"),
    ({"FlashSms": "TRUE"}, "FlashSms"),
    ({"CostCenter": "finance"}, "CostCenter"),
    ({"CostCenter": None}, "CostCenter"),
    ({"TransactionId": ""}, "TransactionId"),
    ({"TransactionId": 5}, "TransactionId"),
])
def test_an_invalid_field_is_refused_with_400_naming_it(backend: SandboxBackend, change: dict, field: str) -> None:
    body = {**VALID, **change}
    body = {key: value for key, value in body.items() if not (value is None and key in ("Phone", "Message"))}
    error = rejected(backend.send, USER, PASSWORD, body)
    assert error.status == 400
    assert list(error.errors) == [field]
    assert field in error.errors[field][0]
    assert backend.accepted_messages() == []


@pytest.mark.parametrize("change", [
    {"Phone": ["48600100200"] * 1000},
    {"Phone": ["1234567", "+123456789012345"]},
    {"Message": "a" * 1530},
    {"Message": "€" * 765},
    {"Message": "ą" * 670},
    {"Message": "😀" * 335},
    {"Sender": "My Shop-1.0"},
    {"Sender": "+4860010020012345"},
    {"Sender": "7"},
    {"Priority": "0", "FlashSms": "false", "CostCenter": "support", "TransactionId": "t" * 200},
])
def test_values_at_the_limits_are_accepted(backend: SandboxBackend, change: dict) -> None:
    body = {**VALID, **change}
    assert len(backend.send(USER, PASSWORD, body)["MessageIds"]) == len(body["Phone"])


def test_every_problem_of_a_request_is_answered_at_once(backend: SandboxBackend) -> None:
    error = rejected(backend.send, USER, PASSWORD, {"Phone": ["12", "x", 5], "Message": "", "Priority": "9"})
    assert set(error.errors) == {"Phone", "Message", "Priority"}
    assert [m.split(" ")[0] for m in error.errors["Phone"]] == ["Phone[0]", "Phone[1]", "Phone[2]"]
    problem = error.problem()
    assert (problem["status"], problem["title"], problem["errors"]) == (400, error.title, error.errors)
    assert "Phone" in problem["detail"]


def test_a_thousand_bad_numbers_are_summarised_not_listed(backend: SandboxBackend) -> None:
    error = rejected(backend.send, USER, PASSWORD, {"Phone": ["bad"] * 1000, "Message": "Hi"})
    assert len(error.errors["Phone"]) == 11
    assert error.errors["Phone"][-1] == "... and 990 more problems in Phone."


def test_a_body_that_is_not_an_object_is_refused(backend: SandboxBackend) -> None:
    error = rejected(backend.send, USER, PASSWORD, ["48600100200"])
    assert (error.status, list(error.errors)) == (400, ["body"])


# -- credentials (§9) --------------------------------------------------------------------------

@pytest.mark.parametrize(("username", "password"), [(None, None), ("sandbox", "wrong"), ("other", "sandbox"),
                                                    ("sandbox", None)])
def test_wrong_or_missing_credentials_get_401_before_the_body_is_read(
        backend: SandboxBackend, username: str | None, password: str | None) -> None:
    assert rejected(backend.send, username, password, {"Phone": "not even valid"}).status == 401
    assert rejected(backend.delivery_reports, username, password, None, None).status == 401


@pytest.mark.parametrize("credentials", [{}, {"UserEmail": "sandbox@example.com", "Password": "wrong"},
                                         {"UserEmail": "sandbox", "Password": "sandbox"},
                                         {"UserEmail": ["sandbox@example.com"], "Password": "sandbox"}])
def test_simple_api_refuses_wrong_credentials_in_the_body(backend: SandboxBackend, credentials: dict) -> None:
    error = rejected(backend.simple_send, {**VALID, **credentials})
    assert error.status == 401
    assert "WWW-Authenticate" not in error.headers
    assert backend.accepted_messages() == []


def test_a_401_for_basic_auth_asks_for_basic_auth(backend: SandboxBackend) -> None:
    assert rejected(backend.send, None, None, VALID).headers["WWW-Authenticate"].startswith("Basic ")


# -- idempotency (§3) -------------------------------------------------------------------------

def test_a_repeated_transaction_id_with_the_same_body_replays_the_first_answer(
        backend: SandboxBackend, clock: Clock) -> None:
    body = {"Phone": ["48600100200", "48600100201"], "Message": "Hi", "TransactionId": "job-1/3", "Priority": "1"}
    first = backend.send(USER, PASSWORD, body)
    clock.advance(60)
    again = backend.send(USER, PASSWORD, dict(reversed(body.items())))  # key order does not matter
    assert again == first
    assert len(backend.accepted_messages()) == 2


@pytest.mark.parametrize("change", [{"Message": "Hi!"}, {"Phone": ["48600100200"]}, {"Priority": "3"},
                                    {"Sender": "Shop"}])
def test_a_repeated_transaction_id_with_another_body_gets_409(backend: SandboxBackend, change: dict) -> None:
    body = {"Phone": ["48600100200", "48600100201"], "Message": "Hi", "TransactionId": "job-1/3"}
    backend.send(USER, PASSWORD, body)
    error = rejected(backend.send, USER, PASSWORD, {**body, **change})
    assert (error.status, list(error.errors)) == (409, ["TransactionId"])
    assert "job-1/3" in error.detail
    assert len(backend.accepted_messages()) == 2


def test_sends_without_transaction_id_are_never_merged(backend: SandboxBackend) -> None:
    assert send(backend, ["48600100200"]) != send(backend, ["48600100200"])
    assert len(backend.accepted_messages()) == 2


def test_concurrent_identical_sends_are_accepted_once(backend: SandboxBackend) -> None:
    body = {"Phone": [f"486001{i:05d}" for i in range(200)], "Message": "Hi", "TransactionId": "same"}
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: backend.send(USER, PASSWORD, body), range(16)))
    assert all(answer["MessageIds"] == answers[0]["MessageIds"] for answer in answers)
    assert len(backend.accepted_messages()) == 200


def test_two_sandboxes_sharing_a_file_accept_concurrent_identical_sends_once(tmp_path: Path, clock: Clock) -> None:
    body = {"Phone": [f"486001{i:05d}" for i in range(100)], "Message": "Hi", "TransactionId": "same"}
    path = tmp_path / "sandbox.db"
    with make_backend(clock, db_path=path) as first, make_backend(clock, db_path=path) as second:
        start = threading.Barrier(8)

        def race(backend: SandboxBackend) -> list[str]:
            start.wait()
            return backend.send(USER, PASSWORD, body)["MessageIds"]

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(race, [first, second] * 4))
        assert all(answer == answers[0] for answer in answers)
        assert len(first.accepted_messages()) == len(second.accepted_messages()) == 100


# -- delivery reports (§5) --------------------------------------------------------------------

def send_magic(backend: SandboxBackend, clock: Clock) -> dict[str, str]:
    """One message to each magic number, all reports due; returns phone -> message id."""
    ids = send(backend, [DELIVERED, UNDELIVERED, EXPIRED, REJECTED, SILENT])["MessageIds"]
    clock.advance(86400)
    return dict(zip([DELIVERED, UNDELIVERED, EXPIRED, REJECTED, SILENT], ids))


def test_magic_numbers_get_their_status_and_0004_is_never_reported(backend: SandboxBackend, clock: Clock) -> None:
    ids = send_magic(backend, clock)
    backend.force_deliver_all()
    found = {r["Phone"]: r["Status"] for r in reports(backend, list(ids.values()))}
    assert found == {DELIVERED: 1, UNDELIVERED: -1, EXPIRED: -2, REJECTED: -3}


def test_reports_by_id_leave_out_messages_in_flight(backend: SandboxBackend, clock: Clock) -> None:
    ids = send(backend, [DELIVERED, UNDELIVERED])["MessageIds"]
    assert reports(backend, ids) == []
    clock.advance(86400)
    found = reports(backend, [ids[1], "unknown-id", ids[0]])
    assert [r["MessageId"] for r in found] == [ids[1], ids[0]]


def test_a_report_has_its_fields_and_is_delivered_after_the_send(backend: SandboxBackend, clock: Clock) -> None:
    answer = send(backend, [DELIVERED])
    clock.advance(86400)
    (report,) = reports(backend, answer["MessageIds"])
    stored = backend.accepted_messages()[0]
    assert report == {"ReportId": stored["report_id"], "Phone": DELIVERED, "MessageId": stored["message_id"],
                      "Status": 1, "DeliveryTime": report["DeliveryTime"]}
    assert GATEWAY_TIME.fullmatch(report["DeliveryTime"])
    delivered = datetime.fromisoformat(report["DeliveryTime"])
    assert delivered > datetime.fromisoformat(answer["CurrentTime"])
    assert delivered == stored["due_at"].replace(microsecond=stored["due_at"].microsecond // 1000 * 1000)


def test_reports_by_id_with_mark_as_read_true_mark_exactly_those(backend: SandboxBackend, clock: Clock) -> None:
    ids = send_magic(backend, clock)
    assert len(reports(backend, [ids[UNDELIVERED], ids[DELIVERED]], mark=True)) == 2
    assert {r["Phone"] for r in reports(backend, mark=False)} == {EXPIRED, REJECTED}
    assert len(reports(backend, [ids[UNDELIVERED]])) == 1  # read reports stay readable by id


def test_reports_by_id_with_mark_as_read_false_mark_nothing(backend: SandboxBackend, clock: Clock) -> None:
    ids = send_magic(backend, clock)
    reports(backend, list(ids.values()), mark=False)
    reports(backend, list(ids.values()))
    assert len(reports(backend, mark=False)) == 4


def test_mark_as_read_without_ids_reads_every_unread_report(backend: SandboxBackend, clock: Clock) -> None:
    send_magic(backend, clock)
    assert {r["Status"] for r in reports(backend, mark=False)} == {1, -1, -2, -3}
    assert len(reports(backend, mark=True)) == 4
    assert reports(backend, mark=True) == []
    assert reports(backend, mark=False) == []


def test_without_parameters_the_unread_undelivered_reports_are_answered_and_kept(
        backend: SandboxBackend, clock: Clock) -> None:
    send_magic(backend, clock)
    first = reports(backend)
    assert {r["Phone"] for r in first} == {UNDELIVERED, EXPIRED, REJECTED}
    assert reports(backend) == first


def test_message_ids_may_be_repeated_or_comma_separated(backend: SandboxBackend, clock: Clock) -> None:
    ids = send(backend, [DELIVERED, UNDELIVERED, EXPIRED])["MessageIds"]
    clock.advance(86400)
    found = reports(backend, [f"{ids[0]}, {ids[1]}", ids[2], ids[0]])
    assert [r["MessageId"] for r in found] == ids


@pytest.mark.parametrize(("ids", "problem"), [([""], "at least one"), ([" , "], "at least one"),
                                              ([",".join(["x"] * 1001)], "1001")])
def test_message_ids_empty_or_too_many_get_400(backend: SandboxBackend, ids: list[str], problem: str) -> None:
    error = rejected(backend.delivery_reports, USER, PASSWORD, ids, None)
    assert (error.status, list(error.errors)) == (400, ["MessageIds"])
    assert problem in error.errors["MessageIds"][0]


def test_a_thousand_ids_are_answered(backend: SandboxBackend, clock: Clock) -> None:
    ids = send(backend, [f"486009{i:05d}" for i in range(1000)])["MessageIds"]
    backend.force_deliver_all()
    assert len(reports(backend, ids)) == 999  # 48600900004 never reports


def test_force_deliver_all_makes_every_pending_report_due_now(backend: SandboxBackend) -> None:
    ids = send(backend, [DELIVERED, UNDELIVERED, SILENT])["MessageIds"]
    assert backend.force_deliver_all() == 2
    assert [r["MessageId"] for r in reports(backend, ids)] == ids[:2]


# -- the delivery simulation ------------------------------------------------------------------

PHONES = [f"4860020{i:04d}" for i in range(5, 2005)]  # no magic endings


def outcomes(backend: SandboxBackend) -> list[tuple[int, float]]:
    return [(m["status"], (m["due_at"] - m["accepted_at"]).total_seconds()) for m in backend.accepted_messages()]


def test_the_same_seed_and_requests_give_the_same_outcomes(clock: Clock) -> None:
    results = []
    for seed in (7, 7, 8):
        with make_backend(clock, seed=seed) as backend:
            send(backend, PHONES[:200])
            send(backend, PHONES[200:300], Priority="3")
            results.append(outcomes(backend))
    assert results[0] == results[1]
    assert results[0] != results[2]


def test_reset_starts_the_same_sequence_of_outcomes_again(backend: SandboxBackend) -> None:
    send(backend, PHONES[:100])
    before = outcomes(backend)
    backend.reset()
    send(backend, PHONES[:100])
    assert outcomes(backend) == before


def test_statuses_follow_the_default_shares(clock: Clock) -> None:
    with make_backend(clock) as backend:
        send(backend, PHONES[:1000])
        send(backend, PHONES[1000:])
        counts = statistics.Counter(status for status, _ in outcomes(backend))
    assert 0.87 <= counts[1] / 2000 <= 0.93
    assert all(0.015 <= counts[status] / 2000 <= 0.06 for status in (-1, -2, -3))


def test_shares_are_configurable(clock: Clock) -> None:
    with make_backend(clock, shares=(0, 0, 0, 1)) as backend:
        send(backend, PHONES[:100] + [DELIVERED])
        assert [status for status, _ in outcomes(backend)] == [-3] * 100 + [1]


def test_latency_is_log_normal_with_median_4_s_and_p99_60_s(clock: Clock) -> None:
    with make_backend(clock, shares=(1, 0, 0, 0)) as backend:
        send(backend, PHONES[:1000])
        send(backend, PHONES[1000:])
        delays = sorted(delay for _, delay in outcomes(backend))
    assert 3.4 <= statistics.median(delays) <= 4.6
    assert 40 <= delays[int(0.99 * len(delays))] <= 90
    assert min(delays) > 0


def test_higher_priority_is_delivered_sooner(clock: Clock) -> None:
    medians = []
    for priority in "0123":
        with make_backend(clock, shares=(1, 0, 0, 0)) as backend:
            send(backend, PHONES[:500], Priority=priority)
            medians.append(statistics.median(delay for _, delay in outcomes(backend)))
    assert medians == sorted(medians, reverse=True)
    assert medians[3] < medians[0] / 2


def test_time_scale_multiplies_every_delay(clock: Clock) -> None:
    delays = []
    for scale in (1.0, 0.01):
        with make_backend(clock, time_scale=scale) as backend:
            send(backend, PHONES[:300])
            delays.append([delay for _, delay in outcomes(backend)])
    assert delays[1] == pytest.approx([delay * 0.01 for delay in delays[0]], abs=2e-6)  # datetimes keep µs


# -- persistence and the log ------------------------------------------------------------------

def test_a_database_file_keeps_messages_transactions_and_reports_across_restarts(
        tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "sandbox.db"
    body = {"Phone": [UNDELIVERED, DELIVERED], "Message": "Hi", "TransactionId": "t-1"}
    with make_backend(clock, db_path=path) as first:
        answer = first.send(USER, PASSWORD, body)
        clock.advance(86400)
        first.delivery_reports(USER, PASSWORD, [answer["MessageIds"][1]], True)
    with make_backend(clock, db_path=path) as second:
        assert second.send(USER, PASSWORD, body) == answer
        assert [m["message_id"] for m in second.accepted_messages()] == answer["MessageIds"]
        assert [r["MessageId"] for r in reports(second, mark=False)] == answer["MessageIds"][:1]


def test_the_log_has_one_line_per_accepted_message_and_none_for_replays(tmp_path: Path, clock: Clock) -> None:
    log = tmp_path / "accepted.jsonl"
    with make_backend(clock, log_path=log) as backend:
        body = {"Phone": ["48600100200", "48600100201"], "Message": "Zażółć", "TransactionId": "t-1"}
        ids = backend.send(USER, PASSWORD, body)["MessageIds"]
        backend.send(USER, PASSWORD, body)
        rejected(backend.send, USER, PASSWORD, {**body, "Message": "other"})
        simple = backend.simple_send({"UserEmail": "sandbox@example.com", "Password": "sandbox", **VALID})
        lines = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
        assert lines == [
            {"phone": "48600100200", "message_id": ids[0], "transaction_id": "t-1", "message": "Zażółć",
             "channel": "smses"},
            {"phone": "48600100201", "message_id": ids[1], "transaction_id": "t-1", "message": "Zażółć",
             "channel": "smses"},
            {"phone": "48600100200", "message_id": simple["MessageId"], "transaction_id": None, "message": "Hello",
             "channel": "simpleapi"},
        ]
        backend.reset()
        assert log.read_text() == ""


def test_reset_forgets_messages_and_transactions(backend: SandboxBackend) -> None:
    body = {**VALID, "TransactionId": "t-1"}
    first = backend.send(USER, PASSWORD, body)
    backend.reset()
    assert backend.accepted_messages() == []
    assert backend.send(USER, PASSWORD, body)["MessageIds"] != first["MessageIds"]


# -- faults -----------------------------------------------------------------------------------

def admit(backend: SandboxBackend, endpoint: str = "smses") -> Admission:
    with backend.admit(endpoint) as admission:
        return admission


def test_no_faults_by_default(backend: SandboxBackend) -> None:
    assert {admit(backend, endpoint) for endpoint in ("smses", "simpleapi", "reports")} == {Admission()}


def test_fail_rate_one_answers_503(backend: SandboxBackend) -> None:
    backend.configure_faults(fail_rate=1.0)
    error = rejected(admit, backend)
    assert error.status == 503
    assert "TransactionId" in error.detail


def test_fail_rate_fails_about_its_share(backend: SandboxBackend) -> None:
    backend.configure_faults(fail_rate=0.3)
    failed = 0
    for _ in range(1000):
        try:
            admit(backend)
        except SandboxError:
            failed += 1
    assert 250 <= failed <= 350


def test_hang_faults_say_how_long_to_hold_the_request(backend: SandboxBackend) -> None:
    backend.configure_faults(hang_rate=1.0, hang_seconds=2.5)
    assert admit(backend) == Admission(hang_before=2.5, hang_after=0.0)
    backend.configure_faults(hang_rate=0.0, hang_after_accept_rate=1.0)
    assert admit(backend) == Admission(hang_before=0.0, hang_after=2.5)


def test_faults_apply_only_to_their_endpoints(backend: SandboxBackend) -> None:
    backend.configure_faults(fail_rate=1.0, endpoints=("reports",))
    assert admit(backend, "smses") == Admission()
    assert rejected(admit, backend, "reports").status == 503


def test_the_rate_limit_answers_429_with_whole_seconds_to_wait(backend: SandboxBackend, clock: Clock) -> None:
    backend.configure_faults(rate_limit=2)
    admit(backend)
    admit(backend)
    error = rejected(admit, backend)
    assert error.status == 429
    assert error.headers == {"Retry-After": "1"}
    clock.advance(0.5)
    admit(backend)


def test_a_slow_rate_limit_asks_to_wait_longer(backend: SandboxBackend, clock: Clock) -> None:
    backend.configure_faults(rate_limit=0.1)
    admit(backend)
    assert rejected(admit, backend).headers["Retry-After"] == "10"
    clock.advance(4)
    assert rejected(admit, backend).headers["Retry-After"] == "6"


def test_reset_restores_the_configured_faults(clock: Clock) -> None:
    with make_backend(clock, hang_rate=1.0, hang_seconds=1.0) as backend:
        backend.configure_faults(fail_rate=1.0, hang_rate=0.0)
        backend.reset()
        assert admit(backend) == Admission(hang_before=1.0)


def test_wait_idle_waits_for_admitted_requests(backend: SandboxBackend) -> None:
    with backend.admit("smses"):
        assert backend.wait_idle(timeout=0.01) is False
    assert backend.wait_idle(timeout=0.01) is True


@pytest.mark.parametrize("change", [{"fail_rate": 1.5}, {"hang_rate": -0.1}, {"hang_seconds": -1},
                                    {"rate_limit": -1}, {"endpoints": ("smses", "other")}])
def test_impossible_faults_are_refused(backend: SandboxBackend, change: dict) -> None:
    with pytest.raises(ValueError, match=next(iter(change))):
        backend.configure_faults(**change)


@pytest.mark.parametrize("config", [{"time_scale": -1}, {"shares": (1, 0, 0)}, {"shares": (0, 0, 0, 0)},
                                    {"shares": (1, -1, 0, 1)}, {"median_latency": 70},
                                    {"timezone": "Mars/Olympus"}, {"fail_rate": 2}])
def test_an_impossible_configuration_is_refused(config: dict) -> None:
    with pytest.raises(ValueError):
        SandboxConfig(**config)
