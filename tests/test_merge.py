"""Several views of one machine become one target: BIOS UUID in either byte order, then host name and address."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from readiness.facts import TargetFacts, write_facts
from readiness.merge import merge_stream, merge_targets, uuid_forms
from tests.reportschema import validate_report

VM_UUID = "4211c8d4-1b6e-2f3a-9c2d-0a1b2c3d4e5f"
GUEST_UUID_SWAPPED = "d4c81142-6e1b-3a2f-9c2d-0a1b2c3d4e5f"  # the first three fields little-endian, as old HW shows


def vm_view(name: str, uuid: str | None = VM_UUID, hostname: str | None = None, ips: tuple[str, ...] = (),
            at: str = "2026-11-20T10:00:00Z") -> TargetFacts:
    return TargetFacts(uri=f"vcenter://scan@vc01:443/vm/{name}", name=name, scheme="vcenter", roles=["vmware-vm"],
                       facts={"vm": {"name": name, "uuid": uuid, "guest_hostname": hostname, "ip_addresses": list(ips),
                                     "firmware": "bios", "os_family": "linux"}}, collected_at=at)


def guest_view(host: str, uuid: str | None = None, ips: tuple[str, ...] = (), at: str = "2026-11-20T11:00:00Z",
               uri: str | None = None, version: str = "6.6") -> TargetFacts:
    return TargetFacts(uri=uri or f"ssh://root@{host}", name=host.split(".")[0], scheme=(uri or "ssh:").split(":")[0],
                       roles=["protected-linux"], collected_at=at,
                       facts={"os": {"family": "linux", "distribution": "centos", "version": version},
                              "host": {"hostname": host, "short_name": host.split(".")[0], "product_uuid": uuid},
                              "network": {"ipv4_addresses": list(ips)}})


def test_uuid_forms_cover_both_byte_orders() -> None:
    a, b = uuid_forms(VM_UUID), uuid_forms(GUEST_UUID_SWAPPED.upper())
    assert a is not None and b is not None and min(a) == min(b) and a[0] == b[1]
    assert uuid_forms("00000000-0000-0000-0000-000000000000") is None and uuid_forms("not-a-uuid") is None


def test_vcenter_view_and_guest_scan_merge_by_swapped_uuid() -> None:
    [merged] = merge_targets([vm_view("web01-vm"), guest_view("web01.contoso.local", GUEST_UUID_SWAPPED)])
    assert merged.uri == "ssh://root@web01.contoso.local"  # the guest's own view names the machine
    assert merged.roles == ["vmware-vm", "protected-linux"] and set(merged.facts) == {"vm", "os", "host", "network"}
    match = next(n for n in merged.notes if n.startswith("one machine seen as 2 views"))
    assert "by BIOS UUID (first three fields in the other byte order" in match
    assert merged.collected_at == "2026-11-20T11:00:00Z"


def test_same_byte_order_and_name_with_address() -> None:
    [same] = merge_targets([vm_view("a"), guest_view("a.contoso.local", VM_UUID)])
    assert any("by BIOS UUID" in n and "other byte order" not in n for n in same.notes)
    [by_name] = merge_targets([vm_view("web02-vm", None, "web02.contoso.local", ("10.0.0.12",)),
                               guest_view("web02.contoso.local", None, ("10.0.0.12", "127.0.0.1"))])
    assert any("by host name web02 and address 10.0.0.12" in n for n in by_name.notes)


def test_a_name_or_an_address_alone_is_not_the_same_machine() -> None:
    name_only = merge_targets([vm_view("x", None, "web03", ("10.0.0.13",)),
                               guest_view("web03", None, ("10.9.9.9",))])
    address_only = merge_targets([vm_view("y", None, "web04", ("10.0.0.14",)),
                                  guest_view("db04", None, ("10.0.0.14",))])
    assert len(name_only) == 2 and len(address_only) == 2
    # the same name and address at two sites, but two different BIOS UUIDs: two machines
    other = "11111111-2222-3333-4444-555555555555"
    twins = merge_targets([vm_view("z", VM_UUID, "web05", ("10.0.0.15",)), guest_view("web05", other, ("10.0.0.15",))])
    assert len(twins) == 2
    # two VMs whose UUIDs are byte-swaps of each other are two VMs: the swapped order is only a guest's view
    swapped_vms = merge_targets([vm_view("p", VM_UUID), vm_view("q", GUEST_UUID_SWAPPED)])
    assert len(swapped_vms) == 2
    # local:// on two jump hosts is two machines
    locals_ = merge_targets([guest_view("jump1", uri="local://"), guest_view("jump2", uri="local://")])
    assert len(locals_) == 2


def test_the_newest_facts_win_per_namespace_and_the_note_says_so() -> None:
    old = guest_view("db01.contoso.local", at="2026-11-01T08:00:00Z", version="6.5")
    old.gaps = {"os.kernel": "uname failed", "network.ipv4_addresses": "ip failed"}
    new = guest_view("db01.contoso.local", at="2026-11-20T08:00:00Z", version="6.6")
    new.facts.pop("network")
    [merged] = merge_targets([old, new])
    assert merged.facts["os"]["version"] == "6.6"
    assert merged.gaps == {"network.ipv4_addresses": "ip failed"}  # the old os gap went with the old os facts
    assert any(n.startswith("os facts from ssh://root@db01.contoso.local (2026-11-20T08:00:00Z), newer than "
                            "ssh://root@db01.contoso.local (2026-11-01T08:00:00Z)") for n in merged.notes)
    assert any("seen twice (same URI and name)" in n for n in merged.notes)


def test_an_unreachable_view_keeps_the_other_views_facts() -> None:
    down = guest_view("web06.contoso.local", uri="ssh://root@10.0.0.16")
    down.facts, down.error = {}, "connection refused"
    vm = vm_view("web06", None, "web06.contoso.local", ("10.0.0.16",))
    [merged] = merge_targets([vm, down])
    assert merged.error is None and "vm" in merged.facts
    assert any("could not be collected: connection refused" in n for n in merged.notes)


def test_scans_merge_only_when_views_can_overlap() -> None:
    views = [vm_view("web07"), guest_view("web07", GUEST_UUID_SWAPPED)]
    assert len(list(merge_stream(iter(views), {"ssh"}))) == 2  # an SSH-only estate streams untouched
    assert len(list(merge_stream(iter(views), {"ssh", "vcenter"}))) == 1


def test_evaluate_several_files_as_one_estate(tmp_path: Path) -> None:
    write_facts(tmp_path / "site-a.json", [vm_view("web01-vm"),
                                           vm_view("db09", "4211aaaa-0000-1111-2222-333344445555")])
    write_facts(tmp_path / "site-b.json", [guest_view("web01.contoso.local", GUEST_UUID_SWAPPED),
                                           guest_view("app02.contoso.local")])
    out = tmp_path / "r.json"
    proc = subprocess.run([sys.executable, "-m", "readiness.cli", "evaluate", str(tmp_path / "site-*.json"),
                           "--reporter", f"json:{out}"], capture_output=True, text=True, timeout=120)
    assert proc.returncode in (0, 1), proc.stderr
    report = json.loads(out.read_text())
    validate_report(report)
    assert sorted(t["target"] for t in report["targets"]) == [
        "ssh://root@app02.contoso.local", "ssh://root@web01.contoso.local", "vcenter://scan@vc01:443/vm/db09"]
    web01 = next(t for t in report["targets"] if t["target"] == "ssh://root@web01.contoso.local")
    assert web01["roles"] == ["vmware-vm", "protected-linux"]
    assert any("BIOS UUID" in n for n in web01["notes"])
    assert {f["rule_id"] for f in web01["findings"]} & {"RV001"}  # vCenter's rules judge the merged machine
    assert any("2 inputs judged as one estate" in n for n in report["notes"])
    assert report["estate"] is not None and report["summary"]["targets"] == 3
