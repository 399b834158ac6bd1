"""The console report: failing findings first, each with evidence and remediation.

Colour and layout come from rich on a terminal; when standard output is not
a TTY, or NO_COLOR is set, the same content is printed as plain text, so it
reads well in CI logs and pipes.  What is shown (`--show`) is a display
choice only; what fails the run is decided by the gate flags.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape

STATUS_STYLE = {"ready": "bold green", "ready-with-warnings": "bold yellow", "not-ready": "bold red",
                "unknown": "bold magenta"}
FINDING_STYLE = {"fail": "red", "error": "magenta", "waived": "cyan", "pass": "green", "not-applicable": "dim"}
EVIDENCE_WIDTH = 160


def _evidence(evidence: dict[str, Any]) -> str:
    parts = []
    for key, value in evidence.items():
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        parts.append(f"{key}={text if len(text) <= 60 else text[:57] + '...'}")
    line = "; ".join(parts)
    return line if len(line) <= EVIDENCE_WIDTH else line[:EVIDENCE_WIDTH - 3] + "..."


def render(report: dict[str, Any], path: str | None, options: dict[str, Any]) -> str | None:
    """Print to the terminal (path None) or return plain text for a file."""
    plain = path is not None or not sys.stdout.isatty() or "NO_COLOR" in os.environ
    console = Console(no_color=plain, highlight=False, soft_wrap=True,
                      force_terminal=False if plain else None, record=path is not None,
                      file=open(os.devnull, "w") if path is not None else None)  # noqa: SIM115
    show_all = options.get("show") == "all"
    for target in [*report["targets"], *([report["estate"]] if report.get("estate") else [])]:
        score = "-" if target["score"] is None else f"{target['score']:.1f}"
        style = STATUS_STYLE[target["status"]]
        console.print(f"\n[bold]{escape(target['name'])}[/bold]  {escape(target['target'])}  "
                      f"roles: {escape(', '.join(target['roles']) or '-')}  "
                      f"[{style}]{target['status'].upper()}[/{style}]  score {score}")
        if target["error"]:
            console.print(f"  [magenta]cannot judge:[/magenta] {escape(target['error'])}")
        for note in target.get("notes", []):
            console.print(f"  [yellow]note:[/yellow] {escape(note)}")
        hidden = 0
        for finding in target["findings"]:
            if finding["status"] in ("pass", "not-applicable") and not show_all:
                hidden += 1
                continue
            fstyle = FINDING_STYLE[finding["status"]]
            console.print(f"  [{fstyle}]{finding['status'].upper():<7}[/{fstyle}] {finding['severity']:<8} "
                          f"{finding['rule_id']} {escape(' '.join(finding['requirements']))}  "
                          f"{escape(finding['title'])}")
            console.print(f"          {escape(finding['message'])}")
            if finding["evidence"] and finding["status"] != "pass":
                console.print(f"          [dim]evidence: {escape(_evidence(finding['evidence']))}[/dim]")
            if finding["status"] in ("fail", "waived"):
                if finding["status"] == "waived" and finding.get("waiver"):
                    console.print(f"          [cyan]waived:[/cyan] {escape(finding['waiver']['justification'])}")
                else:
                    console.print(f"          [bold]fix:[/bold] {escape(finding['remediation'])}")
                    if finding.get("remediation_command"):
                        console.print(f"          [bold]$[/bold] {escape(finding['remediation_command'])}")
        counts = target.get("counts", {})
        if hidden:
            console.print(f"  [dim]{counts.get('pass', 0)} passed, {counts.get('not-applicable', 0)} not "
                          "applicable (--show all lists them)[/dim]")
    summary = report["summary"]
    score = "-" if summary["score"] is None else f"{summary['score']:.1f}"
    console.print(f"\n[bold]Summary:[/bold] {summary['targets']} target(s): {summary['ready']} ready, "
                  f"{summary['ready_with_warnings']} ready with warnings, {summary['not_ready']} not ready, "
                  f"{summary['unknown']} unknown; estate score {score}; {report.get('rules', 0)} rules, "
                  f"{report['duration_s']:.1f} s")
    for note in report.get("notes", []):
        console.print(f"[yellow]note:[/yellow] {escape(note)}")
    return console.export_text() if path is not None else None
