"""Run pargen's command line in this process and record the CPU time this process used.

    python -m benchmarks.supervised OUT.json exec ROOT --jobs 2

OUT.json gets ``cpu`` (user + system seconds of this process, start to exit, children not
included) and, for ``exec``, ``follow_cpu`` and ``follow_wall``: the same while the
supervisor ran the script and followed it.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

from pargen import cli
from pargen.run.supervise import Supervisor


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    out = Path(sys.argv[1])
    phase: dict[str, float] = {}
    execute = Supervisor.execute

    def timed_execute(self: Supervisor) -> int:
        cpu, wall = cpu_seconds(), time.monotonic()
        try:
            return execute(self)
        finally:
            phase["follow_cpu"] = cpu_seconds() - cpu
            phase["follow_wall"] = time.monotonic() - wall

    Supervisor.execute = timed_execute  # type: ignore[method-assign]
    sys.argv = ["pargen", *sys.argv[2:]]
    try:
        cli.main()
    finally:
        out.write_text(json.dumps({"cpu": cpu_seconds(), **phase}) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
