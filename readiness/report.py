"""Build the report (schema_version 1 of ../shared/spec/report-contract.md).

The report is plain data; every reporter renders this one value, so what a
person sees and what CI gates on never disagree.
"""

from __future__ import annotations

from typing import Any

from readiness import __version__
from readiness.engine import Finding
from readiness.facts import TargetFacts
from readiness.scoring import estate_summary, target_score, target_status

SCHEMA_VERSION = 1


def target_entry(target: TargetFacts, findings: list[Finding]) -> dict[str, Any]:
    """One target's part of the report."""
    counts = {s: sum(1 for f in findings if f.status == s)
              for s in ("pass", "fail", "error", "not-applicable", "waived")}
    return {
        "target": target.uri,
        "name": target.name,
        "roles": target.roles,
        "status": target_status(findings, target.error),
        "score": None if target.error else target_score(findings),
        "error": target.error,
        "duration_s": target.duration_s,
        "counts": counts,
        "notes": target.notes,
        "findings": [f.to_json() for f in findings],
    }


def build_report(entries: list[dict[str, Any]], *, started_at: str, duration_s: float,
                 scenarios: list[str], notes: list[str], rules_count: int,
                 estate: dict[str, Any] | None = None) -> dict[str, Any]:
    """The whole report: tool, run metadata, estate summary, targets, and the estate's own findings."""
    report = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "readiness", "version": __version__},
        "started_at": started_at,
        "duration_s": round(duration_s, 3),
        "scenarios": scenarios,
        "notes": notes,
        "rules": rules_count,
        "summary": estate_summary(entries),
        "targets": entries,
    }
    if estate is not None:
        report["estate"] = estate  # added field: the set's findings, outside the per-target counts
    return report
