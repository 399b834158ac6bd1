"""`readiness scan vcenter://… --guests`: vCenter discovery drives the guest scans; one machine, one verdict.

Real peers only: the govmomi simulator holds the VMs, and each VM's guest identity (host name, address) is
set through the vSphere API the way the simulator lets a test say what VMware Tools reports
(`SET.guest.hostName` / `SET.guest.ipAddress` extraConfig, tests/vcsim/estate.py).  The guests are
loopback sshd chroots of the distribution fixtures (tests/sshd_hosts.py), reached through ssh_config `Host`
entries that map each guest host name to 127.0.0.1 and its sshd's port, which is how a consultant points
`ssh` at a guest behind a jump host or on another port.  `--guest-address name` makes the guests be reached
by host name, so no connection ever goes to the VMs' (invented) non-loopback addresses.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from readiness.facts import TargetFacts
from readiness.guests import GuestOptions, guest_address, plan_guest, uuid_conflict
from readiness.merge import uuid_forms
from tests import vcsim
from tests.reportschema import validate_report
from tests.sshd_hosts import SshLab, free_port
from tests.vcsim.estate import build_estate, find

READINESS = [sys.executable, "-m", "readiness.cli"]
VERSIONS = ["-vc-version", "6.0.0", "-esx-version", "6.0.0"]


def _guest(hostname: str, ip: str | None = None, **options: Any) -> dict[str, Any]:
    extra = {"SET.guest.hostName": hostname, **({"SET.guest.ipAddress": ip} if ip else {})}
    return {"guest": "rhel6_64Guest", "uuid": "TRUE", "extra": extra, **options}


#: The estate: VM name -> the options of tests/vcsim/estate.py's vm_spec.
VMS: dict[str, dict[str, Any]] = {
    # a 2 TiB disk (VM-DISK-001, seen from vCenter); its guest's /etc/hosts maps the name to 127.0.0.1 only
    "g-web01": _guest("c66-bad01", "10.20.1.31", disks=[40, 2048]),
    "g-app02": _guest("c66-web02.contoso.local", "10.99.0.2"),  # guest shows the UUID byte-swapped
    "g-app03": _guest("c65-web01.contoso.local", "10.99.0.3"),  # guest cannot read its UUID (not root)
    "g-db04": _guest("db04-refused", "10.99.0.4"),  # nothing listens where ssh_config sends it
    "g-notools": {"guest": "centos64Guest", "uuid": "TRUE", "tools": False},
    "g-win05": {"guest": "windows8Server64Guest", "extra": {"SET.guest.ipAddress": "169.254.10.5"}},
    "g-dup1": _guest("c66-dup"),
    "g-dup2": _guest("c66-dup"),
}
#: guest host name -> (distribution fixture, how its /sys/class/dmi/id/product_uuid shows the VM's UUID)
GUESTS = {"c66-bad01": ("centos-6.6-badhosts", "as-written", "g-web01"),
          "c66-web02.contoso.local": ("centos-6.6", "swapped", "g-app02"),
          "c65-web01.contoso.local": ("centos-6.5", "unreadable", "g-app03")}


def _dashed(digits: str) -> str:
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}".upper()


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if vcsim.available() is not None:
        pytest.skip(str(vcsim.available()))
    from pyVim.connect import Disconnect
    from pyVmomi import vim

    work = tmp_path_factory.mktemp("guests")
    lab = SshLab()
    try:
        with vcsim.Simulator(work / "vcsim", args=VERSIONS) as sim:
            build_estate(sim, work / "nfs", vms=VMS)
            si = sim.connect()
            uuids = {name: props["config.uuid"] for name, (_, props) in
                     find(si.RetrieveContent(), vim.VirtualMachine, ["config.uuid"]).items()}
            Disconnect(si)
            for hostname, (fixture, shown, vm) in GUESTS.items():
                root = lab.distro_root(fixture)
                dmi = root / "sys/class/dmi/id"
                dmi.mkdir(parents=True, exist_ok=True)
                written, swapped = uuid_forms(uuids[vm])
                (dmi / "product_uuid").write_text(_dashed(swapped if shown == "swapped" else written) + "\n")
                (dmi / "product_uuid").chmod(0o400 if shown == "unreadable" else 0o444)  # sysfs: 0400, root's
                lab.start(hostname, root=root)
            lab.add_alias("db04-refused", SimpleNamespace(port=free_port()))  # nothing listens there
            out = work / "r.json"
            env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "NO_COLOR": "1",
                   "READINESS_VCENTER_PASSWORD": sim.password}
            proc = subprocess.run(
                [*READINESS, "scan", sim.uri(), "--ca-bundle", str(sim.bundle), "--vm", "g-*", "--no-perf",
                 "--guests", "--guest-user-linux", lab.user, "--guest-address", "name",
                 "--ssh-config", str(lab.ssh_config), "--connect-timeout", "5",
                 "--save-facts", str(work / "facts.json"), "--reporter", f"json:{out}",
                 "--reporter", f"cli:{work / 'r.txt'}"],
                capture_output=True, text=True, timeout=300, env=env, stdin=subprocess.DEVNULL)
            assert proc.returncode in (0, 1), proc.stderr
            assert "Traceback" not in proc.stderr
            report = json.loads(out.read_text())
            validate_report(report)
            yield {"report": report, "uuids": uuids, "facts": work / "facts.json", "env": env, "lab": lab,
                   "work": work, "password": sim.password}
    finally:
        lab.close()


def _machine(report: dict[str, Any], vm: str) -> dict[str, Any]:
    """The one report entry whose notes or URI name the VM (a merged machine is named by its guest)."""
    names = re.compile(rf"/vm/{re.escape(vm)}(?![\w-])")
    found = [t for t in report["targets"] if t["target"].endswith(f"/vm/{vm}")
             or (t["target"].startswith("ssh://") and any(names.search(note) for note in t["notes"]))]
    assert len(found) == 1, [t["target"] for t in found]
    return found[0]


def _status(target: dict[str, Any], requirement: str) -> set[str]:
    return {f["status"] for f in target["findings"] if requirement in f["requirements"]}


def test_one_target_per_machine_with_vm_and_guest_verdicts(estate: dict[str, Any]) -> None:
    web = _machine(estate["report"], "g-web01")
    assert web["target"].startswith("ssh://") and web["name"] == "c66-bad01"
    assert set(web["roles"]) == {"vmware-vm", "protected-linux"}
    assert web["status"] == "not-ready"
    assert "fail" in _status(web, "VM-DISK-001")  # the 2 TiB disk, seen from vCenter
    assert "fail" in _status(web, "LNX-HOSTS-001")  # /etc/hosts, seen inside
    assert any("by BIOS UUID" in n and "other byte order" not in n for n in web["notes"]), web["notes"]
    [per_view] = [n for n in web["notes"] if n.startswith("facts per view: ")]
    assert "/vm/g-web01: vm" in per_view and "@c66-bad01: " in per_view and "network" in per_view
    # nothing of this machine is left over as a second target
    uris = [t["target"] for t in estate["report"]["targets"]]
    assert not any(u.endswith("/vm/g-web01") for u in uris)
    assert sum(1 for u in uris if u.startswith("ssh://")) == 3


def test_byte_swapped_uuid_and_discovery_pairing(estate: dict[str, Any]) -> None:
    app02 = _machine(estate["report"], "g-app02")
    assert any("other byte order" in n for n in app02["notes"]), app02["notes"]
    app03 = _machine(estate["report"], "g-app03")
    assert any("by vCenter discovery" in n for n in app03["notes"]), app03["notes"]
    assert {"vmware-vm", "protected-linux"} <= set(app03["roles"])
    facts = {t["uri"]: t for t in json.loads(estate["facts"].read_text())["targets"]}
    guest = next(t for uri, t in facts.items() if uri.endswith("@c65-web01.contoso.local"))
    assert guest["facts"]["host"]["product_uuid"] is None
    assert "root only" in guest["gaps"]["host.product_uuid"]
    swapped = next(t for uri, t in facts.items() if uri.endswith("@c66-web02.contoso.local"))
    assert uuid_forms(swapped["facts"]["host"]["product_uuid"])[1] == uuid_forms(estate["uuids"]["g-app02"])[0]


def test_guests_not_scanned_keep_vm_findings_and_say_why(estate: dict[str, Any]) -> None:
    report = estate["report"]
    refused = _machine(report, "g-db04")
    assert refused["target"].endswith("/vm/g-db04") and refused["roles"] == ["vmware-vm"]
    assert refused["error"] is None and refused["findings"]
    [note] = [n for n in refused["notes"] if n.startswith("guest not scanned: ssh://")]
    assert "db04-refused" in note and "refused" in note.lower()
    notools = _machine(report, "g-notools")
    assert any("VMware Tools is not running" in n for n in notools["notes"])
    assert "fail" in _status(notools, "VM-TOOLS-001")
    win = _machine(report, "g-win05")
    assert any("neither an IPv4 address nor a host name" in n for n in win["notes"])
    for vm in ("g-dup1", "g-dup2"):
        assert any("g-dup1, g-dup2 all report the address c66-dup" in n for n in _machine(report, vm)["notes"])
    # every VM is one target: 8 VMs, 3 of them merged with their guests, no guest left alone
    machines = [t for t in report["targets"] if "/host/" not in t["target"] and t["roles"] != ["vcenter"]]
    assert len(machines) == len(VMS)
    console = (estate["work"] / "r.txt").read_text()  # what the consultant reads says it too
    assert "guest not scanned: VMware Tools is not running" in console and "by vCenter discovery" in console


def test_saved_views_judged_again_as_one_estate(estate: dict[str, Any], tmp_path: Path) -> None:
    """The second workflow: facts files judged together merge by their own evidence (UUIDs here)."""
    out = tmp_path / "again.json"
    proc = subprocess.run([*READINESS, "evaluate", str(estate["facts"]), "--reporter", f"json:{out}"],
                          capture_output=True, text=True, timeout=120, env=estate["env"], stdin=subprocess.DEVNULL)
    assert proc.returncode in (0, 1), proc.stderr
    report = json.loads(out.read_text())
    web = _status(next(t for t in report["targets"] if t["name"] == "c66-bad01"), "VM-DISK-001")
    assert "fail" in web  # the VM view's 2 TiB disk (the guest view's own disk rule passes)
    assert not any(t["target"].endswith("/vm/g-web01") for t in report["targets"])


def test_guests_need_a_vcenter_target() -> None:
    proc = subprocess.run([*READINESS, "scan", "ssh://root@127.0.0.1:1", "--guests"], capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2 and "--guests needs a vcenter:// target" in proc.stderr
    assert "Traceback" not in proc.stderr


def _vm(**vm: Any) -> TargetFacts:
    base = {"power_state": "poweredOn", "os_family": "windows", "guest_id": "windows8Server64Guest",
            "tools": {"running_status": "guestToolsRunning"}, "ip_addresses": [], "guest_hostname": None}
    return TargetFacts(uri="vcenter://u@vc:443/vm/x", name="x", scheme="vcenter", roles=["vmware-vm"],
                       facts={"vm": {**base, **vm}})


def test_plan_picks_scheme_user_and_address() -> None:
    options = GuestOptions(windows_user="CONTOSO\\scan")
    target = plan_guest(_vm(ip_addresses=["fe80::1", "169.254.1.1", "10.1.2.3"], guest_hostname="win05"), options)
    assert not isinstance(target, str) and target.uri == "winrm://CONTOSO\\scan@10.1.2.3:5986"
    by_name = plan_guest(_vm(ip_addresses=["10.1.2.3"], guest_hostname="win05.contoso.local"),
                         GuestOptions(prefer="name"))
    assert not isinstance(by_name, str) and by_name.host == "win05.contoso.local"
    assert guest_address({"ip_addresses": ["127.0.0.1"], "guest_hostname": "localhost.localdomain"}) is None
    master = _vm(os_family="linux", ip_addresses=["10.1.2.4"])
    master.roles = ["master-target"]
    planned = plan_guest(master, GuestOptions())
    assert not isinstance(planned, str) and planned.uri == "ssh://root@10.1.2.4" and planned.roles == ("master-target",)
    assert "poweredOff" in str(plan_guest(_vm(power_state="poweredOff"), options))
    assert "neither Linux nor Windows" in str(plan_guest(_vm(os_family="other", guest_id="otherGuest"), options))


def test_a_guest_with_another_uuid_is_another_machine() -> None:
    vm = _vm(uuid="421c3a6e-1f0b-4d2a-9e7f-0a1b2c3d4e5f")
    guest = TargetFacts(uri="ssh://root@10.1.2.3", name="web01", scheme="ssh",
                        facts={"host": {"product_uuid": "6e3a1c42-0b1f-2a4d-9e7f-0a1b2c3d4e5f"}})
    assert uuid_conflict(vm, guest) is None  # the same 16 bytes, first three fields swapped
    guest.facts["host"]["product_uuid"] = "421c3a6e-1f0b-4d2a-9e7f-0a1b2c3d4e50"
    assert "another machine answers at that address" in str(uuid_conflict(vm, guest))
    guest.facts["host"]["product_uuid"] = None  # not readable: nothing says it is another machine
    assert uuid_conflict(vm, guest) is None


@pytest.mark.parametrize(("body", "uuid", "gap"), [
    ("sysfs=4219A3F2-5B1C-8E4D-9A7B-0C1D2E3F4A5B", "4219a3f2-5b1c-8e4d-9a7b-0c1d2e3f4a5b", None),
    ("sysfs=\ndmidecode=4219a3f2-5b1c-8e4d-9a7b-0c1d2e3f4a5b", "4219a3f2-5b1c-8e4d-9a7b-0c1d2e3f4a5b", None),
    ("sysfs_unreadable=1\ndmidecode=", None, "readable by root only"),
    ("sysfs_unreadable=1\ndmidecode=/dev/mem: Permission denied", None, "'/dev/mem: Permission denied'"),
    ("dmidecode_missing=1", None, "does not exist and dmidecode is not installed"),
    ("garbage \x00 here", None, "neither /sys/class/dmi/id/product_uuid nor dmidecode"),
])
def test_linux_product_uuid_section(body: str, uuid: str | None, gap: str | None) -> None:
    from readiness.checks.linux.identity import parse_product_uuid
    from readiness.checks.linux.sections import MARK, split_sections

    out = split_sections(f"{MARK}cmd probe\nversion=2\n\n{MARK}end 0\n"
                         f"{MARK}cmd product_uuid\n{body}\n\n{MARK}end 0\n{MARK}done\n")
    gaps: dict[str, str] = {}
    assert parse_product_uuid(out, gaps.setdefault) == uuid
    assert (gap in gaps["host.product_uuid"]) if gap else gaps == {}
