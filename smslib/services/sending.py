"""The one way anything is sent: ``send_and_record`` (and ``send_batch`` for a planned batch).

It follows design.md's exactly-once rule. The batch is written (``pending``, with its
TransactionId) before anything is sent; it is claimed (``sending``, committed) just
before the gateway is called; the gateway's answer and the message rows are then
recorded in one transaction. A crash at any point leaves a batch that says what is
known: ``pending`` (nothing sent), ``sending`` (maybe sent: send again with the same
TransactionId once its lease expires) or a final state.

What an error means for the batch:

- a refusal (400, 401, 409, or a local check): ``rejected``, one ``failed`` message per
  number with the reason; nothing went out;
- nothing went out but may later (429, no connection): ``pending`` again, no messages;
  the same call later sends it with the same TransactionId;
- it may have gone out (5xx after retries, a timeout after sending, an unreadable
  answer): ``uncertain``, one ``uncertain`` message per number, for a person to decide.

Errors are returned, not raised: the outcome carries the error (``outcome.exception``)
after it has been recorded, so a page shows ``st.error(outcome.error)`` and a job runner
goes on with the next batch; ``outcome.raise_for_error()`` raises it where that reads better.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any

from smslib.gateway.client import new_transaction_id
from smslib.core.errors import (
    AuthenticationError,
    BadResponseError,
    ConfigError,
    ConflictError,
    InvalidPhoneNumber,
    RateLimitError,
    SmsError,
    TransportError,
    ValidationError,
)
from smslib.core.models import Channel, SendResult
from smslib.rules.phones import gateway_format
from smslib.store import Batch, BatchState, FinishedBatch, SendOptions, Store
from smslib.rules.text import count_segments, unsafe_character

# Errors after which nothing went out and sending the same request again cannot help.
_REFUSALS = (ValidationError, InvalidPhoneNumber, AuthenticationError, ConflictError, ConfigError)
# Spare seconds on a lease beyond the longest a client call may take.
_LEASE_MARGIN = 30.0


@dataclass(frozen=True)
class SendOutcome:
    """What became of one send: the batch's state, the message ids, and the error if any."""

    batch_id: int
    transaction_id: str
    state: BatchState
    phones: tuple[str, ...]
    message_ids: tuple[str, ...]        # in the order of ``phones``; empty unless accepted
    error: str | None = None            # the reason stored with the batch, for people
    exception: SmsError | None = None   # the error this very call met (None when replayed)
    replayed: bool = False              # nothing was sent by this call: the store's answer

    @property
    def accepted(self) -> bool:
        return self.state is BatchState.ACCEPTED

    def raise_for_error(self) -> None:
        """Raise the error this call met, if any."""
        if self.exception is not None:
            raise self.exception


def send_and_record(
    client: Any,
    store: Store,
    phones: Sequence[str],
    message: str,
    *,
    sender: str | None = None,
    priority: int | None = None,
    flash: bool | None = None,
    cost_center: str | None = None,
    transaction_id: str | None = None,
    channel: Channel = Channel.SMSES,
    sent_by: str = "local",
    job_id: int | None = None,
    seq: int | None = None,
    source_rows: Sequence[int] | None = None,
    phone_format: str = "digits",
    retry_uncertain: bool = False,
) -> SendOutcome:
    """Send ``message`` to ``phones`` (E.164) once, and record the batch and its messages.

    A TransactionId already in the store is not sent again: an accepted, rejected or
    uncertain batch comes back as stored (``replayed``), so double clicks and reruns
    are harmless. A ``pending`` batch, or a ``sending`` one whose lease expired, is sent
    with its own TransactionId. ``retry_uncertain=True`` sends an uncertain batch again:
    safe only when the gateway de-duplicates (``SMS_GATEWAY_DEDUPLICATES``).

    Raises only before anything is written: ``InvalidPhoneNumber`` for a number not in
    E.164, ``ValidationError`` for options SimpleApi does not take, ``ConflictError``
    when the TransactionId was used for a different send.
    """
    phones = [phones] if isinstance(phones, str) else list(phones)
    for phone in phones:
        gateway_format(phone, phone_format)  # refuse a number not in E.164 before writing anything
    channel = Channel(channel)
    if channel is Channel.SIMPLEAPI:
        _check_simpleapi_options(priority=priority, flash=flash, cost_center=cost_center)
    options = SendOptions(sender=sender or None, priority=priority, flash=flash, cost_center=cost_center or None,
                          channel=channel, sent_by=sent_by)
    if (unsafe := unsafe_character(message)) is not None:  # NUL, lone surrogates: nothing may be written
        raise ValidationError(unsafe, field="Message")
    segments = count_segments(message)
    batch = store.create_batch(
        transaction_id or new_transaction_id(), phones, message, options,
        job_id=job_id, seq=seq, source_rows=source_rows, segments=segments.segments, encoding=segments.encoding,
    )
    return send_batch(client, store, batch, phone_format=phone_format, retry_uncertain=retry_uncertain)


def send_batch(
    client: Any, store: Store, batch: Batch, *, phone_format: str = "digits", retry_uncertain: bool = False
) -> SendOutcome:
    """Send a batch already in the store (e.g. one a bulk job planned) by the same rules as ``send_and_record``."""
    batch = store.get_batch(batch.id) or batch
    if batch.state in (BatchState.ACCEPTED, BatchState.REJECTED) or (
        batch.state is BatchState.UNCERTAIN and not retry_uncertain
    ):
        return _stored_outcome(store, batch)
    holder = uuid.uuid4().hex
    claimable = (BatchState.PENDING, BatchState.UNCERTAIN) if retry_uncertain else (BatchState.PENDING,)
    claimed = store.claim_batch(batch.id, holder, lease_seconds=lease_seconds(client), states=claimable)
    if claimed is None:
        # Someone else is sending it right now (a double click, another worker).
        return _stored_outcome(store, store.get_batch(batch.id) or batch)
    return send_claimed(client, store, claimed, holder, phone_format=phone_format)


def send_claimed(client: Any, store: Store, claimed: Batch, holder: str, *, phone_format: str = "digits") -> SendOutcome:
    """Send a batch that ``holder`` has claimed (``sending``) and record the answer; see ``send_batch``."""
    [outcome] = record_answers(store, [call_gateway(client, claimed, holder, phone_format=phone_format)])
    return outcome


@dataclass(frozen=True)
class GatewayAnswer:
    """What the gateway said to one claimed batch: its result, or the error the call met."""

    batch: Batch
    holder: str
    submitted_at: datetime
    result: SendResult | None = None
    error: SmsError | None = None


def call_gateway(client: Any, claimed: Batch, holder: str, *, phone_format: str = "digits") -> GatewayAnswer:
    """Send a batch that ``holder`` has claimed, recording nothing: safe in any thread.

    The answer must then go to ``record_answers``; until it does, the batch stays
    ``sending`` under its lease, which is what a crash in between would leave.
    """
    submitted_at = datetime.now(timezone.utc)
    try:
        result = _call_gateway(client, claimed, [gateway_format(phone, phone_format) for phone in claimed.phones])
    except SmsError as error:
        return GatewayAnswer(claimed, holder, submitted_at, error=error)
    return GatewayAnswer(claimed, holder, submitted_at, result=result)


def record_answers(store: Store, answers: Sequence[GatewayAnswer]) -> list[SendOutcome]:
    """Record what the gateway answered to claimed batches, all in one transaction; the outcomes in order.

    A batch its holder no longer holds (its lease ran out and another sender took it) is
    left as that sender records it: its outcome is the store's.
    """
    if not answers:
        return []  # no transaction: the change counter (and the pages' caches) stay put
    accepted = [answer for answer in answers if answer.result is not None]
    with store.atomic():
        recorded = dict(zip((answer.batch.id for answer in accepted), store.finish_batches([
            FinishedBatch(answer.batch, answer.holder, BatchState.ACCEPTED, answer.submitted_at,
                          answer.result.message_ids, answer.result.current_time)
            for answer in accepted])))
        outcomes = []
        for answer in answers:
            batch = answer.batch
            if answer.error is not None:
                outcomes.append(_record_failure(store, batch, answer.holder, answer.error, answer.submitted_at))
            elif recorded[batch.id]:
                # Recorded as sent just now: the outcome is what was written, without reading it back.
                outcomes.append(SendOutcome(batch.id, batch.transaction_id, BatchState.ACCEPTED, batch.phones,
                                            tuple(answer.result.message_ids)))
            else:
                outcomes.append(replace(_stored_outcome(store, store.get_batch(batch.id) or batch), replayed=False))
    return outcomes


def _check_simpleapi_options(**options: object) -> None:
    given = [name for name, value in options.items() if value not in (None, "")]
    if given:
        raise ValidationError(
            f"SimpleApi does not take {', '.join(given)}; send through Smses or leave them out.",
            field=given[0],
        )


def lease_seconds(client: Any) -> float:
    """Longer than the slowest the client may take over one send, retries included."""
    per_attempt = client.connect_timeout + client.read_timeout
    return client.retry_attempts * per_attempt + client.retry_max_wait + _LEASE_MARGIN


def _call_gateway(client: Any, batch: Batch, gateway_phones: Sequence[str]) -> SendResult:
    options = batch.options
    if options.channel is Channel.SIMPLEAPI:
        result = client.simple_send(gateway_phones, batch.text, sender=options.sender)
    else:
        result = client.send(
            gateway_phones, batch.text, sender=options.sender, transaction_id=batch.transaction_id,
            priority=options.priority, flash=options.flash, cost_center=options.cost_center,
        )
    if len(result.message_ids) != len(batch.phones):
        raise BadResponseError(
            f"The gateway answered {len(result.message_ids)} message ids for {len(batch.phones)} numbers.",
            json_body=result.raw,
        )
    return result


def _record_failure(store: Store, batch: Batch, holder: str, error: SmsError, submitted_at: datetime) -> SendOutcome:
    """Record what an error means for the batch, then return it in the outcome."""
    reason = str(error)
    if isinstance(error, _REFUSALS):
        store.mark_batch_rejected(batch.id, holder, reason, submitted_at=submitted_at)
    elif isinstance(error, RateLimitError) or (
        isinstance(error, TransportError) and not error.may_have_reached_gateway
    ):
        # Nothing went out; the batch waits to be sent again with the same TransactionId.
        store.release_batch(batch.id, holder, reason)
    else:
        # A 5xx, a timeout after sending, an unreadable answer: it may have gone out.
        store.mark_batch_uncertain(batch.id, holder, reason, submitted_at=submitted_at)
    return replace(_stored_outcome(store, store.get_batch(batch.id) or batch), exception=error, replayed=False)


def _stored_outcome(store: Store, batch: Batch) -> SendOutcome:
    message_ids: tuple[str, ...] = ()
    if batch.state is BatchState.ACCEPTED:
        message_ids = tuple(m.message_id for m in store.batch_messages(batch.id) if m.message_id is not None)
    return SendOutcome(
        batch_id=batch.id,
        transaction_id=batch.transaction_id,
        state=batch.state,
        phones=batch.phones,
        message_ids=message_ids,
        error=batch.last_error,
        replayed=True,
    )
