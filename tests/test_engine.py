"""The rule engine on hand-made facts: statuses, gaps, errors, waivers, expression safety."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from readiness.engine import Waiver, judge_target
from readiness.errors import UsageError
from readiness.expressions import compile_expression, root_paths
from readiness.facts import TargetFacts
from readiness.rulepack import default_rules, load_pack
from readiness.scoring import target_score, target_status

PACK = """
pack: test
rules:
  - id: RZ001
    requirements: [VM-DISK-002]
    roles: [protected-linux]
    title: disk count
    rationale: r
    params: {limit: 64}
    check: storage.disk_count <= params.limit
    message: {pass: "{{ storage.disk_count }} disks", fail: "{{ storage.disk_count }} disks is too many"}
    remediation: {text: fix}
  - id: RZ002
    requirements: [LNX-AGENT-001]
    roles: [protected-linux]
    title: agent
    rationale: r
    when: os.family == 'linux'
    check: software.waagent.installed
    message: {pass: ok, fail: missing, not_applicable: "not linux"}
    remediation: {text: fix}
  - id: RZ003
    requirements: [LNX-HOSTS-001]
    roles: [protected-linux]
    title: raises
    rationale: r
    check: "version_cmp(os.kernel, `1`) == `0`"
    message: {pass: ok, fail: bad}
    remediation: {text: fix}
  - id: RZ004
    requirements: [MT-LNX-001]
    roles: [master-target]
    title: other role
    rationale: r
    check: "`true`"
    message: {pass: ok, fail: bad}
    remediation: {text: fix}
"""


@pytest.fixture()
def rules(tmp_path: Path):  # type: ignore[no-untyped-def]
    path = tmp_path / "pack.yaml"
    path.write_text(PACK)
    return load_pack(path)


def target(**facts: object) -> TargetFacts:
    return TargetFacts(uri="local://", name="t", scheme="local", roles=["protected-linux"], facts=dict(facts))


def by_id(findings):  # type: ignore[no-untyped-def]
    return {f.rule_id: f for f in findings}


def test_pass_fail_and_messages(rules) -> None:  # type: ignore[no-untyped-def]
    t = target(storage={"disk_count": 65}, os={"family": "linux", "kernel": "x"},
               software={"waagent": {"installed": True}})
    found = by_id(judge_target(t, rules))
    assert found["RZ001"].status == "fail" and found["RZ001"].message == "65 disks is too many"
    assert found["RZ002"].status == "pass"
    assert "RZ004" not in found  # other role: not judged at all


def test_not_applicable(rules) -> None:  # type: ignore[no-untyped-def]
    t = target(storage={"disk_count": 1}, os={"family": "windows", "kernel": "x"},
               software={"waagent": {"installed": False}})
    found = by_id(judge_target(t, rules))
    assert found["RZ002"].status == "not-applicable" and found["RZ002"].message == "not linux"


def test_missing_fact_and_gap_are_errors_with_reasons(rules) -> None:  # type: ignore[no-untyped-def]
    t = target(os={"family": "linux", "kernel": "x"}, software={"waagent": {"installed": None}})
    t.gaps["software.waagent"] = "rpm needs root"
    found = by_id(judge_target(t, rules))
    assert found["RZ001"].status == "error" and "no storage facts were collected" in found["RZ001"].message
    assert found["RZ002"].status == "error" and "rpm needs root" in found["RZ002"].message
    only_errors = [found["RZ001"], found["RZ002"]]
    assert target_status(only_errors, None) == "unknown"  # nothing judged: we do not know


def test_null_check_is_an_error_not_a_pass(rules) -> None:  # type: ignore[no-untyped-def]
    t = target(storage={"disk_count": 2}, os={"family": "linux", "kernel": "x"}, software={"waagent": {}})
    found = by_id(judge_target(t, rules))
    assert found["RZ002"].status == "error"
    assert found["RZ002"].message == "cannot judge: software.waagent.installed is null"


def test_a_null_fact_in_a_function_is_an_error_naming_the_fact(rules) -> None:  # type: ignore[no-untyped-def]
    t = target(storage={"disk_count": 2}, os={"family": "linux", "kernel": None},
               software={"waagent": {"installed": True}})
    found = by_id(judge_target(t, rules))
    assert found["RZ003"].status == "error"
    assert found["RZ003"].message.startswith("cannot judge: os.kernel is null"), found["RZ003"].message
    assert found["RZ001"].status == "pass" and found["RZ002"].status == "pass"
    # RZ003 is a blocker (LNX-HOSTS-001) that could not be judged: the machine may not be ready.
    assert target_status(list(found.values()), None) == "unknown"


def test_a_rule_that_raises_does_not_stop_the_others(tmp_path: Path) -> None:
    pack = tmp_path / "p.yaml"
    pack.write_text(PACK + """
  - id: RZ005
    requirements: [LNX-AGENT-001]
    roles: [protected-linux]
    title: raises
    rationale: r
    check: "length(where_gt(storage.disks, 'size', `1`)) == `0`"
    message: {pass: ok, fail: bad}
    remediation: {text: fix}
""")
    t = target(storage={"disk_count": 2, "disks": [{"name": "sda"}]}, os={"family": "linux", "kernel": "1"},
               software={"waagent": {"installed": True}})
    found = by_id(judge_target(t, load_pack(pack)))
    assert found["RZ005"].status == "error" and found["RZ005"].message.startswith("rule raised ValueError")
    assert found["RZ001"].status == "pass" and found["RZ002"].status == "pass"
    # RZ005 is an info rule: an info or warning rule not judged leaves the machine ready-with-warnings.
    assert target_status(list(found.values()), None) == "ready-with-warnings"


def test_score_weights_and_status(rules) -> None:  # type: ignore[no-untyped-def]
    t = target(storage={"disk_count": 70}, os={"family": "linux", "kernel": "1"},
               software={"waagent": {"installed": True}})
    findings = judge_target(t, rules)
    # RZ001 blocker (10) fails, RZ002 info (1) passes, RZ003 blocker (10) passes: 11 of 21.
    assert target_score(findings) == round(100 * 11 / 21, 1)
    assert target_status(findings, None) == "not-ready"
    assert target_status([], "unreachable") == "unknown"


def test_waiver_applies_by_requirement_and_target_until_it_expires(rules) -> None:  # type: ignore[no-untyped-def]
    t = target(storage={"disk_count": 70}, os={"family": "linux", "kernel": "1"},
               software={"waagent": {"installed": True}})
    waiver = Waiver(id="VM-DISK-002", justification="big VM, excluded disks", targets="t", expires=date(2030, 1, 1))
    found = by_id(judge_target(t, rules, waivers=[waiver], today=date(2029, 12, 31)))
    assert found["RZ001"].status == "waived" and found["RZ001"].waiver["justification"].startswith("big")
    found = by_id(judge_target(t, rules, waivers=[waiver], today=date(2030, 1, 2)))
    assert found["RZ001"].status == "fail" and "expired on 2030-01-01" in found["RZ001"].message
    other = Waiver(id="VM-DISK-002", justification="x", targets="web*")
    assert by_id(judge_target(t, rules, waivers=[other]))["RZ001"].status == "fail"


def test_root_paths_ignore_item_relative_names() -> None:
    expr = compile_expression("length(storage.mounts[?fstype == 'xfs'].device) > `0` && os.version == '6.6'")
    assert root_paths(expr) == {"storage.mounts", "os.version"}


def test_params_inside_a_filter_are_refused(tmp_path: Path) -> None:
    pack = tmp_path / "p.yaml"
    pack.write_text(PACK.replace("check: storage.disk_count <= params.limit",
                                 "check: \"length(storage.disks[?size_gb > params.limit]) == `0`\""))
    with pytest.raises(UsageError, match="inside a filter or projection"):
        load_pack(pack)


def test_unknown_requirement_and_role_are_refused(tmp_path: Path) -> None:
    pack = tmp_path / "p.yaml"
    pack.write_text(PACK.replace("[VM-DISK-002]", "[VM-DISK-999]"))
    with pytest.raises(UsageError, match="unknown requirement ID 'VM-DISK-999'"):
        load_pack(pack)
    pack.write_text(PACK.replace("roles: [master-target]", "roles: [janitor]"))
    with pytest.raises(UsageError, match="unknown role 'janitor'"):
        load_pack(pack)


def test_shipped_rules_load_and_cite_catalog_ids() -> None:
    rules = default_rules()
    assert len({r.id for r in rules}) == len(rules)
    assert all(r.requirements and r.remediation["text"] and r.rationale for r in rules)


def test_when_false_fail_needs_a_condition(tmp_path: Path) -> None:
    pack = tmp_path / "p.yaml"
    pack.write_text(PACK.replace("    check: \"`true`\"", "    when_false: fail\n    check: \"`true`\""))
    with pytest.raises(UsageError, match="RZ004: when_false: fail needs a when condition"):
        load_pack(pack)
    condition = "    when: os.family == 'linux'"
    pack.write_text(PACK.replace(condition, condition + "\n    when_false: maybe"))
    with pytest.raises(UsageError, match="when_false"):
        load_pack(pack)


def test_findings_serialise_every_field() -> None:
    from dataclasses import asdict, fields

    from readiness.engine import Finding
    finding = Finding(rule_id="RZ001", requirements=["VM-DISK-002"], title="t", severity="blocker", status="fail",
                      message="m", scenarios=["vmware-to-azure"], evidence={"disks": [{"n": 1}]})
    assert finding.to_json() == asdict(finding)  # the hand-built dict misses no field
    assert list(finding.to_json()) == [f.name for f in fields(Finding)]
