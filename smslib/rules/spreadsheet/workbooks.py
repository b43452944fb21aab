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

from .problems import damaged, password_protected


@contextmanager
def open_workbook(data: bytes, filename: str) -> Iterator[python_calamine.CalamineWorkbook]:
    """A calamine workbook whose library errors come out as SpreadsheetError."""
    try:
        with python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data)) as workbook:
            yield workbook
    except python_calamine.PasswordError as e:
        raise password_protected(filename) from e
    except python_calamine.CalamineError as e:
        raise damaged(filename, e) from e
    except BaseException as e:
        # calamine panics on some malformed files; pyo3 raises that as a BaseException subclass
        # that cannot be imported by name.
        if type(e).__name__ != "PanicException":
            raise
        raise damaged(filename, e) from e


def visible_sheets(workbook: python_calamine.CalamineWorkbook) -> list[str]:
    """Worksheets a person sees in Excel (no hidden sheets, no chart sheets)."""
    shown = (python_calamine.SheetTypeEnum.WorkSheet, python_calamine.SheetVisibleEnum.Visible)
    return [sheet.name for sheet in workbook.sheets_metadata if (sheet.typ, sheet.visible) == shown]


def resolve_sheet_name(workbook: python_calamine.CalamineWorkbook, wanted: str, filename: str) -> str:
    """The workbook's own spelling of ``wanted``, forgiving case and surrounding spaces."""
    if wanted in workbook.sheet_names:
        return wanted
    loose = [name for name in workbook.sheet_names if name.strip().casefold() == wanted.strip().casefold()]
    if len(loose) == 1:
        return loose[0]
    available = ", ".join(f"'{name}'" for name in visible_sheets(workbook)) or "none"
    raise SpreadsheetError(f"'{filename}' has no sheet named '{wanted}'. Its sheets are: {available}.")


def sheet_cells(sheet: python_calamine.CalamineSheet, row_cap: int) -> pd.DataFrame:
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
