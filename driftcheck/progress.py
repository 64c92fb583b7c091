"""Progress on stderr when it is a terminal (rich); silent otherwise and with --quiet."""

from __future__ import annotations

import sys
import threading
from typing import Any, Protocol


class ProgressTask(Protocol):
    """A unit of progress that can be advanced and resized."""

    def advance(self, amount: int = 1) -> None:
        """Count ``amount`` more done."""

    def grow(self, amount: int) -> None:
        """Add ``amount`` to the total."""


class Progress(Protocol):
    """Something that shows progress."""

    def task(self, description: str, total: int = 0) -> ProgressTask:
        """Start showing a task."""

    def stop(self) -> None:
        """Stop showing progress."""


class _NullTask:
    def advance(self, amount: int = 1) -> None:
        """Nothing to show."""

    def grow(self, amount: int) -> None:
        """Nothing to show."""


class NullProgress:
    """Shows nothing (not a terminal, --quiet, or tests)."""

    def task(self, description: str, total: int = 0) -> ProgressTask:
        """A task that shows nothing."""
        return _NullTask()

    def stop(self) -> None:
        """Nothing to stop."""


class _RichTask:
    def __init__(self, progress: Any, task_id: Any, lock: threading.Lock) -> None:
        self._progress = progress
        self._id = task_id
        self._lock = lock

    def advance(self, amount: int = 1) -> None:
        with self._lock:
            self._progress.advance(self._id, amount)

    def grow(self, amount: int) -> None:
        with self._lock:
            total = self._progress.tasks[self._progress.task_ids.index(self._id)].total or 0
            self._progress.update(self._id, total=total + amount)


class RichProgress:
    """Transient rich progress bars on stderr."""

    def __init__(self, console: Any = None) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=console or Console(stderr=True),
            transient=True,
        )
        self._lock = threading.Lock()
        self._progress.start()

    def task(self, description: str, total: int = 0) -> ProgressTask:
        """A new bar."""
        with self._lock:
            task_id = self._progress.add_task(description, total=total)
        return _RichTask(self._progress, task_id, self._lock)

    def stop(self) -> None:
        """Remove the bars."""
        self._progress.stop()


def progress_for(quiet: bool) -> Progress:
    """Rich progress when stderr is a terminal and not --quiet; otherwise silence."""
    if quiet or not sys.stderr.isatty():
        return NullProgress()
    return RichProgress()
