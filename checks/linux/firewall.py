"""The `firewall` namespace: which firewall governs inbound traffic, and its verdict per TCP port.

The kernel's live rules (`iptables-save`, root only) are what a connection meets, so they decide whenever
they could be read, whichever front end (firewalld, SuSEfirewall2, ufw) wrote them. Without root the
front end's own configuration is judged instead: firewalld's zones, SuSEfirewall2's sysconfig file, ufw's
user rules and default policy, or the saved /etc/sysconfig/iptables. The evaluation itself is
checks/linux/netfilter.py (pure, table-tested); this module only picks the source and shapes the facts.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from readiness.checks.linux import netfilter
from readiness.checks.linux.sections import ProbeOutput

#: The push installation connects to 22 (vmware-physical-to-azure.md l.414, l.422).
PUSH_PORT = 22


def _suse_services(text: str | None) -> dict[str, str]:
    """`grep -H '^TCP=' .../services/*` lines -> configuration name -> TCP value."""
    found = {}
    for line in (text or "").splitlines():
        path, sep, rest = line.partition(":")
        if sep:
            found[path.rsplit("/", 1)[-1]] = netfilter.shell_assignments(rest).get("TCP", "")
    return found


def _enabled_at_boot(out: ProbeOutput, service: str) -> bool:
    """An S* rc link for the service (the SysV releases where the saved rules are what boots)."""
    return bool(re.search(rf"/S\d*{re.escape(service)}$", out.cmd("rc_links") or "", re.M))


def _front_end(out: ProbeOutput) -> str | None:
    """Which front end manages the rules, by what is running or enabled."""
    if (out.cmd("firewalld_state") or "").strip() == "running":
        return "firewalld"
    if netfilter.shell_assignments(out.file("/etc/ufw/ufw.conf") or "").get("ENABLED", "").lower() == "yes":
        return "ufw"
    if out.cmd("suse_firewall") and _enabled_at_boot(out, "SuSEfirewall2_setup"):
        return "SuSEfirewall2"
    return None


def _judge(ports: list[int], decide: Callable[[int], netfilter.Verdict]) -> dict[str, dict[str, str]]:
    return {str(port): decide(port).as_fact() for port in ports}


def _configured(out: ProbeOutput, front_end: str | None,
                ports: list[int]) -> tuple[str | None, str, dict[str, dict[str, str]]] | str:
    """(tool, source, verdicts) from the front end's configuration, or why nothing could be judged."""
    if front_end == "firewalld":
        zones_text = out.cmd("firewalld")
        if not zones_text:
            return "firewalld runs but firewall-cmd --list-all-zones gave nothing (it needs root)"
        zones = netfilter.parse_zones(zones_text)
        return "firewalld", "firewall-cmd --list-all-zones", _judge(
            ports, lambda p: netfilter.firewalld_inbound_tcp(zones, p))
    if front_end == "ufw":
        rules = out.file("/etc/ufw/user.rules") or out.file("/lib/ufw/user.rules")
        if rules is None:
            return "ufw is enabled but its user.rules could not be read (it needs root)"
        policy = netfilter.shell_assignments(out.file("/etc/default/ufw") or "").get("DEFAULT_INPUT_POLICY", "")
        return "ufw", "ufw user.rules and /etc/default/ufw", _judge(
            ports, lambda p: netfilter.ufw_inbound_tcp(rules, policy, p))
    if front_end == "SuSEfirewall2":
        settings = netfilter.shell_assignments(out.cmd("suse_firewall") or "")
        services = _suse_services(out.cmd("suse_firewall_services"))
        return "SuSEfirewall2", "/etc/sysconfig/SuSEfirewall2", _judge(
            ports, lambda p: netfilter.suse_inbound_tcp(settings, services, p))
    saved = out.file("/etc/sysconfig/iptables")
    if saved is not None and _enabled_at_boot(out, "iptables"):
        rules = netfilter.parse_rules(saved)
        return "iptables", "/etc/sysconfig/iptables", _judge(ports, lambda p: netfilter.inbound_tcp(rules, p))
    if out.cmd("suse_firewall"):
        return "SuSEfirewall2", "boot links", _judge(
            ports, lambda p: netfilter.Verdict("accept", "SuSEfirewall2 is not enabled at boot"))
    if out.file("/etc/ufw/ufw.conf") is not None:
        return "ufw", "/etc/ufw/ufw.conf", _judge(ports, lambda p: netfilter.Verdict("accept", "ufw is disabled"))
    if "iptables" in out.missing and "iptables_s" in out.missing:
        return None, "probe", _judge(
            ports, lambda p: netfilter.Verdict("accept", "no firewall tool (iptables, firewalld, SuSEfirewall2, ufw)"))
    return "the live rules need root (iptables-save) and no firewall configuration was readable"


def parse_firewall(out: ProbeOutput, sshd_ports: list[int]) -> tuple[dict[str, Any], str | None]:
    """The firewall facts, and the reason when no verdict could be reached (a gap for the caller)."""
    ports = sorted({PUSH_PORT, *sshd_ports})
    front_end = _front_end(out)
    live = out.commands.get("iptables") or out.commands.get("iptables_s")
    facts: dict[str, Any] = {"tool": front_end, "source": None, "active": None, "inbound_tcp": None,
                             "sshd_ports_open": None, "evidence": None}
    if live is not None and live.rc == 0:
        rules = netfilter.parse_rules(live.text)
        source = "iptables-save" if "iptables" in out.commands else "iptables -S"
        verdicts = _judge(ports, lambda p: netfilter.inbound_tcp(rules, p))
        tool = front_end or "iptables"
        active = any(rules.chains.values()) or rules.policies.get("INPUT", "ACCEPT") != "ACCEPT"
    else:
        judged = _configured(out, front_end, ports)
        if isinstance(judged, str):
            return facts, judged
        tool, source, verdicts = judged
        active = front_end is not None or source == "/etc/sysconfig/iptables"
    facts.update(tool=tool, source=source, active=active, inbound_tcp=verdicts,
                 sshd_ports_open=[p for p in sshd_ports if verdicts[str(p)]["verdict"] == "accept"],
                 evidence=verdicts[str(PUSH_PORT)]["by"])
    return facts, None
