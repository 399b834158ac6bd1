"""The fact builders of the Windows probe: one function per namespace (or part of `windows`).

Each reads conformed sections (checks/windows/shapes.py) through `p.get(name)`, which is {} when that
section is missing or failed, and `p.has(name)`, which says whether it was read; a fact whose section
was not read is null (the gap says why), never a guess.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
from typing import TYPE_CHECKING, Any

from readiness.checks.clock import first_dated, skew
from readiness.checks.windows import policy, storage
from readiness.util import redact_url

if TYPE_CHECKING:
    from readiness.checks.windows.parse import _Parse

PRODUCT_TYPES = {1: "workstation", 2: "domain-controller", 3: "server"}
#: Win32_ServerFeature ID of the Hyper-V role.
HYPERV_FEATURE_ID = 20
VIRTUAL_PLATFORMS = (("vmware", "vmware"), ("virtual machine", "hyper-v"), ("xen", "xen"), ("kvm", "kvm"),
                     ("qemu", "kvm"), ("virtualbox", "virtualbox"))
TEAMING_MODES = {0: "static", 1: "switch-independent", 2: "lacp"}
#: v4\Full Release DWORD -> the lowest .NET Framework version it means (Microsoft's detection table).
DOTNET_RELEASES = ((533320, "4.8.1"), (528040, "4.8"), (461808, "4.7.2"), (461308, "4.7.1"), (460798, "4.7"),
                   (394802, "4.6.2"), (394254, "4.6.1"), (393295, "4.6"), (379893, "4.5.2"), (378675, "4.5.1"),
                   (378389, "4.5"))


def winhttp_proxy(blob_b64: str | None) -> dict[str, Any]:
    """Decode the WinHttpSettings registry value (what `netsh winhttp show proxy` reads).

    Layout: DWORD version, DWORD counter, DWORD flags (1 direct, 3 proxy), then
    length-prefixed ASCII proxy and bypass lists.  Absent: direct access.
    """
    if not blob_b64:
        return {"proxy": None, "bypass": None, "source": "default"}
    try:
        raw = base64.b64decode(blob_b64, validate=True)
        _version, _counter, flags, proxy_len = struct.unpack_from("<IIII", raw, 0)
        proxy = raw[16:16 + proxy_len].decode("ascii", "replace")
        (bypass_len,) = struct.unpack_from("<I", raw, 16 + proxy_len)
        bypass = raw[20 + proxy_len:20 + proxy_len + bypass_len].decode("ascii", "replace")
    except (struct.error, binascii.Error, ValueError):
        return {"proxy": None, "bypass": None, "source": "unreadable"}
    if not flags & 2:
        return {"proxy": None, "bypass": None, "source": "registry"}
    return {"proxy": _redacted(proxy), "bypass": bypass or None, "source": "registry"}


def _redacted(url: str) -> str:
    try:
        return redact_url(url) if "@" in url else url
    except ValueError:  # an unparseable URL with an @ in it: keep nothing of what may be a password
        return "***"


def _version_parts(version: str | None) -> tuple[int | None, int | None]:
    parts = (version or "").split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (ValueError, IndexError):
        return None, None


def _program(programs: list[dict[str, Any]], *patterns: str) -> dict[str, Any]:
    """The first installed program whose name matches one of the patterns (case-insensitive)."""
    for program in programs:
        if any(re.search(p, program.get("name") or "", re.I) for p in patterns):
            return {"installed": True, "name": program["name"], "version": program.get("version") or None}
    return {"installed": False, "name": None, "version": None}


def _dotnet(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for entry in entries:
        item = {k: v for k, v in entry.items() if v is not None}
        if entry.get("release") is not None:
            item["product"] = next((name for floor, name in DOTNET_RELEASES if entry["release"] >= floor), "4.0")
        out.append(item)
    return out


def _endpoint(raw: dict[str, Any], proxy_mode: str) -> dict[str, Any]:
    """One endpoint in the shared connectivity shape (checks/connectivity.py)."""
    http = dict(raw.get("http") or {})
    http["tls_error"] = bool(http.get("tls_error"))
    source = "configured" if proxy_mode != "system" else ("environment" if raw.get("proxy") else "none")
    return {
        "id": raw.get("id"), "requirement": raw.get("requirement"), "url": raw.get("url"),
        "pattern": raw.get("pattern") or "", "host": raw.get("host"), "port": raw.get("port"),
        "proxy": _redacted(raw["proxy"]) if raw.get("proxy") else None, "proxy_source": source,
        "dns": raw.get("dns"), "tcp": raw.get("tcp"), "tls": raw.get("tls"), "http": http,
        "reachable": http.get("status") is not None,
    }


def _clock(endpoints: list[dict[str, Any]], time_probe: dict[str, Any] | None) -> dict[str, Any]:
    """Target clock minus a trusted HTTP Date, as the local check computes it."""
    if time_probe:
        answer = time_probe.get("http") or {}
        error = answer.get("error") or (time_probe.get("tcp") or {}).get("error")
        return skew(time_probe.get("url"), answer.get("date"), answer.get("epoch"), error)
    return skew(*first_dated(endpoints))



_UUID = re.compile(r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")


def _product_uuid(p: _Parse, os_raw: dict[str, Any]) -> str | None:
    """Win32_ComputerSystemProduct.UUID in lower case, or None with a gap (firmware without one says all F)."""
    text = (os_raw.get("product_uuid") or "").strip()
    if _UUID.match(text) and len(set(text.replace("-", "").lower())) > 1:
        return text.lower()
    if p.has("os"):
        reason = (f"Win32_ComputerSystemProduct gave no usable UUID ({text[:40]!r})" if text else
                  "Win32_ComputerSystemProduct gave no UUID (the WMI query failed, or the probe output predates it)")
        p.gaps.setdefault("host.product_uuid", reason)
    return None


def base(p: _Parse) -> dict[str, Any]:
    """probe, os, host and boot."""
    probe, os_raw, locale = p.get("probe"), p.get("os"), p.get("locale")
    major, minor = _version_parts(os_raw.get("version"))
    arch = os_raw.get("architecture") or ""
    bits = 64 if "64" in arch else (32 if arch else None)
    hostname = os_raw.get("dns_hostname") or os_raw.get("hostname") or None
    return {
        "probe": {"version": probe.get("version"), "user": probe.get("user"), "epoch": probe.get("epoch"),
                  "missing_tools": [name for name in p.feeds if name not in p.present and name != "net"]},
        "os": {"family": "windows", "distribution": "windows", "name": os_raw.get("caption"),
               "version": f"{major}.{minor}" if major is not None else None, "major": major, "minor": minor,
               "arch": "x86_64" if bits == 64 else ("x86" if bits == 32 else None), "bits": bits},
        "host": {"hostname": hostname, "short_name": (hostname or "").split(".")[0] or None,
                 "locale": locale.get("system_locale"), "product_uuid": _product_uuid(p, os_raw)},
        "boot": {"firmware": p.get("firmware").get("firmware")},
    }


def network(p: _Parse) -> dict[str, Any]:
    interfaces = [{"name": a.get("description"), "index": a.get("index"), "mac": a.get("mac"), "dhcp": a.get("dhcp"),
                   "addresses": a["addresses"], "gateways": a["gateways"], "dns_servers": a["dns_servers"]}
                  for a in p.get("adapters").get("adapters") or []]
    listening = sorted({(t.get("address") or "", t.get("port") or 0) for t in p.get("listeners").get("tcp") or []})
    return {"network": {
        "interfaces": interfaces,
        "ipv4_addresses": [ip for a in interfaces for ip in a["addresses"] if "." in ip and not ip.startswith("127.")],
        "dhcp_interfaces": [a["name"] for a in interfaces if a["dhcp"]],
        "listening_tcp": [{"address": a, "port": port} for a, port in listening],
    }}


def windows_system(p: _Parse) -> dict[str, Any]:
    probe, os_raw, locale = p.get("probe"), p.get("os"), p.get("locale")
    adapters = p.get("adapters").get("adapters") or []
    product = PRODUCT_TYPES.get(os_raw.get("product_type") or 0)
    memory = os_raw.get("memory_installed_bytes") or os_raw.get("memory_visible_bytes")
    maker = f"{os_raw.get('manufacturer') or ''} {os_raw.get('model') or ''}".lower()
    has_os = p.has("os")
    build = os_raw.get("build") or ""
    return {
        "netbios_name": os_raw.get("hostname"), "caption": os_raw.get("caption"),
        "build": int(build) if build.isdigit() else None,
        "service_pack": os_raw.get("service_pack"), "sku": os_raw.get("sku"),
        "edition_id": os_raw.get("edition_id"), "installation_type": os_raw.get("installation_type"),
        "product_type": product, "domain_role": os_raw.get("domain_role"),
        "domain_controller": (os_raw.get("domain_role") in (4, 5) or product == "domain-controller")
        if has_os else None,
        "part_of_domain": os_raw.get("part_of_domain"), "domain": os_raw.get("domain"),
        "system_drive": (os_raw.get("system_drive") or "C:").upper() if has_os else None,
        "cpu_count": os_raw.get("logical_processors"),
        "memory_gb": round(memory / 1024**3, 1) if memory else None,
        "manufacturer": os_raw.get("manufacturer"), "model": os_raw.get("model"),
        "virtual_platform": next((name for needle, name in VIRTUAL_PLATFORMS if needle in maker), None)
        if has_os else None,
        "ps_version": probe.get("ps_version"), "clr_version": probe.get("clr_version"),
        "locale": {"system": locale.get("system_locale"), "system_lcid": locale.get("system_locale_lcid"),
                   "ui": locale.get("installed_ui_culture"),
                   "install_language_lcid": locale.get("install_language_lcid")} if p.has("locale") else None,
        # the failover cluster's own virtual adapter is not a NIC
        "nic_count": len([a for a in adapters if "failover cluster virtual adapter" not in
                          (a.get("description") or "").lower()]) if p.has("adapters") else None,
        "listeners": p.get("listeners").get("owners") if p.has("listeners") else None,
        "time": p.get("time") or None,
        "proxy": {"winhttp": winhttp_proxy(p.get("proxy").get("winhttp_settings")),
                  "wininet": p.get("proxy").get("wininet")} if p.has("proxy") else None,
        "upload_threads_per_vm": p.get("agents").get("upload_threads_per_vm"),
        "iscsi_sessions": [{"target": s.get("target"), "connected": (s.get("connections") or 0) > 0}
                           for s in p.get("iscsi").get("sessions") or []] if p.has("iscsi") else None,
        "nic_teams": [{"name": t.get("name"), "members": t["members"], "mode": TEAMING_MODES.get(t.get("mode") or -1)}
                      for t in p.get("teams").get("teams") or []] if p.has("teams") else None,
    }


def _cluster_disks(p: _Parse) -> set[Any] | None:
    if not p.has("cluster"):
        return None
    resources = (p.get("cluster").get("cluster") or {}).get("resources") or []
    keys: set[Any] = {r.get("disk_signature") for r in resources if r.get("disk_signature")}
    keys |= {(r.get("disk_guid") or "").strip("{}").lower() for r in resources if r.get("disk_guid")}
    return keys


def windows_storage(p: _Parse) -> dict[str, Any]:
    if not p.has("storage"):
        return {"disks": None, "disk_count": None, "volumes": None, "os_disk": None}
    section = p.get("storage")
    iscsi = {d for s in p.get("iscsi").get("sessions") or [] for d in s["devices"]}
    disks = storage.physical_disks(section, iscsi, _cluster_disks(p))
    system_drive = (p.get("os").get("system_drive") or "C:").upper()
    return {"disks": disks, "disk_count": len(disks), "volumes": storage.volumes(section),
            "os_disk": storage.os_disk(disks, system_drive)}


def windows_software(p: _Parse) -> dict[str, Any]:
    software = p.get("software")
    programs = software.get("programs") or []
    services = {s["name"].lower(): {"state": s.get("state"), "start_mode": s.get("start_mode")}
                for s in p.get("services").get("services") or [] if s.get("name")}
    dotnet = _dotnet(software.get("dotnet") or [])
    powercli = (software.get("powercli_snapins") or []) + (software.get("powercli_modules") or [])
    powercli_program = _program(programs, r"vmware.*powercli")
    ids, sources = policy.hotfixes(p.get("hotfixes"))
    has = p.has("software")

    def running(*names: str) -> bool:
        return any((services.get(n.lower()) or {}).get("state") == "Running" for n in names)

    mobility = policy.mobility_service(_program(programs, r"mobility service", r"unified agent") if has else None,
                                       p.get("asr") if p.has("asr") else None)
    return {
        "programs": programs if has else None,
        "dotnet": dotnet if has else None,
        "net35_installed": any(d.get("key") == "v3.5" and d.get("installed") for d in dotnet) if has else None,
        "powercli": {"installed": bool(powercli) or powercli_program["installed"],
                     "version": powercli_program["version"] or (powercli[0]["version"] if powercli else None),
                     "components": [c.get("name") for c in powercli]} if has else None,
        "server_features": [f.get("name") for f in software.get("server_features") or []] if has else None,
        "vmware_tools": dict(_program(programs, r"^vmware tools$"), running=running("VMTools")) if has else None,
        "azure_vm_agent": dict(_program(programs, r"windows azure vm agent", r"azure vm agent"),
                               running=running("WindowsAzureGuestAgent", "RdAgent")) if has else None,
        "mobility_service": mobility if (has or p.has("asr")) else None,
        "config_server": policy.config_server(services if p.has("services") else None,
                                              p.get("asr") if p.has("asr") else None)
        if (p.has("services") or p.has("asr")) else None,
        "services": services if p.has("services") else None,
        "hotfixes": ids if p.has("hotfixes") else None,
        "hotfix_sources": sources if p.has("hotfixes") else None,
    }


def windows_security(p: _Parse) -> dict[str, Any]:
    security, probe = p.get("security"), p.get("probe")
    if p.has("probe") and probe.get("in_administrators") is None:
        # whoami /groups was unavailable and WindowsIdentity.Groups cannot see a deny-only Administrators group
        p.gaps.setdefault("windows.account.in_administrators", "whoami /groups gave no groups and the identity's "
                          "group list leaves out deny-only groups: Administrators membership unknown")
    deny_ts = security.get("deny_ts_connections")
    user = probe.get("user") or ""
    account_domain = user.split("\\")[0] if "\\" in user else ""
    return {
        "local_account_token_filter_policy": security.get("local_account_token_filter_policy"),
        "enable_lua": security.get("enable_lua"),
        "rdp_enabled": (deny_ts == 0) if deny_ts is not None else (False if p.has("security") else None),
        "rdp_source": security.get("deny_ts_source"),
        "firewall": policy.firewall(security) if p.has("security") else None,
        "account": {"name": user, "local": account_domain.upper() == (probe.get("computer") or "").upper(),
                    "elevated": probe.get("elevated"), "in_administrators": probe.get("in_administrators"),
                    "groups_source": probe.get("groups_source")} if p.has("probe") else None,
    }


def hyperv(p: _Parse, firewall: dict[str, Any] | None) -> dict[str, Any]:
    hv, software = p.get("hyperv"), p.get("software")
    features = software.get("server_features") or []
    rules = (firewall or {}).get("port_rules") or []
    usable = firewall is not None and not firewall.get("error")
    return {"hyperv": {
        "role_installed": (any(f.get("id") == HYPERV_FEATURE_ID for f in features) or bool(hv.get("vmms")))
        if (p.has("software") or p.has("hyperv")) else None,
        "vmms_state": (hv.get("vmms") or {}).get("state"),
        "vm_count": len(hv["vms"]) if isinstance(hv.get("vms"), list) else None,
        "vms": hv.get("vms"),
        "replica": hv.get("replica"),
        "firewall_ports": [{"port": port, "open": bool(policy.port_open(rules, port)),
                            "rules": policy.port_open(rules, port)} for port in (8083, 8084)] if usable else None,
    }}


def cluster(p: _Parse) -> dict[str, Any]:
    found = p.get("cluster").get("cluster") or {}
    resources = found.get("resources") or []
    ip_resources = [r for r in resources if r.get("type") == "IP Address"]
    return {"cluster": {
        "node": bool(found) if p.has("cluster") else None,
        "name": found.get("name"), "nodes": found.get("nodes") or [],
        "shared_disks": len([r for r in resources if r.get("type") == "Physical Disk"]),
        "shared_volumes": found.get("shared_volumes") or [],
        "static_ip": (all(r.get("dhcp") == 0 for r in ip_resources) if ip_resources else None) if found else None,
        "replica_broker": any(r.get("type") == "Virtual Machine Replication Broker" for r in resources)
        if found else None,
    }}


def vmm(p: _Parse) -> dict[str, Any]:
    section = p.get("vmm")
    provider = _program(p.get("software").get("programs") or [], r"azure site recovery provider")
    if section.get("server") and section.get("clouds") is None:
        reason = f"VMM cmdlets failed on the target: {section.get('error') or 'no answer'}"
        p.gaps.setdefault("vmm.clouds", reason)
        p.gaps.setdefault("vmm.run_as_accounts", reason)
    return {"vmm": {
        "server": section.get("server") if p.has("vmm") else None,
        "version": section.get("version") or None, "service_state": section.get("service_state"),
        "clouds": section.get("clouds"), "run_as_accounts": section.get("run_as_accounts"),
        "error": section.get("error"),
        "provider_version": provider["version"] if p.has("software") else None,
    }}


def connectivity(p: _Parse) -> dict[str, Any]:
    if not p.has("net"):
        return {}
    net = p.get("net")
    mode = net.get("proxy_mode") or "system"
    endpoints = [_endpoint(e, mode) for e in net.get("endpoints") or []]
    proxies = sorted({e["proxy"] for e in endpoints if e["proxy"]})
    return {
        "connectivity": {
            "proxy": proxies[0] if proxies else None,
            "proxy_source": "configured" if mode != "system" else ("environment" if proxies else "none"),
            "endpoints": endpoints,
            "outbound_ports": net.get("outbound_ports") or [],
            "clock": _clock(endpoints, net.get("time")),
        },
        "lan": {"management_server": net.get("management_server") or None, "ports": net.get("lan") or [],
                "vcenter": net.get("vcenter") or None},
        "tls_protocols": net.get("tls_protocols"),
    }
