"""Verdicts you can trust (issue 8): impossible roles, null facts, per-scenario results, the honest gate.

Shipped rules on hand-made facts (a table per boundary), and the real command on saved facts files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from readiness.cli import main
from readiness.engine import judge_target
from readiness.facts import TargetFacts, write_facts
from readiness.report import target_entry
from readiness.rulepack import default_rules
from tests.reportschema import validate_report

LINUX = {"os": {"family": "linux", "distribution": "centos", "version": "6.6", "name": "CentOS release 6.6 (Final)",
                "bits": 64, "arch": "x86_64", "kernel": "2.6.32-504.el6.x86_64", "kernel_flavor": "rhck"}}
WINDOWS = {"os": {"family": "windows", "distribution": "windows", "version": "6.3", "bits": 64, "arch": "x86_64",
                  "name": "Microsoft Windows Server 2012 R2 Standard"},
           "windows": {"product_type": "server", "caption": "Microsoft Windows Server 2012 R2 Standard",
                       "service_pack": 0, "build": 9600},
           "hyperv": {"role_installed": False}, "vmm": {"server": False}}


def machine(facts: dict[str, Any], roles: list[str], name: str = "m1") -> TargetFacts:
    return TargetFacts(uri=f"ssh://root@{name}:22", name=name, scheme="ssh", roles=roles,
                       facts=json.loads(json.dumps(facts)))


def findings_of(target: TargetFacts, scenarios: list[str] | None = None) -> dict[str, Any]:
    return {f.rule_id: f for f in judge_target(target, default_rules(), scenarios)}


# ---------------------------------------------------------------- an impossible role is not not-applicable

@pytest.mark.parametrize(("facts", "role", "rule_id", "reason"), [
    (LINUX, "management-server", "RM201", "not a Windows machine: as a management-server it must meet MS-OS-001"),
    (LINUX, "process-server", "RM201", "not a Windows machine: as a process-server it must meet MS-OS-001"),
    (LINUX, "protected-windows", "RW001", "not a Windows machine: as a protected-windows it must meet WIN-OS-001"),
    (LINUX, "hyperv-host", "RH001", "not a Windows machine: as a hyperv-host it must meet HV-OS-001"),
    (LINUX, "vmm-server", "RY001", "no VMM server installed: as a vmm-server it must meet VMM-VER-001"),
    (WINDOWS, "vmm-server", "RY001", "no VMM server installed: as a vmm-server it must meet VMM-VER-001"),
    (WINDOWS, "protected-linux", "RL001", "not a Linux machine: as a protected-linux it must meet LNX-OS-001"),
])
def test_a_machine_that_cannot_have_the_role_fails_it(facts: dict[str, Any], role: str, rule_id: str,
                                                      reason: str) -> None:
    target = machine(facts, [role])
    found = findings_of(target)
    assert found[rule_id].status == "fail" and found[rule_id].message.startswith(reason), found[rule_id].message
    assert target_entry(target, list(found.values()), [])["status"] == "not-ready"


def test_the_right_platform_passes_the_role_rule_and_no_facts_is_an_error() -> None:
    assert findings_of(machine(WINDOWS, ["management-server"]))["RM201"].status == "pass"
    assert findings_of(machine(LINUX, ["protected-linux"]))["RL001"].status == "pass"
    # A vCenter view has no guest facts: we do not know what the machine is, so it cannot fail (nor pass).
    blind = findings_of(machine({"vm": {"name": "x"}}, ["management-server"]))["RM201"]
    assert blind.status == "error" and "no os facts were collected" in blind.message


def test_linux_facts_judged_as_management_server_exit_1(tmp_path: Path) -> None:
    facts, out = tmp_path / "facts.json", tmp_path / "r.json"
    write_facts(facts, [machine(LINUX, ["protected-linux"])])
    code = main(["evaluate", str(facts), "--role", "management-server", "--reporter", f"json:{out}",
                 "--allow-unjudged"])
    report = json.loads(out.read_text())
    validate_report(report)
    target = report["targets"][0]
    assert target["status"] == "not-ready" and target["score"] is not None and target["score"] < 100
    assert code == 1 and report["gate"]["exit_code"] == 1
    assert "ssh://root@m1:22 is not-ready" in report["gate"]["reasons"]


# ---------------------------------------------------------------- a missing fact never crashes a rule

def test_no_date_header_is_an_error_with_the_collectors_reason() -> None:
    facts = {**WINDOWS, "connectivity": {"clock": {"reference": None, "skew_s": None,
                                                    "error": "no endpoint answered with an HTTP Date header"}}}
    rn008 = findings_of(machine(facts, ["management-server"]))["RN008"]
    assert rn008.status == "error"
    assert rn008.message.startswith("cannot judge: connectivity.clock.skew_s is null: no endpoint answered with an "
                                    "HTTP Date header"), rn008.message


@pytest.mark.parametrize("connectivity", [
    {"endpoints": None, "outbound_ports": None, "clock": None, "proxy": "http://p:3128", "proxy_source": "env"},
    {"endpoints": [], "outbound_ports": [], "clock": {"skew_s": None, "reference": None, "error": None},
     "proxy": None},
])
def test_network_rules_never_raise_on_null_or_empty_facts(connectivity: dict[str, Any]) -> None:
    facts = {**LINUX, "connectivity": connectivity, "network": {"listening_tcp": None},
             "lan": {"management_server": "ms01", "ports": None}}
    found = judge_target(machine(facts, ["management-server", "protected-linux"]), default_rules(),
                         management_server="ms01")
    pack = {r.id for r in default_rules() if r.pack == "network"}
    network = [f for f in found if f.rule_id in pack]
    assert len(network) == len(pack) == 10
    for finding in network:
        assert not finding.message.startswith("rule raised"), (finding.rule_id, finding.message)
        assert finding.status in ("error", "fail", "not-applicable"), (finding.rule_id, finding.status)
        assert not finding.message.endswith(":"), finding.message


# ---------------------------------------------------------------- readiness per scenario

def test_a_scenario_where_nothing_applied_is_not_applicable_and_does_not_lower_the_target() -> None:
    from readiness.engine import Finding
    from readiness.scoring import scenario_results, target_status

    def finding(rule_id: str, status: str, severity: str, scenarios: list[str]) -> Finding:
        return Finding(rule_id=rule_id, requirements=["X-001"], title="t", severity=severity, status=status,
                       message="m", scenarios=scenarios)

    findings = [finding("R1", "pass", "blocker", ["vmware-to-azure", "physical-to-azure"]),
                finding("R2", "fail", "warning", ["physical-to-azure"]),
                finding("R3", "not-applicable", "blocker", ["failback-to-vmware"]),
                finding("R4", "error", "blocker", ["hyperv-vmm-to-site"]),
                finding("R5", "pass", "info", ["hyperv-vmm-to-site"])]
    results = {r["scenario"]: r for r in scenario_results(findings, ["vmware-to-azure", "physical-to-azure",
                                                                      "failback-to-vmware", "hyperv-vmm-to-site",
                                                                      "essentials-to-azure"], None)}
    assert results["vmware-to-azure"]["status"] == "ready" and results["vmware-to-azure"]["score"] == 100.0
    assert results["physical-to-azure"]["status"] == "ready-with-warnings"
    assert results["physical-to-azure"]["score"] == round(100 * 10 / 13, 1)
    assert results["failback-to-vmware"]["status"] == "not-applicable"
    assert results["failback-to-vmware"]["counts"]["not-applicable"] == 1
    assert results["hyperv-vmm-to-site"]["status"] == "unknown"  # a blocker could not be judged
    assert results["essentials-to-azure"]["status"] == "not-applicable"  # no rule of it for this target
    assert target_status(findings[:3], None) == "ready-with-warnings"  # the n/a scenario does not lower it
    unreachable = scenario_results([], ["vmware-to-azure"], "connection refused")
    assert unreachable == [{"scenario": "vmware-to-azure", "status": "unknown", "score": None,
                            "counts": {"pass": 0, "fail": 0, "error": 0, "not-applicable": 0, "waived": 0}}]


def test_report_says_which_scenarios_were_judged(tmp_path: Path) -> None:
    facts, out = tmp_path / "facts.json", tmp_path / "r.json"
    write_facts(facts, [machine(LINUX, ["protected-linux"], "web01"), machine(WINDOWS, ["hyperv-host"], "hv01")])
    main(["evaluate", str(facts), "--reporter", f"json:{out}", "--soft-fail"])
    report = json.loads(out.read_text())
    validate_report(report)
    web, hv = report["targets"]
    assert [r["scenario"] for r in web["scenario_results"]] == ["failback-to-vmware", "physical-to-azure",
                                                                 "vmware-to-azure"]
    assert [r["scenario"] for r in hv["scenario_results"]] == ["essentials-to-azure", "hyperv-vmm-to-site"]
    assert any("no --scenario given" in n and "hyperv-vmm-to-site" in n for n in report["notes"])
    summary = {s["scenario"]: s for s in report["scenario_summary"]}
    assert summary["vmware-to-azure"]["targets"] == 1 and summary["hyperv-vmm-to-site"]["targets"] == 1
    assert all(f["scenarios"] for f in web["findings"])
    # Asked for one scenario: only its rules, one result, the same in the summary.
    main(["evaluate", str(facts), "--scenario", "hyperv-vmm-to-site", "--reporter", f"json:{out}", "--soft-fail"])
    report = json.loads(out.read_text())
    validate_report(report)
    web, hv = report["targets"]
    assert web["findings"] == [] and web["scenario_results"][0]["status"] == "not-applicable"
    assert web["status"] == "unknown" and web["error"].startswith("nothing to judge: no rule of hyperv-vmm-to-site")
    assert {f["rule_id"][:2] for f in hv["findings"]} <= {"RH", "RY", "RN"}
    assert [s["scenario"] for s in report["scenario_summary"]] == ["hyperv-vmm-to-site"]
    assert report["scenario_summary"][0]["targets"] == 1  # web01 is not-applicable there, not counted


# ---------------------------------------------------------------- an honest gate, end to end

PACK = """
pack: gate
rules:
  - id: RZ001
    requirements: [VM-DISK-002]
    roles: [protected-linux]
    title: disk count
    rationale: r
    check: storage.disk_count <= `64`
    message: {pass: "{{ storage.disk_count }} disks", fail: too many}
    remediation: {text: fix}
  - id: RZ002
    requirements: [LNX-OS-001]
    roles: [protected-linux]
    title: linux
    rationale: r
    check: os.family == 'linux'
    message: {pass: linux, fail: not linux}
    remediation: {text: fix}
"""


@pytest.fixture()
def unjudged_blocker(tmp_path: Path) -> tuple[Path, Path]:
    pack, facts = tmp_path / "pack.yaml", tmp_path / "facts.json"
    pack.write_text(PACK)
    target = machine(LINUX, ["protected-linux"])
    target.facts["storage"] = {"disk_count": 2}
    target.gaps["storage.disk_count"] = "lsblk: permission denied"
    write_facts(facts, [target])
    return pack, facts


@pytest.mark.parametrize(("flags", "exit_code"), [([], 1), (["--allow-unjudged"], 0), (["--soft-fail"], 0),
                                                  (["--allow-unjudged", "--fail-on", "error"], 1)])
def test_a_blocker_not_judged_fails_the_default_gate_and_says_so(unjudged_blocker: tuple[Path, Path],
                                                                  tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                  flags: list[str], exit_code: int) -> None:
    pack, facts = unjudged_blocker
    out = tmp_path / "r.json"
    code = main(["evaluate", str(facts), "--rules", str(pack), "--reporter", f"json:{out}", *flags])
    report = json.loads(out.read_text())
    validate_report(report)
    target = report["targets"][0]
    assert target["status"] == "unknown" and target["error"] is None and target["score"] == 100.0
    assert target["unjudged"] == [{"rule_id": "RZ001", "requirements": ["VM-DISK-002"],
                                   "reason": "cannot judge: storage.disk_count was not collected: lsblk: "
                                             "permission denied"}]
    assert code == exit_code and report["gate"]["exit_code"] == exit_code
    assert report["gate"]["allow_unjudged"] == ("--allow-unjudged" in flags)
    assert report["gate"]["soft_fail"] == ("--soft-fail" in flags)
    err = capsys.readouterr().err
    assert "ssh://root@m1:22: VM-DISK-002 (RZ001) not judged: cannot judge: storage.disk_count was not " \
           "collected: lsblk: permission denied" in err
    assert ("accepted: --allow-unjudged" in err) == ("--allow-unjudged" in flags)
    if "--soft-fail" in flags:  # exit 0, but the report still says what would have failed
        assert any("blocker not judged" in r for r in report["gate"]["reasons"])
