"""Turns the PowerShell probe's framed output into namespaced facts.

The probe prints `==section NAME ok|error` followed by one JSON line (JSON it
escapes itself, because PowerShell 2.0 has no ConvertTo-Json); this module
checks the framing, decodes each section with the json module and shapes the
facts rules read: `os` (family "windows"), `host`, `network`, `boot`,
`windows`, `hyperv`, `cluster`, `vmm`, and — when the probe ran the network
checks — `connectivity` and `lan` in the shape the local Python checks give.
A section that failed on the target becomes gaps for the facts it feeds; it
never hides the other sections.
"""

from __future__ import annotations

import base64
import json
import re
import struct
from typing import Any

from checks.clock import first_dated, skew
from readiness.util import redact_url

HEADER = "==readiness-windows-probe 1"
END = "==end"
SECTION = re.compile(r"^==section ([a-z_]+) (ok|error)$")

#: Facts each probe section feeds: when the section fails on the target these become gaps.
FEEDS: dict[str, tuple[str, ...]] = {
    "probe": ("probe.user", "windows.account"),
    "os": ("os.name", "os.version", "os.arch", "os.bits", "host.hostname", "windows.product_type",
           "windows.domain_controller", "windows.cpu_count", "windows.memory_gb", "windows.virtual_platform"),
    "locale": ("host.locale", "windows.locale"),
    "adapters": ("network.interfaces", "network.ipv4_addresses", "network.dhcp_interfaces", "windows.nic_count"),
    "listeners": ("network.listening_tcp", "windows.listeners"),
    "storage": ("windows.disks", "windows.volumes", "windows.os_disk"),
    "firmware": ("boot.firmware",),
    "software": ("windows.programs", "windows.dotnet", "windows.powercli", "windows.server_features",
                 "windows.vmware_tools", "windows.azure_vm_agent", "windows.mobility_service", "vmm.provider_version"),
    "services": ("windows.services",),
    "hotfixes": ("windows.hotfixes",),
    "security": ("windows.local_account_token_filter_policy", "windows.firewall", "windows.rdp_enabled"),
    "cluster": ("cluster.node", "cluster.shared_disks", "cluster.static_ip", "cluster.replica_broker"),
    "hyperv": ("hyperv.role_installed", "hyperv.vm_count", "hyperv.replica"),
    "vmm": ("vmm.server", "vmm.version", "vmm.clouds"),
    "time": ("windows.time",),
    "proxy": ("windows.proxy",),
    "agents": ("windows.upload_threads_per_vm",),
    "net": ("connectivity.endpoints", "connectivity.outbound_ports", "connectivity.clock", "lan.ports"),
}

PRODUCT_TYPES = {1: "workstation", 2: "domain-controller", 3: "server"}
#: Win32_ServerFeature ID of the Hyper-V role.
HYPERV_FEATURE_ID = 20
VIRTUAL_PLATFORMS = (("vmware", "vmware"), ("virtual machine", "hyper-v"), ("xen", "xen"), ("kvm", "kvm"),
                     ("qemu", "kvm"), ("virtualbox", "virtualbox"))


def split_sections(text: str) -> dict[str, tuple[bool, Any]]:
    """Section name -> (ok, decoded JSON); ValueError when the framing is broken."""
    lines = [line.rstrip("\r") for line in text.splitlines()]
    try:
        start = lines.index(HEADER)
    except ValueError:
        raise ValueError("no probe header (not the readiness Windows probe, or PowerShell failed to start)") from None
    sections: dict[str, tuple[bool, Any]] = {}
    index = start + 1
    while index < len(lines):
        line = lines[index]
        if line == END:
            return sections
        match = SECTION.match(line)
        if not match:
            raise ValueError(f"unexpected line {index + 1}: {line[:60]!r}")
        if index + 1 >= len(lines):
            raise ValueError(f"section {match.group(1)} has no body (output truncated)")
        try:
            value = json.loads(lines[index + 1])
        except json.JSONDecodeError as exc:
            raise ValueError(f"section {match.group(1)} is not valid JSON: {exc}") from None
        sections[match.group(1)] = (match.group(2) == "ok", value)
        index += 2
    raise ValueError("output ends before ==end (the probe stopped or was cut off)")


def winhttp_proxy(blob_b64: str | None) -> dict[str, Any]:
    """Decode the WinHttpSettings registry value (what `netsh winhttp show proxy` reads).

    Layout: DWORD version, DWORD counter, DWORD flags (1 direct, 3 proxy), then
    length-prefixed ASCII proxy and bypass lists.  Absent: direct access.
    """
    if not blob_b64:
        return {"proxy": None, "bypass": None, "source": "default"}
    raw = base64.b64decode(blob_b64)
    try:
        _version, _counter, flags, proxy_len = struct.unpack_from("<IIII", raw, 0)
        proxy = raw[16:16 + proxy_len].decode("ascii", "replace")
        (bypass_len,) = struct.unpack_from("<I", raw, 16 + proxy_len)
        bypass = raw[20 + proxy_len:20 + proxy_len + bypass_len].decode("ascii", "replace")
    except struct.error:
        return {"proxy": None, "bypass": None, "source": "unreadable"}
    if not flags & 2:
        return {"proxy": None, "bypass": None, "source": "registry"}
    return {"proxy": redact_url(proxy) if "@" in proxy else proxy, "bypass": bypass or None, "source": "registry"}


def _version_parts(version: str) -> tuple[int | None, int | None]:
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


def _service(services: dict[str, Any], *names: str) -> dict[str, Any] | None:
    for name in names:
        if name.lower() in services:
            return services[name.lower()]
    return None


def _disks(storage: dict[str, Any], system_drive: str) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Disks with partition style, basic/dynamic and letters; which one holds the OS and how we know."""
    disks = []
    for disk in storage.get("disks") or []:
        types = [p.get("type") or "" for p in disk.get("partitions") or []]
        letters = sorted({letter for p in disk.get("partitions") or [] for letter in p.get("letters") or []})
        disks.append({
            "index": disk.get("index"), "model": disk.get("model"),
            "size_gb": round((disk.get("size") or 0) / 1024**3, 1),
            "interface": disk.get("interface"),
            "partition_style": "gpt" if any(t.upper().startswith("GPT") for t in types) else ("mbr" if types else None),
            "dynamic": any("logical disk manager" in t.lower() for t in types),
            "letters": letters, "boot_partition": any(p.get("boot") for p in disk.get("partitions") or []),
            "partition_types": types,
        })
    os_disk = next((dict(d, found_by="volume") for d in disks if system_drive.upper() in d["letters"]), None)
    if os_disk is None:
        # dynamic volumes have no partition association; the disk with the active partition is the OS disk
        booting = [d for d in disks if d["boot_partition"]] or [d for d in disks if d["dynamic"]]
        os_disk = dict(booting[0], found_by="boot-partition") if booting else None
    return disks, os_disk


def _volumes(storage: dict[str, Any], bitlocker: bool) -> list[dict[str, Any]]:
    volumes = []
    for vol in storage.get("volumes") or []:
        if vol.get("drive_type") not in (3, None):
            continue  # local fixed disks only (2 removable, 4 network, 5 CD)
        bl = vol.get("bitlocker")
        locked = bool(bl and bl.get("lock_status") == 1) if (bl or bitlocker) else (False if not bitlocker else None)
        volumes.append({
            "letter": vol.get("letter") or None, "label": vol.get("label") or None,
            "file_system": vol.get("file_system") or None,
            "capacity_gb": round((vol.get("capacity") or 0) / 1024**3, 2),
            "free_gb": round((vol.get("free") or 0) / 1024**3, 2),
            "boot": vol.get("boot"), "system": vol.get("system"), "page_file": vol.get("page_file"),
            "locked": locked,
        })
    return volumes


def _port_open(rules: list[dict[str, Any]], port: int) -> list[str]:
    """Names of enabled inbound allow rules whose LocalPorts cover the port ("8083", "8080-8090", "*")."""
    names = []
    for rule in rules:
        for item in str(rule.get("local_ports") or "").split(","):
            item = item.strip()
            low, _, high = item.partition("-")
            if item == "*" or (low.isdigit() and int(low) <= port <= int(high if high.isdigit() else low)):
                names.append(rule.get("name"))
                break
    return names


def _endpoint(raw: dict[str, Any], proxy_mode: str) -> dict[str, Any]:
    """One endpoint in the shared connectivity shape (checks/connectivity.py)."""
    http = dict(raw.get("http") or {})
    http.setdefault("tls_error", False)
    source = "configured" if proxy_mode != "system" else ("environment" if raw.get("proxy") else "none")
    return {
        "id": raw.get("id"), "requirement": raw.get("requirement"), "url": raw.get("url"),
        "pattern": raw.get("pattern") or "", "host": raw.get("host"), "port": raw.get("port"),
        "proxy": redact_url(raw["proxy"]) if raw.get("proxy") else None, "proxy_source": source,
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


def parse_probe(text: str) -> tuple[dict[str, Any], dict[str, str]]:
    """Facts and gaps from the probe output; ValueError when it is not probe output."""
    sections = split_sections(text)
    gaps: dict[str, str] = {}
    data: dict[str, dict[str, Any]] = {}
    for name, feeds in FEEDS.items():
        if name not in sections:
            if name != "net":
                for path in feeds:
                    gaps[path] = f"probe section {name} missing from the output"
            continue
        ok, value = sections[name]
        if ok and isinstance(value, dict):
            data[name] = value
        else:
            reason = value if isinstance(value, str) else "unexpected section shape"
            for path in feeds:
                gaps[path] = f"probe section {name} failed on the target: {reason}"

    probe, os_raw = data.get("probe", {}), data.get("os", {})
    locale, software = data.get("locale", {}), data.get("software", {})
    security = data.get("security", {})
    programs = software.get("programs") or []
    services = {s["name"].lower(): {"state": s.get("state"), "start_mode": s.get("start_mode")}
                for s in (data.get("services") or {}).get("services") or []}
    hotfixes = sorted(set((data.get("hotfixes") or {}).get("ids") or []))

    major, minor = _version_parts(os_raw.get("version", ""))
    arch = os_raw.get("architecture") or ""
    bits = 64 if "64" in arch else (32 if arch else None)
    hostname = os_raw.get("dns_hostname") or os_raw.get("hostname")
    product = PRODUCT_TYPES.get(os_raw.get("product_type") or 0)
    facts: dict[str, Any] = {
        "probe": {"version": probe.get("version"), "user": probe.get("user"), "epoch": probe.get("epoch"),
                  "missing_tools": [name for name in FEEDS if name not in sections and name != "net"]},
        "os": {"family": "windows", "distribution": "windows", "name": os_raw.get("caption"),
               "version": f"{major}.{minor}" if major is not None else None, "major": major, "minor": minor,
               "arch": "x86_64" if bits == 64 else ("x86" if bits == 32 else None), "bits": bits},
        "host": {"hostname": hostname, "short_name": (hostname or "").split(".")[0] or None,
                 "locale": locale.get("system_locale")},
        "boot": {"firmware": (data.get("firmware") or {}).get("firmware")},
    }

    adapters = (data.get("adapters") or {}).get("adapters") or []
    interfaces = [{"name": a.get("description"), "index": a.get("index"), "mac": a.get("mac"), "dhcp": a.get("dhcp"),
                   "addresses": a.get("addresses") or [], "gateways": a.get("gateways") or [],
                   "dns_servers": a.get("dns_servers") or []} for a in adapters]
    listeners = data.get("listeners") or {}
    facts["network"] = {
        "interfaces": interfaces,
        "ipv4_addresses": [ip for a in interfaces for ip in a["addresses"] if "." in ip and not ip.startswith("127.")],
        "dhcp_interfaces": [a["name"] for a in interfaces if a["dhcp"]],
        "listening_tcp": sorted({(t["address"], t["port"]) for t in listeners.get("tcp") or []}),
    }
    facts["network"]["listening_tcp"] = [{"address": a, "port": p} for a, p in facts["network"]["listening_tcp"]]

    storage = data.get("storage") or {}
    system_drive = (os_raw.get("system_drive") or "C:").upper()
    disks, os_disk = _disks(storage, system_drive)
    memory = os_raw.get("memory_installed_bytes") or os_raw.get("memory_visible_bytes")
    manufacturer = f"{os_raw.get('manufacturer') or ''} {os_raw.get('model') or ''}".lower()
    platform = next((name for needle, name in VIRTUAL_PLATFORMS if needle in manufacturer), None)
    user = probe.get("user") or ""
    account_domain = user.split("\\")[0] if "\\" in user else ""
    firewall_rules = security.get("firewall_port_rules") or []
    dotnet = software.get("dotnet") or []
    powercli = (software.get("powercli_snapins") or []) + (software.get("powercli_modules") or [])
    powercli_program = _program(programs, r"vmware.*powercli")
    deny_ts = security.get("deny_ts_connections")
    facts["windows"] = {
        "netbios_name": os_raw.get("hostname"),
        "caption": os_raw.get("caption"),
        "build": int(os_raw["build"]) if str(os_raw.get("build", "")).isdigit() else None,
        "service_pack": os_raw.get("service_pack"), "sku": os_raw.get("sku"),
        "product_type": product, "domain_role": os_raw.get("domain_role"),
        "domain_controller": os_raw.get("domain_role") in (4, 5) or product == "domain-controller" if os_raw else None,
        "part_of_domain": os_raw.get("part_of_domain"), "domain": os_raw.get("domain"),
        "system_drive": system_drive if os_raw else None,
        "cpu_count": os_raw.get("logical_processors"),
        "memory_gb": round(memory / 1024**3, 1) if memory else None,
        "manufacturer": os_raw.get("manufacturer"), "model": os_raw.get("model"),
        "virtual_platform": platform if os_raw else None,
        "ps_version": probe.get("ps_version"), "clr_version": probe.get("clr_version"),
        "locale": {"system": locale.get("system_locale"), "system_lcid": locale.get("system_locale_lcid"),
                   "ui": locale.get("installed_ui_culture"),
                   "install_language_lcid": locale.get("install_language_lcid")}
        if locale else None,
        # the failover cluster's own virtual adapter is not a NIC
        "nic_count": len([a for a in adapters if "failover cluster virtual adapter" not in
                          (a.get("description") or "").lower()]) if "adapters" in data else None,
        "listeners": listeners.get("owners") if "listeners" in data else None,
        "disks": disks if "storage" in data else None,
        "volumes": _volumes(storage, bool(storage.get("bitlocker_available"))) if "storage" in data else None,
        "os_disk": os_disk,
        "programs": programs if "software" in data else None,
        "dotnet": dotnet if "software" in data else None,
        "net35_installed": any(d.get("key") == "v3.5" and d.get("installed") for d in dotnet)
        if "software" in data else None,
        "powercli": {"installed": bool(powercli) or powercli_program["installed"],
                     "version": powercli_program["version"] or (powercli[0]["version"] if powercli else None),
                     "components": [p["name"] for p in powercli]} if "software" in data else None,
        "server_features": [f.get("name") for f in software.get("server_features") or []]
        if "software" in data else None,
        "vmware_tools": dict(_program(programs, r"^vmware tools$"), running=(_service(services, "VMTools") or {}).get(
            "state") == "Running") if "software" in data else None,
        "azure_vm_agent": dict(_program(programs, r"windows azure vm agent", r"azure vm agent"),
                               running=(_service(services, "WindowsAzureGuestAgent", "RdAgent") or {}).get("state")
                               == "Running") if "software" in data else None,
        "mobility_service": _program(programs, r"mobility service", r"unified agent") if "software" in data else None,
        "services": services if "services" in data else None,
        "hotfixes": hotfixes if "hotfixes" in data else None,
        "local_account_token_filter_policy": security.get("local_account_token_filter_policy"),
        "enable_lua": security.get("enable_lua"),
        "rdp_enabled": (deny_ts == 0) if deny_ts is not None else (False if "security" in data else None),
        "firewall": {"groups": security.get("firewall_groups") or {},
                     "profiles_enabled": security.get("firewall_enabled"),
                     "current_profiles": security.get("firewall_profiles_current"),
                     "error": security.get("firewall_error"),
                     "port_rules": firewall_rules} if "security" in data else None,
        "account": {"name": user, "local": account_domain.upper() == (probe.get("computer") or "").upper(),
                    "elevated": probe.get("elevated"), "in_administrators": probe.get("in_administrators")}
        if "probe" in data else None,
        "time": data.get("time"),
        "proxy": {"winhttp": winhttp_proxy((data.get("proxy") or {}).get("winhttp_settings")),
                  "wininet": (data.get("proxy") or {}).get("wininet")} if "proxy" in data else None,
        "upload_threads_per_vm": (data.get("agents") or {}).get("upload_threads_per_vm"),
    }

    hv = data.get("hyperv") or {}
    features = software.get("server_features") or []
    facts["hyperv"] = {
        "role_installed": (any(f.get("id") == HYPERV_FEATURE_ID for f in features) or bool(hv.get("vmms")))
        if ("software" in data or "hyperv" in data) else None,
        "vmms_state": (hv.get("vmms") or {}).get("state"),
        "vm_count": len(hv["vms"]) if isinstance(hv.get("vms"), list) else None,
        "vms": hv.get("vms"),
        "replica": hv.get("replica"),
        "firewall_ports": [{"port": port, "open": bool(_port_open(firewall_rules, port)),
                            "rules": _port_open(firewall_rules, port)} for port in (8083, 8084)]
        if "security" in data and not security.get("firewall_error") else None,
    }
    cl = data.get("cluster") or {}
    cluster = cl.get("cluster") or {}
    resources = cluster.get("resources") or []
    ip_resources = [r for r in resources if r.get("type") == "IP Address"]
    facts["cluster"] = {
        "node": bool(cluster) if "cluster" in data else None,
        "name": cluster.get("name"), "nodes": cluster.get("nodes") or [],
        "shared_disks": len([r for r in resources if r.get("type") == "Physical Disk"]),
        "shared_volumes": cluster.get("shared_volumes") or [],
        "static_ip": (all(r.get("dhcp") == 0 for r in ip_resources) if ip_resources else None) if cluster else None,
        "replica_broker": any(r.get("type") == "Virtual Machine Replication Broker" for r in resources)
        if cluster else None,
    }
    vmm = data.get("vmm") or {}
    provider = _program(programs, r"azure site recovery provider")
    facts["vmm"] = {
        "server": vmm.get("server") if "vmm" in data else None,
        "version": vmm.get("version") or None, "service_state": vmm.get("service_state"),
        "clouds": vmm.get("clouds"), "run_as_accounts": vmm.get("run_as_accounts"),
        "error": vmm.get("error"),
        "provider_version": provider["version"] if "software" in data else None,
    }
    if vmm.get("server") and vmm.get("clouds") is None:
        gaps["vmm.clouds"] = f"VMM cmdlets failed on the target: {vmm.get('error') or 'no answer'}"
        gaps["vmm.run_as_accounts"] = gaps["vmm.clouds"]

    net = data.get("net")
    if net is not None:
        mode = net.get("proxy_mode") or "system"
        endpoints = [_endpoint(e, mode) for e in net.get("endpoints") or []]
        proxies = sorted({e["proxy"] for e in endpoints if e["proxy"]})
        facts["connectivity"] = {
            "proxy": proxies[0] if proxies else None,
            "proxy_source": "configured" if mode != "system" else ("environment" if proxies else "none"),
            "endpoints": endpoints,
            "outbound_ports": net.get("outbound_ports") or [],
            "clock": _clock(endpoints, net.get("time")),
        }
        facts["windows"]["tls_protocols"] = net.get("tls_protocols")
        facts["lan"] = {"management_server": net.get("management_server") or None, "ports": net.get("lan") or []}
    return facts, gaps
