"""What every reader shares: the limits, the supported kinds, and the errors for people
(each a ``SpreadsheetError`` with a sentence naming the file and what to do).
"""

from __future__ import annotations

import os
from typing import BinaryIO

import pandas as pd
from smslib.core.errors import SpreadsheetError

Source = bytes | bytearray | memoryview | str | os.PathLike[str] | BinaryIO

DEFAULT_MAX_ROWS = 1_000_000

DEFAULT_MAX_BYTES = 200 * 1024 * 1024

# A real XLSX/ODS compresses maybe 5-10x; anything unpacking beyond this is a zip bomb.
ZIP_EXPANSION_FACTOR = 20

ZIP_UNPACKED_CEILING = 1024**3

ZIP_READ_CHUNK = 1024 * 1024  # inflate at most this much at once (see _read_member)

# calamine holds about 40 bytes per cell of a sheet's used rectangle: this is ~2 GB.
CELL_LIMIT = 50_000_000

# Title and note rows above a header rarely run longer than this.
HEADER_WINDOW = 20

# Enough lines to see the delimiter and the table's width without reading a huge file twice.
SNIFF_CHARS = 64 * 1024

SUPPORTED = "CSV, TSV, TXT, XLSX, XLS or ODS"

SAVE_AS_XLSX = "Open it in Excel and save it as .xlsx."

SAVE_AS_XLSX_OR_CSV = "Open it in Excel and save it as .xlsx or CSV."

TEXT_SUFFIXES = frozenset({".csv", ".tsv", ".txt"})

WORKBOOK_SUFFIXES = frozenset({".xlsx", ".xlsm", ".xls", ".ods"})

DELIMITERS = (",", ";", "\t", "|")


def _size(n: int) -> str:
    """A byte count as a person reads it."""
    if n >= 1024**3:
        return f"{n / 1024**3:.1f} GB"
    if n >= 1024**2:
        return f"{n / 1024**2:.1f} MB"
    return f"{n / 1024:.1f} KB" if n >= 1024 else f"{n} bytes"


def _too_large(filename: str, max_bytes: int, size: int | None = None) -> SpreadsheetError:
    """The file is over the byte limit (``size`` when known)."""
    measured = f" ({_size(size)})" if size is not None else ""
    return SpreadsheetError(
        f"'{filename}' is larger{measured} than the {_size(max_bytes)} limit for one upload. "
        "Split it into smaller files or remove unused sheets."
    )


def _too_vast(filename: str, rows: int, columns: int) -> SpreadsheetError:
    """A sheet's cells span more than CELL_LIMIT cells."""
    return SpreadsheetError(
        f"'{filename}' has a sheet that spans {rows:,} rows by {columns:,} columns, more than this app "
        "can load. Delete the unused rows and columns (or copy the data to a new workbook) and upload again."
    )


def _too_many_rows(where: str, max_rows: int, *, blank_lines: int = 0) -> SpreadsheetError:
    """The table has more rows than the limit."""
    if blank_lines:
        return SpreadsheetError(
            f"{where} has more than {max_rows:,} rows, the limit for one upload, and at least "
            f"{blank_lines:,} of them are empty. Delete the empty rows (or copy the data to a new file) "
            "and upload again."
        )
    return SpreadsheetError(
        f"{where} has more than {max_rows:,} rows, the limit for one upload. Split it into smaller files."
    )


def _not_a_spreadsheet(filename: str, what: str, advice: str = "") -> SpreadsheetError:
    """The file is something else (``what``), with what to do instead."""
    advice = advice or f"Upload a spreadsheet: {SUPPORTED}."
    return SpreadsheetError(f"'{filename}' is {what}, not a spreadsheet. {advice}")


def _damaged(filename: str, error: BaseException) -> SpreadsheetError:
    """The file looks like a spreadsheet but cannot be parsed; ``error`` says where it broke."""
    return SpreadsheetError(
        f"'{filename}' is damaged or incomplete and cannot be opened ({error}). "
        "Upload it again, or open it in Excel and save a new copy."
    )


def _password_protected(filename: str) -> SpreadsheetError:
    """The workbook is encrypted."""
    return SpreadsheetError(
        f"'{filename}' is password-protected. Open it in Excel, remove the password "
        "(File > Info > Protect Workbook > Encrypt with Password), save it and upload it again."
    )


def _binary_junk(filename: str) -> SpreadsheetError:
    """A file read as text holds binary data."""
    return SpreadsheetError(
        f"'{filename}' is not a text (CSV) file: it contains binary data. "
        f"If it is a spreadsheet, save it from Excel as CSV or .xlsx and upload that; accepted: {SUPPORTED}."
    )


def _filled(raw: pd.DataFrame) -> pd.DataFrame:
    """True where a cell holds more than whitespace (vectorised: ``raw`` has the Arrow-backed str dtype)."""
    return pd.DataFrame({column: raw[column].str.strip().ne("") for column in raw.columns}, index=raw.index)
