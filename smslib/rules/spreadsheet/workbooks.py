"""XLSX/XLS/ODS through python-calamine: opening, visible sheets, cells as text.
"""

from __future__ import annotations

import datetime as dt
import io
import math
from collections.abc import Iterator
from contextlib import contextmanager

import pandas as pd
import python_calamine
from smslib.core.errors import SpreadsheetError

from .problems import _damaged, _filled, _password_protected


@contextmanager
def _open_workbook(data: bytes, filename: str) -> Iterator[python_calamine.CalamineWorkbook]:
    """A calamine workbook whose library errors come out as SpreadsheetError."""
    try:
        with python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data)) as workbook:
            yield workbook
    except python_calamine.PasswordError as e:
        raise _password_protected(filename) from e
    except python_calamine.CalamineError as e:
        raise _damaged(filename, e) from e
    except BaseException as e:
        # calamine panics on some malformed files; pyo3 raises that as a BaseException subclass
        # that cannot be imported by name.
        if type(e).__name__ != "PanicException":
            raise
        raise _damaged(filename, e) from e


def _read_workbook_sheet(
    workbook: python_calamine.CalamineWorkbook, filename: str, sheet: str | None, row_cap: int
) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    """The chosen sheet's name, raw cells and non-empty mask; by default the first visible sheet with data."""
    if sheet is not None:
        name = _resolve_sheet_name(workbook, sheet, filename)
        raw = _sheet_cells(workbook.get_sheet_by_name(name), row_cap)
        return name, raw, _filled(raw)
    for name in _visible_sheets(workbook):
        raw = _sheet_cells(workbook.get_sheet_by_name(name), row_cap)
        filled = _filled(raw)
        if filled.to_numpy().any():
            return name, raw, filled
    raise SpreadsheetError(f"'{filename}' is empty: none of its sheets holds any data.")


def _visible_sheets(workbook: python_calamine.CalamineWorkbook) -> list[str]:
    """Worksheets a person sees in Excel (no hidden sheets, no chart sheets)."""
    shown = (python_calamine.SheetTypeEnum.WorkSheet, python_calamine.SheetVisibleEnum.Visible)
    return [sheet.name for sheet in workbook.sheets_metadata if (sheet.typ, sheet.visible) == shown]


def _resolve_sheet_name(workbook: python_calamine.CalamineWorkbook, wanted: str, filename: str) -> str:
    """The workbook's own spelling of ``wanted``, forgiving case and surrounding spaces."""
    if wanted in workbook.sheet_names:
        return wanted
    loose = [name for name in workbook.sheet_names if name.strip().casefold() == wanted.strip().casefold()]
    if len(loose) == 1:
        return loose[0]
    available = ", ".join(f"'{name}'" for name in _visible_sheets(workbook)) or "none"
    raise SpreadsheetError(f"'{filename}' has no sheet named '{wanted}'. Its sheets are: {available}.")


def _sheet_cells(sheet: python_calamine.CalamineSheet, row_cap: int) -> pd.DataFrame:
    """The sheet from cell A1 as text cells, at most ``row_cap`` rows."""
    rows = sheet.to_python(skip_empty_area=False, nrows=row_cap)
    return pd.DataFrame(
        [[value if type(value) is str else _cell_text(value) for value in row] for row in rows],
        dtype=object,
    ).astype("str")


def _cell_text(value: object) -> str:
    """A workbook value as the text a person typed or sees."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)
