"""Score and verdict, per target, per scenario and for the estate.

Impact-weighted, as in InSpec: a blocker weighs 10, a warning 3, an info 1.
A target's score is the weight of its passed findings over the weight of its
judged ones (pass + fail), times 100.  Waived findings, errors and
not-applicable findings do not count either way.  A blocker that could not be
judged makes the verdict `unknown`, never `ready`: the requirement may fail.
The README ("Score and verdict") documents this.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from readiness.engine import STATUSES, Finding

WEIGHTS = {"blocker": 10, "warning": 3, "info": 1}
TARGET_STATUSES = ("ready", "ready-with-warnings", "not-ready", "unknown")
#: A scenario none of whose rules applied to the target; it never lowers the target's status.
NOT_APPLICABLE = "not-applicable"


def target_score(findings: Iterable[Finding]) -> float | None:
    """0-100, or None when nothing was judged."""
    passed = judged = 0
    for finding in findings:
        if finding.status in ("pass", "fail"):
            weight = WEIGHTS[finding.severity]
            judged += weight
            passed += weight if finding.status == "pass" else 0
    return round(100.0 * passed / judged, 1) if judged else None


def target_status(findings: list[Finding], error: str | None) -> str:
    """ready | ready-with-warnings | not-ready | unknown.

    A failed blocker makes a target not-ready, whatever else could not be
    judged.  Otherwise a blocker that could not be judged (status error) makes
    it unknown: that requirement may fail, so neither ready nor "ready with
    warnings" would be true.  A failed warning, or a warning or info rule that
    could not be judged, leaves it ready-with-warnings: we do not call a
    machine ready on facts we could not read.  Failed info findings never
    lower the status.  No judged finding at all (or a collection error) is
    unknown.
    """
    if error or not any(f.status in ("pass", "fail", "waived") for f in findings):
        return "unknown"
    if any(f.status == "fail" and f.severity == "blocker" for f in findings):
        return "not-ready"
    if any(f.status == "error" and f.severity == "blocker" for f in findings):
        return "unknown"
    if any(f.status == "fail" and f.severity == "warning" for f in findings) or any(
            f.status == "error" for f in findings):
        return "ready-with-warnings"
    return "ready"


def finding_counts(findings: Iterable[Finding]) -> dict[str, int]:
    """How many findings have each status (every status present, zero or not)."""
    counts = dict.fromkeys(STATUSES, 0)
    for finding in findings:
        counts[finding.status] += 1
    return counts


def unjudged(findings: Iterable[Finding]) -> list[dict[str, Any]]:
    """The blockers that could not be judged, with the reason: what the honest gate names."""
    return [{"rule_id": f.rule_id, "requirements": f.requirements, "reason": f.message}
            for f in findings if f.status == "error" and f.severity == "blocker"]


def scenario_results(findings: list[Finding], scenarios: list[str], error: str | None) -> list[dict[str, Any]]:
    """Status, score and counts per scenario judged for one target.

    A scenario's findings are those whose rule belongs to it.  A scenario in
    which nothing applied (every finding not-applicable, or no rule for the
    target's roles) is `not-applicable` for the target; an unreachable target
    is `unknown` in every scenario.
    """
    results = []
    for scenario in scenarios:
        mine = [f for f in findings if scenario in f.scenarios]
        if not error and all(f.status == "not-applicable" for f in mine):
            status = NOT_APPLICABLE
        else:
            status = target_status(mine, error)
        results.append({"scenario": scenario, "status": status, "score": None if error else target_score(mine),
                        "counts": finding_counts(mine)})
    return results


def estate_summary(targets: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts per status and the mean score of the targets that have one."""
    counts = {status: 0 for status in TARGET_STATUSES}
    for target in targets:
        counts[target["status"]] += 1
    scores = [t["score"] for t in targets if t["score"] is not None]
    return {
        "targets": len(targets),
        "ready": counts["ready"],
        "ready_with_warnings": counts["ready-with-warnings"],
        "not_ready": counts["not-ready"],
        "unknown": counts["unknown"],
        "score": round(sum(scores) / len(scores), 1) if scores else None,
    }


def scenario_summary(targets: list[dict[str, Any]], scenarios: list[str]) -> list[dict[str, Any]]:
    """Per scenario: the targets it applies to, counted per status, and their mean score.

    Targets for which the scenario is not-applicable are left out of its counts.
    """
    summary = []
    for scenario in scenarios:
        results = [r for t in targets for r in t["scenario_results"]
                   if r["scenario"] == scenario and r["status"] != NOT_APPLICABLE]
        summary.append({"scenario": scenario, **estate_summary(results)})
    return summary
