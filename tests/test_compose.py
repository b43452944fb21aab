"""smslib.services.compose: the Compose page's rules, from typed input to a sent plan."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smslib.services import compose
from smslib.services.compose import BLOCKED, ComposeInput, build_plan, check_message, check_recipients, validate_sender
from smslib.core.errors import ValidationError
from smslib.core.models import Channel, MessageState
from smslib.store import BatchState

# -- validate_sender --------------------------------------------------------------------------


@pytest.mark.parametrize("sender", ["ACME", "Shop 24", "a", "A.B-C 12345", "Abcdefghijk", "+48600123456",
                                    "1234567890123456", "+1", "  ACME  "])
def test_valid_senders_are_accepted_and_trimmed(sender):
    assert validate_sender(sender) == sender.strip()


@pytest.mark.parametrize(("sender", "reason"), [
    ("Abcdefghijkl", "at most 11 characters"),
    ("Café", "not 'é'"),
    ("ACME!", "not '!'"),
    ("12345678901234567", "at most 16 digits"),
    ("+48 600", "a name needs a letter"),
    ("123-456", "a name needs a letter"),
    ("   ", "empty"),
])
def test_invalid_senders_say_why_and_name_the_field(sender, reason):
    with pytest.raises(ValidationError) as caught:
        validate_sender(sender)
    assert reason in str(caught.value)
    assert caught.value.field == "Sender"


@given(st.text(alphabet="AZaz09 .-+é!", max_size=20))
def test_validate_sender_agrees_with_the_contract_rule(sender):
    import re

    value = sender.strip()
    ok = bool(re.fullmatch(r"(?=.*[A-Za-z])[A-Za-z0-9 .\-]{1,11}", value) or re.fullmatch(r"\+?[0-9]{1,16}", value))
    try:
        validate_sender(sender)
    except ValidationError:
        assert not ok
    else:
        assert ok


# -- recipients --------------------------------------------------------------------------------


def test_recipients_from_an_excel_column_are_normalised_and_deduplicated():
    pasted = "600 123 456\r\n+48600123456\r\n601-000-001\r\n"
    checked = check_recipients(pasted)
    assert checked.phones == ("+48600123456", "+48601000001")
    assert checked.duplicates == ("+48600123456",)
    assert checked.refused == ()
    assert checked.summary() == "2 recipients, 1 duplicate removed."


def test_separators_and_invalid_entries_with_reasons():
    checked = check_recipients("600123456, 12; abc 601000001")
    assert checked.phones == ("+48600123456", "+48601000001")
    assert {r.text for r in checked.refused} == {"12", "abc"}
    assert all(r.reason for r in checked.refused)
    assert checked.summary() == "2 recipients, 2 entries refused."


def test_blocked_numbers_are_refused_with_the_reason_blocked(store):
    store.block(["+48601000001"], reason="asked to stop")
    checked = check_recipients("600123456\n601000001", blocked=store.blocked)
    assert checked.phones == ("+48600123456",)
    assert [(r.text, r.reason) for r in checked.refused] == [("+48601000001", BLOCKED)]


def test_no_numbers_means_no_recipients():
    checked = check_recipients("")
    assert (checked.phones, checked.refused, checked.duplicates) == ((), (), ())
    assert checked.summary() == "0 recipients."


# -- message -----------------------------------------------------------------------------------


def test_gsm7_counter():
    checked = check_message("Hello")
    assert checked.counter == "5 characters · GSM-7 · 1 SMS · 155 left in this SMS"
    assert checked.error is None and checked.unicode_reason is None and checked.transliteration is None


def test_one_polish_letter_makes_it_unicode_and_says_which():
    checked = check_message("a" * 100 + "ą")
    assert checked.count.encoding == "UCS-2" and checked.count.segments == 2
    assert "ą" in checked.unicode_reason
    assert "In GSM-7 it would take 1 SMS instead of 2." in checked.unicode_reason
    assert checked.transliteration.text == "a" * 101
    assert compose.describe_changes(checked.transliteration) == "ą → a (1×)"


def test_typographic_quote_is_shown_with_its_code_point():
    checked = check_message("„Hi”")
    assert "„ (U+201E)" in checked.unicode_reason and "” (U+201D)" in checked.unicode_reason
    assert checked.transliteration.text == '"Hi"'


def test_emoji_cannot_be_transliterated_and_is_said_to_stay():
    checked = check_message("Hi 😀")
    assert checked.count.is_unicode
    assert checked.transliteration is None  # nothing to replace: no button to offer
    mixed = check_message("Zażółć 😀")
    assert "No GSM-7 form, kept" in compose.describe_changes(mixed.transliteration)


def test_too_long_and_empty_messages_are_refused():
    assert "too long" in check_message("x" * 1531).error
    assert check_message("x" * 1530).error is None
    assert "empty" in check_message("   ").error


# -- plans -------------------------------------------------------------------------------------


def _plan(text="Hello", recipients="600123456\n601000001", **options):
    given = ComposeInput(recipients, text, transaction_id=options.pop("transaction_id", "tx-1"), **options)
    return build_plan(given, check_recipients(recipients), cost_centers=("marketing",))


def test_a_valid_plan_prices_segments_times_recipients():
    checked = _plan("ą" * 71, sender="ACME", priority=3, flash=True, cost_center="marketing")
    plan = checked.plan
    assert checked.ready and checked.problems == ()
    assert (plan.segments, plan.encoding, plan.billed) == (2, "UCS-2", 4)
    assert plan.cost_line == "2 SMS × 2 recipients = 4 SMS billed (UCS-2)"
    assert "Priority: 3 – Highest" in plan.option_lines()
    assert (plan.sender, plan.priority, plan.flash, plan.cost_center, plan.transaction_id) == (
        "ACME", 3, True, "marketing", "tx-1")


def test_problems_name_their_field():
    checked = _plan("", recipients="abc", sender="Too long sender", cost_center="nowhere", transaction_id=" ")
    assert checked.plan is None
    text = " ".join(checked.problems)
    for part in ("Recipients", "empty", "Sender", "Cost centre", "TransactionId"):
        assert part in text


def test_only_configured_senders_when_custom_ones_are_off():
    given = ComposeInput("600123456", "Hi", sender="Other", transaction_id="t")
    checked = build_plan(given, check_recipients("600123456"), allowed_senders=("ACME",), allow_custom_sender=False)
    assert "not one of the configured senders" in checked.problems[0]


def test_simpleapi_drops_the_options_it_does_not_take():
    plan = _plan(channel=Channel.SIMPLEAPI, priority=2, flash=True, cost_center="marketing").plan
    assert (plan.priority, plan.flash, plan.cost_center, plan.channel) == (None, None, None, Channel.SIMPLEAPI)
    assert any("/SimpleApi" in line for line in plan.option_lines())


def test_test_send_plan_goes_to_the_test_phone_with_its_own_transaction_id():
    given = ComposeInput("", "Hi", transaction_id="main")
    checked = compose.plan_test_send(given, "600 100 200")
    assert checked.plan.phones == ("+48600100200",)
    assert checked.plan.transaction_id != "main"
    assert "not usable" in compose.plan_test_send(given, "12").problems[0]


def test_a_test_keeps_its_transaction_id_while_it_is_the_same_message():
    given = ComposeInput("", "Hi", sender="ACME", transaction_id="main")
    first = compose.plan_test_send(given, "600 100 200").plan
    again = compose.plan_test_send(given, "600 100 200", offered=first).plan
    assert again == first  # a second click, a rerun, a retry: the same TransactionId
    for changed in (ComposeInput("", "Hi!", sender="ACME"), ComposeInput("", "Hi", sender="Shop"),
                    ComposeInput("", "Hi", sender="ACME", priority=3)):
        other = compose.plan_test_send(changed, "600 100 200", offered=first).plan
        assert other.transaction_id not in (first.transaction_id, "main") and not other.same_message(first)
    renewed = compose.plan_test_send(given, "600 100 200", offered=None).plan
    assert renewed.same_message(first) and renewed.transaction_id != first.transaction_id


def test_only_an_uncertain_smses_send_to_a_deduplicating_gateway_is_retried():
    smses = _plan(transaction_id="t").plan
    simple = build_plan(ComposeInput("600123456", "Hi", channel=Channel.SIMPLEAPI), check_recipients("600123456")).plan
    assert compose.retries_uncertain(smses, gateway_deduplicates=True)
    assert not compose.retries_uncertain(smses, gateway_deduplicates=False)
    assert not compose.retries_uncertain(simple, gateway_deduplicates=True)


# -- sending -----------------------------------------------------------------------------------


def test_send_plan_sends_once_per_transaction_id(client, store, sandbox):
    plan = _plan(transaction_id="compose-once").plan
    first = compose.send_plan(client, store, plan)
    again = compose.send_plan(client, store, plan)
    assert first.accepted and not first.replayed
    assert again.replayed and again.message_ids == first.message_ids
    assert len(sandbox.backend.accepted_messages()) == 2  # two recipients, one send
    stored = store.batch_messages(first.batch_id)
    assert [m.message_id for m in stored] == list(first.message_ids)
    assert {m.state for m in stored} == {MessageState.PENDING}
    assert compose.explain_outcome(again).headline.startswith("Already sent")
    assert compose.transaction_id_after(first, plan.transaction_id) != plan.transaction_id


def test_a_refusal_is_explained_and_needs_a_new_transaction_id(client, store, sandbox):
    plan = build_plan(ComposeInput("600123456", "Hi", cost_center="nowhere", transaction_id="t-bad"),
                      check_recipients("600123456")).plan  # no local list: the gateway decides
    outcome = compose.send_plan(client, store, plan)
    view = compose.explain_outcome(outcome)
    assert outcome.state is BatchState.REJECTED and view.tone == "error"
    assert "CostCenter" in view.headline
    assert compose.transaction_id_after(outcome, "t-bad") != "t-bad"
    assert sandbox.backend.accepted_messages() == []


def test_an_uncertain_send_keeps_its_transaction_id(client, store, sandbox):
    sandbox.backend.configure_faults(fail_rate=1.0)
    plan = _plan(transaction_id="t-503").plan
    outcome = compose.send_plan(client, store, plan)
    assert outcome.state is BatchState.UNCERTAIN
    view = compose.explain_outcome(outcome)
    assert view.tone == "warning" and "may or may not" in view.detail
    assert compose.transaction_id_after(outcome, "t-503") == "t-503"
    sandbox.backend.configure_faults(fail_rate=0.0)
    assert compose.send_plan(client, store, plan).state is BatchState.UNCERTAIN  # not sent again on its own
    assert sandbox.backend.accepted_messages() == []


def test_an_uncertain_send_retried_with_its_transaction_id_is_deduplicated_by_the_gateway(sandbox, store):
    from smslib.gateway.client import SmsClient

    sandbox.backend.configure_faults(hang_after_accept_rate=1.0, hang_seconds=1.0, endpoints=("smses",))
    plan = _plan(transaction_id="t-lost-answer").plan
    with SmsClient(sandbox.url, sandbox.username, sandbox.password, retry_attempts=1, read_timeout=0.3,
                   sleep=lambda s: None) as client:
        lost = compose.send_plan(client, store, plan, retry_uncertain=True)
        assert lost.state is BatchState.UNCERTAIN  # the gateway sent it, the answer never came
        view = compose.explain_outcome(lost, retried_if_uncertain=True)
        assert "de-duplicates" in view.detail and "t-lost-answer" in view.detail
        sandbox.backend.configure_faults(hang_after_accept_rate=0.0)
        retried = compose.send_plan(client, store, plan, retry_uncertain=True)
    accepted = sandbox.backend.accepted_messages()
    assert retried.accepted and len(accepted) == 2  # two recipients, sent once
    assert set(retried.message_ids) == {m["message_id"] for m in accepted}
    assert {m.state for m in store.batch_messages(retried.batch_id)} == {MessageState.PENDING}


def test_a_rate_limited_send_is_pending_and_retried_with_the_same_id(sandbox, store):
    from smslib.gateway.client import SmsClient

    sandbox.backend.configure_faults(rate_limit=0.001)
    with SmsClient(sandbox.url, sandbox.username, sandbox.password, retry_attempts=1,
                   sleep=lambda s: None) as client:
        assert compose.send_plan(client, store, _plan(transaction_id="t-first").plan).accepted  # the one token
        limited = compose.send_plan(client, store, _plan(transaction_id="t-429").plan)
    assert limited.state is BatchState.PENDING
    assert "Not sent yet" in compose.explain_outcome(limited).headline
    assert compose.transaction_id_after(limited, "t-429") == "t-429"
