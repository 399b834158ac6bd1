"""Network evidence gathered from the machine itself: DNS, TCP, TLS, HTTP, clock.

Runs in-process for the local transport (dnspython, sockets, requests), through
the proxy the machine uses (environment) or the one configured.  It records
what happened at each step so rules can say *why* an endpoint is unreachable
(no DNS answer, TCP refused, TLS untrusted, HTTP error) and never judges.
Proxy credentials are stripped before anything is recorded.
"""

from __future__ import annotations

import base64
import http.client
import ipaddress
import socket
import ssl
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

import dns.exception
import dns.resolver
import requests

from readiness.checks.base import CollectContext, Collector
from readiness.checks.clock import first_dated, skew
from readiness.settings import Endpoint, NetworkSettings
from readiness.util import redact_url


def _ms(start: float) -> float:
    return round((time.monotonic() - start) * 1000, 1)


def _error(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:300]


def resolve_proxy(net: NetworkSettings, url: str) -> tuple[str | None, str]:
    """The proxy this URL goes through: configured, else the environment's (NO_PROXY honoured)."""
    if net.proxy is not None:  # with its password (READINESS_PROXY_PASSWORD): in-process only, redacted when recorded
        return (net.proxy_with_password() or None), "configured"
    proxies = requests.utils.get_environ_proxies(url)
    scheme = urlsplit(url).scheme
    proxy = proxies.get(scheme) or proxies.get("all")
    return proxy, "environment" if proxy else "none"


def lookup(host: str, net: NetworkSettings) -> dict[str, Any]:
    """DNS A/AAAA answers for a host through the system or configured resolver."""
    try:
        ipaddress.ip_address(host)
        return {"ok": True, "addresses": [host], "ms": 0.0, "error": None, "server": None}
    except ValueError:
        pass
    resolver = dns.resolver.Resolver(configure=not net.dns_servers)
    if net.dns_servers:
        server, _, port = net.dns_servers[0].partition(":")
        resolver.nameservers = [server]
        resolver.port = int(port or 53)
    resolver.lifetime = net.timeout_s
    start = time.monotonic()
    addresses: list[str] = []
    errors = []
    for rdtype in ("A", "AAAA"):
        try:
            addresses += [r.to_text() for r in resolver.resolve(host, rdtype)]
        except (dns.exception.DNSException, OSError) as exc:
            errors.append(f"{rdtype}: {type(exc).__name__}")
    server = f"{resolver.nameservers[0]}:{resolver.port}" if resolver.nameservers else None
    return {"ok": bool(addresses), "addresses": addresses, "ms": _ms(start),
            "error": None if addresses else "; ".join(errors), "server": server}


def tcp_connect(host: str, port: int, timeout: float) -> dict[str, Any]:
    """Open and close one TCP connection."""
    start = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return {"ok": True, "ms": _ms(start), "error": None}
    except OSError as exc:
        return {"ok": False, "ms": _ms(start), "error": _error(exc)}


def tunnel(proxy: str, host: str, port: int, timeout: float) -> dict[str, Any]:
    """Ask an HTTP proxy to CONNECT to host:port; its status line is the evidence."""
    parts = urlsplit(proxy)
    auth = ""
    if parts.username is not None:
        token = base64.b64encode(f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()).decode()
        auth = f"Proxy-Authorization: Basic {token}\r\n"
    start = time.monotonic()
    try:
        with socket.create_connection((parts.hostname or "", parts.port or 8080), timeout=timeout) as sock:
            sock.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n{auth}\r\n".encode())
            status = sock.recv(1024).split(b"\r\n", 1)[0].decode("latin-1")
        ok = len(status.split()) > 1 and status.split()[1] == "200"
        return {"ok": ok, "ms": _ms(start), "error": None if ok else f"proxy answered {status!r}",
                "via_proxy": True}
    except OSError as exc:
        return {"ok": False, "ms": _ms(start), "error": _error(exc), "via_proxy": True}


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to the address our own DNS lookup returned, with SNI and Host still the name.

    This keeps the DNS evidence and the connection consistent (and lets tests
    point the resolver at their own DNS server).
    """

    def __init__(self, host: str, port: int, address: str, context: ssl.SSLContext, timeout: float) -> None:
        super().__init__(host, port, context=context, timeout=timeout)
        self._address = address
        self._tls_context = context

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._tls_context.wrap_socket(raw, server_hostname=self.host)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Plain HTTP to a resolved address."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


def direct_get(url: str, address: str, net: NetworkSettings) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """TLS handshake (verified) and one GET over the same connection, to a resolved address."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    tls: dict[str, Any] | None = None
    start = time.monotonic()
    if parts.scheme == "https":
        context = ssl.create_default_context(cafile=net.ca_bundle) if net.ca_bundle else ssl.create_default_context()
        conn: http.client.HTTPConnection = _PinnedHTTPSConnection(host, port, address, context, net.timeout_s)
        try:
            conn.connect()
        except (OSError, ssl.SSLError) as exc:
            tls = {"ok": False, "ms": _ms(start), "version": None, "error": _error(exc)}
            return tls, {"status": None, "ms": 0.0, "error": "not attempted: TLS failed", "date": None,
                         "epoch": None, "tls_error": isinstance(exc, ssl.SSLError)}
        tls = {"ok": True, "ms": _ms(start), "version": conn.sock.version(), "error": None}  # type: ignore[union-attr]
    else:
        conn = _PinnedHTTPConnection(host, port, address, net.timeout_s)
    start = time.monotonic()
    try:
        conn.request("GET", path, headers={"User-Agent": "readiness"})
        response = conn.getresponse()
        http = {"status": response.status, "ms": _ms(start), "error": None, "date": response.getheader("Date"),
                "epoch": time.time(), "tls_error": False}
    except (OSError, http.client.HTTPException) as exc:
        http = {"status": None, "ms": _ms(start), "error": _error(exc), "date": None, "epoch": None,
                "tls_error": False}
    finally:
        conn.close()
    return tls, http


def http_get(url: str, proxy: str | None, net: NetworkSettings) -> dict[str, Any]:
    """One GET (no redirects followed): any HTTP answer proves the service is reachable."""
    start = time.monotonic()
    proxies = {"http": proxy, "https": proxy} if proxy else {"http": "", "https": ""}
    try:
        with requests.Session() as session:
            session.trust_env = False
            response = session.get(url, proxies=proxies, timeout=net.timeout_s, allow_redirects=False,
                                   verify=net.ca_bundle or True, stream=True)
            response.close()
        return {"status": response.status_code, "ms": _ms(start), "error": None,
                "date": response.headers.get("Date"), "epoch": time.time(), "tls_error": False}
    except requests.exceptions.SSLError as exc:
        return {"status": None, "ms": _ms(start), "error": _error(exc), "date": None, "epoch": None,
                "tls_error": True}
    except requests.RequestException as exc:
        return {"status": None, "ms": _ms(start), "error": _error(exc), "date": None, "epoch": None,
                "tls_error": False}


def check_endpoint(endpoint: Endpoint, net: NetworkSettings) -> dict[str, Any]:
    """DNS, TCP, TLS and HTTP evidence for one required URL."""
    parts = urlsplit(endpoint.url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    proxy, proxy_source = resolve_proxy(net, endpoint.url)
    result: dict[str, Any] = {"id": endpoint.id, "requirement": endpoint.requirement, "url": endpoint.url,
                              "pattern": endpoint.pattern, "host": host, "port": port,
                              "proxy": redact_url(proxy) if proxy else None, "proxy_source": proxy_source,
                              "tls": None}
    result["dns"] = lookup(host, net)
    not_attempted = {"status": None, "ms": 0.0, "error": "not attempted: no TCP connection", "date": None,
                     "epoch": None, "tls_error": False}
    if proxy:
        result["tcp"] = tunnel(proxy, host, port, net.timeout_s)
        result["http"] = http_get(endpoint.url, proxy, net) if result["tcp"]["ok"] else not_attempted
    elif result["dns"]["ok"]:
        address = result["dns"]["addresses"][0]
        result["tcp"] = tcp_connect(address, port, net.timeout_s)
        if result["tcp"]["ok"]:
            result["tls"], result["http"] = direct_get(endpoint.url, address, net)
        else:
            result["http"] = not_attempted
    else:
        result["tcp"] = {"ok": False, "ms": 0.0, "error": "not attempted: no DNS answer"}
        result["http"] = not_attempted
    result["reachable"] = result["http"]["status"] is not None
    return result


def check_port(host: str, port: int, net: NetworkSettings) -> dict[str, Any]:
    """Whether an outbound TCP port is open, against a host that listens on it."""
    proxy, _ = resolve_proxy(net, f"https://{host}:{port}/")
    result = tunnel(proxy, host, port, net.timeout_s) if proxy else tcp_connect(host, port, net.timeout_s)
    return {"host": host, "port": port, **result}


def clock_skew(endpoints: list[dict[str, Any]], net: NetworkSettings) -> dict[str, Any]:
    """Local clock minus the HTTP Date of a trusted server (the time URL, else any endpoint that answered).

    The local time is taken when the answer arrived, so slow endpoints do not count as skew.
    """
    if net.time_url:
        probe = check_endpoint(Endpoint(id="time", url=net.time_url, requirement="MS-TIME-001"), net)
        answer = probe["http"]
        error = answer["error"] or probe["tcp"]["error"] or probe["dns"]["error"]
        return skew(net.time_url, answer.get("date"), answer.get("epoch"), error)
    return skew(*first_dated(endpoints))


#: Ports every protected machine must reach on the management server (MS-LAN-001).
MANAGEMENT_PORTS = (443, 9443)
#: The port a management server must reach on vCenter/ESXi (VC-NET-001; readiness's probe, not a seed limit).
VCENTER_PORT = 443


class ConnectivityCollector(Collector):
    """MS-URL-*, MS-PORT-001/002 and MS-TIME-001 evidence from this machine."""

    name = "connectivity"
    namespaces: ClassVar[tuple[str, ...]] = ("connectivity",)
    platforms = frozenset({"posix", "windows"})
    local_only = True

    def collect(self, ctx: CollectContext) -> dict[str, Any]:
        net = ctx.settings.network
        jobs = len(net.endpoints) + len(net.outbound_ports)
        with ThreadPoolExecutor(max_workers=max(1, min(16, jobs))) as pool:
            endpoint_futures = [pool.submit(check_endpoint, e, net) for e in net.endpoints]
            port_futures = [pool.submit(check_port, net.port_check_host, p, net) for p in net.outbound_ports]
            endpoints = [f.result() for f in endpoint_futures]
            ports = [f.result() for f in port_futures]
        proxy, source = resolve_proxy(net, "https://example.invalid/")
        return {"connectivity": {
            "proxy": redact_url(proxy) if proxy else None,
            "proxy_source": source,
            "endpoints": endpoints,
            "outbound_ports": ports,
            "clock": clock_skew(endpoints, net),
        }}


class LanCollector(Collector):
    """MS-LAN-001 evidence (this machine reaches the management server on 443 and 9443) and VC-NET-001
    evidence (a management server reaches the vCenter/ESXi host named with --vcenter on 443)."""

    name = "lan"
    namespaces: ClassVar[tuple[str, ...]] = ("lan",)
    platforms = frozenset({"posix", "windows"})
    local_only = True

    def collect(self, ctx: CollectContext) -> dict[str, Any]:
        host, vcenter = ctx.settings.management_server, ctx.settings.vcenter
        net = ctx.settings.network
        jobs = [(host, port) for port in MANAGEMENT_PORTS] if host else []
        jobs += [(vcenter, VCENTER_PORT)] if vcenter else []
        with ThreadPoolExecutor(max_workers=max(1, len(jobs))) as pool:
            checks = list(pool.map(lambda job: tcp_connect_checked(job[0], job[1], net), jobs))
        return {"lan": {"management_server": host or None, "ports": checks[:len(jobs) - bool(vcenter)],
                        "vcenter": checks[-1] if vcenter else None}}


def tcp_connect_checked(host: str, port: int, net: NetworkSettings) -> dict[str, Any]:
    """A direct TCP connection (the LAN path, never through a proxy)."""
    return {"host": host, "port": port, **tcp_connect(host, port, net.timeout_s)}
