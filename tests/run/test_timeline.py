"""Tests for pargen.run.timeline: the picture of a run (timeline.html) and its Mermaid chart.

Unit tests feed hand-written run directories (see tests/run/test_report.py); the end-to-end
test runs a real tree with retries, a failure, a skip, a group and a pipeline lock that was
held, then opens timeline.html in headless Chromium and checks what it drew.
"""

from __future__ import annotations

import fcntl
import re
import shutil
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest

from pargen.run.report import load_report, read_events
from pargen.run.timeline import (
    _COLOURS,
    _LOCK_COLOUR,
    _WAIT_COLOUR,
    build_timeline,
    critical_path,
    mermaid_gantt,
    timeline_html,
)
from tests.run.test_report import BASE, CHILD, GRAND, SIB, T0, make_run
from tests.trees import NEEDS_ENGINES, wait_for, write_tree

# base (1 s) -> child (fails, then succeeds on its second attempt) -> grand (0.5 s); sib (3 s)
# after base. Two slots; sib and the child's attempts wait for group "aws".
EVENTS = [
    "0 run 0",
    "5 lock-wait 0",
    "200 locked 0",
    "210 slots 0 2",
    "300 start 1 1 1 111",
    "1300 end 1 0 1 done",
    "1301 succeeded 1 0",
    "1310 acquiring 2 aws",
    "1310 acquiring 4 aws",
    "1400 acquired 2",
    "1410 start 2 1 2 222",
    "1500 acquired 4",
    "1510 start 4 1 1 444",
    "1910 end 2 1 1 done",
    "1920 start 2 2 2 223",
    "2920 end 2 0 2 done",
    "2921 succeeded 2 0",
    "2930 start 3 1 2 333",
    "3430 end 3 0 1 done",
    "3431 succeeded 3 0",
    "4510 end 4 0 1 done",
    "4511 succeeded 4 0",
]
RESULTS = [
    "1\tsucceeded\t0\t1\t\t\t",
    "2\tsucceeded\t0\t2\t\t\t",
    "3\tsucceeded\t0\t1\t\t\t",
    "4\tsucceeded\t0\t1\t\t\t",
]


def us(ms: int) -> int:
    return T0 + ms * 1000


def test_every_attempt_is_a_bar_on_its_slot_and_a_retried_attempt_is_marked(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", events=EVENTS, results=RESULTS)
    timeline = build_timeline(load_report(run), read_events(run))
    bars = [(a.job_id, a.attempt, a.slot, a.outcome) for a in timeline.attempts]
    assert bars == [
        (BASE, 1, 1, "succeeded"),
        (CHILD, 1, 2, "retried"),
        (SIB, 1, 1, "succeeded"),
        (CHILD, 2, 2, "succeeded"),
        (GRAND, 1, 2, "succeeded"),
    ]
    assert timeline.attempts[1].start_us == us(1410)
    assert timeline.attempts[1].end_us == us(1910)


def test_group_waits_lock_wait_and_slots_come_from_the_events(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", events=EVENTS, results=RESULTS)
    timeline = build_timeline(load_report(run), read_events(run))
    waits = [(w.job_id, w.group, w.start_us, w.end_us) for w in timeline.waits]
    assert waits == [(CHILD, "aws", us(1310), us(1400)), (SIB, "aws", us(1310), us(1500))]
    assert timeline.lock_wait == (us(0), us(200))
    assert timeline.slots == 2


def test_critical_path_and_lower_bound(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", events=EVENTS, results=RESULTS)
    timeline = build_timeline(load_report(run), read_events(run))
    # base 1.0 s, child 1.51 s (both attempts), grand 0.5 s: 3.01 s; sib's chain is 4.0 s.
    assert timeline.critical == (BASE, SIB)
    assert timeline.critical_s == pytest.approx(4.0)
    # Work: 1.0 + 0.5 + 1.0 + 0.5 + 3.0 = 6.0 s on 2 slots; the critical path is longer.
    assert timeline.work_s == pytest.approx(6.0)
    assert timeline.bound_s == pytest.approx(4.0)
    assert timeline.makespan_s == pytest.approx(4.21)


def test_critical_path_follows_the_longest_chain_whatever_the_order_of_parents(
    tmp_path: Path,
) -> None:
    jobs = load_report(make_run(tmp_path / "run")).jobs
    chain, length = critical_path(jobs, {BASE: 1.0, CHILD: 0.5, GRAND: 0.2, SIB: 2.0})
    assert chain == (BASE, SIB)
    assert length == pytest.approx(3.0)
    chain, length = critical_path(jobs, {BASE: 1.0, CHILD: 1.5, GRAND: 1.0, SIB: 2.0})
    assert chain == (BASE, CHILD, GRAND)
    assert length == pytest.approx(3.5)


def test_a_failed_last_attempt_carries_the_jobs_state_and_unstarted_jobs_are_listed(
    tmp_path: Path,
) -> None:
    events = [
        "0 start 1 1 1 111",
        "1000 end 1 1 1 done",
        "1001 failed 1 1",
        "1002 skipped 2 - 1",
        "1003 skipped 3 - 1",
        "1004 skipped 4 - 1",
    ]
    results = [
        "1\tfailed\t1\t1\t\t\t",
        "2\tskipped\t\t0\t1\t\t",
        "3\tskipped\t\t0\t1\t\t",
        "4\tskipped\t\t0\t1\t\t",
    ]
    run = make_run(tmp_path / "run", events=events, results=results)
    timeline = build_timeline(load_report(run), read_events(run))
    assert [(a.job_id, a.outcome) for a in timeline.attempts] == [(BASE, "failed")]
    assert [j.id for j in timeline.unstarted] == [CHILD, GRAND, SIB]
    assert set(timeline.job_ids) == {BASE, CHILD, GRAND, SIB}
    page = timeline_html(timeline)
    for job_id in (CHILD, GRAND, SIB):
        assert f'<tr data-job="{job_id}">' in page


def test_the_page_is_self_contained_and_escapes_every_name(tmp_path: Path) -> None:
    hostile = {
        't/<b>"x":null.$(touch pwned)&amp;': [],
        "u:null.a": ['t/<b>"x":null.$(touch pwned)&amp;'],
    }
    events = [
        "0 start 1 1 1 111",
        "500 end 1 0 1 done",
        "600 start 2 1 1 222",
        "900 end 2 0 1 done",
    ]
    run = make_run(tmp_path / "run", hostile, events=events)
    page = timeline_html(build_timeline(load_report(run), read_events(run)))
    assert "<b>" not in page
    assert "&lt;b&gt;&quot;x&quot;:null.$(touch pwned)&amp;amp;" in page
    # Nothing is fetched: no script, no external reference of any kind.
    assert "<script" not in page
    assert not re.search(r"(?:src|href)=", page)
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_mermaid_gantt_has_one_bar_per_job_that_ran_and_no_name_breaks_its_syntax(
    tmp_path: Path,
) -> None:
    tree = {".:null.a: b;c #d %e": [], "child:null.b": [".:null.a: b;c #d %e"]}
    events = [
        "0 start 1 1 1 111",
        "1000 end 1 0 1 done",
        "1100 start 2 1 1 222",
        "1600 end 2 1 1 done",
    ]
    results = ["1\tsucceeded\t0\t1\t\t\t", "2\tfailed\t1\t1\t\t\t"]
    run = make_run(tmp_path / "run", tree, events=events, results=results)
    chart = mermaid_gantt(load_report(run))
    start_ms, end_ms = T0 // 1000, T0 // 1000 + 1000
    assert chart.splitlines() == [
        "```mermaid",
        "gantt",
        "  title pargen run run",
        "  dateFormat x",
        "  axisFormat %H:%M:%S",
        "  section .",
        f"  null.a b c d e :done, j1, {start_ms}, {end_ms}",
        "  section child",
        f"  null.b :crit, j2, {start_ms + 1100}, {start_ms + 1600}",
        "```",
    ]


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
NEEDS_CHROMIUM = pytest.mark.skipif(CHROMIUM is None, reason="needs chromium (scripts/setup)")


def chromium(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[bytes]:
    assert CHROMIUM is not None
    profile = tmp_path / "chromium-profile"
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            *args,
        ],
        capture_output=True,
        timeout=120,
        check=False,
    )


def png_pixels(path: Path) -> set[tuple[int, int, int]]:
    """The distinct colours of an 8-bit RGB or RGBA PNG (what Chromium writes)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    offset, chunks, header = 8, [], b""
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks.append(body)
        offset += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour in (2, 6), (depth, colour)
    channels = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(chunks))
    stride = width * channels
    previous = bytearray(stride)
    colours: set[tuple[int, int, int]] = set()
    for row in range(height):
        kind = raw[row * (stride + 1)]
        line = bytearray(raw[row * (stride + 1) + 1 : (row + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + pred) & 0xFF
        colours.update((line[i], line[i + 1], line[i + 2]) for i in range(0, stride, channels))
        previous = line
    return colours


def hex_colour(text: str) -> tuple[int, int, int]:
    return (int(text[1:3], 16), int(text[3:5], 16), int(text[5:7], 16))


@NEEDS_ENGINES
@NEEDS_CHROMIUM
def test_timeline_of_a_real_run_draws_every_job_in_a_real_browser(
    tmp_path: Path, script_env: dict[str, str]
) -> None:
    flag = tmp_path / "flaky"
    root = write_tree(
        tmp_path / "tree",
        {
            ".": {"a": "sleep 0.6", "b": "sleep 0.3"},
            "child": {
                "c": f"if [ -e {flag} ]; then sleep 0.3; else touch {flag}; exit 1; fi",
                "d": "sleep 0.2; exit 1",
            },
            "child/grand": {"e": "true"},
        },
    )
    # a and b share a group of one: one of them waits for the other.
    (root / "pargen.hcl").write_text(
        'jobs = 2\nretries = 1\ngroup "g" {\n  names = ["*null.a", "*null.b"]\n  limit = 1\n}\n'
    )
    # This test holds the pipeline's lock until the run has waited for it.
    lock = Path(script_env["PARGEN_STATE_DIR"]) / "locks" / "tl.lock"
    lock.parent.mkdir(parents=True)
    run = tmp_path / "run"
    with lock.open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        command = [sys.executable, "-m", "pargen", "exec", str(root), "--run-dir", str(run)]
        exec_ = subprocess.Popen(
            [*command, "--pipeline-id", "tl", "-q"],
            env=script_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_for(
            lambda: (
                (run / "events.log").is_file()
                and " lock-wait 0" in (run / "events.log").read_text()
            ),
            "the run to wait for the lock",
        )
        time.sleep(0.3)  # a wait long enough to draw
    _, stderr = exec_.communicate(timeout=120)
    assert exec_.returncode == 1, stderr
    page = run / "timeline.html"
    states = {job.id: job.state for job in load_report(run).jobs}
    assert sorted(states.values()) == ["failed", "skipped", "succeeded", "succeeded", "succeeded"]

    dom = chromium("--dump-dom", page.as_uri(), tmp_path=tmp_path)
    assert dom.returncode == 0, dom.stderr.decode(errors="replace")
    text = dom.stdout.decode()
    drawn = set(re.findall(r'<g class="bar [^"]*" data-job="([^"]+)"', text))
    listed = set(re.findall(r'<tr data-job="([^"]+)"', text))
    assert drawn == {i for i, s in states.items() if s != "skipped"}
    assert listed == {i for i, s in states.items() if s == "skipped"}
    # c failed once and then built; d failed both of its attempts.
    retried = re.findall(r'<g class="bar retried" data-job="([^"]+)"', text)
    assert sorted(retried) == ["child:null.c", "child:null.d"]
    assert '<rect class="lock-wait"' in text
    assert '<rect class="group-wait"' in text

    shot = tmp_path / "timeline.png"
    done_shot = chromium(
        "--hide-scrollbars",
        "--window-size=1240,500",
        f"--screenshot={shot}",
        page.as_uri(),
        tmp_path=tmp_path,
    )
    assert done_shot.returncode == 0, done_shot.stderr.decode(errors="replace")
    colours = png_pixels(shot)
    for name in ("succeeded", "failed", "retried"):
        assert hex_colour(_COLOURS[name]) in colours, name
    assert hex_colour(_WAIT_COLOUR) in colours
    assert hex_colour(_LOCK_COLOUR) in colours
