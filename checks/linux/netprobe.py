"""The network probe of SSH targets: what the TARGET reaches, sent with probe.sh in one exec.

For a local scan, checks/connectivity.py measures from this machine in Python.
For an SSH target the same facts must be measured on the target itself (a jump
host reaching Azure proves nothing about a CentOS 6 box behind another
firewall), so netprobe.sh is appended to the Linux probe when a rule in scope
reads `connectivity` or `lan`, and its records are parsed here into the very
shape the local collector emits.  Nothing is judged here.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import unquote, urlsplit

from readiness.checks.clock import first_dated, skew
from readiness.checks.connectivity import VCENTER_PORT
from readiness.settings import NetworkSettings, ScanSettings
from readiness.util import redact_url

MARK_BEGIN = "@@readiness@@ net begin"
MARK_END = "@@readiness@@ net end"
#: Ports every protected machine must reach on the management server (MS-LAN-001).
MANAGEMENT_PORTS = (443, 9443)
NAMESPACES = frozenset({"connectivity", "lan"})


def netprobe_body() -> str:
    return resources.files("readiness.checks.linux").joinpath("netprobe.sh").read_text()


def _safe(value: str, what: str) -> str:
    if not value or any(c.isspace() for c in value):
        raise ValueError(f"{what} {value!r} is empty or contains white space")
    return value


@dataclass
class NetPlan:
    """The script to append and how to read its answer back."""

    settings: ScanSettings
    script: str
    namespaces: frozenset[str] = NAMESPACES

    def parse(self, raw: str | None) -> tuple[dict[str, Any], dict[str, str]]:
        facts, gaps = parse_net(raw, self.settings) if self.script else (_no_lan(self.settings), {})
        keep = {k: v for k, v in facts.items() if k in self.namespaces}
        return keep, {k: v for k, v in gaps.items() if k.split(".")[0] in self.namespaces}


def _no_lan(settings: ScanSettings) -> dict[str, Any]:
    return {"lan": {"management_server": settings.management_server, "ports": [], "vcenter": None}}


def plan(settings: ScanSettings, is_local: bool, wanted: set[str] | None) -> NetPlan | None:
    """The network probe for a remote posix target, or None when no rule in scope needs it.

    Only what is wanted is measured: `lan` alone (protected machines) is two TCP connections to the
    management server, or nothing at all when no management server was named.
    """
    namespaces = frozenset(NAMESPACES if wanted is None else wanted & NAMESPACES)
    if is_local or not namespaces:
        return None
    if namespaces == {"lan"} and not settings.management_server and not settings.vcenter:
        return NetPlan(settings=settings, script="", namespaces=namespaces)
    net = settings.network
    jobs: list[str] = []
    for index, endpoint in enumerate(net.endpoints if "connectivity" in namespaces else []):
        parts = urlsplit(endpoint.url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        jobs.append(f"endpoint e{index} {_safe(endpoint.url, 'endpoint URL')} {_safe(host, 'host')} {port}")
    for port in net.outbound_ports if "connectivity" in namespaces else []:
        jobs.append(f"port {_safe(net.port_check_host, 'port check host')} {int(port)}")
    if settings.management_server and "lan" in namespaces:
        for port in MANAGEMENT_PORTS:
            jobs.append(f"lan {_safe(settings.management_server, 'management server')} {port}")
    if settings.vcenter and "lan" in namespaces:
        jobs.append(f"vcenter {_safe(settings.vcenter, 'vCenter')} {VCENTER_PORT}")
    if net.time_url and "connectivity" in namespaces:
        jobs.append(f"time {_safe(net.time_url, 'time URL')}")
    inputs = {
        "NP_T": str(max(1, round(net.timeout_s))),
        "NP_PROXY": net.proxy or "",
        "NP_PROXY_SET": "1" if net.proxy is not None else "0",
        "NP_CURL_CFG": curl_proxy_config(net),
        "NP_PROXY_URL": net.proxy_with_password() or "",
        "NP_JOBS": "\n".join(jobs),
    }
    preamble = "".join(f"{k}={shlex.quote(v)}\n" for k, v in inputs.items())
    return NetPlan(settings=settings, script="\n" + preamble + netprobe_body(), namespaces=namespaces)


def _curl_quoted(value: str) -> str:
    """A curl config string: double quotes, with backslash escapes for what would end or bend it."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


def curl_proxy_config(net: NetworkSettings) -> str:
    """curl's config (read from stdin with -K -) for the configured proxy: its password never reaches argv."""
    if net.proxy is None:
        return ""
    if not net.proxy:
        return 'noproxy = "*"'
    parts = urlsplit(net.proxy if "://" in net.proxy else f"http://{net.proxy}")
    bare = f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    lines = [f"proxy = {_curl_quoted(bare)}"]
    if parts.username is not None:
        lines.append(f"proxy-user = {_curl_quoted(unquote(parts.username) + ':' + (net.proxy_password or ''))}")
    return "\n".join(lines)


def split_output(stdout: str) -> tuple[str, str | None]:
    """probe.sh's output, and the network probe's (None when it never started)."""
    head, sep, tail = stdout.partition(MARK_BEGIN + "\n")
    return (head, tail) if sep else (stdout, None)


def _int(text: str) -> int | None:
    return int(text) if re.fullmatch(r"-?[0-9]{1,18}", text.strip()) else None


def _records(raw: str) -> dict[str, list[list[str]]]:
    found: dict[str, list[list[str]]] = {}
    for line in raw.splitlines():
        fields = line.split("\t")
        if len(fields) >= 2 and fields[0] == "np":
            found.setdefault(fields[1], []).append(fields[2:])
    return found


def _pad(fields: list[str], n: int) -> list[str]:
    return (fields + [""] * n)[:n]


def parse_net(raw: str | None, settings: ScanSettings) -> tuple[dict[str, Any], dict[str, str]]:
    """netprobe.sh records -> `connectivity` and `lan` facts (same shape as checks/connectivity.py), gaps."""
    gaps: dict[str, str] = {}
    net = settings.network
    lan: dict[str, Any] = {"management_server": settings.management_server, "ports": [], "vcenter": None}
    if raw is None or MARK_END not in raw.splitlines():
        reason = "the network probe did not run to the end on the target (timed out or cut short)"
        for path in ("connectivity.endpoints", "connectivity.outbound_ports", "connectivity.clock", "lan.ports",
                     "lan.vcenter"):
            gaps[path] = reason
        return {"connectivity": {"proxy": None, "proxy_source": "none", "endpoints": [], "outbound_ports": [],
                                 "clock": {"reference": None, "skew_s": None, "error": reason}}, "lan": lan}, gaps
    records = _records(raw)
    tools = dict(f.partition("=")[::2] for f in (records.get("tools") or [[]])[0])
    env = _pad((records.get("env") or [["none", ""]])[0], 2)
    proxy_source, proxy = env[0] or "none", env[1] or None
    dns = {f[0]: f for f in (_pad(r, 6) for r in records.get("dns", []))}
    tcp = {(f[0], f[1]): f for f in (_pad(r, 8) for r in records.get("tcp", []))}
    http = {f[0]: f for f in (_pad(r, 8) for r in records.get("http", []))}

    def tcp_fact(kind: str, key: str) -> dict[str, Any]:
        rec = tcp.get((kind, key))
        if rec is None:
            return {"ok": False, "ms": 0.0, "error": "no answer from the network probe", "tool": None}
        return {"ok": rec[4] == "1", "ms": float(_int(rec[5]) or 0), "error": rec[6] or None, "tool": rec[7] or None}

    endpoints = []
    for index, endpoint in enumerate(net.endpoints):
        key = f"e{index}"
        parts = urlsplit(endpoint.url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        d = dns.get(host)
        dns_fact = {"ok": d[1] == "1" if d and d[1] else (None if d else False),
                    "addresses": [a for a in (d[2].split(",") if d else []) if a],
                    "ms": float(_int(d[3]) or 0) if d else 0.0,
                    "error": (d[4] or None) if d else "no answer from the network probe",
                    "server": None, "tool": d[5] if d else None}
        tcp_rec = tcp_fact("proxy" if proxy else "endpoint", key)
        if proxy:
            tcp_rec["via_proxy"] = True
        h = http.get(key)
        status = _int(h[1]) if h else None
        tls_state = h[5] if h else "none"
        error = (h[3] or None) if h else "no answer from the network probe"
        if tls_state == "ok":
            tls: dict[str, Any] | None = {"ok": True, "ms": None, "version": None, "error": None}
        elif tls_state == "fail":
            tls = {"ok": False, "ms": None, "version": None, "error": error}
        elif tls_state == "unverified":
            tls = {"ok": None, "ms": None, "version": None,
                   "error": "not verified: the target's only HTTP client (busybox wget) does not check certificates"}
        else:
            tls = None
        http_fact = {"status": status, "ms": float(_int(h[2]) or 0) if h else 0.0,
                     "error": None if status is not None else error, "date": (h[7] or None) if h else None,
                     "epoch": _int(h[4]) if h else None, "tls_error": tls_state == "fail", "tool": h[6] if h else None}
        endpoints.append({"id": endpoint.id, "requirement": endpoint.requirement, "url": endpoint.url,
                          "pattern": endpoint.pattern, "host": host, "port": port,
                          "proxy": redact_url(proxy) if proxy else None, "proxy_source": proxy_source,
                          "dns": dns_fact, "tcp": tcp_rec, "tls": tls, "http": http_fact,
                          "reachable": status is not None})
    ports = [{"host": net.port_check_host, "port": int(p), **tcp_fact("port", f"{net.port_check_host}:{p}")}
             for p in net.outbound_ports]
    if settings.vcenter:
        lan["vcenter"] = {"host": settings.vcenter, "port": VCENTER_PORT,
                          **tcp_fact("vcenter", f"{settings.vcenter}:{VCENTER_PORT}")}
    if settings.management_server:
        lan["ports"] = [{"host": settings.management_server, "port": p,
                         **tcp_fact("lan", f"{settings.management_server}:{p}")} for p in MANAGEMENT_PORTS]
    gaps.update(_unfinished(records, net, settings))
    if endpoints and tools.get("curl") != "1" and tools.get("wget") != "1":
        gaps["connectivity.endpoints"] = "the target has no HTTP client (curl or wget) to test the URLs with"
    if tools.get("bash") != "1" and tools.get("curl") != "1" and tools.get("nc") != "1":
        reason = "the target has no TCP client (bash /dev/tcp, curl or nc) to test ports with"
        gaps["connectivity.outbound_ports"] = reason
        if settings.management_server:
            gaps["lan.ports"] = reason
        if settings.vcenter:
            gaps["lan.vcenter"] = reason
    connectivity = {"proxy": redact_url(proxy) if proxy else None, "proxy_source": proxy_source,
                    "endpoints": endpoints, "outbound_ports": ports,
                    "clock": _clock(endpoints, http.get("time"), net.time_url)}
    return {"connectivity": connectivity, "lan": lan}, gaps


def _unfinished(records: dict[str, list[list[str]]], net: NetworkSettings, settings: ScanSettings) -> dict[str, str]:
    """A gap for each section with a check whose `np done` line is missing: unknown, never a made-up failure."""
    done = {(f[0], f[1]) for f in (_pad(r, 2) for r in records.get("done", []))}
    expected: dict[str, list[tuple[str, str]]] = {
        "connectivity.endpoints": [("endpoint", f"e{i}") for i in range(len(net.endpoints))],
        "connectivity.outbound_ports": [("port", f"{net.port_check_host}:{p}") for p in net.outbound_ports],
        "lan.ports": [("lan", f"{settings.management_server}:{p}") for p in MANAGEMENT_PORTS]
        if settings.management_server else [],
        "connectivity.clock": [("time", "time")] if net.time_url else [],
        "lan.vcenter": [("vcenter", f"{settings.vcenter}:{VCENTER_PORT}")] if settings.vcenter else [],
    }
    gaps = {}
    for path, checks in expected.items():
        missing = [key for key in checks if key not in done]
        if missing:
            gaps[path] = (f"the network probe's check {missing[0][1]} ({missing[0][0]}) did not report back "
                          f"({len(missing)} of {len(checks)} missing): unknown, not failed")
    return gaps


def _clock(endpoints: list[dict[str, Any]], time_rec: list[str] | None, time_url: str) -> dict[str, Any]:
    """Target clock (read right after the answer) minus the HTTP Date of the time URL or an endpoint."""
    if time_url:
        if not time_rec:
            return skew(time_url, None, None, "no answer from the network probe")
        return skew(time_url, time_rec[7] or None, _int(time_rec[4]), time_rec[3] or "no Date header")
    return skew(*first_dated(endpoints))
