"""What several modules share: the upload limits, the supported kinds, advice texts, and the
errors for people (each a ``SpreadsheetError`` with a sentence naming the file and what to do).

Imports nothing from its own package, so every other module may import it.
"""

from __future__ import annotations

from smslib.core.errors import SpreadsheetError

DEFAULT_MAX_ROWS = 1_000_000

DEFAULT_MAX_BYTES = 200 * 1024 * 1024

SUPPORTED = "CSV, TSV, TXT, XLSX, XLS or ODS"

SAVE_AS_XLSX = "Open it in Excel and save it as .xlsx."

SAVE_AS_XLSX_OR_CSV = "Open it in Excel and save it as .xlsx or CSV."


def size(n: int) -> str:
    """A byte count as a person reads it."""
    if n >= 1024**3:
        return f"{n / 1024**3:.1f} GB"
    if n >= 1024**2:
        return f"{n / 1024**2:.1f} MB"
    return f"{n / 1024:.1f} KB" if n >= 1024 else f"{n} bytes"


def too_large(filename: str, max_bytes: int, file_size: int | None = None) -> SpreadsheetError:
    """The file is over the byte limit (``file_size`` when known)."""
    measured = f" ({size(file_size)})" if file_size is not None else ""
    return SpreadsheetError(
        f"'{filename}' is larger{measured} than the {size(max_bytes)} limit for one upload. "
        "Split it into smaller files or remove unused sheets."
    )


def too_vast(filename: str, rows: int, columns: int) -> SpreadsheetError:
    """A sheet's cells span more than ``guards.CELL_LIMIT`` cells."""
    return SpreadsheetError(
        f"'{filename}' has a sheet that spans {rows:,} rows by {columns:,} columns, more than this app "
        "can load. Delete the unused rows and columns (or copy the data to a new workbook) and upload again."
    )


def too_many_rows(where: str, max_rows: int, *, blank_lines: int = 0) -> SpreadsheetError:
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


def not_a_spreadsheet(filename: str, what: str, advice: str = "") -> SpreadsheetError:
    """The file is something else (``what``), with what to do instead."""
    advice = advice or f"Upload a spreadsheet: {SUPPORTED}."
    return SpreadsheetError(f"'{filename}' is {what}, not a spreadsheet. {advice}")


def damaged(filename: str, error: BaseException) -> SpreadsheetError:
    """The file looks like a spreadsheet but cannot be parsed; ``error`` says where it broke."""
    return SpreadsheetError(
        f"'{filename}' is damaged or incomplete and cannot be opened ({error}). "
        "Upload it again, or open it in Excel and save a new copy."
    )


def password_protected(filename: str) -> SpreadsheetError:
    """The workbook is encrypted."""
    return SpreadsheetError(
        f"'{filename}' is password-protected. Open it in Excel, remove the password "
        "(File > Info > Protect Workbook > Encrypt with Password), save it and upload it again."
    )


def binary_junk(filename: str) -> SpreadsheetError:
    """A file read as text holds binary data."""
    return SpreadsheetError(
        f"'{filename}' is not a text (CSV) file: it contains binary data. "
        f"If it is a spreadsheet, save it from Excel as CSV or .xlsx and upload that; accepted: {SUPPORTED}."
    )
