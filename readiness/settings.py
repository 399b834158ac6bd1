"""Scan settings: everything a run needs besides the targets, in one value.

Collected once from the command line (and later an inventory) and handed to
transports and collectors, so no module reads argv or the environment behind
the caller's back.  Nothing secret is kept here: transports read passwords
from their environment variables or a prompt at connect time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


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
    proxy: str | None = None  # explicit proxy URL; None: the machine's own (environment)
    dns_servers: list[str] = field(default_factory=list)  # "ip" or "ip:port"; empty: the system resolver
    ca_bundle: str | None = None
    timeout_s: float = 5.0


@dataclass
class ScanSettings:
    """Options shared by every target of one run."""

    roles: list[str] = field(default_factory=list)  # explicit roles; empty: detect
    scenarios: list[str] = field(default_factory=list)  # empty: all
    network: NetworkSettings = field(default_factory=NetworkSettings)
    connect_timeout_s: float = 10.0
    command_timeout_s: float = 120.0
    max_output_bytes: int = 16 * 1024 * 1024
    ca_bundle: Path | None = None
    insecure: bool = False
    management_server: str | None = None
    notes: list[str] = field(default_factory=list)  # what the report must record (e.g. --insecure)
