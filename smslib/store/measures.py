"""The analytics' stored measures: hour numbers, latency in milliseconds and its log buckets.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

# Derived columns of messages, for the analytics' GROUP BYs: the UTC hour of submitted_at as
# an integer (hours since 1970), and delivered_at - accepted_at in whole milliseconds with
# its log bucket. The same values are computed in Python (inserts) and in SQL (updates).
LATENCY_RESOLUTION = 100  # log buckets per unit of ln(seconds): each is exp(1/100) - 1 ≈ 1 % wide

SHORTEST_LATENCY_MS = 1   # a latency of 0 (or a skewed negative one) counts as 1 ms


def hour_number(when: datetime) -> int:
    """Hours since 1970 of an aware time (floor): the value of messages.submitted_hour."""
    return math.floor(when.timestamp() / 3600)


def latency_milliseconds(delivered_at: datetime | None, accepted_at: datetime | None) -> int | None:
    """``delivered_at - accepted_at`` in whole milliseconds; None unless both are known."""
    if delivered_at is None or accepted_at is None:
        return None
    return round((delivered_at - accepted_at) / timedelta(milliseconds=1))


def latency_bucket(milliseconds: int | None) -> int | None:
    """The log bucket of a latency: floor(ln(seconds) * LATENCY_RESOLUTION), from 1 ms up."""
    if milliseconds is None:
        return None
    return math.floor(math.log(max(milliseconds, SHORTEST_LATENCY_MS) / 1000) * LATENCY_RESOLUTION)


def _inserted(column: str) -> Any:
    return lambda context: context.get_current_parameters().get(column)


def _default_submitted_hour(context: Any) -> int | None:
    submitted_at = _inserted("submitted_at")(context)
    return hour_number(submitted_at) if submitted_at is not None else None


def _default_latency_ms(context: Any) -> int | None:
    return latency_milliseconds(_inserted("delivered_at")(context), _inserted("accepted_at")(context))


def _default_latency_bucket(context: Any) -> int | None:
    return latency_bucket(_default_latency_ms(context))
