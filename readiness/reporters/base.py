"""The one contract every reporter follows: a report streamed in three calls.

`begin(header)` gets the run metadata (tool, start time, scenarios, rules);
`add(entry)` gets one target's entry, findings included, as soon as it is
judged; `end(report)` gets the finished report value, whose `targets` may
have been stripped of their findings (they were already streamed).  A
reporter writes to the text stream it is given and never chooses where that
stream goes: the dispatcher does (file, standard output, terminal), and it
alone decides whether colour is allowed.  Streaming is what keeps memory
flat on a 2,000-machine estate (only one target's findings are alive at a
time); `render` drives the same calls over a complete report value, for a
caller that has one (tests, `readiness diff`).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TextIO

HEADER_KEYS = ("schema_version", "tool", "started_at", "scenarios", "rules")


@dataclass(frozen=True)
class RenderOptions:
    """Display choices only; what fails a run is the gate's business."""

    show: str = "failed"     # console: failed/error/waived findings, or "all"
    color: bool = False      # the dispatcher decides (--color, NO_COLOR, FORCE_COLOR, a TTY)
    width: int | None = None  # console width; None: 100 columns when not a terminal


class Reporter:
    """Base class: subclasses override the three calls they need."""

    def __init__(self, out: TextIO, options: RenderOptions) -> None:
        self.out = out
        self.options = options

    def begin(self, header: dict[str, Any]) -> None:
        """The run metadata, before any target."""

    def add(self, entry: dict[str, Any]) -> None:
        """One judged target, findings included."""

    def end(self, report: dict[str, Any]) -> None:
        """The finished report: summary, estate entry, scenario summary, gate, notes, baseline."""


def header_of(report: dict[str, Any]) -> dict[str, Any]:
    """The fields known before judging starts."""
    return {key: report[key] for key in HEADER_KEYS if key in report}


def render(reporter: type[Reporter], report: dict[str, Any], options: RenderOptions | None = None) -> str:
    """A complete report value rendered to text by one reporter class."""
    buffer = io.StringIO()
    instance = reporter(buffer, options or RenderOptions())
    instance.begin(header_of(report))
    for entry in report["targets"]:
        instance.add(entry)
    instance.end(report)
    return buffer.getvalue()


def score_text(score: float | None) -> str:
    return "-" if score is None else f"{score:.1f}"


def every_target(report: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The targets, then the estate entry when there is one."""
    yield from report["targets"]
    if report.get("estate"):
        yield report["estate"]


def is_failure(finding: dict[str, Any]) -> bool:
    """A finding that asks for work: a failed blocker or warning (an info finding never lowers a status)."""
    return finding["status"] == "fail" and finding["severity"] in ("blocker", "warning")
