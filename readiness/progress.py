"""A live progress bar for estate scans: done / total with ready, not-ready and unknown counts.

Only on a terminal (stderr is a TTY and NO_COLOR/TERM=dumb do not forbid it):
a CI log or a redirected stderr gets nothing, so reports and logs stay clean.
The bar is transient; the report itself is what remains.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def wanted(stream: Any = None) -> bool:
    stream = stream or sys.stderr
    return bool(getattr(stream, "isatty", lambda: False)()) and os.environ.get("TERM") != "dumb"


class ScanProgress:
    """Counts targets by outcome as their report entries arrive."""

    def __init__(self, total: int, enabled: bool | None = None) -> None:
        self.total = total
        self.counts: Counter[str] = Counter()
        self.enabled = wanted() if enabled is None else enabled
        self._progress: Progress | None = None
        self._task: Any = None

    def __enter__(self) -> ScanProgress:
        if self.enabled:
            self._progress = Progress(
                TextColumn("scanning"), BarColumn(), MofNCompleteColumn(),
                TextColumn("[green]ok {task.fields[ok]}[/] [red]not-ready {task.fields[bad]}[/] "
                           "[yellow]unknown {task.fields[unknown]}[/]"),
                TimeElapsedColumn(), console=Console(stderr=True), transient=True)
            self._progress.start()
            self._task = self._progress.add_task("scan", total=self.total, ok=0, bad=0, unknown=0)
        return self

    def advance(self, entry: dict[str, Any]) -> None:
        """One target's report entry is ready."""
        status = entry.get("status", "unknown")
        key = {"ready": "ok", "ready-with-warnings": "ok", "not-ready": "bad"}.get(status, "unknown")
        self.counts[key] += 1
        if self._progress is not None:
            done = sum(self.counts.values())
            self._progress.update(self._task, completed=done, total=max(self.total, done),
                                  ok=self.counts["ok"], bad=self.counts["bad"], unknown=self.counts["unknown"])

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._progress is not None:
            self._progress.stop()
