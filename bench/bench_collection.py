"""Inventory collection and the resource list at scale, each beside a raw baseline from the same run.

For each mode (embedded: SQLite; distributed: PostgreSQL from ``devtools.services``) and each size N
(10,000 and 100,000 cloudsim instances; 1,000 and 5,000 with ``--quick``), ``bench.collection_run``
runs in a fresh process and measures:

- full collection through the apsara adapter and the sync steps (resources/s), against a raw
  ``executemany`` INSERT of the same rows in one transaction: until the inventory is committed and the
  sync's operation has succeeded, and again with the other apps' ``sync_finished`` subscribers that run
  after that commit in the same process (billing's usage intervals, quotas' usage);
- a re-sync with nothing changed (seconds; rows written must be 0), against fetching the same pages
  through the adapter without any database work;
- the resource list API (a keyset page of 50 as an organization member, five filter cases, p50 and
  p95), against the same page read by one raw SQL statement.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from bench.collection_run import WARMUP
from bench.harness import REPO_DIR, Context, Row, percentile

TITLE = "inventory: full collection, unchanged re-sync and the resource list API at 10k/100k resources"
BASELINE = "raw executemany INSERT of the same rows; adapter fetch alone; the same list page by raw SQL"


def _run(count: int, requests: int, env: dict[str, str]) -> dict:
    done = subprocess.run([sys.executable, "-m", "bench.collection_run", "--count", str(count), "--requests",
                           str(requests)], cwd=REPO_DIR, env=env, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"collection run failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _rows(mode: str, r: dict) -> list[Row]:
    n = r["count"]
    collect, raw = r["collect"], r["raw_insert"]
    subscribers = collect.get("subscribers_seconds", 0.0)
    own = collect["seconds"] - subscribers
    out = [
        Row(mode, f"collect {n:,}", "throughput", "resources/s", collect["fetched"] / own,
            raw["rows"] / raw["seconds"], delivered=collect["created"], expected=collect["fetched"],
            baseline_delivered=raw["rows"], baseline_expected=collect["fetched"],
            extra={"seconds": own, "raw_seconds": raw["seconds"], "subscribers_seconds": subscribers,
                   "cpu_seconds": collect.get("cpu_seconds"), "phases": _phases(collect.get("timeline", []))}),
        Row(mode, f"collect {n:,} + sync_finished subscribers", "throughput", "resources/s",
            collect["fetched"] / collect["seconds"], raw["rows"] / raw["seconds"], delivered=collect["created"],
            expected=collect["fetched"], baseline_delivered=raw["rows"], baseline_expected=collect["fetched"],
            extra={"seconds": collect["seconds"], "subscribers_seconds": subscribers}),
        Row(mode, f"re-sync {n:,} unchanged", "duration", "s", r["resync"]["seconds"], r["fetch_only"]["seconds"],
            delivered=r["resync"]["unchanged"], expected=r["resync"]["fetched"],
            extra={"rows_written": r["resync"]["rows_written"],
                   "subscribers_seconds": r["resync"].get("subscribers_seconds")}),
        Row(mode, f"re-sync {n:,} unchanged", "rows written", "rows", float(r["resync"]["rows_written"]), None),
    ]
    for case, data in r["list"].items():
        raw_samples = r["list_raw"][case]["samples"]
        for pct in (50, 95):
            out.append(Row(mode, f"list {n:,} {case}", f"p{pct}", "ms",
                           (percentile(data["samples"], pct) or 0) * 1000,
                           (percentile(raw_samples, pct) or 0) * 1000, delivered=data["rows"],
                           expected=r["list_raw"][case]["rows"]))
    return out


def _phases(timeline: list[list]) -> dict[str, dict[str, float]]:
    """The collection's timeline summed per part: wall seconds and the CPU seconds of this process, cloudsim
    and PostgreSQL while it ran (a fetch step includes its stage)."""
    out: dict[str, dict[str, float]] = {}
    for part, began, ended, own, sim, pg in timeline:
        sums = out.setdefault(part, {"count": 0, "wall": 0.0, "this_process": 0.0, "cloudsim": 0.0,
                                     "postgresql": 0.0})
        sums["count"] += 1
        for key, value in (("wall", ended - began), ("this_process", own), ("cloudsim", sim), ("postgresql", pg)):
            sums[key] = round(sums[key] + value, 3)
    return out


def run(ctx: Context) -> list[Row]:
    sizes = (1_000, 5_000) if ctx.quick else (10_000, 100_000)
    requests = 15 if ctx.quick else 40
    ctx.parameters.update({"sizes": list(sizes), "requests_per_case": requests, "page_size": 50,
                           "warmup_requests_per_case": WARMUP,
                           "postgresql": "VACUUM ANALYZE of the inventory table before the list cases"})
    rows: list[Row] = []
    for mode in ctx.modes:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        if mode == "distributed":
            from devtools.services import distributed_services

            with distributed_services() as (pg, _redis):
                for n in sizes:
                    ctx.log(f"{mode}: {n:,} resources")
                    rows += _rows(mode, _run(n, requests, {**env, "DATABASE_URL": _fresh_database(pg.url, n)}))
        else:
            for n in sizes:
                ctx.log(f"{mode}: {n:,} resources")
                rows += _rows(mode, _run(n, requests, env))
    return rows


def _fresh_database(url: str, n: int) -> str:
    """A new empty database on the benchmark's PostgreSQL for one run."""
    import psycopg

    name = f"bench_collection_{n}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"
