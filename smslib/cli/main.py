"""``python -m smslib``: the command line, mirroring the library one command per feature.

Every command reads the same settings as the app. Errors are one clear line on stderr
and exit status 1 (2 for wrong usage); never a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, time
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from sqlalchemy.exc import SQLAlchemyError

from .stats import add_stats_command, parse_moment
from smslib.core.config import Settings
from smslib.core.errors import SmsError, ValidationError
from smslib.gateway.connect import Gateway, connect
from smslib.services.jobs import SendWindow
from smslib.core.models import Channel
from smslib.rules.phones import gateway_format, parse_recipients
from smslib.services.reports import sync_reports
from smslib.services.sending import send_and_record
from smslib.store import Store, database_problem

Command = Callable[[argparse.Namespace, Settings, TextIO], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m smslib", description="Send SMS and read delivery reports.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    send = commands.add_parser("send", help="send one message to one or more numbers")
    send.add_argument("phones", nargs="+", metavar="PHONE", help="recipient numbers, in any usual format")
    send.add_argument("--message", "-m", required=True, help="the message text")
    send.add_argument("--sender", help="sender name or number")
    send.add_argument("--priority", type=int, choices=range(4), help="0 (lowest) to 3 (highest)")
    send.add_argument("--flash", action="store_true", help="send as a flash SMS")
    send.add_argument("--cost-center", help="cost centre for billing")
    send.add_argument("--transaction-id", help="idempotency key; repeat it to retry safely")
    send.add_argument("--simple", action="store_true", help="send through /SimpleApi")
    send.set_defaults(run=_send)

    reports = commands.add_parser(
        "reports", help="print delivery reports as JSON lines (the unread ones, or those of --ids)",
        description="Without --mark-as-read nothing is marked read, so reading is always safe.")
    reports.add_argument("--ids", nargs="+", metavar="ID", help="message ids to ask about")
    reports.add_argument("--mark-as-read", action="store_true", help="mark the returned reports as read")
    reports.set_defaults(run=_reports)

    sync = commands.add_parser("sync", help="fetch delivery reports into the store, then acknowledge them")
    sync.add_argument("--json", action="store_true", help="print the counts as JSON")
    sync.set_defaults(run=_sync)

    send_file = commands.add_parser(
        "send-file", help="send one message per row of a spreadsheet as a bulk job",
        description="Validates every row, prints the totals and the invalid rows, then sends the job to the "
                    "end. Run it again after an interruption: the same file resumes its job, nothing twice. "
                    "With --at or --window it waits for its time, saying so once; stop it (Ctrl-C) and the job "
                    "stays queued for `python -m smslib worker`, the dashboard, or another run of this command. "
                    "Times are in SMS_DISPLAY_TIMEZONE.")
    send_file.add_argument("file", metavar="FILE", help="CSV, TSV, TXT, XLSX, XLS or ODS")
    send_file.add_argument("--phone-column", required=True, help="the column with the numbers")
    text = send_file.add_mutually_exclusive_group(required=True)
    text.add_argument("--message-column", help="the column with each row's message")
    text.add_argument("--template", help="the message, with {column} placeholders")
    send_file.add_argument("--sheet", help="the workbook's sheet (default: the first)")
    send_file.add_argument("--sender", help="sender name or number")
    send_file.add_argument("--priority", type=int, choices=range(4), help="0 (lowest) to 3 (highest)")
    send_file.add_argument("--flash", action="store_true", help="send as flash SMS")
    send_file.add_argument("--cost-center", help="cost centre for billing")
    send_file.add_argument("--at", metavar="DATE_TIME",
                           help="start at this local date and time, e.g. 2026-12-01T09:00 or '2026-12-01 09:00' "
                                "(an offset such as +01:00 is honoured); it must be in the future")
    send_file.add_argument("--window", metavar="HH:MM-HH:MM",
                           help="send only between these local times each day, e.g. 08:00-20:00 (22:00-06:00 "
                                "spans midnight); outside them the job waits")
    send_file.set_defaults(run=_send_file)

    worker = commands.add_parser("worker", help="run queued and interrupted bulk jobs and the report sync until stopped")
    worker.set_defaults(run=_worker)

    add_stats_command(commands)

    seed = commands.add_parser(
        "seed-demo", help="fill the store and the sandbox's state with demo sends over the last days",
        description="Writes realistic messages and their reports into the store (SMS_DB_URL) and the "
                    "sandbox's state (<SMS_DATA_DIR>/sandbox.db), so that their ids match.")
    seed.add_argument("--messages", type=_positive_int, required=True, metavar="N", help="how many messages")
    seed.add_argument("--days", type=float, default=30.0, metavar="D", help="spread over the last D days (default: 30)")
    seed.add_argument("--random-seed", type=int, default=None, metavar="S", help="for the same data again")
    seed.set_defaults(run=_seed_demo)

    env = commands.add_parser("env-example", help="print .env.example (every setting, commented)")
    env.set_defaults(run=_env_example, needs_settings=False)

    hashing = commands.add_parser(
        "hash-password", help="print a salted hash of the dashboard's password for DASHBOARD_PASSWORD_HASH",
        description="Asks for the password twice (it is not shown); with standard input not a terminal, reads "
                    "one line from it. Prints only the hash.")
    hashing.set_defaults(run=_hash_password, needs_settings=False)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    args = build_parser().parse_args(argv)
    settings = Settings()
    try:
        settings = Settings.from_env() if getattr(args, "needs_settings", True) else Settings()
        return args.run(args, settings, out)
    except SmsError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except SQLAlchemyError as e:
        print(f"error: {database_problem(e, settings.store_url)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError("a whole number of at least 1")
    return value


def _seed_demo(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    """Demo data into the configured store and, with the built-in sandbox, its state next to it."""
    from smslib.services.demo import seed_demo_data  # numpy-heavy: only for this command

    settings.data_path.mkdir(parents=True, exist_ok=True)
    sandbox_db = settings.data_path / "sandbox.db" if settings.uses_sandbox else None
    with Store.from_settings(settings) as store:
        try:
            result = seed_demo_data(store, sandbox_db, messages_count=args.messages, days=args.days,
                                    seed=args.random_seed, phone_format=settings.phone_format)
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
    where = f" and {sandbox_db}" if sandbox_db else " (SMS_API_URL is set: the sandbox state is left alone)"
    print(f"{result.messages:,} messages ({result.reports:,} reported, {result.pending:,} pending, "
          f"{result.jobs} jobs) written to the store{where} in {result.seconds:.1f} s", file=out)
    return 0


def _with_gateway(settings: Settings, work: Callable[[Gateway], int]) -> int:
    with connect(settings) as gateway:
        return work(gateway)


def _with_gateway_and_store(settings: Settings, work: Callable[[Gateway, Store], int]) -> int:
    with connect(settings) as gateway, Store.from_settings(settings) as store:
        return work(gateway, store)


def _send(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    recipients = parse_recipients("\n".join(args.phones), settings.phone_region, mobile_only=settings.mobile_only)
    if recipients.invalid:
        for entry in recipients.invalid:
            print(f"error: {entry.text}: {entry.reason}", file=sys.stderr)
        return 1

    def work(gateway: Gateway, store: Store) -> int:
        blocked = store.blocked(recipients.phones)
        if blocked:
            print(f"error: on the blocklist, not sent: {', '.join(sorted(blocked))}", file=sys.stderr)
            return 1
        outcome = send_and_record(
            gateway.client, store, recipients.phones, args.message, sender=args.sender,
            priority=args.priority, flash=args.flash or None, cost_center=args.cost_center,
            transaction_id=args.transaction_id, channel=Channel.SIMPLEAPI if args.simple else Channel.SMSES,
            sent_by="cli", phone_format=settings.phone_format,
        )
        if outcome.error:
            print(f"error: {outcome.error}", file=sys.stderr)
            return 1
        for phone, message_id in zip(outcome.phones, outcome.message_ids):
            print(f"{gateway_format(phone, settings.phone_format)}\t{message_id}", file=out)
        return 0

    return _with_gateway_and_store(settings, work)


def _sync(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    def work(gateway: Gateway, store: Store) -> int:
        counts = sync_reports(gateway.client, store, pending_check_after=settings.pending_check_after)
        print(json.dumps(dataclasses.asdict(counts)) if args.json else
              "\t".join(f"{k}={v}" for k, v in dataclasses.asdict(counts).items()), file=out)
        return 0

    return _with_gateway_and_store(settings, work)


def _reports(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    def work(gateway: Gateway) -> int:
        batch = gateway.client.delivery_reports(
            message_ids=args.ids, mark_as_read=args.mark_as_read
        )
        for report in batch.reports:
            print(json.dumps(_report_json(report), ensure_ascii=False), file=out)
        return 0

    return _with_gateway(settings, work)


def _report_json(report: Any) -> dict[str, Any]:
    return {
        "report_id": report.report_id,
        "message_id": report.message_id,
        "phone": report.phone,
        "status": int(report.status),
        "status_name": report.status.name.lower(),
        "delivery_time": report.delivery_time.isoformat() if report.delivery_time else None,
    }


def _env_example(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from smslib.core.envfile import env_example

    out.write(env_example())
    return 0


def _hash_password(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from smslib.core.auth import MIN_PASSWORD_LENGTH, hash_password

    if sys.stdin.isatty():
        import getpass

        password = getpass.getpass("Dashboard password: ")
        if getpass.getpass("The same again: ") != password:
            print("error: the two passwords differ; nothing was printed.", file=sys.stderr)
            return 1
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < MIN_PASSWORD_LENGTH:
        print(f"error: use a password of at least {MIN_PASSWORD_LENGTH} characters.", file=sys.stderr)
        return 1
    print(hash_password(password), file=out)
    return 0


def _send_file(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from smslib.services import jobs
    from smslib.services import planning
    from smslib.rules.spreadsheet import read_table
    from smslib.store import Store, database_problem

    zone = settings.display_timezone
    scheduled_at = start_time(args.at, zone) if args.at else None
    window = send_window(args.window, zone) if args.window else None
    frame = read_table(args.file, os.path.basename(args.file), args.sheet, max_rows=settings.max_rows,
                       max_bytes=settings.max_upload_mb * 1024 * 1024)
    mapping = planning.ColumnMapping(
        args.phone_column, message_column=args.message_column, template=args.template, sender=args.sender,
        priority=args.priority, flash=True if args.flash else None, cost_center=args.cost_center)
    with Store.from_settings(settings) as store:
        validation = planning.validate(frame, mapping, region=settings.phone_region, mobile_only=settings.mobile_only,
                                   blocked=store.blocked, cost_centers=settings.cost_centers)
        totals = validation.totals
        print(f"rows {totals.rows}, valid {totals.valid}, invalid {totals.invalid}, duplicates removed "
              f"{totals.duplicates}, unique recipients {totals.unique_recipients}, SMS billed {totals.billed}",
              file=out)
        for row in validation.invalid_report().itertuples(index=False):
            print(f"invalid row {row.row}\t{row.phone}\t{row.reason}", file=out)
        planned = planning.plan(validation, settings.batch_size)
        job = jobs.find_open_job(store, planning.fingerprint(planned)) if planned else None
        if job is not None:
            kept = " with its own start time and window" if args.at or args.window else ""
            print(f"resuming job {job.id}{kept}", file=sys.stderr)
            if job.state in (jobs.JobState.PAUSED, jobs.JobState.FAILED):
                jobs.resume(store, job.id)
        else:
            job = jobs.create_job(store, planned, name=os.path.basename(args.file),
                                  source_filename=os.path.basename(args.file), created_by="cli",
                                  scheduled_at=scheduled_at, send_window=window,
                                  settings={"mapping": mapping.to_dict()})
            if scheduled_at or window:
                print(f"job {job.id} queued: {_timing(scheduled_at, window, zone)}", file=sys.stderr)
        try:
            with connect(settings) as gateway:
                progress = jobs.JobRunner.from_settings(gateway.client, store, settings).run_job(
                    job.id, on_progress=ProgressLine())
        except KeyboardInterrupt:
            print(f"\ninterrupted: job {job.id} stays queued; `python -m smslib worker`, the dashboard or this "
                  "command again sends the rest, nothing twice", file=sys.stderr)
            return 130
        print(file=sys.stderr)
    print(f"job {job.id} {progress.job.state.value}: sent {progress.sent}, failed {progress.failed}, "
          f"uncertain {progress.uncertain}, not sent {progress.waiting}", file=out)
    if progress.job.last_error:
        print(f"error: {progress.job.last_error}", file=sys.stderr)
    return 0 if progress.job.state is jobs.JobState.DONE and not (progress.failed or progress.uncertain) else 1


class ProgressLine:
    """The job's progress on one line of stderr; why it waits (its start time, its window) once, as it starts."""

    def __init__(self) -> None:
        self.waiting_for: str | None = None

    def __call__(self, progress: Any) -> None:
        if progress.waiting_for:
            if progress.waiting_for != self.waiting_for:
                print(f"waiting: {progress.waiting_for}", file=sys.stderr, flush=True)
            self.waiting_for = progress.waiting_for
            return
        self.waiting_for = None
        rate = f", {progress.rate:.1f} SMS/s" if progress.rate else ""
        print(f"\r{progress.done}/{progress.job.total} sent {progress.sent} failed {progress.failed} "
              f"uncertain {progress.uncertain}{rate}", end="", file=sys.stderr, flush=True)


def start_time(text: str, zone: str, *, now: datetime | None = None) -> datetime:
    """``--at``: a local date and time in ``zone`` (or with an offset) that is still to come, in UTC."""
    if len(text.strip()) == 10:
        raise ValidationError(f"--at {text!r} needs a time as well as the day, e.g. {text.strip()}T09:00.",
                              field="--at")
    moment = parse_moment(text, zone, "--at")
    now = now or datetime.now(UTC)
    if moment <= now:
        tz = ZoneInfo(zone)
        raise ValidationError(
            f"--at {moment.astimezone(tz):%Y-%m-%d %H:%M} is in the past (it is {now.astimezone(tz):%Y-%m-%d %H:%M} "
            f"in {zone}): give a later time, or leave --at out to send now.", field="--at")
    return moment


def _timing(scheduled_at: datetime | None, window: SendWindow | None, zone: str) -> str:
    """When a job may send, in the zone its times were given in."""
    parts = [f"starts at {scheduled_at.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M:%S}"] if scheduled_at else []
    if window is not None:
        parts.append(f"sends only {window.start:%H:%M}–{window.end:%H:%M} each day")
    return ", ".join(parts) + f" ({zone})"


_WINDOW = re.compile(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*")


def send_window(text: str, zone: str) -> SendWindow:
    """``--window 08:00-20:00``: the job's daily sending hours in ``zone``."""
    found = _WINDOW.fullmatch(text)
    hours = [int(part) for part in found.groups()] if found else []
    if not found or hours[0] > 23 or hours[2] > 23 or hours[1] > 59 or hours[3] > 59:
        raise ValidationError(f"--window {text!r} is not two times of day, e.g. 08:00-20:00.", field="--window")
    start, end = time(hours[0], hours[1]), time(hours[2], hours[3])
    if start == end:
        raise ValidationError(f"--window {text!r} starts when it ends, so the job would never send; "
                              "e.g. 08:00-20:00.", field="--window")
    return SendWindow(start, end, zone)


def _worker(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from smslib.store import Store, database_problem
    from smslib.services.worker import run_worker

    with connect(settings) as gateway, Store.from_settings(settings) as store:
        print(f"worker running against {gateway.label}; Ctrl-C to stop", file=out, flush=True)
        run_worker(gateway, store, settings)
    return 0
