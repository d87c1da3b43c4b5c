"""Run every benchmark, print each figure with its command, and write BENCHMARKS.md.

    python -m benchmarks [--quick] [--output FILE] [--only NAME] [--keep]

A missed target is reported as "miss", never an error: the exit code is 1 only when a
benchmark could not measure (a command failed).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from benchmarks import dispatch, ordering, planning, scheduling, supervisor
from benchmarks.measure import REPO, BenchError, Section, Settings, make_settings
from benchmarks.report import describe_machine, load_average, markdown

BENCHMARKS: dict[str, Callable[[Settings], Section]] = {
    "planning": planning.benchmark,
    "scheduling": scheduling.benchmark,
    "dispatch": dispatch.benchmark,
    "supervisor": supervisor.benchmark,
    "ordering": ordering.benchmark,
}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="scripts/bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smaller and fewer runs: ~2 minutes")
    p.add_argument(
        "--output",
        type=Path,
        default=REPO / "BENCHMARKS.md",
        help="report to write (default: BENCHMARKS.md at the repository root)",
    )
    p.add_argument(
        "--only",
        action="append",
        choices=sorted(BENCHMARKS),
        help="run only these benchmarks (repeatable); the report file is then not written",
    )
    p.add_argument("--keep", action="store_true", help="keep the scratch trees and logs")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    names = args.only or list(BENCHMARKS)
    work = Path(tempfile.mkdtemp(prefix="pargen-bench-"))
    started = time.monotonic()
    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    try:
        settings = make_settings(args.quick, work)
        machine = describe_machine(settings)
        print(f"bench: {'quick' if args.quick else 'full'} run, {settings.reps} repetitions")
        print("bench: " + "; ".join(f"{key} {value}" for key, value in machine.rows()))
        sections = []
        for name in names:
            section = BENCHMARKS[name](settings)
            print(f"\n== {section.title}")
            for figure in section.figures:
                print(figure.line())
            sections.append(section)
    except BenchError as err:
        print(f"bench: error: {err}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"bench: scratch trees and logs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    took = time.monotonic() - started
    figures = [f for s in sections for f in s.figures]
    judged = [f for f in figures if f.passed is not None]
    missed = [f.name for f in judged if not f.passed]
    summary = f"{len(judged) - len(missed)} of {len(judged)} targets met"
    if missed:
        summary += f"; missed: {', '.join(missed)}"
    end_load = load_average()
    print(f"\nbench: {summary} in {took:.0f} s; load average at the end {end_load}")
    if args.only:
        print(f"bench: --only given: {args.output} not written")
        return 0
    report = markdown(sections, machine, settings, date, took, end_load)
    args.output.write_text(report, encoding="utf-8")
    print(f"bench: wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
