"""JUnit XML: one test suite per target, one test case per finding.

fail -> <failure>, error -> <error>, not-applicable and waived -> <skipped>,
so CI systems that already show JUnit results show readiness findings too.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any


def render(report: dict[str, Any], path: str | None, options: dict[str, Any]) -> str:
    suites = ET.Element("testsuites", name="readiness", time=str(report["duration_s"]))
    for target in [*report["targets"], *([report["estate"]] if report.get("estate") else [])]:
        findings = target["findings"]
        suite = ET.SubElement(
            suites, "testsuite", name=f"{target['name']} ({target['target']})", tests=str(max(1, len(findings))),
            failures=str(sum(f["status"] == "fail" for f in findings)),
            errors=str(sum(f["status"] == "error" for f in findings) + (1 if target["error"] else 0)),
            skipped=str(sum(f["status"] in ("not-applicable", "waived") for f in findings)),
            time=str(target.get("duration_s", 0)))
        if target["error"]:
            case = ET.SubElement(suite, "testcase", classname=target["name"], name="collect facts")
            ET.SubElement(case, "error", message=target["error"]).text = target["error"]
        for finding in findings:
            case = ET.SubElement(suite, "testcase", classname=target["name"],
                                 name=f"{finding['rule_id']} {' '.join(finding['requirements'])}: {finding['title']}")
            body = f"{finding['message']}\nRemediation: {finding['remediation']}"
            if finding["status"] == "fail":
                ET.SubElement(case, "failure", message=finding["message"], type=finding["severity"]).text = body
            elif finding["status"] == "error":
                ET.SubElement(case, "error", message=finding["message"]).text = finding["message"]
            elif finding["status"] in ("not-applicable", "waived"):
                ET.SubElement(case, "skipped", message=f"{finding['status']}: {finding['message']}")
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode")
