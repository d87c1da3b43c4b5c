"""Find the Packer templates in a tree, the way Packer itself would load them."""

from __future__ import annotations

import fnmatch
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pargen.errors import Problem, ProblemsError

TemplateKind = Literal["hcl", "legacy"]

HCL_SUFFIX = ".pkr.hcl"
HCL_JSON_SUFFIX = ".pkr.json"
AUTO_VAR_SUFFIXES = (".auto.pkrvars.hcl", ".auto.pkrvars.json")
# Directories that hold build products or tool state, never templates.
SKIPPED_DIR_NAMES = frozenset({"packer_cache", ".pargen"})


@dataclass(frozen=True)
class TemplateSource:
    """One thing Packer builds: a directory of HCL2 files or a legacy JSON template file."""

    rel: str
    """Path relative to ROOT as the plan shows it: '.' for ROOT itself."""
    kind: TemplateKind
    directory: Path
    """Absolute directory Packer runs from (relative paths in templates resolve against it)."""
    files: tuple[Path, ...]
    """Template files in Packer's load order (.pkr.hcl first, then .pkr.json, each sorted)."""
    auto_var_files: tuple[Path, ...] = ()
    """*.auto.pkrvars.hcl then *.auto.pkrvars.json, sorted: later ones override earlier."""
    as_file: bool = False
    """An HCL2 file built on its own (``packer build FILE``): ``rel`` is the file's path."""
    excluded: tuple[str, ...] = ()
    """Names of files in ``files`` that --exclude names: left out only when each file of the
    directory is built on its own (Packer loads every file of a directory it is given)."""

    @property
    def target(self) -> str:
        """The path argument of ``packer build``, relative to ``directory``."""
        return "." if self.kind == "hcl" and not self.as_file else self.files[0].name

    @property
    def workdir(self) -> str:
        """``directory`` relative to ROOT ('.' for ROOT)."""
        return self.rel if self.target == "." else posix_parent(self.rel)

    def file_template(self, path: Path) -> TemplateSource:
        """One file of this directory as a template of its own: no siblings, no auto var files."""
        return TemplateSource(
            rel=path.name if self.rel == "." else f"{self.rel}/{path.name}",
            kind="hcl",
            directory=self.directory,
            files=(path,),
            as_file=True,
        )


@dataclass(frozen=True)
class Discovery:
    templates: list[TemplateSource]
    """Sorted by path."""
    problems: list[Problem]
    unmatched: tuple[str, ...]
    """Exclude patterns that named no directory or template file."""


def posix_parent(rel: str) -> str:
    head, _, _ = rel.rpartition("/")
    return head or "."


def display_path(root: Path, path: Path) -> str:
    """A path as people see it in messages: relative to ROOT when inside it."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def discover(root: Path, exclude: Iterable[str] = ()) -> tuple[list[TemplateSource], list[Problem]]:
    """Every template under ``root`` sorted by path, and the problems met on the way."""
    found = discover_tree(root, exclude)
    return found.templates, found.problems


def discover_tree(root: Path, exclude: Iterable[str] = ()) -> Discovery:
    """As :func:`discover`, and which exclude patterns named nothing."""
    if not root.is_dir():
        raise ProblemsError(
            [Problem(str(root), 0, 0, "not a directory: give the root of a template tree")]
        )
    walker = _Walker(root.absolute(), tuple(exclude))
    walker.walk(walker.root, ".", ())
    templates = sorted(walker.found, key=lambda t: _sort_key(t.rel))
    unmatched = tuple(p for p in walker.exclude if p not in walker.matched)
    return Discovery(templates, walker.problems, unmatched)


def _sort_key(rel: str) -> tuple[str, ...]:
    return tuple(rel.split("/")) if rel != "." else ()


class _Walker:
    def __init__(self, root: Path, exclude: tuple[str, ...]) -> None:
        self.root = root
        self.root_real = os.path.realpath(root)
        self.exclude = exclude
        self.found: list[TemplateSource] = []
        self.problems: list[Problem] = []
        self.seen_real: dict[str, str] = {}
        self.matched: set[str] = set()

    def excluded(self, rel: str, name: str) -> bool:
        hits = {
            pattern
            for pattern in self.exclude
            if fnmatch.fnmatchcase(rel, pattern) or fnmatch.fnmatchcase(name, pattern)
        }
        self.matched |= hits
        return bool(hits)

    def walk(self, directory: Path, rel: str, stack: tuple[str, ...]) -> None:
        real = os.path.realpath(directory)
        if real in stack:
            self.problems.append(
                Problem(
                    rel,
                    0,
                    0,
                    "symlink loop: this directory links back to one of its parents; "
                    "remove the link or add it to exclude",
                )
            )
            return
        if real in self.seen_real:
            # The same directory reached through a second path would build every image twice.
            return
        self.seen_real[real] = rel
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as err:
            self.problems.append(Problem(rel, 0, 0, f"cannot read directory: {err.strerror}"))
            return
        self.collect_templates(directory, rel, entries)
        for entry in entries:
            child_rel = entry.name if rel == "." else f"{rel}/{entry.name}"
            if not _is_dir(entry) or self.skipped_dir(entry.name, child_rel):
                continue
            if entry.is_symlink() and self.walked_anyway(entry, (*stack, real)):
                continue
            self.walk(Path(entry.path), child_rel, (*stack, real))

    def walked_anyway(self, entry: os.DirEntry[str], stack: tuple[str, ...]) -> bool:
        """A link to a directory the walk reaches under its own name: do not take it twice.

        Following it would name the same templates after the link, and job ids would change
        whenever someone adds a link. A link to a directory above it is a loop: reported.
        """
        target = os.path.realpath(entry.path)
        if target in stack:
            return False  # walk() reports the loop
        inside = os.path.relpath(target, self.root_real)
        if inside == ".." or inside.startswith("../"):
            return False
        parts = inside.split("/")
        return not any(
            self.skipped_dir(part, "/".join(parts[: i + 1])) for i, part in enumerate(parts)
        )

    def skipped_dir(self, name: str, rel: str) -> bool:
        # Asked first, so that a pattern naming a directory skipped anyway still counts as used.
        excluded = self.excluded(rel, name)
        return (
            name.startswith(".")
            or name in SKIPPED_DIR_NAMES
            or name.startswith("output-")
            or excluded
        )

    def collect_templates(self, directory: Path, rel: str, entries: list[os.DirEntry[str]]) -> None:
        hcl: list[Path] = []
        hcl_json: list[Path] = []
        auto_hcl: list[Path] = []
        auto_json: list[Path] = []
        legacy: list[Path] = []
        broken: list[str] = []
        for entry in entries:
            name = entry.name
            if entry.is_symlink() and not Path(entry.path).exists():
                broken.append(name)
                continue
            if not entry.is_file():
                continue
            path = Path(entry.path)
            if name.endswith(HCL_SUFFIX):
                hcl.append(path)
            elif name.endswith(".auto.pkrvars.hcl"):
                auto_hcl.append(path)
            elif name.endswith(".auto.pkrvars.json"):
                auto_json.append(path)
            elif name.endswith(HCL_JSON_SUFFIX):
                hcl_json.append(path)
            elif name.endswith(".json") and not name.endswith(".pkrvars.json"):
                legacy.append(path)
        is_template = bool(hcl or hcl_json)
        for name in broken:
            if is_template or _packer_name(name):
                file_rel = name if rel == "." else f"{rel}/{name}"
                self.problems.append(
                    Problem(
                        file_rel,
                        0,
                        0,
                        f"broken symlink (points to {str((directory / name).readlink())!r}); "
                        "fix or remove the link",
                    )
                )
        if is_template:
            files = (*hcl, *hcl_json)
            self.found.append(
                TemplateSource(
                    rel=rel,
                    kind="hcl",
                    directory=directory,
                    files=files,
                    auto_var_files=(*auto_hcl, *auto_json),
                    excluded=tuple(
                        p.name
                        for p in files
                        if self.excluded(p.name if rel == "." else f"{rel}/{p.name}", p.name)
                    ),
                )
            )
        for path in legacy:
            file_rel = path.name if rel == "." else f"{rel}/{path.name}"
            if self.excluded(file_rel, path.name):
                continue
            problem = _legacy_problem(path, file_rel)
            if problem is not None:
                self.problems.append(problem)
            elif _is_legacy_template(path):
                self.found.append(
                    TemplateSource(rel=file_rel, kind="legacy", directory=directory, files=(path,))
                )


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _packer_name(name: str) -> bool:
    return name.endswith((HCL_SUFFIX, HCL_JSON_SUFFIX, *AUTO_VAR_SUFFIXES))


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _legacy_problem(path: Path, rel: str) -> Problem | None:
    """A problem only for a file that looks like a legacy template but cannot be read as one."""
    text = _read_text(path)
    if text is None or '"builders"' not in text:
        return None
    try:
        json.loads(text)
    except json.JSONDecodeError as err:
        return Problem(rel, err.lineno, err.colno, f"invalid JSON in legacy template: {err.msg}")
    return None


def _is_legacy_template(path: Path) -> bool:
    text = _read_text(path)
    if text is None or '"builders"' not in text:
        return False
    data = json.loads(text)
    return isinstance(data, dict) and isinstance(data.get("builders"), list)
