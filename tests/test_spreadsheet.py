"""smslib.rules.spreadsheet: real-world files in, text-only DataFrames out; exports that cannot run formulas."""

from __future__ import annotations

import datetime as dt
import io
import os
import struct
import zipfile

import pandas as pd
import pytest
import xlsxwriter
from hypothesis import given, settings
from hypothesis import strategies as st

from smslib.core.errors import SpreadsheetError
from smslib.rules.spreadsheet import list_sheets, neutralize_formulas, read_table, write_table

POLISH = "Zażółć gęślą jaźń ŚŹĄ"
CSV_ENCODINGS = ["utf-8", "utf-8-sig", "cp1250", "iso-8859-2", "utf-16"]
DELIMITERS = [",", ";", "\t", "|"]


# --- fixture builders -------------------------------------------------------------------


def csv_bytes(rows: list[list[str]], delimiter: str = ",", encoding: str = "utf-8") -> bytes:
    """Rows joined the way Excel saves them (CRLF), quoting fields that need it."""
    buffer = io.StringIO()
    pd.DataFrame(rows).to_csv(buffer, sep=delimiter, header=False, index=False, lineterminator="\r\n")
    return buffer.getvalue().encode(encoding)


def xlsx_bytes(sheets: dict[str, list[list[object]]], hidden: tuple[str, ...] = ()) -> bytes:
    """An XLSX with one sheet per entry; strings are written as text, never as formulas."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False})
    date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
    for name, rows in sheets.items():
        sheet = workbook.add_worksheet(name)
        if name in hidden:
            sheet.hide()
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if isinstance(value, dt.date):
                    sheet.write_datetime(r, c, value, date_format)
                elif value is not None:
                    sheet.write(r, c, value)
    workbook.close()
    return buffer.getvalue()


def biff_record(kind: int, payload: bytes = b"") -> bytes:
    return struct.pack("<HH", kind, len(payload)) + payload


def xls_bytes(sheet_name: str, cells: list[tuple[int, int, object]], sheet_records: bytes = b"") -> bytes:
    """A minimal BIFF8 workbook in an OLE2 file: one sheet, ``sheet_records`` then Number/Label cells."""

    def bof(kind: int) -> bytes:
        return biff_record(0x0809, struct.pack("<HHHHII", 0x0600, kind, 0, 0, 0, 0))

    def boundsheet(offset: int) -> bytes:
        name = sheet_name.encode("utf-16-le")
        return biff_record(0x0085, struct.pack("<IBBBB", offset, 0, 0, len(sheet_name), 1) + name)

    records = []
    for row, col, value in cells:
        if isinstance(value, str):
            text = value.encode("utf-16-le")
            records.append(biff_record(0x0204, struct.pack("<HHHHB", row, col, 0, len(value), 1) + text))
        else:
            records.append(biff_record(0x0203, struct.pack("<HHHd", row, col, 0, value)))
    sheet = bof(0x10) + sheet_records + b"".join(records) + biff_record(0x000A)
    globals_size = len(bof(5) + boundsheet(0) + biff_record(0x000A))
    return compound_file("Workbook", bof(5) + boundsheet(globals_size) + biff_record(0x000A) + sheet)


def compound_file(stream_name: str, stream: bytes) -> bytes:
    """An OLE2 compound file (version 3) holding one stream; under 4096 bytes it goes to the mini stream."""
    end, free, fat_sector = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD
    mini = len(stream) < 4096
    if mini:
        mini_sectors = -(-len(stream) // 64)
        container = stream.ljust(-(-mini_sectors * 64 // 512) * 512, b"\0")
        mini_fat = [*range(1, mini_sectors), end] + [free] * (128 - mini_sectors)
        body = struct.pack("<128I", *mini_fat) + container  # sector 2: mini FAT, 3...: mini stream
        data_sectors = len(container) // 512
        fat = [fat_sector, end, end, *range(4, 3 + data_sectors), end]
        root_start, root_size, stream_start = 3, len(container), 0
    else:
        body = stream.ljust(-(-len(stream) // 512) * 512, b"\0")
        data_sectors = len(body) // 512
        fat = [fat_sector, end, *range(3, 2 + data_sectors), end]
        root_start, root_size, stream_start = end, 0, 2
    fat += [free] * (128 - len(fat))
    header = (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
        + b"\0" * 16
        # version, byte order, sector shifts; then counts and starts: FAT, directory, mini FAT, DIFAT.
        + struct.pack("<HHHHH6xIIIII", 0x3E, 3, 0xFFFE, 9, 6, 0, 1, 1, 0, 4096)
        + struct.pack("<IIII", 2 if mini else end, int(mini), end, 0)
        + struct.pack("<109I", 0, *[free] * 108)
    )

    def entry(name: str, kind: int, child: int, start: int, size: int) -> bytes:
        raw = name.encode("utf-16-le") + b"\0\0"
        fields = struct.pack(
            "<HBBIII16sIQQIQ", len(raw), kind, 1, free, free, child, b"\0" * 16, 0, 0, 0, start, size
        )
        return raw.ljust(64, b"\0") + fields

    root = entry("Root Entry", 5, 1, root_start, root_size)
    directory = root + entry(stream_name, 2, free, stream_start, len(stream))
    return header + struct.pack("<128I", *fat) + directory.ljust(512, b"\0") + body


def rewrite_zip(data: bytes, replace: dict[str, bytes]) -> bytes:
    """``data`` (a zip) with some members replaced or added."""
    out = io.BytesIO()
    replace = dict(replace)
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        members = {name: replace.pop(name, source.read(name)) for name in source.namelist()}
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name, content in {**members, **replace}.items():
            target.writestr(name, content)
    return out.getvalue()


def as_lists(df: pd.DataFrame) -> list[list[str]]:
    return [list(df.columns), *df.to_numpy().tolist()]


# --- CSV and other text -----------------------------------------------------------------


@pytest.mark.parametrize("encoding", CSV_ENCODINGS)
@pytest.mark.parametrize("delimiter", DELIMITERS)
def test_csv_in_every_encoding_and_delimiter(encoding: str, delimiter: str) -> None:
    rows = [["Telefon", "Imię", "Kwota"], ["+48600123456", POLISH, "12,50"], ["0048600123456", "Jan", "7"]]
    df = read_table(csv_bytes(rows, delimiter, encoding), "klienci.csv")
    assert as_lists(df) == rows
    assert all(dtype == "str" for dtype in df.dtypes)
    assert df.index.tolist() == [2, 3] and df.index.name == "row"


@pytest.mark.parametrize("encoding", ["cp1250", "iso-8859-2"])
def test_cp1250_and_iso_8859_2_are_told_apart_by_their_polish_letters(encoding: str) -> None:
    # ś, ź, ą and their capitals are the letters on which the two code pages disagree.
    text = "Imię\r\nŚwiątek Źrebięcka\r\nżółć ąś\r\n"
    df = read_table(text.encode(encoding), "x.csv")
    assert df["Imię"].tolist() == ["Świątek Źrebięcka", "żółć ąś"]


def test_quoted_fields_keep_delimiters_quotes_and_newlines() -> None:
    data = b'Phone;Note\r\n"+48 600";"a; b\r\nsecond line"\r\n"600";"say ""hi"""\r\n'
    df = read_table(data, "notes.csv")
    assert df["Note"].tolist() == ["a; b\r\nsecond line", 'say "hi"']
    assert df.index.tolist() == [2, 3]  # a record with a newline is still one spreadsheet row


def test_excel_unicode_text_is_utf16_with_bom_and_tabs() -> None:
    data = "\ufeffPhone\tName\r\n48600123456\tŻaneta\r\n".encode("utf-16-le")
    assert as_lists(read_table(data, "unicode.txt")) == [["Phone", "Name"], ["48600123456", "Żaneta"]]


def test_utf16_without_bom_is_recognised_by_its_zero_bytes() -> None:
    data = "Phone\tName\r\n600123456\tŁucja\r\n".encode("utf-16-le")
    assert as_lists(read_table(data, "unicode.txt")) == [["Phone", "Name"], ["600123456", "Łucja"]]


def test_excel_sep_line_sets_the_delimiter_and_counts_as_a_row() -> None:
    df = read_table(b"sep=|\r\nPhone|Name\r\n600,1|Jan;K\r\n", "x.csv")
    assert as_lists(df) == [["Phone", "Name"], ["600,1", "Jan;K"]]
    assert df.index.tolist() == [3]


def test_title_rows_blank_lines_and_empty_columns_around_a_csv_table() -> None:
    data = b"Customer list;;;\r\n\r\n;Phone;Name;\r\n;600123456;Jan;\r\n\r\n;700123456;Ewa;\r\n\x1a"
    df = read_table(data, "list.csv")
    assert as_lists(df) == [["Phone", "Name"], ["600123456", "Jan"], ["700123456", "Ewa"]]
    assert df.index.tolist() == [4, 6]


def test_a_row_wider_than_the_first_lines_is_read_whole() -> None:
    # Past the first 64 KB that the delimiter and width are sniffed from.
    rows = "\r\n".join(["Phone,Name"] + [f"60012{i:04},N{i}" for i in range(6000)] + ["600,Late,extra"])
    df = read_table(rows.encode(), "wide.csv")
    assert df.columns.tolist() == ["Phone", "Name", "Column 3"]
    assert df.iloc[-1].tolist() == ["600", "Late", "extra"]
    assert df["Column 3"].iloc[0] == ""


def test_a_quote_that_never_closes_is_explained() -> None:
    with pytest.raises(SpreadsheetError, match="quote"):
        read_table(b'Phone,Name\r\n600,"Jan\r\n700,Ewa\r\n', "broken.csv")


def test_a_single_column_of_phone_numbers_reads_without_a_delimiter() -> None:
    df = read_table(b"phone\n+48600123456\n0048600123456\n", "numbers.txt")
    assert df["phone"].tolist() == ["+48600123456", "0048600123456"]


# --- workbooks --------------------------------------------------------------------------


def test_xlsx_numbers_come_back_as_their_digits_below_title_rows() -> None:
    data = xlsx_bytes(
        {
            "Klienci": [
                ["Lista klientów na SMS"],
                [None, "stan na", dt.date(2024, 1, 31)],
                [],
                ["Phone", "Name", "Joined", "Score", "VIP"],
                [48600123456, "Żaneta", dt.date(2024, 1, 31), 12.5, True],
                [600123456, "Jan", None, 0.1, False],
                ["0048600123456", "Ewa", None, 1e20, None],
            ]
        }
    )
    df = read_table(data, "klienci.xlsx")
    assert df.columns.tolist() == ["Phone", "Name", "Joined", "Score", "VIP"]
    assert df["Phone"].tolist() == ["48600123456", "600123456", "0048600123456"]
    assert df["Joined"].tolist() == ["2024-01-31", "", ""]
    assert df["Score"].tolist() == ["12.5", "0.1", "100000000000000000000"]
    assert df["VIP"].tolist() == ["TRUE", "FALSE", ""]
    assert df.index.tolist() == [5, 6, 7]  # Excel's own row numbers


def test_header_names_are_stripped_unique_and_blank_ones_numbered() -> None:
    header = ["  Phone ", "Phone", "", "Numer\ntelefonu", "Phone_2"]
    data = xlsx_bytes({"S": [header, ["1", "2", "3", "4", "5"]]})
    names = ["Phone", "Phone_2", "Column 3", "Numer telefonu", "Phone_2_2"]
    assert read_table(data, "x.xlsx").columns.tolist() == names


def test_the_first_visible_sheet_with_data_is_the_default() -> None:
    sheets = {"Cover": [], "Hidden": [["Secret"], ["1"]], "Data": [["Phone"], [600123456]]}
    data = xlsx_bytes(sheets, hidden=("Hidden",))
    assert as_lists(read_table(data, "book.xlsx")) == [["Phone"], ["600123456"]]
    assert list_sheets(data, "book.xlsx") == ["Cover", "Data"]


def test_a_sheet_is_picked_by_name_forgiving_case_and_spaces() -> None:
    data = xlsx_bytes({"First": [["A"], ["1"]], "Second": [["B"], ["2"]]})
    assert as_lists(read_table(data, "book.xlsx", sheet="Second")) == [["B"], ["2"]]
    assert as_lists(read_table(data, "book.xlsx", sheet=" second ")) == [["B"], ["2"]]


def test_an_unknown_sheet_lists_the_available_ones() -> None:
    data = xlsx_bytes({"First": [["A"], ["1"]], "Second": [["B"], ["2"]]})
    with pytest.raises(SpreadsheetError, match="no sheet named 'Third'.*'First', 'Second'"):
        read_table(data, "book.xlsx", sheet="Third")


def test_an_explicitly_chosen_empty_sheet_says_so() -> None:
    data = xlsx_bytes({"Data": [["A"], ["1"]], "Empty": []})
    with pytest.raises(SpreadsheetError, match="sheet 'Empty' of 'book.xlsx' is empty"):
        read_table(data, "book.xlsx", sheet="Empty")


def test_ods_via_odfpy() -> None:
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="odf") as writer:
        pd.DataFrame().to_excel(writer, sheet_name="Pusty")
        frame = pd.DataFrame(
            {"Telefon": [48600123456, 600123456], "Imię": ["Żaneta", "Jan"], "Tel2": ["0048600123456", ""]}
        )
        frame.to_excel(writer, sheet_name="Klienci", index=False)
    data = buffer.getvalue()
    df = read_table(data, "klienci.ods")
    assert as_lists(df) == [
        ["Telefon", "Imię", "Tel2"],
        ["48600123456", "Żaneta", "0048600123456"],
        ["600123456", "Jan", ""],
    ]
    assert list_sheets(data, "klienci.ods") == ["Pusty", "Klienci"]


def ods_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_excel(buffer, engine="odf", index=False, sheet_name="S")
    return buffer.getvalue()


def with_ods_rows_appended(data: bytes, rows_xml: bytes) -> bytes:
    """``data`` (an ODS) with ``rows_xml`` added after the first sheet's last row."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        content = archive.read("content.xml")
    content = content.replace(b"</table:table>", rows_xml + b"</table:table>", 1)
    return rewrite_zip(data, {"content.xml": content})


def test_ods_with_libreoffice_style_empty_runs_reads_normally() -> None:
    # LibreOffice pads sheets with huge repeated empty rows and cells; they hold nothing.
    empty_runs = (
        b'<table:table-row table:number-rows-repeated="1048570">'
        b'<table:table-cell table:number-columns-repeated="16384"/></table:table-row>'
    )
    data = with_ods_rows_appended(ods_bytes(pd.DataFrame({"Phone": ["600123456"]})), empty_runs)
    assert as_lists(read_table(data, "lo.ods")) == [["Phone"], ["600123456"]]


@pytest.mark.parametrize(
    "far_value",
    [
        b'<table:table-row table:number-rows-repeated="2000000"><table:table-cell office:value-type="float"'
        b' office:value="1" table:number-columns-repeated="100"/></table:table-row>',
        b'<table:table-row table:number-rows-repeated="999999"><table:table-cell/></table:table-row>'
        b'<table:table-row><table:table-cell table:number-columns-repeated="999"/>'
        b'<table:table-cell office:value-type="string"><text:p>x</text:p></table:table-cell>'
        b"</table:table-row>",
    ],
    ids=["repeated-values", "value-after-empty-runs"],
)
def test_an_ods_value_repeated_or_placed_far_away_is_refused_not_allocated(far_value: bytes) -> None:
    data = with_ods_rows_appended(ods_bytes(pd.DataFrame({"Phone": ["600123456"]})), far_value)
    with pytest.raises(SpreadsheetError, match="more than this app can load"):
        read_table(data, "far.ods")


def test_xls_numbers_and_text_cells() -> None:
    cells = [(0, 0, "Phone"), (0, 1, "Name"), (1, 0, 48600123456.0), (1, 1, "Żaneta"), (2, 0, "0048600")]
    data = xls_bytes("Klienci", cells)
    df = read_table(data, "stary.xls")
    assert as_lists(df) == [["Phone", "Name"], ["48600123456", "Żaneta"], ["0048600", ""]]
    assert list_sheets(data, "stary.xls") == ["Klienci"]


def test_a_workbook_with_a_csv_extension_is_read_as_the_workbook_it_is() -> None:
    data = xlsx_bytes({"S": [["Phone"], [600123456]]})
    assert as_lists(read_table(data, "export.csv")) == [["Phone"], ["600123456"]]


def test_text_files_have_no_sheets() -> None:
    assert list_sheets(b"Phone\n1\n", "a.csv") == []
    with pytest.raises(SpreadsheetError, match="no sheet 'Data'"):
        read_table(b"Phone\n1\n", "a.csv", sheet="Data")


# --- sources ----------------------------------------------------------------------------


def test_path_file_object_and_bytes_give_the_same_table(tmp_path) -> None:
    data = csv_bytes([["Phone"], ["+48600123456"]])
    path = tmp_path / "a.csv"
    path.write_bytes(data)
    upload = io.BytesIO(data)
    upload.read(5)  # a page may have peeked at the upload already
    expected = read_table(data, "a.csv")
    for source in (path, str(path), upload):
        pd.testing.assert_frame_equal(read_table(source, "a.csv"), expected)


def test_a_missing_path_is_a_spreadsheet_error(tmp_path) -> None:
    with pytest.raises(SpreadsheetError, match="Cannot open 'gone.csv'"):
        read_table(tmp_path / "gone.csv", "gone.csv")


# --- bad input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (b"", "empty.csv", "'empty.csv' is empty"),
        (b"\xef\xbb\xbf\r\n\r\n  \r\n", "blank.csv", "'blank.csv' is empty"),
        (b"\x89PNG\r\n\x1a\n" + os.urandom(200), "photo.xlsx", "is a PNG image, not a spreadsheet"),
        (b"%PDF-1.7\n" + os.urandom(200), "invoice.xls", "is a PDF document"),
        (bytes(range(256)) * 8, "random.csv", "contains binary data"),
        (b"<html><body><table><tr><td>Phone</td></tr></table></body></html>", "bank.xls", "web page"),
        (b"Phone\n1\n", "notes.docx", "files of type '.docx' are not supported"),
    ],
)
def test_bad_input_is_explained(data: bytes, filename: str, message: str) -> None:
    with pytest.raises(SpreadsheetError, match=message):
        read_table(data, filename)


def test_a_header_only_file_names_its_header() -> None:
    with pytest.raises(SpreadsheetError, match=r"header row \(Phone, Name\) but no data rows"):
        read_table(b"Phone;Name\r\n", "header.csv")
    with pytest.raises(SpreadsheetError, match="no data rows"):
        read_table(xlsx_bytes({"S": [["Phone", "Name"]]}), "header.xlsx")


def test_a_table_of_numbers_only_has_no_header() -> None:
    with pytest.raises(SpreadsheetError, match="no header row"):
        read_table(b"48600123456;12\r\n48600123457;13\r\n", "numbers.csv")


def test_a_truncated_xlsx_is_damaged() -> None:
    data = xlsx_bytes({"S": [["Phone"], [600123456]]})
    with pytest.raises(SpreadsheetError, match="damaged or incomplete") as caught:
        read_table(data[: len(data) // 2], "cut.xlsx")
    assert isinstance(caught.value.__cause__, zipfile.BadZipFile)


def test_a_zip_that_unpacks_too_far_is_refused_before_parsing() -> None:
    data = rewrite_zip(xlsx_bytes({"S": [["Phone"], [1]]}), {"xl/media/zeros.bin": bytes(30 * 1024 * 1024)})
    assert len(data) < 100_000
    with pytest.raises(SpreadsheetError, match="would unpack to 30.0 MB"):
        read_table(data, "bomb.xlsx", max_bytes=1024 * 1024)
    with pytest.raises(SpreadsheetError, match="would unpack"):
        list_sheets(data, "bomb.xlsx", max_bytes=1024 * 1024)


@pytest.mark.parametrize(
    "spelling",
    [b'<c r="XFD1048576"', b"<c r='XFD1048576'", b'<c  r = "XFD1048576"', b'<c s="0" r="XFD1048576"'],
)
def test_an_xlsx_with_a_cell_at_the_far_corner_is_refused_not_allocated(spelling: bytes) -> None:
    # calamine would allocate 17 billion cells for this 5 KB file and abort the process.
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = workbook.add_worksheet("S")
    sheet.write(0, 0, "Phone")
    sheet.write_number(1_048_575, 16_383, 1)
    workbook.close()
    with zipfile.ZipFile(buffer) as archive:
        xml = archive.read("xl/worksheets/sheet1.xml").replace(b'<c r="XFD1048576"', spelling)
    data = rewrite_zip(buffer.getvalue(), {"xl/worksheets/sheet1.xml": xml})
    with pytest.raises(SpreadsheetError, match="1,048,576 rows by 16,384 columns"):
        read_table(data, "corner.xlsx")


def test_a_wide_sheet_of_normal_size_is_read() -> None:
    header = [f"Field {i}" for i in range(1, 61)]
    df = read_table(xlsx_bytes({"S": [header, list(range(60))]}), "wide.xlsx")
    assert df.shape == (1, 60) and df["Field 60"].tolist() == ["59"]


def test_an_xlsx_row_of_unreferenced_cells_far_down_is_refused() -> None:
    data = xlsx_bytes({"S": [["Phone"], [1]]})
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        xml = archive.read("xl/worksheets/sheet1.xml")
    far_row = b'<row r="999999">' + b"<c><v>1</v></c>" * 200 + b"</row></sheetData>"
    data = rewrite_zip(data, {"xl/worksheets/sheet1.xml": xml.replace(b"</sheetData>", far_row)})
    with pytest.raises(SpreadsheetError, match="more than this app can load"):
        read_table(data, "far.xlsx")


@pytest.mark.parametrize("stream_padding", [0, 5000], ids=["mini-stream", "regular-sectors"])
def test_an_xls_with_cells_far_apart_is_refused_not_allocated(stream_padding: int) -> None:
    padding = [(1, 0, "x" * 250)] * (stream_padding // 260)
    data = xls_bytes("S", [(0, 0, "Phone"), (65535, 65535, 1.0), *padding])
    with pytest.raises(SpreadsheetError, match="65,536 rows by 65,536 columns"):
        read_table(data, "far.xls")


def test_an_xls_declaring_dimensions_that_wrap_around_is_refused() -> None:
    # DIMENSIONS: first row 5, end row 2 (before the start), columns 0..1.
    dimensions = biff_record(0x0200, struct.pack("<IIHHH", 5, 2, 0, 1, 0))
    with pytest.raises(SpreadsheetError, match="more than this app can load"):
        read_table(xls_bytes("S", [(0, 0, "Phone"), (1, 0, 1.0)], dimensions), "wrap.xls")


def test_a_password_protected_workbook_is_explained() -> None:
    # Excel stores an encrypted XLSX as an OLE2 file holding an "EncryptedPackage" stream.
    data = compound_file("EncryptedPackage", os.urandom(6000))
    with pytest.raises(SpreadsheetError, match="password-protected"):
        read_table(data, "secret.xlsx")


def test_other_ole_files_are_not_workbooks() -> None:
    with pytest.raises(SpreadsheetError, match="Word document"):
        read_table(compound_file("WordDocument", bytes(5000)), "letter.xls")


def test_a_malformed_xls_that_makes_calamine_panic_is_damaged() -> None:
    data = bytearray(xls_bytes("S", [(0, 0, "Phone"), (1, 0, 1.0)]))
    # Turn the workbook's first record (BOF, 16 bytes) into a defined name ("Lbl") whose formula
    # claims 65535 bytes: calamine slices past the record's end and panics.
    at = data.index(b"\x09\x08\x10\x00")
    data[at : at + 20] = biff_record(0x0018, bytes(4) + b"\xff\xff" + bytes(10))
    with pytest.raises(SpreadsheetError, match="damaged"):
        read_table(bytes(data), "panic.xls")


def test_more_rows_than_the_limit() -> None:
    rows = [["Phone"]] + [[str(600000000 + i)] for i in range(15)]
    assert len(read_table(csv_bytes(rows), "a.csv", max_rows=15)) == 15
    with pytest.raises(SpreadsheetError, match="more than 10 rows"):
        read_table(csv_bytes(rows), "a.csv", max_rows=10)
    many = [["Phone"]] + [[600000000 + i] for i in range(40)]
    with pytest.raises(SpreadsheetError, match="sheet 'S' of 'a.xlsx' has more than 5 rows"):
        read_table(xlsx_bytes({"S": many}), "a.xlsx", max_rows=5)


def test_a_file_larger_than_the_limit(tmp_path) -> None:
    data = csv_bytes([["Phone"]] + [["600123456"]] * 100)
    path = tmp_path / "big.csv"
    path.write_bytes(data)
    for source in (data, io.BytesIO(data), path):
        with pytest.raises(SpreadsheetError, match="'big.csv' is larger.* than the 1.0 KB limit"):
            read_table(source, "big.csv", max_bytes=1024)
    assert len(read_table(data, "big.csv", max_bytes=len(data))) == 100


# --- exports ----------------------------------------------------------------------------


def dangerous_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Phone": ["+48600123456", "600123456", "0048600123456"],
            "Text": ["=HYPERLINK(\"http://x\")", "@SUM(A1)", "-2+3+cmd|' /C calc'!A0"],
            "Count": [-5, 3, 0],
            "=cmd": ["\tTab", "\rCR", "fine"],
        }
    )


def test_neutralize_formulas_prefixes_text_cells_only() -> None:
    df = dangerous_frame()
    safe = neutralize_formulas(df)
    assert safe.columns.tolist() == ["Phone", "Text", "Count", "'=cmd"]
    assert safe["Phone"].tolist() == ["'+48600123456", "600123456", "0048600123456"]
    assert safe["Text"].str.startswith("'").all()
    assert safe["Count"].tolist() == [-5, 3, 0]
    assert safe["'=cmd"].tolist() == ["'\tTab", "'\rCR", "fine"]
    assert df["Text"].iloc[0].startswith("=")  # the input is untouched


def test_csv_export_has_a_bom_and_round_trips_through_read_table() -> None:
    df = dangerous_frame().assign(Name=[POLISH, "Łucja", "Jan"])
    data = write_table(df, "csv")
    assert data.startswith(b"\xef\xbb\xbf")
    back = read_table(data, "export.csv")
    expected = neutralize_formulas(df)
    assert back.columns.tolist() == expected.columns.tolist()
    assert back.to_numpy().tolist() == expected.astype(str).to_numpy().tolist()


def test_xlsx_export_holds_text_not_formulas_and_round_trips() -> None:
    df = dangerous_frame()
    data = write_table(df, "xlsx")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert b"<f>" not in archive.read("xl/worksheets/sheet1.xml")
    back = read_table(data, "export.xlsx")
    assert back.to_numpy().tolist() == neutralize_formulas(df, keep_plain_numbers=True).astype(str).to_numpy().tolist()
    assert back["Count"].tolist() == ["-5", "3", "0"]


def test_phone_numbers_keep_their_plus_in_xlsx_but_formulas_do_not_pass() -> None:
    df = pd.DataFrame({"Phone": ["+48600123456", "-12,5", "+48 600", "-2+3+cmd|' /C calc'!A0", "+1.5e3"]})
    xlsx = read_table(write_table(df, "xlsx"), "export.xlsx")["Phone"].tolist()
    assert xlsx == ["+48600123456", "-12,5", "'+48 600", "'-2+3+cmd|' /C calc'!A0", "'+1.5e3"]
    # A CSV has no text cells: Excel would read +48600123456 as a formula there, so it keeps its '.
    assert read_table(write_table(df, "csv"), "export.csv")["Phone"].tolist()[0] == "'+48600123456"


def test_xlsx_export_accepts_timezone_aware_times() -> None:
    sent = pd.to_datetime(["2024-01-31 10:30"]).tz_localize("Europe/Warsaw")
    df = pd.DataFrame({"Sent": sent, "Phone": ["600"]})
    assert read_table(write_table(df, "xlsx"), "x.xlsx")["Sent"].tolist() == ["2024-01-31 10:30:00"]


def test_unknown_export_format() -> None:
    with pytest.raises(SpreadsheetError, match="use 'csv' or 'xlsx'"):
        write_table(pd.DataFrame({"a": ["1"]}), "pdf")


# Quotes, delimiters, line breaks, formula starts and Polish letters: what breaks naive CSV code.
CELL_TEXT = st.text(alphabet=st.sampled_from(list('ab ąśź09+-=@,;|"\'\t\n\r')), max_size=8)
ROW = st.tuples(CELL_TEXT, CELL_TEXT).filter(lambda row: any(cell.strip() for cell in row))


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(ROW, min_size=1, max_size=6))
def test_any_text_table_survives_a_csv_round_trip(rows: list[tuple[str, str]]) -> None:
    df = pd.DataFrame(rows, columns=["Phone", "Name"])
    back = read_table(write_table(df, "csv"), "export.csv")
    assert back.to_numpy().tolist() == neutralize_formulas(df).to_numpy().tolist()
