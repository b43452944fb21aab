"""The sandbox's checks of request bodies and parameters (gateway-api.md §1, §4, §10).

The length limit follows the contract's wording (1,530 GSM-7 septets or 670 UCS-2
units), not ``smslib.rules.text``'s segment packing: the sandbox plays the gateway, so it must
not share the client's idea of what fits. The alphabet itself is a standard (3GPP TS
23.038) and comes from ``smslib.rules.text``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from . import errors as msg
from .errors import FieldErrors

from smslib.rules.text import GSM7_BASIC as _BASIC
from smslib.rules.text import GSM7_EXTENSION as _EXTENSION

GSM7_BASIC = frozenset(_BASIC)
# Extension characters take an escape septet plus their own.
GSM7_EXTENSION = frozenset(_EXTENSION)
GSM7_SEGMENT = 153   # septets per part of a concatenated SMS
UCS2_SEGMENT = 67    # UTF-16 units per part of a concatenated SMS

_PHONE = re.compile(r"\+?[0-9]{7,15}")
_ALPHA_SENDER = re.compile(r"(?=.*[A-Za-z])[A-Za-z0-9 .\-]{1,11}")
_NUMERIC_SENDER = re.compile(r"\+?[0-9]{1,16}")
PRIORITIES = ("0", "1", "2", "3")
MAX_TRANSACTION_ID = 200


@dataclass(frozen=True)
class SendRequest:
    """A send that passed every check, with the optional fields as given or None."""

    phones: tuple[str, ...]
    message: str
    sender: str | None = None
    priority: str | None = None
    flash: bool | None = None
    cost_center: str | None = None
    transaction_id: str | None = None


def gsm7_septets(text: str) -> int | None:
    """Septets ``text`` takes in GSM-7, or None when it needs UCS-2."""
    septets = 0
    for char in text:
        if char in GSM7_BASIC:
            septets += 1
        elif char in GSM7_EXTENSION:
            septets += 2
        else:
            return None
    return septets


def ucs2_units(text: str) -> int:
    """UTF-16 code units of ``text`` (a character outside the BMP takes two)."""
    return len(text.encode("utf-16-le")) // 2


def require_object(body: Any) -> dict[str, Any]:
    """The body as a dict, or a 400 naming ``body``."""
    if not isinstance(body, dict):
        raise msg.validation_failed({"body": [msg.BODY_NOT_OBJECT]})
    return body


def validate_send(body: dict[str, Any], *, max_phones: int, max_segments: int,
                  cost_centers: Sequence[str], extended: bool) -> SendRequest:
    """Check a send body; ``extended`` adds the /Smses-only fields. Raises one 400 listing every problem."""
    problems = FieldErrors()
    phones = _phones(body, problems, max_phones)
    message = _message(body, problems, max_segments)
    sender = _optional_text(body, "Sender", problems)
    if sender is not None and not (_ALPHA_SENDER.fullmatch(sender) or _NUMERIC_SENDER.fullmatch(sender)):
        problems.add("Sender", msg.SENDER_INVALID.format(value=sender))
    request = SendRequest(phones=phones, message=message, sender=sender)
    if extended:
        request = _extended(body, problems, request, cost_centers)
    problems.raise_if_any()
    return request


def _extended(body: dict[str, Any], problems: FieldErrors, request: SendRequest,
              cost_centers: Sequence[str]) -> SendRequest:
    priority = _optional_text(body, "Priority", problems, raw=True)
    if priority is not None and priority not in PRIORITIES:
        problems.add("Priority", msg.PRIORITY_INVALID.format(value=priority))
    flash = _optional_text(body, "FlashSms", problems, raw=True)
    if flash is not None and flash not in ("true", "false"):
        problems.add("FlashSms", msg.FLASH_INVALID.format(value=flash))
    cost_center = _optional_text(body, "CostCenter", problems)
    if cost_center is not None and cost_center not in cost_centers:
        known = ", ".join(cost_centers) or "(none are defined)"
        problems.add("CostCenter", msg.COST_CENTER_INVALID.format(value=cost_center, known=known))
    transaction_id = _optional_text(body, "TransactionId", problems)
    if transaction_id is not None and not 1 <= len(transaction_id) <= MAX_TRANSACTION_ID:
        problems.add("TransactionId", msg.TRANSACTION_ID_INVALID.format(
            limit=MAX_TRANSACTION_ID, length=len(transaction_id)))
    return SendRequest(
        phones=request.phones, message=request.message, sender=request.sender,
        priority=priority if isinstance(priority, str) else None,
        flash=None if flash is None else flash == "true",
        cost_center=cost_center, transaction_id=transaction_id,
    )


def _phones(body: dict[str, Any], problems: FieldErrors, max_phones: int) -> tuple[str, ...]:
    if "Phone" not in body:
        problems.add("Phone", msg.PHONE_MISSING)
        return ()
    phones = body["Phone"]
    if not isinstance(phones, list):
        problems.add("Phone", msg.PHONE_NOT_ARRAY.format(kind=msg.kind_of(phones)))
        return ()
    if not phones:
        problems.add("Phone", msg.PHONE_EMPTY)
    elif len(phones) > max_phones:
        problems.add("Phone", msg.PHONE_TOO_MANY.format(count=len(phones), limit=max_phones))
        return ()
    for index, phone in enumerate(phones):
        if not isinstance(phone, str):
            problems.add("Phone", msg.PHONE_NOT_STRING.format(index=index, kind=msg.kind_of(phone)))
        elif not _PHONE.fullmatch(phone):
            problems.add("Phone", msg.PHONE_INVALID.format(index=index, value=phone[:40]))
    return tuple(phones)


def _message(body: dict[str, Any], problems: FieldErrors, max_segments: int) -> str:
    if "Message" not in body:
        problems.add("Message", msg.MESSAGE_MISSING)
        return ""
    message = body["Message"]
    if not isinstance(message, str):
        problems.add("Message", msg.MESSAGE_NOT_STRING.format(kind=msg.kind_of(message)))
        return ""
    if not message:
        problems.add("Message", msg.MESSAGE_EMPTY)
    septets = gsm7_septets(message)
    if septets is not None and septets > GSM7_SEGMENT * max_segments:
        problems.add("Message", msg.MESSAGE_TOO_LONG_GSM.format(
            count=septets, limit=GSM7_SEGMENT * max_segments, segments=max_segments))
    elif septets is None and ucs2_units(message) > UCS2_SEGMENT * max_segments:
        first = next(char for char in message if char not in GSM7_BASIC and char not in GSM7_EXTENSION)
        problems.add("Message", msg.MESSAGE_TOO_LONG_UCS2.format(
            char=first, count=ucs2_units(message), limit=UCS2_SEGMENT * max_segments, segments=max_segments))
    return message


def _optional_text(body: dict[str, Any], field: str, problems: FieldErrors, *, raw: bool = False) -> str | None:
    """A field that may be left out; ``raw`` leaves the type check to the field's own message."""
    if field not in body:
        return None
    value = body[field]
    if value is None:
        problems.add(field, msg.OPTIONAL_NULL.format(field=field))
        return None
    if not isinstance(value, str):
        if raw:
            return value
        problems.add(field, msg.NOT_STRING.format(field=field, kind=msg.kind_of(value)))
        return None
    return value


def parse_message_ids(values: Sequence[str] | None, *, limit: int) -> list[str] | None:
    """MessageIds as repeated values and/or comma-separated; duplicates dropped, order kept."""
    if values is None:
        return None
    ids = [part.strip() for value in values for part in value.split(",") if part.strip()]
    if not ids:
        raise msg.validation_failed({"MessageIds": [msg.MESSAGE_IDS_EMPTY]})
    if len(ids) > limit:
        raise msg.validation_failed({"MessageIds": [msg.MESSAGE_IDS_TOO_MANY.format(count=len(ids), limit=limit)]})
    return list(dict.fromkeys(ids))


def parse_bool_param(name: str, value: str | None) -> bool | None:
    """A query flag: true/false in any case, None when absent."""
    if value is None:
        return None
    lowered = value.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    raise msg.validation_failed({name: [msg.FLAG_INVALID.format(name=name, value=value)]})

