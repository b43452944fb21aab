"""The sender rule of the contract (§10): what the gateway takes as a sender.

One place for the compose page, bulk jobs and the CLI. (The sandbox keeps its own copy on
purpose: it plays the gateway and must not share the client's idea of what is valid.)
"""

from __future__ import annotations

import re

from smslib.core.errors import ValidationError

_ALPHA_SENDER = re.compile(r"(?=.*[A-Za-z])[A-Za-z0-9 .\-]{1,11}")
_NUMERIC_SENDER = re.compile(r"\+?[0-9]{1,16}")


def is_valid_sender(value: str) -> bool:
    """True for 1–11 characters of ``[A-Za-z0-9 .-]`` with a letter, or up to 16 digits with an optional ``+``."""
    return bool(_ALPHA_SENDER.fullmatch(value) or _NUMERIC_SENDER.fullmatch(value))


def validate_sender(sender: str) -> str:
    """The sender as the gateway takes it (contract §10), or ValidationError saying why.

    1–11 characters of letters, digits, space, ``.`` and ``-`` with at least one letter
    ("ACME", "Shop 24"), or a number of up to 16 digits with an optional leading ``+``.
    """
    value = sender.strip()
    if not value:
        raise ValidationError("Sender: it is empty; choose or type one.", field="Sender")
    if is_valid_sender(value):
        return value
    if any(ch.isalpha() for ch in value):
        if len(value) > 11:
            reason = f"a name has at most 11 characters, this one has {len(value)}"
        else:
            bad = "".join(dict.fromkeys(ch for ch in value if not re.fullmatch(r"[A-Za-z0-9 .\-]", ch)))
            reason = f"a name may use only letters A–Z, digits, space, '.' and '-', not {bad!r}"
    else:
        digits = value.removeprefix("+")
        if digits.isdigit() and digits.isascii():
            reason = f"a number has at most 16 digits, this one has {len(digits)}"
        else:
            reason = "a number is up to 16 digits with an optional leading '+'; a name needs a letter"
    raise ValidationError(f"Sender {value!r} is not valid: {reason}.", field="Sender")
