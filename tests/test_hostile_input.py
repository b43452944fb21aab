"""Hostile input: each gets a sentence for a person, in bounded memory, and nothing valid is lost.

Memory is checked as the growth of this process's peak RSS (a zip bomb would add
gigabytes); a hang is caught by the per-test timeout. No test asserts how fast.
"""

from __future__ import annotations

import io
import os
import resource
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from smslib.services import planning
from smslib.services.compose import check_message
from smslib.core.errors import SpreadsheetError, TemplateError, ValidationError
from smslib.services.sending import send_and_record
from smslib.rules.spreadsheet import read_table, write_table
from smslib.rules.text import Template, check_length, unsafe_character

ROOT = Path(__file__).resolve().parent.parent
MB = 1024 * 1024
# Headroom over what the test itself holds: a bomb inflating in memory blows far past it.
PEAK_GROWTH_LIMIT = 400 * MB

pytestmark = pytest.mark.timeout(120)


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def refused(data: bytes, filename: str, **limits) -> str:
    """The sentence ``read_table`` refuses ``data`` with, checking the process stayed lean."""
    before = peak_rss()
    with pytest.raises(SpreadsheetError) as caught:
        read_table(data, filename, **limits)
    assert peak_rss() - before < PEAK_GROWTH_LIMIT
    message = str(caught.value)
    assert filename in message and "Traceback" not in message
    return message


# -- workbooks that are not what they claim ----------------------------------------------------------

CONTENT_TYPES = ('<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                 '<Default Extension="xml" ContentType="application/xml"/></Types>')
WORKBOOK = ('<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
            '<sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>')
RELS = ('<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        'worksheet" Target="worksheets/sheet1.xml"/></Relationships>')
SHEET = "xl/worksheets/sheet1.xml"


def xlsx_bomb(inflated_mb: int, *, member: str = SHEET, declared: int | None = None) -> bytes:
    """An XLSX whose ``member`` inflates to ``inflated_mb`` MB of one repeated letter, written
    in 1 MB chunks (the test never holds it); ``declared`` makes its headers lie about the size."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("xl/workbook.xml", WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", RELS)
        if member != SHEET:
            archive.writestr(SHEET, '<worksheet><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row>'
                                    '</sheetData></worksheet>')
        with archive.open(member, "w", force_zip64=True) as stream:
            stream.write(b'<worksheet><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>')
            chunk = b"A" * MB
            for _ in range(inflated_mb):
                stream.write(chunk)
            stream.write(b"</t></is></c></row></sheetData></worksheet>")
    data = bytearray(buffer.getvalue())
    if declared is not None:
        _patch_declared_size(data, member.encode(), declared)
    return bytes(data)


def _patch_declared_size(data: bytearray, name: bytes, size: int) -> None:
    """Overwrite the uncompressed size of ``name`` in its local header, zip64 extra and central entry."""
    for signature, name_at, length_at, size_at, extra_len_at in ((b"PK\x03\x04", 30, 26, 22, 28),
                                                                 (b"PK\x01\x02", 46, 28, 24, 30)):
        position = data.find(signature)
        while position >= 0:
            length = struct.unpack_from("<H", data, position + length_at)[0]
            if data[position + name_at:position + name_at + length] == name:
                struct.pack_into("<I", data, position + size_at, min(size, 0xFFFFFFFE))
                extra = position + name_at + length
                extra_end = extra + struct.unpack_from("<H", data, position + extra_len_at)[0]
                while extra < extra_end:  # the zip64 extra field holds the real sizes: make it lie too
                    tag, tag_size = struct.unpack_from("<HH", data, extra)
                    if tag == 1:
                        struct.pack_into("<Q", data, extra + 4, size)
                    extra += 4 + tag_size
            position = data.find(signature, position + 4)


def test_a_zip_bomb_is_refused_by_its_declared_size():
    message = refused(xlsx_bomb(64), "bomb.xlsx", max_bytes=2 * MB)  # unpacks past 20x the limit
    assert "would unpack to" in message and "CSV" in message


@pytest.mark.parametrize("member", [SHEET, "xl/sharedStrings.xml"])
def test_a_zip_bomb_that_understates_its_size_is_refused_without_inflating_it(member):
    data = xlsx_bomb(600, member=member, declared=4096)
    assert len(data) < 2 * MB  # 600 MB inside
    message = refused(data, "liar.xlsx")
    assert "damaged" in message


@pytest.mark.parametrize("data, words", [
    (os.urandom(64 * 1024), "not"),                                # random bytes named .xlsx
    (b"\x7fELF\x02\x01\x01" + bytes(5000), "not"),                 # a program
    (b"%PDF-1.7\n" + bytes(5000), "PDF"),
    (b"PK\x03\x04" + os.urandom(4000), "damaged"),                 # a zip header over noise
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4000), "damaged"),  # an OLE header over zeros
])
def test_a_renamed_binary_is_refused(data, words):
    message = refused(data, "contacts.xlsx")
    assert words.lower() in message.lower()


# -- text files that are too much ----------------------------------------------------------------


def test_a_200_mb_csv_is_refused_by_size_before_it_is_read(tmp_path):
    path = tmp_path / "huge.csv"
    with path.open("wb") as out:  # written in chunks: the test never holds 200 MB
        line = b"600100200;" + b"x" * 89 + b"\n"
        block = line * 10_000
        for _ in range(210 * MB // len(block)):
            out.write(block)
    assert path.stat().st_size > 200 * MB
    message = refused(str(path), "huge.csv")  # the default limit, SMS_MAX_UPLOAD_MB=200
    assert "200" in message and "MB" in message
    with path.open("rb") as handle:  # an upload arrives as a file object: read at most limit + 1
        refused(handle, "huge.csv", max_bytes=50 * MB)


def test_a_large_ish_csv_under_the_limit_is_read_whole():
    rows = 300_000  # ~10 MB
    data = "phone;name\n".encode() + b"".join(f"600{i:06d};Name {i}\n".encode() for i in range(rows))
    frame = read_table(data, "big.csv")
    assert len(frame) == rows and frame["phone"].iloc[-1] == f"600{rows - 1:06d}"


def test_ten_million_empty_lines_are_an_empty_file():
    message = refused(b"\n" * 10_000_000, "blank.csv")
    assert "empty" in message


def test_a_few_rows_lost_in_ten_million_empty_lines_are_explained():
    # The row limit bounds the work, so empty lines count towards it; the sentence says so.
    data = b"phone;text\n600100200;hi\n" + b"\n" * 10_000_000 + b"600100201;there\n"
    message = refused(data, "sparse.csv")
    assert "empty" in message and "Delete the empty rows" in message


def test_more_rows_than_allowed_is_refused_naming_the_limit():
    data = b"phone\n" + b"600100200\n" * 50_000
    message = refused(data, "many.csv", max_rows=10_000)
    assert "10,000" in message or "10000" in message


# -- cells that are too much or not what they seem ------------------------------------------------


def validated(frame: pd.DataFrame, **mapping) -> planning.Validation:
    return planning.validate(frame, planning.ColumnMapping("phone", **mapping), region="PL")


def test_a_cell_of_a_megabyte_is_read_and_refused_as_too_long_while_the_rest_go_on():
    big = "x" * MB
    data = f"phone,text\n600100200,{big}\n600100201,fine\n".encode()
    frame = read_table(data, "cells.csv")
    assert len(frame["text"].iloc[0]) == MB
    result = validated(frame, message_column="text")
    assert result.totals.valid == 1 and result.totals.invalid == 1
    reasons = result.invalid_report()["reason"].tolist()
    assert reasons[0].startswith(planning.TOO_LONG)
    assert len(write_table(result.invalid_report(), "csv")) > MB  # the export keeps the whole cell


def test_formulas_are_read_as_text_and_neutralised_in_every_export():
    data = ('phone,name\n600100200,"=HYPERLINK(""http://evil.example"",""click"")"\n'
            '600100201,+SUM(1)\n600100202,@cmd\n600100203,-1+2\n').encode()
    frame = read_table(data, "formulas.csv")
    assert frame["name"].iloc[0].startswith("=HYPERLINK")  # text, never evaluated
    for fmt in ("csv", "xlsx"):
        back = read_table(write_table(frame, fmt), f"export.{fmt}")
        assert all(cell.startswith("'") for cell in back["name"]), back["name"].tolist()
        if fmt == "xlsx":
            with zipfile.ZipFile(io.BytesIO(write_table(frame, fmt))) as archive:
                assert b"<f>" not in archive.read(SHEET)


HOSTILE_NAMES = ["Ala\u202eslip.exe", "\x1b[31mRed", "Zero\u200bwidth", "Bell\x07", "Iso\u2067late\u2069"]


def test_control_and_bidi_characters_in_names_are_refused_in_messages_and_written_out_in_exports():
    frame = pd.DataFrame({"phone": ["600100200", "600100201", "600100202", "600100203", "600100204", "600100205"],
                          "name": HOSTILE_NAMES + ["Ola"]}, dtype="str")
    result = validated(frame, template="Hi {name}")
    reasons = dict(zip(result.rows["given_phone"], result.rows["reason"]))
    assert reasons["600100200"] == planning.UNSAFE_TEXT  # right-to-left override
    assert reasons["600100201"] == planning.UNSAFE_TEXT  # escape (terminal colours)
    assert reasons["600100203"] == planning.UNSAFE_TEXT  # bell
    assert reasons["600100204"] == planning.UNSAFE_TEXT  # isolate
    assert pd.isna(reasons["600100202"]) and pd.isna(reasons["600100205"])  # zero-width space is ordinary text
    exported = read_table(write_table(frame, "csv"), "names.csv")["name"].tolist()
    assert exported[:2] == ["Ala<U+202E>slip.exe", "<U+001B>[31mRed"]
    assert exported[4] == "Iso<U+2067>late<U+2069>"


def test_a_number_in_scientific_notation_with_a_vast_exponent_is_an_invalid_row():
    frame = read_table(b"phone,text\n1E+10048,hi\n600100200,hi\n", "numbers.csv")
    result = validated(frame, message_column="text")
    assert result.totals.valid == 1
    assert "far too many digits" in result.invalid_report()["reason"].iloc[0]


# -- messages ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, words", [
    ("Hello\x00there", "NUL byte"),
    ("broken \ud83d half", "lone surrogate"),
    ("pay to \u202eTAB\u202c please", "bidirectional"),
    ("ding\x07", "control character"),
    ("C1\x85control", "control character"),
])
def test_unsafe_characters_in_a_message_are_refused_with_where_they_are(text, words):
    reason = unsafe_character(text)
    assert reason is not None and words in reason and "Character" in reason
    with pytest.raises(ValidationError, match=words):
        check_length(text)
    assert words in check_message(text).error


@pytest.mark.parametrize("text", ["Line one\nline two", "Tab\tseparated", "Windows\r\nline", "Form feed\x0c",
                                  "Zażółć gęślą jaźń 😀", "مرحبا \u200f(RLM is ordinary)"])
def test_ordinary_text_with_layout_characters_is_accepted(text):
    assert unsafe_character(text) is None
    check_length(text)


def test_send_and_record_refuses_unsafe_text_before_writing_anything(client, store, sandbox):
    with pytest.raises(ValidationError, match="NUL"):
        send_and_record(client, store, ["+48600100200"], "a\x00b")
    assert store.query_messages(limit=10).rows == [] and sandbox.backend.accepted_messages() == []


def test_the_cli_refuses_a_message_whose_bytes_were_not_text(tmp_path, sandbox):
    # Bytes that are not UTF-8 reach Python as lone surrogates (surrogateescape).
    env = {**os.environ, "SMS_API_URL": sandbox.url, "SMS_API_USERNAME": sandbox.username,
           "SMS_API_PASSWORD": sandbox.password, "SMS_DATA_DIR": str(tmp_path), "SMS_DB_URL": "",
           "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "smslib", "send", "600100200", "-m", b"caf\xe9".decode(
        "utf-8", "surrogateescape")], env=env, cwd=tmp_path, capture_output=True, timeout=60)
    assert done.returncode == 1
    assert b"lone surrogate" in done.stderr and b"Traceback" not in done.stderr
    assert sandbox.backend.accepted_messages() == []


# -- templates --------------------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["{name.__class__}", "{name.__class__.__mro__}", "{name[0]}", "{name!r}",
                                    "{name:>99999999}", "{0}", "{}", "{name.__globals__}", "{__import__}"])
def test_a_template_never_evaluates_attribute_access_or_format_tricks(source):
    frame = pd.DataFrame({"phone": ["600100200"], "name": ["Ala"]}, dtype="str")
    with pytest.raises(TemplateError) as caught:
        Template.parse(source).check(frame.columns)
    assert "Traceback" not in str(caught.value)
    result = validated(frame, template=source)
    assert result.totals.valid == 0 and result.totals.invalid == 1
    assert "class" not in " ".join(result.rows["text"].astype(str))


def test_braces_in_cell_values_are_not_expanded_again():
    frame = pd.DataFrame({"phone": ["600100200"], "name": ["{phone} {name.__class__}"]}, dtype="str")
    result = validated(frame, template="Hi {name}")
    assert result.rows["text"].tolist() == ["Hi {phone} {name.__class__}"]


# -- the upload limit is the same in both places ------------------------------------------------------


def test_streamlits_upload_limit_matches_the_setting_default():
    import tomllib

    from smslib.core.config import Settings

    shipped = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert shipped["server"]["maxUploadSize"] == Settings().max_upload_mb
