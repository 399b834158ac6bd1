"""The console report: failing findings first, each with evidence and remediation.

Colour comes from the dispatcher's decision (--color, NO_COLOR, FORCE_COLOR,
a terminal); without it the same content is plain text, so it reads well in
CI logs and pipes.  Long values are wrapped and indented, never cut: the
evidence is what a person acts on.  What is shown (`--show`) is a display
choice only; what fails the run is decided by the gate flags.
"""

from __future__ import annotations

import json
import sys
import textwrap
from typing import Any

from rich.console import Console
from rich.text import Text

from readiness.reporters.base import Reporter, score_text

STATUS_STYLE = {"ready": "bold green", "ready-with-warnings": "bold yellow", "not-ready": "bold red",
                "unknown": "bold magenta", "not-applicable": "dim"}
FINDING_STYLE = {"fail": "red", "error": "magenta", "waived": "cyan", "pass": "green", "not-applicable": "dim"}
INDENT = " " * 10
PLAIN_WIDTH = 100
GATE_LINES = 10  # an estate can give thousands of gate reasons: the JSON report keeps them all


def evidence_text(value: Any) -> str:
    """A value as one readable string (JSON for structures, with spaces to wrap at)."""
    return value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)


def wrap(text: str, width: int, indent: str, hang: str = "    ") -> list[str]:
    """Wrapped lines, every one indented; continuation lines hang further in.  Nothing is dropped."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        lines += textwrap.wrap(paragraph, width=max(width, len(indent) + 20), initial_indent=indent,
                               subsequent_indent=indent + hang, break_on_hyphens=False) or [indent]
    return lines


class ConsoleReporter(Reporter):
    def begin(self, header: dict[str, Any]) -> None:
        color = self.options.color
        self.console = Console(file=None if self.out is sys.stdout else self.out, no_color=not color,
                               force_terminal=color, highlight=False, soft_wrap=True, emoji=False)
        self.width = self.options.width or (self.console.width if color else PLAIN_WIDTH)

    def _line(self, *parts: tuple[str, str]) -> None:
        text = Text()
        for content, style in parts:
            text.append(content, style=style or None)
        if text.cell_len <= self.width:
            self.console.print(text)
            return
        for number, line in enumerate(text.wrap(self.console, self.width - 4, overflow="fold")):
            self.console.print(line if number == 0 else Text("    ") + line)  # long headers: wrapped, not cut

    def _wrapped(self, text: str, style: str = "", indent: str = INDENT) -> None:
        for line in wrap(text, self.width, indent):
            self._line((line, style))

    def add(self, entry: dict[str, Any]) -> None:
        show_all = self.options.show == "all"
        status = entry["status"]
        self.console.print()
        self._line((entry["name"], "bold"), (f"  {entry['target']}  roles: {', '.join(entry['roles']) or '-'}  ", ""),
                   (status.upper(), STATUS_STYLE[status]), (f"  score {score_text(entry['score'])}", ""))
        results = entry.get("scenario_results") or []
        if results:
            parts: list[tuple[str, str]] = [("  scenarios:", "")]
            for result in results:
                parts += [(f" {result['scenario']} ", ""), (result["status"].upper(), STATUS_STYLE[result["status"]]),
                          (f" {score_text(result.get('score'))};", "")]
            self._line(*parts)
        if entry["error"]:
            self._wrapped(f"cannot judge: {entry['error']}", "magenta", "  ")
        for item in entry.get("unjudged") or []:
            self._wrapped(f"unjudged blocker {item['rule_id']} {' '.join(item['requirements'])}: {item['reason']}",
                          "magenta", "  ")
        for note in entry.get("notes") or []:
            self._wrapped(f"note: {note}", "yellow", "  ")
        hidden = 0
        for finding in entry["findings"]:
            if finding["status"] in ("pass", "not-applicable") and not show_all:
                hidden += 1
                continue
            self._finding(finding)
        if hidden:
            counts = entry.get("counts", {})
            self._line((f"  {counts.get('pass', 0)} passed, {counts.get('not-applicable', 0)} not applicable "
                        "(--show all lists them)", "dim"))

    def _finding(self, finding: dict[str, Any]) -> None:
        status = finding["status"]
        mark = f"  [{finding['baseline']}]" if finding.get("baseline") else ""
        self._line((f"  {status.upper():<7}", FINDING_STYLE[status]),
                   (f" {finding['severity']:<8} {finding['rule_id']} {' '.join(finding['requirements'])}  "
                    f"{finding['title']}", ""), (mark, "bold yellow" if finding.get("baseline") == "new" else "dim"))
        self._wrapped(finding["message"])
        if finding["evidence"] and status != "pass":
            self._line((f"{INDENT}evidence:", "dim"))
            for key, value in finding["evidence"].items():
                self._wrapped(f"{key} = {evidence_text(value)}", "dim", INDENT + "  ")
        if status == "waived" and finding.get("waiver"):
            self._wrapped(f"waived: {finding['waiver']['justification']}", "cyan")
        elif status == "fail":
            self._wrapped(f"fix: {finding['remediation']}", "bold")
            if finding.get("remediation_command"):
                self._wrapped(f"$ {finding['remediation_command']}", "bold")

    def end(self, report: dict[str, Any]) -> None:
        if report.get("estate"):
            self.add(report["estate"])
        summary = report["summary"]
        self.console.print()
        self._line(("Summary:", "bold"), (
            f" {summary['targets']} target(s): {summary['ready']} ready, {summary['ready_with_warnings']} ready "
            f"with warnings, {summary['not_ready']} not ready, {summary['unknown']} unknown; estate score "
            f"{score_text(summary['score'])}; {report.get('rules', 0)} rules, {report.get('duration_s', 0):.1f} s", ""))
        for row in report.get("scenario_summary") or []:
            self._line((f"  {row['scenario']}:", "bold"), (
                f" {row['ready']} ready, {row['ready_with_warnings']} with warnings, {row['not_ready']} not ready, "
                f"{row['unknown']} unknown of {row['targets']}; score {score_text(row.get('score'))}", ""))
        baseline = report.get("baseline")
        if baseline:
            self._wrapped(f"Against baseline {baseline['report']}: {baseline['new']} new, {baseline['unchanged']} "
                          f"unchanged, {baseline['fixed']} fixed failure(s)", "bold", "")
        gate = report.get("gate") or {}
        reasons = gate.get("reasons") or []
        for reason in reasons[:GATE_LINES]:
            self._wrapped(f"gate: {reason}", "bold red" if gate.get("exit_code") else "", "")
        if len(reasons) > GATE_LINES:
            self._line((f"gate: ... and {len(reasons) - GATE_LINES} more reason(s) (the JSON report has all)", ""))
        for note in report.get("notes") or []:
            self._wrapped(f"note: {note}", "yellow", "")
