"""Read real-world spreadsheets (CSV, TSV, TXT, XLSX, XLS, ODS) into text-only DataFrames; write exports.

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

Workbooks are checked before calamine parses them: the zip's unpacked size, and the
rectangle their cells span (calamine allocates it whole, so a few kilobytes naming a far
corner cell could otherwise take the process down).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import os
import re
import struct
import unicodedata
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import python_calamine

from smslib.core.errors import SpreadsheetError

__all__ = ["list_sheets", "neutralize_formulas", "read_table", "write_table"]

Source = bytes | bytearray | memoryview | str | os.PathLike[str] | BinaryIO

DEFAULT_MAX_ROWS = 1_000_000
DEFAULT_MAX_BYTES = 200 * 1024 * 1024
# A real XLSX/ODS compresses maybe 5-10x; anything unpacking beyond this is a zip bomb.
ZIP_EXPANSION_FACTOR = 20
ZIP_UNPACKED_CEILING = 1024**3
ZIP_READ_CHUNK = 1024 * 1024  # inflate at most this much at once (see _read_member)
# calamine holds about 40 bytes per cell of a sheet's used rectangle: this is ~2 GB.
CELL_LIMIT = 50_000_000
# The fast check: a cell past column AX (50) or row 999999; 50 x 999999 cells is under CELL_LIMIT.
XLSX_FAR_CELL = re.compile(rb'<c r="(?:[A-Za-z]{3}|[B-Zb-z][A-Za-z]|[Aa][Y-Zy-z]|[A-Za-z]{1,2}[0-9]{7})')
XLSX_PLAIN_ROW = re.compile(rb'<c r="[A-Za-z]+([0-9]+)')
XLSX_PLAIN_COLUMN = re.compile(rb'<c r="([A-Za-z]+)')
XLSX_PREFIXED_CELL = re.compile(rb"<\w+:c[\s>/]")
XLSX_OTHER_CELL_TAG = re.compile(rb'<c(?! r=")[\s>/]')  # a cell tag not written <c r="
# For cells written any other way (no reference, other quotes or spacing, a namespace prefix).
XLSX_REF = re.compile(rb"""\br\s*=\s*["']([A-Za-z]*)([0-9]+)["']""")
XLSX_ROW_TAG = re.compile(rb"<(?:\w+:)?row[\s>/]")
XLSX_ROW_TAG_WITH_REF = re.compile(rb"<(?:\w+:)?row\s[^>]*?\br\s*=")
XLSX_CELL_TAG = re.compile(rb"<(?:\w+:)?c[\s>/]")
XLSX_CELL_TAG_WITH_REF = re.compile(rb"<(?:\w+:)?c\s[^>]*?\br\s*=")
XLSX_ROW_END = re.compile(rb"</(?:\w+:)?row>")
ODS_ROW_START = re.compile(rb"<table:table-row(?=[\s/>])([^>]*?)(/?)>")
ODS_CELL_START = re.compile(rb"<table:(?:covered-)?table-cell(?=[\s/>])([^>]*?)(/?)>")
ODS_ROWS_REPEATED = re.compile(rb"""number-rows-repeated\s*=\s*["'](\d+)""")
ODS_COLUMNS_REPEATED = re.compile(rb"""number-columns-repeated\s*=\s*["'](\d+)""")
XLSX_PARTS_WITHOUT_CELLS = frozenset({"xl/sharedStrings.xml", "xl/styles.xml", "xl/workbook.xml"})
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

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
FOREIGN_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"PK\x05\x06", "an empty ZIP archive"),
)
# Sector numbers from here up mark chain ends and special sectors in an OLE2 file.
OLE_MAX_SECTOR = 0xFFFFFFFA
OLE_END_OF_CHAIN = 0xFFFFFFFE
# BIFF records calamine takes a cell position from: Formula, Number, Label, BoolErr, RK, LabelSst, MulRk.
XLS_MULRK = 0x00BD
XLS_CELL_RECORDS = frozenset({0x0006, 0x0203, 0x0204, 0x0205, 0x027E, 0x00FD, XLS_MULRK})
XLS_DIMENSIONS = 0x0200

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

# A cell that is a number, phone number, amount or date rather than a column name.
NUMBER_LIKE = re.compile(r"(?=.*\d)[\d\s+\-().,/:']+")
# Made visible in exports: control characters, bidirectional embeddings/overrides/isolates
# (which make a cell read in another order than it holds) and lone surrogates (which no
# file can encode). Newline, CR and tab are kept: they are layout inside a cell.
HIDDEN_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
PLAIN_SIGNED_NUMBER = re.compile(r"[+-][0-9]+(?:[.,][0-9]+)?")  # +48600123456, -5, -12,5


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
    kind = _detect_kind(data, filename, max_bytes)
    # Reading this many raw rows proves the table is over the limit, whatever sits above the header.
    row_cap = max_rows + HEADER_WINDOW + 2
    if kind == "text":
        if sheet is not None:
            raise SpreadsheetError(
                f"'{filename}' is a text file with a single table; it has no sheet '{sheet}'."
            )
        raw, filled, first_row = _read_text(data, filename, row_cap)
        where = f"'{filename}'"
    else:
        with _open_workbook(data, filename) as workbook:
            name, raw, filled = _read_workbook_sheet(workbook, filename, sheet, row_cap)
        first_row = 1
        where = f"sheet '{name}' of '{filename}'"
    if len(raw) >= row_cap:
        # The cap bounds the parsing work, so blank lines count; say so when they are the bulk.
        blank = len(raw) - int(np.asarray(filled).any(axis=1).sum())
        raise _too_many_rows(where, max_rows, blank_lines=blank if blank * 2 > len(raw) else 0)
    return _tidy(raw, filled, where, first_row, max_rows)


def list_sheets(source: Source, filename: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> list[str]:
    """Names of a workbook's visible worksheets, in order; ``[]`` for CSV/TSV/TXT (one table, no sheets)."""
    data = _read_source(source, filename, max_bytes)
    if _detect_kind(data, filename, max_bytes) == "text":
        return []
    with _open_workbook(data, filename) as workbook:
        return _visible_sheets(workbook)


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


# --- reading the bytes ------------------------------------------------------------------


def _read_source(source: Source, filename: str, max_bytes: int) -> bytes:
    """The whole file as bytes, refusing files over ``max_bytes`` before reading them in full."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        try:
            size = path.stat().st_size
            if size > max_bytes:
                raise _too_large(filename, max_bytes, size)
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
            raise _too_large(filename, max_bytes)
    if len(data) > max_bytes:
        raise _too_large(filename, max_bytes, len(data))
    if not data:
        raise SpreadsheetError(
            f"'{filename}' is empty: the file has no content. Check that you picked the right file."
        )
    return data


def _detect_kind(data: bytes, filename: str, max_bytes: int) -> str:
    """``"text"`` or a workbook kind, from the content's magic bytes; the extension only names the file."""
    if data.startswith(ZIP_MAGIC):
        return _zip_kind(data, filename, max_bytes)
    if data.startswith(OLE_MAGIC):
        return _ole_kind(data, filename)
    for magic, what in FOREIGN_MAGIC:
        if data.startswith(magic):
            raise _not_a_spreadsheet(filename, what)
    suffix = Path(filename).suffix.lower()
    if suffix in WORKBOOK_SUFFIXES | TEXT_SUFFIXES or not suffix:
        # A workbook extension on text is usually a CSV someone renamed; read it as the text it is.
        return "text"
    raise SpreadsheetError(f"'{filename}': files of type '{suffix}' are not supported; upload {SUPPORTED}.")


def _zip_kind(data: bytes, filename: str, max_bytes: int) -> str:
    """Which zip-based workbook this is, after checking it is whole and unpacks to a sane size."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            kind = _zip_contents_kind(archive, filename, max_bytes)
            if kind == "xlsx":
                _refuse_vast_xlsx_sheets(archive, filename)
            elif "content.xml" in archive.namelist():
                _refuse_vast_ods_sheets(_read_member(archive, "content.xml"), filename)
            return kind
    except SpreadsheetError:
        raise
    # zipfile reports some broken headers as ValueError ("negative seek value"); SpreadsheetError is one too.
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, ValueError) as e:
        raise _damaged(filename, e) from e


def _zip_contents_kind(archive: zipfile.ZipFile, filename: str, max_bytes: int) -> str:
    """``"xlsx"`` or ``"ods"`` from the member names; zip bombs and other documents are refused."""
    members = archive.infolist()
    unpacked = sum(member.file_size for member in members)
    ceiling = min(ZIP_EXPANSION_FACTOR * max_bytes, ZIP_UNPACKED_CEILING)
    if unpacked > ceiling:
        raise SpreadsheetError(
            f"'{filename}' would unpack to {_size(unpacked)}, more than the {_size(ceiling)} this app "
            "accepts from one upload; a normal spreadsheet of this size does not do that. "
            "Export the data as CSV instead."
        )
    names = {member.filename for member in members}
    for member in members:
        if not ("xl/workbook.xml" in names and _xlsx_part_with_cells(member.filename)):
            _read_member(archive, member, keep=False)  # the parts with cells: _refuse_vast_xlsx_sheets
    mimetype = _read_member(archive, "mimetype")[:100] if "mimetype" in names else b""
    if "xl/workbook.xml" in names:
        return "xlsx"
    if b"opendocument.spreadsheet" in mimetype:
        return "ods"
    if "xl/workbook.bin" in names:
        raise _not_a_spreadsheet(filename, "an Excel binary workbook (.xlsb)", SAVE_AS_XLSX)
    if "word/document.xml" in names or b"opendocument.text" in mimetype:
        raise _not_a_spreadsheet(filename, "a text document (Word/Writer)")
    if "ppt/presentation.xml" in names or b"opendocument.presentation" in mimetype:
        raise _not_a_spreadsheet(filename, "a presentation")
    raise _not_a_spreadsheet(filename, "a ZIP archive")


def _read_member(archive: zipfile.ZipFile, member: str | zipfile.ZipInfo, *, keep: bool = True) -> bytes:
    """A member's bytes, inflated a chunk at a time (or only checked, with ``keep=False``).

    The sizes checked above are what the headers declare, and a zip bomb can understate
    them: ``ZipFile.read`` would inflate such a member whole before noticing, while
    chunks stop at the declared size, where the checksum fails (``BadZipFile``). Every
    member is checked so, because calamine reads them on its own afterwards.
    """
    parts = []
    with archive.open(member) as stream:
        while chunk := stream.read(ZIP_READ_CHUNK):
            if keep:
                parts.append(chunk)
    return b"".join(parts)


def _refuse_vast_xlsx_sheets(archive: zipfile.ZipFile, filename: str) -> None:
    """Refuse sheets whose cells span a rectangle of more than CELL_LIMIT cells.

    calamine allocates the whole rectangle from the first to the last cell before returning,
    so a few kilobytes naming cells A1 and XFD1048576 would abort the process.
    """
    for member in archive.infolist():
        if not _xlsx_part_with_cells(member.filename):
            continue
        xml = _read_member(archive, member)
        if _xlsx_cells_plainly_referenced(xml):
            if XLSX_FAR_CELL.search(xml) is None:
                continue
            rows = max(map(int, set(XLSX_PLAIN_ROW.findall(xml))), default=0)
            columns = max(map(_column_number, set(XLSX_PLAIN_COLUMN.findall(xml))), default=0)
        else:
            rows, columns = _xlsx_extent_bound(xml)
        if rows * columns > CELL_LIMIT:
            raise _too_vast(filename, rows, columns)


def _xlsx_part_with_cells(name: str) -> bool:
    """Whether an XLSX member may hold cells (a sheet, or anything calamine might read as one)."""
    return name.startswith("xl/") and name.endswith(".xml") and name not in XLSX_PARTS_WITHOUT_CELLS


def _xlsx_cells_plainly_referenced(xml: bytes) -> bool:
    """True when every cell tag starts ``<c r="``, as Excel, LibreOffice and the Python writers save them.

    Two counts settle the usual sheet: when every ``<c`` is a ``<c r="`` there is no other
    cell tag; otherwise (``<col>``, ``<cols>`` ...) a pattern looks at the rest. A namespace
    prefix (``<x:c``) needs ``:c``, which an unprefixed sheet rarely holds at all.
    """
    if xml.count(b"<c") != xml.count(b'<c r="') and XLSX_OTHER_CELL_TAG.search(xml) is not None:
        return False
    return b":c" not in xml or XLSX_PREFIXED_CELL.search(xml) is None


def _xlsx_extent_bound(xml: bytes) -> tuple[int, int]:
    """Upper bounds of the rows and columns spanned by cells written any other way.

    Rows and cells without a reference take the next position, so each one may add one to
    the furthest reference.
    """
    refs = XLSX_REF.findall(xml)
    unreferenced_rows = len(XLSX_ROW_TAG.findall(xml)) - len(XLSX_ROW_TAG_WITH_REF.findall(xml))
    rows = max((int(digits) for _, digits in refs), default=0) + unreferenced_rows
    furthest_column = max(map(_column_number, {letters for letters, _ in refs if letters}), default=0)
    unreferenced_cells = max(
        (
            len(XLSX_CELL_TAG.findall(row)) - len(XLSX_CELL_TAG_WITH_REF.findall(row))
            for row in XLSX_ROW_END.split(xml)
        ),
        default=0,
    )
    return rows, furthest_column + unreferenced_cells


def _refuse_vast_ods_sheets(xml: bytes, filename: str) -> None:
    """Refuse an ODS whose valued cells span more than CELL_LIMIT cells in some sheet.

    ODS stores runs of equal rows and cells once with a repeat count, so a few bytes can place
    a value a million rows down and thousands of columns across; calamine then allocates the
    whole rectangle. Empty runs after the last value (LibreOffice writes them) cost nothing.
    """
    for table in xml.split(b"</table:table>"):
        rows = columns = position = 0
        for chunk in table.split(b"</table:table-row>"):
            starts = ODS_ROW_START.findall(chunk)
            if not starts:
                continue
            # Only the last row tag of a chunk is closed by the split; any before it are empty (self-closing).
            position += sum(_ods_repeat(attributes, ODS_ROWS_REPEATED) for attributes, _ in starts[:-1])
            attributes, self_closing = starts[-1]
            repeat = _ods_repeat(attributes, ODS_ROWS_REPEATED)
            if not self_closing and (b"</table:" in chunk or b"value-type" in chunk):
                rows = position + repeat
                columns = max(columns, _ods_row_width(chunk))
            position += repeat
        if rows * columns > CELL_LIMIT:
            raise _too_vast(filename, rows, columns)


def _ods_row_width(row: bytes) -> int:
    """The column just past a row's last cell that may hold a value."""
    if b"columns-repeated" not in row:
        return row.count(b"<table:table-cell") + row.count(b"<table:covered-table-cell")
    width = position = 0
    for attributes, self_closing in ODS_CELL_START.findall(row):
        position += _ods_repeat(attributes, ODS_COLUMNS_REPEATED)
        if not self_closing or b"value-type" in attributes:
            width = position
    return width


def _ods_repeat(attributes: bytes, pattern: re.Pattern[bytes]) -> int:
    """A row's or cell's repeat count (1 when it has none)."""
    match = pattern.search(attributes)
    return int(match.group(1)) if match else 1


def _column_number(letters: bytes) -> int:
    """An Excel column's 1-based number from its letters (A=1, Z=26, AA=27)."""
    number = 0
    for letter in letters.upper():
        number = number * 26 + letter - ord("A") + 1
    return number


def _ole_kind(data: bytes, filename: str) -> str:
    """``"xls"`` for an old-style Excel workbook of sane size; other OLE files are explained and refused."""
    try:
        ole = _CompoundFile(data)
        name = next((name for name in ("Workbook", "Book") if name in ole.streams), None)
        workbook = ole.read(name) if name is not None else None
    except (struct.error, IndexError, ValueError) as e:
        raise _damaged(filename, e) from e
    if "EncryptedPackage" in ole.streams:
        raise _password_protected(filename)
    if workbook is not None:
        _refuse_vast_xls_sheets(workbook, filename)
        return "xls"
    if "WordDocument" in ole.streams:
        raise _not_a_spreadsheet(filename, "a Word document")
    raise SpreadsheetError(
        f"'{filename}' is an old-style Office file but holds no Excel workbook. {SAVE_AS_XLSX}"
    )


class _CompoundFile:
    """Just enough of an OLE2 compound file [MS-CFB] to list its streams and read one."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        sector_shift, mini_shift = struct.unpack_from("<HH", data, 30)
        if sector_shift not in (9, 12) or mini_shift != 6:
            raise ValueError("not an OLE2 sector layout")
        self.shift = sector_shift
        fat_count, directory_start, _, self.mini_cutoff, mini_fat_start, _, difat_next, difat_count = (
            struct.unpack_from("<8I", data, 44)
        )
        fat_sectors = list(struct.unpack_from("<109I", data, 76))
        for _ in range(difat_count):
            entries = self._ints(difat_next)
            fat_sectors += entries[:-1]
            difat_next = entries[-1]
        self.fat = [entry for sector in fat_sectors[:fat_count] for entry in self._ints(sector)]
        directory = self._chain_bytes(directory_start)
        self.streams: dict[str, tuple[int, int]] = {}
        root = (OLE_END_OF_CHAIN, 0)
        for offset in range(0, len(directory) - 127, 128):
            name_size, kind = struct.unpack_from("<HB", directory, offset + 64)
            start, size = struct.unpack_from("<IQ", directory, offset + 116)
            if sector_shift == 9:
                size &= 0xFFFFFFFF  # version 3 leaves the high half undefined
            name = directory[offset : offset + max(name_size - 2, 0)].decode("utf-16-le", "replace")
            if kind == 5:
                root = (start, size)
            elif kind == 2:
                self.streams.setdefault(name, (start, size))
        self.mini_stream = self._chain_bytes(root[0])[: root[1]]
        mini_fat_sectors = self._chain(mini_fat_start, self.fat)
        self.mini_fat = [entry for sector in mini_fat_sectors for entry in self._ints(sector)]

    def read(self, name: str) -> bytes:
        """The whole stream ``name``."""
        start, size = self.streams[name]
        if size >= self.mini_cutoff:
            return self._chain_bytes(start)[:size]
        chain = self._chain(start, self.mini_fat)
        return b"".join(self.mini_stream[sector * 64 : sector * 64 + 64] for sector in chain)[:size]

    def _sector(self, sector: int) -> bytes:
        """The bytes of one regular sector (sector 0 follows the header)."""
        return self.data[(sector + 1) << self.shift : (sector + 2) << self.shift]

    def _ints(self, sector: int) -> list[int]:
        """A sector read as little-endian 32-bit entries (FAT, DIFAT and mini FAT sectors)."""
        return list(struct.unpack(f"<{1 << (self.shift - 2)}I", self._sector(sector)))

    def _chain(self, start: int, table: list[int]) -> list[int]:
        """The sectors of a chain, followed through ``table``; a chain that loops is damage."""
        chain: list[int] = []
        sector = start
        while sector < OLE_MAX_SECTOR:
            if len(chain) > len(table):
                raise ValueError("a sector chain loops")
            chain.append(sector)
            sector = table[sector]
        return chain

    def _chain_bytes(self, start: int) -> bytes:
        """The bytes of a chain of regular sectors."""
        return b"".join(self._sector(sector) for sector in self._chain(start, self.fat))


def _refuse_vast_xls_sheets(stream: bytes, filename: str) -> None:
    """Refuse a BIFF workbook stream whose cells (or declared dimensions) span more than CELL_LIMIT cells.

    calamine parses every sheet of an .xls when opening it and allocates each one's full
    rectangle, so a tiny file with cells at A1 and (65535, 65535) would abort the process.
    """
    rows = columns = 0
    offset, end = 0, len(stream)
    # One unpack per record (type, size and, for cell records, row and column) keeps this loop quick.
    header = struct.Struct("<HHHH").unpack_from
    while offset + 8 <= end:
        kind, size, row, column = header(stream, offset)
        body = offset + 4
        if body + size > end:
            break  # a cut-off record: calamine reports the damage
        if kind in XLS_CELL_RECORDS and size >= 4:
            if kind == XLS_MULRK and size >= 6:
                (column,) = struct.unpack_from("<H", stream, body + size - 2)
            if row >= rows:
                rows = row + 1
            if column >= columns:
                columns = column + 1
        elif kind == XLS_DIMENSIONS and size in (10, 14):
            first_row, end_row, first_column, end_column = struct.unpack_from(
                "<IIHH" if size == 14 else "<HHHH", stream, body
            )
            # calamine reserves room for (end - first) cells per axis, in unsigned arithmetic that
            # wraps around to billions when an end lies before its start.
            if end_row and end_column:
                declared_rows = (end_row - first_row) % 2**32
                declared_columns = (end_column - first_column) % 2**32
                if declared_rows * declared_columns > CELL_LIMIT:
                    raise _too_vast(filename, declared_rows, declared_columns)
        offset = body + size
    if rows * columns > CELL_LIMIT:
        raise _too_vast(filename, rows, columns)


# --- text files -------------------------------------------------------------------------


def _read_text(data: bytes, filename: str, row_cap: int) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Raw cells, their non-empty mask and the first row's number for a delimited text file."""
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
    return raw, _filled(raw), first_row


def _decode(data: bytes, filename: str) -> str:
    """The file's text, from its BOM, UTF-8, or the likelier of cp1250 and ISO-8859-2."""
    for bom, encoding in TEXT_BOMS:
        if data.startswith(bom):
            return _decode_as(data, encoding, filename)
    if b"\x00" in data:
        encoding = _bomless_utf16(data)
        if encoding is None:
            raise _binary_junk(filename)
        return _decode_as(data, encoding, filename)
    counts = _byte_counts(data)
    if counts[JUNK_CONTROL_BYTES].sum() > JUNK_CONTROL_SHARE * len(data):
        raise _binary_junk(filename)
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
        raise _not_a_spreadsheet(filename, "a web page (HTML)", SAVE_AS_XLSX_OR_CSV)
    if head.startswith("<?xml"):
        excel_2003 = "urn:schemas-microsoft-com:office:spreadsheet" in head
        what = "an Excel 2003 XML spreadsheet" if excel_2003 else "an XML file"
        raise _not_a_spreadsheet(filename, what, SAVE_AS_XLSX_OR_CSV)


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


# --- workbooks --------------------------------------------------------------------------


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


# --- shaping the table ------------------------------------------------------------------


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
        raise _too_many_rows(where, max_rows)
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


# --- exports ----------------------------------------------------------------------------


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


# --- errors for people ------------------------------------------------------------------


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
