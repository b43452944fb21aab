"""``read_table`` and ``list_sheets``: bytes in, a text-only table with a header and row numbers out.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import python_calamine

from smslib.core.errors import SpreadsheetError

from .guards import detect_kind
from .problems import DEFAULT_MAX_BYTES, DEFAULT_MAX_ROWS, too_large, too_many_rows
from .text_files import read_text
from .workbooks import open_workbook, resolve_sheet_name, sheet_cells, visible_sheets

Source = bytes | bytearray | memoryview | str | os.PathLike[str] | BinaryIO

# Title and note rows above a header rarely run longer than this.
HEADER_WINDOW = 20

# A cell that is a number, phone number, amount or date rather than a column name.
NUMBER_LIKE = re.compile(r"(?=.*\d)[\d\s+\-().,/:']+")


def read_table(
    source: Source,
    filename: str,
    sheet: str | None = None,
    *,
    max_rows: int = DEFAULT_MAX_ROWS,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> pd.DataFrame:
    """Read a CSV/TSV/TXT/XLSX/XLS/ODS file into a DataFrame of text (see the module docstring)."""
    data = _read_source(source, filename, max_bytes)
    kind = detect_kind(data, filename, max_bytes)
    # Reading this many raw rows proves the table is over the limit, whatever sits above the header.
    row_cap = max_rows + HEADER_WINDOW + 2
    if kind == "text":
        if sheet is not None:
            raise SpreadsheetError(
                f"'{filename}' is a text file with a single table; it has no sheet '{sheet}'."
            )
        raw, first_row = read_text(data, filename, row_cap)
        filled = _filled(raw)
        where = f"'{filename}'"
    else:
        with open_workbook(data, filename) as workbook:
            name, raw, filled = _read_workbook_sheet(workbook, filename, sheet, row_cap)
        first_row = 1
        where = f"sheet '{name}' of '{filename}'"
    if len(raw) >= row_cap:
        # The cap bounds the parsing work, so blank lines count; say so when they are the bulk.
        blank = len(raw) - int(np.asarray(filled).any(axis=1).sum())
        raise too_many_rows(where, max_rows, blank_lines=blank if blank * 2 > len(raw) else 0)
    return _tidy(raw, filled, where, first_row, max_rows)


def list_sheets(source: Source, filename: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> list[str]:
    """Names of a workbook's visible worksheets, in order; ``[]`` for CSV/TSV/TXT (one table, no sheets)."""
    data = _read_source(source, filename, max_bytes)
    if detect_kind(data, filename, max_bytes) == "text":
        return []
    with open_workbook(data, filename) as workbook:
        return visible_sheets(workbook)


def _read_source(source: Source, filename: str, max_bytes: int) -> bytes:
    """The whole file as bytes, refusing files over ``max_bytes`` before reading them in full."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        try:
            size = path.stat().st_size
            if size > max_bytes:
                raise too_large(filename, max_bytes, size)
            data = path.read_bytes()
        except OSError as e:
            raise SpreadsheetError(f"Cannot open '{filename}': {e.strerror or e}.") from e
    else:
        # An upload may have been read already (to preview or hash it); the table is the whole file.
        if source.seekable():
            source.seek(0)
        data = source.read(max_bytes + 1)
        if not isinstance(data, bytes):
            raise TypeError("read_table needs a binary file object; open the file in 'rb' mode.")
        if len(data) > max_bytes:
            raise too_large(filename, max_bytes)
    if len(data) > max_bytes:
        raise too_large(filename, max_bytes, len(data))
    if not data:
        raise SpreadsheetError(
            f"'{filename}' is empty: the file has no content. Check that you picked the right file."
        )
    return data


def _read_workbook_sheet(
    workbook: python_calamine.CalamineWorkbook, filename: str, sheet: str | None, row_cap: int
) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    """The chosen sheet's name, raw cells and non-empty mask; by default the first visible sheet with data."""
    if sheet is not None:
        name = resolve_sheet_name(workbook, sheet, filename)
        raw = sheet_cells(workbook.get_sheet_by_name(name), row_cap)
        return name, raw, _filled(raw)
    for name in visible_sheets(workbook):
        raw = sheet_cells(workbook.get_sheet_by_name(name), row_cap)
        filled = _filled(raw)
        if filled.to_numpy().any():
            return name, raw, filled
    raise SpreadsheetError(f"'{filename}' is empty: none of its sheets holds any data.")


def _filled(raw: pd.DataFrame) -> pd.DataFrame:
    """True where a cell holds more than whitespace (vectorised: ``raw`` has the Arrow-backed str dtype)."""
    return pd.DataFrame({column: raw[column].str.strip().ne("") for column in raw.columns}, index=raw.index)


def _tidy(raw: pd.DataFrame, filled: pd.DataFrame, where: str, first_row: int, max_rows: int) -> pd.DataFrame:
    """Header found, empty rows and columns dropped, names made unique, index set to row numbers."""
    rows_with_data = filled.any(axis=1)
    if not rows_with_data.any():
        raise SpreadsheetError(
            f"{where} is empty: it holds no data. Check that you picked the right file or sheet."
        )
    header = _find_header(raw, filled, rows_with_data, where)
    below = rows_with_data.index > header
    columns = filled.loc[header:].any(axis=0).to_numpy()
    table = raw.loc[rows_with_data & below, columns]
    names = _column_names(raw.loc[header, columns].tolist(), np.flatnonzero(columns).tolist())
    if table.empty:
        listed = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        raise SpreadsheetError(
            f"{where} has a header row ({listed}) but no data rows below it. "
            "Add the rows to send to, then upload again."
        )
    if len(table) > max_rows:
        raise too_many_rows(where, max_rows)
    table = table.set_axis(names, axis=1)
    table.index = pd.Index(table.index + first_row, name="row")
    return table


def _find_header(raw: pd.DataFrame, filled: pd.DataFrame, rows_with_data: pd.Series, where: str) -> int:
    """The first row spanning the table's width whose cells are mostly names rather than numbers."""
    candidates = rows_with_data.index[rows_with_data.to_numpy()][:HEADER_WINDOW]
    counts = filled.loc[candidates].sum(axis=1)
    widest = int(counts.max())
    # Second pass: a header may leave one column unnamed when the data rows below are all numbers.
    for least in (widest, widest - 1) if widest >= 3 else (widest,):
        for row in candidates[counts.to_numpy() >= least]:
            cells = [cell.strip() for cell in raw.loc[row] if cell.strip()]
            if 2 * sum(NUMBER_LIKE.fullmatch(cell) is None for cell in cells) > len(cells):
                return int(row)
    raise SpreadsheetError(
        f"{where} has no header row: none of its first {HEADER_WINDOW} rows with data names the table's "
        "columns (they hold numbers, not names). Add a first row with names such as 'Phone' and 'Name'."
    )


def _column_names(cells: list[str], positions: list[int]) -> list[str]:
    """Header cells as unique names: whitespace collapsed, blanks named ``Column N``, repeats ``_2``..."""
    names: list[str] = []
    taken: set[str] = set()
    for cell, position in zip(cells, positions, strict=True):
        base = " ".join(cell.split()) or f"Column {position + 1}"
        name, repeat = base, 2
        while name in taken:
            name, repeat = f"{base}_{repeat}", repeat + 1
        taken.add(name)
        names.append(name)
    return names
