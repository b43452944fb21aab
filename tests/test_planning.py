"""planning.plan and planning.validate against the obvious per-row code, and the plan as a sequence."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from smslib.services import planning

PHONES = ["600100200", "600 100 201", "+48600100202", "0048600100203", "48600100204", "12"]
TEXTS = ["Ala", "Ola", "Żółw", "Ala "]
SENDERS = ["", "ACME", "Other"]
PRIORITIES = ["", "1", "3"]
FLASHES = ["", "tak", "nie"]
MAPPING = planning.ColumnMapping("phone", message_column="text", sender_column="sender",
                                 priority_column="prio", flash_column="flash")

rows_strategy = st.lists(
    st.fixed_dictionaries({"phone": st.sampled_from(PHONES), "text": st.sampled_from(TEXTS),
                           "sender": st.sampled_from(SENDERS), "prio": st.sampled_from(PRIORITIES),
                           "flash": st.sampled_from(FLASHES)}),
    max_size=40,
)


def table(rows: list[dict[str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["phone", "text", "sender", "prio", "flash"]).astype("str")


def expected_requests(validation: planning.Validation, batch_size: int) -> list[tuple]:
    """The obvious code: walk the valid rows, group by text and options in first-seen order, cut."""
    groups: dict[tuple, list[tuple[str, int]]] = {}
    valid = validation.valid
    for row_number, row in zip(valid.index, valid.to_dict("records")):
        key = (row["text"], row["sender"], row["priority"], row["flash"], row["cost_center"])
        groups.setdefault(key, []).append((row["phone"], int(row_number)))
    requests = []
    for (text, sender, priority, flash, cost_center), members in groups.items():
        for start in range(0, len(members), batch_size):
            chunk = members[start:start + batch_size]
            requests.append((tuple(p for p, _ in chunk), tuple(r for _, r in chunk), text, sender,
                             None if priority is None else int(priority), flash, cost_center))
    return requests


def as_tuple(batch: planning.PlannedBatch) -> tuple:
    o = batch.options
    return (batch.phones, batch.source_rows, batch.text, o.sender, o.priority, o.flash, o.cost_center)


@settings(max_examples=150, deadline=None)
@given(rows=rows_strategy, batch_size=st.integers(1, 4))
def test_plan_matches_grouping_row_by_row(rows, batch_size):
    validation = planning.validate(table(rows), MAPPING)
    planned = planning.plan(validation, batch_size)
    assert [as_tuple(b) for b in planned] == expected_requests(validation, batch_size)
    assert [b.seq for b in planned] == list(range(1, len(planned) + 1))
    assert planned.numbers == sum(len(b.phones) for b in planned) == validation.totals.valid


def test_groups_keep_the_order_of_their_first_row_even_when_interleaved():
    rows = [{"phone": f"6001002{i:02d}", "text": "AB"[i % 2], "sender": "", "prio": "", "flash": ""} for i in range(7)]
    planned = planning.plan(planning.validate(table(rows), MAPPING), batch_size=3)
    assert [(b.text, b.source_rows) for b in planned] == [("A", (0, 2, 4)), ("A", (6,)), ("B", (1, 3, 5))]


def test_the_plan_is_a_sequence_of_requests():
    rows = [{"phone": f"6001002{i:02d}", "text": "A", "sender": "", "prio": "", "flash": ""} for i in range(5)]
    planned = planning.plan(planning.validate(table(rows), MAPPING), batch_size=2)
    assert len(planned) == 3 and planned
    assert planned[-1] == planned[2] and planned[-1].phones == ("+48600100204",)
    assert planned[1:] == [planned[1], planned[2]]
    assert list(planned) == list(planned)  # iterating twice gives the same requests
    assert planned[0].options is planned[1].options  # one options object per distinct set
    with pytest.raises(IndexError, match="3 requests"):
        planned[3]


def test_nothing_valid_plans_nothing():
    planned = planning.plan(planning.validate(table([{"phone": "12", "text": "A", "sender": "", "prio": "",
                                                      "flash": ""}]), MAPPING))
    assert len(planned) == 0 and not planned and list(planned) == [] and planned.numbers == 0


def test_the_fingerprint_of_a_plan_is_the_one_earlier_versions_stored():
    # `send-file` resumes a job by this digest: if it changed, re-running it on a file whose
    # job is half sent would create a second job and send the first half again. The options
    # are given the way the CLI gives them (one value for every row).
    rows = [{"phone": f"6001002{i % 17:02d}", "text": ["Ala", "Ola", "Ala", "Żółw"][i % 4]} for i in range(23)]
    mapping = planning.ColumnMapping("phone", message_column="text", sender="ACME", priority=3, flash=True)
    planned = planning.plan(planning.validate(pd.DataFrame(rows).astype("str"), mapping), batch_size=3)
    assert len(planned) == 8
    assert planning.fingerprint(planned) == "713b32ebc6364fd8b00d1a003dc9b84d"
    assert planning.fingerprint(list(planned)) == planning.fingerprint(planned)


def test_an_empty_option_cell_means_no_option_not_nan():
    # Empty Sender cells used to become NaN, which the client sent as a sender.
    rows = [{"phone": "600100200", "text": "A", "sender": "", "prio": "", "flash": ""},
            {"phone": "600100201", "text": "A", "sender": "ACME", "prio": "", "flash": ""}]
    planned = planning.plan(planning.validate(table(rows), MAPPING))
    assert [(b.options.sender, b.options.priority, b.options.flash) for b in planned] == [
        (None, None, None), ("ACME", None, None)]
    assert '"sender": null' in planned[0].options.to_json()


def test_a_repeat_counts_only_against_an_earlier_valid_row_whatever_its_spelling():
    rows = [
        {"phone": "600100200", "text": "A", "sender": "", "prio": "9", "flash": ""},     # invalid: priority
        {"phone": "+48 600 100 200", "text": "A", "sender": "", "prio": "", "flash": ""},  # first valid
        {"phone": "0048600100200", "text": "A", "sender": "", "prio": "", "flash": ""},    # repeat
        {"phone": "600100200", "text": "B", "sender": "", "prio": "", "flash": ""},        # other text
    ]
    status = planning.validate(table(rows), MAPPING).rows["status"].tolist()
    assert status == ["invalid", "valid", "duplicate", "valid"]


def test_planned_batches_are_plain_values():
    rows = [{"phone": "600100200", "text": "A", "sender": "ACME", "prio": "3", "flash": "tak"}]
    batch = planning.plan(planning.validate(table(rows), MAPPING))[0]
    assert dataclasses.astuple(batch)[:4] == (1, ("+48600100200",), (0,), "A")
    assert (batch.options.sender, batch.options.priority, batch.options.flash) == ("ACME", 3, True)
    assert type(batch.segments) is int and batch.encoding == "GSM-7"
