"""``--changed-since REF``: the templates whose files changed since REF, as git sees them.

A change is anything between the merge base of REF and HEAD and the working tree: commits,
staged and unstaged edits, deletions, and untracked files git does not ignore. A template's
files are what Packer reads (its ``.pkr.hcl``/``.pkr.json`` files and auto var files, or the
legacy JSON file) and every symlink followed to reach them, so a link into ``shared/`` is
changed when its target is.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from pargen.errors import PargenError
from pargen.packer.parse import AUTO_VAR_SUFFIXES, HCL_JSON_SUFFIX, HCL_SUFFIX, TemplateSource
from pargen.tools import Completed, run_git

# Symlinks followed before giving up, as the kernel's own limit (ELOOP).
_MAX_LINKS = 40


def changed_paths(root: Path, ref: str) -> frozenset[str]:
    """Absolute paths changed between the merge base of ``ref`` and HEAD and the working tree."""
    option = f"--changed-since {ref!r}"
    if not ref or ref.startswith("-"):
        raise PargenError(f"{option} is not a git revision; give a branch, tag or commit")
    top = run_git(["rev-parse", "--show-toplevel"], root)
    if top.code != 0:
        if b"not a git repository" in top.stderr:
            raise PargenError(
                f"{option}: {root} is not in a git repository; "
                "run pargen in a git checkout or drop --changed-since"
            )
        raise PargenError(
            f"{option}: git cannot read the repository at {root} ({top.message}); "
            "run git status there to see why, or drop --changed-since"
        )
    top_dir = Path(os.path.realpath(os.fsdecode(top.stdout).strip()))
    head = run_git(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], top_dir)
    if head.code != 0:
        raise PargenError(f"{option}: {top_dir} has no commit yet; commit first")
    commit = run_git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], top_dir)
    if commit.code != 0:
        raise PargenError(
            f"{option}: no such commit in {top_dir}; check the name, "
            f"or fetch it first: {fetch_command(top_dir, ref)}"
        )
    base = run_git(["merge-base", _line(commit), "HEAD"], top_dir)
    if base.code != 0:
        shallow = _is_shallow(top_dir)
        raise PargenError(
            f"{option}: it shares no history with HEAD"
            + (" in this shallow clone; fetch the history: " if shallow else "; ")
            + (fetch_command(top_dir, ref) if shallow else "pick another revision")
        )
    diff = _git_ok(
        ["diff", "--name-only", "--no-renames", "--no-ext-diff", "-z", _line(base), "--"], top_dir
    )
    untracked = _git_ok(["ls-files", "--others", "--exclude-standard", "-z"], top_dir)
    names = [*_nul_separated(diff), *_nul_separated(untracked)]
    return frozenset(str(top_dir / name) for name in names)


def fetch_command(top: Path, ref: str) -> str:
    """A git command that makes ``ref`` and its merge base with HEAD available, also in the
    shallow, single-branch clones CI makes: there ``git fetch origin main`` creates no
    ``origin/main`` (the clone fetches one branch only) and the merge base is cut off."""
    remotes = _words(run_git(["remote"], top))
    unshallow = ["--unshallow"] if _is_shallow(top) else []
    if re.fullmatch(r"[0-9a-f]{7,40}", ref):
        return shlex.join(["git", "fetch", *unshallow, "origin", ref])
    remote, _, branch = ref.partition("/")
    if remote not in remotes or not branch:
        remote, branch = ("origin" if "origin" in remotes or not remotes else remotes[0]), ref
        target = f"refs/heads/{branch}"  # the name as given, as a local branch
    else:
        target = f"refs/remotes/{remote}/{branch}"
    words = ["git", "fetch", *unshallow, remote]
    return shlex.join([*words, f"+refs/heads/{branch}:{target}"])


def _is_shallow(top: Path) -> bool:
    done = run_git(["rev-parse", "--is-shallow-repository"], top)
    return done.code == 0 and _line(done) == "true"


def _words(done: Completed) -> list[str]:
    return os.fsdecode(done.stdout).split() if done.code == 0 else []


def _git_ok(args: list[str], cwd: Path) -> Completed:
    done = run_git(args, cwd)
    if done.code != 0:
        raise PargenError(
            f"git {args[0]} failed in {cwd} ({done.message}); run git status there to see why"
        )
    return done


def _line(done: Completed) -> str:
    return os.fsdecode(done.stdout).strip()


def _nul_separated(done: Completed) -> list[str]:
    return [os.fsdecode(name) for name in done.stdout.split(b"\0") if name]


def changed_templates(
    root: Path,
    templates: Sequence[tuple[str, TemplateSource, str | None]],
    var_files: Sequence[str],
    changed: frozenset[str],
) -> dict[str, list[str]]:
    """Template -> its changed files, as paths relative to ROOT.

    ``templates`` are (key, source, build matrix var file) triples; the result is keyed by
    the key. A changed var file changes every template, a changed matrix var file only the
    templates built with it. A deleted file that Packer would have loaded changes the template
    directory that held it.
    """
    root_real = os.path.realpath(root)

    def shown(path: str) -> str:
        return Path(os.path.relpath(path, root_real)).as_posix()

    everywhere = [shown(p) for f in var_files for p in followed(Path(f)) if p in changed]
    gone: dict[str, list[str]] = {}
    for path in sorted(changed):
        loaded = path.endswith((HCL_SUFFIX, HCL_JSON_SUFFIX, *AUTO_VAR_SUFFIXES))
        if loaded and not os.path.lexists(path):
            gone.setdefault(str(Path(path).parent), []).append(shown(path))
    found: dict[str, list[str]] = {}
    for key, source, matrix_file in templates:
        files = (*source.files, *source.auto_var_files, *_paths(matrix_file))
        hits = [shown(p) for f in files for p in followed(f) if p in changed]
        if source.target == ".":  # a file built on its own reads none of its siblings
            hits += gone.get(os.path.realpath(source.directory), [])
        hits += everywhere
        if hits:
            found[key] = list(dict.fromkeys(hits))
    return found


def _paths(path: str | None) -> tuple[Path, ...]:
    return () if path is None else (Path(path),)


def followed(path: Path) -> list[str]:
    """Every path the system reads to open ``path``: each symlink on the way, then the file.

    Resolved the way the kernel does (a ``..`` after a link goes up from the link's target),
    so each path is as git names it in the working tree: no symlinked directory in it.
    """
    top = Path("/")
    pending = list(reversed(Path.cwd().joinpath(path).parts[1:]))
    current = top
    seen: list[str] = []
    links = 0
    while pending:
        part = pending.pop()
        if part == "..":
            current = current.parent
            continue
        candidate = current / part
        if links < _MAX_LINKS and candidate.is_symlink():
            links += 1
            seen.append(str(candidate))
            target = candidate.readlink()
            if target.is_absolute():
                current = top
            pending.extend(reversed(target.parts[1 if target.is_absolute() else 0 :]))
        else:
            current = candidate
    seen.append(str(current))
    return seen


def select_changed(
    changed: Mapping[str, Sequence[str]],
    templates: Iterable[str],
    parents: Mapping[str, Sequence[str]],
) -> dict[str, str]:
    """Template -> why it is selected: its own changed files, or a changed template above it.

    "Above" is the image hierarchy (nested directories, HCP Packer buckets, pargen.hcl's
    ``after``), whatever ``--flat``, ``--only`` or ``--except`` say: a changed parent image
    makes its children stale. The nearest changed template above is named.
    """
    reasons: dict[str, str] = {}
    for template in templates:
        if template in changed:
            reasons[template] = "changed: " + ", ".join(changed[template])
            continue
        ancestor = _nearest_changed(template, changed, parents)
        if ancestor is not None:
            reasons[template] = f"below changed {ancestor}"
    return reasons


def _nearest_changed(
    template: str, changed: Mapping[str, object], parents: Mapping[str, Sequence[str]]
) -> str | None:
    """The first changed template met going up the hierarchy, breadth first."""
    level = list(parents.get(template, ()))
    seen = set(level)
    while level:
        hit = next((t for t in level if t in changed), None)
        if hit is not None:
            return hit
        above = [p for t in level for p in parents.get(t, ()) if p not in seen]
        seen.update(above)
        level = list(dict.fromkeys(above))
    return None
