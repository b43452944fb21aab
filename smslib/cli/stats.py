"""``python -m smslib stats``: the analytics page's headline numbers on the command line.

The numbers come from ``smslib.services.analytics.kpis``, the function the page uses. Wired into
``smslib.cli.main`` with ``add_stats_command``; ``main_stats`` runs it on its own.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from smslib.services.analytics import STATE_ORDER, AnalyticsFilter, kpis, local_midnight, period
from smslib.core.config import Settings
from smslib.core.errors import SmsError, ValidationError
from smslib.store import Store


def add_stats_command(commands: Any) -> argparse.ArgumentParser:
    """Add ``stats`` to the subcommands of ``python -m smslib``."""
    stats = commands.add_parser(
        "stats", help="print counts per state, delivered share and latency percentiles",
        description="Messages submitted in [--since, --until). Without them: the last 7 days, as on the "
                    "analytics page. A time without an offset, or a bare date, is in SMS_DISPLAY_TIMEZONE.")
    stats.add_argument("--since", metavar="ISO", help="first moment, e.g. 2026-03-01 or 2026-03-01T08:00+01:00")
    stats.add_argument("--until", metavar="ISO", help="end (excluded); a bare date ends at its midnight")
    stats.add_argument("--json", action="store_true", help="print one JSON object")
    stats.set_defaults(run=run_stats)
    return stats


def run_stats(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    """Print the KPIs of the period ``args`` names, read from the configured store."""
    f = stats_filter(args.since, args.until, settings.display_timezone)
    with Store.from_settings(settings) as store:
        numbers = kpis(store, f)
    if args.json:
        print(json.dumps({"since": f.since.isoformat(), "until": f.until.isoformat(), **numbers.as_dict()}), file=out)
        return 0
    zone = ZoneInfo(settings.display_timezone)
    print(f"period\t{f.since.astimezone(zone).isoformat()} – {f.until.astimezone(zone).isoformat()}", file=out)
    print(f"messages\t{numbers.messages}", file=out)
    print(f"segments\t{numbers.segments}", file=out)
    for state in STATE_ORDER:
        print(f"{state.value}\t{numbers.count(state)}", file=out)
    print(f"delivered_share\t{_share(numbers.delivered_share)}", file=out)
    print(f"failed_share\t{_share(numbers.failed_share)}", file=out)
    for p, value in numbers.latency.percentiles.items():
        print(f"latency_p{p}_seconds\t{'-' if value is None else f'{value:.3f}'}", file=out)
    return 0


def stats_filter(since: str | None, until: str | None, zone: str, *, now: datetime | None = None) -> AnalyticsFilter:
    """The period of ``--since``/``--until``; the last 7 days when neither is given."""
    now = now or datetime.now(UTC)
    if since is None and until is None:
        start, end = period("7d", zone, now=now)
    else:
        end = parse_moment(until, zone, "--until") if until else now
        start = parse_moment(since, zone, "--since") if since else end - timedelta(days=7)
    if end <= start:
        raise ValidationError("--until must be after --since.", field="until")
    return AnalyticsFilter(since=start, until=end)


def parse_moment(text: str, zone: str, option: str) -> datetime:
    """A command-line moment in UTC: an ISO date (its midnight) or date and time, in ``zone`` unless it has an offset.

    A local time the clocks skip (02:30 on the spring DST day in Warsaw) is refused; one
    they pass twice (02:30 on the autumn day) is the first of the two.
    """
    tz = ZoneInfo(zone)
    try:
        if len(text.strip()) == 10:
            return local_midnight(date.fromisoformat(text.strip()), tz)
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(f"{option} {text!r} is not an ISO date or time, e.g. 2026-03-01 or "
                              "2026-03-01T08:00+01:00.", field=option) from None
    if moment.tzinfo is not None:
        return moment.astimezone(UTC)
    local = moment.replace(tzinfo=tz)
    if local.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != moment:
        raise ValidationError(f"{option} {text!r} does not exist in {zone}: the clocks skip that hour.", field=option)
    return local.astimezone(UTC)


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def main_stats(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """``stats`` on its own: the same options, errors as one line on stderr."""
    parser = argparse.ArgumentParser(prog="python -m smslib")
    add_stats_command(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["stats", *(argv or [])])
    try:
        return run_stats(args, Settings.from_env(), out or sys.stdout)
    except SmsError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
