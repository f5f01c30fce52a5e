"""``python -m bench [name ...] [--quick] [--mode embedded|distributed] [--list]``."""

from __future__ import annotations

import argparse
import signal
import sys
import time
import traceback

from bench import harness


def _terminate(signum: int, frame: object) -> None:
    # SIGTERM must unwind like Ctrl-C so every benchmark's ``finally`` stops what it started.
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    available = harness.discover()
    parser = argparse.ArgumentParser(prog="python -m bench", description="Run Unimanager's benchmarks.")
    parser.add_argument("names", nargs="*", metavar="name", help=f"benchmarks to run (default: all of "
                        f"{', '.join(available) or 'none'})")
    parser.add_argument("--quick", action="store_true",
                        help="a short run to try things out; written to results/<name>.quick.json")
    parser.add_argument("--mode", action="append", choices=harness.MODES,
                        help="run only this mode (repeatable; default: both)")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)

    if args.list:
        for name, module_name in available.items():
            print(f"{name:16} {harness.load(name, module_name).title}")
        return 0
    unknown = [n for n in args.names if n not in available]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(available)}")
    names = args.names or list(available)
    modes = tuple(m for m in harness.MODES if not args.mode or m in args.mode)
    signal.signal(signal.SIGTERM, _terminate)

    failed: list[str] = []
    for name in names:
        bench = harness.load(name, available[name])
        ctx = harness.Context(name=name, quick=args.quick, modes=modes)
        print(f"running {name} ({'quick' if args.quick else 'full'}, modes: {', '.join(modes)})",
              file=sys.stderr, flush=True)
        started, load = time.time(), harness.load_average()
        try:
            rows = bench.run(ctx)
        except KeyboardInterrupt:
            print(f"{name}: interrupted; nothing written", file=sys.stderr)
            return 130
        except Exception:
            traceback.print_exc()
            print(f"{name}: FAILED; nothing written", file=sys.stderr)
            failed.append(name)
            continue
        path = harness.write_record(bench, ctx, rows, started, time.time() - started, load)
        print()
        print(harness.table(bench, rows))
        print(f"({time.time() - started:.0f} s; written to {path.relative_to(harness.REPO_DIR)})")
        print(flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
