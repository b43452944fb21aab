"""The Compose page's rules, without Streamlit: from what a person typed to a send plan.

A person types recipients, a text and options; ``check_recipients``, ``check_message``
and ``validate_sender`` say what is wrong in words, ``build_plan`` turns valid input into
a frozen ``ComposePlan`` (what will be sent, to whom, and what it will cost), and
``send_plan`` sends it through ``sending.send_and_record`` — the TransactionId of the plan
is the guard against sending twice; an uncertain send goes again with it only where the
gateway de-duplicates (``retries_uncertain``). ``explain_outcome`` turns the result into a
sentence and ``transaction_id_after`` says whether the next send needs a fresh TransactionId.
``plan_test_send`` is the one-click test: it keeps its TransactionId while the test is the
same message, so that clicking it twice sends one SMS.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from smslib.gateway.client import new_transaction_id
from smslib.core.errors import ValidationError
from smslib.core.models import PRIORITY_NAMES, Channel
from smslib.rules.phones import RejectedEntry, parse_recipients
from smslib.rules.senders import validate_sender
from .sending import SendOutcome, send_and_record
from smslib.store import BatchState, Store
from smslib.rules.text import MAX_SEGMENTS, SegmentCount, Transliteration, check_length, count_segments, to_gsm7

BLOCKED = "blocked"  # the reason shown for a number on the blocklist


FLASH_HELP = "A flash SMS appears on the recipient's screen at once and is not saved in the inbox."
CHANNEL_HELP = {
    Channel.SMSES: (
        "/Smses: sent with a TransactionId, so a send interrupted by a timeout is retried safely "
        "and never arrives twice; priority, flash SMS and cost centre are available."
    ),
    Channel.SIMPLEAPI: (
        "/SimpleApi: the account's e-mail and password travel in the request and there is no "
        "TransactionId, so an interrupted send cannot be retried safely (it is marked uncertain); "
        "no priority, flash SMS or cost centre."
    ),
}


# -- recipients -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RecipientCheck:
    """The numbers found in a pasted text: who will receive it, who not and why, repeats dropped."""

    phones: tuple[str, ...]                 # valid, not blocked, once each, in input order (E.164)
    refused: tuple[RejectedEntry, ...]      # invalid or blocked, with the reason
    duplicates: tuple[str, ...]             # one entry per repeat that was dropped

    @property
    def count(self) -> int:
        return len(self.phones)

    def summary(self) -> str:
        """One sentence: how many will receive it, how many were refused, repeats dropped."""
        parts = [f"{_plural(self.count, 'recipient')}"]
        if self.refused:
            parts.append(f"{_plural(len(self.refused), 'entry', 'entries')} refused")
        if self.duplicates:
            repeats = len(self.duplicates)
            parts.append(f"{_plural(repeats, 'duplicate')} removed")
        return ", ".join(parts) + "."


def check_recipients(
    text: str,
    *,
    region: str = "PL",
    mobile_only: bool = False,
    blocked: Callable[[Iterable[str]], set[str]] | None = None,
) -> RecipientCheck:
    """Parse pasted numbers (newlines, commas, semicolons, tabs or spaces; an Excel column works).

    ``blocked`` (e.g. ``store.blocked``) names the numbers on the blocklist: they are
    refused with the reason ``"blocked"``.
    """
    found = parse_recipients(text, region, mobile_only=mobile_only)
    stopped = blocked(found.phones) if blocked is not None and found.phones else set()
    return RecipientCheck(
        phones=tuple(p for p in found.phones if p not in stopped),
        refused=found.invalid + tuple(RejectedEntry(p, BLOCKED) for p in found.phones if p in stopped),
        duplicates=found.duplicates,
    )


# -- message --------------------------------------------------------------------------------


@dataclass(frozen=True)
class MessageCheck:
    """The live counter of a message, why it is Unicode, and whether the gateway takes it."""

    text: str
    count: SegmentCount
    error: str | None                       # None when the gateway takes it
    transliteration: Transliteration | None  # offered when the text is UCS-2 and can improve

    @property
    def counter(self) -> str:
        """"42 characters · GSM-7 · 1 SMS · 118 left in this SMS"."""
        count = self.count
        return (
            f"{_plural(count.characters, 'character')} · {count.encoding} · {count.segments} SMS · "
            f"{count.remaining} left in this SMS"
        )

    @property
    def unicode_reason(self) -> str | None:
        """Which characters make the whole message UCS-2, and what that costs; None for GSM-7."""
        if not self.count.is_unicode:
            return None
        chars = ", ".join(_show_char(c) for c in self.count.non_gsm_chars[:12])
        more = "" if len(self.count.non_gsm_chars) <= 12 else f" and {len(self.count.non_gsm_chars) - 12} more"
        sentence = (
            f"Sent as Unicode (UCS-2: 70 characters per SMS, 67 when split, instead of 160/153) "
            f"because of {chars}{more}."
        )
        gsm = count_segments("a" * self.count.units)  # the same length in GSM-7, for comparison
        if gsm.segments < self.count.segments:
            sentence += f" In GSM-7 it would take {gsm.segments} SMS instead of {self.count.segments}."
        return sentence


def check_message(text: str, *, max_segments: int = MAX_SEGMENTS) -> MessageCheck:
    """Count the message and check it against the gateway's limit; offer transliteration when UCS-2."""
    count = count_segments(text)
    error = None
    try:
        check_length(text, max_segments)
    except ValidationError as e:
        error = str(e)
    offer = None
    if count.is_unicode:
        transliteration = to_gsm7(text)
        if transliteration.changed:
            offer = transliteration
    return MessageCheck(text, count, error, offer)


def describe_changes(transliteration: Transliteration) -> str:
    """What transliteration replaced, e.g. ``ą → a (2×), „ → " (1×)``; and what stays Unicode."""
    shown = ", ".join(
        f"{_show_char(c.original)} → {_show_char(c.replacement) if c.replacement else '(removed)'} ({c.count}×)"
        for c in transliteration.changes
    )
    if transliteration.still_ucs2:
        kept = ", ".join(_show_char(c) for c in transliteration.still_ucs2)
        shown += f". No GSM-7 form, kept (the message stays Unicode): {kept}"
    return shown


# -- the plan -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ComposeInput:
    """Everything a person set on the page, as typed."""

    recipients: str
    text: str
    sender: str = ""
    priority: int | None = None
    flash: bool = False
    cost_center: str = ""
    channel: Channel = Channel.SMSES
    transaction_id: str = ""


@dataclass(frozen=True)
class ComposePlan:
    """A send that passed every check: what goes to whom, with which options, at what cost."""

    phones: tuple[str, ...]
    text: str
    sender: str | None
    priority: int | None
    flash: bool | None
    cost_center: str | None
    channel: Channel
    transaction_id: str
    segments: int
    encoding: str

    def same_message(self, other: ComposePlan | None) -> bool:
        """True when ``other`` sends the same text with the same options to the same numbers, whatever its
        TransactionId."""
        return other is not None and replace(self, transaction_id="") == replace(other, transaction_id="")

    @property
    def billed(self) -> int:
        """SMS billed: segments × recipients."""
        return self.segments * len(self.phones)

    @property
    def cost_line(self) -> str:
        return (
            f"{self.segments} SMS × {_plural(len(self.phones), 'recipient')} = "
            f"{_plural(self.billed, 'SMS', 'SMS')} billed ({self.encoding})"
        )

    def option_lines(self) -> list[str]:
        """The options in words, for the confirmation."""
        lines = [f"Sender: {self.sender or 'the gateway default'}"]
        if self.channel is Channel.SMSES:
            lines.append(f"Priority: {priority_label(self.priority)}")
            lines.append("Flash SMS: yes" if self.flash else "Flash SMS: no")
            lines.append(f"Cost centre: {self.cost_center or 'none'}")
            lines.append(f"Channel: /Smses, TransactionId {self.transaction_id}")
        else:
            lines.append("Channel: /SimpleApi (no TransactionId, no priority, flash or cost centre)")
        return lines


@dataclass(frozen=True)
class PlanCheck:
    """The plan when everything is valid, else the problems, each naming its field."""

    plan: ComposePlan | None
    problems: tuple[str, ...] = field(default=())

    @property
    def ready(self) -> bool:
        return self.plan is not None


def priority_label(priority: int | None) -> str:
    if priority is None:
        return "the gateway default"
    return f"{priority} – {PRIORITY_NAMES[priority]}"


def build_plan(
    given: ComposeInput,
    recipients: RecipientCheck,
    *,
    allowed_senders: Sequence[str] = (),
    allow_custom_sender: bool = True,
    cost_centers: Sequence[str] = (),
    max_segments: int = MAX_SEGMENTS,
) -> PlanCheck:
    """Check everything a send needs and freeze it as a plan, or say what is missing."""
    problems: list[str] = []
    if not recipients.phones:
        problems.append("Recipients: add at least one valid number.")
    message = check_message(given.text, max_segments=max_segments)
    if message.error:
        problems.append(message.error)
    channel = Channel(given.channel)
    sender = given.sender.strip() or None
    if sender is not None:
        try:
            sender = validate_sender(sender)
        except ValidationError as e:
            problems.append(str(e))
        else:
            if not allow_custom_sender and sender not in allowed_senders:
                problems.append(f"Sender: {sender!r} is not one of the configured senders.")
    cost_center = given.cost_center.strip() or None
    priority, flash = given.priority, (True if given.flash else None)
    transaction_id = given.transaction_id.strip()
    if channel is Channel.SMSES:
        if priority is not None and priority not in PRIORITY_NAMES:
            problems.append(f"Priority: use 0, 1, 2 or 3, not {priority!r}.")
        if cost_center is not None and cost_centers and cost_center not in cost_centers:
            problems.append(f"Cost centre: {cost_center!r} is not one of {', '.join(cost_centers)}.")
        if not transaction_id:
            problems.append("TransactionId: it is empty; generate a new one.")
        elif len(transaction_id) > 200:
            problems.append("TransactionId: at most 200 characters.")
    else:
        # SimpleApi takes none of these; the TransactionId still keys the local record.
        priority, flash, cost_center = None, None, None
        transaction_id = transaction_id or new_transaction_id()
    if problems:
        return PlanCheck(None, tuple(problems))
    return PlanCheck(ComposePlan(
        phones=recipients.phones, text=given.text, sender=sender, priority=priority, flash=flash,
        cost_center=cost_center, channel=channel, transaction_id=transaction_id,
        segments=message.count.segments, encoding=message.count.encoding,
    ))


def plan_test_send(given: ComposeInput, test_phone: str, *, region: str = "PL",
                   offered: ComposePlan | None = None, **plan_options: Any) -> PlanCheck:
    """The plan of a one-click test send: the same text and options to ``test_phone`` only.

    Its TransactionId is never the real send's. It is the one of ``offered`` (the test the
    button offered before) while the test is the same message, so a second click, a rerun
    or a retry after an unclear outcome sends nothing twice: the store answers a
    TransactionId it knows, and the gateway de-duplicates one it has seen. A change of the
    text or an option makes a new test with a new TransactionId; so does ``offered=None``.
    ``plan_options`` are those of ``build_plan`` (allowed senders, cost centres, ...).
    """
    recipients = check_recipients(test_phone, region=region)
    if not recipients.phones:
        reason = recipients.refused[0].reason if recipients.refused else "empty"
        return PlanCheck(None, (f"The test number (SMS_TEST_PHONE) is not usable: {reason}.",))
    given = ComposeInput(test_phone, given.text, given.sender, given.priority, given.flash, given.cost_center,
                         given.channel, new_transaction_id())
    check = build_plan(given, recipients, **plan_options)
    if check.plan is not None and check.plan.same_message(offered):
        return PlanCheck(replace(check.plan, transaction_id=offered.transaction_id))
    return check


def send_plan(client: Any, store: Store, plan: ComposePlan, *, phone_format: str = "digits",
              sent_by: str = "local", retry_uncertain: bool = False) -> SendOutcome:
    """Send the plan once: a TransactionId already in the store is answered from the store.

    An uncertain send is sent again only with ``retry_uncertain`` (see ``retries_uncertain``).
    Errors are returned on the outcome (``outcome.exception``), except those raised before
    anything is written (``sending.send_and_record``'s ``ConflictError`` and the like).
    """
    return send_and_record(
        client, store, list(plan.phones), plan.text,
        sender=plan.sender, priority=plan.priority, flash=plan.flash, cost_center=plan.cost_center,
        transaction_id=plan.transaction_id, channel=plan.channel, sent_by=sent_by,
        phone_format=phone_format, retry_uncertain=retry_uncertain,
    )


def retries_uncertain(plan: ComposePlan, *, gateway_deduplicates: bool) -> bool:
    """Whether sending an uncertain ``plan`` again with its TransactionId is safe.

    Only through /Smses, and only when the gateway de-duplicates TransactionIds
    (``SMS_GATEWAY_DEDUPLICATES``): it then answers a send it has already made with the
    original message ids instead of sending it again. /SimpleApi carries no TransactionId.
    """
    return gateway_deduplicates and plan.channel is Channel.SMSES


# -- after sending --------------------------------------------------------------------------

Tone = Literal["success", "info", "warning", "error"]


@dataclass(frozen=True)
class OutcomeView:
    """What to tell the person after a send: a tone and sentences."""

    tone: Tone
    headline: str
    detail: str = ""


def explain_outcome(outcome: SendOutcome, *, retried_if_uncertain: bool = False) -> OutcomeView:
    """Put a send's outcome into words: what happened, and what to do next.

    ``retried_if_uncertain``: sending again resends an uncertain message with its
    TransactionId for the gateway to de-duplicate (``retries_uncertain``).
    """
    count = _plural(len(outcome.phones), "recipient")
    if outcome.state is BatchState.ACCEPTED:
        if outcome.replayed:
            return OutcomeView("info", f"Already sent to {count}: nothing was sent again.",
                               f"TransactionId {outcome.transaction_id} was sent before; these are its message ids.")
        return OutcomeView("success", f"Sent to {count}.", f"TransactionId {outcome.transaction_id}.")
    reason = outcome.error or "no reason given"
    if outcome.state is BatchState.REJECTED:
        return OutcomeView("error", f"Not sent: {reason}",
                           "Nothing went out. Correct the field named above and send again.")
    if outcome.state is BatchState.UNCERTAIN and retried_if_uncertain:
        return OutcomeView(
            "warning", f"Uncertain: {reason}",
            f"The gateway may or may not have sent this message. Send again: the same TransactionId "
            f"({outcome.transaction_id}) is used and the gateway de-duplicates it, so it cannot arrive twice.",
        )
    if outcome.state is BatchState.UNCERTAIN:
        return OutcomeView(
            "warning", f"Uncertain: {reason}",
            "The gateway may or may not have sent this message, so it is not sent again on its own. "
            "Check History in a few minutes: a delivery report means it went out. Sending again with "
            "the same TransactionId only shows this again; to send it anyway, use a new TransactionId.",
        )
    return OutcomeView(
        "warning", f"Not sent yet: {reason}",
        f"Nothing went out. Send again: the same TransactionId ({outcome.transaction_id}) is used, "
        "so it cannot arrive twice.",
    )


def transaction_id_after(outcome: SendOutcome, current: str) -> str:
    """The TransactionId for the next send from the form.

    A new one once a submission is settled (accepted, or rejected: nothing went out).
    The same one while it is not (429 or no connection: nothing went out yet; uncertain:
    it may have), so that sending again, a double click or a rerun cannot send twice. An
    uncertain message then goes again only where the gateway de-duplicates it
    (``retries_uncertain``); elsewhere a new TransactionId is a person's decision.
    """
    if outcome.state in (BatchState.ACCEPTED, BatchState.REJECTED):
        return new_transaction_id()
    return current


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count:,} {word if count == 1 else (plural or word + 's')}"


def _show_char(char: str) -> str:
    """A character as a person can read it: letters as they are, others with their code point."""
    if char == "\n":
        return "line break"
    if char.isalnum():
        return char
    if not char.strip() or not char.isprintable():
        return f"U+{ord(char):04X}"
    return f"{char} (U+{ord(char):04X})"
