"""Disks and volumes of a Windows machine, one entry per physical disk.

Why grouping: Windows shows one Win32_DiskDrive per *path* to a LUN when MPIO does not claim it (two
HBAs, two iSCSI sessions: the same disk twice, with the same serial number), and one "Multi-Path Disk
Device" when MPIO does (root\\wmi MPIO_DISK_INFO then counts its paths). Rules count disks and compare
sizes, so paths are collapsed by serial number and size, and the number of paths is kept.

Sizes: MSFT_Disk.Size (Windows 2012+) is the exact size in bytes. Win32_DiskDrive.Size is what
Microsoft documents it to be, cylinders x tracks x sectors x bytes per sector, a few MB under the real
size; on 2008 R2 it is all there is, and `size_source` says which one a disk has.
"""

from __future__ import annotations

from typing import Any

#: MSFT_Disk.BusType (Windows Storage Management API) -> fact value.
BUS_TYPES = {1: "scsi", 2: "atapi", 3: "ata", 4: "1394", 5: "ssa", 6: "fibre", 7: "usb", 8: "raid", 9: "iscsi",
             10: "sas", 11: "sata", 12: "sd", 13: "mmc", 14: "virtual", 15: "file-backed-virtual",
             16: "storage-spaces", 17: "nvme"}
#: Win32_DiskDrive.InterfaceType -> bus type, where MSFT_Disk is missing (2008 R2).
INTERFACES = {"SCSI": "scsi", "IDE": "ata", "USB": "usb", "1394": "1394"}
#: MSFT_Disk.PartitionStyle.
PARTITION_STYLES = {1: "mbr", 2: "gpt"}


def _serial(disk: dict[str, Any]) -> str | None:
    serial = (disk.get("serial") or "").strip()
    return serial if serial.strip("0 ") else None


def _bus_type(disk: dict[str, Any], iscsi_devices: set[int]) -> str | None:
    extra = disk.get("storage") or {}
    if extra.get("bus_type") in BUS_TYPES:
        return BUS_TYPES[extra["bus_type"]]
    if disk.get("index") in iscsi_devices:
        return "iscsi"
    return INTERFACES.get((disk.get("interface") or "").upper())


def _shared(disk: dict[str, Any], cluster_disks: set[Any] | None) -> bool | None:
    """A failover-cluster disk: MSFT_Disk.IsClustered, else its signature or GPT id among the cluster's disks."""
    clustered = (disk.get("storage") or {}).get("clustered")
    if clustered is not None:
        return clustered
    if cluster_disks is None:
        return None
    guid = ((disk.get("storage") or {}).get("guid") or "").strip("{}").lower()
    return disk.get("signature") in cluster_disks or bool(guid and guid in cluster_disks)


def physical_disks(storage: dict[str, Any], iscsi_devices: set[int],
                   cluster_disks: set[Any] | None) -> list[dict[str, Any]]:
    """One entry per physical disk with size_bytes, paths, bus_type, shared and the partition facts."""
    mpio_paths = {(m.get("serial") or "").strip(): m.get("paths") for m in storage.get("mpio") or []}
    groups: dict[Any, list[dict[str, Any]]] = {}
    for disk in storage.get("disks") or []:
        serial = _serial(disk)
        key = (serial, disk.get("size")) if serial else ("index", disk.get("index"))
        groups.setdefault(key, []).append(disk)
    disks = []
    for members in groups.values():
        disk = min(members, key=lambda d: d.get("index") if d.get("index") is not None else 1 << 30)
        extra = disk.get("storage") or {}
        partitions = [p for member in members for p in member.get("partitions") or []]
        types = [p.get("type") or "" for p in partitions]
        letters = sorted({letter for p in partitions for letter in p.get("letters") or []})
        serial = _serial(disk)
        size = extra.get("size") or disk.get("size")
        style = PARTITION_STYLES.get(extra.get("partition_style") or 0) or (
            "gpt" if any(t.upper().startswith("GPT") for t in types) else ("mbr" if types else None))
        disks.append({
            "index": disk.get("index"),
            "indexes": sorted(d["index"] for d in members if d.get("index") is not None),
            "model": disk.get("model"), "serial": serial,
            "size_bytes": size, "size_source": "msft_disk" if extra.get("size") else "geometry",
            "size_gb": round((size or 0) / 1024**3, 1),
            "interface": disk.get("interface"), "bus_type": _bus_type(disk, iscsi_devices),
            "paths": max(len(members), (mpio_paths.get(serial) or 0) if serial else 0),
            "shared": _shared(disk, cluster_disks),
            "partition_style": style,
            "dynamic": any("logical disk manager" in t.lower() for t in types),
            "letters": letters, "boot_partition": any(p.get("boot") for p in partitions),
            "partition_types": types,
        })
    return sorted(disks, key=lambda d: d["index"] if d["index"] is not None else 1 << 30)


def os_disk(disks: list[dict[str, Any]], system_drive: str) -> dict[str, Any] | None:
    """The disk holding the system drive, and how we know (volume letter, else the boot partition)."""
    found = next((dict(d, found_by="volume") for d in disks if system_drive.upper() in d["letters"]), None)
    if found is None:
        # dynamic volumes have no partition association; the disk with the active partition is the OS disk
        booting = [d for d in disks if d["boot_partition"]] or [d for d in disks if d["dynamic"]]
        found = dict(booting[0], found_by="boot-partition") if booting else None
    return found


def volumes(storage: dict[str, Any]) -> list[dict[str, Any]]:
    """Local fixed volumes with capacity, free space and BitLocker lock state."""
    out = []
    for vol in storage.get("volumes") or []:
        if vol.get("drive_type") not in (3, None):
            continue  # local fixed disks only (2 removable, 4 network, 5 CD)
        state = vol.get("bitlocker")
        locked = bool(state and state.get("lock_status") == 1)
        out.append({
            "letter": vol.get("letter") or None, "label": vol.get("label") or None,
            "file_system": vol.get("file_system") or None,
            "capacity_gb": round((vol.get("capacity") or 0) / 1024**3, 2),
            "free_gb": round((vol.get("free") or 0) / 1024**3, 2),
            "capacity_bytes": vol.get("capacity"), "free_bytes": vol.get("free"),
            "boot": vol.get("boot"), "system": vol.get("system"), "page_file": vol.get("page_file"),
            "locked": locked,
        })
    return out
