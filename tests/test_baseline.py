"""--baseline marks, `readiness diff`, and the waiver file round trip (`readiness waivers --from`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from readiness.cli import main
from tests.synthetic import evaluate, make_estate

READINESS = [sys.executable, "-m", "readiness.cli"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*READINESS, *args], capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "NO_COLOR": "1"})


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """An old report, and a new one where host-0001 fixed RL002 and host-0004 broke RL001 afresh (by waiving
    in the old run what fails in the new one: the baseline compares problems, however they arose)."""
    work = tmp_path_factory.mktemp("baseline")
    facts = make_estate(work, 6)
    old_waivers = work / "old.yaml"
    old_waivers.write_text("- {id: RL001, targets: host-0004, justification: accepted last quarter, expires: never}\n")
    new_waivers = work / "new.yaml"
    new_waivers.write_text("- {id: LNX-HOSTS-001, targets: host-0001, justification: fixed by DNS, "
                           "expires: 2999-12-31}\n")
    assert evaluate(facts, "--reporter", f"json:{work / 'old.json'}", "--waivers", str(old_waivers)).returncode == 1
    proc = evaluate(facts, "--reporter", f"json:{work / 'new.json'}", "--reporter", f"cli:{work / 'new.txt'}",
                    "--reporter", f"sarif:{work / 'new.sarif'}", "--reporter", f"html:{work / 'new.html'}",
                    "--reporter", f"junit:{work / 'new.xml'}", "--waivers", str(new_waivers),
                    "--baseline", str(work / "old.json"))
    assert proc.returncode == 1, proc.stderr
    return {"work": work, "facts": facts, "new": json.loads((work / "new.json").read_text())}


def _finding(report: dict[str, Any], name: str, rule: str) -> dict[str, Any]:
    target = next(t for t in report["targets"] if t["name"] == name)
    return next(f for f in target["findings"] if f["rule_id"] == rule)


def test_baseline_marks_new_unchanged_fixed_in_every_reporter(reports: dict[str, Any]) -> None:
    new, work = reports["new"], reports["work"]
    assert _finding(new, "host-0004", "RL001")["baseline"] == "new"
    assert _finding(new, "host-0002", "RL001")["baseline"] == "unchanged"
    assert _finding(new, "host-0001", "RL002")["baseline"] == "fixed"  # waived now: no longer a problem
    marks = [f.get("baseline") for t in new["targets"] for f in t["findings"]]
    summary = new["baseline"]
    assert (summary["new"], summary["unchanged"], summary["fixed"]) == (
        marks.count("new"), marks.count("unchanged"), marks.count("fixed"))
    assert summary["new"] >= 1 and summary["fixed"] >= 1 and summary["gone"] == []
    text = (work / "new.txt").read_text()
    assert "[new]" in text and "[unchanged]" in text and f"{summary['new']} new," in text
    sarif = json.loads((work / "new.sarif").read_text())["runs"][0]["results"]
    states = {(r["properties"]["target"].split("@")[1].split(".")[0], r["ruleId"]): r.get("baselineState")
              for r in sarif}
    assert states[("host-0004", "RL001")] == "new" and states[("host-0002", "RL001")] == "unchanged"
    assert 'class="badge new"' in (work / "new.html").read_text()
    assert "Baseline: new" in (work / "new.xml").read_text()


def test_diff_prints_what_changed(reports: dict[str, Any]) -> None:
    work = reports["work"]
    proc = run("diff", str(work / "old.json"), str(work / "new.json"))
    assert proc.returncode == 1, proc.stderr  # a new problem appeared
    assert "new problems (1):" in proc.stdout and "host-0004  RL001" in proc.stdout
    assert "fixed (1):" in proc.stdout and "host-0001  RL002" in proc.stdout
    same = run("diff", str(work / "new.json"), str(work / "new.json"))
    assert same.returncode == 0 and "0 new, 0 fixed" in same.stdout
    bad = run("diff", str(work / "old.json"), str(reports["facts"]))
    assert bad.returncode == 2 and "not a readiness JSON report" in bad.stderr and len(bad.stderr.splitlines()) == 1


def test_waiver_file_round_trip(reports: dict[str, Any]) -> None:
    work, facts = reports["work"], reports["facts"]
    out = work / "waivers.yaml"
    assert evaluate(facts, "--reporter", f"json:{work / 'plain.json'}").returncode == 1
    plain = json.loads((work / "plain.json").read_text())
    proc = run("waivers", "--from", str(work / "plain.json"), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    failing = [(t["name"], f["rule_id"]) for t in [*plain["targets"], *([plain["estate"]] if plain.get("estate")
                                                                        else [])]
               for f in t["findings"] if f["status"] == "fail"]
    text = out.read_text()
    assert text.count("- id: ") == len(failing) and 'justification: ""' in text
    refused = evaluate(facts, "--waivers", str(out), "--reporter", f"json:{work / 'w.json'}")
    assert refused.returncode == 2 and "needs a justification" in refused.stderr
    out.write_text(text.replace('justification: ""', "justification: migration wave 3, owner ops"))
    assert main(["evaluate", str(facts), "--waivers", str(out), "--reporter", f"json:{work / 'w.json'}"]) == 0
    waived = json.loads((work / "w.json").read_text())
    assert {f["status"] for t in waived["targets"] for f in t["findings"]} <= {"pass", "not-applicable", "waived",
                                                                               "error"}
    again = run("waivers", "--from", str(work / "plain.json"), "-o", str(out))
    assert again.returncode == 2 and "exists" in again.stderr


@pytest.mark.parametrize(("waiver", "needle"), [
    ("- {id: RL999, justification: x, expires: never}", "unknown ID 'RL999'"),
    ("- {id: LNX-NOPE-001, justification: x, expires: never}", "unknown ID 'LNX-NOPE-001'"),
    ("- {id: RL001, justification: x}", "needs an expiry"),
    ("- {id: RL001, justification: x, expires: soon}", "is not YYYY-MM-DD or never"),
    ("- {id: RL001, justification: '', expires: never}", "needs a justification"),
    ("- {id: RL001, justification: x, expires: never, owner: me}", "unknown key(s) owner"),
    ("{id: RL001}", "a YAML list"),
])
def test_bad_waivers_are_input_errors(reports: dict[str, Any], waiver: str, needle: str) -> None:
    path = reports["work"] / "bad.yaml"
    path.write_text(waiver + "\n")
    proc = evaluate(reports["facts"], "--waivers", str(path))
    assert proc.returncode == 2 and needle in proc.stderr, proc.stderr
    assert len(proc.stderr.splitlines()) == 1


def test_never_and_a_date_are_accepted(reports: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text("- {id: RL001, justification: x, expires: never}\n- {id: LNX-OS-001, justification: y, "
                    "expires: 2999-01-01}\n")
    assert evaluate(reports["facts"], "--waivers", str(path), "--reporter", f"json:{tmp_path / 'r.json'}"
                    ).returncode in (0, 1)
    report = json.loads((tmp_path / "r.json").read_text())
    assert _finding(report, "host-0001", "RL001")["status"] == "waived"
