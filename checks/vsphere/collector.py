"""The vCenter collector: the whole inventory in one PropertyCollector pass.

It fills the vCenter target's own `vcenter` namespace and adds one child
target per VM (role vmware-vm, namespace `vm`) and per ESXi host (role
esxi-host, namespace `esxi`).  The VMs matched by --master-target become
master targets with their failback facts (checks/vsphere/estate.py).  VM facts
carry the BIOS UUID, guest host name and IP addresses so a later step can match
a VM with an SSH/WinRM scan of the same machine.  Nothing here judges:
rules/vmware.yaml does.

A vCenter that stops answering, answers garbage or cuts a page short ends the
scan of that vCenter as a TargetError with the reason (the target is
`unknown`), never as an internal error.
"""

from __future__ import annotations

import http.client
from typing import Any
from xml.parsers.expat import ExpatError

from readiness.checks.base import CollectContext, Collector
from readiness.checks.vsphere import inventory as bulk
from readiness.checks.vsphere import model
from readiness.checks.vsphere.estate import Estate
from readiness.checks.vsphere.inventory import iter_objects, properties_of
from readiness.errors import TargetError

#: What a broken or stalled connection raises inside pyVmomi or the page reader.
WIRE_ERRORS = (OSError, http.client.HTTPException, ExpatError)


class VSphereCollector(Collector):
    """Inventory, versions, licences and privileges of one vCenter (or ESXi) endpoint."""

    name = "vsphere"
    namespaces = ("vcenter",)
    platforms = frozenset({"vsphere"})

    def collect(self, ctx: CollectContext) -> dict[str, Any]:
        transport: Any = ctx.transport
        try:
            return self._collect(ctx)
        except (*WIRE_ERRORS, TargetError) as exc:
            if isinstance(exc, TargetError) and not transport.watchdog.fired:
                raise
            # a call the watchdog cut short fails however the fragment happens to fail: the stall is the reason
            raise TargetError(transport.wire_error(exc)) from None

    def _collect(self, ctx: CollectContext) -> dict[str, Any]:
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
        gaps: dict[str, dict[str, str]] = {}
        for kind, moid, props in iter_objects(content, types, page_size=bulk.PAGE_SIZE, count=transport.count,
                                              drop=model.IGNORED_DEVICES, keep=model.KEEP):
            if "_gaps" in props:
                gaps[moid] = self._gaps(kind, moid, props, ctx)
            if kind == "VirtualMachine":
                inventory["vm"][moid] = model.vm_facts(moid, props)
            elif kind == "HostSystem":
                inventory["host"][moid] = model.host_facts(moid, props)
            elif kind == "Datastore":
                inventory["ds"][moid] = model.datastore_facts(moid, props)
            else:
                if kind == "StoragePod":
                    inventory["pod"][moid] = model.pod_facts(moid, props)
                inventory["named"][moid] = {"name": model.leaf(props.get("name")),
                                            "parent": model.leaf(props.get("parent")), "kind": kind}
                if kind == "Datacenter":
                    datacenters.append(vim.Datacenter(moid, content.propertyCollector._stub))
        dc_names = {dc._moId: inventory["named"][dc._moId]["name"] or dc._moId for dc in datacenters}
        facts = self._vcenter_facts(transport, content, datacenters, dc_names, ctx)
        Estate(inventory, settings, transport, facts, gaps).build(ctx)
        facts["api_round_trips"] = transport.round_trips
        return {"vcenter": facts}

    @staticmethod
    def _gaps(kind: str, moid: str, props: dict[str, Any], ctx: CollectContext) -> dict[str, str]:
        """Gaps of one object whose properties the answer parser could not read, on the facts built from them."""
        if kind == "VirtualMachine":
            return model.property_gaps("vm", model.VM_PROPERTY_FACTS, props)
        if kind == "HostSystem":
            return model.property_gaps("esxi", model.HOST_PROPERTY_FACTS, props)
        for prop, reason in props["_gaps"].items():  # datastores, folders: the vCenter target records them
            ctx.gaps[f"vcenter.inventory.{kind}.{moid}.{prop}"] = reason
        return {}

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
