"""A report written to a device or a FIFO (`--reporter json:/dev/null`, a named pipe) is written in place.

Regular files are written beside their name and moved into place when complete; doing that to /dev/null
replaced the device with a regular file (as root), after which every `2>/dev/null` on the machine failed.
A FIFO stands in for /dev/null here: the same kind of path, and a regression cannot break the test machine.
"""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

from readiness.report import build_report, report_header
from readiness.reporters import OutputOptions, ReportStream, parse_reporters


def write_report(specs: list[str]) -> None:
    with ReportStream(parse_reporters(specs), OutputOptions()) as stream:
        stream.begin(report_header(started_at="2026-12-02T00:00:00Z", scenarios=[], rules_count=0))
        stream.end(build_report([], started_at="2026-12-02T00:00:00Z", duration_s=0.0, scenarios=[], notes=[],
                                rules_count=0))


def test_a_fifo_stays_a_fifo_and_gets_the_report(tmp_path: Path) -> None:
    fifo = tmp_path / "report.pipe"
    os.mkfifo(fifo)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()), daemon=True)
    reader.start()
    write_report([f"json:{fifo}", f"json:{tmp_path / 'r.json'}"])
    reader.join(timeout=30)
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert json.loads(received[0]) == json.loads((tmp_path / "r.json").read_text())
    assert not list(tmp_path.glob(".*.partial"))

