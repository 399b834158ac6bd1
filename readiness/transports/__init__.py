"""Transport registry, keyed by URI scheme and loaded lazily.

Lazy loading (as in pytest-testinfra) means pywinrm or pyVmomi are imported
only when a target of their scheme is scanned.
"""

from __future__ import annotations

import importlib

from readiness.errors import TargetError
from readiness.settings import ScanSettings
from readiness.targets import Target
from readiness.transports.base import CommandResult, Transport

__all__ = ["REGISTRY", "CommandResult", "Transport", "transport_for"]

REGISTRY: dict[str, str] = {
    "local": "readiness.transports.local:LocalTransport",
    "ssh": "readiness.transports.ssh:SSHTransport",
    "winrm": "readiness.transports.winrm:WinRMTransport",
    "vcenter": "readiness.transports.vcenter:VCenterTransport",
}


def transport_for(target: Target, settings: ScanSettings) -> Transport:
    """Build (not open) the transport for a target."""
    module_name, _, class_name = REGISTRY[target.scheme].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            raise TargetError(f"the {target.scheme}:// transport is not available in this version") from None
        raise TargetError(f"the {target.scheme}:// transport needs {exc.name!r}, which is not installed") from None
    cls: type[Transport] = getattr(module, class_name)
    return cls(target, settings)
