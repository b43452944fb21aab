"""smslib.rules.phones: cleaning, libphonenumber's verdict, the vectorised column path, pasted text."""

from __future__ import annotations

import math
import random
import re
from decimal import Decimal

import numpy as np
import pandas as pd
import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smslib.core.errors import ConfigError, InvalidPhoneNumber, SmsError, ValidationError
from smslib.rules.phones import (
    RecipientList,
    RejectedEntry,
    gateway_format,
    normalize,
    normalize_series,
    parse_recipients,
)

PL_MOBILE = "+48600123456"


# -- normalize: what people type and spreadsheets hold ---------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "600123456",
        "600 123 456",
        "600-123-456",
        "600.123.456",
        "(600) 123 456",
        "600/123/456",
        "600\u2013123\u2013456",
        "+48 600 123 456",
        "+48600123456",
        "+48 (600) 123-456",
        "0048 600 123 456",
        "0048600123456",
        "48600123456",
        "48 600 123 456",
        "'600123456",
        "'+48 600 123 456",
        "  600123456  ",
        "\u00a0600\u00a0123\u00a0456\u00a0",
        "600\u202f123\u2009456",
        "\ufeff600123456\u200b",
        "600123456\r\n",
        '="0048600123456"',
        "\uff16\uff10\uff10\uff11\uff12\uff13\uff14\uff15\uff16",  # full-width digits
        600123456,
        48600123456,
        600123456.0,
        48600123456.0,
        4.8600123456e10,
        np.int64(600123456),
        np.int32(600123456),
        np.uint64(48600123456),
        np.float64(600123456.0),
        np.float64(4.8600123456e10),
        Decimal("600123456"),
        Decimal("600123456.00"),
        "600123456.0",
        "600123456,0",
        "48600123456.0",
        "4.8600123456E+10",
        "4.8600123456e10",
        "4,8600123456E+10",
    ],
)
def test_polish_mobile_in_every_spelling(raw: object) -> None:
    assert normalize(raw) == PL_MOBILE


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("22 123 45 67", "PL", "+48221234567"),
        ("(22) 123-45-67", "PL", "+48221234567"),
        ("0151 23456789", "DE", "+4915123456789"),
        ("+49 151 23456789", "DE", "+4915123456789"),
        ("0049 151 23456789", "DE", "+4915123456789"),
        (15123456789, "DE", "+4915123456789"),
        ("030 1234567", "DE", "+49301234567"),
        ("07911 123456", "GB", "+447911123456"),
        ("+44 7911 123456", "GB", "+447911123456"),
        ("447911123456", "GB", "+447911123456"),
        (7911123456, "GB", "+447911123456"),
        ("020 7946 0018", "GB", "+442079460018"),
        ("(201) 555-0123", "US", "+12015550123"),
        ("1-201-555-0123", "US", "+12015550123"),
        ("+1 201 555 0123", "US", "+12015550123"),
        ("011 48 600 123 456", "US", PL_MOBILE),
        ("050 123 4567", "UA", "+380501234567"),
        ("+380 50 123 4567", "UA", "+380501234567"),
        ("380501234567", "UA", "+380501234567"),
        ("601 123 456", "CZ", "+420601123456"),
        ("+420 601 123 456", "CZ", "+420601123456"),
        ("420601123456", "CZ", "+420601123456"),
        ("00420 601 123 456", "CZ", "+420601123456"),
        # a foreign number with its country code is read as such whatever the region
        ("+49 151 23456789", "PL", "+4915123456789"),
        ("0049 151 23456789", "PL", "+4915123456789"),
        ("+380 50 123 4567", "PL", "+380501234567"),
        ("+44 7911 123456", "PL", "+447911123456"),
        ("+48 600 123 456", "DE", PL_MOBILE),
        ("600 123 456", "pl", PL_MOBILE),
    ],
)
def test_numbers_of_other_regions(raw: object, region: str, expected: str) -> None:
    assert normalize(raw, region) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("\u00a0\t", "empty"),
        ("'", "empty"),
        (None, "empty"),
        (float("nan"), "empty"),
        (np.float64("nan"), "empty"),
        (pd.NA, "empty"),
        (pd.NaT, "empty"),
        (Decimal("NaN"), "empty"),
        ("telefon", "not a phone number"),
        ("---", "no digits"),
        ("+", "no digits"),
        ("600 123 456 wew. 12", "contains letters"),
        ("600123456, 601234567", "one number per cell"),
        ("600+123456", "+ is allowed only at the start"),
        ("600 123 45", "too short"),
        ("12", "too short"),
        ("1", "too short"),
        ("6001234567", "too long"),
        ("600123456789012345678", "too long"),
        ("380501234567", "another country"),
        ("+999 123 456", "unknown country code"),
        ("00", "too short after the international prefix"),
        ("+48 999 999 999", "not a valid PL number"),
        ("4.86E+10", "scientific notation"),
        ("4.86001E+10", "may have lost digits"),
        (600123456.5, "fractional part"),
        ("6.001234565E+8", "fractional part"),
        (-600123456, "negative"),
        (float("inf"), "infinite"),
        (True, "not a phone number"),
        (np.bool_(False), "not a phone number"),
        ([600123456], "not a phone number"),
        (b"600123456", "not a phone number"),
    ],
)
def test_refusals_say_why(raw: object, reason: str) -> None:
    with pytest.raises(InvalidPhoneNumber) as caught:
        normalize(raw)
    error = caught.value
    assert reason in error.reason
    assert reason in str(error)
    assert isinstance(error, ValueError) and isinstance(error, SmsError)
    assert error.field == "phone"


def test_refusal_names_the_value_and_the_region_s_length() -> None:
    with pytest.raises(InvalidPhoneNumber) as caught:
        normalize("600 123 45")
    assert caught.value.raw == "600 123 45"
    assert str(caught.value).startswith("600 123 45: too short")
    assert "9 digits after +48" in caught.value.reason


@pytest.mark.parametrize(
    ("raw", "region", "reason"),
    [
        ("07911 12345", "GB", "too short: GB mobile numbers have 10 digits after +44"),
        ("0151 2345", "DE", "too short: DE mobile numbers have 10 or 11 digits after +49"),
        ("555 0123", "US", "incomplete: a local US number without its area code"),
        ("50 123 456", "UA", "too short: UA mobile numbers have 9 digits after +380"),
        ("601 123 4567", "CZ", "too long"),
        ("999 123 456", "CZ", "not a valid CZ number"),
    ],
)
def test_refusals_in_other_regions(raw: str, region: str, reason: str) -> None:
    with pytest.raises(InvalidPhoneNumber, match=re.escape(reason)):
        normalize(raw, region)


def test_unknown_region_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="XX"):
        normalize("600123456", "XX")


# -- mobile_only ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "region"), [("22 123 45 67", "PL"), ("030 1234567", "DE"), ("020 7946 0018", "GB")]
)
def test_mobile_only_refuses_known_landlines(raw: str, region: str) -> None:
    assert normalize(raw, region).startswith("+")
    with pytest.raises(InvalidPhoneNumber, match="landline"):
        normalize(raw, region, mobile_only=True)


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("600 123 456", "PL", PL_MOBILE),
        ("(201) 555-0123", "US", "+12015550123"),  # FIXED_LINE_OR_MOBILE: libphonenumber cannot tell
        ("800 123 456", "PL", "+48800123456"),     # toll free: not known to be a landline
        ("+49 151 23456789", "PL", "+4915123456789"),
    ],
)
def test_mobile_only_lets_everything_else_pass(raw: str, region: str, expected: str) -> None:
    assert normalize(raw, region, mobile_only=True) == expected


# -- gateway_format ---------------------------------------------------------------------------


def test_gateway_format() -> None:
    assert gateway_format(PL_MOBILE) == "48600123456"
    assert gateway_format(PL_MOBILE, "digits") == "48600123456"
    assert gateway_format(PL_MOBILE, "e164") == PL_MOBILE


@pytest.mark.parametrize("bad", ["48600123456", "+48 600 123 456", "+", "", None])
def test_gateway_format_wants_e164(bad: object) -> None:
    with pytest.raises(InvalidPhoneNumber, match="E.164"):
        gateway_format(bad)  # type: ignore[arg-type]


def test_gateway_format_unknown_format() -> None:
    with pytest.raises(ConfigError, match="digits or e164"):
        gateway_format(PL_MOBILE, "national")


# -- normalize_series -----------------------------------------------------------------------


def test_series_keeps_the_index_and_reports_per_row() -> None:
    column = pd.Series(
        ["600 123 456", "+48 600-123-456", None, 600123456, "telefon", "4.86E+10", 48600123456.0, pd.NA,
         "  "],
        index=[10, 11, 12, 13, 14, 15, 16, 17, 18],
        dtype=object,
    )
    result = normalize_series(column)
    assert list(result.columns) == ["phone", "error"]
    assert result.index.equals(column.index)
    assert all(isinstance(dtype, pd.StringDtype) and dtype.na_value is pd.NA for dtype in result.dtypes)
    assert result["phone"].tolist() == [
        PL_MOBILE, PL_MOBILE, pd.NA, PL_MOBILE, pd.NA, pd.NA, PL_MOBILE, pd.NA, pd.NA
    ]
    errors = result["error"].tolist()
    assert errors[:3] == [pd.NA, pd.NA, "empty"]
    assert errors[4] == "not a phone number"
    assert "scientific notation" in errors[5]
    assert errors[7:] == ["empty", "empty"]


@pytest.mark.parametrize(
    "column",
    [
        pd.Series([600123456.0, np.nan, 4.8600123456e10, -1.0, 1.5, np.inf]),  # an Excel number column
        pd.Series([600123456, 48600123456, -5, 7], dtype="int64"),
        pd.Series([600123456, None, 48600123456], dtype="Int64"),
        pd.Series(["600123456", None, "48 600 123 456", "x"], dtype="string"),
        pd.Series(["600123456", None, "48 600 123 456", "x"], dtype="str"),
        pd.Series(["600123456", "601234567", "600123456"], dtype="category"),
        pd.Series(["600123456.5", "600123456.0", "600.123.456", "6.001234565E+8", "4.8600123456E+10",
                   "4.86E+10", "600 123 456,0", "'600123456", '="600123456"', "=600123456", "0.0"]),
        pd.Series([True, False]),
        pd.Series(pd.to_datetime(["2024-01-01"])),
    ],
    ids=["float", "int", "Int64", "string", "str", "category", "spreadsheet-text", "bool", "datetime"],
)
def test_series_of_any_dtype_agrees_with_normalize(column: pd.Series) -> None:
    assert _rows(normalize_series(column)) == [_scalar(raw, "PL", False) for raw in column]


def test_series_mobile_only_and_other_inputs() -> None:
    result = normalize_series(["22 123 45 67", "600 123 456"], mobile_only=True)
    assert result["phone"].tolist() == [pd.NA, PL_MOBILE]
    assert "landline" in result["error"][0]
    assert normalize_series(pd.Series([], dtype=object)).shape == (0, 2)


@pytest.mark.parametrize("region", ["GB", "US", "DE"])
def test_series_in_regions_without_and_with_a_fast_path(region: str) -> None:
    raws = ["07911 123456", "(201) 555-0123", "0151 23456789", "+48 600 123 456", "12", None]
    expected = [_scalar(raw, region, False) for raw in raws]
    assert _rows(normalize_series(pd.Series(raws, dtype=object), region)) == expected


def _nullable(values: pd.Series) -> list[str | None]:
    return [None if value is pd.NA else value for value in values]


def _rows(result: pd.DataFrame) -> list[tuple[str | None, str | None]]:
    return list(zip(_nullable(result["phone"]), _nullable(result["error"])))


def _scalar(raw: object, region: str, mobile_only: bool) -> tuple[str | None, str | None]:
    try:
        return normalize(raw, region, mobile_only=mobile_only), None
    except InvalidPhoneNumber as e:
        return None, e.reason


# -- the fast path against plain libphonenumber ------------------------------------------------

_PL_PREFIXES = (
    "45", "50", "51", "53", "57", "60", "66", "69", "72", "73", "78", "79", "88",       # mobile
    "12", "22", "32", "42", "52", "58", "61", "71", "81", "91", "30", "47",             # landline
    "700", "800", "801", "804", "39", "64", "211", "212",                               # other types
    "0", "1", "99", "20", "40", "48", "480", "4848", "00", "",                          # odd starts
)
_INTERNATIONAL = (
    "+48", "0048", "48", "+48 0", "+", "00", "+0048", "+49", "0049", "+380", "+4", "+999", "048"
)


_PL_LENGTHS = (9,) * 12 + (7, 8, 10, 6, 11, 5, 12, 3, 17)


def _generated_inputs(
    rng: random.Random,
    count: int,
    prefixes: tuple[str, ...],
    lengths: tuple[int, ...],
    country_codes: tuple[str, ...],
) -> list[object]:
    """Seeded inputs: valid and invalid numbers, every prefix and spelling, garbage."""
    inputs: list[object] = []
    while len(inputs) < count:
        national = rng.choice(prefixes)
        length = rng.choice(lengths)
        national += "".join(rng.choice("0123456789") for _ in range(max(0, length - len(national))))
        roll = rng.random()
        if roll < 0.45:
            inputs.append(_spelled(rng, rng.choice(("",) * 8 + country_codes) + national))
        elif roll < 0.75:
            inputs.append(_as_spreadsheet_number(rng, national, country_codes))
        elif roll < 0.95:
            inputs.append(_spelled(rng, rng.choice(country_codes) + " " + national))
        else:
            inputs.append(rng.choice(_GARBAGE))
    return inputs


_GARBAGE = (
    None, float("nan"), pd.NA, "", "  ", "telefon", "brak", "n/a", "-", "+", "'", "600 123 456 wew 1",
    "600123456;601234567", "++48600123456", "4.86E+10", "4.8600123E+10", "600123456.5", -600123456, True,
    "6.001234565E+8", "\u00a0", "#N/A", "0", "00", "0048", "+48", "1e3",
)


def _spelled(rng: random.Random, text: str) -> str:
    digits = list(text)
    for _ in range(rng.choice((0, 0, 1, 2, 3))):
        digits.insert(rng.randrange(1, len(digits) + 1) if digits else 0, rng.choice(" - . \u00a0\u202f/"))
    text = "".join(digits)
    if rng.random() < 0.1:
        text = f"({text[:3]}) {text[3:]}"
    if rng.random() < 0.1:
        text = "'" + text
    if rng.random() < 0.1:
        text = f" {text}\u00a0 "
    return text


def _as_spreadsheet_number(rng: random.Random, national: str, country_codes: tuple[str, ...]) -> object:
    plain_codes = tuple(c[1:] for c in country_codes if re.fullmatch(r"\+\d+", c))
    prefix = rng.choice(("", "", "48", "0048") + plain_codes)
    digits = (prefix + national).lstrip("0") or "0"
    number = int(digits)
    form = rng.randrange(6)
    if form == 0:
        return number
    if form == 1:
        return float(number)
    if form == 2:
        return np.int64(number) if number < 2**63 else number
    if form == 3:
        return f"{number}.0"
    if form == 4:
        return f"{digits[0]}.{digits[1:]}E+{len(digits) - 1}" if len(digits) > 1 else digits
    return np.float64(number)


def _reference(raw: object, region: str, mobile_only: bool) -> str | None:
    """Plain phonenumbers.parse + is_valid_number after this test's own cleaning of the generated forms."""
    if raw is None or raw is pd.NA or isinstance(raw, bool):
        return None
    if isinstance(raw, (int, np.integer)):
        text = str(int(raw)) if raw >= 0 else "-"
    elif isinstance(raw, float):
        text = str(int(raw)) if math.isfinite(raw) and raw.is_integer() and raw >= 0 else "-"
    else:
        text = str(raw).replace("\u00a0", " ").replace("\u202f", " ").strip().removeprefix("'")
        text = re.sub(r"\s+", "", text)
        if re.fullmatch(r"\d+\.0+", text):
            text = text.split(".")[0]
        elif match := re.fullmatch(r"(\d)\.(\d+)E\+(\d+)", text):
            text = match[1] + match[2] if int(match[3]) == len(match[2]) else "-"
        text = re.sub(r"[-./()]", "", text)
    if not re.fullmatch(r"\+?\d+", text):
        return None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    if mobile_only and phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.FIXED_LINE:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _assert_agrees(inputs: list[object], region: str, mobile_only: bool) -> None:
    result = normalize_series(pd.Series(inputs, dtype=object), region, mobile_only=mobile_only)
    phones = _nullable(result["phone"])
    errors = _nullable(result["error"])
    expected = [_reference(raw, region, mobile_only) for raw in inputs]
    mismatches = [(raw, got, want) for raw, got, want in zip(inputs, phones, expected) if got != want]
    assert not mismatches, f"{len(mismatches)} disagreements, e.g. {mismatches[:5]}"
    assert all((phone is None) != (error is None) for phone, error in zip(phones, errors))
    # the reasons are the ones the one-value path gives (checked on a sample: it is slow)
    for i in range(0, len(inputs), 37):
        assert (phones[i], errors[i]) == _scalar(inputs[i], region, mobile_only), inputs[i]


def test_fast_path_agrees_with_phonenumbers_on_100k_polish_inputs() -> None:
    rng = random.Random(20240611)
    inputs = _generated_inputs(rng, 100_000, _PL_PREFIXES, _PL_LENGTHS, _INTERNATIONAL)
    valid = sum(_reference(raw, "PL", False) is not None for raw in inputs[:2000])
    assert 600 < valid < 1400  # both kinds are common
    _assert_agrees(inputs, "PL", mobile_only=False)


def test_fast_path_agrees_with_phonenumbers_when_mobile_only() -> None:
    rng = random.Random(7)
    inputs = _generated_inputs(rng, 10_000, _PL_PREFIXES, _PL_LENGTHS, _INTERNATIONAL)
    _assert_agrees(inputs, "PL", mobile_only=True)


@pytest.mark.parametrize(
    ("region", "prefixes", "lengths", "country_codes"),
    [
        ("DE", ("151", "160", "170", "30", "40", "89", "800", "900", "0", "0151", "030", "49", "4915", "1"),
         (10, 11, 12, 8, 9, 13, 5, 15), ("+49", "0049", "49", "+48", "+", "00")),
        ("UA", ("50", "67", "93", "44", "32", "800", "0", "050", "044", "380", "3"),
         (9, 9, 10, 10, 8, 11, 6), ("+380", "00380", "380", "+48", "+")),
        ("CZ", ("601", "702", "2", "31", "800", "9", "420", "0"),
         (9, 9, 9, 10, 12, 8), ("+420", "00420", "420", "+48")),
        ("GB", ("7911", "20", "121", "800", "0", "07911", "44"),
         (10, 10, 11, 9, 7, 12), ("+44", "0044", "44", "+48")),
        ("US", ("201", "212", "800", "1", "555", "1201"),
         (10, 10, 11, 7, 9), ("+1", "011", "1", "+48", "01148", "011380")),
        # Rwanda: a national number may itself start with the national prefix 0 (06...)
        ("RW", ("06", "7", "78", "0", "07", "078", "250", "2", "800", "0800"),
         (8, 9, 10, 9), ("+250", "00250", "250", "+48", "0")),
    ],
)
def test_fast_path_agrees_with_phonenumbers_in_other_regions(
    region: str, prefixes: tuple[str, ...], lengths: tuple[int, ...], country_codes: tuple[str, ...]
) -> None:
    rng = random.Random(region)
    inputs = _generated_inputs(rng, 5_000, prefixes, lengths, country_codes)
    _assert_agrees(inputs, region, mobile_only=False)
    _assert_agrees(inputs[:2000], region, mobile_only=True)


# pieces of what cells hold, so that generated text looks like numbers, nearly-numbers and junk
_FRAGMENTS = (
    "0", "1", "4", "5", "6", "7", "9", "48", "600", "123", "456", "78", "0048", "00", "+", "+48", " ", "-",
    ".", ",", "(", ")", "/", "'", '="', '"', ".0", "E+10", "e8", "E+", "\u00a0", "\u202f", "\u200b", "\t",
    "\n", "\u0663", "\uff16", "x", "nr",
)
_CELLS = st.one_of(
    st.lists(st.sampled_from(_FRAGMENTS), max_size=12).map("".join),
    st.integers(min_value=-(10**10), max_value=10**18),
    st.sampled_from([-1, 0, 600123456, 48600123456, 10**17, 2**64]),
    st.integers(min_value=0, max_value=10**12).map(float),
    st.integers(min_value=0, max_value=10**12).map(lambda n: n + 0.5),
    st.floats(),
    st.none(),
)


@given(st.lists(_CELLS, max_size=30), st.sampled_from(["PL", "DE", "GB", "RW"]))
@settings(max_examples=150, deadline=None)
def test_column_and_one_value_agree_on_anything(values: list[object], region: str) -> None:
    result = normalize_series(pd.Series(values, dtype=object), region)
    assert _rows(result) == [_scalar(value, region, False) for value in values]


def test_common_spellings_need_no_phonenumbers_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(99)
    prefixes = ("50", "60", "69", "72", "78", "88")
    mobiles = [rng.choice(prefixes) + f"{rng.randrange(10**7):07d}" for _ in range(2000)]
    column = (
        mobiles + [f"+48 {n[:3]} {n[3:6]} {n[6:]}" for n in mobiles] + [int(n) for n in mobiles]
        + [float("48" + n) for n in mobiles] + [f"0048{n}" for n in mobiles] + [n[:8] for n in mobiles]
        + [f"+49 151 {n[1:]}" for n in mobiles] + [f"00380 50 {n[2:]}" for n in mobiles]
    )
    calls: list[object] = []
    parse = phonenumbers.parse
    monkeypatch.setattr(phonenumbers, "parse", lambda *args, **kw: calls.append(args) or parse(*args, **kw))
    result = normalize_series(pd.Series(column, dtype=object))
    assert result["phone"].notna().sum() == 7 * len(mobiles)
    assert result["error"].str.startswith("too short").sum() == len(mobiles)
    assert calls == []  # the metadata patterns decided every one


# -- parse_recipients -----------------------------------------------------------------------


def test_recipients_pasted_from_an_excel_column() -> None:
    pasted = "telefon\r\n600 123 456\r\n601234567\r\n+48 602 123 456\r\n\r\n"
    result = parse_recipients(pasted)
    assert isinstance(result, RecipientList)
    assert result.phones == ("+48600123456", "+48601234567", "+48602123456")
    assert result.invalid == (RejectedEntry("telefon", "not a phone number"),)
    assert result.duplicates == () and result.duplicate_count == 0


@pytest.mark.parametrize(
    "text",
    [
        "600123456,601234567;602123456\t603123456",
        "600123456 601234567   602123456\n603123456",
        "600 123 456 601 234 567, 602-123-456 603 123 456",
        "+48 600 123 456 +48 601 234 567\n0048 602 123 456;603.123.456",
    ],
)
def test_recipients_separators(text: str) -> None:
    assert parse_recipients(text).phones == ("+48600123456", "+48601234567", "+48602123456", "+48603123456")


def test_recipients_keep_a_spaced_number_whole() -> None:
    result = parse_recipients("48 600 123 456\n22 123 45 67")
    assert result.phones == ("+48600123456", "+48221234567")
    assert result.invalid == ()


def test_recipients_duplicates_are_counted_and_named() -> None:
    result = parse_recipients("600123456\n+48 600 123 456\n601234567\n0048600123456\n601 234 567")
    assert result.phones == ("+48600123456", "+48601234567")
    assert result.duplicates == ("+48600123456", "+48600123456", "+48601234567")
    assert result.duplicate_count == 3


def test_recipients_report_invalid_entries_as_typed() -> None:
    result = parse_recipients("600 123 45\n600123456 12345 601234567\nabc 602123456, ; \n")
    assert result.phones == ("+48600123456", "+48601234567", "+48602123456")
    assert [entry.text for entry in result.invalid] == ["600 123 45", "12345", "abc"]
    assert "too short" in result.invalid[0].reason
    assert "too short" in result.invalid[1].reason
    assert result.invalid[2].reason == "not a phone number"


def test_recipients_mobile_only_and_other_regions() -> None:
    result = parse_recipients("22 123 45 67\n600 123 456", mobile_only=True)
    assert result.phones == (PL_MOBILE,)
    assert result.invalid[0].text == "22 123 45 67" and "landline" in result.invalid[0].reason
    assert parse_recipients("07911 123456\n+48 600 123 456", "GB").phones == ("+447911123456", PL_MOBILE)


@pytest.mark.parametrize("text", ["", "  \n\r\n , ;\t", "\u00a0"])
def test_recipients_empty_text(text: str) -> None:
    assert parse_recipients(text) == RecipientList((), (), ())


def test_recipients_long_line_of_numbers() -> None:
    numbers = [f"+48 6{i:08d}" for i in range(0, 2000, 7)]
    result = parse_recipients(" ".join(numbers))
    assert len(result.phones) == len(numbers)
    assert result.invalid == ()
