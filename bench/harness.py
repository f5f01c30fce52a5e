"""What every benchmark shares: the result row, the run context, statistics, the machine record,
discovery of ``bench_*.py`` modules, the printed table and the JSON record under ``results/``."""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import math
import os
import pkgutil
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
MODULE_PREFIX = "bench_"
MODES = ("embedded", "distributed")


@dataclass
class Row:
    """One figure beside its baseline, both measured in the same run.

    ``delivered``/``expected`` count what the measured path should have produced and what it did
    (messages, requests, operations); the ``baseline_`` pair does the same for the baseline. A
    figure with no sample at all is ``None`` and shows as ``-``, so a loss is never hidden.
    """

    mode: str
    case: str
    metric: str
    unit: str
    value: float | None
    baseline: float | None
    delivered: int | None = None
    expected: int | None = None
    baseline_delivered: int | None = None
    baseline_expected: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.baseline:
            return None
        return self.value / self.baseline

    def as_record(self) -> dict[str, Any]:
        record = asdict(self)
        for key in ("value", "baseline"):
            record[key] = _round(record[key])
        record["ratio"] = _round(self.ratio, 2)
        if not record["extra"]:
            del record["extra"]
        return record


@dataclass
class Context:
    """Handed to a benchmark's ``run``: how long to run, which modes, and where to note settings."""

    name: str
    quick: bool
    modes: tuple[str, ...]
    parameters: dict[str, Any] = field(default_factory=dict)

    def log(self, message: str) -> None:
        print(f"  [{self.name}] {message}", file=sys.stderr, flush=True)


@dataclass
class Benchmark:
    name: str
    title: str
    baseline: str
    run: Callable[[Context], list[Row]]


def percentile(samples: Sequence[float], pct: float) -> float | None:
    """The ``pct`` percentile by linear interpolation between the nearest ranks; ``None`` if empty."""
    if not samples:
        return None
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * pct / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Keep this process's garbage collector out of a measurement: its pauses would be charged to
    whatever the benchmark is timing, measured figure and baseline alike."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def discover() -> dict[str, str]:
    """Benchmark name -> module name, for every ``bench/bench_<name>.py``."""
    return {
        info.name.removeprefix(MODULE_PREFIX): f"bench.{info.name}"
        for info in sorted(pkgutil.iter_modules([str(BENCH_DIR)]), key=lambda i: i.name)
        if info.name.startswith(MODULE_PREFIX)
    }


def load(name: str, module_name: str) -> Benchmark:
    module: ModuleType = importlib.import_module(module_name)
    missing = [attr for attr in ("TITLE", "BASELINE", "run") if not hasattr(module, attr)]
    if missing:
        raise TypeError(f"{module_name} must define {', '.join(missing)}")
    return Benchmark(name=name, title=module.TITLE, baseline=module.BASELINE, run=module.run)


def machine() -> dict[str, Any]:
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "os": platform.platform(terse=True),
        "python": platform.python_version(),
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
    }


def load_average() -> float | None:
    """The 1-minute load average: other work on the machine shows in every figure."""
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except (OSError, ValueError):
        pass
    return None


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=REPO_DIR, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def result_path(name: str, quick: bool) -> Path:
    # Quick runs are for trying things out; only full runs replace the committed record.
    return RESULTS_DIR / (f"{name}.quick.json" if quick else f"{name}.json")


def write_record(bench: Benchmark, ctx: Context, rows: list[Row], started: float, duration: float,
                 load_at_start: float | None) -> Path:
    record = {
        "benchmark": bench.name,
        "title": bench.title,
        "baseline": bench.baseline,
        "run": "quick" if ctx.quick else "full",
        "modes": list(ctx.modes),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "duration_s": round(duration, 1),
        "machine": {**machine(), "load_avg_1m_at_start": load_at_start},
        "parameters": ctx.parameters,
        "rows": [],
    }
    # One row per line keeps the record short and its diffs readable.
    head = json.dumps(record, indent=1).removesuffix('"rows": []\n}')
    body = ",\n  ".join(json.dumps(row.as_record()) for row in rows)
    path = result_path(bench.name, ctx.quick)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'{head}"rows": [\n  {body}\n ]\n}}\n')
    return path


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    text = f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return f"{text} {unit}".strip()


def _count(done: int | None, expected: int | None) -> str:
    if done is None and expected is None:
        return ""
    text = f"{done}/{expected}"
    return text + " LOST" if done is not None and expected is not None and done < expected else text


def table(bench: Benchmark, rows: Iterable[Row]) -> str:
    header = ["mode", "case", "metric", "measured", "baseline", "ratio", "delivered", "baseline delivered"]
    lines = [
        [r.mode, r.case, r.metric, _fmt(r.value, r.unit), _fmt(r.baseline, r.unit),
         "-" if r.ratio is None else f"{r.ratio:.1f}x", _count(r.delivered, r.expected),
         _count(r.baseline_delivered, r.baseline_expected)]
        for r in rows
    ]
    widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h) for i, h in enumerate(header)]
    numeric = {3, 4, 5}

    def render(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in numeric else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    out = [f"{bench.name}: {bench.title}", f"baseline: {bench.baseline}", render(header),
           render(["-" * w for w in widths])]
    out.extend(render(line) for line in lines)
    return "\n".join(out)
