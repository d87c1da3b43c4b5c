"""Command line: each command converts its options and calls one core function."""

from __future__ import annotations

import difflib
import os
import re
import shlex
import signal
import sys
import tempfile
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

import click

from pargen import __version__
from pargen.config import Config, resolve
from pargen.errors import ExitCode, PargenError
from pargen.plan.formats import FORMATTERS, nothing_planned, unused_summary
from pargen.plan.inputs import InputHashes
from pargen.plan.jobs import Plan, make_plan
from pargen.render import PATH_OPTIONS, ScriptLocation, render_script
from pargen.run.console import Console
from pargen.run.execute import run_plan
from pargen.run.finish import finish_run
from pargen.run.report import load_report
from pargen.run.report_files import failed_json, read_log_tails, report_json
from pargen.run.report_text import console_summary, jobs_table, status_header
from pargen.run.rerun import only_command, only_value, select, select_for_rerun
from pargen.run.rundir import find_run, tree_of_run

F = TypeVar("F", bound=Callable[..., Any])

_VAR = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*)=(.*)", re.DOTALL)


def _options(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    def apply(func: F) -> F:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return apply


def _parse_vars(
    _ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
) -> tuple[tuple[str, str], ...]:
    pairs = []
    for value in values:
        match = _VAR.fullmatch(value)
        if match is None:
            raise click.BadParameter(f"{value!r}: write it as NAME=VALUE")
        pairs.append((match.group(1), match.group(2)))
    return tuple(pairs)


root_argument = click.argument("root", default=".", type=click.Path(file_okay=False, path_type=str))

plan_options = _options(
    click.option(
        "--exclude",
        multiple=True,
        metavar="GLOB",
        help="Skip directories and template files matching GLOB (relative to ROOT).",
    ),
    click.option("--only", multiple=True, metavar="GLOB", help="Keep jobs whose id or name match."),
    click.option("--except", "except_", multiple=True, metavar="GLOB", help="Drop matching jobs."),
    click.option("--max-jobs", metavar="N", help="Refuse plans with more jobs than N."),
    click.option("--var-file", "var_files", multiple=True, metavar="FILE", help="As packer's."),
    click.option(
        "--var",
        "vars",
        multiple=True,
        metavar="NAME=VALUE",
        callback=_parse_vars,
        help="As packer's.",
    ),
    click.option(
        "--flat/--no-flat", default=None, help="Ignore directory nesting (pargen.hcl: flat)."
    ),
    click.option(
        "--changed-since",
        metavar="REF",
        help="Only templates changed since git REF (merge base), and those below them.",
    ),
    click.option(
        "--matrix-var-files",
        multiple=True,
        metavar="GLOB",
        help="Plan every template once per var file matching GLOB (a build matrix).",
    ),
)

skip_unchanged_option = click.option(
    "--skip-unchanged",
    is_flag=True,
    default=None,
    help="Leave out jobs whose inputs are as at their last successful build here.",
)

run_options = _options(
    click.option(
        "--jobs", "-j", metavar="N", help="Concurrent builds: N, N%, +N or -N cores (100%)."
    ),
    click.option("--load", metavar="N", help="Start no build while more threads than N run."),
    click.option("--memfree", metavar="SIZE", help="Start a build only with SIZE free (2G)."),
    click.option("--delay", metavar="DURATION", help="At least this long between two starts."),
    click.option("--timeout", metavar="DURATION", help="Stop a build gracefully after this long."),
    click.option("--retries", metavar="N", help="Run a failing build up to N more times."),
    click.option(
        "--halt", metavar="POLICY", help="never (default), soon,fail=N or now,fail=N (N or N%)."
    ),
    click.option(
        "--grace", metavar="DURATION", help="Time Packer gets to clean up when stopped (15m)."
    ),
    click.option("--pipeline-id", metavar="ID", help="Runs with the same id never overlap."),
    click.option(
        "--on-overlap",
        type=click.Choice(["wait", "fail", "cancel"]),
        help="When the pipeline id is busy: wait (default), fail (exit 4), cancel the other.",
    ),
    click.option(
        "--group-limit", metavar="N", help="Machine-wide limit per source type (default: none)."
    ),
    click.option(
        "-S",
        "--sshlogin",
        multiple=True,
        metavar="LOGINS",
        help="Also build on these hosts: [N/][user@]host,... (':' is this machine).",
    ),
    click.option(
        "--sshloginfile", multiple=True, metavar="FILE", help="Hosts, one sshlogin per line."
    ),
    click.option("--ssh", metavar="CMD", help="The ssh command with its options (ssh)."),
)


def _config(root: str, options: dict[str, Any]) -> Config:
    cli = dict(options)
    cli["except"] = cli.pop("except_", ())
    flat = cli.pop("flat", None)
    cli["flat"] = None if flat is None else str(flat).lower()
    return resolve(Path(root), cli)


def _plan(
    root: str, config: Config, *, hash_inputs: bool = False, unused_sources: bool = False
) -> Plan:
    plan = make_plan(root, config.plan, os.environ, hash_inputs=hash_inputs)
    for warning in plan.warnings:
        click.echo(f"pargen: warning: {warning}", err=True)
    if unused_sources:
        for source in plan.unused_sources:
            click.echo(f"pargen: warning: {source}", err=True)
    elif plan.unused_sources:
        # Variables often choose the sources (sources = var.enabled): one line, not one each.
        click.echo(f"pargen: warning: {unused_summary(plan)}", err=True)
    return plan


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pargen")
def cli() -> None:
    """Build trees of Packer templates in parallel with GNU parallel, within limits."""


@cli.command()
@root_argument
@plan_options
@skip_unchanged_option
@click.option(
    "--format", "fmt", type=click.Choice(sorted(FORMATTERS)), default="table", show_default=True
)
@click.option(
    "--unused-sources", is_flag=True, help="List the sources no build uses, one per line."
)
@run_options
def plan(root: str, fmt: str, unused_sources: bool, **options: Any) -> None:
    """Print the job list of the tree at ROOT, with the limits render and exec would use."""
    config = _config(root, options)
    planned = _plan(root, config, unused_sources=unused_sources)
    for note in planned.notes:
        click.echo(f"pargen: note: {note}", err=True)
    click.echo(FORMATTERS[fmt](planned, config.run), nl=False)


def _given_options(ctx: click.Context, skip: frozenset[str]) -> list[str]:
    """The options typed on the command line, to repeat in the script's header."""
    args: list[str] = []
    for param in ctx.command.params:
        if not isinstance(param, click.Option) or param.name in skip or param.name is None:
            continue
        if ctx.get_parameter_source(param.name) != click.core.ParameterSource.COMMANDLINE:
            continue
        flag = param.opts[0] if param.opts[0].startswith("--") else param.opts[-1]
        value = ctx.params[param.name]
        if param.is_flag:
            args.append(flag if value or not param.secondary_opts else param.secondary_opts[0])
        elif isinstance(value, tuple):
            for item in value:
                text = f"{item[0]}={item[1]}" if isinstance(item, tuple) else str(item)
                args += [flag, text]
        else:
            args += [flag, str(value)]
    return args


def _render_for(root: str, script: Path, ctx: click.Context, options: dict[str, Any]) -> str:
    config = _config(root, options)
    plan = _plan(root, config)
    location = ScriptLocation(script.parent, script.name)
    return render_script(plan, config.run, location, _given_options(ctx, _NOT_REPEATED))


_NOT_REPEATED = frozenset(
    {"output", "run_dir", "quiet", "verbose", "stall_timeout"}
    | {"skip_unchanged", "retry_failed", "resume", "from_run"}  # exec's own, not render's
)


@cli.command()
@root_argument
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write here.")
@plan_options
@run_options
@click.pass_context
def render(ctx: click.Context, /, root: str, output: Path | None, **options: Any) -> None:
    """Write the standalone script that builds the tree at ROOT.

    Without -o the script goes to stdout and expects to be saved in ROOT as pargen.sh.
    """
    script = output if output is not None else Path(root) / "pargen.sh"
    text = _render_for(root, script, ctx, options)
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
        output.chmod(0o755)
    except OSError as err:
        raise PargenError(f"cannot write {output}: {err.strerror}; check the path") from err


@cli.command()
@click.argument("paths", nargs=-1, required=True, metavar="[ROOT] FILE")
@plan_options
@run_options
@click.pass_context
def check(ctx: click.Context, /, paths: tuple[str, ...], **options: Any) -> None:
    """Exit 0 when FILE is what render would write now, else print a diff and exit 1."""
    if len(paths) > 2:
        raise click.UsageError("give at most ROOT and FILE")
    root, file = (".", paths[0]) if len(paths) == 1 else paths
    script = Path(file)
    try:
        current = script.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise PargenError(
            f"{file}: cannot read it ({err}); render it with pargen render -o"
        ) from err
    expected = _render_for(root, script, ctx, options)
    if current == expected:
        return
    diff = difflib.unified_diff(
        current.splitlines(keepends=True),
        expected.splitlines(keepends=True),
        fromfile=f"{file} (committed)",
        tofile=f"{file} (pargen render)",
    )
    click.echo("".join(diff), nl=False)
    words = [_word(root), *_given_options(ctx, _NOT_REPEATED), "-o", _word(file)]
    command = shlex.join(["pargen", "render", *words])
    click.echo(f"pargen: {file} is stale; regenerate it with: {command}", err=True)
    raise SystemExit(ExitCode.JOBS_FAILED)


def _word(path: str) -> str:
    """A path as a command-line word that no command takes for an option."""
    return f"./{path}" if path.startswith("-") else path


@cli.command(name="exec")
@root_argument
@click.option("--run-dir", type=click.Path(file_okay=False, path_type=Path), help="Run here.")
@plan_options
@skip_unchanged_option
@run_options
@click.pass_context
@click.option("--quiet", "-q", is_flag=True, help="Show only failures and the summary.")
@click.option("--verbose", "-v", is_flag=True, help="Also show every start and end.")
@click.option(
    "--stall-timeout",
    type=click.FloatRange(min=1),
    metavar="SECONDS",
    help="Fail the run when nothing starts or ends for this long.",
)
@click.option(
    "--retry-failed",
    is_flag=True,
    help="Run again the failed jobs of a run and the jobs they held back.",
)
@click.option("--resume", is_flag=True, help="Run what did not succeed in an interrupted run.")
@click.option(
    "--from-run",
    type=click.Path(path_type=Path),
    metavar="RUN",
    help="The run --retry-failed/--resume start from (default: the latest).",
)
def exec_(
    ctx: click.Context,
    /,
    root: str,
    run_dir: Path | None,
    quiet: bool,
    verbose: bool,
    stall_timeout: float | None,
    retry_failed: bool,
    resume: bool,
    from_run: Path | None,
    **options: Any,
) -> None:
    """Plan ROOT, render the script into a new run directory, run it, report."""
    if retry_failed and resume:
        raise click.UsageError("give --retry-failed or --resume, not both")
    if from_run is not None and not (retry_failed or resume):
        raise click.UsageError("--from-run goes with --retry-failed or --resume")
    if retry_failed or resume:
        previous = find_run(from_run, root)
        ids = select_for_rerun(previous, "failed" if retry_failed else "resume")
        if not ids:
            click.echo(f"pargen: nothing to run again from run {previous.name}", err=True)
            return
        # Exact ids, escaped for --only's globs: the jobs of the earlier run, nothing else.
        options["only"] = tuple(only_value(i) for i in ids)
    config = _config(root, options)
    # Every run records the input hashes of what it built, for a later --skip-unchanged.
    plan = _plan(root, config, hash_inputs=True)
    if not plan.jobs:
        why = nothing_planned(plan)
        if (
            not plan.unchanged
            and plan.changed_since is None
            and (options["only"] or options["except_"])
        ):
            why = "no job matches --only/--except"
        click.echo(f"pargen: nothing to build under {root}: {why}", err=True)
        return
    if plan.unchanged:
        click.echo(
            f"pargen: leaving out {len(plan.unchanged)} job(s) unchanged since their last build "
            "(pargen plan --skip-unchanged lists them)",
            err=True,
        )
    console = Console(quiet=quiet, verbose=verbose)
    outcome = run_plan(
        plan,
        config.run,
        console,
        run_dir=run_dir,
        stall_timeout=stall_timeout,
        command_args=_given_options(ctx, _NOT_REPEATED),
    )
    if outcome.report is not None:
        click.echo(
            console_summary(outcome.report, read_log_tails(outcome.report)), nl=False, err=True
        )
    raise SystemExit(outcome.code)


run_argument = click.argument("run", required=False, type=click.Path(path_type=Path))
runs_root_option = click.option(
    "--root",
    "root",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False, path_type=str),
    help="The tree whose latest run to read when RUN is not given.",
)


@cli.command()
@run_argument
@runs_root_option
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
def status(run: Path | None, root: str, fmt: str) -> None:
    """The state of each job of RUN (default: the latest run), running or finished.

    Exits with the run's own exit code (0, 1, 130), or 75 while it runs.
    """
    report = load_report(find_run(run, root))
    if fmt == "json":
        click.echo(report_json(report), nl=False)
    else:
        click.echo(status_header(report))
        click.echo(jobs_table(report.jobs, report.path), nl=False)
    if report.exit_code is None:
        click.echo(f"pargen: run {report.run_id} is still running (exit 75)", err=True)
        raise SystemExit(ExitCode.RUNNING)
    raise SystemExit(report.exit_code)


@cli.command()
@run_argument
@runs_root_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "only"]),
    default="table",
    show_default=True,
    help="only: the pargen exec command line that runs them again.",
)
def failed(run: Path | None, root: str, fmt: str) -> None:
    """The jobs of RUN that failed, were interrupted or lost, and those they held back."""
    run_dir = find_run(run, root)
    report = load_report(run_dir)
    ids = select(report, "failed")
    by_id = report.by_id()
    jobs = [by_id[i] for i in ids]
    command = only_command(ids, tree_of_run(run, run_dir, root)) if ids else None
    if fmt == "json":
        click.echo(failed_json(report, jobs, command), nl=False)
        return
    if report.live:
        click.echo(f"pargen: run {report.run_id} is still running: failures so far", err=True)
    if command is None:
        click.echo(f"pargen: no failed jobs in run {report.run_id} ({report.outcome})", err=True)
    elif fmt == "only":
        click.echo(command)
    else:
        click.echo(jobs_table(jobs, report.path), nl=False)
        click.echo(f"run them again: {command}")


@cli.command(name="report")
@run_argument
@runs_root_option
def report_(run: Path | None, root: str) -> None:
    """Write report.json, junit.xml and timeline.html of RUN (default: the latest run),
    finished or killed, however it was started; with GITHUB_STEP_SUMMARY set, append the step
    summary too.

    Also records the run as pargen exec does: durations, and the input hashes of what it
    built for --skip-unchanged. Exits 0 when the reports are written, whatever the run did.
    """
    run_dir = find_run(run, root)
    finished = finish_run(run_dir, os.environ, replan=_replan, environb=os.environb)
    report = finished.report
    click.echo(console_summary(report, read_log_tails(report)), nl=False, err=True)
    for notice in finished.notices:
        click.echo(f"pargen: {notice}", err=True)
    written = ", ".join(str(report.path / name) for name in ("report.json", "junit.xml"))
    written += f" and {report.path / 'timeline.html'}"
    if finished.summary:
        written += " and appended the step summary to GITHUB_STEP_SUMMARY"
    click.echo(f"pargen: wrote {written}", err=True)


def _replan(root: str, words: Sequence[str]) -> InputHashes:
    """The input hashes of every job of ROOT planned with ``words`` (paths relative to ROOT)
    as pargen render would, whatever the selection."""
    args = [
        str(Path(root) / word) if previous in PATH_OPTIONS else word
        for previous, word in zip(["", *words], words, strict=False)
    ]
    try:
        ctx = render.make_context("render", [root, *args])
    except click.ClickException as err:
        raise PargenError(f"its options {shlex.join(words)} are not pargen's: {err}") from err
    options = {k: v for k, v in ctx.params.items() if k not in ("root", "output")}
    options.update(changed_since=None, max_jobs=None, only=(), except_=())
    config = _config(root, options)
    plan = make_plan(root, config.plan, os.environ, hash_inputs=True)
    assert plan.inputs is not None  # asked for with hash_inputs
    return plan.inputs


def main() -> None:
    """Entry point: one line per error, the contract's exit codes, never a bare traceback."""
    # SIGTERM stops pargen as Ctrl-C does, with exit 130; while a run's script runs, the
    # supervisor takes both signals and passes them on to it.
    signal.signal(signal.SIGTERM, _terminated)
    try:
        code = cli.main(standalone_mode=False)
    except PargenError as err:
        for line in err.lines:
            click.echo(f"pargen: error: {line}", err=True)
        sys.exit(int(err.code))
    except click.exceptions.Exit as err:
        sys.exit(err.exit_code)
    except click.UsageError as err:
        command = err.ctx.command_path if err.ctx else "pargen"
        message = " ".join(err.format_message().split())
        click.echo(f"pargen: error: {message}; see '{command} --help'", err=True)
        sys.exit(ExitCode.BAD_INPUT)
    except click.ClickException as err:
        click.echo(f"pargen: error: {' '.join(err.format_message().split())}", err=True)
        sys.exit(ExitCode.BAD_INPUT)
    except SystemExit:
        raise
    except (KeyboardInterrupt, click.exceptions.Abort):
        click.echo("pargen: interrupted", err=True)
        sys.exit(ExitCode.INTERRUPTED)
    except Exception:
        sys.exit(_crash())
    sys.exit(code if isinstance(code, int) else 0)


def _terminated(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _crash() -> int:
    with tempfile.NamedTemporaryFile(
        "w", prefix="pargen-crash-", suffix=".txt", delete=False
    ) as handle:
        traceback.print_exc(file=handle)
    kind, value, _ = sys.exc_info()
    name = kind.__name__ if kind else "error"
    click.echo(
        f"pargen: internal error: {name}: {value}; traceback saved to {handle.name}; "
        "please report it with that file",
        err=True,
    )
    return int(ExitCode.INTERNAL)
