"""Every collector, by name, loaded lazily (pyVmomi or pywinrm only when needed)."""

from __future__ import annotations

import importlib

from checks.base import Collector

COLLECTORS: dict[str, str] = {
    "linux": "checks.linux.collector:LinuxProbeCollector",
    "windows": "checks.windows.collector:WindowsProbeCollector",
    "resources": "checks.resources:ResourcesCollector",
    "connectivity": "checks.connectivity:ConnectivityCollector",
    "lan": "checks.connectivity:LanCollector",
    "vsphere": "checks.vsphere.collector:VSphereCollector",
    "vsphere-perf": "checks.vsphere.perf:VSpherePerfCollector",
}


def load_collectors() -> list[Collector]:
    """Instances of every registered collector, in registry order."""
    collectors = []
    for spec in COLLECTORS.values():
        module_name, _, class_name = spec.partition(":")
        collectors.append(getattr(importlib.import_module(module_name), class_name)())
    return collectors
