"""The gate: the exit code a report earns, a pure function of the report and the gate options.

Exit codes follow the report contract: 0 gate passed, 1 gate failed, 2 usage or input error, 3 nothing judged.
As in Checkov, `--soft-fail` turns any gate outcome into exit 0 without touching the report; the outcome and
its reasons are still recorded in the report's `gate`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

EXIT_OK, EXIT_GATE, EXIT_USAGE, EXIT_NOTHING = 0, 1, 2, 3
FAIL_ON = ("blocker", "warning", "error")


@dataclass(frozen=True)
class GateOptions:
    """The gate flags, resolved once by the command line.

    fail_on: `blocker` fails on a not-ready target; `warning` also on ready-with-warnings; `error` also on any
    finding that could not be judged, whatever its severity.  allow_unjudged: a blocker that could not be
    judged does not fail the gate (by default it does).  soft_fail: exit 0 whatever the gate says.
    """

    fail_on: str = "blocker"
    fail_under: float | None = None
    allow_unjudged: bool = False
    soft_fail: bool = False


@dataclass(frozen=True)
class GateResult:
    """The exit code, why the gate failed (empty when it passed), and what was not judged (for stderr)."""

    exit_code: int
    reasons: list[str] = field(default_factory=list)
    unjudged: list[str] = field(default_factory=list)

    def record(self, options: GateOptions) -> dict[str, Any]:
        """The report's `gate` entry."""
        return {"fail_on": options.fail_on, "fail_under": options.fail_under,
                "allow_unjudged": options.allow_unjudged, "soft_fail": options.soft_fail,
                "exit_code": self.exit_code, "reasons": self.reasons}


def _judged_nothing(target: dict[str, Any]) -> bool:
    """Unreachable, refused or unreadable (an `error`), or not one finding judged."""
    counts = target.get("counts") or {}
    return bool(target["error"]) or not any(counts.get(s) for s in ("pass", "fail", "waived"))


def _unjudged_lines(entries: list[dict[str, Any]]) -> list[str]:
    lines = []
    for target in entries:
        for item in target.get("unjudged") or []:
            lines.append(f"{target['target']}: {', '.join(item['requirements'])} ({item['rule_id']}) not judged: "
                         f"{item['reason']}")
    return lines


def gate(report: dict[str, Any], options: GateOptions) -> GateResult:
    """The exit code the report earns, with the reasons."""
    targets = report["targets"]
    entries = [*targets, *([report["estate"]] if report.get("estate") else [])]
    unjudged = _unjudged_lines(entries)
    if targets and all(_judged_nothing(t) for t in targets):
        code, reasons = EXIT_NOTHING, ["nothing could be judged: every target was unreachable or yielded no facts"]
    else:
        reasons = [f"{t['target']} is not-ready" for t in entries if t["status"] == "not-ready"]
        if options.fail_on == "warning":
            reasons += [f"{t['target']} is ready-with-warnings (--fail-on warning)" for t in entries
                        if t["status"] == "ready-with-warnings"]
        if options.fail_on == "error":
            reasons += [f"{t['target']}: {t['counts']['error']} finding(s) could not be judged (--fail-on error)"
                        for t in entries if (t.get("counts") or {}).get("error")]
        if options.fail_under is not None:
            reasons += [f"{t['target']} scores {t['score']}, under --fail-under {options.fail_under:g}"
                        for t in targets if t["score"] is not None and t["score"] < options.fail_under]
        if not options.allow_unjudged:
            reasons += [f"blocker not judged: {line} (--allow-unjudged accepts this)" for line in unjudged]
        code = EXIT_GATE if reasons else EXIT_OK
    return GateResult(exit_code=EXIT_OK if options.soft_fail else code, reasons=reasons, unjudged=unjudged)
