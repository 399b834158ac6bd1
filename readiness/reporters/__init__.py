"""Reporters: one module per output format, chosen InSpec-style, one spec per `--reporter`.

`--reporter cli --reporter json:out.json --reporter sarif:out.sarif`; `json:-`
writes to standard output.  At most one reporter writes to standard output
(InSpec's rule): `cli` (the terminal) and `json:-` together are a usage error,
so a pipe never gets two formats interleaved.  Reporters only render the
report; this module alone decides where their text goes and whether colour is
allowed, and it streams each judged target to every reporter as it arrives.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

from readiness.errors import UsageError
from readiness.reporters.base import RenderOptions, Reporter

log = logging.getLogger(__name__)

FORMATS = {
    "cli": "readiness.reporters.console:ConsoleReporter",
    "json": "readiness.reporters.json_report:JsonReporter",
    "junit": "readiness.reporters.junit:JUnitReporter",
    "html": "readiness.reporters.html:HtmlReporter",
    "sarif": "readiness.reporters.sarif:SarifReporter",
    "capacity-csv": "readiness.reporters.capacity_csv:CapacityCsvReporter",
}
COLOR_MODES = ("auto", "always", "never")


@dataclass(frozen=True)
class ReporterSpec:
    """A format and where it goes (None: the terminal, "-": standard output)."""

    format: str
    path: str | None

    @property
    def to_stdout(self) -> bool:
        return self.path in (None, "-")

    def __str__(self) -> str:
        return self.format if self.path is None else f"{self.format}:{self.path}"


@dataclass(frozen=True)
class OutputOptions:
    """What the CLI decided about display: --show, --color, and the baseline to compare with."""

    show: str = "failed"
    color: str = "auto"
    baseline: Any = None  # readiness.baseline.Baseline, or None


def parse_reporter(text: str) -> ReporterSpec:
    """One `--reporter` value: FORMAT or FORMAT:PATH."""
    if "://" in text:
        raise UsageError(f"--reporter {text!r} looks like a target URI, not a reporter: give FORMAT or FORMAT:PATH "
                         "to each --reporter, and targets as arguments (readiness scan ssh://root@host "
                         "--reporter cli --reporter json:r.json)")
    fmt, _, path = text.partition(":")
    if fmt not in FORMATS:
        raise UsageError(f"unknown reporter {fmt!r} (known: {', '.join(FORMATS)}); use FORMAT or FORMAT:PATH, "
                         "one per --reporter")
    if fmt != "cli" and not path:
        raise UsageError(f"reporter {fmt} needs a destination: {fmt}:PATH or {fmt}:- for standard output")
    return ReporterSpec(fmt, path or None)


def parse_reporters(texts: list[str]) -> list[ReporterSpec]:
    """Every `--reporter` (default: cli), checked together: one standard output, one reporter per file."""
    specs = [parse_reporter(t) for t in texts or ["cli"]]
    on_stdout = [str(s) for s in specs if s.to_stdout]
    if len(on_stdout) > 1:
        raise UsageError(f"only one reporter may write to standard output, got {' and '.join(on_stdout)}: "
                         "write the others to files (FORMAT:PATH)")
    paths = [str(Path(s.path).resolve()) for s in specs if not s.to_stdout]  # type: ignore[arg-type]
    if len(paths) != len(set(paths)):
        raise UsageError("two reporters write to the same file: give each its own PATH")
    check_destinations(specs)
    return specs


def check_destinations(specs: list[ReporterSpec]) -> None:
    """Fail before scanning when a report could not be written afterwards."""
    for spec in specs:
        if spec.to_stdout:
            continue
        path = Path(spec.path)  # type: ignore[arg-type]
        parent = path.parent if str(path.parent) else Path(".")
        if path.is_dir():
            raise UsageError(f"cannot write {spec.format} report to {path}: it is a directory")
        if not parent.is_dir():
            raise UsageError(f"cannot write {spec.format} report to {path}: no directory {parent}")
        if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
            raise UsageError(f"cannot write {spec.format} report to {path}: permission denied")


def use_color(mode: str, stream: TextIO, environ: dict[str, str] | None = None) -> bool:
    """--color always/never win; under auto, NO_COLOR forbids, FORCE_COLOR forces, else only on a terminal.

    NO_COLOR (no-color.org) and FORCE_COLOR (force-color.org) count when set to a non-empty value;
    FORCE_COLOR=0 or false does not force.
    """
    env = os.environ if environ is None else environ
    if mode != "auto":
        return mode == "always"
    if env.get("NO_COLOR"):
        return False
    if env.get("FORCE_COLOR", "").lower() not in ("", "0", "false"):
        return True
    return bool(getattr(stream, "isatty", lambda: False)()) and env.get("TERM") != "dumb"


def reporter_class(fmt: str) -> type[Reporter]:
    module_name, _, class_name = FORMATS[fmt].partition(":")
    return getattr(importlib.import_module(module_name), class_name)  # type: ignore[no-any-return]


def _special(path: Path) -> bool:
    """Whether the report goes to an existing device or FIFO (`json:/dev/null`, a pipe): written in place, since
    moving a finished file over it would replace /dev/null itself with a regular file (as root, it did)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


class ReportStream:
    """Fans one streamed report out to every requested reporter and owns their files.

    Files are written beside their final name and moved into place only when the
    report is complete, so an interrupted run never leaves a half report behind.
    """

    def __init__(self, specs: list[ReporterSpec], options: OutputOptions | None = None) -> None:
        self.specs = specs
        self.options = options or OutputOptions()
        self._files: list[tuple[TextIO, Path, Path]] = []
        self._devices: list[TextIO] = []  # reports written straight into a device or FIFO
        self._reporters: list[Reporter] = []

    def __enter__(self) -> ReportStream:
        try:
            self._open()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _open(self) -> None:
        for spec in self.specs:
            stream: TextIO
            if spec.to_stdout:
                stream = sys.stdout
            else:
                final = Path(spec.path)  # type: ignore[arg-type]
                if _special(final):  # /dev/null, a FIFO: written in place (a rename would replace the device)
                    try:
                        stream = final.open("w", encoding="utf-8")
                    except OSError as exc:
                        raise UsageError(f"cannot write {spec.format} report to {final}: {exc.strerror}") from None
                    self._devices.append(stream)
                else:
                    partial = final.with_name(f".{final.name}.partial")
                    try:
                        stream = partial.open("w", encoding="utf-8")
                    except OSError as exc:
                        raise UsageError(f"cannot write {spec.format} report to {final}: {exc.strerror}") from None
                    self._files.append((stream, partial, final))
            color = use_color(self.options.color, stream) if spec.format == "cli" else False
            log.debug("reporter %s (colour %s)", spec, "on" if color else "off")
            self._reporters.append(reporter_class(spec.format)(stream, RenderOptions(show=self.options.show,
                                                                                       color=color)))

    def begin(self, header: dict[str, Any]) -> None:
        for reporter in self._reporters:
            reporter.begin(header)

    def add(self, entry: dict[str, Any]) -> None:
        """One judged target: marked against the baseline, then handed to every reporter."""
        log.info("%s (%s): %s, score %s", entry["name"], entry["target"], entry["status"], entry["score"])
        if self.options.baseline is not None:
            self.options.baseline.mark(entry)
        for reporter in self._reporters:
            reporter.add(entry)

    def end(self, report: dict[str, Any]) -> None:
        if self.options.baseline is not None:
            if report.get("estate"):
                self.options.baseline.mark(report["estate"])
            report["baseline"] = self.options.baseline.summary()
        for reporter in self._reporters:
            reporter.end(report)
        for device in self._devices:
            device.close()
        self._devices = []
        for stream, partial, final in self._files:
            stream.close()
            os.replace(partial, final)
            log.info("wrote %s", final)
        self._files = []
        sys.stdout.flush()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        for device in self._devices:
            with contextlib.suppress(OSError):
                device.close()
        for stream, partial, _ in self._files:  # only left when the report did not finish
            stream.close()
            with contextlib.suppress(OSError):
                partial.unlink()
