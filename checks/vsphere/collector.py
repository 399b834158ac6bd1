"""The vCenter collector: the whole inventory in one PropertyCollector pass.

It fills the vCenter target's own `vcenter` namespace and adds one child
target per VM (role vmware-vm, namespace `vm`) and per ESXi host (role
esxi-host, namespace `esxi`).  The VM named by --master-target also gets the
failback facts (its host's datastores, the disks and datastores of the VMs
selected for failback).  VM facts carry the BIOS UUID, guest host name and IP
addresses so a later step can match a VM with an SSH/WinRM scan of the same
machine.  Nothing here judges: rules/vmware.yaml does.
"""

from __future__ import annotations

import fnmatch
from typing import Any
from urllib.parse import quote

from checks.base import CollectContext, Collector
from checks.vsphere import inventory as bulk
from checks.vsphere import model
from checks.vsphere.inventory import iter_objects, properties_of
from readiness.facts import TargetFacts


def _now() -> str:
    from readiness.scan import now_iso

    return now_iso()


class VSphereCollector(Collector):
    """Inventory, versions, licences and privileges of one vCenter (or ESXi) endpoint."""

    name = "vsphere"
    namespaces = ("vcenter",)
    platforms = frozenset({"vsphere"})

    def collect(self, ctx: CollectContext) -> dict[str, Any]:
        from pyVmomi import vim

        transport: Any = ctx.transport
        content = transport.content
        settings = ctx.settings
        inventory: dict[str, dict[str, Any]] = {kind: {} for kind in ("vm", "host", "ds", "pod", "named")}
        types = {
            vim.VirtualMachine: model.VM_PROPS, vim.HostSystem: model.HOST_PROPS,
            vim.Datastore: model.DATASTORE_PROPS, vim.StoragePod: model.POD_PROPS,
            vim.ComputeResource: model.NAMED_PROPS, vim.Folder: model.NAMED_PROPS, vim.Datacenter: model.NAMED_PROPS,
        }
        datacenters = []
        for kind, moid, props in iter_objects(content, types, page_size=bulk.PAGE_SIZE, count=transport.count,
                                              drop=model.IGNORED_DEVICES):
            if kind == "VirtualMachine":
                inventory["vm"][moid] = model.vm_facts(moid, props)
            elif kind == "HostSystem":
                inventory["host"][moid] = model.host_facts(moid, props)
            elif kind == "Datastore":
                inventory["ds"][moid] = model.datastore_facts(moid, props)
            else:
                if kind == "StoragePod":
                    inventory["pod"][moid] = model.pod_facts(moid, props)
                inventory["named"][moid] = {"name": props.get("name"), "parent": props.get("parent") or None,
                                            "kind": kind}
                if kind == "Datacenter":
                    datacenters.append(vim.Datacenter(moid, content.propertyCollector._stub))
        dc_names = {dc._moId: inventory["named"][dc._moId]["name"] for dc in datacenters}
        facts = self._vcenter_facts(transport, content, datacenters, dc_names, ctx)
        Estate(inventory, settings, transport, facts).build(ctx)
        facts["api_round_trips"] = transport.round_trips
        return {"vcenter": facts}

    # --- the vCenter itself ------------------------------------------------------------------------------------

    @staticmethod
    def _granted(auth: Any, datacenters: list[Any], user_name: str, session: Any, privilege_ids: list[str]
                 ) -> tuple[str, dict[str, set[str]]]:
        """Privileges the session user holds on each datacenter, in one call."""
        from pyVmomi import vmodl

        try:
            return "FetchUserPrivilegeOnEntities", {
                r.entity._moId: set(r.privileges or ())
                for r in auth.FetchUserPrivilegeOnEntities(entities=list(datacenters), userName=user_name)}
        except vmodl.MethodFault:
            if session is None:
                raise
        # vCenter 5.5/6.0 have no FetchUserPrivilegeOnEntities (6.5+): ask about every defined privilege instead.
        return "HasPrivilegeOnEntities", {
            e.entity._moId: {p.privId for p in e.privAvailability if p.isGranted}
            for e in auth.HasPrivilegeOnEntities(entity=list(datacenters), sessionId=session.key, privId=privilege_ids)}

    def _vcenter_facts(self, transport: Any, content: Any, datacenters: list[Any], names: dict[str, str],
                       ctx: CollectContext) -> dict[str, Any]:
        from pyVmomi import vmodl

        about = content.about
        facts: dict[str, Any] = {
            "endpoint": transport.where, "user": transport.user, "api_type": about.apiType,
            "product": about.name, "version": about.version, "build": about.build, "full_name": about.fullName,
            "instance_uuid": about.instanceUuid,
        }
        auth = content.authorizationManager
        defined = properties_of(content, auth, ["privilegeList", "roleList"])
        privilege_ids = sorted(p.privId for p in defined.get("privilegeList") or ())
        if not privilege_ids:  # the simulator publishes no privilegeList; the Admin role holds every privilege
            privilege_ids = sorted({p for role in defined.get("roleList") or () if role.roleId == -1
                                    for p in role.privilege or ()})
        roles = {r.roleId: r.name for r in defined.get("roleList") or ()}
        session = properties_of(content, content.sessionManager, ["currentSession"]).get("currentSession")
        user_name = session.userName if session else transport.user
        try:
            source, granted_by_dc = self._granted(auth, datacenters, user_name, session, privilege_ids)
        except vmodl.MethodFault as exc:  # e.g. NoPermission: the rules then say they cannot judge, and why
            reason = f"the privileges of {user_name} could not be read: {exc.msg or type(exc).__name__}"
            for key in ("privileges", "privileges_not_granted", "datacenter_privileges"):
                ctx.gaps[f"vcenter.{key}"] = reason
            source, granted_by_dc = None, {}
        facts["datacenters"] = sorted(names.values())
        common = set.intersection(*granted_by_dc.values()) if granted_by_dc else set()
        facts.update({
            "session_user": user_name,
            "privileges_source": source,
            "datacenter_privileges": [{"datacenter": names.get(k, k), "granted": len(v)}
                                      for k, v in sorted(granted_by_dc.items())],
            "privileges": sorted(common),
            "privileges_defined": len(privilege_ids),
            "privileges_not_granted": sorted(set(privilege_ids) - common),
        })
        permissions = []
        short = user_name.split("\\")[-1].split("@")[0].lower()
        for dc in datacenters:
            try:
                found = auth.RetrieveEntityPermissions(entity=dc, inherited=True)
            except vmodl.MethodFault as exc:
                ctx.gaps["vcenter.user_permissions"] = f"RetrieveEntityPermissions failed: {exc.msg}"
                break
            for perm in found or ():
                principal = perm.principal.split("\\")[-1].split("@")[0].lower()
                if perm.group or principal != short:
                    continue
                permissions.append({
                    "datacenter": names[dc._moId], "entity": perm.entity._moId if perm.entity else None,
                    "entity_type": type(perm.entity).__name__.rsplit(".", 1)[-1] if perm.entity else None,
                    "principal": perm.principal, "role": roles.get(perm.roleId, str(perm.roleId)),
                    "propagate": bool(perm.propagate)})
        facts["user_permissions"] = permissions
        return facts


class Estate:
    """Everything after the bulk read: names resolved, filters applied, child targets made."""

    def __init__(self, inventory: dict[str, dict[str, Any]], settings: Any, transport: Any,
                 facts: dict[str, Any]) -> None:
        self.inv = inventory
        self.settings = settings
        self.transport = transport
        self.facts = facts
        self.base_uri = transport.target.uri

    def _name(self, moref: str | None) -> str | None:
        for kind in ("named", "host", "ds"):
            if moref in self.inv[kind]:
                return self.inv[kind][moref]["name"]
        return None

    def _folder_path(self, moref: str | None) -> str:
        parts = []
        while moref in self.inv["named"]:
            entry = self.inv["named"][moref]
            parts.append(entry["name"])
            moref = entry["parent"]
        return "/" + "/".join(reversed(parts[:-1] if parts and parts[-1] == "Datacenters" else parts))

    def _cluster_of(self, host: str | None) -> tuple[str | None, str | None]:
        """(cluster name or None for a standalone host, datacenter name)."""
        parent = (self.inv["host"].get(host) or {}).get("parent")
        entry = self.inv["named"].get(parent or "")
        cluster = entry["name"] if entry and entry["kind"] == "ClusterComputeResource" else None
        while parent in self.inv["named"] and self.inv["named"][parent]["kind"] != "Datacenter":
            parent = self.inv["named"][parent]["parent"]
        datacenter = self.inv["named"].get(parent or "", {}).get("name")
        return cluster, datacenter

    def _selected(self, vm: dict[str, Any]) -> bool:
        s = self.settings
        if s.vm_patterns and not any(fnmatch.fnmatchcase(vm["name"] or "", p) for p in s.vm_patterns):
            return False
        if s.vm_folders:
            path = vm["folder"]
            if not any(fnmatch.fnmatchcase(path, p) or fnmatch.fnmatchcase(path, p.rstrip("/") + "/*")
                       or p in path.split("/") for p in s.vm_folders):
                return False
        return not s.vm_clusters or any(fnmatch.fnmatchcase(vm["cluster"] or "", p) for p in s.vm_clusters)

    def _host_datastores(self, host_id: str) -> list[dict[str, Any]]:
        """The datastores a host lists, with the mount details the datastore side records (when it does)."""
        rows = []
        for ds_id in self.inv["host"][host_id]["datastore_ids"]:
            ds = self.inv["ds"].get(ds_id)
            if ds is None:
                continue
            mount = ds["mounts"].get(host_id, {})
            rows.append({"name": ds["name"], "type": ds["type"], "access_mode": mount.get("access_mode"),
                         "mounted": mount.get("mounted", True),
                         "accessible": bool(ds["accessible"] and mount.get("accessible", True))})
        return sorted(rows, key=lambda d: d["name"] or "")

    def build(self, ctx: CollectContext) -> None:
        inv, settings = self.inv, self.settings
        names_seen: dict[str, int] = {}
        for vm in inv["vm"].values():
            names_seen[vm["name"]] = names_seen.get(vm["name"], 0) + 1
        pods_of_ds = {ds_id: ds["parent"] for ds_id, ds in inv["ds"].items() if ds["parent"] in inv["pod"]}
        mt_name = settings.master_target
        selected, master, templates = [], None, 0
        for vm in inv["vm"].values():
            vm["cluster"], vm["datacenter"] = self._cluster_of(vm["host"])
            vm["folder"] = self._folder_path(vm.pop("parent"))
            host_id = vm["host"]
            vm["host"] = self._name(host_id)
            vm["host_moref"] = host_id
            vm["datastore_types"] = sorted({inv["ds"][d]["type"] for d in vm["datastores"] if d in inv["ds"]})
            pods = [inv["pod"][pods_of_ds[d]] for d in vm["datastores"] if d in pods_of_ds]
            vm["storage_drs"] = {
                "pods": sorted({p["name"] for p in pods}),
                "enabled": any(p["enabled"] and p["vm_overrides"].get(vm["moref"]) is not False for p in pods)}
            vm["datastore_ids"] = vm["datastores"]
            vm["datastores"] = [inv["ds"][d]["name"] for d in vm["datastores"] if d in inv["ds"]]
            for disk in vm["disks"]:
                disk["datastore"] = inv["ds"].get(disk["datastore"] or "", {}).get("name")
            vm["is_master_target"] = bool(mt_name) and vm["name"] == mt_name
            vm["failback"] = None
            if vm["is_master_target"]:
                master = vm
            elif vm["template"]:
                templates += 1
            elif self._selected(vm):
                selected.append(vm)
        hosts_wanted = set(inv["host"]) if not (settings.vm_patterns or settings.vm_folders or settings.vm_clusters) \
            else {vm["host_moref"] for vm in selected} | ({master["host_moref"]} if master else set())

        if master is not None:
            host_id = master["host_moref"]
            master["failback"] = {
                "host": master["host"],
                "host_datastores": self._host_datastores(host_id) if host_id in inv["host"] else [],
                "vms": sorted(vm["name"] for vm in selected),
                "disk_count": sum(vm["disk_count"] for vm in selected),
                "datastores": sorted({name for vm in selected for name in vm["datastores"]}),
                "os_families": sorted({vm["os_family"] for vm in selected}),
            }
        self.facts["master_target"] = None if not mt_name else {
            "name": mt_name, "found": master is not None,
            "host": master["host"] if master else None, "os_family": master["os_family"] if master else None}
        self.facts["counts"] = {"vms": len(inv["vm"]), "templates": templates, "hosts": len(inv["host"]),
                                "datastores": len(inv["ds"]), "selected_vms": len(selected)}
        self.facts["selection"] = {"vm_patterns": list(settings.vm_patterns), "folders": list(settings.vm_folders),
                                   "clusters": list(settings.vm_clusters)}
        self.facts["selected_linux_vms"] = sum(1 for vm in selected if vm["os_family"] == "linux")
        self.facts["selected_windows_vms"] = sum(1 for vm in selected if vm["os_family"] == "windows")

        stamp = _now()
        for vm in [*selected, *([master] if master else [])]:
            vm.pop("host_moref", None)
            vm.pop("datastore_ids", None)
            vm["vcenter"] = self.transport.where
            name = vm["name"] or vm["moref"]
            suffix = f"~{vm['moref']}" if names_seen.get(vm["name"], 0) > 1 else ""
            # the master target's VM view carries the master-target role too: its RM1xx rules judge it, and its
            # guest-side rules (RM001-RM007, RM2xx) say "not applicable" here, as they need an SSH/WinRM scan
            roles = ["vmware-vm", "master-target"] if vm.get("is_master_target") else ["vmware-vm"]
            ctx.children.append(TargetFacts(
                uri=f"{self.base_uri}/vm/{quote(name, safe='')}{suffix}", name=name, scheme="vcenter", roles=roles,
                facts={"vm": vm}, collected_at=stamp, notes=list(settings.notes)))
        licences = self._licences()
        per_host: dict[str | None, int] = {}
        for vm in inv["vm"].values():
            per_host[vm.get("host")] = per_host.get(vm.get("host"), 0) + 1
        for host_id in sorted(h for h in hosts_wanted if h in inv["host"]):
            host = inv["host"][host_id]
            cluster, datacenter = self._cluster_of(host_id)
            host.pop("parent", None)
            host.update({"cluster": cluster, "datacenter": datacenter,
                         "licence": licences.get(host_id),
                         "datastores": self._host_datastores(host_id),
                         "vm_count": per_host.get(host["name"], 0)})
            host.pop("datastore_ids")
            ctx.children.append(TargetFacts(
                uri=f"{self.base_uri}/host/{quote(host['name'] or host_id, safe='')}", name=host["name"] or host_id,
                scheme="vcenter", roles=["esxi-host"], facts={"esxi": host}, collected_at=stamp,
                notes=list(settings.notes)))

    def _licences(self) -> dict[str, dict[str, Any] | None]:
        """Edition per host: one QueryAssignedLicenses call on vCenter (the key itself is never kept)."""
        from pyVmomi import vmodl

        content = self.transport.content
        result: dict[str, dict[str, Any] | None] = {}
        try:
            manager = properties_of(content, content.licenseManager, ["licenseAssignmentManager", "licenses"])
            if manager.get("licenseAssignmentManager") is not None:
                for entry in manager["licenseAssignmentManager"].QueryAssignedLicenses() or ():
                    lic = entry.assignedLicense
                    result[entry.entityId] = {"edition_key": lic.editionKey, "name": lic.name}
            elif len(self.inv["host"]) == 1:  # a standalone ESXi host: its own licence
                lic = (manager.get("licenses") or [None])[0]
                if lic is not None:
                    result[next(iter(self.inv["host"]))] = {"edition_key": lic.editionKey, "name": lic.name}
        except vmodl.MethodFault:
            return {}
        return result
