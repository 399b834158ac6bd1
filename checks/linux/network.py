"""The `network` namespace: adapters, /etc/hosts, interface configuration, listeners and bonds."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from readiness.checks.linux.guest import parse_bonds
from readiness.checks.linux.sections import ProbeOutput
from readiness.checks.linux.text import lines as _lines
from readiness.checks.linux.text import parse_os_release


def parse_interfaces(out: ProbeOutput) -> list[dict[str, Any]]:
    """Adapters and their addresses from `ip -o addr show` (or old ifconfig output)."""
    interfaces: dict[str, list[dict[str, Any]]] = {}
    for line in _lines(out.cmd("ip_addr")):
        fields = line.replace("\\", " ").split()
        if len(fields) < 4 or fields[2] not in ("inet", "inet6"):
            continue
        name = fields[1].rstrip(":").split("@")[0]
        address, _, prefix = fields[3].partition("/")
        after = fields[fields.index("scope") + 1:] if "scope" in fields else []
        scope = after[0] if after else ""
        interfaces.setdefault(name, []).append(
            {"address": address, "family": "ipv4" if fields[2] == "inet" else "ipv6",
             "prefix": int(prefix) if prefix.isdigit() else None, "scope": scope})
    current = None
    for line in (out.cmd("ifconfig") or "").splitlines():
        if line and not line[0].isspace():
            current = line.split()[0].rstrip(":")
            interfaces.setdefault(current, [])
            continue
        match = re.search(r"inet (?:addr:)?(\d+\.\d+\.\d+\.\d+)", line)
        if current and match:
            interfaces[current].append({"address": match.group(1), "family": "ipv4", "prefix": None,
                                        "scope": "host" if match.group(1).startswith("127.") else "global"})
    return [{"name": name, "addresses": addrs} for name, addrs in interfaces.items()]


def parse_hosts(text: str | None) -> list[dict[str, Any]]:
    """/etc/hosts entries: address and names, comments dropped."""
    entries = []
    for line in _lines(text):
        fields = line.split("#", 1)[0].split()
        if len(fields) >= 2:
            entries.append({"address": fields[0], "names": fields[1:]})
    return entries


def parse_network(out: ProbeOutput, hostname: str | None) -> dict[str, Any]:
    """Adapters, /etc/hosts, the addresses the host name maps to, listeners and DHCP use."""
    interfaces = parse_interfaces(out)
    hosts_text = out.file("/etc/hosts")
    hosts = parse_hosts(hosts_text)
    ipv4 = sorted({a["address"] for i in interfaces if i["name"] != "lo" for a in i["addresses"]
                   if a["family"] == "ipv4" and not a["address"].startswith("127.")})
    names = {hostname.lower(), hostname.split(".")[0].lower()} if hostname else set()
    mapped = sorted({e["address"] for e in hosts if names & {n.lower() for n in e["names"]}})
    ifcfg = []
    for line in _lines(out.cmd("ifcfg")):
        path, _, assignments = line.partition("\t")
        values = parse_os_release(assignments.replace(" ", "\n"))
        ifcfg.append({"file": path, "device": values.get("DEVICE") or path.rsplit("ifcfg-", 1)[-1],
                      "bootproto": (values.get("BOOTPROTO") or "").lower() or None,
                      "onboot": (values.get("ONBOOT") or "").lower() or None})
    listening = parse_proc_net_tcp(out)
    for match in re.finditer(r"^\s*iface\s+(\S+)\s+inet6?\s+(\S+)", out.file("/etc/network/interfaces") or "", re.M):
        ifcfg.append({"file": "/etc/network/interfaces", "device": match.group(1), "bootproto": match.group(2),
                      "onboot": None})
    return {
        "interfaces": interfaces,
        "ipv4_addresses": ipv4,
        "hosts_file": hosts if hosts_text is not None else None,
        "hostname_addresses": mapped,
        "ifcfg": ifcfg,
        "dhcp_interfaces": sorted({c["device"] for c in ifcfg if c["bootproto"] == "dhcp"
                                   and c["device"] != "lo"}),
        "listening_tcp": listening,
        "listening_ports": sorted({x["port"] for x in listening}),
        "bonds": parse_bonds(out),
    }


#: One listener: "ADDRESS:PORT" in hex, as probe.sh cuts it out on the target, or a whole /proc/net/tcp line
#: "sl: local_address:port rem_address:port 0A ..." (captures of older probes).  Matched over the whole
#: section at once: every probed machine sends all its listeners, a thousand on a busy server, and a
#: line-by-line parse of them cost 3 ms per host (issue 11).
_LISTENING = re.compile(r"^[ \t]*(?:\S+[ \t]+)?([0-9A-Fa-f]+):([0-9A-Fa-f]{1,4})"
                        r"(?:[ \t]*$|[ \t]+\S+[ \t]+0A(?:[ \t]|$))", re.M)


@lru_cache(maxsize=256)
def _address(addr_hex: str) -> str:
    """A /proc/net/tcp address as text (listeners share a few addresses: converted once each)."""
    if len(addr_hex) == 8:
        return ".".join(str(int(addr_hex[i:i + 2], 16)) for i in (6, 4, 2, 0))
    return "::" if set(addr_hex) == {"0"} else addr_hex.lower()


def parse_proc_net_tcp(out: ProbeOutput) -> list[dict[str, Any]]:
    """Listening TCP sockets (state 0A): the /proc/net/tcp and tcp6 lines the probe kept (it filters on the target)."""
    found = {(_address(addr), int(port, 16)) for addr, port in _LISTENING.findall(out.cmd("listening_tcp") or "")}
    return [{"address": address, "port": port} for address, port in sorted(found, key=lambda x: (x[1], x[0]))]
