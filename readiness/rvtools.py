"""RVTools exports judged offline: `readiness evaluate export.xlsx`.

Many VMware estates already have an RVTools export (an .xlsx with one sheet per vSphere object kind); a
consultant can judge it before any credential is handed over.  The sheets vInfo, vDisk, vNetwork,
vSnapshot, vTools, vHost (and vDatastore when present) become `vmware-vm` and `esxi-host` targets with the
same `vm` / `esxi` fact shapes the vCenter collector produces (checks/facts.yaml), so the same rules judge
them.  Columns are found by header name, as RVTools 4.x writes them, with the older spellings as aliases
(`Capacity MB` before `Capacity MiB`); a missing sheet or column is not an error but a gap.  What an export
never holds (the guest ID, controller types, Storage DRS, the licence edition key ...) is recorded as a gap
with the reason "not in an RVTools export", so the rules that need it say `error`, never a guess.

Targets are named `vcenter://SERVER/vm/NAME` and `vcenter://SERVER/host/NAME` (what they are: objects of
that vCenter), with scheme `rvtools` in the facts and a note naming the export (how they were read).

Derived, not guessed: VMware Tools' running state from the Tools status (toolsOk and toolsOld are only
reported for running Tools); the VM's datastores from the `[datastore] path` of its files.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

from readiness.errors import UsageError
from readiness.facts import TargetFacts
from readiness.rulepack import known_facts

MIB = 1024**2
GIB = 1024**3
NOT_IN_EXPORT = "not in an RVTools export"
#: Facts an RVTools export never holds (vm.* / esxi.*), with what it has instead.
ALWAYS_MISSING = {
    "vm.guest_id": f"{NOT_IN_EXPORT} (it names the guest OS, not its guest ID)",
    "vm.controllers": f"{NOT_IN_EXPORT} (controller types are not exported)",
    "vm.storage_drs": NOT_IN_EXPORT,
    "vm.tools.version_status": NOT_IN_EXPORT,
}
HOST_MISSING = {
    "esxi.api_version": NOT_IN_EXPORT,
    "esxi.connection_state": NOT_IN_EXPORT,
    "esxi.datastores": f"{NOT_IN_EXPORT} (datastore mounts per host)",
    "esxi.licence.edition_key": f"{NOT_IN_EXPORT} (it names the licence, not its edition key)",
}
#: The facts each sheet provides, so a sheet missing from an export becomes gaps for exactly those.
SHEET_FACTS = {
    "vDisk": ("vm.disks", "vm.disk_count", "vm.largest_disk_gb"),
    "vNetwork": ("vm.nics",),
    "vSnapshot": ("vm.has_snapshots", "vm.snapshot_count"),
    "vTools": ("vm.tools",),
    "vDatastore": ("vm.datastore_types",),
}
LINUX_WORDS = re.compile(r"linux|red hat|centos|suse|sles|ubuntu|debian|oracle|fedora|photon|asianux|almalinux|"
                         r"rocky", re.IGNORECASE)
RUNNING_TOOLS = {"toolsok": "guestToolsRunning", "toolsold": "guestToolsRunning",
                 "toolsnotrunning": "guestToolsNotRunning", "toolsnotinstalled": "guestToolsNotRunning"}


#: The columns read (any sheet); the others are dropped while reading, so memory follows what is judged.
COLUMNS = frozenset(" ".join(c.split()).lower() for c in (
    "VM", "VM ID", "VM UUID", "SMBIOS UUID", "VI SDK Server", "Template", "SRM Placeholder", "Powerstate",
    "Firmware", "EnableUUID", "DNS Name", "Primary IP Address", "NICs", "Host", "Cluster", "Datacenter", "Folder",
    "Path", "OS according to the configuration file", "OS according to the VMware Tools",
    "Disk", "Label", "Disk Path", "Capacity MiB", "Capacity MB", "Raw", "Raw Comp. Mode", "Raw Com. Mode",
    "Sharing mode", "Controller", "Shared Bus", "NIC label", "Network", "Adapter", "Mac Address", "Connected",
    "IPv4 Address", "Tools", "Tools Version", "ESX Version", "Assigned License(s)", "in Maintenance Mode", "# VMs",
    "Object ID", "Name", "Type", "xlsx creation datetime"))


class Sheet:
    """One worksheet as rows of {normalised header: value} (whitespace collapsed, lower case)."""

    def __init__(self, name: str, rows: list[dict[str, Any]]) -> None:
        self.name, self.rows = name, rows


def _norm(header: Any) -> str:
    return " ".join(str(header or "").split()).lower()


def _get(row: dict[str, Any], *names: str) -> Any:
    for name in names:
        key = _norm(name)
        if key not in COLUMNS:  # a column read here but dropped while reading: a bug, caught by any test
            raise KeyError(f"RVTools column {name!r} is read but not in COLUMNS")
        value = row.get(key)
        if value not in (None, ""):
            return value.strip() if isinstance(value, str) else value
    return None


def _bool(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    return True if text in ("true", "yes", "1") else False if text in ("false", "no", "0") else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value).replace(",", "").replace(" ", ""))
    except ValueError:
        return None


def read_sheets(path: Path) -> tuple[dict[str, Sheet], str]:
    """Every sheet of the workbook as header-keyed rows, and when the export was made."""
    import openpyxl  # only `evaluate *.xlsx` needs it

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (OSError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise UsageError(f"{path} is not a readable .xlsx workbook: {' '.join(str(exc).split())}") from None
    sheets = {}
    try:
        for ws in book.worksheets:
            rows = ws.iter_rows(values_only=True)
            wanted = [(i, h) for i, h in enumerate(_norm(h) for h in next(rows, ())) if h in COLUMNS]
            body = [{h: r[i] for i, h in wanted if i < len(r)} for r in rows if any(c not in (None, "") for c in r)]
            sheets[ws.title] = Sheet(ws.title, body)
    finally:
        book.close()
    if "vInfo" not in sheets:
        raise UsageError(f"{path} is not an RVTools export (no vInfo sheet; sheets: {', '.join(sheets) or 'none'})")
    return sheets, _exported_at(sheets, path)


def _exported_at(sheets: dict[str, Sheet], path: Path) -> str:
    meta = sheets.get("vMetaData")
    stamp = _get(meta.rows[0], "xlsx creation datetime") if meta and meta.rows else None
    if isinstance(stamp, datetime):
        moment = stamp
    else:
        try:
            moment = datetime.fromisoformat(str(stamp)) if stamp else datetime.fromtimestamp(path.stat().st_mtime)
        except ValueError:
            moment = datetime.fromtimestamp(path.stat().st_mtime)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _vm_key(row: dict[str, Any]) -> tuple[Any, Any]:
    """VM ID is unique per vCenter; the name is not (and older exports have no VM ID)."""
    return (_get(row, "VI SDK Server"), _get(row, "VM ID") or _get(row, "VM"))


def _by_vm(sheets: dict[str, Sheet], name: str) -> dict[tuple[Any, Any], list[dict[str, Any]]]:
    grouped: dict[tuple[Any, Any], list[dict[str, Any]]] = {}
    for row in sheets[name].rows if name in sheets else []:
        grouped.setdefault(_vm_key(row), []).append(row)
    return grouped


def _datastore(path: Any) -> str | None:
    match = re.match(r"\s*\[([^\]]+)\]", str(path or ""))
    return match.group(1) if match else None


def os_family(*names: Any) -> str:
    for name in names:
        text = str(name or "")
        if "windows" in text.lower():
            return "windows"
        if LINUX_WORDS.search(text):
            return "linux"
    return "other"


def _disks(rows: list[dict[str, Any]], gaps: dict[str, str], vm: str) -> list[dict[str, Any]]:
    disks = []
    for row in rows:
        label = _get(row, "Label", "Disk") or f"disk {len(disks) + 1}"
        mib = _number(_get(row, "Capacity MiB", "Capacity MB"))
        if mib is None:
            gaps["vm.disks"] = f"the vDisk row of {label} of {vm} has no readable capacity"
        raw = bool(_bool(_get(row, "Raw")))
        sharing = _get(row, "Sharing mode")
        disks.append({
            "label": label, "capacity_bytes": int(mib * MIB) if mib is not None else None,
            "capacity_gb": round(mib * MIB / GIB, 2) if mib is not None else None,
            "file": _get(row, "Disk Path", "Path"), "datastore": _datastore(_get(row, "Disk Path", "Path")),
            "rdm": raw, "rdm_mode": _get(row, "Raw Comp. Mode", "Raw Com. Mode") if raw else None,
            "sharing": sharing, "multi_writer": str(sharing or "").lower() == "sharingmultiwriter",
            "controller": _get(row, "Controller"), "controller_type": None,
            "bus_sharing": _get(row, "Shared Bus") or "noSharing",
        })
    return disks


def _nics(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"label": _get(r, "NIC label", "Network"), "type": str(_get(r, "Adapter") or "").lower() or None,
             "mac": _get(r, "Mac Address"), "connected": bool(_bool(_get(r, "Connected")))} for r in rows]


def _ips(*values: Any) -> list[str]:
    found = set()
    for value in values:
        found |= {p for p in re.split(r"[\s,;]+", str(value or "")) if p and ("." in p or ":" in p)}
    return sorted(found)


def _contract_gaps(namespace: str, facts: dict[str, Any], gaps: dict[str, str]) -> None:
    """A fact of the contract this reader does not know (added to the collector later): null, and a gap."""
    for key in sorted(set(known_facts()[namespace]) - set(facts) - {"*"}):
        facts[key] = None
        gaps.setdefault(f"{namespace}.{key}", NOT_IN_EXPORT)


def vm_target(row: dict[str, Any], sheets: dict[str, Sheet], related: dict[str, dict[Any, list[dict[str, Any]]]],
              ds_types: dict[tuple[Any, Any], str] | None, stamp: str, source: Path) -> TargetFacts:
    """One vInfo row (with its vDisk, vNetwork, vSnapshot and vTools rows) as a `vmware-vm` target."""
    key, name, server = _vm_key(row), str(_get(row, "VM")), _get(row, "VI SDK Server")
    gaps = dict(ALWAYS_MISSING)
    for sheet, facts in SHEET_FACTS.items():
        if sheet not in sheets:
            gaps.update({f: f"not in this RVTools export (it has no {sheet} sheet)" for f in facts})
    disks = _disks(related["vDisk"].get(key, []), gaps, name)
    nets = related["vNetwork"].get(key, [])
    snapshots = len(related["vSnapshot"].get(key, []))
    tools_row = (related["vTools"].get(key) or [{}])[0]
    status = _get(tools_row, "Tools")
    running = RUNNING_TOOLS.get(str(status or "").lower())
    if running is None and "vTools" in sheets:
        gaps["vm.tools.running_status"] = f"the Tools status {status!r} does not say whether Tools run"
    files = [d["file"] for d in disks] + [_get(row, "Path")]
    datastores = sorted({ds for f in files if (ds := _datastore(f))})
    guest = _get(row, "OS according to the configuration file")
    vm = {
        "name": name, "moref": _get(row, "VM ID"), "uuid": _get(row, "SMBIOS UUID"),
        "instance_uuid": _get(row, "VM UUID"), "guest_id": None, "guest_full_name": guest,
        "os_family": os_family(guest, _get(row, "OS according to the VMware Tools")),
        "template": bool(_bool(_get(row, "Template"))), "firmware": str(_get(row, "Firmware") or "").lower() or None,
        "disk_enable_uuid": str(v) if (v := _get(row, "EnableUUID")) is not None else None,
        "has_snapshots": snapshots > 0, "snapshot_count": snapshots,
        "disks": disks, "disk_count": len(disks),
        "largest_disk_gb": max((d["capacity_gb"] or 0 for d in disks), default=0),
        "controllers": [], "nics": _nics(nets),
        "nic_count": len(nets) if "vNetwork" in sheets else int(_number(_get(row, "NICs")) or 0),
        "tools": {"status": status, "running_status": running, "version": _get(tools_row, "Tools Version"),
                  "version_status": None},
        "power_state": _get(row, "Powerstate"), "guest_hostname": _get(row, "DNS Name"),
        "ip_addresses": _ips(_get(row, "Primary IP Address"), *(_get(n, "IPv4 Address") for n in nets)),
        "host": _get(row, "Host"), "cluster": _get(row, "Cluster"), "datacenter": _get(row, "Datacenter"),
        "folder": _get(row, "Folder"), "datastores": datastores,
        "datastore_types": sorted({ds_types[(server, d)] for d in datastores if (server, d) in ds_types})
        if ds_types is not None else [],
        "storage_drs": None, "is_master_target": False, "failback": None, "vcenter": server,
    }
    _contract_gaps("vm", vm, gaps)
    if vm["firmware"] is None:
        gaps["vm.firmware"] = "the export's vInfo sheet has no Firmware value for this VM"
    if vm["uuid"] is None:
        gaps["vm.uuid"] = "the export's vInfo sheet has no SMBIOS UUID (RVTools before 4.x)"
    return TargetFacts(uri=f"vcenter://{quote(str(server or source.name), safe='')}/vm/{quote(name, safe='')}",
                       name=name, scheme="rvtools", roles=["vmware-vm"], facts={"vm": vm}, gaps=gaps,
                       collected_at=stamp, notes=[f"read from the RVTools export {source.name}"])


def host_target(row: dict[str, Any], stamp: str, source: Path) -> TargetFacts:
    """One vHost row as an `esxi-host` target."""
    name, server = str(_get(row, "Host")), _get(row, "VI SDK Server")
    full = _get(row, "ESX Version")
    version = re.search(r"(\d+\.\d+(?:\.\d+)?)", str(full or ""))
    build = re.search(r"build-(\d+)", str(full or ""))
    licence = _get(row, "Assigned License(s)")
    esxi = {
        "name": name, "moref": _get(row, "Object ID"),
        "product": re.sub(r"\s*\d.*$", "", str(full)) or None if full else None,
        "version": version.group(1) if version else None, "build": build.group(1) if build else None,
        "full_name": full, "api_version": None, "connection_state": None,
        "maintenance": bool(_bool(_get(row, "in Maintenance Mode"))),
        "cluster": _get(row, "Cluster"), "datacenter": _get(row, "Datacenter"),
        "licence": {"edition_key": None, "name": licence} if licence else None,
        "datastores": [], "vm_count": int(_number(_get(row, "# VMs")) or 0),
    }
    gaps = dict(HOST_MISSING)
    _contract_gaps("esxi", esxi, gaps)
    if esxi["version"] is None:
        gaps["esxi.version"] = f"the ESX Version {full!r} of the export names no version"
    return TargetFacts(uri=f"vcenter://{quote(str(server or source.name), safe='')}/host/{quote(name, safe='')}",
                       name=name, scheme="rvtools", roles=["esxi-host"], facts={"esxi": esxi}, gaps=gaps,
                       collected_at=stamp, notes=[f"read from the RVTools export {source.name}"])


def read_rvtools(path: Path) -> Iterator[TargetFacts]:
    """The VMs (templates and SRM placeholders left out, as a vCenter scan does) and hosts of an export."""
    sheets, stamp = read_sheets(path)
    related = {name: _by_vm(sheets, name) for name in ("vDisk", "vNetwork", "vSnapshot", "vTools")}
    ds_types = {(_get(r, "VI SDK Server"), _get(r, "Name")): _get(r, "Type") for r in sheets["vDatastore"].rows} \
        if "vDatastore" in sheets else None
    names: dict[str, int] = {}
    vms = [r for r in sheets["vInfo"].rows if _get(r, "VM") and not _bool(_get(r, "Template"))
           and not _bool(_get(r, "SRM Placeholder"))]
    for row in vms:
        names[str(_get(row, "VM"))] = names.get(str(_get(row, "VM")), 0) + 1
    for row in vms:
        target = vm_target(row, sheets, related, ds_types, stamp, path)
        if names[target.name] > 1 and target.facts["vm"]["moref"]:  # same name twice: the URI tells them apart
            target.uri += f"~{target.facts['vm']['moref']}"
        yield target
    for row in sheets["vHost"].rows if "vHost" in sheets else []:
        if _get(row, "Host"):
            yield host_target(row, stamp, path)
