"""SARIF 2.1.0: one rule per readiness rule judged, one result per failed (or waived) finding.

Code-scanning dashboards and the SARIF viewers read it.  A rule carries the
title (short description), the rationale (full description), help text with
the remediation and the source it is cited from, and a default level from
its severity (blocker -> error, warning -> warning, info -> note).  A result
names its machine as a logical location (the target URI); there is no source
file to point at.  Waived findings are results with an external suppression
and the justification.  Results are written as targets are judged; the tool
object (with the rules seen) follows them, since JSON does not order keys.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from readiness.reporters.base import Reporter

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://learn.microsoft.com/azure/site-recovery/"
LEVEL = {"blocker": "error", "warning": "warning", "info": "note"}
BASELINE_STATE = {"new": "new", "unchanged": "unchanged"}


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    return text if text.endswith((".", "!", "?")) else f"{text}."


def _descriptor(finding: dict[str, Any]) -> dict[str, Any]:
    help_lines = [f"Remediation: {finding['remediation'].strip()}"]
    if finding.get("remediation_command"):
        help_lines.append(f"Command: {finding['remediation_command']}")
    if finding.get("source"):
        help_lines.append(f"Source: {finding['source']}")
    markdown = [f"**Remediation:** {finding['remediation'].strip()}"]
    if finding.get("remediation_command"):
        markdown.append(f"```\n{finding['remediation_command']}\n```")
    if finding.get("source"):
        markdown.append(f"**Source:** {finding['source']}")
    return {
        "id": finding["rule_id"],
        "name": "".join(w[:1].upper() + w[1:] for w in finding["title"].replace("-", " ").split() if w.isalnum())
                or finding["rule_id"],
        "shortDescription": {"text": _sentence(finding["title"])},
        "fullDescription": {"text": _sentence(finding.get("rationale") or finding["title"])},
        "help": {"text": "\n".join(help_lines), "markdown": "\n\n".join(markdown)},
        "defaultConfiguration": {"level": LEVEL[finding["severity"]]},
        "properties": {"severity": finding["severity"], "requirements": finding["requirements"],
                       "scenarios": finding.get("scenarios", []),
                       "tags": ["azure-site-recovery", finding["severity"], *finding["requirements"]]},
    }


class SarifReporter(Reporter):
    def begin(self, header: dict[str, Any]) -> None:
        self._header = header
        self._rules: dict[str, int] = {}
        self._descriptors: list[dict[str, Any]] = []
        self._first = True
        self.out.write(f'{{"$schema": "{SCHEMA_URI}", "version": "2.1.0", "runs": [{{"results": [')

    def add(self, entry: dict[str, Any]) -> None:
        for finding in entry["findings"]:
            if finding["rule_id"] not in self._rules:
                self._rules[finding["rule_id"]] = len(self._descriptors)
                self._descriptors.append(_descriptor(finding))
            if finding["status"] not in ("fail", "waived"):
                continue
            self.out.write(("\n" if self._first else ",\n") + json.dumps(self._result(entry, finding),
                                                                         ensure_ascii=False, default=str))
            self._first = False

    def _result(self, target: dict[str, Any], finding: dict[str, Any]) -> dict[str, Any]:
        identity = f"{target['target']}|{finding['rule_id']}"
        result: dict[str, Any] = {
            "ruleId": finding["rule_id"],
            "ruleIndex": self._rules[finding["rule_id"]],
            "level": LEVEL[finding["severity"]],
            "message": {"text": _sentence(f"{target['name']}: {finding['message']}")},
            "locations": [{"logicalLocations": [{"name": target["name"], "fullyQualifiedName": target["target"],
                                                 "kind": "resource"}]}],
            "partialFingerprints": {"readinessTarget/v1": hashlib.sha256(identity.encode()).hexdigest()[:32]},
            "properties": {"target": target["target"], "requirements": finding["requirements"],
                           "evidence": finding.get("evidence") or {}, "status": finding["status"]},
        }
        if finding["status"] == "waived" and finding.get("waiver"):
            result["suppressions"] = [{"kind": "external",
                                       "justification": finding["waiver"]["justification"]}]
        if finding.get("baseline") in BASELINE_STATE:
            result["baselineState"] = BASELINE_STATE[finding["baseline"]]
        return result

    def end(self, report: dict[str, Any]) -> None:
        if report.get("estate"):
            self.add(report["estate"])
        driver = {"name": "readiness", "version": str(self._header.get("tool", {}).get("version", "")),
                  "informationUri": INFORMATION_URI, "rules": self._descriptors}
        invocation: dict[str, Any] = {"executionSuccessful": True}
        if self._header.get("started_at"):
            invocation["startTimeUtc"] = self._header["started_at"]
        if report.get("gate", {}).get("exit_code") is not None:
            invocation["exitCode"] = report["gate"]["exit_code"]
        properties = {"summary": report.get("summary"), "scenarioSummary": report.get("scenario_summary"),
                      "baseline": report.get("baseline")}
        self.out.write("\n], " + json.dumps({
            "tool": {"driver": driver}, "invocations": [invocation],
            "automationDetails": {"id": "readiness/"},
            "properties": {k: v for k, v in properties.items() if v is not None}}, ensure_ascii=False)[1:] + "]}\n")
