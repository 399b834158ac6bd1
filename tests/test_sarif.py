"""SARIF 2.1.0 from a synthetic estate, checked by the JSON schema and by Microsoft's SARIF Multitool.

The schema is tests/data/sarif-2.1.0-schema.json: Microsoft's edition of the SARIF 2.1.0 schema (microsoft/sarif-sdk,
as shipped beside the Multitool 5.7.0), kept in the repository so nothing is fetched at test time.  The Multitool
(npm @microsoft/sarif-multitool-linux, installed into tests/.sarif by tests/run.sh) runs its schema checks (JSON10xx)
and its SARIF rules (SARIF1xxx errors, SARIF2xxx advice); any result of level error fails the test.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.synthetic import evaluate, make_estate

ROOT = Path(__file__).resolve().parent
SCHEMA = ROOT / "data" / "sarif-2.1.0-schema.json"
MULTITOOL = ROOT / ".sarif" / "node_modules" / "@microsoft" / "sarif-multitool-linux" / "Sarif.Multitool"


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("sarif")
    facts = make_estate(work, 30)
    waivers = work / "w.yaml"
    waivers.write_text("- {id: RL002, targets: host-0002, justification: lab host, expires: never}\n")
    proc = evaluate(facts, "--reporter", f"json:{work / 'r.json'}", "--reporter", f"sarif:{work / 'r.sarif'}",
                    "--waivers", str(waivers))
    assert proc.returncode == 1, proc.stderr
    report = json.loads((work / "r.json").read_text())
    return {"work": work, "report": report, "sarif": json.loads((work / "r.sarif").read_text()),
            "path": work / "r.sarif"}


def test_sarif_is_valid_against_the_schema(estate: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(estate["sarif"], schema, cls=jsonschema.Draft202012Validator,
                        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    broken = json.loads(json.dumps(estate["sarif"]))
    broken["runs"][0]["results"][0]["level"] = "blocker"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema, cls=jsonschema.Draft202012Validator)


def test_one_rule_per_rule_and_one_result_per_failure(estate: dict[str, Any]) -> None:
    report, run = estate["report"], estate["sarif"]["runs"][0]
    targets = [*report["targets"], *([report["estate"]] if report.get("estate") else [])]
    judged = {f["rule_id"]: f for t in targets for f in t["findings"]}
    rules = run["tool"]["driver"]["rules"]
    assert sorted(r["id"] for r in rules) == sorted(judged)
    level = {"blocker": "error", "warning": "warning", "info": "note"}
    for rule in rules:
        finding = judged[rule["id"]]
        assert rule["shortDescription"]["text"].startswith(finding["title"][:20])
        assert rule["fullDescription"]["text"]
        assert finding["remediation"].split()[0] in rule["help"]["text"]
        assert ("Source: " in rule["help"]["text"]) == bool(finding["source"])
        assert rule["defaultConfiguration"]["level"] == level[finding["severity"]]
    failing = [(t["target"], f["rule_id"]) for t in targets for f in t["findings"] if f["status"] in ("fail", "waived")]
    results = run["results"]
    assert sorted((r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"], r["ruleId"]) for r in results) \
        == sorted(failing)
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
    waived = [r for r in results if r.get("suppressions")]
    assert [(r["ruleId"], r["properties"]["target"]) for r in waived] == [
        ("RL002", "ssh://root@host-0002.example.test:22")]
    assert waived[0]["suppressions"][0]["justification"] == "lab host"


def test_microsoft_sarif_multitool_finds_no_error(estate: dict[str, Any], tmp_path: Path) -> None:
    assert MULTITOOL.exists(), "SARIF Multitool missing: tests/run.sh installs it (npm, into tests/.sarif)"
    out = tmp_path / "validation.sarif"

    def validate(path: Path) -> list[dict[str, Any]]:
        subprocess.run([str(MULTITOOL), "validate", str(path), "-o", str(out), "--log", "ForceOverwrite", "-q"],
                       check=True, capture_output=True, timeout=120,
                       env={**os.environ, "DOTNET_SYSTEM_GLOBALIZATION_INVARIANT": "1"})
        return [r for r in json.loads(out.read_text())["runs"][0].get("results", []) if r.get("level") == "error"]

    errors = validate(estate["path"])
    assert errors == [], [(e["ruleId"], e["message"]) for e in errors]
    # The checker is live: a result pointing past the rules array is an error it reports.
    broken = json.loads(json.dumps(estate["sarif"]))
    broken["runs"][0]["results"][0]["ruleIndex"] = 10_000
    bad = tmp_path / "bad.sarif"
    bad.write_text(json.dumps(broken))
    assert {e["ruleId"] for e in validate(bad)} == {"SARIF1009"}
