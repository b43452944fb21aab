"""Spreadsheet rows → a validated plan of gateway requests; pure, vectorised, no store.

- ``validate(frame, mapping, ...)`` checks every row (number, text, options, blocklist)
  and drops repeats of the same number with the same text; each invalid row gets a reason.
- ``plan(validation, batch_size)`` groups the valid rows with the same text and options
  into gateway requests of at most ``batch_size`` numbers.

``smslib.services.jobs`` turns a plan into a job in the store and sends it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload

import numpy as np
import pandas as pd

from smslib.core.errors import TemplateError, ValidationError
from smslib.rules.phones import LANDLINE, normalize_series
from smslib.rules.senders import is_valid_sender
from smslib.store import SendOptions
from smslib.rules.text import MAX_SEGMENTS, UNSAFE_PATTERN, Template, count_segments_series, render_frame

MAX_BATCH_SIZE = 1000

# Reasons a row is not sent, as shown per row and in the invalid-rows export.
BAD_NUMBER = "bad number"
EMPTY_MESSAGE = "empty message"
TOO_LONG = "too long"
UNSAFE_TEXT = "control, broken or bidirectional-override character in the message"
UNKNOWN_PLACEHOLDER = "unknown placeholder"
BAD_PRIORITY = "bad priority"
BAD_FLASH = "bad flash value"
BAD_SENDER = "bad sender"
UNKNOWN_COST_CENTER = "unknown cost centre"
LANDLINE_REASON = "landline"
BLOCKED = "blocked"

_TRUE = {"1", "true", "yes", "y", "t", "x", "tak", "prawda"}
_FALSE = {"0", "false", "no", "n", "f", "nie", "fałsz"}


# -- mapping and validation -----------------------------------------------------------------


@dataclass(frozen=True)
class ColumnMapping:
    """Which column holds what; an option is either a column (per row) or one value for all."""

    phone_column: str
    message_column: str | None = None
    template: str | None = None
    sender_column: str | None = None
    sender: str | None = None
    priority_column: str | None = None
    priority: int | None = None
    flash_column: str | None = None
    flash: bool | None = None
    cost_center_column: str | None = None
    cost_center: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class Totals:
    rows: int
    valid: int
    invalid: int
    duplicates: int
    unique_recipients: int
    segments: int          # segments of one message, summed over the valid messages
    billed: int            # SMS billed: the same sum (each recipient pays every segment)
    max_segments: int      # the longest valid message, in segments


@dataclass(frozen=True)
class Validation:
    """Every row with its outcome. ``rows`` is indexed by the file's row number and has the
    columns phone, text, sender, priority, flash, cost_center, segments, encoding, status
    (``valid``, ``duplicate`` or ``invalid``) and reason."""

    rows: pd.DataFrame

    @property
    def valid(self) -> pd.DataFrame:
        return self.rows[self.rows["status"] == "valid"]

    @property
    def invalid(self) -> pd.DataFrame:
        return self.rows[self.rows["status"] == "invalid"]

    @property
    def totals(self) -> Totals:
        valid = self.valid
        segments = int(valid["segments"].sum())
        return Totals(
            rows=len(self.rows), valid=len(valid), invalid=int((self.rows["status"] == "invalid").sum()),
            duplicates=int((self.rows["status"] == "duplicate").sum()),
            unique_recipients=int(valid["phone"].nunique()), segments=segments, billed=segments,
            max_segments=int(valid["segments"].max()) if len(valid) else 0,
        )

    def invalid_report(self) -> pd.DataFrame:
        """The invalid rows for export: row number, the number as given, the text, the reason."""
        bad = self.invalid
        return pd.DataFrame({"row": bad.index, "phone": bad["given_phone"].to_numpy(),
                             "message": bad["text"].to_numpy(), "reason": bad["reason"].to_numpy()})


def guess_phone_column(frame: pd.DataFrame, region: str = "PL") -> str | None:
    """The column most likely to hold phone numbers: by its name, then by its values."""
    if frame.columns.empty:
        return None
    for column in frame.columns:
        if re.search(r"phone|tel|mobile|gsm|msisdn|numer|number|komórk|komork", str(column), re.I):
            return str(column)
    sample = frame.head(50)
    scores = {str(c): int(normalize_series(sample[c], region)["phone"].notna().sum()) for c in frame.columns}
    best = max(scores, key=scores.__getitem__)
    return best if scores[best] > 0 else None


def validate(
    frame: pd.DataFrame,
    mapping: ColumnMapping,
    *,
    region: str = "PL",
    mobile_only: bool = False,
    blocked: Callable[[Iterable[str]], set[str]] | Iterable[str] = (),
    cost_centers: Sequence[str] = (),
    max_segments: int = MAX_SEGMENTS,
) -> Validation:
    """Check every row of ``frame`` (as ``spreadsheet.read_table`` returns it) for sending.

    ``blocked`` is the blocklist: a set of E.164 numbers or a function such as
    ``store.blocked`` answering which of some numbers are blocked. Raises
    ``ValidationError`` only when the mapping names a column the table does not have.
    """
    for column in _mapped_columns(mapping):
        if column not in frame.columns:
            raise ValidationError(f"The table has no column {column!r}.", field="column")
    if (mapping.message_column is None) == (mapping.template is None):
        raise ValidationError("Choose either a message column or a template.", field="message")
    index = frame.index
    phones = normalize_series(frame[mapping.phone_column], region, mobile_only=mobile_only)
    reason = pd.Series(pd.NA, index=index, dtype="object")

    number_error = phones["error"]
    bad_number = number_error.notna()
    reason[bad_number] = np.where(number_error[bad_number] == LANDLINE, LANDLINE_REASON,
                                  BAD_NUMBER + ": " + number_error[bad_number].astype(str))

    text, template_error = _texts(frame, mapping)
    if template_error is not None:
        reason = reason.fillna(f"{UNKNOWN_PLACEHOLDER}: {template_error}")
    text = text.fillna("")
    measured = count_segments_series(text)
    empty = text.str.strip() == ""
    reason[reason.isna() & empty] = EMPTY_MESSAGE
    reason[reason.isna() & text.str.contains(UNSAFE_PATTERN, regex=True)] = UNSAFE_TEXT
    too_long = measured["segments"] > max_segments
    reason[reason.isna() & too_long] = (
        TOO_LONG + ": " + measured["segments"][too_long].astype(str) + f" SMS (at most {max_segments})")

    sender = _option(frame, mapping.sender_column, mapping.sender)
    given_senders = sender.dropna().unique().tolist()
    bad_sender = sender.isin([value for value in given_senders if not is_valid_sender(value)])
    reason[reason.isna() & bad_sender] = BAD_SENDER

    priority, bad_priority = _priorities(frame, mapping)
    reason[reason.isna() & bad_priority] = BAD_PRIORITY

    flash, bad_flash = _flashes(frame, mapping)
    reason[reason.isna() & bad_flash] = BAD_FLASH

    cost_center = _option(frame, mapping.cost_center_column, mapping.cost_center)
    if cost_centers:
        unknown_cc = cost_center.notna() & ~cost_center.isin(list(cost_centers))
        reason[reason.isna() & unknown_cc] = UNKNOWN_COST_CENTER

    candidates = phones["phone"][reason.isna()].dropna().unique().tolist()
    blocked_set = set(blocked(candidates)) if callable(blocked) else set(blocked)
    reason[reason.isna() & phones["phone"].isin(list(blocked_set)).fillna(False).astype(bool)] = BLOCKED

    rows = pd.DataFrame({
        "given_phone": frame[mapping.phone_column].astype(str),
        "phone": phones["phone"],
        "text": text,
        "sender": sender,
        "priority": priority,
        "flash": flash,
        "cost_center": cost_center,
        "segments": measured["segments"],
        "encoding": measured["encoding"],
        "reason": reason,
    }, index=index, copy=False)
    ok = rows["reason"].isna().to_numpy()
    rows["status"] = np.where(~ok, "invalid", np.where(_repeats(rows["phone"], text, ok), "duplicate", "valid"))
    return Validation(rows)


def _repeats(phone: pd.Series, text: pd.Series, ok: np.ndarray) -> np.ndarray:
    """Rows repeating an earlier *valid* row's number and text (only valid rows can repeat)."""
    phone_codes, phones_seen = pd.factorize(phone)
    text_codes, _ = pd.factorize(text)
    pair = text_codes.astype(np.int64) * (len(phones_seen) + 1) + phone_codes  # +1: the -1 of a missing number
    repeat = np.zeros(len(pair), dtype=bool)
    repeat[ok] = pd.Series(pair[ok]).duplicated(keep="first").to_numpy()
    return repeat


def _mapped_columns(mapping: ColumnMapping) -> list[str]:
    return [c for c in (mapping.phone_column, mapping.message_column, mapping.sender_column,
                        mapping.priority_column, mapping.flash_column, mapping.cost_center_column) if c]


def _texts(frame: pd.DataFrame, mapping: ColumnMapping) -> tuple[pd.Series, str | None]:
    if mapping.message_column is not None:
        return frame[mapping.message_column].astype(str), None
    try:
        template = Template.parse(mapping.template or "")
        return render_frame(template, frame).astype(str), None
    except TemplateError as e:
        return pd.Series("", index=frame.index, dtype="str"), str(e)


def _option(frame: pd.DataFrame, column: str | None, value: object) -> pd.Series:
    """Per-row text of an option (None where empty), or the one value for every row."""
    if column is None:
        return pd.Series([value if value not in ("", None) else None] * len(frame), index=frame.index, dtype=object)
    cells = frame[column].astype(str).str.strip()
    # object first: a text column would turn the None back into NaN (and NaN is a truthy "sender")
    return cells.astype(object).where(cells != "", None)


def _priorities(frame: pd.DataFrame, mapping: ColumnMapping) -> tuple[pd.Series, pd.Series]:
    if mapping.priority_column is None:
        value = mapping.priority
        bad = value is not None and value not in (0, 1, 2, 3)
        return (pd.Series([value] * len(frame), index=frame.index, dtype=object),
                pd.Series(bad, index=frame.index, dtype=bool))
    cells = frame[mapping.priority_column].astype(str).str.strip().str.replace(r"\.0+$", "", regex=True)
    known = {"0": 0, "1": 1, "2": 2, "3": 3}
    parsed = cells.map(known)
    bad = (cells != "") & parsed.isna()
    return parsed.astype(object).where(parsed.notna(), None), bad


def _flashes(frame: pd.DataFrame, mapping: ColumnMapping) -> tuple[pd.Series, pd.Series]:
    if mapping.flash_column is None:
        return (pd.Series([mapping.flash] * len(frame), index=frame.index, dtype=object),
                pd.Series(False, index=frame.index, dtype=bool))
    cells = frame[mapping.flash_column].astype(str).str.strip().str.lower()
    parsed = pd.Series([None] * len(frame), index=frame.index, dtype=object)  # Series(None) would hold NaN
    parsed[cells.isin(_TRUE)] = True
    parsed[cells.isin(_FALSE)] = False
    bad = (cells != "") & parsed.isna()
    return parsed, bad


# -- planning -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedBatch:
    """One gateway request of a plan."""

    seq: int
    phones: tuple[str, ...]
    source_rows: tuple[int, ...]
    text: str
    options: SendOptions
    segments: int
    encoding: str


class Plan(Sequence[PlannedBatch]):
    """The gateway requests of a plan, in order: a sequence of ``PlannedBatch``.

    Held as columns (the numbers and rows in sending order, where each request starts and
    ends, the text and options of each group), so planning 100k different texts costs a
    few array operations; a ``PlannedBatch`` is built when someone looks at it.
    """

    def __init__(self, *, phones: np.ndarray, rows: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                 batch_group: np.ndarray, groups: dict[str, list[Any]], sent_by: str) -> None:
        self._phones, self._rows = phones, rows
        self._starts, self._ends, self._batch_group = starts, ends, batch_group
        self._groups = groups
        self._sent_by = sent_by
        self._options: dict[tuple[Any, ...], SendOptions] = {}

    @classmethod
    def empty(cls) -> Plan:
        nothing = np.zeros(0, dtype=np.int64)
        return cls(phones=np.array([], dtype=object), rows=nothing, starts=nothing, ends=nothing,
                   batch_group=nothing, groups={c: [] for c in _GROUP_COLUMNS}, sent_by="local")

    def __len__(self) -> int:
        return len(self._starts)

    @overload
    def __getitem__(self, index: int) -> PlannedBatch: ...

    @overload
    def __getitem__(self, index: slice) -> list[PlannedBatch]: ...

    def __getitem__(self, index: int | slice) -> PlannedBatch | list[PlannedBatch]:
        if isinstance(index, slice):
            return [self._batch(i) for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"plan has {len(self)} requests, no request {index}")
        return self._batch(index)

    def __iter__(self) -> Iterator[PlannedBatch]:
        return (self._batch(i) for i in range(len(self)))

    @property
    def numbers(self) -> int:
        """Recipients over all requests (a number appears once per different text)."""
        return len(self._phones)

    def _batch(self, i: int) -> PlannedBatch:
        start, end, g = int(self._starts[i]), int(self._ends[i]), int(self._batch_group[i])
        groups = self._groups
        return PlannedBatch(
            seq=i + 1, phones=tuple(self._phones[start:end].tolist()),
            source_rows=tuple(self._rows[start:end].tolist()), text=str(groups["text"][g]),
            options=self._options_of(g), segments=int(groups["segments"][g]), encoding=str(groups["encoding"][g]))

    def _options_of(self, g: int) -> SendOptions:
        groups = self._groups
        key = (groups["sender"][g], groups["priority"][g], groups["flash"][g], groups["cost_center"][g])
        options = self._options.get(key)
        if options is None:
            options = self._options[key] = SendOptions(
                sender=key[0], priority=_int_or_none(key[1]), flash=_bool_or_none(key[2]), cost_center=key[3],
                sent_by=self._sent_by)
        return options


_KEY_COLUMNS = ("text", "sender", "priority", "flash", "cost_center")
_GROUP_COLUMNS = (*_KEY_COLUMNS, "segments", "encoding")


def plan(validation: Validation, batch_size: int = 500, *, sent_by: str = "local") -> Plan:
    """Group the valid rows by (text, sender, priority, flash, cost centre) into requests of
    at most ``batch_size`` numbers, in the order the groups first appear in the file."""
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ValidationError(f"The batch size must be 1 to {MAX_BATCH_SIZE}, not {batch_size}.", field="batch_size")
    valid = validation.valid
    if valid.empty:
        return Plan.empty()
    group = _first_appearance_groups(valid)
    order = np.argsort(group, kind="stable")  # groups in order of first appearance, rows in file order
    sizes = np.bincount(group)
    group_start = np.r_[0, np.cumsum(sizes)[:-1]]
    # Each group becomes ceil(size / batch_size) requests; request k of group g starts k batches in.
    chunks = -(-sizes // batch_size)
    batch_group = np.repeat(np.arange(len(sizes)), chunks)
    first_batch = np.r_[0, np.cumsum(chunks)[:-1]]
    starts = group_start[batch_group] + (np.arange(len(batch_group)) - first_batch[batch_group]) * batch_size
    ends = np.minimum(starts + batch_size, (group_start + sizes)[batch_group])
    first_row = order[group_start]  # each group's first row, in the valid frame's positions
    return Plan(
        phones=valid["phone"].to_numpy(dtype=object)[order], rows=valid.index.to_numpy(dtype=np.int64)[order],
        starts=starts, ends=ends, batch_group=batch_group,
        groups={c: valid[c].take(first_row).tolist() for c in _GROUP_COLUMNS}, sent_by=sent_by)


def _first_appearance_groups(valid: pd.DataFrame) -> np.ndarray:
    """A group number per row, equal for rows with the same text and options, numbered in the
    order the groups first appear. Each column is factorized and the codes combined pairwise
    (re-factorized after each step, so the combined key never outgrows the row count)."""
    group = np.zeros(len(valid), dtype=np.int64)
    for column in _KEY_COLUMNS:
        codes, uniques = pd.factorize(valid[column], use_na_sentinel=False)
        group, _ = pd.factorize(group * len(uniques) + codes)  # codes follow first appearance
    return group


def _int_or_none(value: object) -> int | None:
    return None if value is None or pd.isna(value) else int(value)  # type: ignore[arg-type]


def _bool_or_none(value: object) -> bool | None:
    return None if value is None or (not isinstance(value, bool) and pd.isna(value)) else bool(value)


def fingerprint(planned: Sequence[PlannedBatch]) -> str:
    """A digest of a plan: the same file and mapping give the same one (to resume, not repeat, a job)."""
    digest = hashlib.sha256()
    for batch in planned:
        digest.update(json.dumps([batch.phones, batch.text, batch.options.to_json()]).encode())
    return digest.hexdigest()[:32]
