"""Tests for smslib.rules.text: segments, transliteration, templates."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from smslib.core.errors import TemplateError, ValidationError
from smslib.rules.text import (
    GSM7,
    GSM7_BASIC,
    GSM7_CHARS,
    GSM7_EXTENSION,
    MAX_SEGMENTS,
    UCS2,
    Change,
    Template,
    check_length,
    count_segments,
    count_segments_series,
    render_frame,
    split_segments,
    to_gsm7,
)

# -- the wire form, written from TS 23.038 independently of the module --------------------

# Default alphabet by code 0x00..0x7F; 0x1B is the escape to the extension table.
SPEC_BASIC = (
    "@", "£", "$", "¥", "è", "é", "ù", "ì", "ò", "Ç", "\n", "Ø", "ø", "\r", "Å", "å",
    "Δ", "_", "Φ", "Γ", "Λ", "Ω", "Π", "Ψ", "Σ", "Θ", "Ξ", None, "Æ", "æ", "ß", "É",
    *" !\"#¤%&'()*+,-./0123456789:;<=>?",
    "¡", *"ABCDEFGHIJKLMNOPQRSTUVWXYZ", "Ä", "Ö", "Ñ", "Ü", "§",
    "¿", *"abcdefghijklmnopqrstuvwxyz", "ä", "ö", "ñ", "ü", "à",
)
SPEC_CODE = {char: code for code, char in enumerate(SPEC_BASIC) if char is not None}
SPEC_EXTENSION = {"\f": 0x0A, "^": 0x14, "{": 0x28, "}": 0x29, "\\": 0x2F,
                  "[": 0x3C, "~": 0x3D, "]": 0x3E, "|": 0x40, "€": 0x65}
SPEC_CHAR = {code: char for char, code in SPEC_EXTENSION.items()}
ESC = 0x1B


def in_spec_gsm7(char: str) -> bool:
    return char in SPEC_CODE or char in SPEC_EXTENSION


def septets(text: str) -> list[int]:
    out: list[int] = []
    for char in text:
        out.extend([ESC, SPEC_EXTENSION[char]] if char in SPEC_EXTENSION else [SPEC_CODE[char]])
    return out


def from_septets(units: list[int]) -> str:
    chars, escaped = [], False
    for unit in units:
        if escaped:
            chars.append(SPEC_CHAR[unit])
            escaped = False
        elif unit == ESC:
            escaped = True
        else:
            chars.append(SPEC_BASIC[unit])
    assert not escaped, "a part ends with half an escape pair"
    return "".join(chars)


def utf16_units(text: str) -> list[int]:
    data = text.encode("utf-16-le", "surrogatepass")
    return [int.from_bytes(data[i:i + 2], "little") for i in range(0, len(data), 2)]


def from_utf16(units: list[int]) -> str:
    assert not units or not 0xD800 <= units[-1] <= 0xDBFF, "a part ends with a high surrogate"
    return b"".join(u.to_bytes(2, "little") for u in units).decode("utf-16-le", "surrogatepass")


def wire_parts(text: str) -> list[str]:
    """Split the encoded units the way a phone does, then decode each part back to text."""
    gsm = all(in_spec_gsm7(c) for c in text)
    units = septets(text) if gsm else utf16_units(text)
    single, multi = (160, 153) if gsm else (70, 67)
    starts_pair = (lambda u: u == ESC) if gsm else (lambda u: 0xD800 <= u <= 0xDBFF)
    if len(units) <= single:
        chunks = [units] if units else []
    else:
        chunks, start = [], 0
        while start < len(units):
            end = min(start + multi, len(units))
            if end < len(units) and starts_pair(units[end - 1]):
                end -= 1
            chunks.append(units[start:end])
            start = end
    return [(from_septets if gsm else from_utf16)(chunk) for chunk in chunks]


def units_in(part: str, encoding: str) -> int:
    """Units of ``part`` when the whole message is sent in ``encoding``."""
    return len(septets(part)) if encoding == GSM7 else len(utf16_units(part))


# Texts that reach the edges: long runs of one character plus a mixed tail.
chars = st.one_of(
    st.sampled_from([c for c in SPEC_BASIC if c is not None]),
    st.sampled_from(list(SPEC_EXTENSION)),
    st.sampled_from(list("ąćęłńóśźżĄŻ„”–…😀🎉🇵🇱")),
    st.characters(codec="utf-8"),
)
tails = st.lists(chars, max_size=60).map("".join)
texts = st.one_of(
    tails,
    st.builds(lambda n, fill, tail: fill * n + tail, st.integers(0, 400), st.sampled_from("a€ą😀"), tails),
)


def test_the_alphabet_is_the_one_of_ts_23_038():
    assert len(GSM7_BASIC) == 127 and len(set(GSM7_BASIC)) == 127
    assert set(GSM7_BASIC) == set(SPEC_CODE)
    assert set(GSM7_EXTENSION) == set(SPEC_EXTENSION)
    assert GSM7_CHARS == set(SPEC_CODE) | set(SPEC_EXTENSION)


# -- count_segments: hand-checked cases ---------------------------------------------------


@pytest.mark.parametrize(
    ("text", "encoding", "segments", "units", "remaining"),
    [
        ("", GSM7, 0, 0, 160),
        ("Ala ma kota", GSM7, 1, 11, 149),
        ("a" * 160, GSM7, 1, 160, 0),
        ("a" * 161, GSM7, 2, 161, 145),
        ("a" * 306, GSM7, 2, 306, 0),
        ("a" * 307, GSM7, 3, 307, 152),
        ("a" * 1530, GSM7, 10, 1530, 0),
        ("a" * 1531, GSM7, 11, 1531, 152),
        ("ą" * 70, UCS2, 1, 70, 0),
        ("ą" * 71, UCS2, 2, 71, 63),
        ("ą" * 134, UCS2, 2, 134, 0),
        ("ą" * 135, UCS2, 3, 135, 66),
        ("Cena: 10€", GSM7, 1, 10, 150),
        ("€" * 80, GSM7, 1, 160, 0),
        # 76 € fill 152 septets; the 77th cannot be split, so part 2 holds 4 € and the a.
        ("€" * 80 + "a", GSM7, 2, 161, 144),
        ("a" * 152 + "€", GSM7, 1, 154, 6),
        # 306 septets would fit in 2 parts, but the € at the boundary moves to part 2.
        ("a" * 152 + "€" + "a" * 152, GSM7, 3, 306, 152),
        ("a" * 153 + "€" + "a" * 151, GSM7, 2, 306, 0),
        ("Zażółć gęślą jaźń", UCS2, 1, 17, 53),
        ("ą€", UCS2, 1, 2, 68),  # in UCS-2 the € is one unit like any other
        ("😀", UCS2, 1, 2, 68),
        ("😀" * 35, UCS2, 1, 70, 0),
        ("😀" * 36, UCS2, 2, 72, 61),
        ("a" * 69 + "😀", UCS2, 2, 71, 63),
        # 134 units would fit in 2 parts, but the emoji at the boundary moves to part 2.
        ("a" * 66 + "😀" + "a" * 66, UCS2, 3, 134, 66),
        ("a" * 67 + "😀" + "a" * 65, UCS2, 2, 134, 0),
        ("é ü ñ Ä Ö Å Æ ø ß à è ì ò ù É Ç Δ Ω £ ¥ § ¿ ¡", GSM7, 1, 45, 115),
        ("ç", UCS2, 1, 1, 69),  # only the capital Ç is in the default alphabet
        ("`", UCS2, 1, 1, 69),
        ("a\tb", UCS2, 1, 3, 67),
    ],
)
def test_count_segments_hand_checked(text, encoding, segments, units, remaining):
    count = count_segments(text)
    assert (count.encoding, count.segments, count.units, count.remaining) == (encoding, segments, units, remaining)
    assert count.characters == len(text)
    assert count.per_segment == {GSM7: (160, 153), UCS2: (70, 67)}[encoding][segments > 1]


def test_non_gsm_chars_are_distinct_and_in_order_of_appearance():
    count = count_segments("Zażółć gęślą jaźń 😀 ż")
    assert count.non_gsm_chars == ("ż", "ó", "ł", "ć", "ę", "ś", "ą", "ź", "ń", "😀")
    assert count.is_unicode
    assert count_segments("Ala ma kota {€}").non_gsm_chars == ()


def test_split_segments_moves_a_pair_at_the_boundary_to_the_next_part():
    assert split_segments("a" * 152 + "€" + "a" * 152) == ["a" * 152, "€" + "a" * 151, "a"]
    assert split_segments("a" * 66 + "😀" + "a" * 66) == ["a" * 66, "😀" + "a" * 65, "a"]
    assert split_segments("") == []
    assert split_segments("a" * 160) == ["a" * 160]


# -- count_segments: properties ------------------------------------------------------------


@given(texts)
def test_ucs2_exactly_when_a_character_is_outside_gsm7(text):
    count = count_segments(text)
    outside = [c for c in text if not in_spec_gsm7(c)]
    assert (count.encoding == UCS2) == bool(outside)
    assert count.non_gsm_chars == tuple(dict.fromkeys(outside))


@given(texts)
def test_units_are_septets_or_utf16_code_units(text):
    count = count_segments(text)
    expected = len(septets(text)) if count.encoding == GSM7 else len(utf16_units(text))
    assert count.units == expected


@given(texts, chars)
def test_appending_a_character_never_lowers_the_segment_count(text, char):
    assert count_segments(text + char).segments >= count_segments(text).segments


@given(texts)
def test_parts_match_an_independent_packing_of_the_encoded_units(text):
    parts = split_segments(text)
    assert parts == wire_parts(text)  # which also checks that no part ends with half a pair
    assert "".join(parts) == text
    count = count_segments(text)
    assert len(parts) == count.segments
    if parts:
        assert count.remaining == count.per_segment - units_in(parts[-1], count.encoding)


@given(texts)
def test_every_part_but_the_last_is_full(text):
    count = count_segments(text)
    parts = split_segments(text)
    for part, following in zip(parts, parts[1:]):
        used = units_in(part, count.encoding)
        assert used <= count.per_segment < used + units_in(following[0], count.encoding)


# -- count_segments_series -----------------------------------------------------------------


@given(st.lists(texts, max_size=15))
def test_series_counts_equal_single_counts(items):
    frame = count_segments_series(pd.Series(items, dtype="str"))
    singles = [count_segments(t) for t in items]
    assert frame["encoding"].tolist() == [c.encoding for c in singles]
    assert frame["segments"].tolist() == [c.segments for c in singles]
    assert frame["units"].tolist() == [c.units for c in singles]


def test_series_counts_keep_the_index_and_treat_missing_as_empty():
    series = pd.Series(["a" * 152 + "€" + "a" * 152, None, np.nan, "😀" * 36, "ok", ""], index=list("uvwxyz"))
    frame = count_segments_series(series)
    assert list(frame.index) == list("uvwxyz")
    assert list(frame.columns) == ["encoding", "segments", "units"]
    assert frame["segments"].tolist() == [3, 0, 0, 2, 1, 0]
    assert frame["units"].tolist() == [306, 0, 0, 72, 2, 0]
    assert frame["encoding"].tolist() == [GSM7, GSM7, GSM7, UCS2, GSM7, GSM7]


def test_series_counts_over_several_chunks():
    texts = [("a" * (i % 400)) + ("€" if i % 3 else "😀") * (i % 7) for i in range(25_000)]
    frame = count_segments_series(pd.Series(texts))
    sample = range(0, 25_000, 97)
    assert [frame["segments"].iat[i] for i in sample] == [count_segments(texts[i]).segments for i in sample]
    assert count_segments_series(pd.Series([], dtype="str")).shape == (0, 3)


# -- check_length --------------------------------------------------------------------------


def test_check_length_accepts_up_to_the_gateway_limit():
    assert MAX_SEGMENTS == 10
    assert check_length("a" * 1530).segments == 10
    assert check_length("ą" * 670).segments == 10


@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_check_length_refuses_an_empty_message(text):
    with pytest.raises(ValidationError, match="empty") as caught:
        check_length(text)
    assert caught.value.field == "Message"


def test_check_length_names_the_count_and_how_much_to_cut():
    with pytest.raises(ValidationError) as caught:
        check_length("a" * 1531)
    assert caught.value.field == "Message"
    assert "11 SMS segments" in str(caught.value) and "at most 10" in str(caught.value)
    assert "Shorten it by 1 character." in str(caught.value)


def test_check_length_says_which_characters_force_unicode():
    with pytest.raises(ValidationError) as caught:
        check_length("Zażółć " * 100)
    message = str(caught.value)
    assert "UCS-2" in message and "ż ó ł ć" in message
    assert "Shorten it by 30 characters." in message  # 700 characters, 670 fit


# -- to_gsm7 -------------------------------------------------------------------------------


def test_polish_letters_become_plain_latin():
    result = to_gsm7("ąćęłńóśźż ĄĆĘŁŃÓŚŹŻ")
    assert result.text == "acelnoszz ACELNOSZZ"
    assert result.still_ucs2 == ()
    assert count_segments(result.text).encoding == GSM7


def test_changes_count_each_character_in_order_of_appearance():
    result = to_gsm7("Zażółć gęślą – ąą")
    assert result.changes[:4] == (Change("ż", "z", 1), Change("ó", "o", 1), Change("ł", "l", 1), Change("ć", "c", 1))
    assert Change("ą", "a", 3) in result.changes and Change("–", "-", 1) in result.changes
    assert result.changed


@pytest.mark.parametrize("text", ["é ü ñ Ä Ö Å Æ ø ß à è ì ò ù É Ç Ü Ñ Ø å æ ä ö", "Cena 5€ {x} [y] ~ ^ | \\"])
def test_characters_in_gsm7_are_kept(text):
    result = to_gsm7(text)
    assert result.text == text and result.changes == () and not result.changed


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("„Dzień dobry”", '"Dzien dobry"'),
        ("“quoted” «guillemets»", '"quoted" "guillemets"'),
        ("‘single’ it’s", "'single' it's"),
        ("10–20 — 30 ‑ 40 − 5", "10-20 - 30 - 40 - 5"),
        ("Czekaj…", "Czekaj..."),
        ("100\u00a0zł", "100 zl"),
        ("thin\u2009space\u202fnarrow\u3000ideographic", "thin space narrow ideographic"),
        ("soft\u00adhyphen zero\u200bwidth", "softhyphen zerowidth"),
        ("a\tb", "a b"),
        ("Čeština, Škoda, Ørsted, Straße, Ångström", "Cestina, Skoda, Ørsted, Straße, Ångström"),
        ("őű ŐŰ ãõ ç", "ou OU ao c"),
        ("Đorđe, Œuvre, Þór", "Dorde, OEuvre, Thor"),
        ("½ ﬁ ＡＢＣ", "1/2 fi ABC"),
        ("e\u0301 and e\u0328", "é and e"),  # decomposed input: é exists in GSM-7, ę does not
    ],
)
def test_transliteration_cases(text, expected):
    result = to_gsm7(text)
    assert result.text == expected
    assert count_segments(result.text).encoding == GSM7


def test_characters_without_a_gsm7_form_stay_and_keep_the_text_ucs2():
    result = to_gsm7("Cześć 😀 Привет ¨")
    assert result.text == "Czesc 😀 Привет ¨"  # a bare diaeresis does not become a space
    assert result.still_ucs2 == ("😀", "П", "р", "и", "в", "е", "т", "¨")
    assert count_segments(result.text).encoding == UCS2


@given(texts)
def test_transliteration_leaves_only_the_characters_it_reports(text):
    result = to_gsm7(text)
    assert set(count_segments(result.text).non_gsm_chars) == set(result.still_ucs2)
    again = to_gsm7(result.text)
    assert again.text == result.text and again.changes == ()


@given(st.text(alphabet=st.sampled_from(sorted(GSM7_CHARS))))
def test_gsm7_text_is_unchanged(text):
    assert to_gsm7(text).text == text


# -- templates -----------------------------------------------------------------------------


def test_placeholders_with_spaces_and_polish_letters():
    template = Template.parse("Dzień dobry {Imię}, numer {Numer telefonu}. Pa {Imię}!")
    assert template.placeholders == ("Imię", "Numer telefonu")
    row = {"Imię": "Łucja", "Numer telefonu": "600 100 200", "Inne": "x"}
    assert template.render(row) == "Dzień dobry Łucja, numer 600 100 200. Pa Łucja!"


def test_spaces_around_names_and_headers_do_not_matter():
    template = Template.parse("Hi { Imię }")
    assert template.placeholders == ("Imię",)
    assert template.render({" Imię ": "Ala"}) == "Hi Ala"


@pytest.mark.parametrize(
    ("source", "rendered"),
    [("{{Imię}}", "{Imię}"), ("{{{Imię}}}", "{Ala}"), ("a}}b{{c", "a}b{c"), ("{{}}", "{}"), ("no braces", "no braces")],
)
def test_doubled_braces_are_literal(source, rendered):
    assert Template.parse(source).render({"Imię": "Ala"}) == rendered


@given(st.text())
def test_escaped_text_renders_to_itself(text):
    escaped = text.replace("{", "{{").replace("}", "}}")
    template = Template.parse(escaped)
    assert template.placeholders == ()
    assert template.render({}) == text


@pytest.mark.parametrize("source", ["{name.__class__}", "{name[0]}", "{name!r}", "{name:>10}", "{name.__class__.__mro__}"])
def test_format_syntax_is_not_evaluated(source):
    template = Template.parse(source)
    with pytest.raises(TemplateError) as caught:
        template.render({"name": "Ala"})
    assert source in str(caught.value) and "write {name}" in str(caught.value)
    with pytest.raises(TemplateError):
        render_frame(template, pd.DataFrame({"name": ["Ala"]}))


def test_a_column_whose_name_looks_like_format_syntax_is_just_a_column():
    assert Template.parse("{a.b} {c:d}").render({"a.b": "1", "c:d": "2"}) == "1 2"


def test_unknown_placeholder_names_it_and_the_columns():
    template = Template.parse("Hej {Imie}, {Kwota}")
    with pytest.raises(TemplateError) as caught:
        template.check(["Imię", "Nazwisko"])
    message = str(caught.value)
    assert "{Imie}, {Kwota}" in message and "Columns: Imię, Nazwisko." in message
    assert "Did you mean {Imię}" in message
    assert caught.value.field == "Message"
    template.check(["Imie", "Kwota"])


def test_long_column_lists_are_shortened_in_errors():
    with pytest.raises(TemplateError, match=r"c19 and 5 more\."):
        Template.parse("{zzz}").check([f"c{i}" for i in range(25)])


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("Cena } 10", "'}' at character 6"),
        ("Cena {Kwota", "'{' at character 6 (near “Cena {Kwota”) is never closed"),
        ("{a {b}", "'{' at character 1 (near “{a {b}”) is followed by another '{'"),
        ("Hi {}", "empty placeholder"),
        ("Hi {  }", "empty placeholder"),
        ("Line one\n  x }", "'}' at line 2, column 5 (near “Line one↵  x }”)"),
        ("{a}}", "'}' at character 4"),
    ],
)
def test_stray_braces_say_where(source, fragment):
    with pytest.raises(TemplateError) as caught:
        Template.parse(source)
    assert fragment in str(caught.value)
    assert "doubled" in str(caught.value)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""), (float("nan"), ""), (pd.NA, ""), (pd.NaT, ""), (np.nan, ""),
        (12.0, "12"), (12.5, "12.5"), (np.float64(3.0), "3"), (7, "7"), (np.int64(48600100200), "48600100200"),
        (pd.Timestamp("2026-03-01"), "2026-03-01"), (dt.datetime(2026, 3, 1, 9, 30), "2026-03-01 09:30:00"),
        (True, "True"), ("  spaced  ", "  spaced  "),
    ],
)
def test_cells_render_as_people_read_them(value, text):
    assert Template.parse("[{v}]").render({"v": value}) == f"[{text}]"


def frame_of_mixed_columns() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Imię": pd.Series(["Ala", None, "Żaneta", "Ola"], dtype="str"),
            "Kwota": [12.0, np.nan, 7.25, 1e6],
            "Numer telefonu": [48600100200, 48600100201, 48600100202, 48600100203],
            "Data": pd.to_datetime(["2026-03-01", None, "2026-03-02 10:00", "2026-03-03"], format="ISO8601"),
            "Mieszane": pd.Series([True, 1, None, 2.5], dtype=object),
        }
    ).set_axis([10, 20, 30, 40])


def test_render_frame_equals_rendering_each_row():
    frame = frame_of_mixed_columns()
    template = Template.parse("{Imię}: {Kwota} zł, tel. {Numer telefonu}, {Data}, {Mieszane} {{x}}")
    rendered = render_frame(template, frame)
    assert list(rendered.index) == [10, 20, 30, 40]
    assert rendered.tolist() == [template.render(row) for row in frame.to_dict("records")]
    assert rendered[20] == ":  zł, tel. 48600100201, , 1 {x}"
    assert rendered[10] == "Ala: 12 zł, tel. 48600100200, 2026-03-01, True {x}"
    assert rendered[30] == "Żaneta: 7.25 zł, tel. 48600100202, 2026-03-02 10:00:00,  {x}"
    assert rendered[40].startswith("Ola: 1000000 zł")


def test_render_frame_without_placeholders_and_without_rows():
    frame = frame_of_mixed_columns()
    assert render_frame(Template.parse("Stały tekst"), frame).tolist() == ["Stały tekst"] * 4
    assert render_frame(Template.parse("{Imię}"), frame.iloc[:0]).tolist() == []


def test_render_frame_uses_the_first_of_repeated_headers():
    frame = pd.DataFrame([["a", "b"]], columns=["X", "X"])
    assert render_frame(Template.parse("{X}"), frame).tolist() == ["a"]


def test_render_frame_refuses_unknown_columns():
    with pytest.raises(TemplateError, match=r"\{Kwota\}"):
        render_frame(Template.parse("{Kwota}"), pd.DataFrame({"Imię": ["Ala"]}))


def test_rendered_frame_feeds_the_segment_counter():
    frame = pd.DataFrame({"Imię": ["Ala", "Łucja", None], "Kod": ["€" * 80, "x", "y"]})
    counts = count_segments_series(render_frame(Template.parse("{Imię} {Kod}"), frame))
    assert counts["encoding"].tolist() == [GSM7, UCS2, GSM7]
    assert counts["segments"].tolist() == [2, 1, 1]
    assert counts["units"].tolist() == [164, 7, 2]
