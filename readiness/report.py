"""Build the report (schema_version 1 of ../shared/spec/report-contract.md).

The report is plain data; every reporter renders this one value, so what a
person sees and what CI gates on never disagree.
"""

from __future__ import annotations

from typing import Any

from readiness import __version__
from readiness.engine import Finding
from readiness.facts import TargetFacts
from readiness.scoring import (
    estate_summary,
    finding_counts,
    scenario_results,
    scenario_summary,
    target_score,
    target_status,
    unjudged,
)

SCHEMA_VERSION = 1


def target_entry(target: TargetFacts, findings: list[Finding], scenarios: list[str] | None = None) -> dict[str, Any]:
    """One target's part of the report: overall verdict, verdict per judged scenario, unjudged blockers.

    A target read well but given no rule at all (no rule of the selected scenarios is for its roles) is
    `unknown`, and `error` says why, as for a target that could not be read.  `scenarios` are those judged
    for it (default: the scenarios of the rules that judged it).
    """
    if scenarios is None:  # the scenarios of the rules that judged it
        scenarios = sorted({scenario for finding in findings for scenario in finding.scenarios})
    error = target.error
    if error is None and not findings:
        error = (f"nothing to judge: no rule of {', '.join(scenarios) or 'any scenario'} is for the role(s) "
                 f"{', '.join(target.roles) or '(none)'}")
    return {
        "target": target.uri,
        "name": target.name,
        "roles": target.roles,
        "status": target_status(findings, error),
        "score": None if error else target_score(findings),
        "error": error,
        "duration_s": target.duration_s,
        "counts": finding_counts(findings),
        "scenario_results": scenario_results(findings, scenarios, target.error),
        "unjudged": unjudged(findings),
        "notes": target.notes,
        "findings": [f.to_json() for f in findings],
    }


def report_header(*, started_at: str, scenarios: list[str], rules_count: int) -> dict[str, Any]:
    """What is known before the first target is judged (reporters write it first)."""
    return {"schema_version": SCHEMA_VERSION, "tool": {"name": "readiness", "version": __version__},
            "started_at": started_at, "scenarios": scenarios, "rules": rules_count}


def build_report(entries: list[dict[str, Any]], *, started_at: str, duration_s: float,
                 scenarios: list[str], notes: list[str], rules_count: int,
                 estate: dict[str, Any] | None = None) -> dict[str, Any]:
    """The whole report: tool, run metadata, estate summary, targets, and the estate's own findings.

    `scenarios` are the selected scenarios (or, with none selected, every scenario of the catalog); the
    scenario summary covers those that at least one target was judged in.
    """
    judged = {r["scenario"] for e in entries for r in e.get("scenario_results", [])}
    report = {
        **report_header(started_at=started_at, scenarios=scenarios, rules_count=rules_count),
        "duration_s": round(duration_s, 3),
        "notes": notes,
        "summary": estate_summary(entries),
        "scenario_summary": scenario_summary(entries, [s for s in scenarios if s in judged]),
        "targets": entries,
    }
    if estate is not None:
        report["estate"] = estate  # added field: the set's findings, outside the per-target counts
    return report
