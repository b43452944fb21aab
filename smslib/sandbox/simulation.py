"""What happens to a message after the sandbox accepted it: its final status and when.

Every draw comes from a hash of (seed, the message's sequence number), so the same
requests against a fresh sandbox with the same seed give the same outcomes, whatever
the threads or processes in between.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

STATUSES = (1, -1, -2, -3)  # the order of the configured shares
NEVER = "never"

# A number whose last four digits are one of these always gets that outcome, so a test
# or a demo can ask for a given status (NEVER: no report at all, the message stays in flight).
MAGIC_ENDINGS: dict[str, int | str] = {"0000": 1, "0001": -1, "0002": -2, "0003": -3, "0004": NEVER}

# Urgent messages reach the handset sooner; "0" is the lowest priority.
PRIORITY_SPEEDUP = {None: 1.0, "0": 1.0, "1": 0.8, "2": 0.5, "3": 0.3}
# An operator rejects at once; expiry is only known once the validity period ran out.
STATUS_DELAY_FACTOR = {1: 1.0, -1: 1.0, -2: 4.0, -3: 0.25}
LONGEST_DELAY = 3600.0  # the log-normal tail is unbounded; a real gateway gives up within an hour


@dataclass(frozen=True)
class Outcome:
    """A message's simulated fate: its status and seconds until the report (None: never)."""

    status: int
    delay: float | None


class DeliverySimulator:
    """Draws outcomes: status by ``shares``, delay log-normal (``median``, ``p99``) times ``time_scale``."""

    def __init__(self, *, seed: int | str, shares: Sequence[float], median: float, p99: float,
                 time_scale: float) -> None:
        total = float(sum(shares))
        self._seed = str(seed).encode()
        self._cumulative = [sum(shares[: i + 1]) / total for i in range(len(STATUSES))]
        self._median = median
        self._sigma = math.log(p99 / median) / NormalDist().inv_cdf(0.99)
        self._normal = NormalDist()
        self._time_scale = time_scale

    def outcome(self, sequence: int, phone: str, priority: str | None) -> Outcome:
        """The fate of the ``sequence``-th message the sandbox accepted."""
        magic = MAGIC_ENDINGS.get(phone[-4:])
        if magic == NEVER:
            return Outcome(status=-1, delay=None)
        digest = hashlib.blake2b(b"%s:%d" % (self._seed, sequence), digest_size=16).digest()
        status = magic if isinstance(magic, int) else self._status(int.from_bytes(digest[:8]) / 2**64)
        # +0.5 keeps the draw strictly inside (0, 1), where inv_cdf is defined.
        normal = self._normal.inv_cdf((int.from_bytes(digest[8:]) + 0.5) / 2**64)
        delay = self._median * math.exp(self._sigma * normal) * PRIORITY_SPEEDUP.get(priority, 1.0)
        return Outcome(status=status, delay=min(delay * STATUS_DELAY_FACTOR[status], LONGEST_DELAY) * self._time_scale)

    def _status(self, draw: float) -> int:
        for status, bound in zip(STATUSES, self._cumulative):
            if draw < bound:
                return status
        return STATUSES[-1]
