"""Every collector, by name, loaded lazily (pyVmomi or pywinrm only when needed).

Each row says where the collector lives and which platforms it runs on, so a scan imports only the collectors
of its transport: an SSH estate scan does not import the Windows probe, psutil or pyVmomi (about 190 ms of
imports, 1.9 ms per host on a 100-host scan; issue 11).  tests/test_collector_registry.py checks that each row
agrees with its class.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from readiness.checks.base import Collector


@dataclass(frozen=True)
class Row:
    spec: str  # "module:Class"
    platforms: frozenset[str]
    local_only: bool = False


_BOTH = frozenset({"posix", "windows"})
COLLECTORS: dict[str, Row] = {
    "linux": Row("readiness.checks.linux.collector:LinuxProbeCollector", frozenset({"posix"})),
    "windows": Row("readiness.checks.windows.collector:WindowsProbeCollector", frozenset({"windows"})),
    "resources": Row("readiness.checks.resources:ResourcesCollector", _BOTH, local_only=True),
    "connectivity": Row("readiness.checks.connectivity:ConnectivityCollector", _BOTH, local_only=True),
    "lan": Row("readiness.checks.connectivity:LanCollector", _BOTH, local_only=True),
    "vsphere": Row("readiness.checks.vsphere.collector:VSphereCollector", frozenset({"vsphere"})),
    "vsphere-perf": Row("readiness.checks.vsphere.perf:VSpherePerfCollector", frozenset({"vsphere"})),
}


def load_collectors(platform: str | None = None, is_local: bool = True) -> list[Collector]:
    """Instances of the registered collectors, in registry order: every one, or only those that can run on
    `platform` (over a remote transport when `is_local` is false), importing no other module."""
    collectors = []
    for row in COLLECTORS.values():
        if platform is not None and (platform not in row.platforms or (row.local_only and not is_local)):
            continue
        module_name, _, class_name = row.spec.partition(":")
        collectors.append(getattr(importlib.import_module(module_name), class_name)())
    return collectors
