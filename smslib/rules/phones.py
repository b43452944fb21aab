"""Phone numbers: what people type and spreadsheets hold, turned into E.164.

libphonenumber (``phonenumbers``) decides what a number is; this module only cleans the
text around it (spaces, dashes, an Excel apostrophe, ``600123456.0``) and explains
refusals in words. ``normalize`` checks one value, ``normalize_series`` a whole column
(fast: each distinct value once, the common case matched with libphonenumber's own
metadata patterns in vectorised form), ``parse_recipients`` a pasted text area.
"""

from __future__ import annotations

import functools
import math
import numbers
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

import numpy as np
import pandas as pd
import phonenumbers
from phonenumbers import NumberParseException, PhoneMetadata, PhoneNumberType, ValidationResult

from smslib.core.errors import ConfigError, InvalidPhoneNumber, ValidationError

__all__ = [
    "EMPTY",
    "LANDLINE",
    "RecipientList",
    "RejectedEntry",
    "gateway_format",
    "normalize",
    "normalize_series",
    "parse_recipients",
]

EMPTY = "empty"  # the reason for a blank cell, so that callers can tell it from a wrong number
LANDLINE = "a landline number: it cannot receive SMS"

# Every character str.isspace() accepts (NBSP, narrow NBSP, thin space, ...) plus the
# invisible format marks that copy-paste from web pages and Word leaves behind.
_INVISIBLE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
    "\xad\u180e\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\ufeff"
)
# Punctuation people put between digit groups: 600-123-456, (22) 123 45 67, 600.123.456.
_SEPARATORS = "-.()/[]\u2010\u2011\u2012\u2013\u2014\u2015\u2212"
_DROP_INVISIBLE = str.maketrans("", "", _INVISIBLE)
_DROP_SEPARATORS = str.maketrans("", "", _SEPARATORS)

# The same rules as regular expressions for pandas' vectorised string methods. They use
# [0-9], never \d, so that Python's re and pyarrow's RE2 agree on every input.
_INVISIBLE_RE = "[" + _INVISIBLE + "]+"
_SEPARATORS_RE = "[" + re.escape(_SEPARATORS) + "]+"
_FORMULA_RE = r'^="(.*)"$'             # ="0048600123456": a CSV trick to keep a number as text
_WHOLE_FLOAT_RE = r"^([0-9]+)[.,]0+$"  # 600123456.0: a number column read as floats
_CLEAN_RE = r"\+?[0-9]+"

_FORMULA = re.compile(_FORMULA_RE)
_WHOLE_FLOAT = re.compile(_WHOLE_FLOAT_RE)
_SCIENTIFIC = re.compile(r"^[0-9](?:[.,][0-9]+)?[eE]\+?[0-9]+$")  # 4.8600123456E+10
_CLEAN = re.compile(_CLEAN_RE)

_MIN_NSN, _MAX_NSN = 2, 17  # libphonenumber's bounds on a national significant number
_STR = pd.StringDtype("pyarrow")
_OUT = pd.StringDtype()


@dataclass(frozen=True)
class RejectedEntry:
    """A piece of pasted text that is not a usable number, and why."""

    text: str
    reason: str


@dataclass(frozen=True)
class RecipientList:
    """The numbers found in a pasted text: valid ones once each, in input order."""

    phones: tuple[str, ...]
    invalid: tuple[RejectedEntry, ...]
    duplicates: tuple[str, ...]  # one E.164 entry per repeat that was dropped

    @property
    def duplicate_count(self) -> int:
        return len(self.duplicates)


# -- one value ---------------------------------------------------------------------------


def normalize(raw: object, default_region: str = "PL", *, mobile_only: bool = False) -> str:
    """Return ``raw`` as E.164 (``+48600123456``) or raise ``InvalidPhoneNumber`` saying why."""
    region = _region(default_region)
    cleaned, reason = _clean(raw)
    if cleaned is not None:
        phone, reason = _decide(cleaned, region, mobile_only)
        if phone is not None:
            return phone
    # pd.NA cannot even be compared, so a missing value is reported without itself
    raise InvalidPhoneNumber(None if _is_missing(raw) else raw, reason)


def gateway_format(e164: str, fmt: str = "digits") -> str:
    """Write an E.164 number the way the gateway takes it (``Settings.phone_format``)."""
    if not (isinstance(e164, str) and _CLEAN.fullmatch(e164) and e164.startswith("+")):
        raise InvalidPhoneNumber(e164, "not in E.164 form (+ and digits); normalise it first")
    if fmt == "digits":
        return e164[1:]
    if fmt == "e164":
        return e164
    raise ConfigError(f"phone format {fmt!r} is not known: use digits or e164", field="SMS_PHONE_FORMAT")


def _region(default_region: str) -> str:
    region = str(default_region).strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationError(
            f"{default_region!r} is not a region libphonenumber knows: use a two-letter code such as PL",
            field="region",
        )
    return region


def _is_missing(raw: object) -> bool:
    if raw is None or raw is pd.NA or raw is pd.NaT:
        return True
    if isinstance(raw, Decimal):
        return raw.is_nan()
    return isinstance(raw, numbers.Real) and not isinstance(raw, numbers.Integral) and math.isnan(raw)


def _clean(raw: object) -> tuple[str | None, str | None]:
    """Reduce a cell to ``+?digits`` for libphonenumber, or give the reason it cannot be."""
    if _is_missing(raw):
        return None, EMPTY
    if isinstance(raw, str):
        return _clean_text(raw)
    if isinstance(raw, (bool, np.bool_)):
        return None, "not a phone number (a yes/no value)"
    if isinstance(raw, numbers.Integral):
        return _clean_whole(int(raw))
    if isinstance(raw, (numbers.Real, Decimal)):
        return _clean_decimal(Decimal(float(raw)) if not isinstance(raw, Decimal) else raw)
    return None, f"not a phone number (a {type(raw).__name__} value)"


def _clean_whole(number: int) -> tuple[str | None, str | None]:
    if number < 0:
        return None, "not a phone number (negative)"
    return str(number), None


def _clean_decimal(number: Decimal) -> tuple[str | None, str | None]:
    if not number.is_finite():
        return None, "not a phone number (infinite)"
    if number.adjusted() >= 30:  # E.164 has at most 15 digits; 1E+10048 as text would not even convert
        return None, "not a phone number (far too many digits)"
    if number != number.to_integral_value():
        return None, "not a phone number (has a fractional part)"
    return _clean_whole(int(number))


def _clean_text(text: str) -> tuple[str | None, str | None]:
    text = _ascii_digits(text.translate(_DROP_INVISIBLE)).removeprefix("'")
    if formula := _FORMULA.match(text):
        text = formula[1]
    if not text:
        return None, EMPTY
    if whole := _WHOLE_FLOAT.match(text):
        text = whole[1]
    elif _SCIENTIFIC.match(text):
        return _clean_scientific(text)
    text = text.translate(_DROP_SEPARATORS)
    if _CLEAN.fullmatch(text):
        return text, None
    return None, _not_a_number_reason(text)


def _ascii_digits(text: str) -> str:
    if text.isascii():
        return text
    # libphonenumber reads full-width and other script digits; so do we
    return "".join(
        str(unicodedata.decimal(ch)) if ch.isdecimal() else "+" if ch == "\uff0b" else ch for ch in text
    )


def _clean_scientific(text: str) -> tuple[str | None, str | None]:
    mantissa, _, exponent = text.replace(",", ".").lower().partition("e")
    try:
        number = Decimal(mantissa).scaleb(int(exponent))
    except (InvalidOperation, ValueError):
        return None, "not a phone number"
    cleaned, reason = _clean_decimal(number)
    if cleaned is not None and int(exponent) > len(mantissa.partition(".")[2]):
        # Excel shows 48600123456 as 4.86001E+10 in narrow columns and CSV keeps only that
        return None, (
            f"written in scientific notation ({text}), which may have lost digits: "
            "format the column as text and enter the number again"
        )
    return cleaned, reason


def _not_a_number_reason(text: str) -> str:
    if not any(ch.isdigit() for ch in text):
        return "not a phone number" if any(ch.isalpha() for ch in text) else "not a phone number (no digits)"
    if any(ch.isalpha() for ch in text):
        return "not a phone number (contains letters)"
    if "+" in text[1:]:
        return "not a phone number (+ is allowed only at the start)"
    odd = next(ch for ch in text if not (ch.isdigit() or ch == "+"))
    return f"not a phone number (unexpected {odd!r}; one number per cell)"


# -- libphonenumber's verdict on a cleaned value -------------------------------------------


def _decide(cleaned: str, region: str, mobile_only: bool) -> tuple[str | None, str | None]:
    phone, fixed_line, reason = _verdict(cleaned, region)
    if phone is not None and mobile_only and fixed_line:
        return None, LANDLINE
    return phone, reason


@functools.lru_cache(maxsize=65536)
def _verdict(cleaned: str, region: str) -> tuple[str | None, bool, str | None]:
    """(E.164, is a known landline, None) for a valid number, else (None, False, reason)."""
    try:
        number = phonenumbers.parse(cleaned, region, keep_raw_input=True)
    except NumberParseException as e:
        return None, False, _PARSE_REASONS.get(e.error_type, "not a phone number")
    if not phonenumbers.is_valid_number(number):
        return None, False, _invalid_reason(number)
    phone = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return phone, phonenumbers.number_type(number) == PhoneNumberType.FIXED_LINE, None


_PARSE_REASONS = {
    NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
    NumberParseException.NOT_A_NUMBER: "too short",  # the input is digits, so only too few can fail
    NumberParseException.TOO_SHORT_AFTER_IDD: "too short after the international prefix",
    NumberParseException.TOO_SHORT_NSN: "too short",
    NumberParseException.TOO_LONG: "too long",
}


def _invalid_reason(number: phonenumbers.PhoneNumber) -> str:
    where = phonenumbers.region_code_for_country_code(number.country_code)
    overall = phonenumbers.is_possible_number_with_reason(number)
    # SMS goes to mobiles, so lengths are judged against the region's mobile numbers
    mobile = overall
    if _mobile_desc(where) is not None:
        mobile = phonenumbers.is_possible_number_for_type_with_reason(number, PhoneNumberType.MOBILE)
    from_default = number.country_code_source == phonenumbers.CountryCodeSource.FROM_DEFAULT_COUNTRY
    return _reason(overall, mobile, where, number.country_code, from_default)


@functools.lru_cache(maxsize=4096)
def _reason(overall: int, mobile: int, where: str, country_code: int, from_default: bool) -> str:
    """Words for an invalid number from libphonenumber's length verdicts (ValidationResult)."""
    if where in (phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY, phonenumbers.UNKNOWN_REGION):
        where = f"+{country_code}"
    if overall == ValidationResult.INVALID_COUNTRY_CODE:
        return "unknown country code"
    if overall == ValidationResult.IS_POSSIBLE_LOCAL_ONLY:
        return f"incomplete: a local {where} number without its area code"
    hint = _digits_hint(where, country_code)
    if mobile == ValidationResult.TOO_SHORT:
        return f"too short{hint}"
    if mobile == ValidationResult.TOO_LONG:
        if from_default:
            hint += "; if it is from another country, write it with + and its country code"
        return f"too long{hint}"
    if mobile == ValidationResult.INVALID_LENGTH:
        return f"wrong number of digits{hint}"
    return f"not a valid {where} number (no such number range)"


def _mobile_desc(region: str) -> phonenumbers.PhoneNumberDesc | None:
    """The region's mobile numbers, when libphonenumber knows their lengths."""
    metadata = PhoneMetadata.metadata_for_region(region)
    mobile = metadata.mobile if metadata is not None else None
    if mobile is None or not mobile.possible_length or mobile.possible_length[0] == -1:
        return None
    return mobile


def _digits_hint(where: str, country_code: int) -> str:
    mobile = _mobile_desc(where)
    if mobile is None:
        return ""
    lengths = sorted(mobile.possible_length)
    if len(lengths) == 1:
        count = str(lengths[0])
    elif lengths == list(range(lengths[0], lengths[-1] + 1)) and len(lengths) > 2:
        count = f"{lengths[0]} to {lengths[-1]}"
    else:
        count = ", ".join(map(str, lengths[:-1])) + f" or {lengths[-1]}"
    return f": {where} mobile numbers have {count} digits after +{country_code}"


# -- a column -----------------------------------------------------------------------------


def normalize_series(
    series: pd.Series | Iterable[object], default_region: str = "PL", *, mobile_only: bool = False
) -> pd.DataFrame:
    """Normalise a column: ``phone`` (E.164 or <NA>) and ``error`` (reason or <NA>), same index."""
    region = _region(default_region)
    if not isinstance(series, pd.Series):
        series = pd.Series(list(series), dtype=object)
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    cleaned, errors = _clean_many(uniques)
    phones = np.full(len(cleaned), None, dtype=object)
    todo = np.flatnonzero(pd.notna(cleaned))
    if len(todo):
        # different spellings of one number share their cleaned form: check each once
        clean_codes, clean_uniques = pd.factorize(cleaned[todo])
        found, reasons = _check_many(pd.Series(clean_uniques, dtype=_STR), region, mobile_only)
        phones[todo] = found[clean_codes]
        errors[todo] = reasons[clean_codes]
    # code -1 is a missing cell (None, NaN, pd.NA): it takes the appended last slot
    phones = np.append(phones, None)[codes]
    errors = np.append(errors, EMPTY)[codes]
    return pd.DataFrame(
        {"phone": pd.array(phones, dtype=_OUT), "error": pd.array(errors, dtype=_OUT)},
        index=series.index,
    )


def _clean_many(uniques: object) -> tuple[np.ndarray, np.ndarray]:
    """``_clean`` over distinct values: vectorised for text and numbers, per value for the rest."""
    values = pd.Series(uniques)
    cleaned = np.full(len(values), None, dtype=object)
    done = np.zeros(len(values), dtype=bool)
    if values.dtype.kind in "iuf":
        cleaned[:], done[:] = _clean_numbers(values.to_numpy())
    elif isinstance(values.dtype, pd.StringDtype):  # a text column: every distinct value is a str
        cleaned[:], done[:] = _clean_texts(values.array)
    else:
        objects = values.to_numpy(dtype=object)
        kinds = np.fromiter((_KINDS.get(type(v), 0) for v in objects), dtype=np.int8, count=len(objects))
        for kind, clean in ((1, _clean_texts), (2, _clean_floats), (3, _clean_ints)):
            rows = np.flatnonzero(kinds == kind)
            if len(rows):
                cleaned[rows], done[rows] = clean(objects[rows])
    errors = np.full(len(values), None, dtype=object)
    undone = np.flatnonzero(~done)
    if len(undone):
        objects = values.to_numpy(dtype=object)
        for i in undone:
            cleaned[i], errors[i] = _clean(objects[i])
    return cleaned, errors


# exact types only: a subclass (np.str_, a bool) takes the careful path through _clean
_KINDS: dict[type, int] = {str: 1, float: 2, np.float64: 2, np.float32: 2, int: 3, np.int64: 3, np.int32: 3}


def _clean_numbers(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Whole non-negative numbers as digit strings; anything else is left to ``_clean``."""
    ok = (values >= 0) & (values < 1e17)
    if values.dtype.kind == "f":
        ok &= values == np.floor(values)
    cleaned = np.full(len(values), None, dtype=object)
    cleaned[ok] = values[ok].astype(np.int64).astype(str)
    return cleaned, ok


def _clean_floats(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return _clean_numbers(values.astype(np.float64))


def _clean_ints(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    try:
        return _clean_numbers(values.astype(np.int64))
    except OverflowError:  # a Python int past 64 bits: far too long, _clean says so
        return np.full(len(values), None, dtype=object), np.zeros(len(values), dtype=bool)


def _clean_texts(values: np.ndarray | pd.api.extensions.ExtensionArray) -> tuple[np.ndarray, np.ndarray]:
    """The common steps of ``_clean_text``, vectorised; rows that need more are left undone."""
    texts = pd.Series(values, dtype=_STR)
    ok = _bool(texts.str.fullmatch(_CLEAN_RE))  # already clean: nothing to strip
    messy = np.flatnonzero(~ok)
    if len(messy):
        tidied = texts.iloc[messy].str.replace(_INVISIBLE_RE, "", regex=True).str.removeprefix("'")
        tidied = tidied.str.replace(_FORMULA_RE, r"\1", regex=True)
        tidied = tidied.str.replace(_WHOLE_FLOAT_RE, r"\1", regex=True)
        # scientific notation (4.86E+10) keeps its E, fails the last match and goes to _clean_text
        tidied = tidied.str.replace(_SEPARATORS_RE, "", regex=True)
        texts.iloc[messy] = tidied
        ok[messy] = _bool(tidied.str.fullmatch(_CLEAN_RE))
    return np.where(ok, texts.to_numpy(dtype=object, na_value=None), None), ok


def _check_many(cleaned: pd.Series, region: str, mobile_only: bool) -> tuple[np.ndarray, np.ndarray]:
    """``_decide`` for distinct cleaned values: metadata patterns first, ``parse`` for the rest."""
    phones = np.full(len(cleaned), None, dtype=object)
    reasons = np.full(len(cleaned), None, dtype=object)
    decided = np.zeros(len(cleaned), dtype=bool)

    def classify(rules: _FastRules | None, rows: np.ndarray, values: pd.Series) -> None:
        if rules is None:
            return
        fast = rules.classify(values)
        accept = fast.valid & ~(fast.fixed_line & mobile_only)
        phones[rows[accept]] = fast.phones[accept]
        reasons[rows[fast.decided]] = fast.reasons[fast.decided]
        reasons[rows[fast.valid & ~accept]] = LANDLINE
        decided[rows[fast.decided]] = True

    classify(_fast_rules(region), np.arange(len(cleaned)), cleaned)
    # numbers of other countries (+49..., 00380...) by their own region's rules
    for code, (rows, international) in _by_country_code(cleaned, ~decided, region).items():
        rules = _fast_rules(phonenumbers.region_code_for_country_code(code))
        classify(rules, rows, pd.Series(international, dtype=_STR))
    for i in np.flatnonzero(~decided):
        phones[i], reasons[i] = _decide(cleaned.iat[i], region, mobile_only)
    return phones, reasons


def _by_country_code(
    cleaned: pd.Series, rows: np.ndarray, region: str
) -> dict[int, tuple[np.ndarray, list[str]]]:
    """Rows written with + or the region's international prefix: by country code, as +digits."""
    idd = PhoneMetadata.metadata_for_region(region).international_prefix or ""
    if not re.fullmatch("[0-9]+", idd):
        idd = "+"  # a prefix pattern (e.g. 8~10): only + counts here
    groups: dict[int, tuple[list[int], list[str]]] = {}
    for i in np.flatnonzero(rows):
        value = cleaned.iat[i]
        body = value[1:] if value.startswith("+") else value[len(idd):] if value.startswith(idd) else ""
        if body[:1] in ("", "0"):
            continue  # phonenumbers.parse has its own ways with these
        # phonenumbers' _extract_country_code: the shortest known code wins
        code = next((int(body[:n]) for n in (1, 2, 3)
                     if int(body[:n]) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE), 0)
        if code:
            indices, numbers_ = groups.setdefault(code, ([], []))
            indices.append(i)
            numbers_.append("+" + body)
    return {code: (np.array(indices), numbers_) for code, (indices, numbers_) in groups.items()}


# -- libphonenumber's metadata, vectorised ----------------------------------------------------

_LENGTH_CAP = 32  # any length past this is as TOO_LONG as 32 (the longest numbers have 17 digits)
_NOT_KEPT_AFTER_PREFIX = (ValidationResult.TOO_SHORT, ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
                          ValidationResult.INVALID_LENGTH)
# libphonenumber's order in _number_type_helper, before fixed line and mobile
_OTHER_TYPES = ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan",
                "voicemail")


@dataclass(frozen=True)
class _Desc:
    """One PhoneNumberDesc: a national number pattern and the lengths it allows."""

    pattern: str
    lengths: tuple[int, ...]

    @classmethod
    def of(cls, desc: phonenumbers.PhoneNumberDesc | None) -> _Desc | None:
        if desc is None or not desc.national_number_pattern:
            return None
        return cls(desc.national_number_pattern, tuple(desc.possible_length))

    def pattern_matches(self, numbers_: pd.Series) -> np.ndarray:
        return numbers_.str.fullmatch(self.pattern).to_numpy(dtype=bool, na_value=False)

    def matches(self, numbers_: pd.Series) -> np.ndarray:
        """libphonenumber's _is_number_matching_desc: a possible length, then the pattern."""
        hit = np.ones(len(numbers_), dtype=bool)
        if self.lengths:
            hit = numbers_.str.len().isin(self.lengths).to_numpy(dtype=bool, na_value=False)
        if hit.any():
            hit[hit] = self.pattern_matches(numbers_[hit])
        return hit


class _FastVerdicts(NamedTuple):
    decided: np.ndarray     # parsed as these rules know how; the rest goes to phonenumbers.parse
    valid: np.ndarray
    fixed_line: np.ndarray  # known landlines (type FIXED_LINE)
    phones: np.ndarray      # E.164, meaningful where valid
    reasons: np.ndarray     # why not, where decided and not valid


@dataclass(frozen=True)
class _FastRules:
    """What ``phonenumbers.parse`` + ``is_valid_number`` do for one simple region, per column.

    Only regions where it is short to restate hold such rules: the country code belongs to
    this region alone, the international prefix is a fixed digit string (00) and the
    national prefix, if any, too (no carrier codes, no rewriting). Anything these rules
    do not accept goes to ``phonenumbers.parse``, which also words the reason.
    """

    region: str
    country_code: str
    idd: str
    national_prefix: str
    general: _Desc
    others: tuple[_Desc, ...]
    fixed_line: _Desc | None
    mobile: _Desc | None
    same_mobile_and_fixed_line: bool
    length_verdicts: tuple[int, ...]  # ValidationResult of the general desc, by length
    mobile_length_verdicts: tuple[int, ...]  # the same for mobiles; empty when unknown

    def classify(self, cleaned: pd.Series) -> _FastVerdicts:
        """libphonenumber's verdict on values of the form ``+?[0-9]+``, where these rules reach."""
        national, decided, from_default = self._national_numbers(cleaned)
        valid = np.zeros(len(cleaned), dtype=bool)
        fixed_line = np.zeros(len(cleaned), dtype=bool)
        if decided.any():
            valid[decided], fixed_line[decided] = self._types(national[decided])
        reasons = np.full(len(cleaned), None, dtype=object)
        invalid = decided & ~valid
        if invalid.any():
            reasons[invalid] = self._reasons(national[invalid], from_default[invalid])
        phones = ("+" + self.country_code + national).to_numpy(dtype=object)
        return _FastVerdicts(decided, valid, fixed_line, phones, reasons)

    def _reasons(self, national: pd.Series, from_default: np.ndarray) -> list[str]:
        """``_invalid_reason``, with the length verdicts read from tables."""
        lengths = np.minimum(national.str.len().to_numpy(dtype=np.int64), _LENGTH_CAP)
        overall = np.asarray(self.length_verdicts)[lengths]
        mobile = np.asarray(self.mobile_length_verdicts or self.length_verdicts)[lengths]
        code = int(self.country_code)
        return [_reason(int(o), int(m), self.region, code, bool(f))
                for o, m, f in zip(overall, mobile, from_default)]

    def _national_numbers(self, cleaned: pd.Series) -> tuple[pd.Series, np.ndarray, np.ndarray]:
        """libphonenumber's parse steps: (national significant number, parsed, read as national)."""
        plus = _bool(cleaned.str.startswith("+"))
        digits = cleaned.str.removeprefix("+")
        after_idd = digits.str.slice(len(self.idd))
        # an IDD followed by 0 is left in place: no country code starts with 0
        by_idd = ~plus & _bool(digits.str.startswith(self.idd)) & ~_bool(after_idd.str.startswith("0"))
        international = plus | by_idd
        body = digits.where(plus, after_idd)
        ours = international & _bool(body.str.startswith(self.country_code))

        # written without + but starting with our country code (48600123456): the code is
        # dropped when that makes a number of the region and keeping it does not
        without_code = self._strip_national_prefix(digits.str.slice(len(self.country_code)))
        drop_code = ~international & _bool(digits.str.startswith(self.country_code)) & (
            (~self.general.pattern_matches(digits) & self.general.pattern_matches(without_code))
            | (self._length_verdict(digits) == ValidationResult.TOO_LONG)
        )
        national = digits.where(~drop_code, without_code).where(~ours, body.str.slice(len(self.country_code)))
        candidate = (ours | ~international) & _bool(national.str.len() >= _MIN_NSN)

        stripped = self._strip_national_prefix(national)
        keep_stripped = ~np.isin(self._length_verdict(stripped), _NOT_KEPT_AFTER_PREFIX)
        national = national.where(~keep_stripped, stripped)
        lengths = national.str.len()
        parsed = candidate & _bool(lengths >= _MIN_NSN) & _bool(lengths <= _MAX_NSN)
        return national, parsed, ~international & ~drop_code

    def _strip_national_prefix(self, numbers_: pd.Series) -> pd.Series:
        if not self.national_prefix:
            return numbers_
        stripped = numbers_.str.slice(len(self.national_prefix))
        # kept when the number is a region number with its prefix and not without it
        keep = self.general.pattern_matches(numbers_) & ~self.general.pattern_matches(stripped)
        return numbers_.where(~(_bool(numbers_.str.startswith(self.national_prefix)) & ~keep), stripped)

    def _length_verdict(self, numbers_: pd.Series) -> np.ndarray:
        lengths = np.minimum(numbers_.str.len().to_numpy(dtype=np.int64), _LENGTH_CAP)
        return np.asarray(self.length_verdicts)[lengths]

    def _types(self, national: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        """(valid, FIXED_LINE) as libphonenumber's number type says.

        valid = general & (mobile | fixed | other); FIXED_LINE = general & fixed & ~mobile & ~other.
        A mobile settles both, so fixed line and the other types are only matched for the
        rest: for a list of mobiles that is one pattern instead of eleven.
        """
        general = self.general.matches(national)
        valid = np.zeros(len(national), dtype=bool)  # so far: the mobiles
        if self.mobile is not None and not self.same_mobile_and_fixed_line:
            # with the same patterns, the mobile one is consulted only through the fixed-line one
            candidates = np.flatnonzero(general)
            valid[candidates] = self.mobile.matches(national.iloc[candidates])
        undecided = np.flatnonzero(general & ~valid)
        fixed_line = np.zeros(len(national), dtype=bool)
        if len(undecided):
            rest = national.iloc[undecided]
            fixed = self.fixed_line.matches(rest) if self.fixed_line else np.zeros(len(rest), dtype=bool)
            other = np.zeros(len(rest), dtype=bool)
            for desc in self.others:
                open_ = np.flatnonzero(~other)
                if not len(open_):
                    break
                other[open_] = desc.matches(rest.iloc[open_])
            valid[undecided] = fixed | other
            fixed_line[undecided] = fixed & ~other
        return valid, fixed_line


def _bool(values: pd.Series) -> np.ndarray:
    return values.to_numpy(dtype=bool, na_value=False)


@functools.lru_cache(maxsize=None)
def _fast_rules(region: str) -> _FastRules | None:
    """The vectorised rules for ``region``, or None when it needs ``phonenumbers.parse``."""
    metadata = PhoneMetadata.metadata_for_region(region)
    if metadata is None:  # non-geographic codes such as +800
        return None
    code = metadata.country_code
    national_prefix = metadata.national_prefix_for_parsing or ""
    prefix_free = all(int(str(code)[:i]) not in phonenumbers.COUNTRY_CODE_TO_REGION_CODE
                      for i in range(1, len(str(code))))
    simple = (
        phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(code) == (region,)
        and prefix_free
        and re.fullmatch("[0-9]+", metadata.international_prefix or "")
        and re.fullmatch("[0-9]*", national_prefix)
        and not metadata.national_prefix_transform_rule
    )
    general = _Desc.of(metadata.general_desc)
    if not simple or general is None:
        return None
    mobile = _mobile_desc(region)
    return _FastRules(
        region=region,
        country_code=str(code),
        idd=metadata.international_prefix,
        national_prefix=national_prefix,
        general=general,
        others=tuple(d for d in (_Desc.of(getattr(metadata, t)) for t in _OTHER_TYPES) if d is not None),
        fixed_line=_Desc.of(metadata.fixed_line),
        mobile=_Desc.of(metadata.mobile),
        same_mobile_and_fixed_line=bool(metadata.same_mobile_and_fixed_line_pattern),
        length_verdicts=tuple(_length_verdict(n, metadata.general_desc) for n in range(_LENGTH_CAP + 1)),
        mobile_length_verdicts=() if mobile is None else tuple(
            _length_verdict(n, mobile) for n in range(_LENGTH_CAP + 1)),
    )


def _length_verdict(length: int, desc: phonenumbers.PhoneNumberDesc) -> int:
    """libphonenumber's _test_number_length for one desc, from public metadata."""
    if length in desc.possible_length_local_only:
        return ValidationResult.IS_POSSIBLE_LOCAL_ONLY
    lengths = desc.possible_length
    if length < lengths[0]:
        return ValidationResult.TOO_SHORT
    if length > lengths[-1]:
        return ValidationResult.TOO_LONG
    return ValidationResult.IS_POSSIBLE if length in lengths else ValidationResult.INVALID_LENGTH


# -- a pasted text area -------------------------------------------------------------------

_PIECE_SPLIT = re.compile(r"[\r\n,;\t]+")
_MAX_DIGITS = 20  # longer than any number with country code and prefix: bounds the grouping


def parse_recipients(text: str, default_region: str = "PL", *, mobile_only: bool = False) -> RecipientList:
    """Find the numbers in a pasted text: one per line, or separated by , ; tab or spaces."""
    region = _region(default_region)
    phones: dict[str, None] = {}  # an ordered set
    invalid: list[RejectedEntry] = []
    duplicates: list[str] = []
    for piece in _PIECE_SPLIT.split(text or ""):
        piece = piece.strip(_INVISIBLE)
        for found in _numbers_in_piece(piece, region, mobile_only) if piece else ():
            if isinstance(found, RejectedEntry):
                invalid.append(found)
            elif found in phones:
                duplicates.append(found)
            else:
                phones[found] = None
    return RecipientList(tuple(phones), tuple(invalid), tuple(duplicates))


def _numbers_in_piece(piece: str, region: str, mobile_only: bool) -> list[str | RejectedEntry]:
    """One number written with spaces ("600 123 456"), or several separated by spaces."""
    whole = _check_text(piece, region, mobile_only)
    tokens = piece.split()
    if isinstance(whole, str) or len(tokens) == 1:
        return [whole]
    found: list[str | RejectedEntry] = []
    leftover: list[str] = []
    start = 0
    while start < len(tokens):
        stop, phone = _longest_number(tokens, start, region, mobile_only)
        if phone is None:
            leftover.append(tokens[start])
            start += 1
            continue
        found += _rejected_run(leftover, region, mobile_only)
        leftover = []
        found.append(phone)
        start = stop
    if not found:
        return [whole]  # nothing in it is a number: one refusal for the piece as typed
    return found + _rejected_run(leftover, region, mobile_only)


def _longest_number(tokens: list[str], start: int, region: str, mobile_only: bool) -> tuple[int, str | None]:
    """The longest run of tokens from ``start`` that is one valid number: (its end, E.164)."""
    stop, digits = start, 0
    while stop < len(tokens) and digits <= _MAX_DIGITS:
        digits += sum(ch.isdigit() for ch in tokens[stop])
        stop += 1
    for end in range(stop, start, -1):
        phone = _check_text(" ".join(tokens[start:end]), region, mobile_only)
        if isinstance(phone, str):
            return end, phone
    return start, None


def _rejected_run(tokens: list[str], region: str, mobile_only: bool) -> list[str | RejectedEntry]:
    return [_check_text(" ".join(tokens), region, mobile_only)] if tokens else []


def _check_text(text: str, region: str, mobile_only: bool) -> str | RejectedEntry:
    cleaned, reason = _clean_text(text)
    if cleaned is not None:
        phone, reason = _decide(cleaned, region, mobile_only)
        if phone is not None:
            return phone
    return RejectedEntry(text, reason or EMPTY)
