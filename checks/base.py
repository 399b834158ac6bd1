"""What a fact collector is.

As in Ansible's fact collectors, a collector is a small class that returns a
dict of namespaced facts and says which namespaces it fills; unlike them, a
failure is never swallowed: it becomes a recorded gap that rules report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from readiness.facts import TargetFacts
from readiness.settings import ScanSettings
from readiness.transports.base import Transport


@dataclass
class CollectContext:
    """What a collector may use: the open transport, the settings, facts so far."""

    transport: Transport
    settings: ScanSettings
    facts: dict[str, Any] = field(default_factory=dict)
    gaps: dict[str, str] = field(default_factory=dict)
    #: Further targets a collector discovered (a vCenter's VMs and hosts).
    children: list[TargetFacts] = field(default_factory=list)
    #: Fact namespaces the in-scope rules read (None: all), so a probe can leave out costly parts.
    wanted: set[str] | None = None


class Collector:
    """Gathers one or more fact namespaces from a target; never judges."""

    name: ClassVar[str]
    namespaces: ClassVar[tuple[str, ...]]
    platforms: ClassVar[frozenset[str]] = frozenset({"posix"})
    local_only: ClassVar[bool] = False

    def applies(self, transport: Transport) -> bool:
        """Whether this collector can run over this transport."""
        return transport.platform in self.platforms and (transport.is_local or not self.local_only)

    def collect(self, ctx: CollectContext) -> dict[str, Any]:
        """Return {namespace: facts}; record gaps in ctx.gaps."""
        raise NotImplementedError
