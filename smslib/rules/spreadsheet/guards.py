"""The checks that run before any parser sees a file: its kind by magic bytes and contents,
and the fast pre-checks that refuse vast or hostile workbooks (zip inflation, the rectangle an
XLSX/ODS sheet's cells span, the XLS records) while reading as little as possible.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from pathlib import Path

from smslib.core.errors import SpreadsheetError

from .problems import (
    SAVE_AS_XLSX,
    SUPPORTED,
    damaged,
    not_a_spreadsheet,
    password_protected,
    size,
    too_vast,
)

# A real XLSX/ODS compresses maybe 5-10x; anything unpacking beyond this is a zip bomb.
ZIP_EXPANSION_FACTOR = 20

ZIP_UNPACKED_CEILING = 1024**3

ZIP_READ_CHUNK = 1024 * 1024  # inflate at most this much at once (see _read_member)

# calamine holds about 40 bytes per cell of a sheet's used rectangle: this is ~2 GB.
CELL_LIMIT = 50_000_000

TEXT_SUFFIXES = frozenset({".csv", ".tsv", ".txt"})

WORKBOOK_SUFFIXES = frozenset({".xlsx", ".xlsm", ".xls", ".ods"})

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


def detect_kind(data: bytes, filename: str, max_bytes: int) -> str:
    """``"text"`` or a workbook kind, from the content's magic bytes; the extension only names the file."""
    if data.startswith(ZIP_MAGIC):
        return _zip_kind(data, filename, max_bytes)
    if data.startswith(OLE_MAGIC):
        return _ole_kind(data, filename)
    for magic, what in FOREIGN_MAGIC:
        if data.startswith(magic):
            raise not_a_spreadsheet(filename, what)
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
        raise damaged(filename, e) from e


def _zip_contents_kind(archive: zipfile.ZipFile, filename: str, max_bytes: int) -> str:
    """``"xlsx"`` or ``"ods"`` from the member names; zip bombs and other documents are refused."""
    members = archive.infolist()
    unpacked = sum(member.file_size for member in members)
    ceiling = min(ZIP_EXPANSION_FACTOR * max_bytes, ZIP_UNPACKED_CEILING)
    if unpacked > ceiling:
        raise SpreadsheetError(
            f"'{filename}' would unpack to {size(unpacked)}, more than the {size(ceiling)} this app "
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
        raise not_a_spreadsheet(filename, "an Excel binary workbook (.xlsb)", SAVE_AS_XLSX)
    if "word/document.xml" in names or b"opendocument.text" in mimetype:
        raise not_a_spreadsheet(filename, "a text document (Word/Writer)")
    if "ppt/presentation.xml" in names or b"opendocument.presentation" in mimetype:
        raise not_a_spreadsheet(filename, "a presentation")
    raise not_a_spreadsheet(filename, "a ZIP archive")


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
            raise too_vast(filename, rows, columns)


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
            raise too_vast(filename, rows, columns)


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
        raise damaged(filename, e) from e
    if "EncryptedPackage" in ole.streams:
        raise password_protected(filename)
    if workbook is not None:
        _refuse_vast_xls_sheets(workbook, filename)
        return "xls"
    if "WordDocument" in ole.streams:
        raise not_a_spreadsheet(filename, "a Word document")
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
                    raise too_vast(filename, declared_rows, declared_columns)
        offset = body + size
    if rows * columns > CELL_LIMIT:
        raise too_vast(filename, rows, columns)
