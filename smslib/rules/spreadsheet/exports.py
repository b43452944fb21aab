"""Exports that cannot run formulas: ``neutralize_formulas`` and ``write_table`` (CSV with BOM, XLSX).
"""

from __future__ import annotations

import io
import re

import pandas as pd

from smslib.core.errors import SpreadsheetError

# Made visible in exports: control characters, bidirectional embeddings/overrides/isolates
# (which make a cell read in another order than it holds) and lone surrogates (which no
# file can encode). Newline, CR and tab are kept: they are layout inside a cell.
HIDDEN_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

PLAIN_SIGNED_NUMBER = re.compile(r"[+-][0-9]+(?:[.,][0-9]+)?")  # +48600123456, -5, -12,5


def neutralize_formulas(df: pd.DataFrame, *, keep_plain_numbers: bool = False) -> pd.DataFrame:
    """A copy of ``df`` whose text cells and names starting with = + - @ tab or CR get a leading ``'``
    (and whose hidden characters are written out, see ``_neutralize_cell``).

    ``keep_plain_numbers``: leave text that is only a signed number (``+48600123456``, ``-5``)
    as it is. Safe where cells are stored as text (XLSX): even retyped, such a cell can only
    become that number, never run anything. A CSV has no cell types, so there it is off.
    """
    neutralize = _neutralize_cell_keeping_numbers if keep_plain_numbers else _neutralize_cell
    out = df.copy()
    for position in range(out.shape[1]):
        column = out.iloc[:, position]
        if column.dtype == object or pd.api.types.is_string_dtype(column.dtype):
            out.isetitem(position, column.map(neutralize, na_action="ignore"))
    out.columns = [neutralize(name) for name in out.columns]
    return out


def write_table(df: pd.DataFrame, fmt: str) -> bytes:
    """Export ``df`` (without its index) as ``"csv"`` (UTF-8 with BOM) or ``"xlsx"``, formulas neutralised."""
    if fmt == "csv":
        # The BOM is what makes Excel read UTF-8 (and so Polish letters) instead of the ANSI code page.
        return neutralize_formulas(df).to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")
    if fmt == "xlsx":
        buffer = io.BytesIO()
        options = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}
        with pd.ExcelWriter(buffer, engine="xlsxwriter", engine_kwargs={"options": options}) as writer:
            safe = neutralize_formulas(df, keep_plain_numbers=True)  # the cells are stored as text
            _without_timezones(safe).to_excel(writer, index=False, sheet_name="Sheet1")
        return buffer.getvalue()
    raise SpreadsheetError(f"Unknown export format {fmt!r}; use 'csv' or 'xlsx'.")


def _neutralize_cell(value: object) -> object:
    """``value`` with a leading ``'`` when it is text a spreadsheet would run as a formula, and
    its hidden characters (``HIDDEN_CHARACTERS``) written out as ``<U+202E>``."""
    if not isinstance(value, str):
        return value
    if HIDDEN_CHARACTERS.search(value):
        value = HIDDEN_CHARACTERS.sub(lambda match: f"<U+{ord(match.group()):04X}>", value)
    return "'" + value if value.startswith(FORMULA_START) else value


def _neutralize_cell_keeping_numbers(value: object) -> object:
    """``_neutralize_cell``, except that a signed number (``+48600123456``) stays as it is."""
    if isinstance(value, str) and PLAIN_SIGNED_NUMBER.fullmatch(value):
        return value
    return _neutralize_cell(value)


def _without_timezones(df: pd.DataFrame) -> pd.DataFrame:
    """Timezone-aware datetime columns as their wall-clock time, which is all Excel can store."""
    aware = [i for i in range(df.shape[1]) if isinstance(df.iloc[:, i].dtype, pd.DatetimeTZDtype)]
    if not aware:
        return df
    out = df.copy()
    for position in aware:
        out.isetitem(position, out.iloc[:, position].dt.tz_localize(None))
    return out
