"""Turn the Linux probe's sections into namespaced facts.

Each function reads one kind of section and returns plain JSON values; none of
them judges.  Where the target did not let us see something (not root, tool
missing), the fact is None and a gap records why, so a rule that needs it
reports `error` with that reason instead of guessing.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from typing import Any

from readiness.checks.linux.firewall import parse_firewall
from readiness.checks.linux.guest import parse_mobility_service
from readiness.checks.linux.identity import parse_product_uuid
from readiness.checks.linux.network import parse_network
from readiness.checks.linux.sections import ProbeOutput, split_sections
from readiness.checks.linux.storage import parse_storage
from readiness.checks.linux.text import lines as _lines
from readiness.checks.linux.text import parse_os_release


class Gaps(dict):
    """Fact path -> why it could not be collected."""

    def note(self, path: str, reason: str) -> None:
        self.setdefault(path, reason)


_EL_FILES = (
    ("/etc/oracle-release", "oracle"),
    ("/etc/enterprise-release", "oracle"),
    ("/etc/centos-release", "centos"),
    ("/etc/redhat-release", None),
)
_OS_RELEASE_IDS = {"rhel": "rhel", "centos": "centos", "ol": "oracle", "sles": "sles", "sled": "sles",
                   "ubuntu": "ubuntu", "debian": "debian", "opensuse": "opensuse", "opensuse-leap": "opensuse"}


def kernel_flavor(kernel: str, distribution: str) -> str:
    """Tell the Red Hat compatible kernel from Oracle's UEK releases by the kernel string."""
    if "uek" in kernel:
        base = kernel.split("-")[0]
        if base.startswith("3.8."):
            return "uek3"
        if base.startswith("2.6.39"):
            return "uek2"
        if base.startswith("2.6.32"):
            return "uek1"
        if base.startswith("4.1."):
            return "uek4"
        return "uek"
    if re.search(r"\.el\d", kernel) and distribution in ("rhel", "centos", "oracle"):
        return "rhck"
    return "default"


def parse_os(out: ProbeOutput, gaps: Gaps) -> dict[str, Any]:
    """Distribution and version from the release files, kernel flavour and architecture."""
    kernel = (out.cmd("kernel") or "").strip()
    arch = (out.cmd("machine") or "").strip()
    facts: dict[str, Any] = {
        "family": "linux", "distribution": None, "version": None, "major": None, "minor": None,
        "name": None, "release_file": None, "kernel": kernel or None, "kernel_flavor": None,
        "arch": arch or None, "bits": 64 if arch in ("x86_64", "aarch64", "ppc64le", "s390x") else (
            32 if arch else None),
    }
    os_release = parse_os_release(out.file("/etc/os-release") or "")
    suse = out.file("/etc/SuSE-release")
    for path, dist in _EL_FILES:
        text = out.file(path)
        if not text:
            continue
        first = _lines(text)[0].strip()
        match = re.search(r"release\s+(\d+)(?:\.(\d+))?", first)
        if dist is None:
            dist = "rhel" if first.startswith("Red Hat") else ("centos" if "CentOS" in first else "other")
        facts.update(distribution=dist, name=first, release_file=path)
        if match:
            facts.update(major=int(match.group(1)), minor=int(match.group(2) or 0))
        break
    else:
        if suse:
            version = re.search(r"^VERSION\s*=\s*(\d+)", suse, re.M)
            patch = re.search(r"^PATCHLEVEL\s*=\s*(\d+)", suse, re.M)
            first = _lines(suse)[0].strip()
            dist = "sles" if "Enterprise Server" in first else ("opensuse" if "openSUSE" in first else "suse")
            facts.update(distribution=dist, name=first, release_file="/etc/SuSE-release",
                         major=int(version.group(1)) if version else None,
                         minor=int(patch.group(1)) if patch else 0)
        elif os_release:
            dist = _OS_RELEASE_IDS.get(os_release.get("ID", "").lower(), os_release.get("ID", "other"))
            nums = re.findall(r"\d+", os_release.get("VERSION_ID", ""))
            facts.update(distribution=dist, name=os_release.get("PRETTY_NAME") or os_release.get("NAME"),
                         release_file="/etc/os-release",
                         major=int(nums[0]) if nums else None, minor=int(nums[1]) if len(nums) > 1 else 0)
        elif out.file("/etc/debian_version"):
            nums = re.findall(r"\d+", out.file("/etc/debian_version") or "")
            facts.update(distribution="debian", name=f"Debian {(out.file('/etc/debian_version') or '').strip()}",
                         release_file="/etc/debian_version",
                         major=int(nums[0]) if nums else None, minor=int(nums[1]) if len(nums) > 1 else 0)
        else:
            gaps.note("os.distribution", "no release file (/etc/os-release, /etc/*-release) was readable")
    if facts["release_file"] == "/etc/os-release" and os_release.get("VERSION_ID"):
        facts["version"] = os_release["VERSION_ID"]  # as the vendor writes it: "14.04", "12.3"
        if facts["distribution"] == "debian" and out.file("/etc/debian_version"):
            point = (out.file("/etc/debian_version") or "").strip()
            facts["version"] = point if re.fullmatch(r"\d+(\.\d+)*", point) else facts["version"]
            nums = re.findall(r"\d+", facts["version"])
            facts["minor"] = int(nums[1]) if len(nums) > 1 else 0
    elif facts["major"] is not None:
        facts["version"] = f"{facts['major']}.{facts['minor'] or 0}"
    if kernel:
        facts["kernel_flavor"] = kernel_flavor(kernel, facts["distribution"] or "")
    else:
        gaps.note("os.kernel", "uname -r gave nothing")
    return facts


def parse_packages(out: ProbeOutput, gaps: Gaps) -> dict[str, Any]:
    """Installed packages (rpm or dpkg), name -> version."""
    installed: dict[str, str] = {}
    manager = None
    if out.cmd("rpm") is not None:
        manager = "rpm"
        for line in _lines(out.cmd("rpm")):
            fields = line.split("\t")
            if len(fields) >= 2:
                installed[fields[0]] = fields[1]
    elif out.cmd("dpkg") is not None:
        manager = "dpkg"
        for line in _lines(out.cmd("dpkg")):
            fields = line.split("\t")
            if len(fields) >= 4 and fields[3].endswith(" installed"):
                installed[fields[0].split(":")[0]] = fields[1]
    else:
        gaps.note("packages.installed", "neither rpm nor dpkg-query is on the target")
    return {"manager": manager, "installed": installed if manager else None, "count": len(installed)}


def _first_version(text: str) -> tuple[int, ...]:
    match = re.search(r"(\d+)\.(\d+)", text or "")
    return (int(match.group(1)), int(match.group(2))) if match else ()


def expand_includes(text: str, out: ProbeOutput) -> str:
    """Splice `Include` files (sshd_config.d/*.conf) in where sshd would read them."""
    lines = []
    for line in text.splitlines():
        match = re.match(r"^\s*include\s+(.+)$", line, re.I)
        if not match:
            lines.append(line)
            continue
        for pattern in match.group(1).split():
            pattern = pattern if pattern.startswith("/") else f"/etc/ssh/{pattern}"
            for path in sorted(p for p in out.files if fnmatch.fnmatchcase(p, pattern)):
                lines.append(out.file(path) or "")
    return "\n".join(lines)


def sshd_config_values(text: str) -> dict[str, str]:
    """Global settings of an sshd_config: first value wins, Match blocks ignored.

    sshd_config shares ssh_config's lexical rules, so paramiko's parser reads it;
    only the part before the first Match block is global.
    """
    lines = []
    for line in text.splitlines():
        if re.match(r"^\s*match\s", line, re.I):
            break
        lines.append(line)
    from paramiko.config import SSHConfig  # lazy: paramiko costs ~130 ms to import, needed only here
    from paramiko.ssh_exception import ConfigParseError

    try:
        config = SSHConfig.from_text("\n".join(lines))
    except ConfigParseError as exc:
        raise ValueError(str(exc)) from None
    return {k: (" ".join(v) if isinstance(v, list) else str(v)) for k, v in config.lookup("*").items()
            if k != "hostname"}


def parse_sshd(out: ProbeOutput, packages: dict[str, Any], processes: list[str], gaps: Gaps) -> dict[str, Any]:
    """sshd: running, enabled at boot, ports and the effective push-relevant settings."""
    effective = out.commands.get("sshd_effective")
    source = None
    unreadable = False
    values: dict[str, str] = {}
    if effective is not None and effective.rc == 0 and effective.text.strip():
        source = "sshd -T"
        for line in _lines(effective.text):
            key, _, value = line.partition(" ")
            key = key.lower()
            if key == "port" and "port" in values:
                values["port"] += " " + value
            elif key == "subsystem" and "subsystem" in values:
                values["subsystem"] += "\n" + value
            else:
                values.setdefault(key, value.strip())
    elif out.file("/etc/ssh/sshd_config") is not None:
        source = "/etc/ssh/sshd_config"
        try:
            values = sshd_config_values(expand_includes(out.file("/etc/ssh/sshd_config") or "", out))
        except ValueError as exc:
            for key in ("ports", "password_authentication", "permit_root_login", "sftp_subsystem"):
                gaps.note(f"sshd.{key}", f"/etc/ssh/sshd_config could not be read: {exc}")
            unreadable = True
    else:
        gaps.note("sshd.password_authentication", "neither sshd -T nor /etc/ssh/sshd_config was readable")
        gaps.note("sshd.sftp_subsystem", "neither sshd -T nor /etc/ssh/sshd_config was readable")
    installed = packages.get("installed") or {}
    openssh = installed.get("openssh-server") or installed.get("openssh")
    old_openssh = bool(openssh) and _first_version(openssh) < (7, 0)
    sftp = None
    for entry in (values.get("subsystem") or "").splitlines():
        name, *command = entry.split(None, 1) or [""]
        if name.lower() == "sftp":
            sftp = command[0].strip() if command else None
    ports = [int(p) for p in (values.get("port") or "22").split() if p.isdigit()] if source else []
    boot, boot_evidence = sshd_boot(out)
    if unreadable:
        return {"installed": bool(openssh) or bool(source), "running": "sshd" in processes if processes else None,
                "enabled_at_boot": boot, "boot_evidence": boot_evidence, "config_source": source, "ports": None,
                "password_authentication": None, "permit_root_login": None, "sftp_subsystem": None}
    return {
        "installed": bool(openssh) or bool(source),
        "running": "sshd" in processes if processes else None,
        "enabled_at_boot": boot,
        "boot_evidence": boot_evidence,
        "config_source": source,
        "ports": ports,
        "password_authentication": (values.get("passwordauthentication") or ("yes" if source else None)),
        "permit_root_login": values.get("permitrootlogin") or (
            ("yes" if old_openssh or not openssh else "prohibit-password") if source else None),
        "sftp_subsystem": sftp,
    }


def sshd_boot(out: ProbeOutput) -> tuple[bool | None, str]:
    """Whether sshd starts at boot: systemd, then SysV chkconfig, rc links, then Upstart."""
    systemctl = out.commands.get("systemctl_ssh")
    if systemctl is not None and systemctl.text.strip():
        states = _lines(systemctl.text)
        return any(s.strip() in ("enabled", "enabled-runtime", "static", "alias") for s in states), (
            "systemctl is-enabled: " + ", ".join(s.strip() for s in states))
    chk = out.cmd("chkconfig_sshd")
    if chk and chk.strip():
        match = re.search(r"^id:(\d):initdefault:", out.file("/etc/inittab") or "", re.M)
        level = match.group(1) if match else "3"
        on = re.search(rf"\b{level}:on\b", chk) is not None
        return on, f"chkconfig --list sshd (runlevel {level}): {' '.join(chk.split())}"
    links = [line for line in _lines(out.cmd("rc_links")) if re.search(r"/S\d*sshd?$", line)]
    if links:
        return True, "rc links: " + ", ".join(links)
    if out.file("/etc/init/ssh.conf") is not None:
        return True, "Upstart job /etc/init/ssh.conf"
    if out.cmd("rc_links") is not None and ("chkconfig_sshd" in out.missing or chk is not None):
        return False, "no systemd unit enabled, no chkconfig entry on, no S*sshd rc link"
    return None, "no boot system could be read"


def parse_software(out: ProbeOutput, packages: dict[str, Any], processes: list[str], gaps: Gaps) -> dict[str, Any]:
    """VMware Tools / open-vm-tools, WALinuxAgent, NetworkManager and an installed Mobility service."""
    installed = packages.get("installed") or {}
    paths = set(_lines(out.cmd("agent_paths")))
    mobility, unreadable = parse_mobility_service(out, paths)
    if unreadable:
        for key in ("cs_address", "cs_port", "https", "role"):
            gaps.note(f"software.mobility_service.{key}", unreadable)
    tools_pkgs = sorted(p for p in installed if p == "open-vm-tools" or p.startswith("vmware-tools"))
    toolbox = (out.cmd("vmware_toolbox") or "").strip()
    return {
        "vmware_tools": {
            "installed": bool(tools_pkgs) or bool(toolbox) or bool(paths & {"/usr/bin/vmware-toolbox-cmd",
                                                                            "/etc/vmware-tools"}),
            "packages": tools_pkgs,
            "version": toolbox or (installed.get(tools_pkgs[0]) if tools_pkgs else None),
            "running": "vmtoolsd" in processes if processes else None,
        },
        "waagent": {
            "installed": any(p.lower() == "walinuxagent" for p in installed) or "/usr/sbin/waagent" in paths,
            "version": installed.get("WALinuxAgent") or installed.get("walinuxagent"),
        },
        "network_manager": {
            "installed": any(p in ("NetworkManager", "network-manager") for p in installed)
            or "/usr/sbin/NetworkManager" in paths,
            "running": "NetworkManager" in processes if processes else None,
        },
        "mobility_service": mobility,
    }


def parse_root_account(out: ProbeOutput) -> dict[str, Any]:
    """root's login shell and whether its password is set, empty or locked (None: /etc/shadow unreadable)."""
    values = parse_os_release(out.cmd("root_account") or "")
    return {"shell": values.get("shell") or None, "password": values.get("password") or None}


def parse_locale(out: ProbeOutput) -> str | None:
    """The system LANG from /etc/sysconfig/i18n (EL6), /etc/locale.conf (systemd) or /etc/default/locale."""
    for path in ("/etc/locale.conf", "/etc/sysconfig/i18n", "/etc/default/locale"):
        lang = parse_os_release(out.file(path) or "").get("LANG")
        if lang:
            return lang
    return None


#: Exceptions a section parser raises on input it does not understand: the section becomes a gap.
MALFORMED = (ValueError, IndexError, KeyError, TypeError, AttributeError, ArithmeticError)


def guarded(gaps: Gaps, namespace: str, build: Callable[[], Any], fallback: Any = None) -> Any:
    """Run one namespace's parser; malformed input becomes a gap for that namespace, never a lost host."""
    try:
        return build()
    except MALFORMED as exc:
        gaps.note(namespace, f"the probe's {namespace} sections could not be parsed ({type(exc).__name__}: {exc})")
        return fallback


def parse_probe(raw: str) -> tuple[dict[str, Any], dict[str, str]]:
    """Raw probe output -> (facts by namespace, gaps).

    Raises ValueError when the output is not probe output at all, and TargetError when it ended early
    (no trailer, a section left open): a partial judgement would call missing facts "absent".
    """
    out = split_sections(raw)
    gaps = Gaps()
    meta = parse_os_release(out.cmd("probe") or "")
    hostname = (out.cmd("hostname") or out.file("/proc/sys/kernel/hostname") or "").strip() or None
    if hostname is None:
        gaps.note("host.hostname", "neither hostname nor /proc/sys/kernel/hostname answered")
    processes = [line.strip().split("/")[-1] for line in _lines(out.cmd("processes"))]
    if not processes:
        gaps.note("sshd.running", "the process list could not be read")
    packages = guarded(gaps, "packages", lambda: parse_packages(out, gaps),
                       {"manager": None, "installed": None, "count": 0})
    sshd = guarded(gaps, "sshd", lambda: parse_sshd(out, packages, processes, gaps))
    if sshd is not None and sshd["enabled_at_boot"] is None:
        gaps.note("sshd.enabled_at_boot", sshd["boot_evidence"])
    facts: dict[str, Any] = {
        "probe": {"version": int(meta["version"]) if meta.get("version", "").isdigit() else 0,
                  "user": meta.get("user") or None,
                  "uid": int(meta["uid"]) if meta.get("uid", "").isdigit() else None,
                  "epoch": int(meta["epoch"]) if meta.get("epoch", "").isdigit() else None,
                  "missing_tools": sorted(out.missing)},
        "os": guarded(gaps, "os", lambda: parse_os(out, gaps), {"family": "linux"}),
        "root_account": guarded(gaps, "root_account", lambda: parse_root_account(out)),
        "host": {"hostname": hostname, "short_name": hostname.split(".")[0] if hostname else None,
                 "locale": guarded(gaps, "host.locale", lambda: parse_locale(out)),
                 "product_uuid": guarded(gaps, "host.product_uuid", lambda: parse_product_uuid(out, gaps.note))},
        "network": guarded(gaps, "network", lambda: parse_network(out, hostname)),
        "boot": {"firmware": (out.cmd("firmware") or "").strip() or None},
        "storage": guarded(gaps, "storage", lambda: parse_storage(out, processes, gaps.note)),
        "sshd": sshd,
        "firewall": guarded(gaps, "firewall", lambda: _firewall(out, sshd, gaps)),
        "packages": packages,
        "software": guarded(gaps, "software", lambda: parse_software(out, packages, processes, gaps)),
    }
    if facts["network"] is not None and facts["network"]["hosts_file"] is None:
        gaps.note("network.hosts_file", "/etc/hosts was not readable")
        gaps.note("network.hostname_addresses", "/etc/hosts was not readable")
    return facts, dict(gaps)


def _firewall(out: ProbeOutput, sshd: dict[str, Any] | None, gaps: Gaps) -> dict[str, Any]:
    """Firewall facts for 22 and sshd's ports; which sshd ports are open stays unknown when its ports are."""
    ports = (sshd or {}).get("ports")
    facts, unjudged = parse_firewall(out, ports or [])
    if unjudged:
        for key in ("inbound_tcp", "sshd_ports_open", "active"):
            gaps.note(f"firewall.{key}", unjudged)
    elif ports is None:
        facts["sshd_ports_open"] = None
        gaps.note("firewall.sshd_ports_open", "the ports sshd listens on could not be read")
    return facts
