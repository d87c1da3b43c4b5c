"""Write RELIABILITY.md from a run of the reliability tests (called by scripts/reliability).

    python scripts/reliability_report.py RECORDS JUNIT OUTPUT --started EPOCH

RECORDS holds one JSON line per claim, written by the tests (tests/reliability/common.py);
JUNIT is pytest's --junitxml of the same run, for each test's outcome and time and for the
bad-input cases, which count as one trial each.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# What each trial of a claim checks, in the order RELIABILITY.md lists the claims.
SECTIONS = {
    "Stop": (
        "Each trial stops a `pargen exec` (Ctrl-C: SIGINT to its process group, or SIGTERM to "
        "its pid) while two builds hang and a third has succeeded. It passes when every "
        "stopped Packer got SIGTERM (its log says so) and finished its clean-up, nothing was "
        "started after the signal, no process of the run is left, the exit code is 130, "
        "report.json and `pargen status` give every job's state, and `pargen exec --resume` "
        "builds exactly the jobs that were not built."
    ),
    "Overlap": (
        "Each trial is one of the runs started on one pipeline id. Every run's builds wait "
        "for a gate that opens once every run holds the lock, waits for it or has given up. "
        "A run passes when its exit code is the policy's (wait: 0; fail: 4 naming the holder, "
        "or 0 for the one holder; cancel: 130 with its builds stopped gracefully, or 0), and "
        "its joblog span and its builds' own records overlap no other run's."
    ),
    "Faults": (
        "Each trial causes the fault in a real run. It passes when every job is accounted "
        "for in report.json or by `pargen status` with the state its build really reached "
        "(nothing reported built that was not, nothing that ran reported as never started), "
        "no process of the run is left, and the next run (`--retry-failed`, `--resume`, or "
        "a plain `pargen exec`) builds the rest."
    ),
    "Bad input": (
        "Each case of tests/test_bad_input.py runs `python -m pargen` on a broken tree or "
        "with a missing or wrong program, and passes when it exits 2 with one "
        "`pargen: error:` line per problem and nothing ran. The corpus covers GNU parallel "
        "missing, Packer missing, and moreutils' `parallel` first on PATH."
    ),
    "Hostile names": (
        "Each trial generates a corpus (seeded) of template paths and build names made of "
        "shell and glob metacharacters, quotes, whitespace and command substitutions, some "
        "nested in others, and builds it with `pargen exec`. It passes when the script that "
        "ran is shellcheck-clean, every job was built exactly once under its expected id, "
        "children waited for their parents, and no payload ran (no file `pwned` anywhere)."
    ),
    "Load": (
        "One run of a generated tree of real Packer builds, two levels deep. It passes when "
        "it exits 0 and every job appears once in report.json, the joblog, events.log "
        "(start, end, succeeded) and the builds' own records, no more jobs than slots ran at "
        "once, and no nested template started before its parent's jobs had ended."
    ),
}

# The environment variable that sets the trial count of the tests whose id holds the key
# (the first key that matches).
COUNTS = {
    "test_a_stop_before_any_build": "PARGEN_EARLY_STOP_TRIALS",
    "test_stop.py": "PARGEN_STOP_TRIALS",
    "test_overlap.py": "PARGEN_OVERLAP_RUNS",
    "test_faults.py": "PARGEN_FAULT_TRIALS",
    "test_hostile_names.py": "PARGEN_HOSTILE_CORPORA",
    "test_load.py": "PARGEN_LOAD_JOBS",
}
BAD_INPUT_TEST = "tests/test_bad_input.py::test_bad_input_exits_2_with_one_line_per_problem"


@dataclass
class Outcome:
    result: str
    """passed, failed, error or skipped (with the reason)."""
    seconds: float


def junit_outcomes(path: Path) -> dict[str, Outcome]:
    """Test node id -> its outcome, from pytest's junit XML."""
    outcomes: dict[str, Outcome] = {}
    for case in ET.parse(path).iter("testcase"):
        module = case.get("classname", "").replace(".", "/")
        nodeid = f"{module}.py::{case.get('name', '')}"
        result = "passed"
        for kind in ("failure", "error", "skipped"):
            found = case.find(kind)
            if found is not None:
                reason = found.get("message", "")
                result = {"failure": "failed"}.get(kind, kind)
                if kind == "skipped" and reason:
                    result = f"skipped: {reason}"
                break
        outcomes[nodeid] = Outcome(result, float(case.get("time", "0")))
    return outcomes


def first_line(*command: str) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    except OSError as err:
        return f"not found ({err.strerror})"
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0] if lines else ""


def machine() -> list[tuple[str, str]]:
    commit = first_line("git", "-C", str(REPO), "rev-parse", "--short", "HEAD")
    dirty = first_line("git", "-C", str(REPO), "status", "--porcelain", "--", "pargen", "templates")
    return [
        ("cores (nproc)", first_line("nproc")),
        ("GNU parallel (`parallel --version`)", first_line("parallel", "--version")),
        ("Packer (`packer version`)", first_line("packer", "version")),
        ("bash", first_line("bash", "--version")),
        ("kernel", first_line("uname", "-r")),
        ("Python", sys.version.split()[0]),
        ("pargen", f"git {commit}" + (" with local changes" if dirty else "")),
    ]


def command_for(test: str) -> str:
    """The command that runs ``test`` alone with the trial count used here."""
    variable = next((v for key, v in COUNTS.items() if key in test), None)
    words = [".venv/bin/python", "-m", "pytest", test]
    prefix = ""
    if variable and os.environ.get(variable):
        prefix = f"{variable}={os.environ[variable]} "
    return prefix + shlex.join(words)


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def rows(records: list[dict[str, object]], outcomes: dict[str, Outcome]) -> list[list[str]]:
    table = []
    bad_input = {k: v for k, v in outcomes.items() if k.startswith(BAD_INPUT_TEST + "[")}
    for record in records:
        test = str(record["test"])
        outcome = outcomes.get(test, Outcome("not run", 0.0))
        claim, trials, passed = str(record["claim"]), int(str(record["trials"])), record["passed"]
        command = command_for(test)
        if claim == "Bad input: corpus":
            claim = "Bad input: the corpus of tests/test_bad_input.py"
            trials = len(bad_input)
            passed = sum(1 for o in bad_input.values() if o.result == "passed")
            test = f"{BAD_INPUT_TEST}[*] (coverage: {record['test']})"
            command = shlex.join([".venv/bin/python", "-m", "pytest", "tests/test_bad_input.py"])
            outcome = Outcome(
                "passed" if bad_input and passed == trials else "failed",
                sum(o.seconds for o in bad_input.values()),
            )
        table.append(
            [
                claim,
                str(trials),
                str(passed),
                f"{outcome.result}, {outcome.seconds:.0f} s",
                f"`{test}`",
                f"`{command}`",
            ]
        )
    for test, outcome in sorted(outcomes.items()):
        recorded = {str(r["test"]) for r in records}
        if test.startswith("tests/reliability/") and test not in recorded:
            table.append(["(no figures)", "0", "0", outcome.result, f"`{test}`", ""])
    return table


def section_of(claim: str) -> str:
    return next((name for name in SECTIONS if claim.startswith(name)), "Other")


def markdown(records: list[dict[str, object]], outcomes: dict[str, Outcome], started: float) -> str:
    minutes = (time.time() - started) / 60
    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started))
    table = rows(records, outcomes)
    total = sum(int(r[1]) for r in table)
    passed = sum(int(r[2]) for r in table if r[2].isdigit())
    lines = [
        "# pargen reliability",
        "",
        f"Written by `scripts/reliability` on {date}, in {minutes:.1f} minutes: "
        f"{passed} of {total} trials passed. It runs the tests in `tests/reliability/` and "
        "the bad-input corpus with these trial counts "
        f"({', '.join(f'`{v}={os.environ[v]}`' for v in COUNTS.values() if v in os.environ)}); "
        "`scripts/test` runs the same tests with the counts in `tests/reliability/`. "
        "Every build is a real Packer build of a `null` source with a `shell-local` "
        "provisioner; GNU parallel, bash, the signals and the full disk (a small tmpfs) "
        "are real too. Order and overlap are judged from recorded timestamps, never from "
        "how long anything took.",
        "",
        "## Machine",
        "",
        "| | |",
        "| --- | --- |",
        *(f"| {name} | {cell(value)} |" for name, value in machine()),
        "",
    ]
    for name, description in SECTIONS.items():
        section = [r for r in table if section_of(r[0]) == name]
        if not section:
            continue
        lines += [f"## {name}", "", description, ""]
        lines += [
            "| claim | trials | passed | test result | test | command |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        lines += ["| " + " | ".join(cell(c) for c in r) + " |" for r in section]
        lines.append("")
    other = [r for r in table if section_of(r[0]) == "Other"]
    if other:
        lines += ["## Other", "", "| claim | trials | passed | test result | test | command |"]
        lines += ["| --- | --- | --- | --- | --- | --- |"]
        lines += ["| " + " | ".join(cell(c) for c in r) + " |" for r in other]
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("records", type=Path)
    parser.add_argument("junit", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--started", type=float, required=True, help="epoch seconds")
    args = parser.parse_args()
    records = []
    if args.records.exists():
        text = args.records.read_text(encoding="utf-8")
        records = [json.loads(line) for line in text.splitlines() if line.strip()]
    order = [*SECTIONS, "Other"]
    records.sort(key=lambda r: order.index(section_of(str(r["claim"]))))
    args.output.write_text(
        markdown(records, junit_outcomes(args.junit), args.started), encoding="utf-8"
    )
    print(f"reliability: wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
