"""Boundaries of the vCenter rules, on VMs built through the vSphere API of the govmomi simulator.

Each VM below carries one value on the edge of a rule: disk.EnableUUID spelled several ways, disk sizes at
1023 GiB exactly and just above, master targets with mixed SCSI controllers, a Linux and a Windows master
target selected by name and by glob.  The verdicts come from the real CLI (JSON report); the failback sets
from the collected facts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from readiness.scan import collect_target
from readiness.settings import ScanSettings
from readiness.targets import parse_target
from tests import vcsim
from tests.test_vcenter import VERSIONS, scan, verdicts
from tests.vcsim.estate import build_estate

pytestmark = pytest.mark.skipif(vcsim.available() is not None, reason=str(vcsim.available()))

GIB_KB = 1024 * 1024
LIMIT_KB = 1023 * GIB_KB  # 1023 GiB = 1,098,437,885,952 bytes

#: VM -> (options, {requirement: expected verdict})
LINUX = "centos64Guest"
WINDOWS = "windows8Server64Guest"
ESTATE: dict[str, tuple[dict[str, Any], dict[str, str]]] = {
    # disk.EnableUUID: the key in any letter case, the value true in any letter case, never quoted
    "uuid-lower-key": ({"guest": LINUX, "uuid_key": "disk.enableUUID", "uuid": "true"}, {"VM-UUID-001": "pass"}),
    "uuid-upper": ({"guest": LINUX, "uuid_key": "DISK.ENABLEUUID", "uuid": "TRUE"}, {"VM-UUID-001": "pass"}),
    "uuid-folded": ({"guest": LINUX, "uuid_key": "disk.enableuuid", "uuid": "True"}, {"VM-UUID-001": "pass"}),
    "uuid-quoted": ({"guest": LINUX, "uuid_key": "disk.EnableUUID", "uuid": '"True"'}, {"VM-UUID-001": "fail"}),
    "uuid-false": ({"guest": LINUX, "uuid_key": "disk.enableUUID", "uuid": "false"}, {"VM-UUID-001": "fail"}),
    "uuid-unset": ({"guest": LINUX}, {"VM-UUID-001": "fail"}),
    "uuid-two-spellings": ({"guest": LINUX, "uuid": "true", "extra": {"DISK.ENABLEUUID": "FALSE"}},
                           {"VM-UUID-001": "fail"}),
    # the 5.5-style per-disk sharing key, like every extraConfig key, in any letter case
    "legacy-mw-upper": ({"guest": LINUX, "uuid": "TRUE", "extra": {"SCSI0:0.Sharing": "Multi-Writer"}},
                        {"VM-SHARED-001": "fail"}),
    # disk sizes: bytes against 1023 x 2^30
    "disk-at-limit": ({"guest": LINUX, "uuid": "TRUE", "disk_kb": [40 * GIB_KB, LIMIT_KB]}, {"VM-DISK-001": "pass"}),
    "disk-plus-50mib": ({"guest": LINUX, "uuid": "TRUE", "disk_kb": [LIMIT_KB + 50 * 1024]}, {"VM-DISK-001": "fail"}),
    "disk-plus-1mib": ({"guest": LINUX, "uuid": "TRUE", "disk_kb": [LIMIT_KB + 1024]}, {"VM-DISK-001": "fail"}),
    "disk-plus-1kib": ({"guest": LINUX, "uuid": "TRUE", "disk_kb": [LIMIT_KB + 1]}, {"VM-DISK-001": "fail"}),
    # master targets (matched by the glob mtc-*): every SCSI controller must be LSI Logic (Parallel or SAS)
    "mtc-lsi-buslogic": ({"guest": LINUX, "uuid": "TRUE", "controllers": ["lsilogic", "buslogic"]},
                         {"MT-CTRL-001": "fail"}),
    "mtc-lsi-pvscsi": ({"guest": LINUX, "uuid": "TRUE", "controllers": ["lsilogic", "pvscsi"]},
                       {"MT-CTRL-001": "fail"}),
    "mtc-pvscsi": ({"guest": LINUX, "uuid": "TRUE", "controllers": ["pvscsi"]}, {"MT-CTRL-001": "fail"}),
    "mtc-lsi-sas": ({"guest": LINUX, "uuid_key": "disk.enableUUID", "uuid": "true",
                     "controllers": ["lsilogic", "lsilogic-sas"]}, {"MT-CTRL-001": "pass", "MT-UUID-001": "pass"}),
    "mtc-quoted": ({"guest": LINUX, "uuid": '"True"', "controllers": ["lsilogic"]},
                   {"MT-CTRL-001": "pass", "MT-UUID-001": "fail"}),
    # the Windows master target, named exactly
    "win-mt": ({"guest": WINDOWS, "uuid": "True", "controller": "lsilogic-sas"},
               {"MT-CTRL-001": "pass", "MT-UUID-001": "pass", "MT-OS-001": "pass"}),
    "win-app": ({"guest": WINDOWS}, {"VM-UUID-001": "not-applicable"}),
}
MASTERS = {name for name in ESTATE if name.startswith("mtc-")} | {"win-mt"}


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[vcsim.Simulator]:
    work = tmp_path_factory.mktemp("vcsim-edges")
    with vcsim.Simulator(work, args=VERSIONS) as simulator:
        build_estate(simulator, work / "nfs-free", vms={name: options for name, (options, _) in ESTATE.items()})
        yield simulator


@pytest.fixture(scope="module")
def report(sim: vcsim.Simulator, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return scan(sim, tmp_path_factory.mktemp("edges") / "r.json", "--master-target", "mtc-*",
                "--master-target", "win-mt")


@pytest.mark.parametrize("vm", sorted(ESTATE))
def test_boundary_verdicts(report: dict[str, Any], vm: str) -> None:
    table = verdicts(report)
    for requirement, expected in ESTATE[vm][1].items():
        assert table[vm][requirement] == expected, (vm, requirement)


def test_quoted_value_and_spelling_are_named(report: dict[str, Any]) -> None:
    by_name = {t["name"]: t for t in report["targets"]}

    def message(vm: str, requirement: str) -> str:
        return next(f["message"] for f in by_name[vm]["findings"] if requirement in f["requirements"])

    assert "remove the quotation marks" in message("uuid-quoted", "VM-UUID-001")
    assert "remove the quotation marks" in message("mtc-quoted", "MT-UUID-001")
    assert message("uuid-lower-key", "VM-UUID-001") == "disk.enableUUID = true"
    assert "not set" in message("uuid-unset", "VM-UUID-001")
    assert "FALSE" in message("uuid-two-spellings", "VM-UUID-001")
    assert "buslogic" in message("mtc-lsi-buslogic", "MT-CTRL-001")
    assert "1098490314752" in message("disk-plus-50mib", "VM-DISK-001")  # the exact size, not a rounded one


def test_master_targets_by_glob_and_name(report: dict[str, Any]) -> None:
    roles = {t["name"]: t["roles"] for t in report["targets"]}
    for name in ESTATE:
        assert roles[name] == (["master-target"] if name in MASTERS else ["vmware-vm"]), name
    table = verdicts(report)
    vcenter = table["127.0.0.1"]
    assert vcenter["MT-VM-001"] == "pass" and vcenter["VC-DISC-001"] == "pass"
    assert vcenter["MT-OS-001"] == "pass"  # a Linux and a Windows master target cover both families


def test_each_master_target_fails_back_its_own_family(sim: vcsim.Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("READINESS_VCENTER_PASSWORD", sim.password)
    settings = ScanSettings(ca_bundle=sim.bundle, master_targets=["mtc-lsi-sas", "win-m?"], vm_patterns=["*"])
    targets = collect_target(parse_target(sim.uri()), settings, [])
    assert targets[0].error is None
    vms = {t.name: t.facts["vm"] for t in targets[1:] if "vm" in t.facts}
    linux_set = vms["mtc-lsi-sas"]["failback"]["vms"]
    windows_set = vms["win-mt"]["failback"]["vms"]
    assert "win-app" in windows_set and "win-mt" not in windows_set
    assert not set(linux_set) & set(windows_set)
    assert all(vms[name]["os_family"] == "linux" for name in linux_set)
    assert "mtc-pvscsi" in linux_set  # not named as a master target in this scan: a VM to fail back
    assert vms["mtc-lsi-sas"]["failback"]["os_families"] == ["linux"]
    assert vms["mtc-lsi-sas"]["failback"]["disk_count"] == sum(vms[name]["disk_count"] for name in linux_set)
    assert vms["mtc-lsi-sas"]["disk_enable_uuid_key"] == "disk.enableUUID"
    assert targets[0].facts["vcenter"]["failback_uncovered"] == []


def test_family_without_master_target_and_unmatched_pattern(sim: vcsim.Simulator, tmp_path: Path) -> None:
    table = verdicts(scan(sim, tmp_path / "r.json", "--master-target", "mtc-lsi-sas", "--master-target", "nope-*"))
    vcenter = table["127.0.0.1"]
    assert vcenter["MT-OS-001"] == "fail"  # win-app and win-mt have no Windows master target
    assert vcenter["MT-VM-001"] == "fail" and vcenter["VC-DISC-001"] == "fail"
    report = json.loads((tmp_path / "r.json").read_text())
    messages = {f["rule_id"]: f["message"] for f in report["targets"][0]["findings"]}
    assert "windows 2 VM(s)" in messages["RM050"] and "win-app" in messages["RM050"]
    assert "nope-*" in messages["RM110"]


def test_no_master_target_named_judges_none(sim: vcsim.Simulator, tmp_path: Path) -> None:
    table = verdicts(scan(sim, tmp_path / "r.json", "--vm", "uuid-*"))
    vcenter = table["127.0.0.1"]
    assert vcenter["MT-OS-001"] == vcenter["MT-VM-001"] == vcenter["VC-DISC-001"] == "not-applicable"
