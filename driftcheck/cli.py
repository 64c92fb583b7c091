"""The command line: flags -> objects -> exit code. Wiring only; the work is in the stages.

Heavy modules (google clients, deepdiff, jinja2) are imported inside commands so that
``driftcheck --help`` and ``driftcheck diff`` start fast.
"""

from __future__ import annotations

import errno
import gc
import io
import logging
import os
import signal
import sys
import traceback
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

import click

from driftcheck import __version__
from driftcheck.errors import DriftcheckError

log = logging.getLogger("driftcheck")
SEVERITY_NAMES = ["critical", "high", "medium", "low", "info"]
REPRODUCTIONS_DIR = "reproductions"
_state: dict[str, Any] = {"verbose": False, "argv": []}


class Terminated(BaseException):
    """Raised on SIGTERM so that pending atomic writes are rolled back like on Ctrl-C."""


def _on_sigterm(signum: int, frame: FrameType | None) -> NoReturn:
    raise Terminated


def _echo_err(message: str) -> None:
    """One line on stderr; control characters from any source are shown, never acted on."""
    from driftcheck.render.text import neutralize

    click.echo(neutralize(message), err=True)


class _NeutralFormatter(logging.Formatter):
    """Log records on stderr, each line with its control characters neutralized."""

    def format(self, record: logging.LogRecord) -> str:
        from driftcheck.render.text import neutralize

        return "\n".join(neutralize(line) for line in super().format(record).split("\n"))


def _command_line() -> str:
    return " ".join(["driftcheck", *_state["argv"]])


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    metavar="FILE",
    help="Config file (default: $DRIFTCHECK_CONFIG or ./driftcheck.yaml).",
)
@click.option("-v", "--verbose", is_flag=True, help="Debug logging and tracebacks on errors.")
@click.option("-q", "--quiet", is_flag=True, help="No progress display.")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 256),
    help="API calls in flight at once (default: api.concurrency in the config, 16).",
)
@click.option(
    "--no-secret-payloads",
    is_flag=True,
    help="Do not access secret payloads (roles/secretmanager.viewer is enough); "
    "fingerprints are marked unavailable.",
)
@click.version_option(__version__, prog_name="driftcheck")
@click.pass_context
def cli(
    ctx: click.Context,
    config_path: str | None,
    verbose: bool,
    quiet: bool,
    concurrency: int | None,
    no_secret_payloads: bool,
) -> None:
    """Detect configuration drift between Cloud Run environments and approved baselines."""
    _state["verbose"] = verbose
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_NeutralFormatter("driftcheck: %(levelname)s: %(message)s"))
    log.handlers[:] = [handler]  # only driftcheck's own logger: SDK loggers may log bodies
    log.propagate = False
    log.setLevel(logging.DEBUG if verbose else logging.WARNING)
    ctx.obj = {
        "config_path": config_path,
        "access_payloads": not no_secret_payloads,
        "quiet": quiet,
        "concurrency": concurrency,
    }


def _complete_env(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Environment names of the config, for shell completion (nothing when it cannot load)."""
    from driftcheck.completion import environment_names

    root = ctx.find_root()
    return environment_names(root.params.get("config_path"), incomplete)


def _config(ctx: click.Context) -> Any:
    from driftcheck.config import load_config, resolve_config_path

    return load_config(resolve_config_path(ctx.obj["config_path"]))


def _collection(ctx: click.Context, config: Any) -> Any:
    """The collection context (clients, key, workers) for this invocation."""
    from driftcheck.pipeline import collection_context
    from driftcheck.progress import progress_for

    return collection_context(
        config,
        concurrency=ctx.obj["concurrency"],
        progress=progress_for(ctx.obj["quiet"]),
        access_payloads=ctx.obj["access_payloads"],
    )


def _refuse_incomplete(snapshot: Any, what: str) -> NoReturn:
    for error in snapshot.errors:
        _echo_err(f"driftcheck: not collected: {error.resource} ({error.source}): {error.message}")
    _echo_err(f"driftcheck: collection incomplete; {what} not written")
    sys.exit(3)


@cli.command()
@click.argument("env", shell_complete=_complete_env)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write here, not stdout.")
@click.pass_context
def collect(ctx: click.Context, env: str, output: str | None) -> None:
    """Collect a live snapshot of ENV (YAML)."""
    from driftcheck.baseline import snapshot_text
    from driftcheck.pipeline import collect_environment

    config = _config(ctx)
    config.environment(env)
    with _collection(ctx, config) as context:
        snapshot = collect_environment(config, env, context)
    if snapshot.errors:
        _refuse_incomplete(snapshot, "snapshot")
    if output:
        from driftcheck.render.interface import write_outputs

        # A device or special file (-o /dev/stdout) is written to, never replaced.
        write_outputs([(Path(output), snapshot_text(snapshot))])
        _echo_err(f"driftcheck: snapshot of {env} written to {output}")
    else:
        click.echo(snapshot_text(snapshot), nl=False)


@cli.command()
@click.argument("env", shell_complete=_complete_env)
@click.option(
    "--check",
    "verify_only",
    is_flag=True,
    help="Only verify the committed baseline: parses, canonical, right environment.",
)
@click.option(
    "--accept",
    "accept_ids",
    multiple=True,
    metavar="ID",
    help="Accept only these findings of `check ENV` (ids; repeat or separate with commas): "
    "only their paths change in the baseline.",
)
@click.pass_context
def baseline(ctx: click.Context, env: str, verify_only: bool, accept_ids: tuple[str, ...]) -> None:
    """Collect ENV and write baselines/ENV.yaml (the approved state)."""
    from driftcheck.baseline import approved, body_of, read_snapshot, write_snapshot
    from driftcheck.errors import BaselineError
    from driftcheck.pipeline import collect_environment

    config = _config(ctx)
    config.environment(env)
    path = config.baseline_path(env)
    if verify_only:
        from driftcheck.baseline import is_canonical

        existing = read_snapshot(path, "baseline", environment=env)
        if not is_canonical(path, existing):
            raise BaselineError(
                f"{path}: baseline is not in canonical form; regenerate it with "
                f"`driftcheck baseline {env}`"
            )
        _echo_err(f"driftcheck: {path} is a valid, canonical baseline of {env}")
        return
    if accept_ids:
        ids = [part.strip() for text in accept_ids for part in text.split(",") if part.strip()]
        _accept_into_baseline(ctx, config, env, path, ids)
        return
    with _collection(ctx, config) as context:
        snapshot = collect_environment(config, env, context)
    if snapshot.errors:
        _refuse_incomplete(snapshot, "baseline")
    snapshot = approved(snapshot)
    if path.exists():
        try:
            if body_of(read_snapshot(path, "baseline", environment=env)) == body_of(snapshot):
                _echo_err(f"driftcheck: {path} unchanged ({len(snapshot.resources)} resources)")
                return
        except DriftcheckError:
            log.debug("existing baseline unreadable; replacing it")
    write_snapshot(path, snapshot)
    _echo_err(
        f"driftcheck: baseline of {env} written to {path} ({len(snapshot.resources)} resources)"
    )


def _accept_into_baseline(
    ctx: click.Context, config: Any, env: str, path: Path, ids: list[str]
) -> None:
    """Collect ENV and take only the accepted findings' paths into its baseline."""
    from driftcheck.accept import accept, findings_against_own_baseline
    from driftcheck.baseline import approved, read_snapshot, write_snapshot
    from driftcheck.pipeline import collect_environment, shared_secrets

    existing = read_snapshot(path, "baseline", environment=env)
    with _collection(ctx, config) as context:
        snapshot = collect_environment(config, env, context)
    if snapshot.errors:
        _refuse_incomplete(snapshot, "baseline")
    findings = findings_against_own_baseline(existing, snapshot, shared_secrets(config, env))
    updated, accepted = accept(existing, approved(snapshot), findings, ids)
    write_snapshot(path, updated)
    for item in accepted:
        where = ", ".join(f"{resource} {p or '(resource)'}" for resource, p in item.paths)
        _echo_err(f"driftcheck: accepted {item.finding.id}: {where}")
    _echo_err(f"driftcheck: {path} updated; review the diff and commit it")


def _report_options(function: Any) -> Any:
    function = click.option(
        "--output",
        "output",
        type=click.Choice(["summary", "json"]),
        default="summary",
        show_default=True,
        help="What goes to stdout: nothing but the stderr summary, or the report JSON "
        "(then report files are written only when --out-dir is given).",
    )(function)
    function = click.option(
        "--no-color", is_flag=True, help="No colour in the summary (also: NO_COLOR set)."
    )(function)
    function = click.option(
        "--fail-on",
        type=click.Choice(SEVERITY_NAMES),
        default="low",
        show_default=True,
        help="Lowest severity that makes the exit code 1 (info never fails).",
    )(function)
    function = click.option(
        "--out-dir", type=click.Path(file_okay=False), help="Report folder (default: reports/)."
    )(function)
    return click.option(
        "--format",
        "formats",
        default="json,html,md",
        show_default=True,
        help="Comma-separated report formats: json, html, md, sarif.",
    )(function)


@dataclass(frozen=True)
class ReportOptions:
    """What the report options of ``check`` and ``diff`` ask for."""

    formats: str
    out_dir: Path | None
    fail_on: str
    output: str = "summary"
    no_color: bool = False


def _finish(
    comparison: Any, options: ReportOptions, default_dir: Path, *, reproduction: bool = False
) -> NoReturn:
    """Write the report set (reports and the judged snapshot) as one, print, exit."""
    sys.exit(_report(comparison, options, default_dir, reproduction=reproduction))


def _report(
    comparison: Any, options: ReportOptions, default_dir: Path, *, reproduction: bool = False
) -> int:
    """Write the report set (reports and the judged snapshot) as one, print; the exit code."""
    return _show_report(_write_report(comparison, options, default_dir, reproduction=reproduction))


@dataclass(frozen=True)
class _Written:
    """A report set written, what its summary says, and the exit code it stands for."""

    report: Any
    paths: list[Path]
    code: int
    options: ReportOptions


def _write_report(
    comparison: Any, options: ReportOptions, default_dir: Path, *, reproduction: bool = False
) -> _Written:
    """Write the report set (reports and the judged snapshot) as one; nothing printed."""
    from driftcheck.baseline import snapshot_text
    from driftcheck.model import Severity
    from driftcheck.render.interface import (
        parse_formats,
        refuse_to_overwrite_evidence,
        render_reports,
        report_stem,
        write_outputs,
    )
    from driftcheck.report import exit_code

    report = comparison.report
    code = exit_code(report, Severity(options.fail_on))
    stem = report_stem(report.environment, report.baseline.environment)
    chosen = parse_formats(options.formats)
    written: list[Path] = []
    # With --output json and no --out-dir, stdout is the report: no files.
    if options.output != "json" or options.out_dir is not None:
        out_dir = options.out_dir or default_dir
        if reproduction:
            # A reproduction never replaces the evidence it reproduces, nor any report of a check.
            refuse_to_overwrite_evidence(chosen, out_dir, stem)
        outputs = render_reports(report, chosen, out_dir, stem)
        if not reproduction:
            outputs.append((out_dir / f"{stem}.snapshot.yaml", snapshot_text(comparison.snapshot)))
        written = write_outputs(outputs)
    return _Written(report, written, code, options)


def _show_report(written: _Written) -> int:
    """Print a written report set's summary (and the JSON report with --output json); its exit
    code."""
    from driftcheck.render import json as json_report
    from driftcheck.render.terminal import color_wanted, render_summary

    options = written.options
    color = color_wanted(sys.stderr, no_color=options.no_color)
    summary = render_summary(written.report, written.paths, exit_code=written.code, color=color)
    click.echo(summary, err=True)
    if options.output == "json":
        click.echo(json_report.render(written.report), nl=False)
    return written.code


# The most severe outcome of several checks: incomplete, then drift, then clean.
_SEVERITY_OF_EXIT = {3: 2, 1: 1, 0: 0}


@cli.command()
@click.argument("envs", metavar="[ENV]...", nargs=-1, shell_complete=_complete_env)
@click.option("--all", "all_envs", is_flag=True, help="Every environment of the config.")
@click.option(
    "--against",
    "base_env",
    shell_complete=_complete_env,
    help="Baseline environment (default: each ENV's own).",
)
@_report_options
@click.pass_context
def check(
    ctx: click.Context,
    envs: tuple[str, ...],
    all_envs: bool,
    base_env: str | None,
    formats: str,
    out_dir: str | None,
    fail_on: str,
    output: str,
    no_color: bool,
) -> None:
    """Collect each ENV, compare it with baselines/BASE_ENV.yaml, write reports, exit 0/1/3.

    Several environments (or --all) are collected at once in one process, sharing one worker
    pool and one set of rate limits; the exit code is the most severe of the checks.
    """
    from driftcheck.concurrency import Background
    from driftcheck.errors import UsageError
    from driftcheck.pipeline import run_checks
    from driftcheck.render.interface import parse_formats, prepare

    chosen = parse_formats(formats)  # a bad --format is a usage error before any API call
    options = ReportOptions(formats, Path(out_dir) if out_dir else None, fail_on, output, no_color)
    config = _config(ctx)
    names = list(config.model.environments) if all_envs else list(dict.fromkeys(envs))
    if not names:
        raise UsageError("check: name an environment (or --all)")
    if len(names) > 1 and output == "json":
        raise UsageError("--output json reports one check: name one environment")
    pairs = [(name, base_env or name) for name in names]
    with _collection(ctx, config) as context:
        # Renderers load while collection waits on the network, not after it.
        Background(partial(prepare, chosen), context.workers.slots)
        # Each check's reports are written as soon as it is judged, while later ones are still
        # read; the summaries are printed once the progress display is gone.
        written = [
            _write_report(comparison, options, config.reports_dir)
            for comparison in run_checks(config, pairs, context, command=_command_line())
        ]
    codes = [_show_report(each) for each in written]
    sys.exit(max(codes, key=lambda code: _SEVERITY_OF_EXIT.get(code, 3)))


@cli.command()
@click.argument("snapshot_a", metavar="SNAPSHOT_A", type=click.Path(dir_okay=False))
@click.argument("snapshot_b", metavar="SNAPSHOT_B", type=click.Path(dir_okay=False))
@_report_options
@click.pass_context
def diff(
    ctx: click.Context,
    snapshot_a: str,
    snapshot_b: str,
    formats: str,
    out_dir: str | None,
    fail_on: str,
    output: str,
    no_color: bool,
) -> None:
    """Offline comparison: SNAPSHOT_A (baseline) vs SNAPSHOT_B, with the config's rules.

    Reports go to reports/reproductions/ by default and never replace a report made by check.
    """
    from driftcheck.config import load_config, resolve_config_path
    from driftcheck.pipeline import run_diff
    from driftcheck.render.interface import parse_formats

    parse_formats(formats)
    options = ReportOptions(formats, Path(out_dir) if out_dir else None, fail_on, output, no_color)
    config_path = resolve_config_path(ctx.obj["config_path"])
    explicit = ctx.obj["config_path"] is not None
    config = load_config(config_path) if explicit or config_path.exists() else None
    comparison = run_diff(Path(snapshot_a), Path(snapshot_b), config, command=_command_line())
    default_dir = (config.reports_dir if config else Path("reports")) / REPRODUCTIONS_DIR
    _finish(comparison, options, default_dir, reproduction=True)


@cli.command()
@click.argument("report_path", metavar="REPORT", type=click.Path(dir_okay=False))
def hints(report_path: str) -> None:
    """Print a JSON report's remedies as a reviewable shell script (nothing is run)."""
    from driftcheck.render import script
    from driftcheck.report import read_report

    click.echo(script.render(read_report(Path(report_path))), nl=False)


@cli.command()
@click.option(
    "--out-dir", type=click.Path(file_okay=False), default="reports/demo", show_default=True
)
def demo(out_dir: str) -> None:
    """Run the whole pipeline on the built-in emulator and bundled scenario."""
    from driftcheck.demo import run_demo

    sys.exit(run_demo(Path(out_dir)))


@cli.command()
@click.option(
    "--env",
    "env_values",
    multiple=True,
    metavar="NAME=PROJECT",
    help="An environment and its GCP project (repeat: --env production=acme-prod …).",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False),
    default="driftcheck.yaml",
    show_default=True,
    help="Config file to write (never overwritten).",
)
def init(env_values: tuple[str, ...], output: str) -> None:
    """Discover the projects' Cloud Run regions and services and write a first config."""
    from driftcheck.init import run_init

    _echo_err(run_init(env_values, Path(output)))


@cli.command()
@click.argument("report_paths", metavar="REPORT...", nargs=-1, required=True)
@click.option(
    "--label", "labels", multiple=True, help="Label for a newly opened issue (repeat for more)."
)
def track(report_paths: tuple[str, ...], labels: tuple[str, ...]) -> None:
    """Keep one GitHub issue per environment pair from JSON reports (GITHUB_TOKEN,
    GITHUB_REPOSITORY, GITHUB_API_URL): opened on drift, updated while it stays, closed when
    clean; an incomplete run only comments."""
    from driftcheck.track import run_track

    for outcome in run_track([Path(p) for p in report_paths], labels):
        _echo_err(outcome.line())


@cli.command()
@click.argument("scenario", type=click.Path(dir_okay=False))
@click.option(
    "--port", type=click.IntRange(0, 65535), default=0, help="TCP port (default: any free one)."
)
def emulator(scenario: str, port: int) -> None:
    """Serve a scenario file on 127.0.0.1 until Ctrl-C; print the variables to export."""
    from driftcheck.emulator.serve import serve

    sys.exit(serve(Path(scenario), port, sys.stdout, sys.stderr))


@cli.command()
@click.argument("name", metavar="NAME")
def schema(name: str) -> None:
    """Print a JSON Schema: config, snapshot, report, claim-policy or scenario."""
    from driftcheck.schemas import shipped_schema

    click.echo(shipped_schema(name), nl=False)


def _echo_traceback() -> None:
    """The current traceback (with -v), each line neutralized: messages quote data."""
    from driftcheck.render.text import neutralize

    for line in traceback.format_exc().rstrip("\n").split("\n"):
        click.echo(neutralize(line), err=True)


def _show_usage_error(exc: click.ClickException) -> None:
    """click's own message (usage and error), with control characters neutralized: a value
    given on the command line is echoed in it."""
    from driftcheck.render.text import neutralize

    buffer = io.StringIO()
    exc.show(file=buffer)
    for line in buffer.getvalue().rstrip("\n").split("\n"):
        click.echo(neutralize(line), err=True)


def _is_stdout_failure(exc: OSError) -> bool:
    """Whether an OSError came from writing stdout (its buffer then holds the failed write)."""
    return exc.errno in (errno.EPIPE, errno.ENOSPC, errno.EBADF, errno.EIO) or isinstance(
        exc, BrokenPipeError
    )


def _stdout_lost(reason: str) -> NoReturn:
    """stdout is gone or full (a closed pipe, /dev/full): one line, exit 2."""
    _echo_err(f"driftcheck: error: cannot write to stdout: {reason}")
    sys.exit(2)


def raise_internal(exc: BaseException) -> NoReturn:
    """An unexpected error: one line (the traceback with -v), exit 4."""
    if _state["verbose"]:
        _echo_traceback()
    _echo_err(
        f"driftcheck: internal error ({type(exc).__name__}); this is a bug, "
        "run with -v for the traceback"
    )
    sys.exit(4)


def run() -> NoReturn:
    """The ``driftcheck`` console script and ``python -m driftcheck``: :func:`main`, then the
    process ends without the interpreter's teardown. By then every report and snapshot is
    written (atomically) and closed; what is left is freeing the API's answers and the client
    libraries' modules object by object, 30-60 ms of a two-second check. Output still buffered
    is flushed first; the exit status is :func:`main`'s. Under a profiler, a tracer or coverage,
    which write their results as the interpreter exits, it exits as usual."""
    # While dozens of threads wait on the API, one answering thread holds the interpreter for
    # up to its switch interval (5 ms by default) before a thread whose answer has arrived gets
    # it: with concurrency 16 and 50 ms calls, a tenth of each call's time on the wire. A
    # shorter interval hands it over sooner (measured: 2-4% less wall time end to end, for a
    # little more CPU). Set for the process, not by main: an in-process caller keeps its own
    # settings, these two included.
    sys.setswitchinterval(0.001)
    # A run allocates millions of short-lived containers (API responses, normalized bodies,
    # snapshot documents) and makes few reference cycles: with the default thresholds the
    # collector scans the young generation every 700 allocations and the whole heap often as it
    # grows, about a tenth of a large run's CPU. Cycles are still collected, less often.
    gc.set_threshold(50_000, 20, 100)
    try:
        main()
    except SystemExit as exc:
        status = _exit_status(exc.code)
    if sys.gettrace() is not None or sys.getprofile() is not None:
        sys.exit(status)
    # Done: a signal now could only turn a finished run into a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if "logging" in sys.modules:
        logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: what could be written was
            status = status or 120  # as the interpreter reports an unflushable stdout
    os._exit(status)


def _exit_status(code: object) -> int:
    """What ``SystemExit(code)`` makes the process exit with (None 0; text printed, then 1)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    _echo_err(str(code))
    return 1


def main(argv: list[str] | None = None) -> NoReturn:
    """Entry point: run the CLI and map errors to the documented exit codes."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    # A stream closed when the process started is None in Python: what would go to it is
    # dropped, and the exit status is still the command's.
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115
    _state["argv"] = list(sys.argv[1:] if argv is None else argv)
    stdout = sys.stdout
    try:
        cli.main(args=argv, prog_name="driftcheck", standalone_mode=False)
        sys.stdout.flush()
    except SystemExit:
        if sys.stdout is not stdout:
            # click caught a broken stdout pipe itself, muted both streams and exits 1, which
            # here means drift: it is a stdout failure like any other.
            _stdout_lost(os.strerror(errno.EPIPE))
        raise
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        _show_usage_error(exc)
        sys.exit(2)
    except (click.exceptions.Abort, KeyboardInterrupt):
        _echo_err("driftcheck: interrupted; nothing half-written was left behind")
        sys.exit(130)
    except DriftcheckError as exc:
        if _state["verbose"]:
            _echo_traceback()
        _echo_err(f"driftcheck: error: {exc}")
        sys.exit(exc.exit_code)
    except Terminated:
        _echo_err("driftcheck: terminated; nothing half-written was left behind")
        sys.exit(143)
    except OSError as exc:
        if not _is_stdout_failure(exc):
            raise_internal(exc)
        # No second attempt at what could not be written.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        _stdout_lost(exc.strerror or str(exc))
    except Exception as exc:
        if _state["verbose"]:
            _echo_traceback()
        _echo_err(
            f"driftcheck: internal error ({type(exc).__name__}); this is a bug, "
            "run with -v for the traceback"
        )
        sys.exit(4)
    sys.exit(0)
