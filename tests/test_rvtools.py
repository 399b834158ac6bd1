"""RVTools exports judged offline: real RVTools 4.x headers, the vCenter collector's fact shapes, honest gaps."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest

from readiness.factschema import target_problem
from readiness.rulepack import known_facts
from readiness.rvtools import read_rvtools
from tests.reportschema import validate_report
from tests.rvtools_export import write_export

VC = "vc01.contoso.local"
MIB = 1024**2


def vm(name: str, moref: str, os_name: str, firmware: str = "bios", **more: object) -> dict[str, object]:
    return {"VM": name, "VM ID": moref, "Powerstate": "poweredOn", "Template": False, "SRM Placeholder": False,
            "Firmware": firmware, "OS according to the configuration file": os_name, "Host": "esx01.contoso.local",
            "Cluster": "prod", "Datacenter": "DC1", "Path": f"[ds1] {name}/{name}.vmx", "VI SDK Server": VC,
            "NICs": 1, "Disks": 1, **more}


def disk(name: str, moref: str, label: str, mib: int, **more: object) -> dict[str, object]:
    return {"VM": name, "VM ID": moref, "Disk": label, "Label": label, "Capacity MiB": mib,
            "Disk Path": f"[ds1] {name}/{name}.vmdk", "Raw": False, "Sharing mode": "sharingNone",
            "Controller": "SCSI controller 0", "Shared Bus": "noSharing", "VI SDK Server": VC, **more}


def per_vm(sheet_row: dict[str, object], name: str, moref: str) -> dict[str, object]:
    return {"VM": name, "VM ID": moref, "VI SDK Server": VC, **sheet_row}


ESTATE = {
    "vInfo": [
        vm("web_01", "vm-101", "Red Hat Enterprise Linux 6 (64-bit)", EnableUUID=True, **{
            "SMBIOS UUID": "4211c8d4-1b6e-2f3a-9c2d-0a1b2c3d4e5f", "VM UUID": "5011aaaa-0000-1111-2222-333344445555",
            "DNS Name": "web01.contoso.local", "Primary IP Address": "10.20.1.21"}),
        vm("db01", "vm-102", "Microsoft Windows Server 2012 (64-bit)", Disks=2),
        vm("efi01", "vm-103", "Microsoft Windows Server 2016 or later (64-bit)", firmware="efi"),
        vm("snap01", "vm-104", "SUSE Linux Enterprise 11 (64-bit)", EnableUUID=False),
        vm("tmpl01", "vm-105", "Red Hat Enterprise Linux 7 (64-bit)", Template=True),
    ],
    "vDisk": [
        disk("web_01", "vm-101", "Hard disk 1", 100 * 1024),
        disk("db01", "vm-102", "Hard disk 1", 1023 * 1024),  # exactly 1023 GiB: the limit passes
        disk("db01", "vm-102", "Hard disk 2", 2 * 1024 * 1024),  # 2 TiB: over the limit
        disk("efi01", "vm-103", "Hard disk 1", 60 * 1024),
        disk("snap01", "vm-104", "Hard disk 1", 40 * 1024),
        disk("snap01", "vm-104", "Hard disk 2", 10 * 1024, Raw=True, **{"Raw Comp. Mode": "physicalMode",
                                                                        "Sharing mode": "sharingMultiWriter"}),
    ],
    "vNetwork": [per_vm({"NIC label": "Network adapter 1", "Adapter": "Vmxnet3", "Connected": True,
                         "Mac Address": "00:50:56:aa:bb:01", "IPv4 Address": "10.20.1.21"}, "web_01", "vm-101")]
    + [per_vm({"NIC label": "Network adapter 1", "Adapter": "E1000E", "Connected": True}, n, m)
       for n, m in (("db01", "vm-102"), ("efi01", "vm-103"), ("snap01", "vm-104"))],
    "vSnapshot": [per_vm({"Name": "before patch", "Date / time": "2026/11/01 10:00:00"}, "snap01", "vm-104"),
                  per_vm({"Name": "after patch", "Date / time": "2026/11/02 10:00:00"}, "snap01", "vm-104")],
    "vTools": [per_vm({"Tools": "toolsOk", "Tools Version": 10346}, "web_01", "vm-101"),
               per_vm({"Tools": "toolsNotRunning", "Tools Version": 10346}, "db01", "vm-102"),
               per_vm({"Tools": "toolsOk", "Tools Version": 11269}, "efi01", "vm-103"),
               per_vm({"Tools": "toolsOld", "Tools Version": 9536}, "snap01", "vm-104")],
    "vPartition": [per_vm({"Disk": "/", "Capacity MiB": 40000, "Free MiB": 20000}, "web_01", "vm-101")],
    "vHost": [
        {"Host": "esx01.contoso.local", "Datacenter": "DC1", "Cluster": "prod", "in Maintenance Mode": False,
         "ESX Version": "VMware ESXi 6.0.0 build-3620759", "Assigned License(s)": "VMware vSphere 6 Enterprise Plus",
         "# VMs": 4, "Object ID": "host-10", "VI SDK Server": VC},
        {"Host": "esx02.contoso.local", "Datacenter": "DC1", "Cluster": "prod", "in Maintenance Mode": False,
         "ESX Version": "VMware ESXi 6.7.0 build-8169922", "Assigned License(s)": "VMware vSphere 6 Hypervisor",
         "# VMs": 0, "Object ID": "host-11", "VI SDK Server": VC},
    ],
    "vDatastore": [{"Name": "ds1", "Type": "VMFS", "VI SDK Server": VC}],
    "vMetaData": [{"RVTools major version": 4, "RVTools version": "4.6.1.0",
                   "xlsx creation datetime": datetime(2026, 11, 20, 9, 30), "Server": VC}],
}


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_export(tmp_path_factory.mktemp("rvtools") / "export.xlsx", ESTATE)


@pytest.fixture(scope="module")
def report(export: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    out = tmp_path_factory.mktemp("report") / "r.json"
    proc = subprocess.run([sys.executable, "-m", "readiness.cli", "evaluate", str(export), "--reporter",
                           f"json:{out}"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr  # the export holds defects: the gate fails
    data = json.loads(out.read_text())
    validate_report(data)
    return data


def findings(report: dict, name: str) -> dict[str, dict]:  # type: ignore[type-arg]
    [target] = [t for t in report["targets"] if t["name"] == name]
    return {f["rule_id"]: f for f in target["findings"]}


def test_vms_and_hosts_have_the_vcenter_fact_shapes(export: Path) -> None:
    targets = {t.name: t for t in read_rvtools(export)}
    assert sorted(targets) == ["db01", "efi01", "esx01.contoso.local", "esx02.contoso.local", "snap01", "web_01"]
    for target in targets.values():
        namespace = "vm" if target.roles == ["vmware-vm"] else "esxi"
        assert set(target.facts) == {namespace}
        assert set(target.facts[namespace]) == set(known_facts()[namespace])  # every key the collector has
        assert target_problem(target.to_json(), 0) is None
        assert target.collected_at == "2026-11-20T09:30:00Z"
    web = targets["web_01"].facts["vm"]
    assert (web["uuid"], web["os_family"], web["guest_hostname"], web["ip_addresses"]) == (
        "4211c8d4-1b6e-2f3a-9c2d-0a1b2c3d4e5f", "linux", "web01.contoso.local", ["10.20.1.21"])
    assert web["datastores"] == ["ds1"] and web["datastore_types"] == ["VMFS"] and web["nic_count"] == 1
    assert web["tools"]["running_status"] == "guestToolsRunning"
    db = targets["db01"].facts["vm"]
    assert [d["capacity_bytes"] for d in db["disks"]] == [1023 * 1024 * MIB, 2 * 1024 * 1024 * MIB]
    assert db["largest_disk_gb"] == 2048.0 and db["os_family"] == "windows"
    assert targets["snap01"].facts["vm"]["snapshot_count"] == 2
    esx = targets["esx02.contoso.local"].facts["esxi"]
    assert (esx["version"], esx["build"], esx["product"]) == ("6.7.0", "8169922", "VMware ESXi")
    assert targets["web_01"].gaps["vm.guest_id"].startswith("not in an RVTools export")


@pytest.mark.parametrize(("name", "rule", "status", "needle"), [
    ("web_01", "RV005", "fail", "web_01"),          # VM-NAME-001: an underscore
    ("web_01", "RV006", "pass", ""),                # Tools running (toolsOk)
    ("web_01", "RV007", "pass", ""),                # disk.EnableUUID on a Linux guest
    ("web_01", "RV001", "pass", ""),
    ("db01", "RV002", "fail", "Hard disk 2"),       # VM-DISK-001: the 2 TiB disk, not the 1023 GiB one
    ("db01", "RV006", "fail", ""),                  # Tools not running
    ("efi01", "RV001", "fail", ""),                 # VM-BOOT-001: EFI
    ("efi01", "RV002", "pass", ""),
    ("snap01", "RV008", "fail", ""),                # VM-SNAP-001
    ("snap01", "RV007", "fail", ""),                # EnableUUID false on a Linux guest
    ("snap01", "RV010", "fail", "physicalMode"),    # VM-RDM-001: a physical-mode RDM
    ("snap01", "RV004", "fail", "Hard disk 2"),     # VM-SHARED-001: a multi-writer disk
    ("web_01", "RV010", "pass", ""),
    ("web_01", "RV004", "pass", ""),
    ("web_01", "RV011", "error", "not in an RVTools export"),   # the guest ID is not exported
    ("web_01", "RV012", "error", "not in an RVTools export"),   # nor Storage DRS
    ("esx01.contoso.local", "RE001", "pass", ""),
    ("esx02.contoso.local", "RE001", "fail", "6.7"),
    ("esx02.contoso.local", "RE002", "error", "not in an RVTools export"),
])
def test_rules_judge_the_export(report: dict, name: str, rule: str, status: str, needle: str) -> None:  # type: ignore[type-arg]
    finding = findings(report, name)[rule]
    assert finding["status"] == status, finding
    assert needle in finding["message"]


def test_the_2tb_disk_is_compared_in_bytes(report: dict) -> None:  # type: ignore[type-arg]
    evidence = json.dumps(findings(report, "db01")["RV002"]["evidence"])
    assert "Hard disk 2" in evidence and "Hard disk 1" not in evidence


def test_older_exports_without_some_sheets_are_gaps_not_errors(tmp_path: Path) -> None:
    path = write_export(tmp_path / "old.xlsx", ESTATE, sheets=["vInfo", "vDisk"])
    book = openpyxl.load_workbook(path)
    sheet = book["vDisk"]
    for cell in sheet[1]:
        if cell.value == "Capacity MiB":
            cell.value = "Capacity MB"  # RVTools 3.x spelling
    book.save(path)
    targets = {t.name: t for t in read_rvtools(path)}
    db = targets["db01"]
    assert db.facts["vm"]["disks"][1]["capacity_bytes"] == 2 * 1024**4
    assert "no vSnapshot sheet" in db.gaps["vm.has_snapshots"] and "no vTools sheet" in db.gaps["vm.tools"]
    assert "esx01.contoso.local" not in targets  # no vHost sheet, no host targets


def test_not_an_rvtools_export(tmp_path: Path) -> None:
    path = tmp_path / "other.xlsx"
    openpyxl.Workbook().save(path)
    proc = subprocess.run([sys.executable, "-m", "readiness.cli", "evaluate", str(path)], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "is not an RVTools export (no vInfo" in proc.stderr
