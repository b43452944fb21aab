"""The sandbox gateway's errors and every text it answers with, in one place.

Each ``SandboxError`` knows its HTTP status and renders itself as an RFC 7807 problem
(the shape ASP.NET gateways use: ``type``, ``title``, ``status``, ``detail``, ``errors``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PROBLEM_MEDIA_TYPE = "application/problem+json"

_TYPES = {
    400: "https://tools.ietf.org/html/rfc9110#section-15.5.1",
    401: "https://tools.ietf.org/html/rfc9110#section-15.5.2",
    404: "https://tools.ietf.org/html/rfc9110#section-15.5.5",
    405: "https://tools.ietf.org/html/rfc9110#section-15.5.6",
    409: "https://tools.ietf.org/html/rfc9110#section-15.5.10",
    429: "https://tools.ietf.org/html/rfc6585#section-4",
    500: "https://tools.ietf.org/html/rfc9110#section-15.6.1",
    503: "https://tools.ietf.org/html/rfc9110#section-15.6.4",
}

# How many messages one field lists before summarising the rest: 1,000 bad numbers
# should not make a 1,000-line answer.
MAX_MESSAGES_PER_FIELD = 10


class SandboxError(Exception):
    """An answer other than 2xx: an HTTP status plus an RFC 7807 problem body."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        errors: Mapping[str, list[str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = {field: list(messages) for field, messages in (errors or {}).items()}
        self.headers = dict(headers or {})

    def problem(self) -> dict[str, Any]:
        """The RFC 7807 body of this error."""
        body: dict[str, Any] = {
            "type": _TYPES.get(self.status, "about:blank"),
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors:
            body["errors"] = self.errors
        return body

    def __repr__(self) -> str:
        return f"SandboxError({self.status}, {self.detail!r}, errors={self.errors!r})"


class FieldErrors:
    """Collects the problems of one request so that all of them are answered at once."""

    def __init__(self) -> None:
        self._errors: dict[str, list[str]] = {}
        self._overflow: dict[str, int] = {}

    def add(self, field: str, message: str) -> None:
        messages = self._errors.setdefault(field, [])
        if len(messages) < MAX_MESSAGES_PER_FIELD:
            messages.append(message)
        else:
            self._overflow[field] = self._overflow.get(field, 0) + 1

    def __bool__(self) -> bool:
        return bool(self._errors)

    def raise_if_any(self) -> None:
        """Raise one 400 listing every problem found, if there was any."""
        if not self._errors:
            return
        errors = {field: list(messages) for field, messages in self._errors.items()}
        for field, count in self._overflow.items():
            errors[field].append(f"... and {count} more problems in {field}.")
        raise validation_failed(errors)


# -- 400: the request itself -------------------------------------------------------------

VALIDATION_TITLE = "One or more validation errors occurred."


def validation_failed(errors: Mapping[str, list[str]]) -> SandboxError:
    """A 400 listing the problems per field."""
    fields = ", ".join(errors)
    return SandboxError(400, VALIDATION_TITLE, f"The request was not accepted; see the errors of: {fields}.",
                        errors=errors)


def invalid_json(problem: str) -> SandboxError:
    """A 400 for a body that does not decode as JSON."""
    return validation_failed({"body": [f"The body is not valid JSON ({problem}). Send a JSON object."]})


BODY_NOT_OBJECT = "The body must be a JSON object such as {\"Phone\": [\"48600100200\"], \"Message\": \"Hi\"}."
PHONE_MISSING = "Phone is required: a non-empty array of numbers, e.g. [\"48600100200\"]."
PHONE_NOT_ARRAY = "Phone must be an array of strings, e.g. [\"48600100200\"], not {kind}."
PHONE_EMPTY = "Phone must list at least one number."
PHONE_TOO_MANY = "Phone lists {count} numbers; at most {limit} are allowed in one request. Split the list."
PHONE_NOT_STRING = "Phone[{index}] must be a string of digits, not {kind}."
PHONE_INVALID = ("Phone[{index}] = {value!r} is not a phone number: use 7 to 15 digits with an optional "
                 "leading +, without spaces or dashes.")
MESSAGE_MISSING = "Message is required: the text to send."
MESSAGE_NOT_STRING = "Message must be a string, not {kind}."
MESSAGE_EMPTY = "Message must not be empty."
MESSAGE_TOO_LONG_GSM = ("Message counts {count} GSM-7 characters; at most {limit} ({segments} SMS segments) "
                        "are allowed. Shorten it.")
MESSAGE_TOO_LONG_UCS2 = ("Message uses characters outside GSM-7 (first: {char!r}), so it is sent as UCS-2 and "
                         "counts {count} characters; at most {limit} ({segments} SMS segments) are allowed. "
                         "Shorten it or replace those characters.")
OPTIONAL_NULL = "{field} must be left out when not set, not sent as null."
NOT_STRING = "{field} must be a string, not {kind}."
SENDER_INVALID = ("Sender {value!r} is not allowed: use 1 to 11 characters of letters, digits, space, dot or "
                  "dash with at least one letter, or a number of up to 16 digits with an optional leading +.")
PRIORITY_INVALID = "Priority must be one of the strings \"0\", \"1\", \"2\", \"3\" (\"0\" is the lowest), not {value!r}."
FLASH_INVALID = "FlashSms must be the string \"true\" or \"false\", not {value!r}."
COST_CENTER_INVALID = "CostCenter {value!r} is not defined; use one of: {known}."
TRANSACTION_ID_INVALID = "TransactionId must be 1 to {limit} characters, not {length}."
MESSAGE_IDS_EMPTY = "MessageIds must name at least one message id."
MESSAGE_IDS_TOO_MANY = "MessageIds names {count} ids; at most {limit} are allowed in one call. Split the list."
FLAG_INVALID = "{name} must be true or false, not {value!r}."


def kind_of(value: object) -> str:
    """The JSON name of a value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


# -- 401, 409: who asks and what was asked before ------------------------------------------

def unauthorized(endpoint: str) -> SandboxError:
    """A 401; Basic Auth endpoints also say how to authenticate."""
    if endpoint == "simpleapi":
        detail = "UserEmail and Password in the body do not match a SimpleApi account."
        headers = None
    else:
        detail = "Missing or wrong credentials: send HTTP Basic authentication with the API user and password."
        headers = {"WWW-Authenticate": 'Basic realm="sms-sandbox"'}
    return SandboxError(401, "Unauthorized", detail, headers=headers)


def transaction_conflict(transaction_id: str) -> SandboxError:
    """The 409 of a TransactionId reused with another body (§3)."""
    message = (f"TransactionId {transaction_id!r} was already used with a different request body. "
               "Resend the original body to get its MessageIds, or use a new TransactionId for a new send.")
    return SandboxError(409, "Conflict", message, errors={"TransactionId": [message]})


# -- 404/405 from routing, and the injected faults -------------------------------------------

def http_error(status: int, title: str, method: str, path: str) -> SandboxError:
    """A routing error (404, 405) as a problem."""
    if status == 404:
        detail = f"There is no {path}; the sandbox serves POST /Smses, GET /DeliveryReports and POST /SimpleApi."
    elif status == 405:
        detail = f"{path} does not take {method}."
    else:
        detail = f"{method} {path}: {title}."
    return SandboxError(status, title, detail)


def rate_limited(retry_after: int, rate: float) -> SandboxError:
    """A 429 with ``Retry-After`` in whole seconds."""
    detail = f"More than {rate:g} requests per second; retry after {retry_after} s."
    return SandboxError(429, "Too Many Requests", detail, headers={"Retry-After": str(retry_after)})


def injected_failure(fail_rate: float) -> SandboxError:
    """The 503 of the ``fail_rate`` fault."""
    detail = (f"The sandbox failed this request on purpose (fail_rate={fail_rate:g}); nothing was accepted. "
              "Retry with the same TransactionId.")
    return SandboxError(503, "Service Unavailable", detail)


def internal_error(error: BaseException) -> SandboxError:
    """A 500 for a bug in the sandbox itself."""
    return SandboxError(500, "Internal Server Error",
                        f"The sandbox itself failed: {type(error).__name__}: {error}. This is a bug in the sandbox.")
