"""SMS text: GSM-7 / UCS-2 detection, segment counting, transliteration, templates.

The rules are those of 3GPP TS 23.038 (the GSM-7 default alphabet and its extension
table; national language shift tables are not used) and TS 23.040 (concatenated SMS):
one SMS holds 160 GSM-7 septets or 70 UCS-2 units; a message of several parts loses a
few to the concatenation header and holds 153 septets or 67 units per part. A message
with one character outside GSM-7 is sent entirely as UCS-2.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from smslib.core.errors import TemplateError, ValidationError

Encoding = Literal["GSM-7", "UCS-2"]
GSM7: Encoding = "GSM-7"
UCS2: Encoding = "UCS-2"

MAX_SEGMENTS = 10  # the gateway's limit (gateway contract §10)

# TS 23.038 §6.2.1, in code order; 0x1B (escape) is omitted: it is no character of its own.
GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
# Each of these is sent as escape + code, so it takes two septets.
GSM7_EXTENSION = "\f^{}\\[]~|€"
GSM7_CHARS = frozenset(GSM7_BASIC + GSM7_EXTENSION)

_CAPACITY = {GSM7: (160, 153), UCS2: (70, 67)}  # (single SMS, each part of a long one)

_NON_GSM_RE = re.compile(f"[^{re.escape(GSM7_BASIC + GSM7_EXTENSION)}]")
_EXTENSION_RE = re.compile(f"[{re.escape(GSM7_EXTENSION)}]")
_ASTRAL_RE = re.compile("[\U00010000-\U0010ffff]")  # outside the BMP: a surrogate pair in UTF-16
# Refused in a message rather than cleaned, since the text is what the customer receives:
# control characters (NUL and the like; newline, CR, tab and GSM-7's form feed are fine),
# halves of surrogate pairs (the text was damaged on the way and cannot be stored), and
# bidirectional embeddings, overrides and isolates (the phone would show the text in
# another order than the one checked here, a known spoofing trick).
# UNSAFE_PATTERN is for pandas' str.contains too, whose Arrow strings (RE2) hold no
# surrogates and read \xhh but not \uhhhh: so escapes for the controls, the marks as they are.
UNSAFE_PATTERN = r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f" + "\u202a-\u202e\u2066-\u2069]"
_UNSAFE_RE = re.compile(UNSAFE_PATTERN[:-1] + "\ud800-\udfff]")


# -- segments -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SegmentCount:
    """How a text travels as SMS: its encoding, how many parts, how much room is left."""

    encoding: Encoding
    segments: int
    units: int            # GSM-7 septets (extension characters count 2) or UTF-16 code units
    per_segment: int      # room in each part: 160/153 (GSM-7) or 70/67 (UCS-2)
    remaining: int        # units still free in the last part
    characters: int       # Unicode code points
    non_gsm_chars: tuple[str, ...]  # the distinct characters that forced UCS-2, in order

    @property
    def is_unicode(self) -> bool:
        return self.encoding == UCS2


def _unit_cost(char: str, encoding: Encoding) -> int:
    if encoding == GSM7:
        return 2 if char in GSM7_EXTENSION else 1
    return 2 if ord(char) > 0xFFFF else 1


def _pack(text: str, encoding: Encoding) -> list[tuple[int, int, int]]:
    """Greedy packing into parts as a phone does it: ``(start, end, units)`` for each part.

    A character that takes two units (escape pair, surrogate pair) never straddles two
    parts: when only one unit is left, it opens the next part and the unit stays empty.
    """
    single, multi = _CAPACITY[encoding]
    costs = [_unit_cost(c, encoding) for c in text]
    if sum(costs) <= single:
        return [(0, len(text), sum(costs))] if text else []
    parts: list[tuple[int, int, int]] = []
    start = used = 0
    for index, cost in enumerate(costs):
        if used + cost > multi:
            parts.append((start, index, used))
            start, used = index, 0
        used += cost
    parts.append((start, len(text), used))
    return parts


def split_segments(text: str) -> list[str]:
    """The parts a phone receives, in order; ``[]`` for empty text."""
    encoding = UCS2 if _NON_GSM_RE.search(text) else GSM7
    return [text[start:end] for start, end, _ in _pack(text, encoding)]


def count_segments(text: str) -> SegmentCount:
    """Count the SMS parts ``text`` takes.

    Empty text is 0 segments of GSM-7 with the whole first SMS free (remaining 160).
    """
    non_gsm = tuple(dict.fromkeys(_NON_GSM_RE.findall(text)))
    encoding = UCS2 if non_gsm else GSM7
    doubles = len((_EXTENSION_RE if encoding == GSM7 else _ASTRAL_RE).findall(text))
    units = len(text) + doubles
    single, multi = _CAPACITY[encoding]
    if units <= single:
        segments, per_segment, remaining = (1 if text else 0), single, single - units
    else:
        parts = _pack(text, encoding)
        segments, per_segment, remaining = len(parts), multi, multi - parts[-1][2]
    return SegmentCount(encoding, segments, units, per_segment, remaining, len(text), non_gsm)


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}" + ("" if count == 1 else "s")


def unsafe_character(text: str) -> str | None:
    """Why ``text`` cannot be sent as written (its first unsafe character), or None."""
    match = _UNSAFE_RE.search(text)
    if match is None:
        return None
    char = match.group()
    code = f"U+{ord(char):04X}"
    if char == "\x00":
        what = f"a NUL byte ({code})"
    elif "\ud800" <= char <= "\udfff":
        what = f"half of a broken character ({code}, a lone surrogate: the text was damaged when copied)"
    elif char >= "\u202a":
        what = f"a bidirectional-override mark ({code}), which makes a phone show the text in another order"
    else:
        what = f"an invisible control character ({code})"
    return f"Character {match.start() + 1:,} of the message is {what}: remove it and check the text."


def check_length(text: str, max_segments: int = MAX_SEGMENTS) -> SegmentCount:
    """The segment count of a message the gateway will take; ValidationError if empty, too long
    or holding a character that cannot be sent safely (``unsafe_character``)."""
    if not text.strip():
        raise ValidationError("The message is empty: write the text to send.", field="Message")
    if (unsafe := unsafe_character(text)) is not None:
        raise ValidationError(unsafe, field="Message")
    count = count_segments(text)
    if count.segments <= max_segments:
        return count
    kept = sum(len(part) for part in split_segments(text)[:max_segments])
    message = (
        f"The message is too long: {count.segments} SMS segments ({count.characters:,} characters, "
        f"{count.encoding}); the gateway takes at most {max_segments}. "
        f"Shorten it by {_plural(count.characters - kept, 'character')}."
    )
    if count.is_unicode:
        shown = " ".join(count.non_gsm_chars[:10])
        message += (
            f" It is sent as Unicode (UCS-2, {_CAPACITY[UCS2][1]} characters per segment instead of "
            f"{_CAPACITY[GSM7][1]}) because of: {shown}; replacing those characters makes room."
        )
    raise ValidationError(message, field="Message")


# What each code point is, for measuring many texts with numpy.
_BASIC, _EXTENSION, _OTHER, _ASTRAL = 0, 1, 2, 3
_KIND = np.full(0x110000, _OTHER, dtype=np.uint8)
_KIND[[ord(c) for c in GSM7_BASIC]] = _BASIC
_KIND[[ord(c) for c in GSM7_EXTENSION]] = _EXTENSION
_KIND[0x10000:] = _ASTRAL
_CHUNK = 10_000  # texts measured at once: bounds the memory of the per-character arrays


def _measure_many(texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(is_unicode, units, segments)`` of ``texts``, as ``count_segments`` counts them."""
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    return _measure_joined("".join(texts), lengths)


def _measure_arrow(texts: pa.StringArray | pa.LargeStringArray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``_measure_many`` of an Arrow string array without nulls, read from its UTF-8 bytes
    (no Python string per text)."""
    offsets = np.frombuffer(texts.buffers()[1], dtype=np.int64 if pa.types.is_large_string(texts.type)
                            else np.int32)[texts.offset:texts.offset + len(texts) + 1]
    data = texts.buffers()[2]
    start, end = int(offsets[0]), int(offsets[-1])
    joined = b"" if data is None else data.slice(start, end - start).to_pybytes()  # a slice shares its buffer
    lengths = pc.utf8_length(texts).to_numpy(zero_copy_only=False).astype(np.int64)
    return _measure_joined(joined.decode("utf-8"), lengths)


def _measure_joined(joined: str, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(is_unicode, units, segments)`` of the texts of ``lengths`` characters that make up ``joined``."""
    count = len(lengths)
    bounds = np.concatenate(([0], np.cumsum(lengths)))
    points = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype="<u4")
    # Most characters are basic GSM-7; everything after this works on the few others.
    special = np.flatnonzero(_KIND[points])
    kind = _KIND[points[special]]
    row = np.searchsorted(bounds, special, side="right") - 1
    unicode = np.zeros(count, dtype=bool)
    unicode[row[kind >= _OTHER]] = True
    double = np.where(unicode[row], kind == _ASTRAL, kind == _EXTENSION)
    units = lengths + np.bincount(row[double], minlength=count)
    segments = (units > 0).astype(np.int64)
    long = np.flatnonzero(units > np.where(unicode, _CAPACITY[UCS2][0], _CAPACITY[GSM7][0]))
    room = np.where(unicode[long], _CAPACITY[UCS2][1], _CAPACITY[GSM7][1])
    segments[long] = _pack_many(special[double], bounds[:-1][long], bounds[1:][long], room)
    return unicode, units, segments


def _pack_many(doubles: np.ndarray, start: np.ndarray, end: np.ndarray, room: np.ndarray) -> np.ndarray:
    """The part counts of ``_pack`` for the texts at ``start:end`` of a joined text, all at once.

    ``doubles`` are the sorted positions of two-unit characters. The units before position
    q are q + (doubles before q), and the k-th double (from 0) at d ends at unit d + k + 2,
    so one part is found with two binary searches, whatever the text's length.
    """
    double_ends = doubles + np.arange(doubles.size) + 2
    next_double = np.append(doubles, np.iinfo(np.int64).max)
    position = start.copy()
    segments = np.zeros(start.size, dtype=np.int64)
    while (active := np.flatnonzero(position < end)).size:
        here = position[active]
        limit = here + np.searchsorted(doubles, here) + room[active]  # the last unit of this part
        fitting = np.searchsorted(double_ends, limit, side="right")
        stop = limit - fitting
        # A double that starts inside but does not fit opens the next part instead.
        stop = np.minimum(stop, next_double[fitting])
        position[active] = np.minimum(stop, end[active])
        segments[active] += 1
    return segments


def count_segments_series(series: pd.Series) -> pd.DataFrame:
    """``encoding``, ``segments`` and ``units`` for every text of ``series`` (same index), vectorised."""
    texts = _as_text(series)
    arrow = _arrow_strings(texts)
    if arrow is not None:
        chunks = [_measure_arrow(arrow.slice(start, _CHUNK)) for start in range(0, max(len(arrow), 1), _CHUNK)]
    else:
        listed = texts.tolist()
        chunks = [_measure_many(listed[start:start + _CHUNK]) for start in range(0, max(len(listed), 1), _CHUNK)]
    unicode, units, segments = (np.concatenate(column) for column in zip(*chunks))
    return pd.DataFrame(
        {
            "encoding": pd.Series(np.where(unicode, UCS2, GSM7), index=series.index, dtype="str"),
            "segments": segments,
            "units": units,
        },
        index=series.index,
    )


# -- transliteration ------------------------------------------------------------------------


class Change(NamedTuple):
    """One character replaced by ``to_gsm7``: what, by what, how many times."""

    original: str
    replacement: str
    count: int


@dataclass(frozen=True)
class Transliteration:
    """The GSM-7 form of a text, what was replaced, and what could not be."""

    text: str
    changes: tuple[Change, ...]      # in order of first appearance
    still_ucs2: tuple[str, ...]      # characters with no GSM-7 form; they keep the text UCS-2

    @property
    def changed(self) -> bool:
        return bool(self.changes)


_SPACES = "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
# Checked before Unicode decomposition: letters that have none (ł, đ), typography whose
# decomposition is wrong for SMS, and spacing accents that would decompose to a bare space.
_REPLACEMENTS: dict[str, str] = {
    **dict.fromkeys(_SPACES, " "),
    **dict.fromkeys("\t\v", " "),
    **dict.fromkeys("\u2028\u2029\x85", "\n"),
    **dict.fromkeys("\u00ad\u200b\u2060\ufeff", ""),  # soft hyphen, zero-width space, BOM
    **dict.fromkeys("„“”‟«»〝〞＂″", '"'),
    **dict.fromkeys("‘’‚‛‹›`´′", "'"),
    **dict.fromkeys("‐‑‒–—―−⁃﹣－", "-"),
    "…": "...", "⁄": "/", "•": "*", "·": ".", "×": "x",
    "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "ħ": "h", "Ħ": "H",
    "ı": "i", "ŧ": "t", "Ŧ": "T", "ŋ": "n", "Ŋ": "N",
    "œ": "oe", "Œ": "OE", "þ": "th", "Þ": "Th",
}


def _gsm7_form(char: str) -> str | None:
    """The GSM-7 text for one character outside GSM-7, or None when there is none."""
    if char in _REPLACEMENTS:
        return _REPLACEMENTS[char]
    if unicodedata.combining(char):
        return ""  # an accent left over after NFC has no precomposed letter to join
    pieces = []
    # NFKD splits accented letters into base + combining marks (ś -> s + ´), and compatibility
    # forms into plain ones (ﬁ -> fi, ½ -> 1⁄2); the marks are dropped.
    for piece in unicodedata.normalize("NFKD", char):
        if unicodedata.combining(piece):
            continue
        if piece in GSM7_CHARS:
            pieces.append(piece)
        elif piece in _REPLACEMENTS:
            pieces.append(_REPLACEMENTS[piece])
        else:
            return None
    form = "".join(pieces)
    return form if form.strip() else None


def to_gsm7(text: str) -> Transliteration:
    """Replace characters outside GSM-7 by their nearest GSM-7 form (ą -> a, „ -> ", – -> -).

    Characters that are in GSM-7 (é, ü, ñ, Ä, Ø, ß, €, ...) are kept; those with no GSM-7
    form (emoji, Cyrillic, Chinese, ...) are kept too and listed in ``still_ucs2``. The text
    is put in NFC form first, so a decomposed e + ◌́ becomes the GSM-7 é, not e.
    """
    text = unicodedata.normalize("NFC", text)
    counts: dict[str, int] = {}
    for char in _NON_GSM_RE.findall(text):
        counts[char] = counts.get(char, 0) + 1
    forms = {char: _gsm7_form(char) for char in counts}
    table = {ord(char): form for char, form in forms.items() if form is not None}
    return Transliteration(
        text=text.translate(table),
        changes=tuple(Change(c, f, counts[c]) for c, f in forms.items() if f is not None),
        still_ucs2=tuple(c for c, f in forms.items() if f is None),
    )


# -- templates ------------------------------------------------------------------------------

_TOKEN_RE = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_FORMAT_SYNTAX = re.compile(r"[.\[!:]")
_SHOWN_COLUMNS = 20


@dataclass(frozen=True)
class Placeholder:
    """A ``{column}`` in a template; ``index`` is where its ``{`` stands in the source."""

    name: str
    index: int


@dataclass(frozen=True)
class Template:
    """A message with ``{column}`` placeholders; ``{{`` and ``}}`` are literal braces.

    The inside of the braces is a column name, whole: no attribute access, indexing,
    conversion or format spec (``{name.x}``, ``{name[0]}``, ``{name!r}``, ``{name:>10}``
    are column names too, and an error unless such a column exists).
    """

    source: str
    parts: tuple[str | Placeholder, ...]

    @classmethod
    def parse(cls, text: str) -> Template:
        """Parse ``text``; TemplateError says where a brace is stray or a placeholder empty."""
        parts: list[str | Placeholder] = []
        literal: list[str] = []
        position = 0
        for match in _TOKEN_RE.finditer(text):
            literal.append(text[position:match.start()])
            position = match.end()
            token = match.group()
            if token in ("{{", "}}"):
                literal.append(token[0])
            elif token == "}":
                raise _template_error(text, match.start(), "has no opening '{'")
            elif token == "{":
                closed = "}" in text[match.end():]
                problem = "is followed by another '{' before its '}'" if closed else "is never closed"
                raise _template_error(text, match.start(), problem)
            elif not match.group(1).strip():
                raise _template_error(text, match.start(), "opens an empty placeholder")
            else:
                parts.extend(["".join(literal), Placeholder(match.group(1).strip(), match.start())])
                literal = []
        parts.append("".join(literal) + text[position:])
        return cls(text, tuple(part for part in parts if part != ""))

    @property
    def placeholders(self) -> tuple[str, ...]:
        """The distinct column names used, in order of first use."""
        return tuple(dict.fromkeys(p.name for p in self.parts if isinstance(p, Placeholder)))

    def check(self, columns: Iterable[object]) -> None:
        """Raise TemplateError naming every placeholder that is not one of ``columns``."""
        self._positions(list(columns))

    def render(self, row: Mapping[str, object]) -> str:
        """The message for one row; empty or missing-value cells (None, NaN) give ''."""
        keys = list(row.keys())
        positions = self._positions(keys)
        return "".join(
            part if isinstance(part, str) else _cell_text(row[keys[positions[part.name]]])
            for part in self.parts
        )

    def _positions(self, columns: list[object]) -> dict[str, int]:
        """Where each placeholder's column stands in ``columns`` (the first, if repeated)."""
        labels = [str(column).strip() for column in columns]
        first = {label: i for i, label in reversed(list(enumerate(labels)))}
        unknown = [name for name in self.placeholders if name not in first]
        if unknown:
            raise TemplateError(_unknown_message(unknown, labels), field="Message")
        return {name: first[name] for name in self.placeholders}


def render_frame(template: Template, frame: pd.DataFrame) -> pd.Series:
    """The message for every row of ``frame`` (same index), built column-wise, not row by row."""
    positions = template._positions(list(frame.columns))
    result = pd.Series("", index=frame.index, dtype="str")
    for part in template.parts:
        result = result + (part if isinstance(part, str) else _as_text(frame.iloc[:, positions[part.name]]))
    return result


def _template_error(text: str, index: int, problem: str) -> TemplateError:
    brace = text[index]
    start = max(0, index - 15)
    near = ("…" if start else "") + text[start:index + 15] + ("…" if index + 15 < len(text) else "")
    near = near.replace("\n", "↵")
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    where = f"line {line}, column {column}" if "\n" in text else f"character {column}"
    return TemplateError(
        f"The '{brace}' at {where} (near “{near}”) {problem}. Write a placeholder as {{column name}}, "
        f"and a literal brace doubled: '{brace}{brace}'.",
        field="Message",
    )


def _unknown_message(unknown: list[str], labels: list[str]) -> str:
    listed = ", ".join(f"{{{name}}}" for name in unknown)
    if len(unknown) == 1:
        message = f"The placeholder {listed} does not match any column."
    else:
        message = f"The placeholders {listed} do not match any column."
    shown = ", ".join(labels[:_SHOWN_COLUMNS]) if labels else "(none)"
    more = f" and {len(labels) - _SHOWN_COLUMNS} more" if len(labels) > _SHOWN_COLUMNS else ""
    message += f" Columns: {shown}{more}."
    by_folded = {label.casefold(): label for label in labels}
    for name in unknown:
        head = _FORMAT_SYNTAX.split(name, maxsplit=1)[0].strip()
        if head != name and head in labels:
            message += (
                f" A placeholder holds a column name only; formatting such as {{{name}}} is not "
                f"supported: write {{{head}}}."
            )
            continue
        close = difflib.get_close_matches(name.casefold(), list(by_folded), n=1, cutoff=0.6)
        if close:
            message += f" Did you mean {{{by_folded[close[0]]}}} instead of {{{name}}}?"
    return message


def _cell_text(value: object) -> str:
    """A cell as it should read in a message: missing is '', 12.0 is '12', a date has no 00:00."""
    if isinstance(value, str):
        return value
    if value is None or value is pd.NaT or value is pd.NA:
        return ""
    if isinstance(value, float | np.floating):
        if math.isnan(value):
            return ""
        return str(int(value)) if value.is_integer() else str(value)
    if isinstance(value, dt.datetime) and value.time() == dt.time() and value.tzinfo is None:
        return value.date().isoformat()
    return str(value)


def _arrow_strings(texts: pd.Series) -> pa.StringArray | pa.LargeStringArray | None:
    """The Arrow array behind a str column without missing values, or None."""
    try:
        array = pa.array(texts.array)
    except (pa.ArrowException, TypeError, ValueError):
        return None
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)) or array.null_count:
        return None
    return array


def _as_text(column: pd.Series) -> pd.Series:
    """``column`` as str dtype without missing values, each cell as ``_cell_text`` writes it."""
    if isinstance(column.dtype, pd.StringDtype):
        return column.fillna("")
    if column.dtype == object:
        # Not via distinct values: factorize holds True, 1 and 1.0 for one value.
        return pd.Series([_cell_text(value) for value in column.tolist()], index=column.index, dtype="str")
    # One dtype throughout: convert each distinct value once, spreadsheet columns repeat a lot.
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    texts = np.array([_cell_text(value) for value in uniques] + [""], dtype=object)
    return pd.Series(texts[codes], index=column.index, dtype="str")
