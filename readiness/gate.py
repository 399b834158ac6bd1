"""The gate: the exit code a report earns, a pure function of the report and the gate flags.

Exit codes follow the report contract: 0 gate passed, 1 gate failed, 2 usage or input error, 3 nothing judged.
"""

from __future__ import annotations

from typing import Any

EXIT_OK, EXIT_GATE, EXIT_USAGE, EXIT_NOTHING = 0, 1, 2, 3


def gate(report: dict[str, Any], fail_on: str, fail_under: float | None) -> int:
    """The exit code the report earns."""
    targets = report["targets"]
    if targets and all(t["status"] == "unknown" for t in targets):
        return EXIT_NOTHING
    failing = {"not-ready"} | ({"ready-with-warnings"} if fail_on == "warning" else set())
    if any(t["status"] in failing for t in [*targets, *([report["estate"]] if report.get("estate") else [])]):
        return EXIT_GATE
    if fail_under is not None and any(t["score"] is not None and t["score"] < fail_under for t in targets):
        return EXIT_GATE
    return EXIT_OK
