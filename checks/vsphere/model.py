"""Turn PropertyCollector results into plain facts (VMs, hosts, datastores).

Pure functions over the plain property dicts `inventory.iter_objects` yields
(checks/vsphere/soapxml.py: lists, dicts with a "_type", leaf strings), so
they stay cheap per VM (the scan parses thousands) and never touch the
network.  Morefs stay as their string IDs until the whole inventory is in, then
`resolve` swaps them for names.
"""

from __future__ import annotations

import re
from typing import Any

from checks.vsphere.soapxml import as_list

GIB = 1024**3

#: Guest IDs of Linux guests (vim.vm.GuestOsDescriptor.GuestOsIdentifier); Windows IDs start with "win".
LINUX_GUEST = re.compile(
    r"^(rhel|centos|oracleLinux|sles|suse|opensuse|ubuntu|debian|fedora|mandrake|mandriva|asianux|redhat|"
    r"turboLinux|coreos|vmwarePhoton|amazonlinux|almalinux|rockylinux|otherLinux|other2[46]xLinux|"
    r"other[345]xLinux|genericLinux|nld|sjds|miraclelinux|crxPod|crxSys)", re.IGNORECASE)

#: Controller class name -> the type name facts use (what the vSphere client shows).
CONTROLLERS = {
    "VirtualLsiLogicController": "lsilogic",
    "VirtualLsiLogicSASController": "lsilogic-sas",
    "ParaVirtualSCSIController": "pvscsi",
    "VirtualBusLogicController": "buslogic",
    "VirtualIDEController": "ide",
    "VirtualAHCIController": "sata",
    "VirtualSATAController": "sata",
    "VirtualNVMEController": "nvme",
}

ETHERNET = {"VirtualE1000", "VirtualE1000e", "VirtualPCNet32", "VirtualVmxnet", "VirtualVmxnet2", "VirtualVmxnet3",
            "VirtualVmxnet3Vrdma", "VirtualSriovEthernetCard"}

#: Devices no rule looks at, skipped while parsing (a VM has about a dozen devices; these are most of them).
IGNORED_DEVICES = frozenset({
    "VirtualPS2Controller", "VirtualPCIController", "VirtualSIOController", "VirtualKeyboard",
    "VirtualPointingDevice", "VirtualMachineVideoCard", "VirtualMachineVMCIDevice", "VirtualCdrom", "VirtualFloppy",
    "VirtualUSBController", "VirtualUSBXHCIController", "VirtualSoundBlaster16", "VirtualHdAudioCard",
    "VirtualEnsoniq1371", "VirtualSerialPort", "VirtualParallelPort", "VirtualMachineVMIROM", "VirtualPCIPassthrough",
})

VM_PROPS = [
    "name", "config.uuid", "config.instanceUuid", "config.guestId", "config.guestFullName", "config.firmware",
    "config.template", "config.extraConfig", "config.hardware.device", "snapshot.rootSnapshotList",
    "guest.toolsStatus", "guest.toolsRunningStatus", "guest.toolsVersion", "guest.toolsVersionStatus2",
    "guest.guestFamily", "guest.hostName", "guest.ipAddress", "guest.net",
    "runtime.powerState", "runtime.host", "datastore", "parent",
]
HOST_PROPS = ["name", "config.product", "runtime.connectionState", "runtime.inMaintenanceMode", "parent", "datastore"]
DATASTORE_PROPS = ["name", "summary.type", "summary.accessible", "host", "parent"]
POD_PROPS = ["name", "podStorageDrsEntry"]
NAMED_PROPS = ["name", "parent"]


def _bool(value: Any) -> bool:
    return str(value).lower() == "true"


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def os_family(guest_id: str | None, tools_family: str | None) -> str:
    """linux, windows or other, from the configured guest ID (the guest's own report as a fallback)."""
    if guest_id:
        if guest_id.lower().startswith("win"):
            return "windows"
        if LINUX_GUEST.match(guest_id):
            return "linux"
    return {"linuxGuest": "linux", "windowsGuest": "windows"}.get(tools_family or "", "other")


def _extra_config(options: Any) -> dict[str, str]:
    wanted = {}
    for option in as_list(options):
        key = option.get("key", "")
        if key == "disk.EnableUUID" or key.endswith(".sharing"):
            wanted[key] = str(option.get("value", ""))
    return wanted


def _label(device: dict[str, Any], fallback: str) -> str:
    info = device.get("deviceInfo")
    return info.get("label", fallback) if isinstance(info, dict) else fallback


def vm_facts(moid: str, props: dict[str, Any]) -> dict[str, Any]:
    """Facts of one VM from its plain property dict (names of hosts and datastores resolved later)."""
    extra = _extra_config(props.get("config.extraConfig"))
    devices = as_list(props.get("config.hardware.device"))
    controllers: dict[int | None, dict[str, Any]] = {}
    disks: list[dict[str, Any]] = []
    nics: list[dict[str, Any]] = []
    for device in devices:
        kind = device.get("_type", "")
        if kind in CONTROLLERS or "sharedBus" in device:
            controllers[_int(device.get("key"))] = {
                "label": _label(device, kind), "type": CONTROLLERS.get(kind, kind),
                "bus_number": _int(device.get("busNumber")), "bus_sharing": device.get("sharedBus") or "noSharing"}
        elif "macAddress" in device or kind in ETHERNET:
            connectable = device.get("connectable") or {}
            nics.append({"label": _label(device, kind), "type": kind.replace("Virtual", "").lower(),
                         "mac": device.get("macAddress"), "connected": _bool(connectable.get("connected"))})
    for device in devices:
        if device.get("_type") != "VirtualDisk":
            continue
        backing = device.get("backing") or {}
        backing_kind = backing.get("_type", "")
        capacity = _int(device.get("capacityInBytes")) or (_int(device.get("capacityInKB")) or 0) * 1024
        controller = controllers.get(_int(device.get("controllerKey")), {})
        slot = f"scsi{controller.get('bus_number')}:{device.get('unitNumber')}"
        sharing = backing.get("sharing") or None
        legacy = extra.get(f"{slot}.sharing")
        rdm = backing_kind.startswith("VirtualDiskRawDiskMapping")
        disks.append({
            "label": _label(device, f"disk {device.get('key')}"),
            "capacity_bytes": capacity, "capacity_gb": round(capacity / GIB, 2),
            "file": backing.get("fileName"), "datastore": backing.get("datastore") or None,
            "rdm": rdm, "rdm_mode": backing.get("compatibilityMode") if rdm else None,
            "sharing": sharing or (f"extraConfig {slot}.sharing={legacy}" if legacy else None),
            "multi_writer": sharing == "sharingMultiWriter" or (legacy or "").lower() == "multi-writer",
            "controller": controller.get("label"), "controller_type": controller.get("type"),
            "bus_sharing": controller.get("bus_sharing", "noSharing"),
        })
    guest_id = props.get("config.guestId") or None
    ips = {ip for nic in as_list(props.get("guest.net")) for ip in as_list(nic.get("ipAddress"))}
    if props.get("guest.ipAddress"):
        ips.add(props["guest.ipAddress"])
    snapshots, stack = 0, as_list(props.get("snapshot.rootSnapshotList"))
    while stack:
        node = stack.pop()
        snapshots += 1
        stack.extend(as_list(node.get("childSnapshotList")))
    return {
        "name": props.get("name"), "moref": moid,
        "uuid": props.get("config.uuid") or None, "instance_uuid": props.get("config.instanceUuid") or None,
        "guest_id": guest_id, "guest_full_name": props.get("config.guestFullName") or None,
        "os_family": os_family(guest_id, props.get("guest.guestFamily")),
        "template": _bool(props.get("config.template")),
        "firmware": props.get("config.firmware") or None,
        "disk_enable_uuid": extra.get("disk.EnableUUID"),
        "has_snapshots": snapshots > 0, "snapshot_count": snapshots,
        "disks": disks, "disk_count": len(disks),
        "largest_disk_gb": max((d["capacity_gb"] for d in disks), default=0),
        "controllers": sorted(controllers.values(), key=lambda c: (c["type"], c["bus_number"] or 0)),
        "nics": nics, "nic_count": len(nics),
        "tools": {"status": props.get("guest.toolsStatus"), "running_status": props.get("guest.toolsRunningStatus"),
                  "version": props.get("guest.toolsVersion"), "version_status": props.get("guest.toolsVersionStatus2")},
        "power_state": props.get("runtime.powerState"),
        "guest_hostname": props.get("guest.hostName") or None, "ip_addresses": sorted(ips),
        "host": props.get("runtime.host") or None,
        "datastores": as_list(props.get("datastore")),
        "parent": props.get("parent") or None,
    }


def host_facts(moid: str, props: dict[str, Any]) -> dict[str, Any]:
    product = props.get("config.product") or {}
    return {
        "name": props.get("name"), "moref": moid,
        "product": product.get("name"), "version": product.get("version"), "build": product.get("build"),
        "full_name": product.get("fullName"), "api_version": product.get("apiVersion"),
        "connection_state": props.get("runtime.connectionState"),
        "maintenance": _bool(props.get("runtime.inMaintenanceMode")),
        "parent": props.get("parent") or None,
        "datastore_ids": as_list(props.get("datastore")),
    }


def datastore_facts(moid: str, props: dict[str, Any]) -> dict[str, Any]:
    mounts = {}
    for mount in as_list(props.get("host")):
        info = mount.get("mountInfo") or {}
        mounts[mount.get("key")] = {"access_mode": info.get("accessMode"),
                                    "mounted": info.get("mounted", "true") != "false",
                                    "accessible": info.get("accessible", "true") != "false"}
    return {"name": props.get("name"), "moref": moid, "type": props.get("summary.type"),
            "accessible": _bool(props.get("summary.accessible")), "mounts": mounts,
            "parent": props.get("parent") or None}


def pod_facts(moid: str, props: dict[str, Any]) -> dict[str, Any]:
    entry = props.get("podStorageDrsEntry") or {}
    config = entry.get("storageDrsConfig") or {} if isinstance(entry, dict) else {}
    pod_config = config.get("podConfig") or {}
    overrides = {c.get("vm"): c.get("enabled") != "false" if "enabled" in c else None
                 for c in as_list(config.get("vmConfig")) if isinstance(c, dict) and c.get("vm")}
    return {"name": props.get("name"), "moref": moid, "enabled": _bool(pod_config.get("enabled")),
            "vm_overrides": overrides}
