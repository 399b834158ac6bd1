"""Everything after the bulk read: names resolved, filters applied, master targets paired, child targets made.

Master targets (`--master-target`, repeatable, globs): every VM a pattern matches (templates never) becomes a
target with role master-target.  A failback set is never mixed: each master target fails back the selected
VMs of its own OS family (failback-reprotect-prerequisites.md l.23: "the VMs must all be Windows, or must all
be Linux ... the master target server must have same operating system"; failback-azure-to-vmware.md: a Linux
estate needs a Linux master target, a Windows one a Windows master target).  Selected VMs of a family that no
master target covers are reported on the vCenter target.  A master target is not a protected machine, so it
is not judged on the protected-VM rules (role vmware-vm).
"""

from __future__ import annotations

import fnmatch
from typing import Any
from urllib.parse import quote

from readiness.checks.base import CollectContext
from readiness.facts import TargetFacts

#: OS families a master target can serve (failback-azure-to-vmware.md l.141-148: Windows or Linux).
FAILBACK_FAMILIES = ("linux", "windows")


def _now() -> str:
    from readiness.scan import now_iso

    return now_iso()


class Estate:
    """The inventory of one vCenter turned into child targets (VMs, master targets, ESXi hosts)."""

    def __init__(self, inventory: dict[str, dict[str, Any]], settings: Any, transport: Any,
                 facts: dict[str, Any], gaps: dict[str, dict[str, str]]) -> None:
        self.inv = inventory
        self.settings = settings
        self.transport = transport
        self.facts = facts
        self.gaps = gaps  # moid -> recorded gaps of that object's facts
        self.base_uri = transport.target.uri

    def _name(self, moref: str | None) -> str | None:
        for kind in ("named", "host", "ds"):
            if moref in self.inv[kind]:
                return self.inv[kind][moref]["name"]
        return None

    def _folder_path(self, moref: str | None) -> str:
        parts, seen = [], set()
        while moref in self.inv["named"] and moref not in seen:  # a parent loop in a hostile answer ends here
            seen.add(moref)
            entry = self.inv["named"][moref]
            parts.append(entry["name"] or "")
            moref = entry["parent"]
        return "/" + "/".join(reversed(parts[:-1] if parts and parts[-1] == "Datacenters" else parts))

    def _cluster_of(self, host: str | None) -> tuple[str | None, str | None]:
        """(cluster name or None for a standalone host, datacenter name)."""
        parent = (self.inv["host"].get(host) or {}).get("parent")
        entry = self.inv["named"].get(parent or "")
        cluster = entry["name"] if entry and entry["kind"] == "ClusterComputeResource" else None
        seen = set()
        while parent in self.inv["named"] and self.inv["named"][parent]["kind"] != "Datacenter" and parent not in seen:
            seen.add(parent)
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

    def _is_master(self, vm: dict[str, Any]) -> bool:
        return not vm["template"] and any(fnmatch.fnmatchcase(vm["name"] or "", p)
                                          for p in self.settings.master_targets)

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

    def _resolve(self, vm: dict[str, Any], pods_of_ds: dict[str, str]) -> None:
        """Morefs to names; cluster, datacenter, folder and Storage DRS of one VM."""
        inv = self.inv
        vm["cluster"], vm["datacenter"] = self._cluster_of(vm["host"])
        vm["folder"] = self._folder_path(vm.pop("parent"))
        vm["host_moref"] = vm["host"]
        vm["host"] = self._name(vm["host"])
        vm["datastore_types"] = sorted({inv["ds"][d]["type"] or "" for d in vm["datastores"] if d in inv["ds"]})
        pods = [inv["pod"][pods_of_ds[d]] for d in vm["datastores"] if d in pods_of_ds]
        vm["storage_drs"] = {
            "pods": sorted({p["name"] or "" for p in pods}),
            "enabled": any(p["enabled"] and p["vm_overrides"].get(vm["moref"]) is not False for p in pods)}
        vm["datastores"] = [inv["ds"][d]["name"] for d in vm["datastores"] if d in inv["ds"]]
        for disk in vm["disks"]:
            disk["datastore"] = inv["ds"].get(disk["datastore"] or "", {}).get("name")

    def _failback(self, master: dict[str, Any], selected: list[dict[str, Any]],
                  masters: list[dict[str, Any]]) -> dict[str, Any]:
        """The failback set of one master target: the selected VMs of its OS family."""
        family = master["os_family"]
        own = [vm for vm in selected if vm["os_family"] == family] if family in FAILBACK_FAMILIES else []
        host_id = master["host_moref"]
        return {
            "host": master["host"],
            "host_datastores": self._host_datastores(host_id) if host_id in self.inv["host"] else [],
            "vms": sorted(vm["name"] or vm["moref"] for vm in own),
            "disk_count": sum(vm["disk_count"] for vm in own),
            "datastores": sorted({name or "" for vm in own for name in vm["datastores"]}),
            "os_families": sorted({vm["os_family"] for vm in own}),
            "peers": sorted(m["name"] or m["moref"] for m in masters
                            if m is not master and m["os_family"] == family),
        }

    def build(self, ctx: CollectContext) -> None:
        inv, settings = self.inv, self.settings
        names_seen: dict[str | None, int] = {}
        for vm in inv["vm"].values():
            names_seen[vm["name"]] = names_seen.get(vm["name"], 0) + 1
        pods_of_ds = {ds_id: ds["parent"] for ds_id, ds in inv["ds"].items() if ds["parent"] in inv["pod"]}
        selected, masters, templates = [], [], 0
        for vm in inv["vm"].values():
            self._resolve(vm, pods_of_ds)
            vm["is_master_target"] = self._is_master(vm)
            vm["failback"] = None
            if vm["is_master_target"]:
                masters.append(vm)
            elif vm["template"]:
                templates += 1
            elif self._selected(vm):
                selected.append(vm)
        filtered = settings.vm_patterns or settings.vm_folders or settings.vm_clusters
        hosts_wanted = {vm["host_moref"] for vm in [*selected, *masters]} if filtered else set(inv["host"])
        for master in masters:
            master["failback"] = self._failback(master, selected, masters)
        self._vcenter_facts(selected, masters, templates)

        stamp = _now()
        for vm in [*selected, *masters]:
            vm.pop("host_moref", None)
            vm["vcenter"] = self.transport.where
            name = vm["name"] or vm["moref"]
            suffix = f"~{vm['moref']}" if names_seen.get(vm["name"], 0) > 1 else ""
            # a master target is judged as one (RM rules; its guest-side rules say "not applicable" on this view,
            # they need an SSH/WinRM scan), not as a protected VM: it is not replicated to Azure
            roles = ["master-target"] if vm["is_master_target"] else ["vmware-vm"]
            ctx.children.append(TargetFacts(
                uri=f"{self.base_uri}/vm/{quote(name, safe='')}{suffix}", name=name, scheme="vcenter", roles=roles,
                facts={"vm": vm}, gaps=dict(self.gaps.get(vm["moref"], {})), collected_at=stamp,
                notes=list(settings.notes)))
        self._hosts(ctx, hosts_wanted, stamp)

    def _vcenter_facts(self, selected: list[dict[str, Any]], masters: list[dict[str, Any]], templates: int) -> None:
        inv, settings = self.inv, self.settings
        self.facts["master_targets"] = [
            {"pattern": pattern, "found": any(fnmatch.fnmatchcase(m["name"] or "", pattern) for m in masters),
             "vms": [{"name": m["name"], "host": m["host"], "os_family": m["os_family"]}
                     for m in masters if fnmatch.fnmatchcase(m["name"] or "", pattern)]}
            for pattern in settings.master_targets]
        uncovered = []
        if settings.master_targets:
            covered = {m["os_family"] for m in masters}
            for family in FAILBACK_FAMILIES:
                vms = sorted(vm["name"] or vm["moref"] for vm in selected if vm["os_family"] == family)
                if vms and family not in covered:
                    uncovered.append({"os_family": family, "vms": len(vms), "examples": vms[:5]})
        self.facts["failback_uncovered"] = uncovered
        self.facts["counts"] = {"vms": len(inv["vm"]), "templates": templates, "hosts": len(inv["host"]),
                                "datastores": len(inv["ds"]), "selected_vms": len(selected)}
        self.facts["selection"] = {"vm_patterns": list(settings.vm_patterns), "folders": list(settings.vm_folders),
                                   "clusters": list(settings.vm_clusters)}
        self.facts["selected_linux_vms"] = sum(1 for vm in selected if vm["os_family"] == "linux")
        self.facts["selected_windows_vms"] = sum(1 for vm in selected if vm["os_family"] == "windows")

    def _hosts(self, ctx: CollectContext, wanted: set[str], stamp: str) -> None:
        inv = self.inv
        licences, licence_gap = self._licences()
        per_host: dict[str | None, int] = {}
        for vm in inv["vm"].values():
            per_host[vm.get("host")] = per_host.get(vm.get("host"), 0) + 1
        for host_id in sorted(h for h in wanted if h in inv["host"]):
            host = inv["host"][host_id]
            cluster, datacenter = self._cluster_of(host_id)
            host.pop("parent", None)
            host.update({"cluster": cluster, "datacenter": datacenter,
                         "licence": licences.get(host_id),
                         "datastores": self._host_datastores(host_id),
                         "vm_count": per_host.get(host["name"], 0)})
            host.pop("datastore_ids")
            gaps = dict(self.gaps.get(host_id, {}))
            if licence_gap or host_id not in licences:
                gaps["esxi.licence"] = licence_gap or "vCenter lists no licence assignment for this host"
            ctx.children.append(TargetFacts(
                uri=f"{self.base_uri}/host/{quote(host['name'] or host_id, safe='')}", name=host["name"] or host_id,
                scheme="vcenter", roles=["esxi-host"], facts={"esxi": host}, gaps=gaps, collected_at=stamp,
                notes=list(self.settings.notes)))

    def _licences(self) -> tuple[dict[str, dict[str, Any]], str | None]:
        """(edition per host, or why none could be read): one QueryAssignedLicenses call (the key is never kept)."""
        from pyVmomi import vmodl

        from readiness.checks.vsphere.inventory import properties_of

        content = self.transport.content
        result: dict[str, dict[str, Any]] = {}
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
        except vmodl.MethodFault as exc:
            return {}, f"the licence assignments could not be read: {exc.msg or type(exc).__name__}"
        return result, None
