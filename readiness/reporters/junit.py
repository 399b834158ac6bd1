"""JUnit XML: one test suite per target, one test case per finding.

A failed blocker or warning is a <failure>; a failed info finding is not (it
never lowers a status), so it passes with its message in <system-out>.  error
-> <error>, not-applicable and waived -> <skipped>, so CI systems that show
JUnit results show readiness findings with the same weight the gate gives them.
Each suite carries time, timestamp (the run's start), hostname (the machine
judged) and its per-scenario verdicts as properties.
"""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET
from typing import Any

from readiness.reporters.base import Reporter, is_failure
from readiness.reporters.spool import Spool


def _case_name(finding: dict[str, Any]) -> str:
    return f"{finding['rule_id']} {' '.join(finding['requirements'])}: {finding['title']}"


def _body(finding: dict[str, Any]) -> str:
    lines = [finding["message"]]
    if finding.get("evidence"):
        lines.append("Evidence: " + "; ".join(f"{k}={v}" for k, v in finding["evidence"].items()))
    lines.append(f"Remediation: {finding['remediation']}")
    if finding.get("remediation_command"):
        lines.append(f"Command: {finding['remediation_command']}")
    if finding.get("source"):
        lines.append(f"Source: {finding['source']}")
    if finding.get("baseline"):
        lines.append(f"Baseline: {finding['baseline']}")
    return "\n".join(lines)


class JUnitReporter(Reporter):
    def begin(self, header: dict[str, Any]) -> None:
        self._spool = Spool()
        self._timestamp = str(header.get("started_at", "")).rstrip("Z")
        self._totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}

    def add(self, entry: dict[str, Any]) -> None:
        suite = self._suite(entry)
        for key in self._totals:
            self._totals[key] += int(suite.get(key, "0"))
        ET.indent(suite, level=1)
        self._spool.write("  " + ET.tostring(suite, encoding="unicode").rstrip() + "\n")

    def _suite(self, target: dict[str, Any]) -> ET.Element:
        findings = target["findings"]
        failures = sum(is_failure(f) for f in findings)
        errors = sum(f["status"] == "error" for f in findings) + (1 if target["error"] else 0)
        skipped = sum(f["status"] in ("not-applicable", "waived") for f in findings)
        suite = ET.Element("testsuite", name=f"{target['name']} ({target['target']})",
                           tests=str(len(findings) + (1 if target["error"] else 0)), failures=str(failures),
                           errors=str(errors), skipped=str(skipped), time=f"{target.get('duration_s', 0):.3f}",
                           timestamp=self._timestamp, hostname=target["name"])
        props = ET.SubElement(suite, "properties")
        ET.SubElement(props, "property", name="status", value=target["status"])
        ET.SubElement(props, "property", name="score", value="" if target["score"] is None else str(target["score"]))
        for result in target.get("scenario_results") or []:
            ET.SubElement(props, "property", name=f"scenario:{result['scenario']}", value=result["status"])
        if target["error"]:
            case = ET.SubElement(suite, "testcase", classname=target["name"], name="collect facts", time="0")
            ET.SubElement(case, "error", message=target["error"], type="unknown").text = target["error"]
        for finding in findings:
            case = ET.SubElement(suite, "testcase", classname=target["name"], name=_case_name(finding), time="0")
            mark = f"[{finding['baseline']}] " if finding.get("baseline") in ("new", "unchanged") else ""
            if is_failure(finding):
                ET.SubElement(case, "failure", message=mark + finding["message"],
                              type=finding["severity"]).text = _body(finding)
            elif finding["status"] == "error":
                ET.SubElement(case, "error", message=finding["message"], type="cannot-judge").text = _body(finding)
            elif finding["status"] in ("not-applicable", "waived"):
                why = finding["message"]
                if finding["status"] == "waived" and finding.get("waiver"):
                    why = f"{why} (justification: {finding['waiver']['justification']})"
                ET.SubElement(case, "skipped", message=f"{finding['status']}: {why}")
            elif finding["status"] == "fail":  # an info finding: reported, never a failure
                ET.SubElement(case, "system-out").text = f"info: {_body(finding)}"
        return suite

    def end(self, report: dict[str, Any]) -> None:
        if report.get("estate"):
            self.add(report["estate"])
        root = ET.Element("testsuites", name="readiness", time=f"{report.get('duration_s', 0):.3f}",
                          timestamp=self._timestamp, hostname=socket.gethostname(),
                          **{k: str(v) for k, v in self._totals.items()})
        opening = ET.tostring(root, encoding="unicode").replace(" />", ">")
        self.out.write('<?xml version="1.0" encoding="UTF-8"?>\n' + opening + "\n")
        self._spool.copy_to(self.out)
        self.out.write("</testsuites>\n")
