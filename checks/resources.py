"""CPU, memory, free space and listeners of the machine we run on, via psutil.

Only for the local transport: psutil reads this machine, not a remote one.
"""

from __future__ import annotations

from typing import Any, ClassVar

import psutil

from readiness.checks.base import CollectContext, Collector


class ResourcesCollector(Collector):
    """Sizes (MS-SIZE-001, MS-CACHE-*) and listening sockets with their processes."""

    name = "resources"
    namespaces: ClassVar[tuple[str, ...]] = ("resources",)
    platforms = frozenset({"posix", "windows"})
    local_only = True

    def collect(self, ctx: CollectContext) -> dict[str, Any]:
        disks = []
        for part in psutil.disk_partitions(all=False):
            try:
                usage = psutil.disk_usage(part.mountpoint)
            except OSError:
                continue
            disks.append({"mountpoint": part.mountpoint, "fstype": part.fstype,
                          "total_bytes": usage.total, "free_bytes": usage.free})
        listeners = []
        try:
            for conn in psutil.net_connections(kind="tcp"):
                if conn.status != psutil.CONN_LISTEN or not conn.laddr:
                    continue
                process = None
                if conn.pid:
                    try:
                        process = psutil.Process(conn.pid).name()
                    except (psutil.Error, OSError):
                        process = None
                listeners.append({"address": conn.laddr.ip, "port": conn.laddr.port, "process": process})
        except (psutil.AccessDenied, OSError) as exc:
            ctx.gaps["resources.listeners"] = f"listening sockets not readable: {exc}"
        return {"resources": {
            "cpu_count": psutil.cpu_count(logical=True),
            "memory_bytes": psutil.virtual_memory().total,
            "disks": disks,
            "listeners": sorted(listeners, key=lambda x: (x["port"], x["address"])),
        }}
