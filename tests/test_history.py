"""History's number filter (smslib.services.history.number_filter) on each engine: a prefix, or digits anywhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from smslib.services.history import iter_matching, number_filter
from smslib.store import MessageFilter, messages

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("typed", "expected"), [
    ("+48600", ("+48600", "prefix")),
    ("+48 600-100", ("+48600100", "prefix")),
    ("(+48) 600.100", ("+48600100", "prefix")),
    ("0048600", ("+48600", "prefix")),
    ("00 48 600", ("+48600", "prefix")),
    ("48600", ("48600", "contains")),
    ("600 100-200", ("600100200", "contains")),
    ("00", ("00", "contains")),  # nothing after the 00: the digits
    ("", ("", "contains")),
    ("+48_6%", ("+48_6%", "prefix")),
])
def test_plus_or_00_makes_a_prefix_anything_else_digits_anywhere(typed, expected):
    assert number_filter(typed) == expected


def add(store, phones, start=T0):
    """One message to each of ``phones``, a second apart from ``start`` on, as the store keeps them."""
    rows = [{"phone": phone, "text": "hi", "channel": "smses", "sent_by": "test", "state": "pending",
             "submitted_at": start + timedelta(seconds=n), "segments": 1} for n, phone in enumerate(phones)]
    with store.atomic() as connection:
        connection.execute(messages.insert(), rows)


def found(store, typed: str) -> list[str]:
    phone, match = number_filter(typed)
    filters = MessageFilter(phone=phone, phone_match=match)
    rows = list(iter_matching(store, filters, page_size=7))
    assert len(rows) == store.count_messages(filters)
    return sorted(m.phone for m in rows)


def test_a_prefix_does_not_match_the_digits_in_the_middle_of_a_number(store):
    add(store, ["+48600100200", "+48600100201", "+48512486001", "+48512600100"])
    assert found(store, "+48600") == found(store, "0048600") == ["+48600100200", "+48600100201"]
    assert found(store, "48600") == ["+48512486001", "+48600100200", "+48600100201"]
    assert found(store, "+600") == []


def test_like_wildcards_in_the_number_are_plain_characters(store):
    add(store, ["+48600100200", "+48_00100200", "+4%600100200"])
    assert found(store, "+48_00") == ["+48_00100200"]
    assert found(store, "+4%") == ["+4%600100200"]
    assert found(store, "+%") == []
    assert found(store, "_00") == ["+48_00100200"]
    assert found(store, "%") == ["+4%600100200"]


def test_keyset_pages_of_a_prefix_hold_each_of_its_messages_once(store):
    # Interleaved in time with numbers that hold the digits elsewhere: every page has some to skip.
    prefixed = [f"+48791{n:06d}" for n in range(60)]
    inside = [f"+485{n:03d}48791" for n in range(60)]
    add(store, [phone for pair in zip(prefixed, inside) for phone in pair])
    phone, match = number_filter("+48791")
    rows = list(iter_matching(store, MessageFilter(phone=phone, phone_match=match), page_size=7))
    assert sorted(m.phone for m in rows) == prefixed
    assert len({m.id for m in rows}) == 60
    assert [m.submitted_at for m in rows] == sorted((m.submitted_at for m in rows), reverse=True)
