"""A self-contained HTML report (jinja2, autoescaped; inline CSS and JS, works offline).

A verdict banner (estate status, score, counts per status and per scenario),
an overview table of every machine that sorts and filters in the page (the
filter is also read from `?filter=`), then the findings grouped by machine
with evidence, rationale, remediation and source; passes and not-applicable
findings are collapsed, and carry no remediation.  Streamed: each machine's
section is rendered as it is judged into a spool file, and the page is
assembled at the end, once the banner's figures are known.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from jinja2 import Environment, select_autoescape

from readiness.reporters.base import Reporter, is_failure
from readiness.reporters.spool import Spool


@cache
def macros() -> Any:
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True), trim_blocks=True,
                      lstrip_blocks=True)
    source = resources.files("readiness.reporters").joinpath("report.html.j2").read_text(encoding="utf-8")
    return env.from_string(source).module


def estate_status(report: dict[str, Any]) -> str:
    """The estate in one word: not-ready if any machine (or the estate's own rules) is, unknown if none was judged."""
    summary = report["summary"]
    estate = report.get("estate") or {}
    if summary["not_ready"] or estate.get("status") == "not-ready":
        return "not-ready"
    if summary["targets"] and summary["unknown"] == summary["targets"]:
        return "unknown"
    if summary["ready_with_warnings"] or summary["unknown"] or estate.get("status") == "ready-with-warnings":
        return "ready-with-warnings"
    return "ready"


def _search_text(entry: dict[str, Any]) -> str:
    """What the in-page filter matches: names, statuses, scenario verdicts, failing rule and requirement IDs."""
    words = [entry["name"], entry["target"], entry["status"], *entry["roles"]]
    words += [f"{r['scenario']}:{r['status']}" for r in entry.get("scenario_results") or []]
    words += [w for f in entry["findings"] if f["status"] in ("fail", "error")
              for w in (f["rule_id"], *f["requirements"])]
    return " ".join(words).lower()


class HtmlReporter(Reporter):
    def begin(self, header: dict[str, Any]) -> None:
        self._rows = Spool()
        self._sections = Spool()
        self._scenarios: dict[str, None] = dict.fromkeys(header.get("scenarios") or [])
        self._seen: dict[str, None] = {}
        self._count = 0

    def add(self, entry: dict[str, Any]) -> None:
        self._count += 1
        anchor = f"m{self._count}"
        search = _search_text(entry)
        results = {r["scenario"]: r["status"] for r in entry.get("scenario_results") or []}
        self._seen.update(dict.fromkeys(results))
        row = {"anchor": anchor, "name": entry["name"], "target": entry["target"], "status": entry["status"],
               "score": entry["score"], "error": entry["error"], "scenarios": results, "search": search,
               "blockers": sum(is_failure(f) and f["severity"] == "blocker" for f in entry["findings"])}
        self._rows.write(json.dumps(row) + "\n")
        self._sections.write(str(macros().machine(entry, anchor, search)) + "\n")

    def end(self, report: dict[str, Any]) -> None:
        status = estate_status(report)
        # The scenarios judged, in the order the run selected them, then any other seen.
        scenarios = [s for s in self._scenarios if s in self._seen] + [s for s in self._seen
                                                                      if s not in self._scenarios]
        m = macros()
        self.out.write(str(m.page_start(report, status)) + str(m.banner(report, status)))
        self.out.write(str(m.overview_start(scenarios)))
        self._rows.copy_to(_RowRenderer(self.out, scenarios))
        self.out.write(str(m.overview_end()))
        if report.get("capacity"):
            self.out.write(str(m.capacity(report["capacity"])))
        self._sections.copy_to(self.out)
        if report.get("estate"):
            self.out.write(str(m.machine(report["estate"], "estate", _search_text(report["estate"]))))
        self.out.write(str(m.page_end()) + "\n")


class _RowRenderer:
    """A file-like sink that turns spooled JSON rows into table rows as they are copied out."""

    def __init__(self, out: Any, scenarios: list[str]) -> None:
        self.out = out
        self.scenarios = scenarios
        self._pending = ""

    def write(self, chunk: str) -> None:
        lines = (self._pending + chunk).split("\n")
        self._pending = lines.pop()
        for line in lines:
            if line:
                self.out.write(str(macros().row(json.loads(line), self.scenarios)) + "\n")
