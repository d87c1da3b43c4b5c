"""Find the Packer templates in a tree, the way Packer itself would load them."""

from __future__ import annotations

import errno
import fnmatch
import json
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pargen.errors import Problem, ProblemsError
from pargen.packer.json_text import JsonObject, JsonSyntaxError, parse_json

TemplateKind = Literal["hcl", "legacy"]

HCL_SUFFIX = ".pkr.hcl"
HCL_JSON_SUFFIX = ".pkr.json"
AUTO_VAR_SUFFIXES = (".auto.pkrvars.hcl", ".auto.pkrvars.json")
# Directories that hold build products or tool state, never templates.
SKIPPED_DIR_NAMES = frozenset({"packer_cache", ".pargen"})
# Kernel filesystems: never templates, and files there can block or fail to stat.
KERNEL_DIRS = ("/proc", "/sys")


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
    if _in_kernel_filesystem(os.path.realpath(root)):
        raise ProblemsError(
            [Problem(str(root), 0, 0, "a kernel filesystem holds no templates; give another root")]
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
            self.problems.append(
                Problem(
                    rel,
                    0,
                    0,
                    f"cannot read directory: {err.strerror}; give pargen read access to it "
                    "or add it to exclude",
                )
            )
            return
        self.collect_templates(directory, rel, entries)
        for entry in entries:
            child_rel = entry.name if rel == "." else f"{rel}/{entry.name}"
            if not _is_dir(entry) or self.skipped_dir(entry.name, child_rel):
                continue
            if _in_kernel_filesystem(os.path.realpath(entry.path)):
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
            file_rel = name if rel == "." else f"{rel}/{name}"
            try:
                mode = entry.stat().st_mode
            except OSError as err:
                if err.errno in (errno.ENOENT, errno.ELOOP) and entry.is_symlink():
                    broken.append(name)
                elif not self.excluded(file_rel, name):
                    # It may be a template file or a directory of them: never skip it silently.
                    self.problems.append(_unreadable(file_rel, err))
                continue
            if not stat.S_ISREG(mode):
                if _packer_name(name) and (entry.is_symlink() or not stat.S_ISDIR(mode)):
                    # Packer reads it (it skips only real directories) and hangs on a FIFO
                    # or a device such as /dev/zero.
                    self.problems.append(_not_a_file(file_rel, mode))
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


def _in_kernel_filesystem(real: str) -> bool:
    return any(real == top or real.startswith(top + "/") for top in KERNEL_DIRS)


def _unreadable(rel: str, err: OSError) -> Problem:
    return Problem(
        rel,
        0,
        0,
        f"cannot tell what this is ({err.strerror or err}); make it readable, or add it to exclude",
    )


_FILE_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _not_a_file(rel: str, mode: int) -> Problem:
    kind = next((name for test, name in _FILE_KINDS if test(mode)), "not a regular file")
    return Problem(
        rel,
        0,
        0,
        f"not a regular file but {kind}, which Packer would read as a template (a FIFO or a "
        "device hangs it); make it a file or remove it",
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
        data = json.loads(text)
    except json.JSONDecodeError as err:
        return Problem(
            rel,
            err.lineno,
            err.colno,
            f"invalid JSON in legacy template: {err.msg}; fix it, or add the file to exclude "
            "if it is no Packer template",
        )
    except RecursionError:
        return Problem(
            rel,
            0,
            0,
            "this JSON nests too deeply to read; if it is no Packer template, add it to exclude",
        )
    if isinstance(data, dict) and "builders" in data and not isinstance(data["builders"], list):
        # Packer takes any JSON file it is given as a template and fails on it.
        line, col = _member_place(text, "builders")
        return Problem(
            rel,
            line,
            col,
            f'"builders" must be a list of builders, got {_json_kind(data["builders"])}; '
            "write it as [{...}], or add the file to exclude if it is no Packer template",
        )
    return None


def _member_place(text: str, key: str) -> tuple[int, int]:
    """Line and column of the top-level ``key`` of a JSON object (0, 0 if unknown)."""
    try:
        document = parse_json(text)
    except (JsonSyntaxError, RecursionError):
        return 0, 0
    if not isinstance(document, JsonObject):
        return 0, 0
    members = [m for m in document.members if m.key == key]
    return (members[-1].line, members[-1].col) if members else (0, 0)


def _json_kind(value: object) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    return "a boolean" if isinstance(value, bool) else "a number"


def _is_legacy_template(path: Path) -> bool:
    text = _read_text(path)
    if text is None or '"builders"' not in text:
        return False
    data = json.loads(text)
    return isinstance(data, dict) and isinstance(data.get("builders"), list)
