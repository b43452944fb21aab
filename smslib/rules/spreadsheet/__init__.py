"""Untrusted spreadsheets in, text-only DataFrames out; exports that cannot run formulas.

What ``read_table`` returns:

- every column has pandas' ``str`` dtype and every cell is text; a missing cell is ``""``
  (never NaN/NA), so phone numbers keep their ``+`` and leading zeros and never become floats;
- numbers a workbook stored as numbers come back as their digits (``48600123456.0`` ->
  ``"48600123456"``), other floats as their shortest repr, dates and times in ISO 8601
  (``"2024-01-31"``, ``"2024-01-31 10:30:00"``), booleans as ``"TRUE"``/``"FALSE"``;
- cell text is kept as in the file; whitespace-only cells count as empty when fully
  empty rows and columns are dropped;
- column names are the header row's cells with whitespace collapsed, made unique
  (``Phone``, ``Phone_2``); an empty header cell becomes ``Column N`` (N counts from 1 at
  the sheet's first column, so ``Column 3`` is column C);
- the index, named ``row``, is each row's 1-based number as a spreadsheet program shows
  it, so messages about a row can point at the right line of the person's file.

Every problem with the input raises ``SpreadsheetError`` with a sentence for a person.
Workbooks are checked before calamine parses them (``guards``): the zip's unpacked size, and
the rectangle their cells span (calamine allocates it whole, so a few kilobytes naming a far
corner cell could otherwise take the process down).

Modules: ``problems`` (shared limits and advice, errors for people) → ``guards`` (file kind and
the pre-parse checks, with their own limits such as ``guards.CELL_LIMIT``), ``text_files``,
``workbooks`` → ``reading`` (sources, sheet choice, header and row numbers); ``exports`` apart.
A limit lives in the one module that reads it, so patch it there. May import: ``smslib.core``,
pandas/numpy, python-calamine. Never the store, the gateway, the services or streamlit.
"""

from __future__ import annotations

from .exports import neutralize_formulas, write_table
from .problems import DEFAULT_MAX_BYTES, DEFAULT_MAX_ROWS, SUPPORTED
from .reading import Source, list_sheets, read_table

__all__ = ["DEFAULT_MAX_BYTES", "DEFAULT_MAX_ROWS", "SUPPORTED", "Source", "list_sheets", "neutralize_formulas",
           "read_table", "write_table"]
