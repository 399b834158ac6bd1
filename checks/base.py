"""What a fact collector is.

As in Ansible's fact collectors, a collector is a small class that returns a
dict of namespaced facts and says which namespaces it fills; unlike them, a
failure is never swallowed: it becomes a recorded gap that rules report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from readiness.errors import TargetError
from readiness.facts import TargetFacts
from readiness.settings import ScanSettings
from readiness.transports.base import CommandResult, Transport

#: How much of unparseable output an error message quotes.
EXCERPT = 120


def unparseable(what: str, result: CommandResult, reason: Exception) -> TargetError:
    """The error for probe output that is not what the probe prints (a banner, a shell error, garbage).

    It quotes the start of stdout and stderr, so the operator sees what the target said instead.
    """
    out = " ".join(result.stdout.split())[:EXCERPT] or "(no output)"
    err = " ".join(result.stderr.split())[:EXCERPT]
    return TargetError(f"{what} (exit {result.exit_status}): {reason}; output starts {out!r}"
                       f"{'; stderr ' + repr(err) if err else ''}")


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
