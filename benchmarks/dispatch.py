"""Dispatch overhead: many short flat builds through pargen against bare GNU parallel."""

from __future__ import annotations

from benchmarks.measure import Figure, Section, Settings, median, run, seconds
from benchmarks.trees import bare_parallel, job_table, make_tree, plan_jobs

SLOTS = 2


def benchmark(settings: Settings) -> Section:
    templates = 16 if settings.quick else 60
    section = Section(f"Dispatch overhead ({templates} flat builds, {SLOTS} slots)")
    tree = make_tree(
        settings,
        f"dispatch-{templates}",
        f"--templates={templates}",
        "--sources=1",
        "--depth=1",
        "--seed=1",
        "--scale=0",
    )
    section.trees.append(tree.command)
    limits = ["--flat", "--jobs", str(SLOTS)]
    table = settings.work / f"{tree.name}.tsv"
    table.write_text(job_table(plan_jobs(settings, tree, "--flat")), encoding="utf-8")
    script = settings.work / f"{tree.name}.sh"
    render = [settings.pargen, "render", str(tree.path), *limits, "-o", str(script)]
    run(settings, render)
    bare = bare_parallel(settings.parallel, SLOTS, table)
    variants = {
        "pargen exec wall / bare parallel wall": [
            settings.pargen,
            "exec",
            str(tree.path),
            *limits,
        ],
    }
    if not settings.quick:  # the same script run without pargen: worth the time of a full run
        variants["rendered script wall / bare parallel wall"] = ["bash", str(script)]
    times: dict[str, list[float]] = {name: [] for name in variants}
    bare_times: list[float] = []
    for _ in range(settings.reps):
        for name, command in variants.items():
            times[name].append(run(settings, command).wall)
        bare_times.append(run(settings, bare, cwd=tree.path).wall)
    section.notes.append(
        "Wall time of each whole command; pargen's parse cache is warm (the plan for the "
        "job table filled it), as on every run after the first. Each build's provisioner "
        "runs `true`. The rendered script is written once, before the repetitions, by `"
        + settings.show(render, {str(tree.path): tree.name, str(script): "pargen.sh"})
        + "`"
        + (", and timed in full runs only." if settings.quick else ".")
    )
    names = tree.names | {str(table): "jobs.tsv", str(script): "pargen.sh"}
    bare_shown = f"(cd {tree.name} && {settings.show(bare, names)})"
    for name, command in variants.items():
        ours = times[name]
        per_build = (median(ours) - median(bare_times)) / templates * 1000
        section.figures.append(
            Figure(
                name=name,
                value=median(t / b for t, b in zip(ours, bare_times, strict=True)),
                target=1.15,
                goal="at most",
                unit="ratio",
                detail=f"{seconds(median(ours))} vs {seconds(median(bare_times))} "
                f"({per_build:+.0f} ms per build)",
                command=f"{settings.show(command, names)}  vs  {bare_shown}",
            )
        )
    return section
