"""The `storage` namespace: disks (one per physical disk, not per path), mounts, volume managers, iSCSI, sharing.

A LUN reached over four paths shows up as four sd devices; counting devices would report 81 disks for 20
LUNs x 4 paths + the OS disk. ASR supports DM multipath storage (vmware-physical-to-azure.md l.182), so
each disk is counted once: the sd devices under one dm-multipath map (dm/uuid `mpath-*`, its `slaves`) are
one disk; the rest are grouped by their SCSI WWID (device/wwid), else by their /dev/disk/by-id SCSI/WWN link.
"""

from __future__ import annotations

import re
from typing import Any

from readiness.checks.linux.sections import ProbeOutput
from readiness.checks.linux.text import lines as _lines

PSEUDO_DEVICES = ("/dev/loop", "/dev/sr", "/dev/fd", "/dev/ram", "/dev/zram")
VIRTUAL_BLOCK = ("loop", "ram", "dm-", "sr", "fd", "zram", "md", "nbd")
GIB = 1024**3
#: File systems that several machines mount at once from one shared disk.
CLUSTER_FILESYSTEMS = ("gfs", "gfs2", "ocfs2")


def _controller(name: str) -> str:
    for prefix, kind in (("cciss", "cciss"), ("nvme", "nvme"), ("xvd", "xen"), ("vd", "virtio"),
                         ("sd", "scsi"), ("hd", "ide"), ("mmcblk", "mmc")):
        if name.startswith(prefix):
            return kind
    return "other"


def _unique_ids(out: ProbeOutput) -> dict[str, list[str]]:
    """Block device name -> its whole-disk SCSI/WWN links in /dev/disk/by-id."""
    ids: dict[str, list[str]] = {}
    for line in _lines(out.cmd("disk_ids")):
        link, _, device = line.partition("\t")
        if link.startswith(("scsi-", "wwn-")) and "-part" not in link:
            ids.setdefault(device.rsplit("/", 1)[-1], []).append(link)
    return ids


def _block_rows(out: ProbeOutput) -> dict[str, dict[str, Any]]:
    rows = {}
    for line in _lines(out.cmd("block_devices")):
        name, size, path, vendor, model, wwid, dm_uuid, dm_name, slaves = (line.split("\t") + [""] * 9)[:9]
        rows[name] = {"name": name, "size_bytes": int(size) * 512 if size.strip().isdigit() else None,
                      "virtual": name.startswith(VIRTUAL_BLOCK) or path == "virtual" or "/devices/virtual/" in path,
                      "vendor": vendor.strip(), "model": model.strip(), "wwid": wwid.strip(),
                      "dm_uuid": dm_uuid.strip(), "dm_name": dm_name.strip(), "slaves": slaves.split()}
    return rows


def _disk(name: str, members: list[dict[str, Any]], size: int | None, wwid: str, ids: list[str],
          multipath: bool) -> dict[str, Any]:
    first = members[0]
    return {"name": name.replace("!", "/"), "size_bytes": size,
            "size_gb": round(size / GIB, 2) if size is not None else None,
            "controller": _controller(first["name"]), "vendor": first["vendor"], "model": first["model"],
            "wwid": wwid or None, "unique_ids": sorted(set(ids)), "paths": len(members),
            "path_devices": sorted(m["name"] for m in members), "multipath": multipath}


def parse_disks(out: ProbeOutput) -> list[dict[str, Any]]:
    """One entry per physical disk: multipath maps first, then sd devices grouped by WWID or SCSI ID."""
    rows = _block_rows(out)
    ids = _unique_ids(out)
    disks: list[dict[str, Any]] = []
    claimed: set[str] = set()
    for row in rows.values():
        if not row["dm_uuid"].startswith("mpath-"):
            continue
        members = [rows[s] for s in row["slaves"] if s in rows] or [row]
        claimed.update(m["name"] for m in members)
        disks.append(_disk(row["dm_name"] or row["name"], members, row["size_bytes"], row["dm_uuid"][6:],
                           ids.get(row["name"], []) + [i for m in members for i in ids.get(m["name"], [])], True))
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows.values():
        if row["virtual"] or row["name"] in claimed:
            continue
        scsi_ids = sorted(ids.get(row["name"], []))
        key = row["wwid"] or (scsi_ids[0] if scsi_ids else "") or row["name"]
        groups.setdefault(key, []).append(row)
    for key, members in groups.items():
        members.sort(key=lambda m: (len(m["name"]), m["name"]))
        disks.append(_disk(members[0]["name"], members, members[0]["size_bytes"],
                           key if key != members[0]["name"] else "",
                           [i for m in members for i in ids.get(m["name"], [])], len(members) > 1))
    return sorted(disks, key=lambda d: (len(d["name"]), d["name"]))


def parse_mounts(text: str | None) -> list[dict[str, Any]]:
    """/proc/mounts with its octal escapes (\\040 for a space) decoded."""
    def decode(s: str) -> str:
        return re.sub(r"\\(\d{3})", lambda m: chr(int(m.group(1), 8)), s)

    mounts = []
    for line in _lines(text):
        fields = line.split()
        if len(fields) >= 3:
            mounts.append({"device": decode(fields[0]), "mountpoint": decode(fields[1]), "fstype": fields[2],
                           "options": fields[3].split(",") if len(fields) > 3 else []})
    return mounts


def parse_df(text: str | None) -> list[dict[str, Any]]:
    """`df -P -k`: POSIX output, one line per file system."""
    rows = []
    for line in _lines(text)[1:]:
        fields = line.split(None, 5)
        if len(fields) == 6 and fields[1].isdigit():
            rows.append({"device": fields[0], "mountpoint": fields[5], "size_kb": int(fields[1]),
                         "available_kb": int(fields[3]) if fields[3].isdigit() else None})
    return rows


def parse_iscsi(out: ProbeOutput) -> list[dict[str, Any]] | None:
    """iSCSI sessions from /sys/class/iscsi_session (target IQN and session state); None when unread."""
    section = out.cmd("iscsi_sessions")
    if section is None:
        return None
    sessions = []
    for line in _lines(section):
        name, target, state = [*line.split("\t"), "", ""][:3]
        sessions.append({"session": name, "target": target.strip() or None, "state": state.strip() or None,
                         "connected": state.strip().upper() == "LOGGED_IN" if state.strip() else None})
    return sessions


def parse_shared(out: ProbeOutput, mounts: list[dict[str, Any]], processes: list[str]) -> dict[str, Any]:
    """Evidence of a shared-disk guest cluster (vmware-physical-to-azure.md l.182: not supported).

    A cluster file system mounted (GFS/GFS2, OCFS2) or clustered LVM (clvmd running, or lvm.conf
    locking_type = 3) means a disk is written by several machines. A cluster stack alone (corosync,
    pacemaker, cman) is only reported: it also runs shared-nothing clusters (DRBD, floating IPs).
    """
    cluster_fs = sorted({f"{m['mountpoint']} ({m['fstype']})" for m in mounts if m["fstype"] in CLUSTER_FILESYSTEMS})
    locking = re.search(r"^\s*locking_type\s*=\s*(\d+)", out.cmd("lvm_locking") or "", re.M)
    clustered_lvm = "clvmd" in processes or bool(locking and locking.group(1) == "3")
    stack = sorted({p for p in processes if p in ("corosync", "pacemakerd", "aisexec", "cman", "o2cb", "ccsd",
                                                  "dlm_controld", "gfs_controld", "o2hbmonitor")})
    return {"cluster_filesystems": cluster_fs, "clustered_lvm": clustered_lvm, "cluster_stack": stack,
            "shared_disks": bool(cluster_fs) or clustered_lvm}


def parse_storage(out: ProbeOutput, processes: list[str], note: Any) -> dict[str, Any]:
    """Disks, mounts, swap, LVM, multipath, other volume managers, iSCSI and shared-disk evidence.

    `note(path, reason)` records a gap for a fact that could not be read.
    """
    disks = parse_disks(out)
    mounts = parse_mounts(out.file("/proc/mounts"))
    if out.file("/proc/mounts") is None:
        note("storage.mounts", "/proc/mounts was not readable")
    block_mounts = [m for m in mounts if m["device"].startswith("/dev/") and not m["device"].startswith(PSEUDO_DEVICES)]
    swaps = []
    for line in _lines(out.file("/proc/swaps"))[1:]:
        fields = line.split()
        if len(fields) >= 3:
            swaps.append({"device": fields[0], "type": fields[1],
                          "size_kb": int(fields[2]) if fields[2].isdigit() else None})
    dm_targets = sorted({line.split()[3] for line in _lines(out.cmd("dmsetup")) if len(line.split()) > 3})
    lvs_section = out.commands.get("lvs")
    volumes = [line.strip().split("|")[:2] for line in _lines(out.cmd("lvs"))]
    lvm_present: bool | None
    if lvs_section is not None and lvs_section.rc == 0:
        lvm_present = bool(volumes)
    elif any(m["device"].startswith("/dev/mapper/") for m in block_mounts) or "linear" in dm_targets:
        lvm_present = True
    else:
        lvm_present = False if "lvs" in out.missing else None
        if lvm_present is None:
            note("storage.lvm.present", "lvs could not run (it needs root)")
    modules = {line.split()[0] for line in _lines(out.cmd("modules"))}
    vm_paths = set(_lines(out.cmd("volume_managers")))
    multipath_maps = [line for line in _lines(out.cmd("multipath")) if re.match(r"^\S+ \(", line)]
    others = [f"md-raid {line.split()[0]}" for line in _lines(out.file("/proc/mdstat"))
              if re.match(r"^md\d+\s*:\s*active", line)]
    if vm_paths & {"/dev/vx", "/etc/vx"} or modules & {"vxdmp", "vxio"}:
        others.append("veritas-vxvm")
    if vm_paths & {"/etc/powermt.custom", "/sbin/powermt", "/dev/emcpowera"} or "emcp" in modules:
        others.append("emc-powerpath")
    if "zfs" in modules:
        others.append("zfs")
    iscsi = parse_iscsi(out)
    if iscsi is None:
        note("storage.iscsi_sessions", "the probe did not list /sys/class/iscsi_session")
    return {
        "disks": disks,
        "disk_count": len(disks),
        "device_paths": sum(d["paths"] for d in disks),
        "largest_disk_bytes": max((d["size_bytes"] or 0 for d in disks), default=0),
        "largest_disk_gb": round(max((d["size_bytes"] or 0 for d in disks), default=0) / GIB, 2),
        "cciss": bool(_lines(out.cmd("cciss"))) or any(d["controller"] == "cciss" for d in disks),
        "mounts": mounts,
        "block_mounts": block_mounts,
        "filesystems": sorted({m["fstype"] for m in block_mounts}),
        "swaps": swaps,
        "lvm": {"present": lvm_present, "volumes": [v for v in volumes if len(v) == 2]},
        "multipath": {"present": bool(multipath_maps) or "multipath" in dm_targets or "dm_multipath" in modules
                      or any(d["multipath"] for d in disks),
                      "maps": len(multipath_maps) or sum(1 for d in disks if d["multipath"]),
                      "config": "/etc/multipath.conf" in vm_paths},
        "dm_targets": dm_targets,
        "other_volume_managers": others,
        "free": parse_df(out.cmd("df")),
        "iscsi_sessions": iscsi,
        "shared": parse_shared(out, mounts, processes),
    }
