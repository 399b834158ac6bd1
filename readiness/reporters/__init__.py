"""Reporters: one module per output format, chosen InSpec-style.

`--reporter cli json:out.json junit:out.xml html:out.html`; `json:-` writes to
standard output.  Reporters only render the report value; they never judge.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from readiness.errors import UsageError

FORMATS = {
    "cli": "readiness.reporters.console:render",
    "json": "readiness.reporters.json_report:render",
    "junit": "readiness.reporters.junit:render",
    "html": "readiness.reporters.html:render",
}


@dataclass(frozen=True)
class ReporterSpec:
    """A format and where it goes (None: the terminal, "-": standard output)."""

    format: str
    path: str | None


def parse_reporter(text: str) -> ReporterSpec:
    fmt, _, path = text.partition(":")
    if fmt not in FORMATS:
        raise UsageError(f"unknown reporter {fmt!r} (known: {', '.join(FORMATS)}); use FORMAT or FORMAT:PATH")
    if fmt != "cli" and not path:
        raise UsageError(f"reporter {fmt} needs a destination: {fmt}:PATH or {fmt}:- for standard output")
    return ReporterSpec(fmt, path or None)


def check_destinations(specs: list[ReporterSpec]) -> None:
    """Fail before scanning when a report could not be written afterwards."""
    for spec in specs:
        if spec.path in (None, "-"):
            continue
        path = Path(spec.path)
        parent = path.parent if str(path.parent) else Path(".")
        if path.is_dir():
            raise UsageError(f"cannot write {spec.format} report to {path}: it is a directory")
        if not parent.is_dir():
            raise UsageError(f"cannot write {spec.format} report to {path}: no directory {parent}")
        try:
            with path.open("a"):
                pass
        except OSError as exc:
            raise UsageError(f"cannot write {spec.format} report to {path}: {exc.strerror}") from None


def emit(specs: list[ReporterSpec], report: dict[str, Any], options: dict[str, Any]) -> None:
    """Render the report with every requested reporter."""
    for spec in specs:
        module_name, _, func = FORMATS[spec.format].partition(":")
        render = getattr(importlib.import_module(module_name), func)
        if spec.format == "cli" and spec.path in (None, "-"):
            render(report, None, options)
            continue
        text = render(report, spec.path, options)
        if spec.path == "-":
            print(text)
            continue
        try:
            Path(spec.path).write_text(text, encoding="utf-8")  # type: ignore[arg-type]
        except OSError as exc:
            raise UsageError(f"cannot write {spec.format} report to {spec.path}: {exc.strerror}") from None
