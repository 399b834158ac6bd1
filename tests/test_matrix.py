"""Support matrices as dated data: every entry sourced, every rule's entries found, fixtures judged under the
seeds' matrix (the default) and Microsoft's published matrix of 2023-09, with the differences asserted.

Windows machines are the parsed fixtures of fixtures/windows/ with only the facts of each case changed;
Linux machines are the distribution fixtures run through the real probe in a chroot (root and busybox
needed, as in test_linux_fixtures); VMware VMs, vCenter and ESXi are facts built here.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from readiness.checks.windows.parse import parse_probe as parse_windows
from readiness.cli import main
from readiness.engine import judge_target
from readiness.errors import UsageError
from readiness.facts import TargetFacts, write_facts
from readiness.matrix import DEFAULT_MATRIX, load_matrix, load_matrix_file, matrix_files
from readiness.rulepack import default_rules, load_rules

ROOT = Path(__file__).resolve().parent.parent
WINDOWS = ROOT / "fixtures" / "windows"
GIB = 1024**3
SEED, PUBLISHED = "seed", "published-2023-09"
#: Rules whose limits come from a support matrix: none may carry them as literal params any more.
MATRIX_RULES = {"RL001": "linux.protected_linux_releases", "RL021": "linux.protected_linux_releases",
                "RL005": "linux.filesystems", "RL015": "boot.firmware", "RL016": "azure.disk_max_bytes",
                "RL017": "azure.disk_count_max", "RW001": "windows.protected_windows_releases",
                "RW011": "boot.firmware", "RW012": "azure.disk_max_bytes", "RW013": "azure.disk_count_max",
                "RM201": "management_server.windows_releases", "RV001": "boot.firmware",
                "RV002": "azure.disk_max_bytes", "RV003": "azure.disk_count_max", "RV011": "vmware.guest_ids",
                "RC001": "vcenter.versions", "RE001": "esxi.versions", "RM001": "master_target.linux_releases",
                "RH001": "hyperv.host_min_version", "RP003": "process_server.daily_change_max_gb"}


# ---------------------------------------------------------------- the data itself


@pytest.mark.parametrize("name", sorted(matrix_files()))
def test_every_entry_and_unjudged_item_carries_a_source(name: str) -> None:
    matrix = load_matrix(name)
    assert matrix.date and matrix.source["document"]
    for key, entry in matrix.entries.items():
        assert len(entry.source) > 20, key
    for item in matrix.not_judged:
        assert item["source"].strip() and item["text"].strip()


def test_both_matrices_define_the_same_entries() -> None:
    assert set(load_matrix(SEED).entries) == set(load_matrix(PUBLISHED).entries)


def test_published_matrix_cites_the_document_and_commit() -> None:
    matrix = load_matrix(PUBLISHED)
    assert matrix.source["commit"] == "36f1051e8374733acd6d78d2a27209b4693db494"
    assert matrix.info() == {"name": PUBLISHED, "date": "2023-09-28", "source": matrix.source_text()}
    assert all("vmware-physical-azure-support-matrix.md" in e.source or "'" in e.source
               for e in matrix.entries.values())
    assert {item["topic"] for item in matrix.not_judged} >= {"UEFI Secure Boot", "BTRFS conditions"}


@pytest.mark.parametrize("name", sorted(matrix_files()))
def test_rules_read_their_limits_from_the_matrix(name: str) -> None:
    rules = {rule.id: rule for rule in default_rules(name)}
    matrix = load_matrix(name)
    for rule_id, key in MATRIX_RULES.items():
        assert key in rules[rule_id].matrix_refs.values(), rule_id
        param = next(p for p, k in rules[rule_id].matrix_refs.items() if k == key)
        assert rules[rule_id].params[param] == matrix.entries[key].value


def test_the_default_is_the_seeds_matrix() -> None:
    assert DEFAULT_MATRIX == SEED
    assert [r.params for r in default_rules()] == [r.params for r in default_rules(SEED)]


def _matrix_without(tmp_path: Path, key: str) -> Path:
    data = yaml.safe_load(matrix_files()[SEED].read_text())
    del data["entries"][key]
    data["matrix"] = "trimmed"
    path = tmp_path / "trimmed.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_rule_whose_entry_is_missing_is_refused_naming_file_rule_and_entry(tmp_path: Path) -> None:
    path = _matrix_without(tmp_path, "azure.disk_count_max")
    with pytest.raises(UsageError) as err:
        load_rules([ROOT / "rules" / "linux.yaml"], matrix=load_matrix_file(path))
    assert "rules/linux.yaml" in str(err.value) and "RL017" in str(err.value)
    assert "azure.disk_count_max" in str(err.value) and "trimmed" in str(err.value)


def test_an_entry_without_a_source_is_refused(tmp_path: Path) -> None:
    data = yaml.safe_load(matrix_files()[SEED].read_text())
    del data["entries"]["esxi.versions"]["source"]
    data["matrix"] = "nosource"
    path = tmp_path / "nosource.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(UsageError, match=r"esxi\.versions.*source"):
        load_matrix_file(path)


def test_a_mistyped_limit_is_refused(tmp_path: Path) -> None:
    data = yaml.safe_load(matrix_files()[SEED].read_text())
    data["entries"]["azure.disk_max_bytes"]["value"] = "1 TB"
    data["matrix"] = "mistyped"
    path = tmp_path / "mistyped.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(UsageError, match=r"mistyped\.yaml:\d+: invalid at entries/azure\.disk_max_bytes/value"):
        load_matrix_file(path)


def test_a_malformed_kernel_spec_is_refused(tmp_path: Path) -> None:
    data = yaml.safe_load(matrix_files()[PUBLISHED].read_text())
    data["entries"]["linux.protected_linux_releases"]["value"][0]["kernels"] = [{"above": "4.18"}]
    data["matrix"] = "badkernel"
    path = tmp_path / "badkernel.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(UsageError, match=r"linux\.protected_linux_releases"):
        load_matrix_file(path)


# ---------------------------------------------------------------- judging under both matrices


def judge(facts: dict[str, Any], roles: list[str], rule_id: str, matrix: str) -> tuple[str, str]:
    target = TargetFacts(uri="x://m", name="m", scheme="winrm", roles=roles, facts=facts, gaps={})
    finding = next(f for f in judge_target(target, default_rules(matrix)) if f.rule_id == rule_id)
    return finding.status, finding.message


@cache
def _windows(name: str) -> dict[str, Any]:
    facts, _ = parse_windows((WINDOWS / f"{name}.txt").read_text(encoding="ascii"))
    windows = facts["windows"]
    for entry in windows.get("disks") or []:
        entry.setdefault("size_bytes", int(entry["size_gb"] * GIB))
        entry.setdefault("paths", 1)
    windows.setdefault("disk_count", len(windows.get("disks") or []))
    return facts


def windows(name: str, change: Callable[[dict[str, Any]], None] = lambda f: None) -> dict[str, Any]:
    facts = copy.deepcopy(_windows(name))
    change(facts)
    return facts


def _release(version: str, build: int, caption: str) -> Callable[[dict[str, Any]], None]:
    def change(facts: dict[str, Any]) -> None:
        facts["os"]["version"] = version
        facts["windows"].update(build=build, caption=caption, service_pack=0)
    return change


def _uefi(facts: dict[str, Any]) -> None:
    facts["boot"]["firmware"] = "uefi"


def _disks(*sizes: int) -> Callable[[dict[str, Any]], None]:
    def change(facts: dict[str, Any]) -> None:
        facts["windows"]["disks"] = [{"index": i, "model": "LUN", "size_bytes": s, "size_gb": round(s / GIB, 1),
                                      "paths": 1} for i, s in enumerate(sizes)]
        facts["windows"]["disk_count"] = len(sizes)
    return change


PW = ["protected-windows"]
TB2 = 2048 * GIB

#: (case, fixture, change, roles, rule, seed verdict, published verdict)
WINDOWS_CASES = [
    ("2012 R2 as it is", "win2012r2", lambda f: None, PW, "RW001", "pass", "pass"),
    ("Windows Server 2019", "win2012r2", _release("10.0", 17763, "Windows Server 2019 Standard"), PW, "RW001",
     "fail", "pass"),
    ("a Semi-Annual Channel server", "win2012r2", _release("10.0", 18363, "Windows Server Standard"), PW, "RW001",
     "fail", "fail"),
    ("Windows 10 64-bit", "win10", lambda f: None, PW, "RW001", "fail", "pass"),
    ("2008 R2 SP1", "win2008r2-sp1", lambda f: None, PW, "RW001", "pass", "pass"),
    ("UEFI on 2012 R2", "win2012r2", _uefi, PW, "RW011", "fail", "pass"),
    ("UEFI on 2008 R2 SP1", "win2008r2-sp1", _uefi, PW, "RW011", "fail", "fail"),
    ("a 2 TB disk", "win2012r2", _disks(100 * GIB, TB2), PW, "RW012", "fail", "pass"),
    ("a 32767 GiB + 1 byte disk", "win2012r2", _disks(32767 * GIB + 1), PW, "RW012", "fail", "fail"),
    ("65 disks", "win2012r2", _disks(*[GIB * 10] * 65), PW, "RW013", "fail", "pass"),
    ("66 disks", "win2012r2", _disks(*[GIB * 10] * 66), PW, "RW013", "fail", "fail"),
    ("a 2016 management server (the appliance's OS)", "win2016-config-server", lambda f: None,
     ["management-server"], "RM201", "fail", "pass"),
    ("a 2012 R2 management server", "win2012r2", lambda f: None, ["management-server"], "RM201", "pass", "pass"),
]


@pytest.mark.parametrize("case, fixture, change, roles, rule_id, seed, published", WINDOWS_CASES,
                         ids=[c[0] for c in WINDOWS_CASES])
def test_windows_fixtures_under_both_matrices(case: str, fixture: str, change: Callable[[dict[str, Any]], None],
                                              roles: list[str], rule_id: str, seed: str, published: str) -> None:
    facts = windows(fixture, change)
    for matrix, expected in ((SEED, seed), (PUBLISHED, published)):
        status, message = judge(facts, roles, rule_id, matrix)
        assert status == expected, (matrix, message)
        if status == "fail" or rule_id in ("RW012", "RW013"):
            assert matrix in message, message  # the verdict names the matrix it was judged against


def test_windows_messages_quote_the_matrix_limits() -> None:
    status, message = judge(windows("win2012r2", _disks(TB2)), PW, "RW012", SEED)
    assert status == "fail" and "at most 1023 GB (1,098,437,885,952 bytes)" in message
    status, message = judge(windows("win2012r2", _release("10.0", 17763, "Windows Server 2019")), PW, "RW001", SEED)
    assert "Windows Server 2012 R2, Windows Server 2012, Windows Server 2008 R2 SP1" in message


def vm_facts(firmware: str = "bios", disks: tuple[int, ...] = (40 * GIB,), guest: str = "centos6_64Guest",
             vcenter: str = "6.0.0", esxi: str = "6.0.0") -> dict[str, Any]:
    listed = [{"label": f"Hard disk {i + 1}", "capacity_bytes": size} for i, size in enumerate(disks)]
    return {"vm": {"firmware": firmware, "disks": listed, "disk_count": len(listed), "guest_id": guest,
                   "guest_full_name": guest, "largest_disk_gb": round(max(disks) / GIB, 1)},
            "vcenter": {"api_type": "VirtualCenter", "version": vcenter, "full_name": f"VMware vCenter {vcenter}"},
            "esxi": {"version": esxi, "full_name": f"VMware ESXi {esxi}"}}


VMWARE_CASES = [
    ("an EFI VM", vm_facts(firmware="efi"), ["vmware-vm"], "RV001", "fail", "pass"),
    ("a BIOS VM", vm_facts(), ["vmware-vm"], "RV001", "pass", "pass"),
    ("a 2 TB VMDK", vm_facts(disks=(40 * GIB, TB2)), ["vmware-vm"], "RV002", "fail", "pass"),
    ("a CentOS 7 guest ID", vm_facts(guest="centos7_64Guest"), ["vmware-vm"], "RV011", "fail", "pass"),
    ("65 VMDKs", vm_facts(disks=(GIB,) * 65), ["vmware-vm"], "RV003", "fail", "pass"),
    ("vCenter 6.0", vm_facts(), ["vcenter"], "RC001", "pass", "fail"),
    ("vCenter 7.0.3", vm_facts(vcenter="7.0.3"), ["vcenter"], "RC001", "fail", "pass"),
    ("vCenter 8.0.2", vm_facts(vcenter="8.0.2"), ["vcenter"], "RC001", "fail", "pass"),
    ("ESXi 5.1", vm_facts(esxi="5.1.0"), ["esxi-host"], "RE001", "pass", "fail"),
    ("ESXi 6.7", vm_facts(esxi="6.7.0"), ["esxi-host"], "RE001", "fail", "pass"),
]


@pytest.mark.parametrize("case, facts, roles, rule_id, seed, published", VMWARE_CASES,
                         ids=[c[0] for c in VMWARE_CASES])
def test_vmware_facts_under_both_matrices(case: str, facts: dict[str, Any], roles: list[str], rule_id: str,
                                          seed: str, published: str) -> None:
    assert judge(facts, roles, rule_id, SEED)[0] == seed
    assert judge(facts, roles, rule_id, PUBLISHED)[0] == published


# ---------------------------------------------------------------- Linux distribution fixtures (chroot probe)

chroot = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("busybox"),
                            reason="chroot fixtures need root and busybox-static")


@cache
def linux(name: str) -> dict[str, Any]:
    from readiness.checks.linux.parse import parse_probe
    from tests.chroot_hosts import build_root, default_root_dir, run_probe
    facts, _ = parse_probe(run_probe(build_root(name, default_root_dir(name))))
    return facts


def _centos79(facts: dict[str, Any]) -> None:
    facts["os"].update(version="7.9", minor=9, kernel="3.10.0-1160.el7.x86_64", name="CentOS Linux release 7.9.2009")


def _big_disk(facts: dict[str, Any]) -> None:
    facts["storage"]["disks"][0]["size_bytes"] = TB2


PL = ["protected-linux"]
LINUX_CASES = [
    ("CentOS 7.9", "centos-7", _centos79, "RL001", "fail", "pass"),
    ("CentOS 6.6", "centos-6.6", None, "RL001", "pass", "pass"),
    ("Ubuntu 14.04 on 3.13.0-24-generic", "ubuntu-14.04", None, "RL001", "fail", "pass"),
    ("Oracle 6.5 on UEK2", "oracle-6.5-uek2", None, "RL021", "fail", "fail"),
    ("Oracle 6.5 on UEK3", "oracle-6.5-uek3", None, "RL021", "pass", "pass"),
    ("an EFI machine", "centos-6.6-uefi", None, "RL015", "fail", "pass"),
    ("BTRFS", "centos-6.6-btrfs-bigdisk", None, "RL005", "fail", "pass"),
    ("ReiserFS on SLES 11 SP3", "sles-11-sp3-reiserfs", None, "RL005", "pass", "fail"),
    ("a 2 TB disk", "centos-6.6", _big_disk, "RL016", "fail", "pass"),
]


@chroot
@pytest.mark.parametrize("case, fixture, change, rule_id, seed, published", LINUX_CASES,
                         ids=[c[0] for c in LINUX_CASES])
def test_linux_fixtures_under_both_matrices(case: str, fixture: str, change: Callable[[dict[str, Any]], None] | None,
                                            rule_id: str, seed: str, published: str) -> None:
    facts = copy.deepcopy(linux(fixture))
    if change:
        change(facts)
    for matrix, expected in ((SEED, seed), (PUBLISHED, published)):
        status, message = judge(facts, PL, rule_id, matrix)
        assert status == expected, (matrix, message)
        if status == "fail":
            assert matrix in message, message


# ---------------------------------------------------------------- the command line


def test_matrix_list_and_show_print_dates_and_what_is_not_judged(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["matrix", "list"]) == 0
    out = capsys.readouterr().out
    assert "seed" in out and "2016-07-06" in out and "(default)" in out
    assert PUBLISHED in out and "2023-09-28" in out
    assert main(["matrix", "show", PUBLISHED]) == 0
    out = capsys.readouterr().out
    assert "36f1051e8374733acd6d78d2a27209b4693db494" in out
    assert "judged by: RL001, RL021" in out and "Ubuntu 22.04 LTS [22.04, 22.04.*, 55 kernel spec(s)]" in out
    assert "not judged (the matrix says it, no rule checks it yet):" in out and "UEFI Secure Boot" in out


def test_an_unknown_matrix_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["matrix", "show", "2031-01"]) == 2
    assert main(["evaluate", str(tmp_path / "none.json"), "--matrix", "2031-01"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all("unknown support matrix '2031-01'" in line for line in err)


def test_evaluate_names_the_matrix_and_judges_by_it(tmp_path: Path) -> None:
    facts = windows("win2012r2", _release("10.0", 17763, "Windows Server 2019 Standard"))
    saved = tmp_path / "facts.json"
    write_facts(saved, [TargetFacts(uri="winrm://w19", name="w19", scheme="winrm", roles=PW, facts=facts,
                                    gaps={})])
    verdicts = {}
    for matrix in (None, PUBLISHED):
        out = tmp_path / f"{matrix}.json"
        main(["evaluate", str(saved), "--reporter", f"json:{out}", *(["--matrix", matrix] if matrix else [])])
        report = json.loads(out.read_text())
        name = matrix or SEED
        assert any(note.startswith(f"support matrix: {name} ({load_matrix(name).date})") for note in report["notes"])
        assert report["matrix"] == load_matrix(name).info() and report["matrix"]["name"] == name
        finding = next(f for f in report["targets"][0]["findings"] if f["rule_id"] == "RW001")
        verdicts[name] = finding["status"]
    assert verdicts == {SEED: "fail", PUBLISHED: "pass"}


def test_rules_check_validates_against_every_matrix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "check", str(ROOT / "rules" / "linux.yaml")]) == 0
    pack = yaml.safe_load((ROOT / "rules" / "linux.yaml").read_text())
    pack["rules"][0]["matrix"]["releases"] = "linux.no_such_entry"
    bad = tmp_path / "pack.yaml"
    bad.write_text(yaml.safe_dump(pack))
    assert main(["rules", "check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "RL001" in err and "linux.no_such_entry" in err and str(bad) in err
