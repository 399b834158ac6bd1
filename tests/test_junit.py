"""JUnit XML read back by junitparser, the way CI test-report plugins read it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from junitparser import Error, Failure, JUnitXml, Skipped

from tests.synthetic import evaluate, make_estate


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("junit")
    facts = make_estate(work, 12)
    proc = evaluate(facts, "--reporter", f"json:{work / 'r.json'}", "--reporter", f"junit:{work / 'r.xml'}",
                    "--show", "all")
    assert proc.returncode == 1, proc.stderr
    return {"report": json.loads((work / "r.json").read_text()), "xml": JUnitXml.fromfile(str(work / "r.xml")),
            "path": work / "r.xml"}


def _targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [*report["targets"], *([report["estate"]] if report.get("estate") else [])]


def test_one_suite_per_target_with_time_timestamp_and_hostname(estate: dict[str, Any]) -> None:
    report, xml = estate["report"], estate["xml"]
    suites = list(xml)
    targets = _targets(report)
    assert [s.name for s in suites] == [f"{t['name']} ({t['target']})" for t in targets]
    stamp = report["started_at"].rstrip("Z")
    for suite, target in zip(suites, targets, strict=True):
        assert suite.hostname == target["name"]
        assert suite.timestamp == stamp
        assert suite.time == pytest.approx(target.get("duration_s", 0), abs=0.001)
        assert suite.tests == len(list(suite))
    assert xml.time == pytest.approx(report["duration_s"], abs=0.001)


def test_only_blocker_and_warning_failures_are_failures(estate: dict[str, Any]) -> None:
    report, xml = estate["report"], estate["xml"]
    kinds: dict[str, type | None] = {}
    for suite, target in zip(xml, _targets(report), strict=True):
        by_rule = {case.name.split()[0]: case for case in suite}
        for finding in target["findings"]:
            results = by_rule[finding["rule_id"]].result
            kinds[f"{finding['status']}/{finding['severity']}"] = type(results[0]) if results else None
        if target["error"]:
            assert isinstance(by_rule["collect"].result[0], Error)
            assert target["error"] in by_rule["collect"].result[0].message
    assert kinds.get("fail/blocker") is Failure
    assert "fail/info" in kinds and kinds["fail/info"] is None  # reported (system-out), never a failure
    assert kinds.get("not-applicable/blocker", Skipped) is Skipped
    assert all(kind is Error for key, kind in kinds.items() if key.startswith("error/"))
    failures = sum(1 for t in _targets(report) for f in t["findings"]
                   if f["status"] == "fail" and f["severity"] in ("blocker", "warning"))
    assert sum(suite.failures for suite in xml) == failures == int(xml.failures)
