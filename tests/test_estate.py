"""Estate rules: judged on the `estate://` target a multi-target run adds, from saved facts of fixture hosts."""

from __future__ import annotations

import copy
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest

from readiness.checks.linux.parse import parse_probe
from readiness.cli import main
from readiness.facts import TargetFacts, write_facts
from tests.chroot_hosts import build_root, default_root_dir, run_probe
from tests.reportschema import validate_report

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("busybox"),
                                reason="chroot fixtures need root and busybox-static")


@pytest.fixture(scope="module")
def hosts() -> dict[str, TargetFacts]:
    found = {}
    for name, roles in (("mt-centos-6.6", ["master-target"]), ("centos-6.5", ["protected-linux"]),
                        ("centos-6.6", ["protected-linux"]), ("centos-6.7", ["protected-linux"]),
                        ("sles-11-sp3", ["protected-linux"])):
        facts, gaps = parse_probe(run_probe(build_root(name, default_root_dir(name))))
        found[name] = TargetFacts(uri=f"ssh://root@{name}:22", name=name, scheme="ssh", roles=roles, facts=facts,
                                  gaps=gaps)
    return found


def renamed(target: TargetFacts, name: str) -> TargetFacts:
    """Another machine built like this one: its own name, host name and address, so it is not merged as a view
    of the same machine (readiness/merge.py)."""
    clone = copy.deepcopy(target)
    clone.name, clone.uri = name, f"ssh://root@{name}:22"
    clone.facts["host"] = {**clone.facts.get("host", {}), "hostname": f"{name}.contoso.local", "short_name": name}
    if clone.facts["host"].get("product_uuid"):  # its own SMBIOS UUID too
        clone.facts["host"]["product_uuid"] = str(uuid.uuid5(uuid.NAMESPACE_DNS, name))
    return clone


def evaluate(tmp_path: Path, targets: list[TargetFacts], *extra: str) -> tuple[int, dict[str, Any]]:
    facts, out = tmp_path / "facts.json", tmp_path / "r.json"
    write_facts(facts, targets)
    code = main(["evaluate", str(facts), "--reporter", f"json:{out}", *extra])
    report = json.loads(out.read_text())
    validate_report(report)
    return code, report


def estate_findings(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    assert report["estate"]["target"] == "estate://" and report["estate"]["roles"] == ["estate"]
    return {f["rule_id"]: f for f in report["estate"]["findings"]}


def test_a_good_failback_set(hosts: dict[str, TargetFacts], tmp_path: Path) -> None:
    _, report = evaluate(tmp_path, [hosts["mt-centos-6.6"], hosts["centos-6.5"], hosts["centos-6.6"]])
    found = estate_findings(report)
    assert found["RX003"]["status"] == "pass", found["RX003"]
    assert found["RX001"]["status"] == "pass" and "2 protected machine(s)" in found["RX001"]["message"]
    assert found["RX002"]["status"] == "not-applicable"
    assert found["RX004"]["status"] == "not-applicable"
    assert report["summary"]["targets"] == 3  # the estate is not counted as a machine


def test_a_source_newer_than_the_master_target(hosts: dict[str, TargetFacts], tmp_path: Path) -> None:
    code, report = evaluate(tmp_path, [hosts["mt-centos-6.6"], hosts["centos-6.6"], hosts["centos-6.7"]])
    rx003 = estate_findings(report)["RX003"]
    assert rx003["status"] == "fail" and "older than centos-6.7 6.7" in rx003["message"], rx003["message"]
    assert rx003["message"].count("must be CentOS 6.6") == 1  # the seeds' contradiction, said once
    assert [m for n in rx003["evidence"]["newer"] for m in n["machines"]] == ["centos-6.7"]
    assert report["estate"]["status"] == "not-ready" and code == 1


def test_versions_compare_only_within_a_distribution_family(hosts: dict[str, TargetFacts], tmp_path: Path) -> None:
    """SLES 11.3 is not 'newer than CentOS 6.6': it is another OS, which the CentOS master target cannot serve."""
    _, report = evaluate(tmp_path, [hosts["mt-centos-6.6"], hosts["centos-6.5"], hosts["sles-11-sp3"]])
    rx003 = estate_findings(report)["RX003"]
    assert rx003["status"] == "fail" and rx003["evidence"]["newer"] == []
    assert [m for o in rx003["evidence"]["other_os"] for m in o["machines"]] == ["sles-11-sp3"]
    assert "sles-11-sp3 runs another OS" in rx003["message"] and "older than" not in rx003["message"]


def test_every_master_target_is_judged_whatever_the_scan_order(hosts: dict[str, TargetFacts],
                                                                tmp_path: Path) -> None:
    old_mt = renamed(hosts["centos-6.5"], "mt-centos-6.5")
    old_mt.roles = ["master-target"]
    machines = [hosts["centos-6.6"], hosts["mt-centos-6.6"], old_mt, hosts["centos-6.5"]]
    verdicts = []
    for order in (machines, machines[::-1], machines[1:] + machines[:1]):
        _, report = evaluate(tmp_path, order)
        rx003 = estate_findings(report)["RX003"]
        verdicts.append((rx003["status"], rx003["message"], rx003["evidence"]))
    assert verdicts[0] == verdicts[1] == verdicts[2]
    status, message, evidence = verdicts[0]
    # The 6.6 master target covers both machines; the 6.5 one is older than the 6.6 machine, whichever came first.
    assert status == "fail" and [(n["master_target"], n["machines"]) for n in evidence["newer"]] == [
        ("mt-centos-6.5", ["centos-6.6"])]
    assert message.startswith("master target mt-centos-6.5 (CentOS release 6.5 (Final)): older than centos-6.6 6.6")
    assert "must be CentOS 6.6" not in message  # a CentOS 6.6 master target would serve it: no contradiction


def test_xfs_root_needs_reiserfs_and_xfs_tools_on_the_master_target(hosts: dict[str, TargetFacts],
                                                                    tmp_path: Path) -> None:
    xfs_root = renamed(hosts["centos-6.6"], "c66-xfsroot")  # a CentOS 6.6 like it, its root volume formatted XFS
    for mount in xfs_root.facts["storage"]["block_mounts"]:
        if mount["mountpoint"] == "/":
            mount["fstype"] = "xfs"
    _, report = evaluate(tmp_path, [hosts["mt-centos-6.6"], xfs_root])
    rx004 = estate_findings(report)["RX004"]
    assert rx004["status"] == "fail"
    assert rx004["evidence"]["lacking"] == [{"master_target": "mt-centos-6.6", "machines": ["c66-xfsroot"],
                                             "missing": ["kmod-reiserfs", "reiserfs-utils"]}]  # it has xfsprogs
    assert rx004["message"] == ("c66-xfsroot boots from ReiserFS/XFS; master target mt-centos-6.6 lacks "
                                "kmod-reiserfs, reiserfs-utils")


def test_capacity_counts_protected_machines_per_process_server(hosts: dict[str, TargetFacts],
                                                               tmp_path: Path) -> None:
    many = []
    for index in range(201):
        many.append(renamed(hosts["centos-6.6"], f"web{index:03d}"))
    _, report = evaluate(tmp_path, many)
    rx001 = estate_findings(report)["RX001"]
    assert rx001["status"] == "fail" and "201 protected machines need 2 process servers" in rx001["message"]


def test_a_single_target_has_no_estate(hosts: dict[str, TargetFacts], tmp_path: Path) -> None:
    _, report = evaluate(tmp_path, [hosts["centos-6.6"]])
    assert "estate" not in report


def test_hyperv_hosts_of_two_windows_versions(tmp_path: Path) -> None:
    from readiness.checks.windows.parse import parse_probe as parse_windows

    fixtures = Path(__file__).resolve().parent.parent / "fixtures" / "windows"
    hosts = []
    for name in ("win2012", "win2012r2-hyperv-cluster-nokb"):
        facts, gaps = parse_windows((fixtures / f"{name}.txt").read_text())
        hosts.append(TargetFacts(uri=f"winrm://administrator@{name}:5986", name=name, scheme="winrm",
                                 roles=["hyperv-host"], facts=facts, gaps=gaps))
    _, report = evaluate(tmp_path, hosts)
    rx002 = estate_findings(report)["RX002"]
    assert rx002["status"] == "fail"
    assert "2012 R2" in rx002["message"] and "Server 2012 " in rx002["message"]
