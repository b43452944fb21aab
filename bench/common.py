"""What every benchmark shares: timing, peak memory of a child process, the table, the results file."""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
DATA_DIR = BENCH_DIR / ".data"
RESULTS_JSON = BENCH_DIR / "results.json"


@dataclass(frozen=True)
class Result:
    """One measured figure beside its baseline; ``higher_is_better`` decides which way the ratio goes."""

    name: str
    value: float
    unit: str
    baseline: float | None
    higher_is_better: bool = False
    goal: str = ""          # the target, for people ("<= 2.5 s, >= 6x")
    met: bool | None = None  # whether the goal was met; None where there is no goal
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """How many times better than the baseline (>1 is better, whichever way the unit goes)."""
        if not self.baseline or not self.value:
            return None
        return self.value / self.baseline if self.higher_is_better else self.baseline / self.value

    def to_json(self) -> dict[str, Any]:
        ratio = self.ratio
        return {"value": _round(self.value), "unit": self.unit,
                "baseline": None if self.baseline is None else _round(self.baseline),
                "ratio": None if ratio is None else round(ratio, 2),
                "goal": self.goal, "met": self.met, "note": self.note}


def _round(value: float) -> float:
    return float(f"{value:.4g}") if abs(value) < 1000 else round(value)


@contextmanager
def timer() -> Iterator[Callable[[], float]]:
    """``with timer() as elapsed: ...`` then ``elapsed()`` is the seconds the block took."""
    start = time.perf_counter()
    end: list[float] = []
    try:
        yield lambda: (end[0] if end else time.perf_counter()) - start
    finally:
        end.append(time.perf_counter())


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(module: str, *args: str, timeout: float = 900) -> dict[str, Any]:
    """Run ``python -m module args`` in a fresh process; it prints one JSON object as its last line.

    A fresh process per measurement is what makes its peak RSS the work's own and not what an
    earlier measurement left in this process's heap.
    """
    completed = subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True,
                               text=True, timeout=timeout)
    if completed.returncode != 0:
        raise RuntimeError(f"{module} {' '.join(args)} failed:\n{completed.stderr[-4000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def child_output(payload: dict[str, Any]) -> None:
    """What a child measurement prints: its figures plus its peak RSS, as the last line of stdout."""
    print(json.dumps({**payload, "rss_mb": peak_rss_mb()}))


def machine() -> dict[str, Any]:
    """Where the numbers were measured."""
    memory_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_kb = int(line.split()[1])
    except OSError:
        pass
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cores": os.cpu_count(), "memory_gb": round(memory_kb / 1024**2, 1), "cpu": cpu,
            "python": platform.python_version(), "system": f"{platform.system()} {platform.release()}"}


def print_table(title: str, results: list[Result]) -> None:
    """Our figure, the baseline, the ratio and the goal, one line per result."""
    print(f"\n== {title}")
    header = f"{'measure':<44} {'ours':>14} {'baseline':>14} {'ratio':>8}  goal"
    print(header)
    print("-" * len(header))
    for r in results:
        ratio = r.ratio
        verdict = "" if r.met is None else ("  met" if r.met else "  MISSED")
        print(f"{r.name:<44} {_fmt(r.value, r.unit):>14} {_fmt(r.baseline, r.unit):>14} "
              f"{'' if ratio is None else f'{ratio:.1f}x':>8}  {r.goal}{verdict}")
        if r.note:
            print(f"{'':<4}{r.note}")


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "s":
        return f"{value:.3f} s"
    return f"{value:,.0f} {unit}" if value >= 100 else f"{value:.1f} {unit}"


def write_results(results: list[Result], *, quick: bool, path: Path = RESULTS_JSON) -> None:
    """Merge ``results`` into results.json (a run of some benchmarks keeps the others' figures)."""
    existing: dict[str, Any] = {}
    if path.exists():
        try:
            existing = json.loads(path.read_text())
        except ValueError:
            existing = {}
    for r in results:
        existing[r.name] = {**r.to_json(), "quick": quick}
    path.write_text(json.dumps(existing, indent=2, ensure_ascii=False) + "\n")


__all__ = ["BENCH_DIR", "DATA_DIR", "ROOT", "Result", "asdict", "child_output", "machine", "peak_rss_mb",
           "print_table", "run_child", "timer", "write_results"]
