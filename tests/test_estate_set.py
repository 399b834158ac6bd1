"""The estate target on hand-made machines: which rules run there, master targets vs their failback set, VMM
Provider versions per cluster, and an estate with no machine read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from readiness.cli import main
from readiness.engine import is_estate_rule, judge_target
from readiness.estate import digest, estate_target
from readiness.facts import TargetFacts, write_facts
from readiness.rulepack import default_rules
from tests.reportschema import validate_report


def linux(name: str, distribution: str, version: str, roles: list[str], **extra: Any) -> TargetFacts:
    facts = {"os": {"family": "linux", "distribution": distribution, "version": version,
                    "name": f"{distribution} {version}"}, **extra}
    return TargetFacts(uri=f"ssh://root@{name}:22", name=name, scheme="ssh", roles=roles, facts=facts)


def windows(name: str, version: str, roles: list[str], vmm: dict[str, Any] | None = None,
            cluster: dict[str, Any] | None = None) -> TargetFacts:
    facts: dict[str, Any] = {"os": {"family": "windows", "distribution": "windows", "version": version,
                                    "name": f"Windows {version}"}}
    if vmm is not None:
        facts["vmm"] = vmm
    if cluster is not None:
        facts["cluster"] = cluster
    return TargetFacts(uri=f"winrm://administrator@{name}:5986", name=name, scheme="winrm", roles=roles,
                       facts=facts)


def judge_estate(*machines: TargetFacts) -> dict[str, Any]:
    whole = estate_target([d for m in machines if (d := digest(m)) is not None])
    return {f.rule_id: f for f in judge_target(whole, default_rules())}


def test_only_estate_rules_run_on_the_estate_and_never_on_a_machine() -> None:
    estate_rules = {r.id for r in default_rules() if is_estate_rule(r)}
    assert estate_rules == {"RX001", "RX002", "RX003", "RX004", "RX005", "RX006", "RX007"}
    found = judge_estate(linux("a", "centos", "6.6", ["protected-linux"]), linux("b", "centos", "6.5",
                                                                                ["protected-linux"]))
    assert set(found) == estate_rules  # LNX-PUSH-005 lists the estate role, but it is a per-machine rule
    machine = linux("a", "centos", "6.6", ["protected-linux", "master-target"])
    assert not {f.rule_id for f in judge_target(machine, default_rules())} & estate_rules


@pytest.mark.parametrize(("machines", "status", "newer", "other"), [
    # EL is one family: RHEL and Oracle Linux compare with a CentOS master target.
    ([("rhel-66", "rhel", "6.6"), ("ol-65", "oracle", "6.5")], "pass", [], []),
    ([("rhel-67", "rhel", "6.7")], "fail", ["rhel-67"], []),
    ([("c67", "centos", "6.7"), ("sles", "sles", "11.3")], "fail", ["c67"], ["sles"]),
    ([("c66", "centos", "6.6")], "pass", [], []),  # the same version is enough
    ([("c67b", "centos", "6.7"), ("c67a", "centos", "6.7")], "fail", ["c67a", "c67b"], []),  # one entry, sorted
])
def test_linux_master_target_against_its_failback_set(machines: list[tuple[str, str, str]], status: str,
                                                      newer: list[str], other: list[str]) -> None:
    found = judge_estate(linux("mt", "centos", "6.6", ["master-target"]),
                         *(linux(n, d, v, ["protected-linux"]) for n, d, v in machines))
    rx003 = found["RX003"]
    assert rx003.status == status, rx003.message
    assert [m for n in rx003.evidence["newer"] for m in n["machines"]] == newer
    assert [m for o in rx003.evidence["other_os"] for m in o["machines"]] == other
    if newer:
        assert f"older than {', '.join(newer)} {machines[0][2]};" in rx003.message
        assert rx003.message.count("must be CentOS 6.6 (F:141)") == 1


def test_each_master_target_fails_back_its_own_os_family() -> None:
    """A Windows master target for the Windows machines, a Linux one for the Linux machines (F:79, R:23)."""
    wmt, lmt = windows("wmt", "6.3", ["master-target"]), linux("lmt", "centos", "6.6", ["master-target"])
    found = judge_estate(wmt, lmt, windows("w2008", "6.1", ["protected-windows"]),
                         linux("c65", "centos", "6.5", ["protected-linux"]))
    assert found["RX003"].status == "pass", found["RX003"].message
    assert "master target lmt (centos 6.6) covers c65" in found["RX003"].message
    assert "master target wmt (Windows 6.3) covers w2008" in found["RX003"].message
    found = judge_estate(wmt, lmt, windows("w2016", "10.0", ["protected-windows"]))
    assert found["RX003"].status == "fail"
    assert found["RX003"].message.startswith("master target wmt (Windows 6.3): older than w2016 10.0")
    assert "CentOS 6.6" not in found["RX003"].message  # no Linux contradiction to report here
    # Windows machines with only a Linux master target scanned: nothing to compare, and the message says so.
    found = judge_estate(lmt, linux("c65", "centos", "6.5", ["protected-linux"]),
                         windows("w2012", "6.2", ["protected-windows"]))
    assert found["RX003"].status == "pass" and "no master target of their OS family scanned for w2012" in \
        found["RX003"].message


def test_an_unknown_version_is_not_judged() -> None:
    found = judge_estate(linux("mt", "centos", "6.6", ["master-target"]),
                         linux("odd", "centos", None, ["protected-linux"]))  # type: ignore[arg-type]
    assert found["RX003"].status == "error"
    assert "the OS distribution or version of odd is not known" in found["RX003"].message


def vmm_node(name: str, provider: str | None, nodes: list[str], gap: str | None = None) -> TargetFacts:
    node = windows(name, "6.3", ["vmm-server"], cluster={"node": True, "name": "VMMCLU", "nodes": nodes},
                   vmm={"server": True, "version": "3.2.7510", "provider_version": provider})
    if gap:
        node.gaps["vmm.provider_version"] = gap
    return node


@pytest.mark.parametrize(("versions", "status", "needle"), [
    ({"vmm1": "5.1.3100", "vmm2": "5.1.3100"}, "pass", "cluster VMMCLU: vmm1, vmm2 run Provider 5.1.3100"),
    ({"vmm1": "5.1.3100", "vmm2": "5.1.3400"}, "fail", "cluster VMMCLU mixes Provider versions: vmm1 5.1.3100, "
                                                       "vmm2 5.1.3400"),
    ({"vmm1": "5.1.3100", "vmm2": None}, "fail", "vmm2 not installed"),
    ({"vmm1": "5.1.3100"}, "pass", "(not scanned: VMM2)"),
])
def test_vmm_cluster_nodes_run_one_provider_version(versions: dict[str, str | None], status: str,
                                                    needle: str) -> None:
    found = judge_estate(*(vmm_node(n, v, ["VMM1", "VMM2"]) for n, v in versions.items()),
                         windows("standalone", "6.3", ["vmm-server"], vmm={"server": True, "provider_version": "1.0"}))
    rx005 = found["RX005"]
    assert rx005.status == status and needle in rx005.message, rx005.message


def test_vmm_provider_version_not_collected_is_an_error() -> None:
    found = judge_estate(vmm_node("vmm1", "5.1.3100", []), vmm_node("vmm2", None, [], gap="WMI access denied"))
    assert found["RX005"].status == "error"
    assert "vmm.provider_version was not collected on vmm2: WMI access denied" in found["RX005"].message


def test_an_estate_with_no_machine_read_is_unknown(tmp_path: Path) -> None:
    facts, out = tmp_path / "facts.json", tmp_path / "r.json"
    write_facts(facts, [TargetFacts(uri=f"ssh://root@h{i}:22", name=f"h{i}", scheme="ssh", roles=["protected-linux"],
                                    error="connection refused") for i in range(2)])
    code = main(["evaluate", str(facts), "--reporter", f"json:{out}"])
    report = json.loads(out.read_text())
    validate_report(report)
    estate = report["estate"]
    assert estate["status"] == "unknown" and estate["score"] is None and estate["findings"] == []
    assert "no machine of this run could be read" in estate["error"]
    assert code == 3 and report["gate"]["exit_code"] == 3


def test_vmm_provider_versions_from_parsed_probe_output(tmp_path: Path) -> None:
    """The same check on the Windows probe's real output shape (a VMM server fixture, made two cluster nodes)."""
    from readiness.checks.windows.parse import parse_probe

    text = (Path(__file__).resolve().parent.parent / "fixtures" / "windows" / "win2012r2-vmm.txt").read_text()
    nodes = []
    for name, provider in (("vmm-a", None), ("vmm-b", "5.1.1900.0")):
        facts, gaps = parse_probe(text)
        facts["cluster"].update(node=True, name="VMMCLU", nodes=["VMM-A", "VMM-B"])
        facts["host"].update(hostname=name, product_uuid=None)  # two machines, not two views of one
        facts["windows"]["netbios_name"] = name.upper()
        if provider:
            facts["vmm"]["provider_version"] = provider
        nodes.append(TargetFacts(uri=f"winrm://administrator@{name}:5986", name=name, scheme="winrm",
                                 roles=["vmm-server"], facts=facts, gaps=gaps))
    path, out = tmp_path / "facts.json", tmp_path / "r.json"
    write_facts(path, nodes)
    main(["evaluate", str(path), "--scenario", "hyperv-vmm-to-site", "--reporter", f"json:{out}", "--soft-fail"])
    report = json.loads(out.read_text())
    validate_report(report)
    rx005 = {f["rule_id"]: f for f in report["estate"]["findings"]}["RX005"]
    assert rx005["status"] == "fail", rx005["message"]
    assert rx005["message"] == "cluster VMMCLU mixes Provider versions: vmm-a 5.1.1700.0, vmm-b 5.1.1900.0"
    assert report["estate"]["scenario_results"][0]["scenario"] == "hyperv-vmm-to-site"
    assert report["estate"]["scenario_results"][0]["status"] == "ready-with-warnings"  # VMM-PROV-001 is a warning
