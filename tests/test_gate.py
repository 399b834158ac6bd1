"""The gate, a pure function of the report and the gate options: every exit code on synthetic reports."""

from __future__ import annotations

from typing import Any

import pytest

from readiness.gate import EXIT_GATE, EXIT_NOTHING, EXIT_OK, GateOptions, gate

NONE = {"pass": 0, "fail": 0, "error": 0, "not-applicable": 0, "waived": 0}


def entry(status: str, score: float | None = 100.0, error: str | None = None, errors: int = 0,
          unjudged: int = 0, uri: str = "ssh://t") -> dict[str, Any]:
    judged = 0 if error or (status == "unknown" and not unjudged) else 1
    return {"target": uri, "status": status, "score": score, "error": error,
            "counts": {**NONE, "pass": judged, "error": errors + unjudged},
            "unjudged": [{"rule_id": f"RZ00{i}", "requirements": [f"VM-DISK-00{i}"], "reason": "no storage facts"}
                         for i in range(1, unjudged + 1)]}


def report(*targets: dict[str, Any], estate: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"targets": list(targets), **({"estate": estate} if estate else {})}


UNREACHABLE = entry("unknown", None, error="connection refused")
UNJUDGED = entry("unknown", 100.0, unjudged=1)  # a blocker could not be judged, the rest passed

CASES = [
    # (targets, estate, options, exit code)
    ([entry("ready")], None, GateOptions(), EXIT_OK),
    ([entry("ready-with-warnings", 90.0)], None, GateOptions(), EXIT_OK),
    ([entry("ready-with-warnings", 90.0)], None, GateOptions(fail_on="warning"), EXIT_GATE),
    ([entry("not-ready", 40.0)], None, GateOptions(), EXIT_GATE),
    ([entry("not-ready", 40.0)], None, GateOptions(soft_fail=True), EXIT_OK),
    ([entry("ready")], entry("not-ready", 50.0, uri="estate://"), GateOptions(), EXIT_GATE),
    ([entry("ready", 80.0)], None, GateOptions(fail_under=80.0), EXIT_OK),  # under, not at
    ([entry("ready", 79.9)], None, GateOptions(fail_under=80.0), EXIT_GATE),
    ([entry("ready-with-warnings", 95.0, errors=1)], None, GateOptions(), EXIT_OK),  # a warning not judged
    ([entry("ready-with-warnings", 95.0, errors=1)], None, GateOptions(fail_on="error"), EXIT_GATE),
    ([UNJUDGED], None, GateOptions(), EXIT_GATE),  # the honest gate: a blocker not judged fails
    ([UNJUDGED], None, GateOptions(allow_unjudged=True), EXIT_OK),
    ([UNJUDGED], None, GateOptions(allow_unjudged=True, fail_on="error"), EXIT_GATE),
    ([UNJUDGED], None, GateOptions(soft_fail=True), EXIT_OK),
    ([UNREACHABLE], None, GateOptions(), EXIT_NOTHING),
    ([UNREACHABLE, entry("unknown", None, error="auth failed")], None, GateOptions(), EXIT_NOTHING),
    ([UNREACHABLE], None, GateOptions(soft_fail=True), EXIT_OK),
    ([UNREACHABLE, entry("ready")], None, GateOptions(), EXIT_OK),  # one unreachable among judged ones
    ([UNREACHABLE, UNJUDGED], None, GateOptions(), EXIT_GATE),  # something was judged: not exit 3
    ([], None, GateOptions(), EXIT_OK),
]


@pytest.mark.parametrize(("targets", "estate", "options", "expected"), CASES)
def test_exit_code(targets: list[dict[str, Any]], estate: dict[str, Any] | None, options: GateOptions,
                   expected: int) -> None:
    result = gate(report(*targets, estate=estate), options)
    assert result.exit_code == expected
    if expected != EXIT_OK:
        assert result.reasons  # a failing gate always says why


def test_reasons_name_what_failed_and_what_was_not_judged() -> None:
    result = gate(report(entry("not-ready", 40.0, uri="ssh://a"), {**UNJUDGED, "target": "ssh://b"}),
                  GateOptions(fail_under=50.0))
    assert result.reasons == [
        "ssh://a is not-ready",
        "ssh://a scores 40.0, under --fail-under 50",
        "blocker not judged: ssh://b: VM-DISK-001 (RZ001) not judged: no storage facts (--allow-unjudged accepts "
        "this)"]
    assert result.unjudged == ["ssh://b: VM-DISK-001 (RZ001) not judged: no storage facts"]
    record = result.record(GateOptions(fail_under=50.0))
    assert record == {"fail_on": "blocker", "fail_under": 50.0, "allow_unjudged": False, "soft_fail": False,
                      "exit_code": EXIT_GATE, "reasons": result.reasons}


def test_soft_fail_keeps_the_reasons() -> None:
    result = gate(report(entry("not-ready", 40.0)), GateOptions(soft_fail=True))
    assert result.exit_code == EXIT_OK and result.reasons == ["ssh://t is not-ready"]
