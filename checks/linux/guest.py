"""Guest facts ASR changes or reuses at failover: NIC bonds and an installed Mobility service.

The Mobility service (the InMage "Vx" unified agent) records where it is installed in /usr/local/.vx_version
(`INSTALLATION_DIR=`, `VERSION=`), and its registration in `<INSTALLATION_DIR>/etc/drscout.conf`, an INI file:
`[vxagent]` holds `Role` (Agent or MasterTarget) and `Version`/`PROD_VERSION`; `[vxagent.transport]` holds
`Hostname` (the configuration server it is registered to), `Port` and `Https`. Read from the agent's own
code: UnifiedAgentConfigurator.sh finds the install directory with `grep ^INSTALLATION_DIR /usr/local/.vx_version`
and reads `$INSTALLATION_DIR/etc/drscout.conf`; fileconfigurator.cpp names the keys (SECTION_VXTRANSPORT
"vxagent.transport", KEY_HTTP_IPADDRESS "Hostname", KEY_HTTP_PORT "Port", KEY_HTTPS "Https"); the setup's
UpdateDrScoutConfig writes vxagent.Role (Agent / MasterTarget) and vxagent.Version.
The probe sends only those keys, never the passphrase files next to them.
"""

from __future__ import annotations

import re
from typing import Any

from readiness.checks.linux.sections import ProbeOutput
from readiness.checks.linux.text import lines as _lines

AGENT_DIRS = ("/usr/local/ASR", "/usr/local/InMage")


def parse_bonds(out: ProbeOutput) -> list[dict[str, Any]]:
    """Linux bonding (NIC teaming) from /proc/net/bonding/* and /sys/class/net/*/bonding."""
    bonds: dict[str, dict[str, Any]] = {}
    for path, section in out.files.items():
        if not path.startswith("/proc/net/bonding/"):
            continue
        name = path.rsplit("/", 1)[-1]
        mode = re.search(r"^Bonding Mode:\s*(.+)$", section.text, re.M)
        bonds[name] = {"name": name, "mode": mode.group(1).strip() if mode else None,
                       "members": re.findall(r"^Slave Interface:\s*(\S+)", section.text, re.M)}
    for line in _lines(out.cmd("bonds_sysfs")):
        name, mode, slaves = [*line.split("\t"), "", ""][:3]
        bond = bonds.setdefault(name, {"name": name, "mode": None, "members": []})
        bond["mode"] = bond["mode"] or (mode.split()[0] if mode.strip() else None)
        bond["members"] = bond["members"] or slaves.split()
    return sorted(bonds.values(), key=lambda b: b["name"])


def _ini(text: str) -> dict[str, dict[str, str]]:
    sections: dict[str, dict[str, str]] = {}
    current = sections.setdefault("", {})
    for line in _lines(text):
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            current = sections.setdefault(stripped[1:-1].strip().lower(), {})
        elif "=" in stripped:
            key, _, value = stripped.partition("=")
            current[key.strip().lower()] = value.strip().strip('"')
    return sections


def parse_mobility_service(out: ProbeOutput, paths: set[str]) -> tuple[dict[str, Any], str | None]:
    """The installed agent's version, role and registration; the reason when the registration is unreadable."""
    version_file = out.file("/usr/local/.vx_version")
    conf = out.cmd("mobility_conf") or ""
    installed = version_file is not None or bool(paths & set(AGENT_DIRS)) or bool(conf.strip())
    facts: dict[str, Any] = {"installed": installed, "version": None, "install_dir": None, "role": None,
                             "cs_address": None, "cs_port": None, "https": None, "config_file": None}
    if not installed:
        return facts, None
    vx = _ini(version_file or "").get("", {})
    facts["version"] = vx.get("version") or vx.get("prod_version")
    facts["install_dir"] = vx.get("installation_dir")
    first = _lines(conf)[0] if _lines(conf) else ""
    if not first.startswith("file="):
        return facts, "the agent's drscout.conf was not readable (it is root's only)"
    facts["config_file"] = first[len("file="):]
    ini = _ini("\n".join(_lines(conf)[1:]))
    agent, transport = ini.get("vxagent", {}), ini.get("vxagent.transport", {})
    port = transport.get("port", "")
    facts.update(role=agent.get("role"), version=facts["version"] or agent.get("prod_version") or agent.get("version"),
                 cs_address=transport.get("hostname") or None, cs_port=int(port) if port.isdigit() else None,
                 https=transport["https"] in ("1", "yes", "true") if "https" in transport else None)
    return facts, None
