"""Values shared across smslib: delivery statuses, message states, send and report results."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class DeliveryStatus(enum.IntEnum):
    """The gateway's ``Status`` of a delivery report.

    A code the contract does not list is kept as a pseudo-member named ``UNKNOWN_<code>``
    instead of raising, so a gateway that adds a status never crashes a sync.
    """

    DELIVERED = 1
    UNDETERMINED = 0
    UNDELIVERED = -1
    EXPIRED = -2
    REJECTED = -3

    @classmethod
    def _missing_(cls, value: object) -> DeliveryStatus | None:
        if isinstance(value, int) and not isinstance(value, bool):
            member = int.__new__(cls, value)
            member._name_ = f"UNKNOWN_{value}"
            member._value_ = value
            return member
        return None

    @property
    def is_known(self) -> bool:
        return self._name_ in type(self).__members__

    @property
    def is_final(self) -> bool:
        """True for a status that ends a message's life (anything but 0 and unknown codes)."""
        return self in (DeliveryStatus.DELIVERED, DeliveryStatus.UNDELIVERED,
                        DeliveryStatus.EXPIRED, DeliveryStatus.REJECTED)


class MessageState(str, enum.Enum):
    """Where one stored message stands. The order is the order shown everywhere."""

    PENDING = "pending"          # accepted by the gateway, no final report yet
    DELIVERED = "delivered"      # report status 1
    UNDELIVERED = "undelivered"  # report status -1
    EXPIRED = "expired"          # report status -2
    REJECTED = "rejected"        # report status -3
    UNKNOWN = "unknown"          # report status 0 or a code the contract does not list
    FAILED = "failed"            # the gateway refused the send; nothing went out
    UNCERTAIN = "uncertain"      # the send may or may not have gone out; a person decides

    @classmethod
    def from_status(cls, status: DeliveryStatus | int) -> MessageState:
        return _STATE_BY_STATUS.get(int(status), cls.UNKNOWN)

    @property
    def style(self) -> StateStyle:
        return STATE_STYLE[self]

    @property
    def label(self) -> str:
        return STATE_STYLE[self].label

    @property
    def color(self) -> str:
        return STATE_STYLE[self].color

    @property
    def icon(self) -> str:
        return STATE_STYLE[self].icon

    @property
    def is_final(self) -> bool:
        return self not in (MessageState.PENDING, MessageState.UNCERTAIN)


_STATE_BY_STATUS = {
    1: MessageState.DELIVERED,
    -1: MessageState.UNDELIVERED,
    -2: MessageState.EXPIRED,
    -3: MessageState.REJECTED,
}


@dataclass(frozen=True)
class StateStyle:
    label: str
    color: str  # hex, used by charts and badges alike
    icon: str   # a Streamlit material icon
    meaning: str  # one line for people
    badge: str    # the nearest named colour, for Markdown badges (which take no hex)


STATE_STYLE: dict[MessageState, StateStyle] = {
    MessageState.PENDING: StateStyle("Pending", "#9AA0A6", ":material/schedule:",
                                        "accepted by the gateway, no delivery report yet", "gray"),
    MessageState.DELIVERED: StateStyle("Delivered", "#2E7D32", ":material/check_circle:",
                                          "the phone received it", "green"),
    MessageState.UNDELIVERED: StateStyle("Not delivered", "#C62828", ":material/cancel:",
                                            "the operator could not deliver it", "red"),
    MessageState.EXPIRED: StateStyle("Expired", "#EF6C00", ":material/timer_off:",
                                        "not delivered within its validity period", "orange"),
    MessageState.REJECTED: StateStyle("Rejected by operator", "#6A1B9A", ":material/block:",
                                         "the operator refused it", "violet"),
    MessageState.UNKNOWN: StateStyle("Unknown", "#546E7A", ":material/help:",
                                        "the gateway reported a status the contract does not define", "gray"),
    MessageState.FAILED: StateStyle("Failed to send", "#B71C1C", ":material/error:",
                                       "the gateway refused the send; nothing went out", "red"),
    MessageState.UNCERTAIN: StateStyle("Uncertain", "#F9A825", ":material/warning:",
                                          "the send may or may not have gone out; check before resending", "orange"),
}


class Channel(str, enum.Enum):
    """The gateway endpoint a message was sent through."""

    SMSES = "smses"
    SIMPLEAPI = "simpleapi"


PRIORITY_NAMES = {0: "Lowest", 1: "Low", 2: "High", 3: "Highest"}


@dataclass(frozen=True)
class SendResult:
    """The gateway's answer to one send: one message id per phone, in the same order."""

    phones: tuple[str, ...]
    message_ids: tuple[str, ...]
    current_time: datetime | None  # the gateway's clock, aware, UTC
    transaction_id: str | None
    channel: Channel = Channel.SMSES
    raw: Any = field(default=None, repr=False, compare=False)

    def pairs(self) -> list[tuple[str, str]]:
        return list(zip(self.phones, self.message_ids))


@dataclass(frozen=True)
class DeliveryReport:
    """One delivery report: the final status of one message."""

    report_id: str
    message_id: str
    phone: str
    status: DeliveryStatus
    delivery_time: datetime | None  # aware, UTC
    raw: Any = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class ReportBatch:
    """The answer to one ``GET /DeliveryReports`` (or several, when the ids were split)."""

    current_time: datetime | None  # aware, UTC
    reports: tuple[DeliveryReport, ...]
    raw: Any = field(default=None, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.reports)

    def __iter__(self):
        return iter(self.reports)
