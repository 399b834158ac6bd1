"""Score and verdict, per target and for the estate.

Impact-weighted, as in InSpec: a blocker weighs 10, a warning 3, an info 1.
A target's score is the weight of its passed findings over the weight of its
judged ones (pass + fail), times 100.  Waived findings, errors and
not-applicable findings do not count either way.  The README documents this.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from readiness.engine import Finding

WEIGHTS = {"blocker": 10, "warning": 3, "info": 1}
TARGET_STATUSES = ("ready", "ready-with-warnings", "not-ready", "unknown")


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

    A failed blocker makes a target not-ready.  A failed warning, or any rule
    that could not be judged, leaves it ready-with-warnings: we do not call a
    machine ready on facts we could not read.  Failed info findings never
    lower the status.  No judged finding at all (or a collection error) is
    unknown.
    """
    if error or not any(f.status in ("pass", "fail", "waived") for f in findings):
        return "unknown"
    if any(f.status == "fail" and f.severity == "blocker" for f in findings):
        return "not-ready"
    if any(f.status == "fail" and f.severity == "warning" for f in findings) or any(
            f.status == "error" for f in findings):
        return "ready-with-warnings"
    return "ready"


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
