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

from readiness.checks.vsphere.soapxml import as_list

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

#: The fields of the large VM properties that the facts read (soapxml.plain converts nothing else).
_LABEL = {"label": None}
KEEP: dict[str, dict[str, object]] = {
    "config.hardware.device": {
        "key": None, "deviceInfo": _LABEL, "busNumber": None, "sharedBus": None, "macAddress": None,
        "connectable": {"connected": None}, "capacityInBytes": None, "capacityInKB": None, "controllerKey": None,
        "unitNumber": None,
        "backing": {"fileName": None, "datastore": None, "sharing": None, "compatibilityMode": None},
    },
    "config.extraConfig": {"key": None, "value": None},
    "guest.net": {"ipAddress": None},
    "config.product": {"name": None, "version": None, "build": None, "fullName": None, "apiVersion": None},
    "host": {"key": None, "mountInfo": {"accessMode": None, "mounted": None, "accessible": None}},
}

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
    return str(value).lower() == "true" if isinstance(value, str) else False


def _int(value: Any) -> int | None:
    if not isinstance(value, str):
        return None
    try:
        return int(value)
    except ValueError:
        return None


def leaf(value: Any) -> str | None:
    """A leaf's text, or None when the answer put a structure (or nothing) where a leaf belongs."""
    return value if isinstance(value, str) and value else None


def _dicts(value: Any) -> list[dict[str, Any]]:
    """The structures of a repeated value; stray leaves are dropped (the answer parser keeps them as text)."""
    return [item for item in as_list(value) if isinstance(item, dict)]


def _texts(value: Any) -> list[str]:
    return [item for item in as_list(value) if isinstance(item, str) and item]


def os_family(guest_id: str | None, tools_family: str | None) -> str:
    """linux, windows or other, from the configured guest ID (the guest's own report as a fallback)."""
    if guest_id:
        if guest_id.lower().startswith("win"):
            return "windows"
        if LINUX_GUEST.match(guest_id):
            return "linux"
    return {"linuxGuest": "linux", "windowsGuest": "windows"}.get(tools_family or "", "other")


#: extraConfig keys are case-insensitive in vSphere (the VMX file and the vSphere client treat "disk.enableUUID"
#: and "disk.EnableUUID" as one key; the seeds spell it both ways), so keys are compared folded.
ENABLE_UUID_KEY = "disk.enableuuid"


def _extra_config(options: Any) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """(legacy per-disk sharing by folded key, every disk.EnableUUID entry as (key as spelled, value))."""
    sharing: dict[str, str] = {}
    uuid: list[tuple[str, str]] = []
    for option in _dicts(options):
        key = option.get("key")
        if not isinstance(key, str):
            continue
        value = option.get("value")
        value = value if isinstance(value, str) else ""
        folded = key.lower()
        if folded == ENABLE_UUID_KEY:
            uuid.append((key, value))
        elif folded.endswith(".sharing"):
            sharing[folded] = value
    return sharing, uuid


def enable_uuid(entries: list[tuple[str, str]]) -> tuple[str | None, str | None]:
    """(value, key as spelled) of disk.EnableUUID; None when unset.

    Should a VM carry the key in two spellings, the first value that is not "true" wins: the rule then fails
    and names it, rather than passing on whichever spelling vSphere happens to read.
    """
    if not entries:
        return None, None
    for key, value in entries:
        if value.lower() != "true":
            return value, key
    return entries[0][1], entries[0][0]


def _label(device: dict[str, Any], fallback: str) -> str:
    info = device.get("deviceInfo")
    label = info.get("label") if isinstance(info, dict) else None
    return label if isinstance(label, str) else fallback


def _controller(kind: str, device: dict[str, Any]) -> dict[str, Any]:
    """A storage controller; its type is ide, sata or nvme, or else it is a SCSI controller (sharedBus)."""
    return {"label": _label(device, kind), "type": CONTROLLERS.get(kind, kind),
            "bus_number": _int(device.get("busNumber")),
            "bus_sharing": leaf(device.get("sharedBus")) or "noSharing"}


def _disk(device: dict[str, Any], controllers: dict[int | None, dict[str, Any]],
          sharing_by_slot: dict[str, str]) -> dict[str, Any]:
    backing = device.get("backing")
    backing = backing if isinstance(backing, dict) else {}
    backing_kind = backing.get("_type", "")
    capacity = _int(device.get("capacityInBytes")) or (_int(device.get("capacityInKB")) or 0) * 1024
    controller = controllers.get(_int(device.get("controllerKey")), {})
    slot = f"scsi{controller.get('bus_number')}:{_int(device.get('unitNumber'))}"
    sharing = leaf(backing.get("sharing"))
    legacy = sharing_by_slot.get(f"{slot}.sharing")
    rdm = backing_kind.startswith("VirtualDiskRawDiskMapping")
    return {
        "label": _label(device, f"disk {leaf(device.get('key'))}"),
        "capacity_bytes": capacity, "capacity_gb": round(capacity / GIB, 2),
        "file": leaf(backing.get("fileName")), "datastore": leaf(backing.get("datastore")),
        "rdm": rdm, "rdm_mode": leaf(backing.get("compatibilityMode")) if rdm else None,
        "sharing": sharing or (f"extraConfig {slot}.sharing={legacy}" if legacy else None),
        "multi_writer": sharing == "sharingMultiWriter" or (legacy or "").lower() == "multi-writer",
        "controller": controller.get("label"), "controller_type": controller.get("type"),
        "bus_sharing": controller.get("bus_sharing", "noSharing"),
    }


def vm_facts(moid: str, props: dict[str, Any]) -> dict[str, Any]:
    """Facts of one VM from its plain property dict (names of hosts and datastores resolved later).

    Total over whatever the answer held: a structure where a leaf belongs (or the reverse) reads as unset.
    """
    sharing_by_slot, uuid_entries = _extra_config(props.get("config.extraConfig"))
    devices = _dicts(props.get("config.hardware.device"))
    controllers: dict[int | None, dict[str, Any]] = {}
    disks: list[dict[str, Any]] = []
    nics: list[dict[str, Any]] = []
    for device in devices:
        kind = device.get("_type", "")
        if kind in CONTROLLERS or "sharedBus" in device:
            controllers[_int(device.get("key"))] = _controller(kind, device)
        elif "macAddress" in device or kind in ETHERNET:
            connectable = device.get("connectable")
            connected = connectable.get("connected") if isinstance(connectable, dict) else None
            nics.append({"label": _label(device, kind), "type": kind.replace("Virtual", "").lower(),
                         "mac": leaf(device.get("macAddress")), "connected": _bool(connected)})
    disks = [_disk(device, controllers, sharing_by_slot) for device in devices if device.get("_type") == "VirtualDisk"]
    guest_id = leaf(props.get("config.guestId"))
    ips = {ip for nic in _dicts(props.get("guest.net")) for ip in _texts(nic.get("ipAddress"))}
    if leaf(props.get("guest.ipAddress")):
        ips.add(props["guest.ipAddress"])
    snapshots, stack = 0, _dicts(props.get("snapshot.rootSnapshotList"))
    while stack:
        node = stack.pop()
        snapshots += 1
        stack.extend(_dicts(node.get("childSnapshotList")))
    uuid_value, uuid_key = enable_uuid(uuid_entries)
    return {
        "name": leaf(props.get("name")), "moref": moid,
        "uuid": leaf(props.get("config.uuid")), "instance_uuid": leaf(props.get("config.instanceUuid")),
        "guest_id": guest_id, "guest_full_name": leaf(props.get("config.guestFullName")),
        "os_family": os_family(guest_id, leaf(props.get("guest.guestFamily"))),
        "template": _bool(props.get("config.template")),
        "firmware": leaf(props.get("config.firmware")),
        "disk_enable_uuid": uuid_value, "disk_enable_uuid_key": uuid_key,
        "has_snapshots": snapshots > 0, "snapshot_count": snapshots,
        "disks": disks, "disk_count": len(disks),
        "largest_disk_gb": max((d["capacity_gb"] for d in disks), default=0),
        "controllers": sorted(controllers.values(), key=lambda c: (c["type"], c["bus_number"] or 0)),
        "nics": nics, "nic_count": len(nics),
        "tools": {"status": leaf(props.get("guest.toolsStatus")),
                  "running_status": leaf(props.get("guest.toolsRunningStatus")),
                  "version": leaf(props.get("guest.toolsVersion")),
                  "version_status": leaf(props.get("guest.toolsVersionStatus2"))},
        "power_state": leaf(props.get("runtime.powerState")),
        "guest_hostname": leaf(props.get("guest.hostName")), "ip_addresses": sorted(ips),
        "host": leaf(props.get("runtime.host")),
        "datastores": _texts(props.get("datastore")),
        "parent": leaf(props.get("parent")),
    }


#: VM property -> the facts built from it: a property the answer parser could not read (props["_gaps"])
#: becomes a recorded gap on exactly these facts, so rules that need them say why they cannot judge.
_TOOLS = ("tools",)
VM_PROPERTY_FACTS = {
    "name": ("name",), "config.uuid": ("uuid",), "config.instanceUuid": ("instance_uuid",),
    "config.guestId": ("guest_id", "os_family"), "config.guestFullName": ("guest_full_name",),
    "config.firmware": ("firmware",), "config.template": ("template",),
    "config.extraConfig": ("disk_enable_uuid", "disk_enable_uuid_key", "disks"),
    "config.hardware.device": ("disks", "disk_count", "largest_disk_gb", "controllers", "nics", "nic_count"),
    "snapshot.rootSnapshotList": ("has_snapshots", "snapshot_count"),
    "guest.toolsStatus": _TOOLS, "guest.toolsRunningStatus": _TOOLS, "guest.toolsVersion": _TOOLS,
    "guest.toolsVersionStatus2": _TOOLS, "guest.guestFamily": ("os_family",), "guest.hostName": ("guest_hostname",),
    "guest.ipAddress": ("ip_addresses",), "guest.net": ("ip_addresses",), "runtime.powerState": ("power_state",),
    "runtime.host": ("host", "cluster", "datacenter"), "datastore": ("datastores", "datastore_types", "storage_drs"),
    "parent": ("folder",),
}

HOST_PROPERTY_FACTS = {
    "config.product": ("product", "version", "build", "full_name", "api_version"),
    "datastore": ("datastores",),
}


def property_gaps(namespace: str, mapping: dict[str, tuple[str, ...]], props: dict[str, Any]) -> dict[str, str]:
    """Recorded gaps (fact path -> reason) for the properties of one object that could not be read."""
    gaps: dict[str, str] = {}
    for prop, reason in (props.get("_gaps") or {}).items():
        facts = mapping.get(prop)
        for path in [f"{namespace}.{fact}" for fact in facts] if facts else [namespace]:  # unknown: all of it
            gaps[path] = f"{prop}: {reason}"
    return gaps


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def host_facts(moid: str, props: dict[str, Any]) -> dict[str, Any]:
    product = _dict(props.get("config.product"))
    return {
        "name": leaf(props.get("name")), "moref": moid,
        "product": leaf(product.get("name")), "version": leaf(product.get("version")),
        "build": leaf(product.get("build")), "full_name": leaf(product.get("fullName")),
        "api_version": leaf(product.get("apiVersion")),
        "connection_state": leaf(props.get("runtime.connectionState")),
        "maintenance": _bool(props.get("runtime.inMaintenanceMode")),
        "parent": leaf(props.get("parent")),
        "datastore_ids": _texts(props.get("datastore")),
    }


def datastore_facts(moid: str, props: dict[str, Any]) -> dict[str, Any]:
    mounts = {}
    for mount in _dicts(props.get("host")):
        info = _dict(mount.get("mountInfo"))
        mounts[leaf(mount.get("key"))] = {"access_mode": leaf(info.get("accessMode")),
                                           "mounted": info.get("mounted", "true") != "false",
                                           "accessible": info.get("accessible", "true") != "false"}
    return {"name": leaf(props.get("name")), "moref": moid, "type": leaf(props.get("summary.type")),
            "accessible": _bool(props.get("summary.accessible")), "mounts": mounts,
            "parent": leaf(props.get("parent"))}


def pod_facts(moid: str, props: dict[str, Any]) -> dict[str, Any]:
    config = _dict(_dict(props.get("podStorageDrsEntry")).get("storageDrsConfig"))
    pod_config = _dict(config.get("podConfig"))
    overrides = {c["vm"]: c.get("enabled") != "false" if "enabled" in c else None
                 for c in _dicts(config.get("vmConfig")) if leaf(c.get("vm"))}
    return {"name": leaf(props.get("name")), "moref": moid, "enabled": _bool(pod_config.get("enabled")),
            "vm_overrides": overrides}
