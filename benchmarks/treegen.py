"""Synthetic trees of Packer templates: real ``null`` builds whose provisioners sleep.

Each template is a directory holding ``build.pkr.hcl`` (its ``null`` sources with
``communicator = "none"``, one ``build`` block, named sometimes, and one ``shell-local``
provisioner per source that sleeps that source's duration, or runs ``true`` when it is 0)
and ``variables.pkr.hcl``; some also hold an ``image.auto.pkrvars.hcl``. A template
directory nested in another is its child, as pargen reads trees.

The same arguments and seed always write the same bytes. Usage:

    python -m benchmarks.treegen OUT --templates 1000 --sources 4 --depth 3 --fanout 4
    python -m benchmarks.treegen OUT --shape skewed --seed 1
"""

from __future__ import annotations

import argparse
import math
import random
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

SOURCE_NAMES = (
    "aws-eu-west-1",
    "aws-us-east-1",
    "azure-westeurope",
    "gcp-europe-west4",
    "aws-ap-southeast-2",
    "azure-eastus",
)
# Each provisioner shows the variables, as real ones use theirs.
ECHO = "echo '${var.image_version} by ${var.owner} from ${var.parent_image}'"
NAMED_BUILD_SHARE = 0.3
AUTO_VARS_SHARE = 0.2


@dataclass(frozen=True)
class Sleeps:
    """Lognormal sleep durations: median ``scale`` seconds, shape ``skew`` (0: all equal).

    A scale of 0 gives builds that sleep not at all (for planning benchmarks).
    """

    scale: float
    skew: float = 0.0
    low: float = 0.0
    high: float = math.inf

    def draw(self, rng: random.Random) -> float:
        if self.scale <= 0:
            return 0.0
        value = self.scale * math.exp(rng.gauss(0.0, self.skew)) if self.skew > 0 else self.scale
        return round(min(max(value, self.low), self.high), 2)


@dataclass(frozen=True)
class Template:
    path: str
    """Directory relative to the tree's root, '/'-separated."""
    sleeps: tuple[float, ...]
    """Seconds each source's provisioner sleeps, one per source."""
    build_name: str | None = None
    auto_vars: bool = False

    @property
    def sources(self) -> tuple[str, ...]:
        return source_names(len(self.sleeps))


def source_names(count: int) -> tuple[str, ...]:
    """Cloud-and-region-like source names; a numeric suffix once the list runs out."""
    names = []
    for i in range(count):
        base = SOURCE_NAMES[i % len(SOURCE_NAMES)]
        round_ = i // len(SOURCE_NAMES)
        names.append(base if round_ == 0 else f"{base}-{round_ + 1}")
    return tuple(names)


# --- Shapes --------------------------------------------------------------------------------


def random_tree(
    rng: random.Random,
    templates: int,
    sources: int,
    depth: int,
    fanout: int,
    sleeps: Sleeps,
) -> list[Template]:
    """``templates`` templates in trees up to ``depth`` levels, about ``fanout`` children each.

    Trees are grown breadth first; a new top-level template starts when the current tree is
    full.
    """
    paths: list[str] = []
    frontier: deque[tuple[str, int]] = deque()
    roots = 0
    while len(paths) < templates:
        if not frontier:
            roots += 1
            path = f"img-{roots:04d}"
            paths.append(path)
            frontier.append((path, 1))
            continue
        parent, level = frontier.popleft()
        if level >= depth:
            continue
        for i in range(1, rng.randint(1, max(1, 2 * fanout - 1)) + 1):
            if len(paths) >= templates:
                break
            path = f"{parent}/c{i}"
            paths.append(path)
            frontier.append((path, level + 1))
    return [_template(rng, path, [sleeps] * sources) for path in paths]


def _template(rng: random.Random, path: str, durations: Sequence[Sleeps]) -> Template:
    named = rng.random() < NAMED_BUILD_SHARE
    auto_vars = rng.random() < AUTO_VARS_SHARE
    return Template(
        path=path,
        sleeps=tuple(d.draw(rng) for d in durations),
        build_name=path.replace("/", "-") if named else None,
        auto_vars=auto_vars,
    )


# Sleeps for the scheduling shapes: short enough that a run takes a few seconds, in the
# proportions of real builds (a base image or two taking much longer than the rest).
SHORT = Sleeps(scale=0.3, skew=0.3, low=0.2, high=0.5)
MEDIUM = Sleeps(scale=0.6, skew=0.4, low=0.3, high=1.0)
LONG = Sleeps(scale=2.5, skew=0.15, low=2.0, high=3.0)
VARIED = Sleeps(scale=0.5, skew=0.6, low=0.2, high=2.0)


def skewed_tree(rng: random.Random) -> list[Template]:
    """A root; one long branch; three short branches with children, one of them deeper.

    The long branch alone decides the makespan, so it must start first, before the deeper
    short branches it competes with for three slots.
    """
    templates = [_template(rng, "base", [SHORT]), _template(rng, "base/long", [LONG])]
    for app in (1, 2, 3):
        templates.append(_template(rng, f"base/app-{app}", [SHORT]))
        templates.append(_template(rng, f"base/app-{app}/svc", [SHORT]))
    templates.append(_template(rng, "base/app-1/svc/leaf", [SHORT]))
    return templates


def wide_tree(rng: random.Random) -> list[Template]:
    """A root with five children of two sources, each with two children; varied sleeps."""
    templates = [_template(rng, "base", [SHORT])]
    for team in range(1, 6):
        templates.append(_template(rng, f"base/team-{team}", [VARIED, VARIED]))
        for child in (1, 2):
            templates.append(_template(rng, f"base/team-{team}/app-{child}", [VARIED]))
    return templates


def chain_fan_tree(rng: random.Random) -> list[Template]:
    """A chain of three below the root, side images beside it, a fan of six at its end."""
    templates = [_template(rng, "base", [SHORT])]
    chain = "base"
    for step in (1, 2, 3):
        chain = f"{chain}/step-{step}"
        templates.append(_template(rng, chain, [MEDIUM]))
    templates.extend(_template(rng, f"base/side-{i}", [MEDIUM]) for i in range(1, 5))
    templates.extend(_template(rng, f"{chain}/fan-{i}", [SHORT]) for i in range(1, 7))
    return templates


SHAPES: dict[str, Callable[[random.Random], list[Template]]] = {
    "skewed": skewed_tree,
    "wide": wide_tree,
    "chain-fan": chain_fan_tree,
}


# --- Writing -------------------------------------------------------------------------------


def write_tree(root: Path, templates: Iterable[Template]) -> None:
    """Write each template's files under ``root`` (created when missing)."""
    for template in templates:
        directory = root / template.path
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "build.pkr.hcl").write_text(_build_file(template), encoding="utf-8")
        (directory / "variables.pkr.hcl").write_text(_variables_file(template), encoding="utf-8")
        if template.auto_vars:
            owner = f"team-{template.path.split('/')[0]}"
            (directory / "image.auto.pkrvars.hcl").write_text(
                f'owner = "{owner}"\n', encoding="utf-8"
            )


def _build_file(template: Template) -> str:
    lines = [f"# {template.path}: generated by benchmarks/treegen.py", ""]
    for name in template.sources:
        lines += [f'source "null" "{name}" {{', '  communicator = "none"', "}", ""]
    lines.append("build {")
    if template.build_name is not None:
        lines += [f'  name = "{template.build_name}"', ""]
    lines.append("  sources = [")
    lines += [f'    "source.null.{name}",' for name in template.sources]
    lines += ["  ]", ""]
    for name, seconds in zip(template.sources, template.sleeps, strict=True):
        work = f"sleep {seconds:.2f}" if seconds > 0 else "true"
        lines += [
            '  provisioner "shell-local" {',
            f'    only   = ["null.{name}"]',
            "    inline = [",
            f'      "{ECHO}",',
            f'      "{work}",',
            "    ]",
            "  }",
            "",
        ]
    lines[-1] = "}"
    return "\n".join(lines) + "\n"


def _variables_file(template: Template) -> str:
    parent = template.path.rpartition("/")[0].rpartition("/")[2] or "scratch"
    variables = {"image_version": "2024.06.1", "owner": "platform-team", "parent_image": parent}
    blocks = [
        f'variable "{name}" {{\n  type    = string\n  default = "{value}"\n}}\n'
        for name, value in variables.items()
    ]
    return "\n".join(blocks)


# --- Command line --------------------------------------------------------------------------


def generate(args: argparse.Namespace) -> list[Template]:
    rng = random.Random(args.seed)
    if args.shape != "random":
        return SHAPES[args.shape](rng)
    sleeps = Sleeps(scale=args.scale, skew=args.skew, high=args.max_sleep)
    return random_tree(rng, args.templates, args.sources, args.depth, args.fanout, sleeps)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.treegen",
        description="Write a synthetic tree of Packer templates (null sources) to OUT.",
    )
    p.add_argument("out", type=Path, metavar="OUT", help="directory to write (created)")
    p.add_argument(
        "--shape",
        choices=["random", *SHAPES],
        default="random",
        help="random (the options below) or a fixed scheduling shape (default: random)",
    )
    p.add_argument("--templates", type=int, default=100, help="template directories")
    p.add_argument("--sources", type=int, default=2, help="null sources per template")
    p.add_argument("--depth", type=int, default=3, help="levels of nesting, 1 = flat")
    p.add_argument("--fanout", type=int, default=3, help="mean children per template")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--scale", type=float, default=0.0, help="median sleep in seconds (0: no sleep)")
    p.add_argument(
        "--skew", type=float, default=0.8, help="lognormal shape of the sleeps (0: all equal)"
    )
    p.add_argument("--max-sleep", type=float, default=math.inf, help="cap on each sleep")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.shape == "random" and min(args.templates, args.sources, args.depth) < 1:
        parser().error("--templates, --sources and --depth must be at least 1")
    templates = generate(args)
    write_tree(args.out, templates)
    jobs = sum(len(t.sleeps) for t in templates)
    print(f"{args.out}: {len(templates)} templates, {jobs} builds")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
