"""One exception tree for everything smslib raises.

Every error carries a sentence a person understands as ``str(error)``. None of them
ever holds a password or an Authorization header: the client builds them from the
gateway's answer, never from the request it sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class SmsError(Exception):
    """Base of every error smslib raises."""

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        field: str | None = None,
        field_errors: Mapping[str, list[str]] | None = None,
        body: str | None = None,
        json_body: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status
        self.field = field
        self.field_errors: dict[str, list[str]] = {k: list(v) for k, v in (field_errors or {}).items()}
        self.body = body
        self.json_body = json_body

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        parts = [repr(self.message)]
        if self.http_status is not None:
            parts.append(f"http_status={self.http_status}")
        if self.field:
            parts.append(f"field={self.field!r}")
        return f"{type(self).__name__}({', '.join(parts)})"


class ConfigError(SmsError):
    """A setting is missing or has a value that cannot be used."""


class ValidationError(SmsError, ValueError):
    """The request is invalid: found locally before sending, or answered 400 by the gateway."""


class AuthenticationError(SmsError):
    """The gateway refused the credentials (401)."""


class ConflictError(SmsError):
    """The TransactionId was already used with a different request body (409)."""


class RateLimitError(SmsError):
    """The gateway's rate limit was exceeded (429); ``retry_after`` is in seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class GatewayError(SmsError):
    """The gateway failed on its side (5xx)."""


class TransportError(SmsError):
    """The request did not complete (connection, DNS, timeout).

    ``may_have_reached_gateway`` is True when the request may have been received and
    acted on (e.g. a read timeout after the body was sent): a send must then only be
    retried with the same TransactionId.
    """

    def __init__(self, message: str, *, may_have_reached_gateway: bool, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.may_have_reached_gateway = may_have_reached_gateway


class BadResponseError(SmsError):
    """The gateway answered something that is not the documented JSON."""


class InvalidPhoneNumber(SmsError, ValueError):
    """A phone number that cannot be used; ``reason`` says why in words."""

    def __init__(self, raw: object, reason: str) -> None:
        # ``raw`` may be anything a cell holds (pd.NA cannot even be compared), so test by type.
        shown = "" if raw is None or (isinstance(raw, str) and not raw.strip()) else f"{raw!s:.40}"
        super().__init__(f"{shown}: {reason}" if shown else reason, field="phone")
        self.raw = raw
        self.reason = reason


class TemplateError(SmsError, ValueError):
    """A message template that cannot be rendered (unknown placeholder, stray brace, ...)."""


class SpreadsheetError(SmsError, ValueError):
    """An uploaded file that cannot be read as a table."""
