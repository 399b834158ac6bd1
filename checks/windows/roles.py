"""Which roles a Windows machine is judged in when the user names none.

Why these defaults:
- a machine that runs the Hyper-V role is a Hyper-V host, and one with a VMM
  server installed is a VMM server: nothing else would give it those roles, and
  their rules only fire on them;
- a machine with a configuration server installed is the management server, over WinRM too
  (its services and registration are what reprotect needs);
- the seeds' first user runs `readiness scan` on the future management server,
  before ASR unified setup: so a *local* scan of Windows Server that is neither a
  Hyper-V host nor a VMM server is judged as the management server (a domain
  controller too: MS-DC-001 then tells them it cannot be one);
- everything else (a remote Windows machine over WinRM, a client OS) is a
  machine to protect.
`--role` always wins; these are only the defaults.
"""

from __future__ import annotations

from typing import Any


def windows_roles(facts: dict[str, Any], local: bool) -> list[str]:
    """Default roles from the collected (or provisional) facts."""
    roles = []
    if (facts.get("hyperv") or {}).get("role_installed"):
        roles.append("hyperv-host")
    if (facts.get("vmm") or {}).get("server"):
        roles.append("vmm-server")
    if roles:
        return roles
    if ((facts.get("windows") or {}).get("config_server") or {}).get("installed"):
        return ["management-server"]
    product = (facts.get("windows") or {}).get("product_type")
    if local and product in (None, "server", "domain-controller"):
        return ["management-server"]
    return ["protected-windows"]
