"""Benchmark 1 (and 5, memory): a 100k-row contact list read, validated and planned.

Ours: ``spreadsheet.read_table`` + ``planning.validate`` + ``planning.plan`` (calamine, vectorised
phone checks, numpy segment counting). Baseline, the obvious code: ``pandas.read_excel``
with its default engine (openpyxl) or ``pandas.read_csv``, then per row
``phonenumbers.parse`` without caching, ``str.format`` for the template and
``text.count_segments``, then a dict grouping rows with the same text into requests.

Each measurement runs in a fresh process (``python -m bench.spreadsheet child ...``): its
time and its peak RSS are then its own. Both sides are warmed up on a 1,000-row file first
(imports, libphonenumber's metadata, compiled patterns), so the figures are steady-state.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import data
from .common import Result, child_output, print_table, run_child, timer

GOAL_SECONDS = 2.5
GOAL_RATIO = 6.0
BATCH_SIZE = 500


def ours(path: str) -> dict[str, int]:
    from smslib.services.planning import ColumnMapping, plan, validate
    from smslib.rules.spreadsheet import read_table

    frame = read_table(path, Path(path).name)
    validation = validate(frame, ColumnMapping(phone_column="Telefon", template=data.TEMPLATE))
    planned = plan(validation, BATCH_SIZE)
    totals = validation.totals
    return {"rows": totals.rows, "valid": totals.valid, "invalid": totals.invalid, "batches": len(planned)}


def baseline(path: str) -> dict[str, int]:
    import pandas as pd
    import phonenumbers

    from smslib.rules.text import count_segments

    if path.endswith(".csv"):
        frame = pd.read_csv(path, sep=";", encoding="cp1250", dtype=str, keep_default_na=False)
    else:
        frame = pd.read_excel(path, engine="openpyxl", dtype=str, keep_default_na=False)  # the default engine, named
    groups: dict[str, list[str]] = {}
    seen: set[tuple[str, str]] = set()
    invalid = 0
    for row in frame.to_dict("records"):
        raw = str(row["Telefon"]).removesuffix(".0")
        try:
            number = phonenumbers.parse(raw, "PL")
            ok = phonenumbers.is_valid_number(number)
        except phonenumbers.NumberParseException:
            ok = False
        text = data.TEMPLATE.format(**row)
        count = count_segments(text)
        if not ok or not text.strip() or count.segments > 10:
            invalid += 1
            continue
        phone = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        if (phone, text) in seen:
            continue
        seen.add((phone, text))
        groups.setdefault(text, []).append(phone)
    batches = sum((len(phones) + BATCH_SIZE - 1) // BATCH_SIZE for phones in groups.values())
    return {"rows": len(frame), "valid": len(seen), "invalid": invalid, "batches": batches}


def child(kind: str, impl: str, rows: int) -> None:
    make = data.xlsx_file if kind == "xlsx" else data.csv_file
    work = ours if impl == "ours" else baseline
    work(make(1000))  # warm-up: imports, metadata, compiled patterns
    path = make(rows)
    with timer() as elapsed:
        counts = work(path)
    child_output({"seconds": elapsed(), **counts})


def run(quick: bool = False) -> list[Result]:
    rows = 20_000 if quick else 100_000
    for make in (data.xlsx_file, data.csv_file):  # generate the inputs outside any measurement
        make(1000), make(rows)
    results = []
    for kind, label in (("xlsx", "XLSX"), ("csv", "CSV cp1250")):
        mine = run_child("bench.spreadsheet", "child", kind, "ours", str(rows))
        base = run_child("bench.spreadsheet", "child", kind, "baseline", str(rows))
        if (mine["valid"], mine["rows"]) != (base["valid"], base["rows"]):
            print(f"note: {kind}: ours found {mine['valid']} valid of {mine['rows']}, "
                  f"the baseline {base['valid']} of {base['rows']}", file=sys.stderr)
        speedup = base["seconds"] / mine["seconds"]
        goal_seconds = GOAL_SECONDS * rows / 100_000
        results.append(Result(
            f"spreadsheet_{kind}_{rows // 1000}k", mine["seconds"], "s", base["seconds"],
            goal=f"<= {goal_seconds:g} s and >= {GOAL_RATIO:g}x",
            met=mine["seconds"] <= goal_seconds and speedup >= GOAL_RATIO,
            note=(f"{label}, {rows:,} rows x 5 columns: {mine['valid']:,} valid, {mine['invalid']:,} invalid, "
                  f"{mine['batches']:,} requests of <= {BATCH_SIZE}")))
        results.append(Result(f"spreadsheet_{kind}_{rows // 1000}k_peak_rss", mine["rss_mb"], "MB",
                              base["rss_mb"], note="peak RSS of the whole process (interpreter and imports included)"))
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.spreadsheet")
    sub = parser.add_subparsers(dest="command")
    one = sub.add_parser("child", help="one measurement in this process (used by run)")
    one.add_argument("kind", choices=("xlsx", "csv"))
    one.add_argument("impl", choices=("ours", "baseline"))
    one.add_argument("rows", type=int)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "child":
        child(args.kind, args.impl, args.rows)
    else:
        print_table("Spreadsheet to plan", run(args.quick))


if __name__ == "__main__":
    main()
