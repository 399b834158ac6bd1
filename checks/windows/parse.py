"""Turns the PowerShell probe's framed output into namespaced facts.

framing.py checks the frames (and refuses output without its trailer: the target is then unknown);
shapes.py makes every section fit its declared shape or turns it into a gap with the reason; builders.py
shapes the facts rules read: `os` (family "windows"), `host`, `network`, `boot`, `windows`, `hyperv`,
`cluster`, `vmm`, and, when the probe ran the network checks, `connectivity` and `lan` in the shape the
local Python checks give. Each builder is also guarded: should one still fail on some input nobody
foresaw, the facts it feeds become gaps naming the error; the other sections stand.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from readiness.checks.windows import builders
from readiness.checks.windows.builders import winhttp_proxy
from readiness.checks.windows.framing import split_sections
from readiness.checks.windows.shapes import SHAPES, ShapeError, conform

__all__ = ["FEEDS", "parse_probe", "split_sections", "winhttp_proxy"]

#: Facts each probe section feeds, in the probe's order: when a section fails these become gaps.
FEEDS: dict[str, tuple[str, ...]] = {
    "probe": ("probe.user", "windows.account"),
    "os": ("os.name", "os.version", "os.arch", "os.bits", "host.hostname", "windows.product_type",
           "windows.domain_controller", "windows.cpu_count", "windows.memory_gb", "windows.virtual_platform",
           "windows.edition_id", "windows.installation_type", "host.product_uuid"),
    "locale": ("host.locale", "windows.locale"),
    "adapters": ("network.interfaces", "network.ipv4_addresses", "network.dhcp_interfaces", "windows.nic_count"),
    "listeners": ("network.listening_tcp", "windows.listeners"),
    "storage": ("windows.disks", "windows.disk_count", "windows.volumes", "windows.os_disk"),
    "firmware": ("boot.firmware",),
    "software": ("windows.programs", "windows.dotnet", "windows.net35_installed", "windows.powercli",
                 "windows.server_features", "windows.vmware_tools", "windows.azure_vm_agent", "vmm.provider_version"),
    "services": ("windows.services",),
    "hotfixes": ("windows.hotfixes", "windows.hotfix_sources"),
    "security": ("windows.local_account_token_filter_policy", "windows.firewall", "windows.rdp_enabled",
                 "hyperv.firewall_ports"),
    "cluster": ("cluster.node", "cluster.shared_disks", "cluster.static_ip", "cluster.replica_broker"),
    "hyperv": ("hyperv.role_installed", "hyperv.vm_count", "hyperv.replica"),
    "vmm": ("vmm.server", "vmm.version", "vmm.clouds"),
    "time": ("windows.time",),
    "proxy": ("windows.proxy",),
    "agents": ("windows.upload_threads_per_vm",),
    "iscsi": ("windows.iscsi_sessions",),
    "teams": ("windows.nic_teams",),
    "asr": ("windows.mobility_service", "windows.config_server"),
    "net": ("connectivity.endpoints", "connectivity.outbound_ports", "connectivity.clock", "lan.ports"),
}


class _Parse:
    """One probe output: its conformed sections, the gaps so far, and the builders of each namespace."""

    def __init__(self, text: str) -> None:
        self.gaps: dict[str, str] = {}
        self.data: dict[str, dict[str, Any]] = {}
        sections = split_sections(text)
        self.present = set(sections)
        self.feeds = FEEDS
        for name in FEEDS:
            if name not in sections:
                if name != "net":
                    self._gap(name, f"probe section {name} missing from the output")
                continue
            ok, value = sections[name]
            if not ok:
                reason = value if isinstance(value, str) else "error without a message"
                self._gap(name, f"probe section {name} failed on the target: {reason}")
                continue
            try:
                self.data[name] = conform(value, SHAPES[name])
            except ShapeError as exc:
                self._gap(name, f"probe section {name} is malformed: {exc}")
            except RecursionError:
                self._gap(name, f"probe section {name} is malformed: nested too deeply")

    def _gap(self, section: str, reason: str) -> None:
        for path in FEEDS[section]:
            self.gaps.setdefault(path, reason)

    def has(self, name: str) -> bool:
        return name in self.data

    def get(self, name: str) -> dict[str, Any]:
        return self.data.get(name) or {}

    def guarded(self, sections: tuple[str, ...], build: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """build(); on an unforeseen error, gaps for those sections' facts and an empty result."""
        try:
            return build()
        except Exception as exc:  # the parser is total: a builder bug costs its facts, never the host
            for name in sections:
                self._gap(name, f"probe section {name} could not be read: {type(exc).__name__}: {exc}")
            return {}


def parse_probe(text: str) -> tuple[dict[str, Any], dict[str, str]]:
    """Facts and gaps from the probe output; ValueError when it is not (complete) probe output."""
    p = _Parse(text)
    facts: dict[str, Any] = {"probe": {}, "os": {"family": "windows"}, "host": {}, "boot": {}, "network": {},
                             "windows": {}}
    facts.update(p.guarded(("probe", "os", "locale", "firmware"), lambda: builders.base(p)))
    facts.update(p.guarded(("adapters", "listeners"), lambda: builders.network(p)))
    windows: dict[str, Any] = {}
    parts: list[tuple[tuple[str, ...], Callable[[], dict[str, Any]]]] = [
        (("os", "probe", "locale", "adapters", "listeners", "time", "proxy", "agents", "iscsi", "teams"),
         lambda: builders.windows_system(p)),
        (("storage",), lambda: builders.windows_storage(p)),
        (("software", "services", "hotfixes", "asr"), lambda: builders.windows_software(p)),
        (("security", "probe"), lambda: builders.windows_security(p)),
    ]
    for sections, build in parts:
        windows.update(p.guarded(sections, build))
    facts["windows"] = windows
    facts.update(p.guarded(("hyperv", "software", "security"), lambda: builders.hyperv(p, windows.get("firewall"))))
    facts.update(p.guarded(("cluster",), lambda: builders.cluster(p)))
    facts.update(p.guarded(("vmm",), lambda: builders.vmm(p)))
    net = p.guarded(("net",), lambda: builders.connectivity(p))
    if net:
        windows["tls_protocols"] = net.pop("tls_protocols", None)
        facts.update(net)
    return facts, p.gaps
