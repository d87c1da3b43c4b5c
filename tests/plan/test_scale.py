"""Planning stays linear in the number of builds, and --max-jobs stops it as builds are made.

No wall-clock thresholds: each case is sized so that the old behaviour would take minutes
(quadratic job making; expanding a million entries) while the right one takes seconds, and
the subprocess gets a bound far above the latter. scripts/bench measures the growth itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.helpers import packer_validate, write_tree

# A dynamic "source" block over var.n * var.m entries: Packer caps range() at 1024 values,
# so a large list is built from several.
TEMPLATE = """
variable "n" {
  type = number
}
variable "m" {
  type = number
}
source "null" "a" {
  communicator = "none"
}
build {
  dynamic "source" {
    for_each = flatten([for i in range(var.n) : range(var.m)])
    labels   = ["source.null.a"]
    content {
      name = "s${source.key}"
    }
  }
}
"""


def plan(root: Path, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pargen", "plan", ".", *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_a_hundred_thousand_dynamic_sources_plan_in_linear_time(tmp_path: Path) -> None:
    # 40,000 took 37 s when every build rebuilt the list of all names: 100,000 would take
    # about four minutes; linear, it takes seconds.
    write_tree(tmp_path, {"build.pkr.hcl": TEMPLATE})
    done = plan(tmp_path, "--var", "n=1000", "--var", "m=100", "--format", "json", timeout=150)
    assert done.returncode == 0, done.stderr
    jobs = json.loads(done.stdout)["jobs"]
    assert len(jobs) == 100_000
    assert (jobs[0]["name"], jobs[-1]["name"]) == ("null.s0", "null.s99999")


def test_max_jobs_stops_a_huge_dynamic_block_as_it_expands(tmp_path: Path) -> None:
    # A million entries would take minutes and gigabytes to expand in full.
    write_tree(tmp_path, {"build.pkr.hcl": TEMPLATE})
    done = plan(tmp_path, "--var", "n=1024", "--var", "m=1024", "--max-jobs", "100", timeout=60)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        "pargen: error: build.pkr.hcl:11:3: this template makes more than 100 builds, more "
        "than --max-jobs 100; narrow this for_each or raise the limit\n"
    )


def test_range_over_1024_values_is_refused_as_packer_does(tmp_path: Path) -> None:
    write_tree(tmp_path, {"build.pkr.hcl": TEMPLATE.replace("range(var.m)", "range(1025)")})
    done = plan(tmp_path, "--var", "n=1", "--var", "m=1", timeout=60)
    assert (done.returncode, done.stdout) == (2, "")
    assert "more than 1024 values were generated" in done.stderr
    checked = packer_validate(tmp_path, "-var", "n=1", "-var", "m=1")
    assert checked.returncode == 1
    assert "more than 1024 values were generated" in checked.stdout + checked.stderr
