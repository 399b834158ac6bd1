"""Runs probe.sh once over the transport and parses what comes back."""

from __future__ import annotations

from importlib import resources
from typing import Any, ClassVar

from readiness.checks.base import CollectContext, Collector, unparseable
from readiness.checks.linux import netprobe
from readiness.checks.linux.parse import parse_probe
from readiness.errors import TargetError


def probe_script() -> str:
    """The POSIX sh probe, as shipped inside the package."""
    return resources.files("readiness.checks.linux").joinpath("probe.sh").read_text()


class LinuxProbeCollector(Collector):
    """The Linux guest facts: OS, kernel, network, storage, sshd, packages, agents."""

    name = "linux"
    namespaces: ClassVar[tuple[str, ...]] = (
        "probe", "os", "root_account", "host", "network", "boot", "storage", "sshd", "firewall", "packages", "software")
    platforms = frozenset({"posix"})

    def collect(self, ctx: CollectContext) -> dict[str, Any]:
        # Remote targets measure their own network in the same round trip (checks/linux/netprobe.sh).
        try:
            wanted = None if getattr(ctx.settings, "collect_all", False) else ctx.wanted
            net = netprobe.plan(ctx.settings, ctx.transport.is_local, wanted)
        except ValueError as exc:
            raise TargetError(f"cannot build the network probe: {exc}") from None
        result = ctx.transport.run_script(probe_script() + (net.script if net else ""), interpreter="sh")
        stdout, net_output = netprobe.split_output(result.stdout)
        try:
            facts, gaps = parse_probe(stdout)  # TargetError when it ended early: the target is unknown
        except ValueError as exc:
            raise unparseable("garbage from the probe", result, exc) from None
        ctx.gaps.update(gaps)
        if net is not None:
            net_facts, net_gaps = net.parse(net_output)
            facts.update(net_facts)
            ctx.gaps.update(net_gaps)
        facts["probe"]["duration_s"] = round(result.duration_s, 3)
        facts["probe"]["transport"] = ctx.transport.scheme
        return facts
