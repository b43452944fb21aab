"""The thin client for the gateway's HTTP API: one method per endpoint, typed results.

This is the only module that talks HTTP and the only one that catches
``requests.exceptions``; everything leaves it as an ``SmsError``. It keeps no state
beyond its ``requests.Session``s (one per concurrent call) and knows nothing of the
store or of pandas.

Retries never duplicate a send: ``POST /Smses`` carries a TransactionId fixed before
the first attempt (the gateway's idempotency key, contract §3), and a request that may
already have reached the gateway is retried only when the gateway de-duplicates.
"""

from __future__ import annotations

import functools
import json
import os
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

import requests

from smslib.core.errors import (
    AuthenticationError,
    BadResponseError,
    ConfigError,
    ConflictError,
    GatewayError,
    RateLimitError,
    SmsError,
    TransportError,
    ValidationError,
)
from smslib.core.models import Channel, DeliveryReport, DeliveryStatus, ReportBatch, SendResult

MAX_IDS_PER_REPORT_CALL = 1000  # contract §4
USER_AGENT = "sms-dashboard-smslib/1"

_ID_SEPARATORS = re.compile(r"[,;]")
_URL_SAFE = re.compile(r"[A-Za-z0-9._~-]*")  # unreserved characters (RFC 3986): no quoting needed
_STATUSES = {int(status): status for status in DeliveryStatus}  # the documented ones, without the enum's call
_MS_JSON_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")


class SmsClient:
    """A client for one gateway account. Thread-safe for concurrent calls of its methods."""

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        *,
        simpleapi_email: str = "",
        simpleapi_password: str = "",
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        retry_attempts: int = 4,
        retry_backoff: float = 0.5,
        retry_max_wait: float = 60.0,
        gateway_deduplicates: bool = True,
        gateway_timezone: str = "Europe/Warsaw",
        sleep: Callable[[float], None] = time.sleep,
        session_factory: Callable[[], requests.Session] = requests.Session,
    ) -> None:
        if not base_url:
            raise ConfigError("No gateway URL was given (SMS_API_URL).", field="SMS_API_URL")
        if urlsplit(base_url).scheme not in ("http", "https"):
            raise ConfigError("The gateway URL must start with http:// or https://.", field="SMS_API_URL")
        if urlsplit(base_url).username or urlsplit(base_url).password:
            # requests' own exceptions quote the URL; credentials there would leak into errors.
            raise ConfigError(
                "Put the gateway's credentials in SMS_API_USERNAME / SMS_API_PASSWORD, not in SMS_API_URL.",
                field="SMS_API_URL",
            )
        self.base_url = base_url.rstrip("/")
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.retry_attempts = max(1, retry_attempts)
        self.retry_backoff = retry_backoff
        self.retry_max_wait = retry_max_wait
        self.gateway_deduplicates = gateway_deduplicates
        self.gateway_timezone = ZoneInfo(gateway_timezone)
        self._sleep = sleep
        self._username = username
        self._simpleapi_email = simpleapi_email
        # Secrets are kept only where they are used, so they never reach a repr or an error.
        self._secrets = tuple(s for s in (password, simpleapi_password) if s)
        self._simpleapi_password = simpleapi_password
        self._new_session = functools.partial(
            _configured_session, session_factory, (username, password) if username or password else None,
            **_environment_settings(self.base_url))
        self._sessions: list[requests.Session] = []       # every one made, to close
        self._idle_sessions: list[requests.Session] = []  # those no call is using now
        self._sessions_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> SmsClient:
        """Build a client from ``Settings``; a configured URL without credentials fails here."""
        if settings.api_url and not (settings.api_username and settings.api_password):
            raise ConfigError(
                "SMS_API_URL is set but SMS_API_USERNAME or SMS_API_PASSWORD is empty: "
                "set both in .env (see .env.example).",
                field="SMS_API_USERNAME",
            )
        options: dict[str, Any] = dict(
            simpleapi_email=settings.simpleapi_email,
            simpleapi_password=settings.simpleapi_password,
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            retry_attempts=settings.retry_attempts,
            retry_backoff=settings.retry_backoff,
            retry_max_wait=settings.retry_max_wait,
            gateway_deduplicates=settings.gateway_deduplicates,
            gateway_timezone=settings.gateway_timezone,
        )
        options.update(overrides)
        return cls(settings.api_url, settings.api_username, settings.api_password, **options)

    # -- lifecycle -------------------------------------------------------------------

    def close(self) -> None:
        with self._sessions_lock:
            for session in self._sessions:
                session.close()

    def __enter__(self) -> SmsClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SmsClient({self.base_url!r}, username={self._username!r}, password='***')"

    @property
    def simpleapi_configured(self) -> bool:
        return bool(self._simpleapi_email and self._simpleapi_password)

    # -- endpoints -------------------------------------------------------------------

    def send(
        self,
        phones: Sequence[str],
        message: str,
        *,
        sender: str | None = None,
        transaction_id: str | None = None,
        priority: int | None = None,
        flash: bool | None = None,
        cost_center: str | None = None,
    ) -> SendResult:
        """Send ``message`` to ``phones`` through ``POST /Smses``.

        The TransactionId is generated when not given and is the same on every retry,
        so a retry can never send twice on a de-duplicating gateway.
        """
        phones = _check_phones(phones)
        _check_message(message)
        transaction_id = transaction_id if transaction_id is not None else new_transaction_id()
        if not isinstance(transaction_id, str) or not transaction_id.strip():
            raise ValidationError("The TransactionId must be a non-empty text.", field="TransactionId")
        body: dict[str, Any] = {"Phone": phones, "Message": message, "TransactionId": transaction_id}
        if sender:
            body["Sender"] = _check_text(sender, "Sender")
        if priority is not None:
            if isinstance(priority, bool) or priority not in (0, 1, 2, 3):
                raise ValidationError(
                    f"The priority must be 0, 1, 2 or 3, not {priority!r}.", field="Priority"
                )
            body["Priority"] = str(int(priority))
        if flash is not None:
            body["FlashSms"] = "true" if flash else "false"
        if cost_center:
            body["CostCenter"] = _check_text(cost_center, "CostCenter")
        data = self._request(
            "POST", "/Smses", json_body=body, ambiguous_retry_safe=self.gateway_deduplicates
        )
        return self._send_result(data, "MessageIds", phones, transaction_id, Channel.SMSES)

    def simple_send(self, phones: Sequence[str], message: str, *, sender: str | None = None) -> SendResult:
        """Send through ``POST /SimpleApi`` (credentials in the body, no TransactionId).

        Without an idempotency key, a request that may have reached the gateway is never
        retried: the caller gets a ``TransportError`` or ``GatewayError`` to resolve.
        """
        if not self.simpleapi_configured:
            raise ConfigError(
                "The SimpleApi channel needs SMS_SIMPLEAPI_EMAIL and SMS_SIMPLEAPI_PASSWORD.",
                field="SMS_SIMPLEAPI_EMAIL",
            )
        phones = _check_phones(phones)
        _check_message(message)
        body: dict[str, Any] = {
            "UserEmail": self._simpleapi_email,
            "Password": self._simpleapi_password,
            "Phone": phones,
            "Message": message,
        }
        if sender:
            body["Sender"] = _check_text(sender, "Sender")
        data = self._request("POST", "/SimpleApi", json_body=body, auth=False, ambiguous_retry_safe=False)
        return self._send_result(data, "MessageId", phones, None, Channel.SIMPLEAPI)

    def _send_result(self, data: dict[str, Any], ids_field: str, phones: list[str],
                     transaction_id: str | None, channel: Channel) -> SendResult:
        """One parser for both send answers: ids aligned with ``phones`` (§2, §8), the gateway's time."""
        return SendResult(
            phones=tuple(phones),
            message_ids=_parse_message_ids(_field(data, ids_field), len(phones)),
            current_time=self._time_or_none(data.get("CurrentTime")),
            transaction_id=transaction_id,
            channel=channel,
            raw=data,
        )

    def delivery_reports(
        self, message_ids: Sequence[str] | None = None, mark_as_read: bool | None = None, *,
        known: Mapping[str, DeliveryReport] | None = None,
    ) -> ReportBatch:
        """Read delivery reports (contract §5); more than 1,000 ids are asked in several calls.

        ``known``: reports the caller holds already, by ReportId. An answered report with one
        of those ids comes back as the known one, not parsed again (the answer to an
        acknowledgement repeats the reports just read).
        """
        if message_ids is not None:
            message_ids = [str(i) for i in message_ids if str(i).strip()]
            if not message_ids:
                return ReportBatch(current_time=None, reports=())
        chunks: list[list[str] | None] = (
            [None]
            if message_ids is None
            else [message_ids[i : i + MAX_IDS_PER_REPORT_CALL] for i in range(0, len(message_ids), MAX_IDS_PER_REPORT_CALL)]
        )
        reports: list[DeliveryReport] = []
        current_time = None
        raws = []
        parse = _ReportParser(self._time_or_none, known or {})
        for chunk in chunks:
            params: list[tuple[str, str]] = [("MessageIds", i) for i in chunk or ()]
            if mark_as_read is not None:
                params.append(("MarkAsRead", "true" if mark_as_read else "false"))
            data = self._request("GET", "/DeliveryReports", params=params, ambiguous_retry_safe=True)
            current_time = self._time_or_none(data.get("CurrentTime"))
            items = _field(data, "DeliveryReports")
            if items is None:
                items = []
            if not isinstance(items, list):
                raise BadResponseError("The gateway's DeliveryReports is not a list.", json_body=data)
            reports.extend(map(parse, items))
            raws.append(data)
        return ReportBatch(current_time=current_time, reports=tuple(reports), raw=raws)

    def check(self) -> None:
        """Prove the gateway answers and takes the credentials, reading and marking nothing.

        Asks for the reports of one id that cannot exist, with ``MarkAsRead=false``.
        """
        self.delivery_reports(message_ids=["healthcheck-0"], mark_as_read=False)

    # -- parsing ---------------------------------------------------------------------

    def parse_time(self, value: object) -> datetime | None:
        """A gateway time as an aware UTC datetime (contract §6); None when absent."""
        return parse_gateway_time(value, self.gateway_timezone)

    def _time_or_none(self, value: object) -> datetime | None:
        # A time in a form nobody foresaw must not cost what the answer carries (message ids
        # of a send that went out, a report's status): the time alone is lost (None), and
        # the raw answer still holds it. Strict parsing stays in ``parse_time``.
        try:
            return self.parse_time(value)
        except BadResponseError:
            return None

    # -- the one place that talks HTTP -------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Iterable[tuple[str, str]] | None = None,
        auth: bool = True,
        ambiguous_retry_safe: bool,
    ) -> dict[str, Any]:
        """Send one logical request with bounded, duplicate-safe retries; return its JSON object.

        Retried: 429 (never processed), connection failures before the request was sent,
        and — only when ``ambiguous_retry_safe`` — 5xx answers and read timeouts.
        """
        url = self.base_url + path
        waited = 0.0
        for attempt in range(1, self.retry_attempts + 1):
            try:
                return self._attempt(method, url, path, json_body, params, auth)
            except RateLimitError as e:
                error: SmsError = e
                retryable = True
                hint = e.retry_after
            except (GatewayError, TransportError) as e:
                error = e
                definite = isinstance(e, TransportError) and not e.may_have_reached_gateway
                retryable = definite or ambiguous_retry_safe
                hint = None
            if not retryable or attempt == self.retry_attempts:
                raise error
            delay = self._backoff(attempt, hint)
            if waited + delay > self.retry_max_wait:
                raise error
            self._sleep(delay)
            waited += delay
        raise AssertionError("unreachable")  # pragma: no cover

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        delay = self.retry_backoff * (2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
        if retry_after is not None:
            delay = max(delay, retry_after)
        return delay

    def _attempt(
        self, method: str, url: str, path: str, json_body: Any, params: Any, auth: bool
    ) -> dict[str, Any]:
        where = f"{self.base_url}{path}"
        try:
            with self._session() as session:
                response = session.request(
                    method,
                    url,
                    json=json_body,
                    params=_query_string(params) if params else None,
                    auth=None if auth else _NO_AUTH,
                    timeout=(self.connect_timeout, self.read_timeout),
                )
        except requests.exceptions.ConnectTimeout as e:
            raise TransportError(
                f"Could not connect to the gateway at {where} within {self.connect_timeout:g} s; "
                "nothing was sent.", may_have_reached_gateway=False) from e
        except requests.exceptions.ReadTimeout as e:
            raise TransportError(
                f"The gateway at {where} did not answer within {self.read_timeout:g} s; "
                "the request may have reached it.", may_have_reached_gateway=True) from e
        except requests.exceptions.ConnectionError as e:
            reached = _connection_may_have_reached(e)
            raise TransportError(
                f"Could not reach the gateway at {where} ({_connection_reason(e)})"
                + ("; the request may have reached it." if reached else "; nothing was sent."),
                may_have_reached_gateway=reached,
            ) from e
        except requests.exceptions.RequestException as e:
            raise TransportError(
                f"The request to the gateway at {where} failed ({type(e).__name__}).",
                may_have_reached_gateway=True,
            ) from e
        return self._decode(response, path)

    @contextmanager
    def _session(self) -> Iterator[requests.Session]:
        """A session of this client's for one request: concurrent requests each get their own
        (requests does not promise a session is thread-safe); an idle one is reused, keeping
        its connection alive."""
        with self._sessions_lock:
            if self._idle_sessions:
                session = self._idle_sessions.pop()
            else:
                session = self._new_session()
                self._sessions.append(session)
        try:
            yield session
        finally:
            with self._sessions_lock:
                self._idle_sessions.append(session)

    def _decode(self, response: requests.Response, path: str) -> dict[str, Any]:
        text = self._scrub(response.text)
        data: Any = None
        try:
            data = json.loads(text) if text.strip() else None
        except ValueError:
            data = None
        if response.status_code >= 400:
            raise _error_for_status(response.status_code, data, text, response.headers, path)
        if not isinstance(data, dict):
            kind = "HTML" if text.lstrip()[:1] == "<" else ("nothing" if not text.strip() else "something")
            raise BadResponseError(
                f"The gateway answered {path} with {kind} instead of the documented JSON "
                f"(HTTP {response.status_code}); is SMS_API_URL the API's base URL?",
                http_status=response.status_code, body=text[:2000],
            )
        return data

    def _scrub(self, text: str) -> str:
        # A gateway may echo the request (with the SimpleApi password) in an error body.
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


class _ReportParser:
    """Turns the report objects of one answer into ``DeliveryReport``s.

    Each distinct time is parsed once (reports that arrive together often share their
    DeliveryTime, and a time costs more than the rest of a report), and a report the
    caller already holds (``known``, by ReportId) is given back as it is.
    """

    def __init__(self, time_or_none: Callable[[object], datetime | None],
                 known: Mapping[str, DeliveryReport]) -> None:
        self._time_or_none = time_or_none
        self._known = known
        self._times: dict[str, datetime | None] = {}

    def __call__(self, item: object) -> DeliveryReport:
        if not isinstance(item, dict) and not isinstance(item, Mapping):  # a dict first: the quick check
            raise BadResponseError("A delivery report from the gateway is not an object.", json_body=item)
        report_id = item.get("ReportId")
        if self._known and type(report_id) in (str, int):
            known = self._known.get(str(report_id))
            if known is not None:
                return known
        message_id = item.get("MessageId")
        if message_id in (None, ""):
            raise BadResponseError("A delivery report from the gateway has no MessageId.", json_body=item)
        raw_status = item.get("Status")
        status = _STATUSES.get(raw_status) if type(raw_status) is int else None
        if status is None:
            try:
                status = DeliveryStatus(int(raw_status))  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise BadResponseError(
                    f"A delivery report has a Status that is not a number: {raw_status!r}.", json_body=item
                ) from None
        return DeliveryReport(
            report_id=str(report_id) if report_id not in (None, "") else f"{message_id}:{int(status)}",
            message_id=str(message_id),
            phone=str(item.get("Phone") or ""),
            status=status,
            delivery_time=self._time(item.get("DeliveryTime")),
            raw=dict(item),
        )

    def _time(self, value: object) -> datetime | None:
        if not isinstance(value, str):
            return self._time_or_none(value)
        try:
            return self._times[value]
        except KeyError:
            parsed = self._times[value] = self._time_or_none(value)
            return parsed


def _environment_settings(base_url: str) -> dict[str, Any]:
    """The proxies (HTTP(S)_PROXY, NO_PROXY) and CA bundle (REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE)
    the environment gives requests to ``base_url``, read once: left to requests (trust_env), they
    would be read again on every request, which costs more than a request to a nearby gateway."""
    verify: str | bool = True
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        if os.environ.get(name):
            verify = os.environ[name]
            if urlsplit(base_url).scheme == "https" and not os.path.exists(verify):
                raise ConfigError(f"{name} names {verify!r}, which does not exist: set it to the file (or folder) "
                                  "of the CA certificates the gateway's certificate is checked against.", field=name)
            break
    return {"proxies": requests.utils.get_environ_proxies(base_url), "verify": verify}


def _configured_session(factory: Callable[[], requests.Session], auth: tuple[str, str] | None, *,
                        proxies: dict[str, str], verify: str | bool) -> requests.Session:
    session = factory()
    session.auth = auth
    session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
    session.trust_env = False  # the environment was read once, into these:
    session.proxies.update(proxies)
    session.verify = verify
    return session


class _NoAuth(requests.auth.AuthBase):
    """Suppresses the session's Basic Auth for /SimpleApi, whose credentials are in the body."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers.pop("Authorization", None)
        return request


_NO_AUTH = _NoAuth()


def new_transaction_id() -> str:
    """A fresh TransactionId: random, 32 hex characters."""
    return uuid.uuid4().hex


def parse_gateway_time(value: object, gateway_timezone: ZoneInfo | str = "Europe/Warsaw") -> datetime | None:
    """Parse a gateway time (contract §6) into an aware UTC datetime.

    Accepts ISO-8601 with ``T`` or a space, any fraction of a second, ``Z``, an offset,
    or no offset (then the time is in ``gateway_timezone``; in the repeated hour of the
    autumn DST change the first occurrence is taken). Also the ``/Date(ms+hhmm)/`` form
    that .NET serialisers write. Empty → None; anything else → ``BadResponseError``.
    """
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise BadResponseError(f"The gateway sent a time that is not text: {value!r}.")
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text)  # the documented form first: the common case, in C
    except ValueError:
        match = _MS_JSON_DATE.match(text)
        if match:
            return datetime.fromtimestamp(int(match.group(1)) / 1000, tz=timezone.utc)
        raise BadResponseError(f"The gateway sent a time in an unknown format: {text[:40]!r}.") from None
    if parsed.tzinfo is None:
        zone = ZoneInfo(gateway_timezone) if isinstance(gateway_timezone, str) else gateway_timezone
        parsed = parsed.replace(tzinfo=zone, fold=0)
    return parsed.astimezone(timezone.utc)


# -- helpers local to this module ---------------------------------------------------------


def _check_phones(phones: Sequence[str]) -> list[str]:
    if isinstance(phones, str):
        phones = [phones]
    phones = list(phones or [])
    if not phones:
        raise ValidationError("Give at least one phone number.", field="Phone")
    for position, phone in enumerate(phones, start=1):
        if not isinstance(phone, str) or not phone.strip():
            raise ValidationError(
                f"Phone number {position} is empty or not text: {phone!r}.", field="Phone"
            )
    return phones


def _check_message(message: str) -> None:
    if not isinstance(message, str) or not message.strip():
        raise ValidationError("The message is empty.", field="Message")


def _check_text(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"{field} must be text, not {type(value).__name__}.", field=field)
    return value


def _query_string(params: Iterable[tuple[str, str]]) -> str:
    """``urlencode(params)``, quicker for the usual URL-safe values (an acknowledgement carries 1,000 ids)."""
    return "&".join(f"{_quoted(name)}={_quoted(value)}" for name, value in params)


def _quoted(text: str) -> str:
    return text if _URL_SAFE.fullmatch(text) else quote(text, safe="")


def _field(data: Mapping[str, Any], name: str) -> Any:
    """A response field by its documented name, tolerating a different letter case."""
    if name in data:
        return data[name]
    lowered = name.lower()
    for key, value in data.items():
        if isinstance(key, str) and key.lower() == lowered:
            return value
    raise BadResponseError(f"The gateway's answer has no {name} field.", json_body=dict(data))


def _parse_message_ids(value: Any, expected: int) -> tuple[str, ...]:
    """Message ids as a list (contract §2, §8): a JSON array, or one text split on , or ;."""
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        ids = [part.strip() for part in _ID_SEPARATORS.split(str(value))]
    elif isinstance(value, list) and all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in value):
        ids = [str(v).strip() for v in value]
    else:
        raise BadResponseError(
            f"The gateway's message ids are neither a list nor a text: {value!r:.80}; "
            "the message may have been sent."
        )
    ids = [i for i in ids if i]
    if len(ids) != expected:
        raise BadResponseError(
            f"The gateway answered {len(ids)} message id(s) for {expected} number(s); "
            "the message may have been sent, check before sending again."
        )
    return tuple(ids)


def _error_for_status(
    status: int, data: Any, text: str, headers: Mapping[str, str], path: str
) -> SmsError:
    """Map one HTTP error answer to its exception: the one place that knows the statuses."""
    problem = data if isinstance(data, dict) else {}
    field_errors = _field_errors(problem.get("errors"))
    detail = _problem_text(problem) or _plain_text(text)
    common = dict(http_status=status, field_errors=field_errors, body=text[:2000], json_body=data)
    if status == 401:
        which = "SMS_SIMPLEAPI_EMAIL and SMS_SIMPLEAPI_PASSWORD" if path == "/SimpleApi" else \
            "SMS_API_USERNAME and SMS_API_PASSWORD"
        return AuthenticationError(
            f"The gateway refused the credentials (401). Check {which}.", **common)
    if status == 400 or status == 422:
        if field_errors:
            sentence = "; ".join(f"{f}: {' '.join(msgs)}" for f, msgs in field_errors.items())
        else:
            sentence = detail or "no reason given"
        first = next(iter(field_errors), None)
        return ValidationError(f"The gateway refused the request: {sentence}", field=first, **common)
    if status == 409:
        return ConflictError(
            "The gateway refused a TransactionId already used for a different message (409)"
            + (f": {detail}" if detail else "."), field="TransactionId", **common)
    if status == 429:
        retry_after = _retry_after(headers.get("Retry-After"))
        wait = f" Try again in {retry_after:g} s." if retry_after is not None else ""
        return RateLimitError(
            f"The gateway's rate limit was exceeded (429).{wait}", retry_after=retry_after, **common)
    if status >= 500:
        return GatewayError(
            f"The gateway failed on its side ({status})" + (f": {detail}" if detail else "."), **common)
    return BadResponseError(
        f"The gateway answered HTTP {status}" + (f": {detail}" if detail else "."), **common)


def _field_errors(value: Any) -> dict[str, list[str]]:
    if not isinstance(value, dict):
        return {}
    out: dict[str, list[str]] = {}
    for key, messages in value.items():
        if isinstance(messages, str):
            messages = [messages]
        if isinstance(messages, list):
            out[str(key)] = [str(m) for m in messages]
    return out


def _problem_text(problem: Mapping[str, Any]) -> str:
    parts = [str(problem[k]) for k in ("title", "detail", "message", "Message") if problem.get(k)]
    return " ".join(dict.fromkeys(parts))[:300]


def _plain_text(text: str) -> str:
    if not text.strip() or text.lstrip().startswith("<"):
        return ""
    return " ".join(text.split())[:300]


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None  # an HTTP date: rare from APIs; the back-off applies instead
    return max(0.0, seconds)


def _connection_reason(error: requests.exceptions.ConnectionError) -> str:
    text = str(error).lower()
    if "name or service not known" in text or "nodename nor servname" in text or "getaddrinfo" in text \
            or "name resolution" in text:
        return "the host name could not be resolved"
    if "refused" in text:
        return "connection refused"
    if "reset" in text or "aborted" in text or "remotedisconnected" in text:
        return "the connection was closed mid-request"
    if "ssl" in text or "certificate" in text:
        return "TLS/certificate problem"
    return "connection failed"


def _connection_may_have_reached(error: requests.exceptions.ConnectionError) -> bool:
    # Refused / unresolved means the request never left; a reset mid-request may have been read.
    reason = _connection_reason(error)
    return reason in ("the connection was closed mid-request", "connection failed")
