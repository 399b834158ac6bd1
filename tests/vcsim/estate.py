"""Build the test estate on a running simulator through the vSphere API (pyVmomi).

Every seeded defect is made the way an administrator would make it (a
ConfigSpec, a snapshot task, a licence assignment), never by editing the
simulator's memory.  Reads use RetrievePropertiesEx: pyVmomi's lazy reads of
unset properties crash this simulator's PropertyCollector.Fetch.

VMS below lists what the estate holds; the tests read it to know what to expect.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

GB_KB = 1024 * 1024

#: name -> (guest ID, options); read by the tests to know what to expect.
VMS: dict[str, dict[str, Any]] = {
    "app-clean-01": {"guest": "rhel6_64Guest", "uuid": "TRUE"},
    "win-clean-01": {"guest": "windows8Server64Guest"},
    "efi-vm": {"guest": "windows8Server64Guest", "firmware": "efi"},
    "big-disk-vm": {"guest": "rhel6_64Guest", "uuid": "TRUE", "disks": [40, 2048]},
    "many-disks-vm": {"guest": "rhel6_64Guest", "uuid": "TRUE", "disks": [1] * 65},
    "snap-vm": {"guest": "centos64Guest", "uuid": "TRUE", "snapshot": True},
    "linux-no-uuid": {"guest": "centos64Guest"},
    "shared-disk-vm": {"guest": "windows8Server64Guest", "sharing": "sharingMultiWriter"},
    "bus-sharing-vm": {"guest": "windows8Server64Guest", "bus_sharing": "physicalSharing"},
    "legacy-mw-vm": {"guest": "rhel6_64Guest", "uuid": "TRUE", "extra": {"scsi0:0.sharing": "multi-writer"}},
    "legacy_app01": {"guest": "windows7Server64Guest"},
    "no-tools-vm": {"guest": "windows8Server64Guest", "tools": False},
    "two-nic-vm": {"guest": "windows8Server64Guest", "nics": 2},
    "mt-lsi": {"guest": "centos64Guest", "uuid": "True", "controller": "lsilogic"},
    "mt-pvscsi": {"guest": "centos64Guest", "controller": "pvscsi", "snapshot": True, "host": "esx-free"},
    "mt-win-01": {"guest": "windows8Server64Guest", "uuid": "TRUE", "controller": "lsilogic-sas"},
}
FREE_HOST = "esx-free"


def _pc() -> Any:
    from pyVmomi import vmodl

    return vmodl.query.PropertyCollector


def find(content: Any, kind: Any, props: list[str]) -> dict[str, tuple[Any, dict[str, Any]]]:
    """name -> (object, properties) for every object of a type, in one RetrievePropertiesEx."""
    from pyVmomi import vim

    pc = _pc()
    view = content.viewManager.CreateContainerView(content.rootFolder, [kind], True)
    spec = pc.FilterSpec(
        objectSet=[pc.ObjectSpec(obj=view, skip=True, selectSet=[
            pc.TraversalSpec(name="v", path="view", skip=False, type=vim.view.ContainerView)])],
        propSet=[pc.PropertySpec(type=kind, pathSet=["name", *props])])
    result = content.propertyCollector.RetrievePropertiesEx([spec], pc.RetrieveOptions())
    found = {}
    while result is not None:
        for obj in result.objects:
            values = {p.name: p.val for p in obj.propSet}
            found[values["name"]] = (obj.obj, values)
        result = content.propertyCollector.ContinueRetrievePropertiesEx(result.token) if result.token else None
    view.DestroyView()
    return found


def wait(task: Any, content: Any) -> Any:
    """Poll a task's info.state through the PropertyCollector until it ends."""
    import time

    pc = _pc()
    paths = ["info.state", "info.error", "info.result"]
    spec = pc.FilterSpec(objectSet=[pc.ObjectSpec(obj=task)], propSet=[pc.PropertySpec(type=type(task), pathSet=paths)])
    for _ in range(200):
        result = content.propertyCollector.RetrievePropertiesEx([spec], pc.RetrieveOptions())
        values = {p.name: p.val for p in result.objects[0].propSet}
        if values["info.state"] == "success":
            return values.get("info.result")
        if values["info.state"] == "error":
            raise RuntimeError(f"task failed: {values.get('info.error')}")
        time.sleep(0.02)
    raise RuntimeError("task did not finish")


def vm_spec(name: str, datastore: str, guest: str, firmware: str = "bios", disks: list[int] | None = None,
            controller: str = "lsilogic", sharing: str | None = None, uuid: str | None = None,
            tools: bool = True, nics: int = 1, bus_sharing: str = "noSharing", extra: dict[str, str] | None = None,
            controllers: list[str] | None = None, disk_kb: list[int] | None = None, uuid_key: str = "disk.EnableUUID",
            **_: Any) -> Any:
    """A ConfigSpec: disks in GiB (`disks`) or exact KiB (`disk_kb`), 15 per SCSI controller of type `controller`
    (or one controller per entry of `controllers`, disks on the first), disk.EnableUUID spelled `uuid_key`."""
    from pyVmomi import vim

    dev = vim.vm.device
    kinds = {"lsilogic": dev.VirtualLsiLogicController, "pvscsi": dev.ParaVirtualSCSIController,
             "lsilogic-sas": dev.VirtualLsiLogicSASController, "buslogic": dev.VirtualBusLogicController}
    sizes_kb = disk_kb or [size * GB_KB for size in (disks or [40])]
    buses = controllers or [controller] * ((len(sizes_kb) + 14) // 15)
    changes = [dev.VirtualDeviceSpec(operation="add", device=kinds[kind](key=-100 - bus, busNumber=bus,
                                                                         sharedBus=bus_sharing))
               for bus, kind in enumerate(buses)]
    for index, size_kb in enumerate(sizes_kb):
        bus, unit = divmod(index, 15)
        backing = dev.VirtualDisk.FlatVer2BackingInfo(diskMode="persistent", thinProvisioned=True,
                                                     fileName=f"[{datastore}]")
        if sharing:
            backing.sharing = sharing
        changes.append(dev.VirtualDeviceSpec(operation="add", fileOperation="create", device=dev.VirtualDisk(
            key=-200 - index, controllerKey=-100 - bus, unitNumber=unit if unit < 7 else unit + 1,
            capacityInKB=size_kb, backing=backing)))
    for index in range(nics):
        changes.append(dev.VirtualDeviceSpec(operation="add", device=dev.VirtualVmxnet3(
            key=-300 - index, backing=dev.VirtualEthernetCard.NetworkBackingInfo(deviceName="VM Network"))))
    options = [vim.option.OptionValue(key=k, value=v) for k, v in (extra or {}).items()]
    if uuid is not None:
        options.append(vim.option.OptionValue(key=uuid_key, value=uuid))
    if tools:  # the simulator's way of letting a test say what the guest's tools report
        options += [vim.option.OptionValue(key="SET.guest.toolsStatus", value="toolsOk"),
                  vim.option.OptionValue(key="SET.guest.toolsRunningStatus", value="guestToolsRunning"),
                  vim.option.OptionValue(key="SET.guest.toolsVersion", value="10346")]
    return vim.vm.ConfigSpec(name=name, guestId=guest, firmware=firmware, numCPUs=1, memoryMB=512,
                             files=vim.vm.FileInfo(vmPathName=f"[{datastore}]"), deviceChange=changes,
                             extraConfig=options)


def build_estate(sim: Any, nfs_dir: Path, vms: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Create hosts, datastores and the VMs of `vms` (default VMS) on a fresh simulator; return their names."""
    vms = VMS if vms is None else vms
    from pyVim.connect import Disconnect
    from pyVmomi import vim

    si = sim.connect()
    try:
        content = si.RetrieveContent()
        [(_, dc_props)] = find(content, vim.Datacenter, ["vmFolder", "hostFolder"]).values()
        # a standalone host with only an NFS datastore and the free hypervisor licence
        spec = vim.host.ConnectSpec(hostName=FREE_HOST, userName="root", password="not-used", force=True)
        wait(dc_props["hostFolder"].AddStandaloneHost_Task(spec=spec, addConnected=True), content)
        hosts = find(content, vim.HostSystem, ["configManager.datastoreSystem", "parent"])
        free_host, free_props = hosts[FREE_HOST]
        nfs_dir.mkdir(parents=True, exist_ok=True)
        free_props["configManager.datastoreSystem"].CreateNasDatastore(spec=vim.host.NasVolume.Specification(
            remoteHost="nfs.invalid", remotePath=str(nfs_dir), localPath=str(nfs_dir), accessMode="readWrite",
            type="NFS"))
        lm_props = _properties(content, content.licenseManager, ["licenseAssignmentManager"])
        lm_props["licenseAssignmentManager"].UpdateAssignedLicense(
            entity=free_host._moId, licenseKey="FREE-00000-00000-00000-00000", entityDisplayName=FREE_HOST)

        computes = find(content, vim.ComputeResource, ["resourcePool", "host"])
        cluster_pool = next(props["resourcePool"] for obj, props in computes.values()
                            if isinstance(obj, vim.ClusterComputeResource))
        free_compute = next(props["resourcePool"] for obj, props in computes.values()
                            if any(h._moId == free_host._moId for h in props.get("host") or ()))
        for name, options in vms.items():
            on_free = options.get("host") == FREE_HOST
            datastore = nfs_dir.name if on_free else "LocalDS_0"
            config = vm_spec(name, datastore, **options)
            vm = wait(dc_props["vmFolder"].CreateVM_Task(config=config, pool=free_compute if on_free else cluster_pool,
                                                         host=free_host if on_free else None), content)
            wait(vm.PowerOnVM_Task(), content)
            if options.get("snapshot"):
                wait(vm.CreateSnapshot_Task(name="before-upgrade", description="", memory=False, quiesce=False),
                     content)
        return {"vms": sorted(vms), "free_host": FREE_HOST, "nfs": nfs_dir.name}
    finally:
        Disconnect(si)


def _properties(content: Any, obj: Any, paths: list[str]) -> dict[str, Any]:
    pc = _pc()
    spec = pc.FilterSpec(objectSet=[pc.ObjectSpec(obj=obj)], propSet=[pc.PropertySpec(type=type(obj), pathSet=paths)])
    result = content.propertyCollector.RetrievePropertiesEx([spec], pc.RetrieveOptions())
    return {p.name: p.val for p in result.objects[0].propSet}


def read_only_user(sim: Any, user: str) -> None:
    """Give `user` the ReadOnly role on the datacenter, propagated (as a cautious admin would)."""
    from pyVim.connect import Disconnect
    from pyVmomi import vim

    si = sim.connect()
    try:
        content = si.RetrieveContent()
        [(dc, _)] = find(content, vim.Datacenter, []).values()
        roles = _properties(content, content.authorizationManager, ["roleList"])["roleList"]
        read_only = next(r.roleId for r in roles if r.name == "ReadOnly")
        content.authorizationManager.SetEntityPermissions(entity=dc, permission=[vim.AuthorizationManager.Permission(
            entity=dc, principal=user, group=False, roleId=read_only, propagate=True)])
    finally:
        Disconnect(si)
