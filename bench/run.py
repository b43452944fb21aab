"""Run every benchmark, print their tables, write bench/results.json (``make bench [QUICK=1]``).

``--record`` also rewrites the measured table in bench/RESULTS.md with the date and machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date

from . import analytics, sending, spreadsheet
from .common import BENCH_DIR, RESULTS_JSON, Result, machine, print_table, write_results

BENCHMARKS = {
    "spreadsheet": ("1. Spreadsheet to plan (5. peak RSS)", spreadsheet.run),
    "sending": ("2. Send throughput, 4. report sync", sending.run),
    "analytics": ("3. Analytics (5. peak RSS)", analytics.run),
}
RESULTS_MD = BENCH_DIR / "RESULTS.md"
BEGIN, END = "<!-- measured:begin -->", "<!-- measured:end -->"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller inputs: the whole run in about a minute")
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), help="run only these")
    parser.add_argument("--record", action="store_true", help="write the table into bench/RESULTS.md")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    results: list[Result] = []
    failed: list[str] = []
    for name in args.only or BENCHMARKS:
        title, run = BENCHMARKS[name]
        try:
            measured = run(args.quick)
        except Exception as e:  # noqa: BLE001 - one broken benchmark must not lose the others' figures
            print(f"\n== {title}\nFAILED: {type(e).__name__}: {e}", file=sys.stderr)
            failed.append(name)
            continue
        print_table(title, measured)
        write_results(measured, quick=args.quick)  # after each: an interrupted run keeps what it measured
        results.extend(measured)
    where = machine()
    print(f"\n{len(results)} figures in {time.perf_counter() - started:.0f} s on {where['cores']} cores, "
          f"{where['memory_gb']} GB ({where['cpu']}); written to {RESULTS_JSON}")
    if args.record:
        record(where)
    missed = [r.name for r in results if r.met is False]
    if missed:
        print("goals missed: " + ", ".join(missed))
    return 1 if failed else 0


def record(where: dict) -> None:
    """Replace the measured block of RESULTS.md with every figure in results.json (prose stays)."""
    figures = json.loads(RESULTS_JSON.read_text())
    quick = any(f.get("quick") for f in figures.values())
    lines = [BEGIN, "",
             f"Measured {date.today().isoformat()}{' (quick run)' if quick else ''} on {where['cores']} cores, "
             f"{where['memory_gb']} GB RAM, {where['cpu']}, Python {where['python']}, {where['system']}.", "",
             "| measure | ours | baseline | ratio | goal | met |", "|---|---:|---:|---:|---|---|"]
    for name, f in figures.items():
        ratio = "" if f["ratio"] is None else f"{f['ratio']:g}x"
        met = "" if f.get("met") is None else ("yes" if f["met"] else "**no**")
        base = "" if f["baseline"] is None else f"{f['baseline']:,} {f['unit']}"
        lines.append(f"| {name} | {f['value']:,} {f['unit']} | {base} | {ratio} | {f.get('goal', '')} | {met} |")
    lines += ["", "Notes per line:", ""]
    lines += [f"- `{name}`: {f['note']}" for name, f in figures.items() if f.get("note")] + ["", END]
    text = RESULTS_MD.read_text() if RESULTS_MD.exists() else f"# Benchmark results\n\n{BEGIN}\n{END}\n"
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    RESULTS_MD.write_text(head + "\n".join(lines) + tail)


if __name__ == "__main__":
    raise SystemExit(main())
