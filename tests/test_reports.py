"""sync_reports against the sandbox gateway over HTTP: every report stored and then
acknowledged, nothing lost or counted twice across a crash, pending messages asked by id."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from smslib.services import reports
from smslib.core.models import DeliveryReport, DeliveryStatus, MessageState, ReportBatch
from smslib.services.reports import SyncCounts, sync_reports
from smslib.services.sending import send_and_record
from smslib.store import MessageFilter

# Numbers ending 0000..0004 get a promised fate from the sandbox.
MAGIC = {
    "+48600100000": MessageState.DELIVERED,
    "+48600100001": MessageState.UNDELIVERED,
    "+48600100002": MessageState.EXPIRED,
    "+48600100003": MessageState.REJECTED,
    "+48600100004": MessageState.PENDING,  # never reported
}
RANDOM_FATES = [f"+4860020{i:04d}" for i in range(100, 140)]


def send(client, store, phones):
    outcome = send_and_record(client, store, phones, "Hello")
    assert outcome.accepted, outcome.error
    return outcome


def states(store) -> dict[str, MessageState]:
    return {m.phone: m.state for m in store.query_messages(limit=10_000).rows}


def unread_at_gateway(sandbox) -> list[dict]:
    return [m for m in sandbox.backend.accepted_messages() if m["due_at"] is not None and not m["read"]]


class _Crash(Exception):
    """The process dies between storing the reports and acknowledging them."""


def _crash(message_ids):
    raise _Crash(f"crashed before acknowledging {len(message_ids)} reports")


def test_magic_numbers_end_in_the_states_they_promise(client, store, sandbox):
    send(client, store, list(MAGIC))
    sandbox.backend.force_deliver_all()
    counts = sync_reports(client, store, pending_check_after=None)
    assert (counts.new, counts.duplicate, counts.unknown, counts.acknowledged) == (4, 0, 0, 4)
    assert states(store) == MAGIC


def test_every_report_is_stored_with_the_gateways_status_and_marked_read(client, store, sandbox):
    send(client, store, RANDOM_FATES[:20])
    send(client, store, RANDOM_FATES[20:])
    sandbox.backend.force_deliver_all()
    counts = sync_reports(client, store, pending_check_after=None)
    assert counts == SyncCounts(new=40, duplicate=0, unknown=0, still_pending=0, acknowledged=40)
    gateway = {m["message_id"]: m for m in sandbox.backend.accepted_messages()}
    assert all(m["read"] for m in gateway.values())
    for message in store.query_messages(limit=100).rows:
        assert message.status_code == gateway[message.message_id]["status"]
        assert message.state is MessageState.from_status(message.status_code)
        assert message.delivered_at >= message.accepted_at
    assert sync_reports(client, store, pending_check_after=None) == SyncCounts()


def test_a_crash_between_storing_and_acknowledging_loses_nothing_and_counts_nothing_twice(client, store, sandbox):
    send(client, store, RANDOM_FATES)
    sandbox.backend.force_deliver_all()
    with pytest.raises(_Crash):
        sync_reports(client, store, pending_check_after=None, acknowledge=_crash)
    stored = states(store)
    assert MessageState.PENDING not in stored.values()  # stored before the crash
    assert len(unread_at_gateway(sandbox)) == 40  # and still unread at the gateway
    counts = sync_reports(client, store, pending_check_after=None)
    assert (counts.new, counts.duplicate, counts.acknowledged) == (0, 40, 40)
    assert unread_at_gateway(sandbox) == []
    assert states(store) == stored
    expected = Counter(MessageState.from_status(m["status"]) for m in sandbox.backend.accepted_messages())
    assert Counter(stored.values()) == expected


def test_reports_of_messages_sent_elsewhere_are_kept_as_unknown(client, store, sandbox):
    client.send(["48600300300"], "Sent by another system")
    send(client, store, ["+48600100000"])
    sandbox.backend.force_deliver_all()
    counts = sync_reports(client, store, pending_check_after=None)
    assert (counts.new, counts.unknown, counts.acknowledged) == (2, 1, 2)
    assert store.unlinked_report_count() == 1


def test_pending_messages_are_asked_about_by_id_once_they_are_old_enough(client, store, sandbox):
    send(client, store, ["+48600100000", "+48600100001", "+48600100004"])
    sandbox.backend.force_deliver_all()
    # Someone else read and acknowledged the unread reports, so only asking by id finds them.
    assert len(client.delivery_reports(mark_as_read=True)) == 2
    now = datetime.now(timezone.utc)
    young = sync_reports(client, store, pending_check_after=300, now=now)
    assert young == SyncCounts()
    assert set(states(store).values()) == {MessageState.PENDING}
    old = sync_reports(client, store, pending_check_after=300, now=now + timedelta(minutes=6))
    assert (old.new, old.still_pending) == (2, 1)
    assert states(store) == {"+48600100000": MessageState.DELIVERED, "+48600100001": MessageState.UNDELIVERED,
                             "+48600100004": MessageState.PENDING}
    # Asked once per interval: the same moment asks nobody again.
    assert sync_reports(client, store, pending_check_after=300, now=now + timedelta(minutes=6)).still_pending == 0


def test_a_sync_without_anything_new_changes_nothing(client, store):
    send(client, store, ["+48600100004"])
    before = store.change_counter()
    assert sync_reports(client, store, pending_check_after=None) == SyncCounts()
    assert store.count_messages(MessageFilter(states=(MessageState.PENDING,))) == 1
    assert store.change_counter() == before  # the pages' cached queries stay valid


# -- many reports: stored in parts, each acknowledged once committed -----------------------------


def acknowledging_through(client, calls: list[list[str]]):
    """The default acknowledgement, recording the message ids of every call."""
    def acknowledge(message_ids):
        calls.append(list(message_ids))
        return client.delivery_reports(message_ids=message_ids, mark_as_read=True)
    return acknowledge


def test_a_sync_of_several_parts_stores_every_report_and_acknowledges_each_part_once(client, store, sandbox,
                                                                                      monkeypatch):
    monkeypatch.setattr(reports, "REPORTS_PER_PART", 7)
    send(client, store, RANDOM_FATES)
    sandbox.backend.force_deliver_all()
    calls: list[list[str]] = []
    counts = sync_reports(client, store, pending_check_after=None, acknowledge=acknowledging_through(client, calls))
    assert counts == SyncCounts(new=40, duplicate=0, unknown=0, still_pending=0, acknowledged=40)
    assert [len(call) for call in calls] == [7, 7, 7, 7, 7, 5]
    assert sorted(i for call in calls for i in call) == sorted(m.message_id for m in store.query_messages(limit=100).rows)
    assert unread_at_gateway(sandbox) == []
    assert MessageState.PENDING not in states(store).values()


def test_a_crash_acknowledging_a_later_part_loses_nothing(client, store, sandbox, monkeypatch):
    monkeypatch.setattr(reports, "REPORTS_PER_PART", 10)
    send(client, store, RANDOM_FATES)
    sandbox.backend.force_deliver_all()
    calls: list[list[str]] = []
    acknowledge = acknowledging_through(client, calls)

    def crash_at_the_third_part(message_ids):
        if len(calls) == 2:
            raise _Crash("crashed before acknowledging the third part")
        return acknowledge(message_ids)

    with pytest.raises(_Crash):
        sync_reports(client, store, pending_check_after=None, acknowledge=crash_at_the_third_part)
    assert len(unread_at_gateway(sandbox)) == 20  # parts 1 and 2 acknowledged, 3 stored only, 4 not even stored
    assert list(states(store).values()).count(MessageState.PENDING) == 10
    counts = sync_reports(client, store, pending_check_after=None)
    assert (counts.new, counts.duplicate, counts.acknowledged) == (10, 10, 20)
    assert unread_at_gateway(sandbox) == [] and MessageState.PENDING not in states(store).values()


def test_a_report_that_arrives_while_acknowledging_is_stored_too(client, store, sandbox):
    send(client, store, ["+48600100000", "+48600100001"])
    sandbox.backend.force_deliver_all()
    [delivered] = [m for m in store.query_messages(limit=10).rows if m.phone == "+48600100000"]

    def acknowledge_with_a_newcomer(message_ids):
        answer = client.delivery_reports(message_ids=message_ids, mark_as_read=True)
        newcomer = DeliveryReport("late-1", delivered.message_id, "48600100000", DeliveryStatus.UNDELIVERED,
                                  datetime.now(timezone.utc) + timedelta(minutes=1))
        return ReportBatch(answer.current_time, (*answer.reports, newcomer))

    counts = sync_reports(client, store, pending_check_after=None, acknowledge=acknowledge_with_a_newcomer)
    assert (counts.new, counts.acknowledged) == (3, 3)
    shown = store.get_message(delivered.id)
    assert "late-1" in [r.report_id for r in shown.reports]
    assert (shown.message.report_id, shown.message.state) == ("late-1", MessageState.UNDELIVERED)  # the later final
