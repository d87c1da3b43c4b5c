"""Planning: cold and warm ``pargen plan`` against a ``packer inspect`` loop; peak memory."""

from __future__ import annotations

import shutil

from benchmarks.measure import Figure, Section, Settings, median, run, seconds
from benchmarks.trees import Tree, make_tree

TEMPLATES = 1000
SOURCES = 4
# One template whose dynamic "source" block makes 40 * var.n sources (Packer caps range() at
# 1024 values, so the list is built from several).
DYNAMIC_TEMPLATE = """\
variable "n" {
  type = number
}
source "null" "a" {
  communicator = "none"
}
build {
  dynamic "source" {
    for_each = flatten([for i in range(var.n) : range(40)])
    labels   = ["source.null.a"]
    content {
      name = "s${source.key}"
    }
  }
}
"""


def _tree_options(templates: int) -> list[str]:
    return [
        f"--templates={templates}",
        f"--sources={SOURCES}",
        "--depth=3",
        "--fanout=4",
        "--seed=1",
        "--scale=0",
    ]


def benchmark(settings: Settings) -> Section:
    section = Section(f"Planning (templates of {SOURCES} sources each)")
    tree = make_tree(settings, f"plan-{TEMPLATES}", *_tree_options(TEMPLATES))
    section.trees.append(tree.command)
    section.figures += _speed(settings, tree, section)
    section.figures.append(_memory(settings, section))
    section.figures.append(_dynamic(settings, section))
    return section


def _plan_command(settings: Settings, tree: Tree) -> list[str]:
    return [settings.pargen, "plan", str(tree.path), "--format", "json"]


def _cold(settings: Settings, tree: Tree) -> float:
    shutil.rmtree(tree.path / ".pargen" / "cache", ignore_errors=True)
    return run(settings, _plan_command(settings, tree), keep_stdout=False).wall


def _speed(settings: Settings, tree: Tree, section: Section) -> list[Figure]:
    templates = sorted(p.parent for p in tree.path.rglob("build.pkr.hcl"))
    sample_size = 15 if settings.quick else 100
    stride = len(templates) // sample_size
    loop = 'for d in "$@"; do packer inspect "$d" >/dev/null || exit; done'
    cold: list[float] = []
    warm: list[float] = []
    inspect: list[float] = []
    for rep in range(settings.reps):
        cold.append(_cold(settings, tree))
        warm.append(run(settings, _plan_command(settings, tree), keep_stdout=False).wall)
        # Each repetition times another evenly spread sample and scales it to the whole tree.
        sample = [str(d) for d in templates[rep % stride :: stride][:sample_size]]
        timed = run(settings, ["bash", "-c", loop, "inspect-loop", *sample]).wall
        inspect.append(timed * len(templates) / len(sample))
    scale = len(templates) / sample_size
    section.notes.append(
        f"The packer inspect loop is timed on {sample_size} of the {len(templates)} template "
        f"directories (a different evenly spread sample each repetition) and scaled by "
        f"{scale:.3g}: the full loop takes minutes."
    )
    plan_shown = settings.show(_plan_command(settings, tree), tree.names)
    return [
        Figure(
            name=f"plan cold vs packer inspect loop ({len(templates):,} templates)",
            value=median(i / c for i, c in zip(inspect, cold, strict=True)),
            target=30,
            goal="at least",
            unit="x faster",
            detail=f"cold plan {seconds(median(cold))}; inspect loop "
            f"{seconds(median(inspect))} ({seconds(median(inspect) / scale)} for "
            f"{sample_size} templates, x{scale:.3g})",
            command=f"rm -rf {tree.name}/.pargen/cache && {plan_shown}  vs  "
            f'for d in <{sample_size} of the template dirs>; do packer inspect "$d"; done',
        ),
        Figure(
            name=f"plan warm vs cold ({len(templates):,} templates)",
            value=median(c / w for c, w in zip(cold, warm, strict=True)),
            target=4,
            goal="at least",
            unit="x faster",
            detail=f"warm {seconds(median(warm))}, cold {seconds(median(cold))}",
            command=f"{plan_shown} (cache present, nothing changed)  vs  the cold plan",
        ),
    ]


def _memory(settings: Settings, section: Section) -> Figure:
    templates = 2000 if settings.quick else 10_000
    tree = make_tree(settings, f"plan-{templates}", *_tree_options(templates))
    section.trees.append(tree.command)
    results = []
    for _ in range(settings.reps):
        shutil.rmtree(tree.path / ".pargen" / "cache", ignore_errors=True)
        results.append(
            run(settings, _plan_command(settings, tree), sample_memory=True, keep_stdout=False)
        )
    label = " (quick run: 2,000 templates, not 10,000)" if settings.quick else ""
    return Figure(
        name=f"peak memory of a cold plan of {templates:,} templates{label}",
        value=median(r.max_rss_mb for r in results),
        target=300,
        goal="at most",
        unit="MB",
        detail=f"max RSS of the largest single process (from wait4, as /usr/bin/time -v "
        f"reports it); whole process tree at once "
        f"{median(r.tree_peak_mb for r in results):.0f} MB (sampled every 50 ms); "
        f"took {seconds(median(r.wall for r in results))}",
        command=f"rm -rf {tree.name}/.pargen/cache && "
        f"{settings.show(_plan_command(settings, tree), tree.names)}",
    )


def _dynamic(settings: Settings, section: Section) -> Figure:
    """Planning stays linear in the sources a dynamic block makes: 4x the sources, ~4x the time."""
    small = 5_000 if settings.quick else 10_000
    path = settings.work / "dynamic"
    path.mkdir(exist_ok=True)
    (path / "build.pkr.hcl").write_text(DYNAMIC_TEMPLATE, encoding="utf-8")
    section.notes.append(
        f"The dynamic tree is one directory, dynamic/build.pkr.hcl: a null source expanded by "
        f'a dynamic "source" block over flatten([for i in range(var.n) : range(40)]), planned '
        f"cold with {small:,} and {4 * small:,} entries (n = {small // 40} and {small // 10})."
    )
    times: dict[int, list[float]] = {small: [], 4 * small: []}
    for _ in range(settings.reps):
        for n, walls in times.items():
            shutil.rmtree(path / ".pargen", ignore_errors=True)
            command = [settings.pargen, "plan", str(path), "--var", f"n={n // 40}"]
            command += ["--format", "json"]
            walls.append(run(settings, command, keep_stdout=False).wall)
    low, high = median(times[small]), median(times[4 * small])
    shown = settings.show(
        [settings.pargen, "plan", str(path), "--var", "n=N", "--format", "json"],
        {str(path): "dynamic"},
    )
    return Figure(
        name=f'cold plan time, {4 * small:,} vs {small:,} dynamic "source" entries',
        value=high / low,
        target=6,
        goal="at most",
        unit="ratio",
        detail=f"{seconds(high)} vs {seconds(low)} (4x the entries: ~4 if linear, ~16 if "
        "quadratic)",
        command=f"rm -rf dynamic/.pargen && {shown}  for N = {small // 10} and {small // 40}",
    )
