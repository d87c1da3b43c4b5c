"""Options from ``pargen.hcl`` at ROOT and from the command line, which wins; checked once."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import hcl2

from pargen.errors import Problem, ProblemsError
from pargen.packer.parse import syntax_problems

CONFIG_FILE = "pargen.hcl"

OverlapPolicy = Literal["wait", "fail", "cancel"]

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd]?)")
_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Group:
    """Jobs sharing a machine-wide counting semaphore (for example one cloud account)."""

    name: str
    limit: int
    types: tuple[str, ...] = ()
    """Globs over source types (``amazon-*``)."""
    names: tuple[str, ...] = ()
    """Globs over job ids and full build names."""


@dataclass(frozen=True)
class TemplateRule:
    """A ``template "GLOB" { ... }`` block of pargen.hcl: how to plan the templates it names."""

    pattern: str
    """A glob over template paths relative to ROOT (``*`` crosses ``/``). A directory's rule
    also names the templates of its files when they are built one by one."""
    path: str
    line: int
    col: int
    read: str | None = None
    """``whole`` or ``per-file``: how to read the directory; None lets pargen decide."""
    matrix_var_files: tuple[str, ...] | None = None
    """Absolute paths of the build matrix var files; None: not set here."""
    after: tuple[str, ...] = ()
    """Globs over template paths: the templates these must wait for."""
    nesting: bool | None = None
    """False: templates below this directory do not wait for the ones above them."""


@dataclass(frozen=True)
class PlanOptions:
    exclude: tuple[str, ...] = ()
    only: tuple[str, ...] = ()
    except_: tuple[str, ...] = ()
    max_jobs: int | None = None
    var_files: tuple[str, ...] = ()
    vars: tuple[tuple[str, str], ...] = ()
    flat: bool = False
    changed_since: str | None = None
    """Keep only templates changed since this git revision, and the templates below them."""
    skip_unchanged: bool = False
    """Drop jobs whose inputs are those of their last successful build here."""
    matrix_var_files: tuple[str, ...] = ()
    """Absolute paths: plan every template once per var file (a build matrix)."""
    templates: tuple[TemplateRule, ...] = ()


@dataclass(frozen=True)
class RunSettings:
    """How the rendered script schedules and stops the plan."""

    jobs: str = "100%"
    load: str | None = None
    memfree: str | None = None
    delay: float = 0.0
    timeout: float | None = None
    retries: int = 0
    halt: str = "never"
    grace: float = 900.0
    pipeline_id: str | None = None
    on_overlap: OverlapPolicy = "wait"
    group_limit: int | None = None
    """Limit of the default per-source-type groups; None: no semaphore for them."""
    groups: tuple[Group, ...] = field(default=())
    sshlogins: tuple[str, ...] = ()
    """GNU parallel sshlogins, ``[N/][user@]host`` or ``:``; none: only this machine."""
    sshloginfiles: tuple[str, ...] = ()
    """Absolute paths of files with one sshlogin per line."""
    ssh: str = "ssh"
    """The ssh command with its options, as GNU parallel's ``--ssh``."""


@dataclass(frozen=True)
class Config:
    plan: PlanOptions
    run: RunSettings


def parse_duration(text: str) -> float | None:
    """Seconds in ``90``, ``1.5``, ``30s``, ``15m``, ``2h``, ``1h30m``; None when not a duration."""
    text = text.strip()
    pos, total = 0, 0.0
    while pos < len(text):
        match = _DURATION_PART.match(text, pos)
        if match is None:
            return None
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    return total if text else None


def _int_at_least(minimum: int) -> Callable[[str], int | None]:
    def check(text: str) -> int | None:
        return int(text) if re.fullmatch(r"\d+", text) and int(text) >= minimum else None

    return check


def _pattern(regex: str) -> Callable[[str], str | None]:
    def check(text: str) -> str | None:
        return text if re.fullmatch(regex, text) else None

    return check


def _choice(*choices: str) -> Callable[[str], str | None]:
    def check(text: str) -> str | None:
        return text if text in choices else None

    return check


# key -> (checker returning the typed value or None, what a good value looks like)
_SCALARS: dict[str, tuple[Callable[[str], Any], str]] = {
    "jobs": (
        _pattern(r"[1-9]\d*|\+\d+|-\d+|[1-9]\d*%"),
        "a number of slots (4), a share of the cores (50%), or cores plus/minus N (+1, -1)",
    ),
    "load": (_pattern(r"\d+(\.\d+)?%?"), "a number of running threads (4) or a share (80%)"),
    "memfree": (_pattern(r"\d+(\.\d+)?[kKmMgGtT]?"), "a size such as 2G or 512M"),
    "delay": (parse_duration, "a duration such as 5, 2.5s or 1m"),
    "timeout": (parse_duration, "a duration such as 90m or 2h"),
    "retries": (_int_at_least(0), "a whole number of retries, 0 or more"),
    "halt": (
        _pattern(r"never|(now|soon),fail=([1-9]\d*|[1-9]\d?%|100%)"),
        "never, soon,fail=N, now,fail=N, or a percentage such as soon,fail=20%",
    ),
    "grace": (parse_duration, "a duration such as 15m"),
    "pipeline_id": (
        _pattern(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}"),
        "letters, digits, '.', '_' and '-', starting with a letter or digit",
    ),
    "on_overlap": (_choice("wait", "fail", "cancel"), "one of wait, fail, cancel"),
    "group_limit": (_int_at_least(1), "a whole number, 1 or more"),
    "max_jobs": (_int_at_least(1), "a whole number, 1 or more"),
    "flat": (_choice("true", "false"), "true or false"),
    "ssh": (_pattern(r"\S.*"), "an ssh command with its options, such as 'ssh -F ssh_config'"),
}
_LISTS = ("exclude", "var_files", "only", "except", "sshlogin", "sshloginfile")
SSHLOGIN = re.compile(r"([1-9]\d*/)?(:|([\w.%+-]+@)?[\w.:%-]+)")
_SSHLOGIN_FIX = "use [N/][user@]host or ':'; put ssh options in --ssh (ssh = ...) or ~/.ssh/config"
_RUN_KEYS = frozenset(
    f.name
    for f in RunSettings.__dataclass_fields__.values()
    if f.name not in ("groups", "sshlogins", "sshloginfiles")
)


@dataclass
class _Located:
    value: Any
    where: Problem
    """Where the value came from, with an empty message."""


def _unquote(value: Any) -> Any:
    # python-hcl2 8 keeps the quotes of string literals.
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    if isinstance(value, list):
        return [_unquote(v) for v in value]
    return value


def _lines_of(text: str, key: str) -> list[tuple[int, int]]:
    """Line and column of each ``key =`` or ``key {``/``key "label"`` at the start of a line."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        match = re.match(rf"(\s*){re.escape(key)}\s*[=\"{{]", line)
        if match:
            found.append((number, len(match.group(1)) + 1))
    return found


def read_config_file(root: Path) -> tuple[dict[str, _Located], list[Problem]]:
    """The raw settings in ``ROOT/pargen.hcl`` (none when it does not exist), and its problems."""
    path = root / CONFIG_FILE
    shown = str(path)  # as the user can open it from here: "pargen.hcl" or "images/pargen.hcl"
    if not path.is_file():
        return {}, []
    try:
        text = path.read_text(encoding="utf-8-sig")
        data = hcl2.loads(text)
    except (OSError, UnicodeDecodeError) as err:
        return {}, [
            Problem(shown, 0, 0, f"cannot read it ({err}); fix its permissions or encoding")
        ]
    except Exception as err:  # lark raises many kinds; all mean the same to a person
        # HashiCorp's parser says what is wrong in a sentence; asked only now, so a valid
        # file never starts its Go runtime here (see pargen.packer.hcl_check).
        found = syntax_problems(text, shown)
        if found:
            return {}, found
        line, col = getattr(err, "line", 0), getattr(err, "column", 0)
        return {}, [
            Problem(
                shown,
                line,
                col,
                "HCL accepts this but pargen's reader (python-hcl2) cannot read it; "
                "write the setting more simply, and please report it",
            )
        ]
    located: dict[str, _Located] = {}
    problems: list[Problem] = []
    known = ", ".join(sorted([*_SCALARS, *_LISTS, "group", "template"]))
    for key, value in data.items():
        if key.startswith("__"):  # python-hcl2's own entries (comments, block markers)
            continue
        lines = _lines_of(text, key)
        line, col = lines[0] if lines else (0, 0)
        where = Problem(shown, line, col, "")
        if key == "group":
            located[key] = _Located(_read_groups(value, text, shown, problems), where)
            continue
        if key == "template":
            located[key] = _Located(_read_rules(value, text, shown, root, problems), where)
            continue
        if key not in _SCALARS and key not in _LISTS:
            problems.append(_at(where, f"unknown setting {key!r}; known settings: {known}"))
            continue
        if len(lines) > 1:
            again = Problem(shown, *lines[1], "")
            problems.append(
                _at(again, f"{key} is set twice (first at line {line}); keep one of them")
            )
        located[key] = _Located(_unquote(value), where)
    return located, problems


def _at(where: Problem, message: str) -> Problem:
    return Problem(where.path, where.line, where.col, message)


def _labelled_blocks(
    raw: Any, text: str, block_type: str, shown: str, example: str, problems: list[Problem]
) -> Iterator[tuple[str, dict[str, Any], Problem]]:
    """Each ``block_type "label" { ... }`` block: its label, body and place; ``example`` shows
    how one is written, for a block without exactly one label."""
    places = _lines_of(text, block_type)
    blocks = raw if isinstance(raw, list) else [raw]
    for index, block in enumerate(blocks):
        line, col = places[index] if index < len(places) else (0, 0)
        where = Problem(shown, line, col, "")
        labelled = (
            [(k, v) for k, v in block.items() if isinstance(v, dict) and k.startswith('"')]
            if isinstance(block, dict) and block.get("__is_block__") is not True
            else []
        )
        if len(labelled) != 1:
            problems.append(_at(where, f"{block_type} needs exactly one label: {example}"))
            continue
        label, body = labelled[0]
        name = _unquote(label)
        if any(k.startswith('"') for k in body):
            problems.append(_at(where, f"{block_type} {name!r} takes exactly one label"))
            continue
        yield name, {k: _unquote(v) for k, v in body.items() if not k.startswith("__")}, where


def _read_groups(raw: Any, text: str, shown: str, problems: list[Problem]) -> tuple[Group, ...]:
    groups: list[Group] = []
    example = 'group "name" { limit = 2 ... }'
    for name, body, where in _labelled_blocks(raw, text, "group", shown, example, problems):
        group = _group(name, body, where, problems)
        if group is None:
            continue
        if any(g.name == name for g in groups):
            problems.append(_at(where, f"group {name!r} is defined twice; merge the two blocks"))
            continue
        groups.append(group)
    return tuple(groups)


_READ_MODES = ("whole", "per-file")


def _read_rules(
    raw: Any, text: str, shown: str, root: Path, problems: list[Problem]
) -> tuple[TemplateRule, ...]:
    rules: list[TemplateRule] = []
    example = 'template "images/*" { after = ["base"] }'
    for pattern, body, where in _labelled_blocks(raw, text, "template", shown, example, problems):
        rule = _rule(pattern, body, where, root, problems)
        if rule is not None:
            rules.append(rule)
    return tuple(rules)


def _rule(
    pattern: str, body: dict[str, Any], where: Problem, root: Path, problems: list[Problem]
) -> TemplateRule | None:
    what = f"template {pattern!r}"
    unknown = sorted(set(body) - {"read", "matrix_var_files", "after", "nesting"})
    if unknown:
        problems.append(
            _at(
                where,
                f"{what}: unknown key {unknown[0]!r}; use read, matrix_var_files, after, nesting",
            )
        )
        return None
    read = body.get("read")
    if read is not None and read not in _READ_MODES:
        problems.append(_at(where, f'{what}: read = {read!r}; use "whole" or "per-file"'))
        return None
    matrix = body.get("matrix_var_files")
    after = body.get("after", [])
    if (matrix is not None and not _string_list(matrix)) or not _string_list(after):
        problems.append(_at(where, f"{what}: give matrix_var_files and after as lists of globs"))
        return None
    nesting = body.get("nesting")
    if nesting is not None and not isinstance(nesting, bool):
        problems.append(_at(where, f"{what}: set nesting to true or false"))
        return None
    return TemplateRule(
        pattern,
        where.path,
        where.line,
        where.col,
        read=read,
        matrix_var_files=(
            None if matrix is None else matrix_files(matrix, root, "ROOT", where, problems)
        ),
        after=tuple(after),
        nesting=nesting,
    )


def matrix_files(
    patterns: Sequence[str], base: Path, base_name: str, where: Problem, problems: list[Problem]
) -> tuple[str, ...]:
    """The files the globs (``**`` for any depth, relative to ``base``) name, as absolute
    paths sorted by path; a glob that names no file is a problem."""
    found: set[str] = set()
    for pattern in patterns:
        given = Path(pattern)
        start, rest = (
            (Path(given.anchor), given.relative_to(given.anchor)) if given.anchor else (base, given)
        )
        try:
            matched = [path for path in start.glob(str(rest)) if path.is_file()]
        except ValueError:  # an empty or malformed glob
            matched = []
        if not matched:
            problems.append(
                _at(
                    where,
                    f"{pattern!r} names no var file (it is relative to {base_name}); fix the glob",
                )
            )
        found.update(str(path.absolute()) for path in matched)
    return tuple(sorted(found))


def _group(
    name: str, body: dict[str, Any], where: Problem, problems: list[Problem]
) -> Group | None:
    unknown = sorted(set(body) - {"limit", "types", "names"})
    if unknown:
        problems.append(
            _at(where, f"group {name!r}: unknown key {unknown[0]!r}; use limit, types, names")
        )
        return None
    limit = body.get("limit")
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        problems.append(_at(where, f"group {name!r}: set limit to a whole number >= 1"))
        return None
    types, names = body.get("types", []), body.get("names", [])
    if not _string_list(types) or not _string_list(names) or not (types or names):
        problems.append(_at(where, f"group {name!r}: give types and/or names as lists of globs"))
        return None
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        problems.append(_at(where, f"group {name!r}: name it with letters, digits, '.', '_', '-'"))
        return None
    return Group(name, limit, tuple(types), tuple(names))


def _sshlogins(specs: tuple[str, ...], where: Problem, problems: list[Problem]) -> tuple[str, ...]:
    """The logins of ``-S`` values, each a comma-separated list as GNU parallel takes it."""
    logins = tuple(login for spec in specs for login in spec.split(","))
    problems.extend(
        _at(where, f"{login!r} is not an sshlogin; {_SSHLOGIN_FIX}")
        for login in logins
        if not SSHLOGIN.fullmatch(login) or "//" in login
    )
    return logins


def sshloginfile_problems(path: Path) -> list[Problem]:
    """A problem for each line of an sshloginfile that is not ``[N/][user@]host`` or ``:``."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        return [Problem(str(path), 0, 0, f"cannot read this sshloginfile ({err}); fix it")]
    problems = []
    for number, line in enumerate(text.splitlines(), start=1):
        login = line.split("#", 1)[0].strip()
        if login and not SSHLOGIN.fullmatch(login):
            column = len(line) - len(line.lstrip()) + 1
            problems.append(
                Problem(str(path), number, column, f"{login!r} is not an sshlogin; {_SSHLOGIN_FIX}")
            )
    return problems


def _not_a_file(what: str, given: str, path: Path) -> str:
    if path.is_dir():
        return f"{what} {given!r} is a directory; give the path of a file in it"
    if path.exists():
        return f"{what} {given!r} is not a regular file; give the path of a file"
    return f"{what} {given!r} does not exist; fix the path"


def _string_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def resolve(root: Path, cli: Mapping[str, Any]) -> Config:
    """Merge ``pargen.hcl`` and command-line values (None or empty: not given) and check them."""
    file_values, problems = read_config_file(root)
    values: dict[str, Any] = {}
    for key, (check, expected) in _SCALARS.items():
        given = cli.get(key)
        if given is not None:
            raw: Any = given
            where = Problem("--" + key.replace("_", "-"), 0, 0, "")
        elif key in file_values:
            raw, where = file_values[key].value, file_values[key].where
        else:
            continue
        text = str(raw).lower() if isinstance(raw, bool) else str(raw)
        value = check(text) if isinstance(raw, (str, int, float, bool)) else None
        if value is None:
            problems.append(_at(where, f"{key} = {raw!r} is not valid; expected {expected}"))
        else:
            values[key] = value
    for key in _LISTS:
        given = cli.get(key)
        if given:
            # Paths on the command line are relative to the current directory.
            base = Path.cwd()
            values[key] = tuple(given)
            where = Problem("--" + key.replace("_", "-").rstrip("s"), 0, 0, "")
        elif key in file_values:
            # Paths in pargen.hcl are relative to ROOT, wherever pargen runs from.
            base = root
            raw, where = file_values[key].value, file_values[key].where
            if not _string_list(raw):
                problems.append(_at(where, f"{key} must be a list of strings"))
                continue
            values[key] = tuple(raw)
        else:
            continue
        if key in ("var_files", "sshloginfile"):
            what = "var file" if key == "var_files" else "sshloginfile"
            values[key] = tuple(str((base / p).absolute()) for p in values[key])
            problems.extend(
                _at(where, _not_a_file(what, p, Path(full)))
                for p, full in zip(given or file_values[key].value, values[key], strict=True)
                if not Path(full).is_file()
            )
        if key == "sshlogin":
            values[key] = _sshlogins(values[key], where, problems)
    # The command line's build matrix is for every template; pargen.hcl sets one per template.
    matrix = cli.get("matrix_var_files") or ()
    where = Problem("--matrix-var-files", 0, 0, "")
    matrix_var_files = matrix_files(matrix, Path.cwd(), "the current directory", where, problems)
    if problems:
        raise ProblemsError(problems)
    groups = file_values["group"].value if "group" in file_values else ()
    files = values.get("sshloginfile", ())
    for path in files:
        problems.extend(sshloginfile_problems(Path(path)))
    if (files or values.get("sshlogin")) and ("load" in values or "memfree" in values):
        # GNU parallel 20221122 measures --memfree on this machine only, whatever the host,
        # and its remote --load check behind an --ssh command was seen to wait forever.
        problems.append(
            Problem(
                "--load/--memfree",
                0,
                0,
                "not supported with hosts (--sshlogin, --sshloginfile); "
                "limit each host with N/ in its sshlogin instead",
            )
        )
    if problems:
        raise ProblemsError(problems)
    run = RunSettings(
        **{k: v for k, v in values.items() if k in _RUN_KEYS},
        groups=groups,
        sshlogins=values.get("sshlogin", ()),
        sshloginfiles=files,
    )
    plan = PlanOptions(
        exclude=values.get("exclude", ()),
        only=values.get("only", ()),
        except_=values.get("except", ()),
        max_jobs=values.get("max_jobs"),
        var_files=values.get("var_files", ()),
        vars=tuple(cli.get("vars") or ()),
        flat=values.get("flat") == "true",
        changed_since=cli.get("changed_since"),
        skip_unchanged=bool(cli.get("skip_unchanged")),
        matrix_var_files=matrix_var_files,
        templates=file_values["template"].value if "template" in file_values else (),
    )
    return Config(plan=plan, run=run)
