"""``python -m smslib``: the command line, mirroring the library one command per feature.

Every command reads the same settings as the app. Errors are one clear line on stderr
and exit status 1 (2 for wrong usage); never a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from sqlalchemy.exc import SQLAlchemyError

from .analytics_cli import add_stats_command
from .config import Settings
from .errors import SmsError
from .gateway import Gateway, connect
from .models import Channel
from .phones import gateway_format, parse_recipients
from .reports import sync_reports
from .sending import send_and_record
from .store import Store, database_problem

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
                    "end. Run it again after an interruption: the same file resumes its job, nothing twice.")
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
    send_file.set_defaults(run=_send_file)

    worker = commands.add_parser("worker", help="run queued and interrupted bulk jobs and the report sync until stopped")
    worker.set_defaults(run=_worker)

    add_stats_command(commands)

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
    from .envfile import env_example

    out.write(env_example())
    return 0


def _hash_password(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from .auth import MIN_PASSWORD_LENGTH, hash_password

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
    from . import jobs, planning
    from .spreadsheet import read_table
    from .store import Store, database_problem

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
            print(f"resuming job {job.id}", file=sys.stderr)
            if job.state in (jobs.JobState.PAUSED, jobs.JobState.FAILED):
                jobs.resume(store, job.id)
        else:
            job = jobs.create_job(store, planned, name=os.path.basename(args.file),
                                  source_filename=os.path.basename(args.file), created_by="cli",
                                  settings={"mapping": mapping.to_dict()})
        with connect(settings) as gateway:
            progress = jobs.JobRunner.from_settings(gateway.client, store, settings).run_job(
                job.id, on_progress=_print_progress)
        print(file=sys.stderr)
    print(f"job {job.id} {progress.job.state.value}: sent {progress.sent}, failed {progress.failed}, "
          f"uncertain {progress.uncertain}, not sent {progress.waiting}", file=out)
    if progress.job.last_error:
        print(f"error: {progress.job.last_error}", file=sys.stderr)
    return 0 if progress.job.state is jobs.JobState.DONE and not (progress.failed or progress.uncertain) else 1


def _print_progress(progress: Any) -> None:
    rate = f", {progress.rate:.1f} SMS/s" if progress.rate else ""
    print(f"\r{progress.done}/{progress.job.total} sent {progress.sent} failed {progress.failed} "
          f"uncertain {progress.uncertain}{rate}", end="", file=sys.stderr, flush=True)


def _worker(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from .store import Store, database_problem
    from .worker import run_worker

    with connect(settings) as gateway, Store.from_settings(settings) as store:
        print(f"worker running against {gateway.label}; Ctrl-C to stop", file=out, flush=True)
        run_worker(gateway, store, settings)
    return 0
