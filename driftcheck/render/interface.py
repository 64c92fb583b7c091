"""The registry of report formats, and writing a set of outputs all-or-nothing.

Formats are an Enum mapping each to its renderer and file suffix. Outputs (the reports of a check
and the snapshot beside them, or ``collect -o``) are written as one set:

- every text is rendered first, and every target is checked before anything is replaced: a
  directory in the way, a parent that is a file, a folder that cannot be written to;
- each regular file is staged as a temporary file in its own folder and fsynced; only when every
  one is staged are they renamed into place, and a failure (or Ctrl-C, SIGTERM) while renaming
  puts back the files already replaced: the set is replaced whole or not at all;
- a device or special file (``/dev/stdout``, a FIFO, anything under ``/dev`` or ``/proc``) is
  written to, never replaced (renaming over ``/dev/stdout`` would replace the symlink); it is
  written last, since what was written to a stream cannot be taken back.

A symlink to a regular file is followed: the file it points to is replaced, the link is kept.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from driftcheck.errors import ReportError, UsageError
from driftcheck.model import DriftReport

Renderer = Callable[[DriftReport], str]
_SPECIAL_ROOTS = ("/dev/", "/proc/")


class ReportFormat(StrEnum):
    """Formats that ``--format`` accepts; each maps to one renderer and one file suffix."""

    JSON = "json"
    HTML = "html"
    MD = "md"
    SARIF = "sarif"

    @property
    def renderer(self) -> Renderer:
        """The function that renders a report in this format."""
        from driftcheck.render import html, json, markdown, sarif

        renderers: dict[ReportFormat, Renderer] = {
            ReportFormat.JSON: json.render,
            ReportFormat.HTML: html.render,
            ReportFormat.MD: markdown.render,
            ReportFormat.SARIF: sarif.render,
        }
        return renderers[self]


def prepare(formats: Sequence[ReportFormat]) -> None:
    """Import the renderers of ``formats`` and compile the HTML template. ``check`` runs this on
    a thread of its own while it waits for the API, so that a short run does not pay for it
    after collecting; rendering itself is unchanged."""
    for fmt in formats:
        fmt.renderer  # noqa: B018 - imported for its side effect
    if ReportFormat.HTML in formats:
        from driftcheck.render import html

        html.prepare()


DEFAULT_FORMATS = "json,html,md"


def parse_formats(text: str) -> list[ReportFormat]:
    """``"json,html"`` -> formats, in order, without repeats."""
    formats: list[ReportFormat] = []
    for part in (piece.strip() for piece in text.split(",")):
        if not part:
            continue
        try:
            fmt = ReportFormat(part)
        except ValueError:
            known = ", ".join(f.value for f in ReportFormat)
            raise UsageError(f"--format: unknown format {part!r} (known: {known})") from None
        if fmt not in formats:
            formats.append(fmt)
    if not formats:
        raise UsageError("--format: name at least one format")
    return formats


def report_stem(environment: str, base_environment: str) -> str:
    """``<ENV>-vs-<BASE>``, the name every report file of a check shares."""
    return f"{environment}-vs-{base_environment}"


def render_reports(
    report: DriftReport, formats: list[ReportFormat], out_dir: Path, stem: str
) -> list[tuple[Path, str]]:
    """Every format rendered, with the path it goes to."""
    return [(out_dir / f"{stem}.{fmt.value}", fmt.renderer(report)) for fmt in formats]


def write_reports(
    report: DriftReport, formats: list[ReportFormat], out_dir: Path, stem: str
) -> list[Path]:
    """Render every format, then write them as one set; return the paths written."""
    return write_outputs(render_reports(report, formats, out_dir, stem))


# Writing a set of outputs ----------------------------------------------------------------------
@dataclass
class _Target:
    """Where one output goes: the path given, the file really replaced, whether it is special."""

    given: Path
    real: Path
    special: bool
    text: str
    staged: str | None = None
    backup: str | None = None
    existed: bool = False
    replaced: bool = False


def _cannot(path: Path, why: str) -> ReportError:
    return ReportError(f"{path}: cannot write: {why}")


def _target(path: Path, text: str) -> _Target:
    """Classify ``path`` without writing: special file, or the regular file to replace."""
    real = Path(os.path.realpath(path))
    try:
        status = os.stat(path)
    except FileNotFoundError:
        status = None
    except OSError as exc:
        raise _cannot(path, exc.strerror or type(exc).__name__) from None
    special_place = str(real).startswith(_SPECIAL_ROOTS) or str(path).startswith(_SPECIAL_ROOTS)
    if status is not None:
        if stat.S_ISDIR(status.st_mode):
            raise _cannot(path, "Is a directory")
        if not stat.S_ISREG(status.st_mode) or special_place:
            return _Target(path, path, special=True, text=text)
    elif special_place:
        raise _cannot(path, "No such device or special file")
    # A regular file is replaced where it is named: a symbolic link there is replaced too, never
    # followed out of the folder it is in.
    return _Target(path, path, special=False, text=text)


def _check(target: _Target) -> None:
    """Refuse, before anything is written, an output that cannot be written."""
    if target.special:
        if not os.access(target.given, os.W_OK):
            raise _cannot(target.given, "Permission denied")
        return
    folder = target.real.parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        raise _cannot(target.given, "Not a directory")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise _cannot(target.given, "Permission denied")
    if target.real.exists() and not os.access(target.real, os.W_OK):
        raise _cannot(target.given, "Permission denied")


def _stage(target: _Target) -> None:
    """Write the text to a temporary file beside the target and flush it to disk."""
    folder = target.real.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{target.real.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise _cannot(target.given, exc.strerror or type(exc).__name__) from None
    target.staged = name
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(target.text)
            handle.flush()
            os.fsync(handle.fileno())
        if target.real.exists():
            os.chmod(name, stat.S_IMODE(os.stat(target.real).st_mode))
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(name, 0o666 & ~umask)
    except OSError as exc:
        raise _cannot(target.given, exc.strerror or type(exc).__name__) from None


def _keep_previous(target: _Target) -> None:
    """Keep the file about to be replaced, so that it can be put back."""
    target.existed = target.real.exists()
    if not target.existed:
        return
    backup = f"{target.staged}.previous"
    try:
        os.link(target.real, backup)
    except OSError:
        shutil.copy2(target.real, backup)
    target.backup = backup


def _roll_back(targets: Sequence[_Target]) -> None:
    """Put back what was replaced, and remove every temporary file."""
    for target in targets:
        with contextlib.suppress(OSError):
            if target.replaced and target.backup is not None:
                os.replace(target.backup, target.real)
            elif target.replaced and not target.existed:
                os.unlink(target.real)
        for leftover in (target.staged, target.backup):
            if leftover is not None:
                with contextlib.suppress(OSError):
                    os.unlink(leftover)


def _write_special(target: _Target) -> None:
    try:
        with open(target.given, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(target.text)
    except OSError as exc:
        raise _cannot(target.given, exc.strerror or type(exc).__name__) from None


def write_outputs(outputs: Sequence[tuple[Path, str]]) -> list[Path]:
    """Write every ``(path, text)`` as one set (see the module docstring); return the paths.

    Raises :class:`ReportError` naming the first output that cannot be written; then no file
    of the set has been replaced.
    """
    targets = [_target(path, text) for path, text in outputs]
    for target in targets:
        _check(target)
    regular = [target for target in targets if not target.special]
    try:
        for target in regular:
            _stage(target)
        for target in regular:
            _keep_previous(target)
        for target in regular:
            assert target.staged is not None  # noqa: S101 - staged just above
            try:
                os.replace(target.staged, target.real)
            except OSError as exc:
                raise _cannot(target.given, exc.strerror or type(exc).__name__) from None
            target.staged = None
            target.replaced = True
    except BaseException:
        _roll_back(regular)
        raise
    for target in regular:
        if target.backup is not None:
            with contextlib.suppress(OSError):
                os.unlink(target.backup)
    for target in targets:
        if target.special:
            _write_special(target)
    return [target.given for target in targets]


def refuse_to_overwrite_evidence(formats: list[ReportFormat], out_dir: Path, stem: str) -> None:
    """Refuse (before writing anything) when a report of this set exists and is not itself a
    reproduction: the report of a ``check`` is evidence and is never replaced by ``diff``."""
    existing = [p for p in (out_dir / f"{stem}.{fmt.value}" for fmt in formats) if p.exists()]
    if existing and not _is_reproduction(out_dir / f"{stem}.json"):
        raise ReportError(
            f"{existing[0]}: a report made by `driftcheck check` is there; diff writes "
            "reproductions elsewhere (choose another --out-dir)"
        )


def _is_reproduction(json_report: Path) -> bool:
    try:
        report = DriftReport.model_validate_json(json_report.read_bytes())
    except (OSError, ValueError):
        return False
    return report.provenance.reproduction_of is not None
