"""The estate: requirements that no single machine can answer (capacity, policy groups, the failback set).

While targets stream through judging, each leaves a small digest behind (OS, roles, root and boot file
systems, a few packages); after the last one, the digests become the facts of one more target, `estate://`,
with role `estate`, judged by rules like any other.  Memory grows by a few hundred bytes per machine, not by
its facts.
"""

from __future__ import annotations

from typing import Any

from readiness.facts import TargetFacts

#: Packages an estate rule asks about (MT-LNX-006: ReiserFS/XFS support on a Linux master target).
WATCHED_PACKAGES = ("kmod-reiserfs", "reiserfs-utils", "xfsprogs")
PROTECTED_ROLES = {"protected-linux", "protected-windows", "vmware-vm"}
SERVER_ROLES = {"management-server", "process-server"}


def _mount_fs(facts: dict[str, Any], mountpoint: str) -> str | None:
    for mount in (facts.get("storage") or {}).get("block_mounts") or []:
        if mount.get("mountpoint") == mountpoint:
            return mount.get("fstype")
    return None


def digest(target: TargetFacts) -> dict[str, Any] | None:
    """What the estate rules need to know of one machine; None for a target that could not be read."""
    if target.error:
        return None
    facts = target.facts
    os_facts = facts.get("os") or {}
    vm = facts.get("vm") or {}
    installed = (facts.get("packages") or {}).get("installed") or {}
    return {
        "name": target.name,
        "uri": target.uri,
        "roles": list(target.roles),
        "os_family": os_facts.get("family") or vm.get("os_family"),
        "distribution": os_facts.get("distribution"),
        "version": os_facts.get("version"),
        "os_name": os_facts.get("name") or vm.get("guest_full_name"),
        "root_fs": _mount_fs(facts, "/"),
        "boot_fs": _mount_fs(facts, "/boot") or _mount_fs(facts, "/"),
        "installed": [p for p in WATCHED_PACKAGES if p in installed],
        "guest_view": bool(os_facts),  # facts from inside the guest, not only vCenter's view
    }


def estate_target(digests: list[dict[str, Any]]) -> TargetFacts:
    """The estate as one more target to judge."""
    guests = [d for d in digests if d["guest_view"]]
    protected = [d for d in digests if PROTECTED_ROLES & set(d["roles"])]
    return TargetFacts(
        uri="estate://", name="estate", scheme="estate", roles=["estate"],
        facts={"estate": {
            "machines": digests,
            "protected_count": len({d["name"] for d in protected}),
            "process_servers": sum(1 for d in digests if SERVER_ROLES & set(d["roles"])),
            "protected_guests": [d for d in guests if {"protected-linux", "protected-windows"} & set(d["roles"])],
            "master_targets": [d for d in guests if "master-target" in d["roles"]],
            "hyperv_hosts": [d for d in guests if "hyperv-host" in d["roles"]],
        }},
    )
