"""CSV/TSV/TXT: decoding (BOMs, UTF-16, cp1250 against ISO 8859-2), the delimiter, the records.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from smslib.core.errors import SpreadsheetError

from .problems import SAVE_AS_XLSX_OR_CSV, binary_junk, not_a_spreadsheet

# Enough lines to see the delimiter and the table's width without reading a huge file twice.
SNIFF_CHARS = 64 * 1024

DELIMITERS = (",", ";", "\t", "|")

TEXT_BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)

# Polish Excel saves CSV in cp1250; older Unix tools in ISO-8859-2. They disagree on these.
POLISH_LETTERS = frozenset("ąćęłńóśźżĄĆĘŁŃÓŚŹŻ")

# What Polish letters turn into when read in the other of the two encodings.
UNLIKELY_IN_POLISH = frozenset("ˇ¦¬±¶Ľľ¤")

EIGHT_BIT_CANDIDATES = ("cp1250", "iso-8859-2")

# Control characters other than tab, newlines and form feed; a DOS end-of-file mark is tolerated.
JUNK_CONTROL_BYTES = np.array([b for b in range(32) if b not in (9, 10, 12, 13, 26)] + [127])

JUNK_CONTROL_SHARE = 0.01

COUNT_CHUNK = 8 * 1024 * 1024


def read_text(data: bytes, filename: str, row_cap: int) -> tuple[pd.DataFrame, int]:
    """Raw cells and the first row's number for a delimited text file."""
    # A DOS end-of-file mark would otherwise become a last row holding one odd character.
    text = _decode(data, filename).rstrip("\x1a")
    _refuse_markup(text, filename)
    if not text.strip():
        raise SpreadsheetError(
            f"'{filename}' is empty: it holds only blank lines. Check that you picked the right file."
        )
    first_row = 1
    delimiter, text = _explicit_delimiter(text)
    if delimiter:
        first_row = 2
    else:
        delimiter = _sniff_delimiter(text[:SNIFF_CHARS], Path(filename).suffix.lower())
    width = _widest_record(text[:SNIFF_CHARS], delimiter)
    try:
        raw = _parse_delimited(text, delimiter, width, row_cap)
    except pd.errors.ParserError:
        # A record wider than any in the first lines: measure the whole file once and retry.
        try:
            raw = _parse_delimited(text, delimiter, _widest_record(text, delimiter), row_cap)
        except pd.errors.ParserError as e:
            raise SpreadsheetError(
                f"'{filename}' is not a well-formed {_delimiter_name(delimiter)}-separated file: "
                f"{_parser_reason(e)}. A quote (\") that opens a field must also close it; "
                "fix that line or save the file again from Excel."
            ) from e
    return raw, first_row


def _decode(data: bytes, filename: str) -> str:
    """The file's text, from its BOM, UTF-8, or the likelier of cp1250 and ISO-8859-2."""
    for bom, encoding in TEXT_BOMS:
        if data.startswith(bom):
            return _decode_as(data, encoding, filename)
    if b"\x00" in data:
        encoding = _bomless_utf16(data)
        if encoding is None:
            raise binary_junk(filename)
        return _decode_as(data, encoding, filename)
    counts = _byte_counts(data)
    if counts[JUNK_CONTROL_BYTES].sum() > JUNK_CONTROL_SHARE * len(data):
        raise binary_junk(filename)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    return data.decode(_likelier_polish_encoding(counts))


def _byte_counts(data: bytes) -> np.ndarray:
    """How often each byte value occurs; counted in chunks because bincount widens to 8 bytes per byte."""
    view = np.frombuffer(data, dtype=np.uint8)
    counts = np.zeros(256, dtype=np.int64)
    for start in range(0, len(view), COUNT_CHUNK):
        counts += np.bincount(view[start : start + COUNT_CHUNK], minlength=256)
    return counts


def _decode_as(data: bytes, encoding: str, filename: str) -> str:
    """``data`` decoded, or a SpreadsheetError naming the encoding the file claimed."""
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as e:
        raise SpreadsheetError(
            f"'{filename}' looks like {encoding.upper()} text but byte {e.start} is not valid "
            f"{encoding.upper()}; the file is damaged or cut short. Save it again as CSV UTF-8."
        ) from e


def _bomless_utf16(data: bytes) -> str | None:
    """``"utf-16-le"``/``"utf-16-be"`` when NULs fill every other byte (UTF-16 without a BOM), else None."""
    sample = data[:4096]
    half = len(sample) // 2
    if half < 2:
        return None
    odd_nuls, even_nuls = sample[1::2].count(0), sample[0::2].count(0)
    if odd_nuls > 0.9 * half and even_nuls < 0.1 * half:
        return "utf-16-le"
    if even_nuls > 0.9 * half and odd_nuls < 0.1 * half:
        return "utf-16-be"
    return None


def _likelier_polish_encoding(counts: np.ndarray) -> str:
    """cp1250 or ISO-8859-2, whichever turns the high bytes into more Polish letters and fewer oddities."""
    scores = {encoding: _polish_score(counts, encoding) for encoding in EIGHT_BIT_CANDIDATES}
    valid = {encoding: score for encoding, score in scores.items() if score is not None}
    # On a tie the Polish Excel default wins; ISO-8859-2 can decode every byte, so one is always valid.
    return max(valid, key=lambda encoding: (valid[encoding], encoding == "cp1250"))


def _polish_score(counts: np.ndarray, encoding: str) -> int | None:
    """Polish letters minus control/unlikely characters read with ``encoding``; None if undecodable."""
    score = 0
    for byte in np.flatnonzero(counts[128:]) + 128:
        try:
            char = bytes([byte]).decode(encoding)
        except UnicodeDecodeError:
            return None
        if char in POLISH_LETTERS:
            score += int(counts[byte])
        elif char in UNLIKELY_IN_POLISH or unicodedata.category(char) == "Cc":
            score -= int(counts[byte])
    return score


def _refuse_markup(text: str, filename: str) -> None:
    """Explain the web pages and XML that some systems save with an .xls name."""
    head = text[:1024].lstrip("\ufeff \t\r\n").lower()
    if head.startswith(("<!doctype html", "<html", "<table", "<meta")):
        raise not_a_spreadsheet(filename, "a web page (HTML)", SAVE_AS_XLSX_OR_CSV)
    if head.startswith("<?xml"):
        excel_2003 = "urn:schemas-microsoft-com:office:spreadsheet" in head
        what = "an Excel 2003 XML spreadsheet" if excel_2003 else "an XML file"
        raise not_a_spreadsheet(filename, what, SAVE_AS_XLSX_OR_CSV)


def _explicit_delimiter(text: str) -> tuple[str, str]:
    """The delimiter from Excel's ``sep=;`` first line and the text after it, or ``("", text)``."""
    match = re.match(r"\ufeff?sep=(.)\r?\n", text[:10], re.IGNORECASE)
    if match is None:
        return "", text
    return match.group(1), text[match.end() :]


def _sniff_delimiter(sample: str, suffix: str) -> str:
    """The candidate delimiter under which the largest share of records has the same number of fields (>1)."""
    best, best_score = ("\t" if suffix == ".tsv" else ","), (0.0, 0)
    for delimiter in DELIMITERS:
        records = _records(sample, delimiter)
        widths = [len(record) for record in records if any(cell.strip() for cell in record)]
        if not widths:
            continue
        common = max(set(widths), key=widths.count)
        # A share, not a count: the wrong delimiter misreads quotes and so splits more records.
        score = (widths.count(common) / len(widths), common) if common > 1 else (0.0, 0)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _widest_record(text: str, delimiter: str) -> int:
    """The most fields any record of ``text`` has (quotes respected)."""
    return max((len(record) for record in _records(text, delimiter)), default=1)


def _records(text: str, delimiter: str) -> Iterator[list[str]]:
    """Records of ``text`` by the csv module; a quote left open at a sample's cut is no error."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    try:
        yield from reader
    except csv.Error:
        return


def _parse_delimited(text: str, delimiter: str, width: int, row_cap: int) -> pd.DataFrame:
    """Every record as a row of ``width`` text cells (short records padded with ``""``)."""
    return pd.read_csv(
        io.StringIO(text),
        sep=delimiter,
        header=None,
        names=range(width),
        dtype="str",
        keep_default_na=False,
        na_filter=False,
        # Blank lines stay so that row numbers match the file; _tidy drops them.
        skip_blank_lines=False,
        nrows=row_cap,
        engine="c",
    )


def _parser_reason(error: pd.errors.ParserError) -> str:
    """pandas' parser complaint without its 'Error tokenizing data. C error:' prefix."""
    return str(error).split("C error:")[-1].strip().rstrip(".")


def _delimiter_name(delimiter: str) -> str:
    """A delimiter as a person would name it."""
    return {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}.get(delimiter, repr(delimiter))
