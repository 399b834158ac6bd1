"""Scan settings: everything a run needs besides the targets, in one value.

Collected once from the command line (and later an inventory) and handed to
transports and collectors, so no module reads argv or the environment behind
the caller's back.  Nothing secret is kept here: transports read passwords
from their environment variables or a prompt at connect time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit


@dataclass
class Endpoint:
    """A URL the target must reach, judged on a concrete host name."""

    id: str
    url: str
    requirement: str
    pattern: str = ""  # the documented wildcard this host stands for


@dataclass
class NetworkSettings:
    """What the network checks probe; configurable for tests and air-gapped sites."""

    endpoints: list[Endpoint] = field(default_factory=list)
    port_check_host: str = "portquiz.net"
    outbound_ports: list[int] = field(default_factory=lambda: [443, 9443, 80])
    listener_ports: list[int] = field(default_factory=lambda: [443, 9443])
    time_url: str = ""
    proxy: str | None = None  # explicit proxy URL (a user name at most); None: the machine's own (environment)
    proxy_password: str | None = field(default=None, repr=False)  # readiness/proxy.py: never from argv
    dns_servers: list[str] = field(default_factory=list)  # "ip" or "ip:port"; empty: the system resolver
    ca_bundle: str | None = None
    timeout_s: float = 5.0

    def proxy_with_password(self) -> str | None:
        """The configured proxy URL with its password put back in, for clients in this process only."""
        if not self.proxy or self.proxy_password is None:
            return self.proxy
        parts = urlsplit(self.proxy if "://" in self.proxy else f"http://{self.proxy}")
        if parts.username is None:
            return self.proxy
        netloc = f"{quote(unquote(parts.username), safe='')}:{quote(self.proxy_password, safe='')}@{parts.hostname}"
        return urlunsplit((parts.scheme, f"{netloc}:{parts.port}" if parts.port else netloc, parts.path,
                           parts.query, parts.fragment))


@dataclass
class Plan:
    """What the user plans (machines to protect, their daily change, which volumes): judge-time inputs.

    Not facts: a facts file describes a machine, and the same facts can be judged against
    another plan with `readiness evaluate`.  Rules read them as the `plan` namespace.
    """

    planned_machines: int | None = None
    daily_change_gb: float | None = None
    cache_drive: str = "C:"
    retention_drive: str = "R:"
    keep_ip_on_failover: bool | None = None  # replicated machines keep their IP addresses on failover
    vmm_servers: int | None = None  # VMM servers in the deployment (one server needs two clouds, H:39)
    vault_key: dict[str, object] | None = None  # the vault registration key file: path, age_days (MS-KEY-001)

    def as_facts(self) -> dict[str, object]:
        return {"planned_machines": self.planned_machines, "daily_change_gb": self.daily_change_gb,
                "cache_drive": self.cache_drive.upper(), "retention_drive": self.retention_drive.upper(),
                "keep_ip_on_failover": self.keep_ip_on_failover, "vmm_servers": self.vmm_servers,
                "vault_key": self.vault_key}


@dataclass
class ScanSettings:
    """Options shared by every target of one run."""

    roles: list[str] = field(default_factory=list)  # explicit roles; empty: detect
    scenarios: list[str] = field(default_factory=list)  # empty: all
    network: NetworkSettings = field(default_factory=NetworkSettings)
    connect_timeout_s: float = 10.0
    command_timeout_s: float = 120.0
    target_deadline_s: float | None = None  # a target's whole budget; None: from the two above (Transport.deadline_s)
    max_output_bytes: int = 16 * 1024 * 1024
    ca_bundle: Path | None = None
    insecure: bool = False
    management_server: str | None = None
    vcenter: str | None = None  # --vcenter: the management server must reach it on 443 (VC-NET-001)
    notes: list[str] = field(default_factory=list)  # what the report must record (e.g. --insecure)
    plan: Plan = field(default_factory=Plan)  # planning inputs for sizing rules (the `plan` namespace)
    # vCenter targets: which VMs become targets, and the master target judged against them
    vm_patterns: list[str] = field(default_factory=list)  # glob on VM names; empty: every VM
    vm_folders: list[str] = field(default_factory=list)  # VM folder name or path glob
    vm_clusters: list[str] = field(default_factory=list)  # cluster name glob
    master_targets: list[str] = field(default_factory=list)  # failback master target VM names or globs
    perf_window_days: float | None = 7.0  # vCenter statistics window for capacity facts; None: --no-perf
    collect_all: bool = False  # `readiness facts`: run every collector, not only those a rule needs
    raw_output: Path | None = None  # `readiness facts --raw`: write the Windows probe's raw output (file or dir)
    raw_mask: bool = False  # `--mask`: replace host-identifying values in that capture (secrets always go)
    # SSH (readiness/transports/ssh.py)
    ssh_config: Path | None = None  # ssh_config file; None: ~/.ssh/config
    accept_new_host_keys: bool = False  # like StrictHostKeyChecking=accept-new; recorded in notes
    become: bool = False  # run the probe through `sudo -n`
