"""The sandbox gateway over HTTP: real requests on 127.0.0.1, the ASGI app in-process, and the CLI."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from smslib.sandbox import RunningSandbox, SandboxBackend, SandboxConfig, SandboxProcess, create_app, serve_in_thread
from smslib.sandbox.__main__ import build_parser, config_from_args
from smslib.sandbox.server import SandboxServerError

TIMEOUT = 5
BODY = {"Phone": ["48600100200", "48600100201"], "Message": "Hello"}


def post(sandbox: RunningSandbox, body: Any, *, auth: tuple[str, str] | None = None,
         timeout: float = TIMEOUT) -> requests.Response:
    return requests.post(f"{sandbox.url}/Smses", json=body, auth=auth or (sandbox.username, sandbox.password),
                         timeout=timeout)


def get_reports(sandbox: RunningSandbox, params: Any = None) -> requests.Response:
    return requests.get(f"{sandbox.url}/DeliveryReports", params=params, auth=(sandbox.username, sandbox.password),
                        timeout=TIMEOUT)


def assert_problem(response: requests.Response, status: int, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert {"type", "title", "status", "detail"} <= problem.keys()
    assert problem["status"] == status
    if field is not None:
        assert field in problem["errors"]
    return problem


# -- the endpoints ----------------------------------------------------------------------------

def test_smses_accepts_a_send(sandbox: RunningSandbox) -> None:
    response = post(sandbox, {**BODY, "Sender": "Shop", "Priority": "3", "FlashSms": "false",
                              "CostCenter": "marketing", "TransactionId": "t-1"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    answer = response.json()
    assert set(answer) == {"MessageIds", "CurrentTime"}
    assert [m["message_id"] for m in sandbox.backend.accepted_messages()] == answer["MessageIds"]


def test_simple_api_accepts_a_send_with_credentials_in_the_body(sandbox: RunningSandbox) -> None:
    body = {"UserEmail": sandbox.email, "Password": sandbox.simple_password, **BODY}
    response = requests.post(f"{sandbox.url}/SimpleApi", json=body, timeout=TIMEOUT)
    assert response.status_code == 200
    ids = response.json()["MessageId"].split(",")
    assert [(m["message_id"], m["channel"]) for m in sandbox.backend.accepted_messages()] == [
        (ids[0], "simpleapi"), (ids[1], "simpleapi")]


def test_delivery_reports_take_repeated_and_comma_separated_ids(sandbox: RunningSandbox) -> None:
    ids = post(sandbox, {**BODY, "Phone": ["48600100200", "48600100201", "48600100202"]}).json()["MessageIds"]
    sandbox.backend.force_deliver_all()
    response = get_reports(sandbox, [("MessageIds", f"{ids[0]},{ids[1]}"), ("MessageIds", ids[2]),
                                     ("MarkAsRead", "true")])
    assert response.status_code == 200
    answer = response.json()
    assert set(answer) == {"CurrentTime", "DeliveryReports"}
    assert [r["MessageId"] for r in answer["DeliveryReports"]] == ids
    assert get_reports(sandbox, {"MarkAsRead": "false"}).json()["DeliveryReports"] == []


def test_delivery_reports_without_parameters_answer_the_undelivered(sandbox: RunningSandbox) -> None:
    post(sandbox, {**BODY, "Phone": ["48600100000", "48600100001", "48600100003"]})
    sandbox.backend.force_deliver_all()
    found = get_reports(sandbox).json()["DeliveryReports"]
    assert sorted((r["Phone"], r["Status"]) for r in found) == [("48600100001", -1), ("48600100003", -3)]


def test_health(sandbox: RunningSandbox) -> None:
    assert requests.get(f"{sandbox.url}/health", timeout=TIMEOUT).json() == {"status": "ok"}


# -- errors as RFC 7807 problems ----------------------------------------------------------------

def test_an_invalid_field_is_a_400_problem_naming_it(sandbox: RunningSandbox) -> None:
    problem = assert_problem(post(sandbox, {**BODY, "Phone": ["48 600"]}), 400, "Phone")
    assert problem["errors"]["Phone"][0].startswith("Phone[0]")


@pytest.mark.parametrize("raw", [b'{"Phone": [', b"\xff\xfe", b""])
def test_a_body_that_is_not_json_is_a_400_problem(sandbox: RunningSandbox, raw: bytes) -> None:
    response = requests.post(f"{sandbox.url}/Smses", data=raw, auth=(sandbox.username, sandbox.password),
                             headers={"Content-Type": "application/json"}, timeout=TIMEOUT)
    assert "not valid JSON" in assert_problem(response, 400, "body")["errors"]["body"][0]


def test_a_bad_mark_as_read_is_a_400_problem(sandbox: RunningSandbox) -> None:
    assert_problem(get_reports(sandbox, {"MarkAsRead": "maybe"}), 400, "MarkAsRead")


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Basic !!!"}, {"Authorization": "Bearer abc"},
                                     {"Authorization": "Basic c2FuZGJveA=="}])  # "sandbox", no colon
def test_unusable_credentials_are_a_401_problem(sandbox: RunningSandbox, headers: dict[str, str]) -> None:
    for response in (requests.post(f"{sandbox.url}/Smses", json=BODY, headers=headers, timeout=TIMEOUT),
                     requests.get(f"{sandbox.url}/DeliveryReports", headers=headers, timeout=TIMEOUT)):
        assert_problem(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_wrong_credentials_are_a_401_even_with_a_body_that_is_not_json(sandbox: RunningSandbox) -> None:
    response = requests.post(f"{sandbox.url}/Smses", data=b"{", auth=(sandbox.username, "wrong"), timeout=TIMEOUT)
    assert_problem(response, 401)


def test_wrong_password_is_a_401_problem_without_the_password(sandbox: RunningSandbox) -> None:
    response = post(sandbox, BODY, auth=(sandbox.username, "s3cret-guess"))
    assert_problem(response, 401)
    assert "s3cret-guess" not in response.text


def test_a_replay_is_answered_the_same_and_a_changed_body_is_a_409_problem(sandbox: RunningSandbox) -> None:
    body = {**BODY, "TransactionId": "job-7/1"}
    first = post(sandbox, body).json()
    assert post(sandbox, body).json() == first
    assert_problem(post(sandbox, {**body, "Message": "Changed"}), 409, "TransactionId")
    assert len(sandbox.backend.accepted_messages()) == 2


def test_concurrent_identical_requests_are_accepted_once(sandbox: RunningSandbox) -> None:
    body = {"Phone": [f"486003{i:05d}" for i in range(300)], "Message": "Hi", "TransactionId": "race"}
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: post(sandbox, body).json(), range(16)))
    assert all(answer == answers[0] for answer in answers)
    assert len(sandbox.backend.accepted_messages()) == 300


def test_unknown_paths_and_methods_are_problems(sandbox: RunningSandbox) -> None:
    assert_problem(requests.get(f"{sandbox.url}/api/Smses", timeout=TIMEOUT), 404)
    response = requests.get(f"{sandbox.url}/Smses", timeout=TIMEOUT)
    assert_problem(response, 405)
    assert response.headers["Allow"] == "POST"


# -- injected faults --------------------------------------------------------------------------

def test_the_rate_limit_answers_429_with_retry_after(sandbox: RunningSandbox) -> None:
    sandbox.backend.configure_faults(rate_limit=0.01)
    assert post(sandbox, BODY).status_code == 200
    response = post(sandbox, BODY)
    assert_problem(response, 429)
    assert int(response.headers["Retry-After"]) >= 1
    assert len(sandbox.backend.accepted_messages()) == 2


def test_a_503_fault_accepts_nothing(sandbox: RunningSandbox) -> None:
    sandbox.backend.configure_faults(fail_rate=1.0)
    assert_problem(post(sandbox, BODY), 503)
    assert_problem(get_reports(sandbox), 503)
    assert sandbox.backend.accepted_messages() == []


def test_a_hung_request_times_out_the_client_then_is_processed(sandbox: RunningSandbox) -> None:
    sandbox.backend.configure_faults(hang_rate=1.0, hang_seconds=1.0)
    body = {**BODY, "TransactionId": "hung"}
    with pytest.raises(requests.ReadTimeout):
        post(sandbox, body, timeout=0.2)
    assert sandbox.backend.accepted_messages() == []  # still held
    assert sandbox.backend.wait_idle(timeout=TIMEOUT)
    late = [m["message_id"] for m in sandbox.backend.accepted_messages()]
    assert len(late) == 2
    sandbox.backend.configure_faults(hang_rate=0.0)
    assert post(sandbox, body).json()["MessageIds"] == late


def test_a_hang_after_accept_keeps_the_send_and_a_retry_gets_its_ids(sandbox: RunningSandbox) -> None:
    sandbox.backend.configure_faults(hang_after_accept_rate=1.0, hang_seconds=1.0)
    body = {**BODY, "TransactionId": "accepted-then-hung"}
    with pytest.raises(requests.ReadTimeout):
        post(sandbox, body, timeout=0.3)
    accepted = [m["message_id"] for m in sandbox.backend.accepted_messages()]
    assert len(accepted) == 2
    sandbox.backend.configure_faults(hang_after_accept_rate=0.0)
    assert post(sandbox, body).json()["MessageIds"] == accepted
    assert sandbox.backend.wait_idle(timeout=TIMEOUT)
    assert len(sandbox.backend.accepted_messages()) == 2


# -- the server's life ------------------------------------------------------------------------

def test_an_error_inside_the_server_is_a_500_and_surfaces_on_stop() -> None:
    running = serve_in_thread(seed=1)
    running.backend.close()  # every request now fails inside the backend
    try:
        assert_problem(post(running, BODY), 500)
    finally:
        with pytest.raises(SandboxServerError, match="ProgrammingError"):
            running.stop()


def test_a_taken_port_fails_the_start(sandbox: RunningSandbox) -> None:
    with pytest.raises(SandboxServerError, match="did not start"):
        serve_in_thread(port=int(sandbox.url.rsplit(":", 1)[1]))


def test_stop_cuts_a_request_held_by_a_fault() -> None:
    with serve_in_thread(hang_rate=1.0, hang_seconds=60) as running:
        with pytest.raises(requests.ReadTimeout):
            post(running, BODY, timeout=0.2)
    with pytest.raises(requests.ConnectionError):
        post(running, BODY)


def test_serve_in_thread_takes_a_backend_or_config_not_both() -> None:
    with pytest.raises(TypeError, match="either"):
        serve_in_thread(SandboxBackend(), seed=1)


def test_the_running_sandbox_hides_its_password() -> None:
    with serve_in_thread(password="p4ss-word") as running:
        assert running.url in repr(running)
        assert "p4ss-word" not in repr(running)


# -- the ASGI app in-process --------------------------------------------------------------------

async def asgi(app: Any, method: str, path: str, *, query: str = "", body: Any = None,
               auth: bool = True) -> tuple[int, dict[str, str], Any]:
    """One request through the ASGI app without a server: (status, headers, decoded JSON)."""
    headers = [(b"content-type", b"application/json")]
    if auth:
        headers.append((b"authorization", b"Basic c2FuZGJveDpzYW5kYm94"))  # sandbox:sandbox
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query.encode(),
             "root_path": "", "headers": headers, "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80)}
    pending = [{"type": "http.request", "body": json.dumps(body).encode() if body is not None else b"",
                "more_body": False}]

    async def receive() -> dict[str, Any]:
        if pending:
            return pending.pop()
        await asyncio.Event().wait()  # the client stays connected until the answer is sent
        raise AssertionError("unreachable")

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    response_headers = {key.decode(): value.decode() for key, value in sent[0]["headers"]}
    return sent[0]["status"], response_headers, json.loads(b"".join(m.get("body", b"") for m in sent[1:]))


@pytest.fixture
def app_backend() -> Iterator[SandboxBackend]:
    with SandboxBackend(SandboxConfig(seed=3, time_scale=0)) as backend:
        yield backend


def test_asgi_send_and_reports(app_backend: SandboxBackend) -> None:
    app = create_app(app_backend)
    status, headers, answer = asyncio.run(asgi(app, "POST", "/Smses", body=BODY))
    assert (status, headers["content-type"]) == (200, "application/json")
    query = "&".join(f"MessageIds={message_id}" for message_id in answer["MessageIds"])
    status, _, found = asyncio.run(asgi(app, "GET", "/DeliveryReports", query=query))
    assert [r["MessageId"] for r in found["DeliveryReports"]] == answer["MessageIds"]


def test_asgi_problems(app_backend: SandboxBackend) -> None:
    app = create_app(app_backend)
    status, headers, problem = asyncio.run(asgi(app, "POST", "/Smses", body={"Phone": []}))
    assert (status, headers["content-type"]) == (400, "application/problem+json")
    assert set(problem["errors"]) == {"Phone", "Message"}
    status, _, _ = asyncio.run(asgi(app, "GET", "/DeliveryReports", auth=False))
    assert status == 401


def test_asgi_a_held_request_does_not_hold_the_others(app_backend: SandboxBackend) -> None:
    app_backend.configure_faults(hang_rate=1.0, hang_seconds=0.3, endpoints=("smses",))
    app = create_app(app_backend)
    finished: list[str] = []

    async def timed(name: str, method: str, path: str, body: Any = None) -> None:
        await asgi(app, method, path, body=body)
        finished.append(name)

    async def both() -> None:
        await asyncio.gather(timed("held send", "POST", "/Smses", BODY), timed("reports", "GET", "/DeliveryReports"))

    asyncio.run(both())
    assert finished == ["reports", "held send"]


def test_asgi_an_unexpected_error_is_reported_to_on_error(app_backend: SandboxBackend) -> None:
    seen: list[BaseException] = []
    app = create_app(app_backend, on_error=seen.append)
    app_backend.close()
    with pytest.raises(sqlite3.ProgrammingError) as raised:  # re-raised after the 500, for the server's log
        asyncio.run(asgi(app, "POST", "/Smses", body=BODY))
    assert seen == [raised.value]


# -- the command line -------------------------------------------------------------------------

def test_the_cli_defaults_to_serve_and_maps_options_to_the_config() -> None:
    args = build_parser().parse_args(["--port", "0", "--seed", "5", "--shares", "1,0,0,0", "--rate-limit", "3",
                                      "--fault-endpoints", "smses,reports", "--db", "x.db"])
    assert (args.command, args.port) == (None, 0)
    config = config_from_args(args)
    assert (config.seed, config.shares, config.rate_limit, config.fault_endpoints, config.db_path) == (
        "5", (1.0, 0.0, 0.0, 0.0), 3.0, ("smses", "reports"), "x.db")


def test_the_cli_serve_subcommand_keeps_options_given_before_it() -> None:
    args = build_parser().parse_args(["--port", "9000", "serve", "--time-scale", "0.5"])
    assert (args.command, args.port, args.time_scale, args.host) == ("serve", 9000, 0.5, "127.0.0.1")


@pytest.mark.parametrize("argv", [["--shares", "a,b"], ["--fail-rate", "2"], ["--shares", "1,0"]])
def test_the_cli_refuses_impossible_options(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    from smslib.sandbox.__main__ import main
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert "error:" in capsys.readouterr().err


@contextmanager
def cli_sandbox(*args: str) -> Iterator[str]:
    """``python -m smslib.sandbox ARGS`` in a child process on a free port; yields its URL, stops it with Ctrl-C."""
    with SandboxProcess(*args) as process:
        yield process.url


def test_the_cli_serves_the_contract() -> None:
    with cli_sandbox("--seed", "1") as url:
        response = requests.post(f"{url}/Smses", json={"Phone": ["48600100200"], "Message": "hi"},
                                 auth=("sandbox", "sandbox"), timeout=TIMEOUT)
    assert response.status_code == 200
    assert len(response.json()["MessageIds"]) == 1


def test_two_cli_processes_sharing_a_database_accept_a_send_once(tmp_path: Path) -> None:
    db, log = tmp_path / "shared.db", tmp_path / "accepted.jsonl"
    body = {"Phone": [f"486004{i:05d}" for i in range(50)], "Message": "Hi", "TransactionId": "shared"}
    with cli_sandbox("--db", str(db), "--log", str(log)) as first, \
            cli_sandbox("--db", str(db), "--log", str(log)) as second:
        start = threading.Barrier(8)

        def race(url: str) -> list[str]:
            start.wait()
            response = requests.post(f"{url}/Smses", json=body, auth=("sandbox", "sandbox"), timeout=TIMEOUT)
            return response.json()["MessageIds"]

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(race, [first, second] * 4))
    assert all(answer == answers[0] for answer in answers)
    logged = [json.loads(line)["message_id"] for line in log.read_text().splitlines()]
    assert logged == answers[0]


def test_a_sandbox_process_that_cannot_start_says_so_at_once() -> None:
    process = SandboxProcess("--fail-rate", "2")  # the command line refuses it and exits
    with pytest.raises(SandboxServerError, match="did not start"):
        process.start()
    process.stop()  # nothing left to stop: no error either


def test_a_sandbox_process_started_twice_is_one_process_that_ends_with_the_block() -> None:
    with SandboxProcess("--seed", "1") as process:
        url = process.url
        assert process.start().url == url
        assert requests.get(f"{url}/health", timeout=TIMEOUT).status_code == 200
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/health", timeout=TIMEOUT)
