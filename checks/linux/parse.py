"""Turn the Linux probe's sections into namespaced facts.

Each function reads one kind of section and returns plain JSON values; none of
them judges.  Where the target did not let us see something (not root, tool
missing), the fact is None and a gap records why, so a rule that needs it
reports `error` with that reason instead of guessing.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
from typing import Any

from checks.linux.sections import ProbeOutput, split_sections

PSEUDO_DEVICES = ("/dev/loop", "/dev/sr", "/dev/fd", "/dev/ram", "/dev/zram")
VIRTUAL_BLOCK = ("loop", "ram", "dm-", "sr", "fd", "zram", "md", "nbd")


class Gaps(dict):
    """Fact path -> why it could not be collected."""

    def note(self, path: str, reason: str) -> None:
        self.setdefault(path, reason)


def _lines(text: str | None) -> list[str]:
    return [line for line in (text or "").splitlines() if line.strip()]


def parse_os_release(text: str) -> dict[str, str]:
    """KEY=value lines with shell quoting, as os-release(5) defines them."""
    values: dict[str, str] = {}
    for line in _lines(text):
        if line.lstrip().startswith("#") or "=" not in line:
            continue
        key, _, raw = line.partition("=")
        try:
            parts = shlex.split(raw)
        except ValueError:
            parts = [raw.strip("\"'")]
        values[key.strip()] = parts[0] if parts else ""
    return values


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


def parse_interfaces(out: ProbeOutput) -> list[dict[str, Any]]:
    """Adapters and their addresses from `ip -o addr show` (or old ifconfig output)."""
    interfaces: dict[str, list[dict[str, Any]]] = {}
    for line in _lines(out.cmd("ip_addr")):
        fields = line.replace("\\", " ").split()
        if len(fields) < 4 or fields[2] not in ("inet", "inet6"):
            continue
        name = fields[1].rstrip(":").split("@")[0]
        address, _, prefix = fields[3].partition("/")
        scope = fields[fields.index("scope") + 1] if "scope" in fields else ""
        interfaces.setdefault(name, []).append(
            {"address": address, "family": "ipv4" if fields[2] == "inet" else "ipv6",
             "prefix": int(prefix) if prefix.isdigit() else None, "scope": scope})
    current = None
    for line in (out.cmd("ifconfig") or "").splitlines():
        if line and not line[0].isspace():
            current = line.split()[0].rstrip(":")
            interfaces.setdefault(current, [])
            continue
        match = re.search(r"inet (?:addr:)?(\d+\.\d+\.\d+\.\d+)", line)
        if current and match:
            interfaces[current].append({"address": match.group(1), "family": "ipv4", "prefix": None,
                                        "scope": "host" if match.group(1).startswith("127.") else "global"})
    return [{"name": name, "addresses": addrs} for name, addrs in interfaces.items()]


def parse_hosts(text: str | None) -> list[dict[str, Any]]:
    """/etc/hosts entries: address and names, comments dropped."""
    entries = []
    for line in _lines(text):
        fields = line.split("#", 1)[0].split()
        if len(fields) >= 2:
            entries.append({"address": fields[0], "names": fields[1:]})
    return entries


def parse_network(out: ProbeOutput, hostname: str | None) -> dict[str, Any]:
    """Adapters, /etc/hosts, the addresses the host name maps to, listeners and DHCP use."""
    interfaces = parse_interfaces(out)
    hosts_text = out.file("/etc/hosts")
    hosts = parse_hosts(hosts_text)
    ipv4 = sorted({a["address"] for i in interfaces if i["name"] != "lo" for a in i["addresses"]
                   if a["family"] == "ipv4" and not a["address"].startswith("127.")})
    names = {hostname.lower(), hostname.split(".")[0].lower()} if hostname else set()
    mapped = sorted({e["address"] for e in hosts if names & {n.lower() for n in e["names"]}})
    ifcfg = []
    for line in _lines(out.cmd("ifcfg")):
        path, _, assignments = line.partition("\t")
        values = parse_os_release(assignments.replace(" ", "\n"))
        ifcfg.append({"file": path, "device": values.get("DEVICE") or path.rsplit("ifcfg-", 1)[-1],
                      "bootproto": (values.get("BOOTPROTO") or "").lower() or None,
                      "onboot": (values.get("ONBOOT") or "").lower() or None})
    for match in re.finditer(r"^\s*iface\s+(\S+)\s+inet6?\s+(\S+)", out.file("/etc/network/interfaces") or "", re.M):
        ifcfg.append({"file": "/etc/network/interfaces", "device": match.group(1), "bootproto": match.group(2),
                      "onboot": None})
    return {
        "interfaces": interfaces,
        "ipv4_addresses": ipv4,
        "hosts_file": hosts if hosts_text is not None else None,
        "hostname_addresses": mapped,
        "ifcfg": ifcfg,
        "dhcp_interfaces": sorted({c["device"] for c in ifcfg if c["bootproto"] == "dhcp"
                                   and c["device"] != "lo"}),
        "listening_tcp": parse_proc_net_tcp(out),
    }


def parse_proc_net_tcp(out: ProbeOutput) -> list[dict[str, Any]]:
    """Listening TCP sockets (state 0A) from /proc/net/tcp and tcp6."""
    listeners = []
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in _lines(out.file(path))[1:]:
            fields = line.split()
            if len(fields) < 4 or fields[3] != "0A" or ":" not in fields[1]:
                continue
            addr_hex, port_hex = fields[1].split(":")
            if len(addr_hex) == 8:
                address = ".".join(str(int(addr_hex[i:i + 2], 16)) for i in (6, 4, 2, 0))
            else:
                address = "::" if set(addr_hex) == {"0"} else addr_hex.lower()
            listeners.append({"address": address, "port": int(port_hex, 16)})
    return sorted({(x["address"], x["port"]): x for x in listeners}.values(), key=lambda x: (x["port"], x["address"]))


def _controller(name: str) -> str:
    for prefix, kind in (("cciss", "cciss"), ("nvme", "nvme"), ("xvd", "xen"), ("vd", "virtio"),
                         ("sd", "scsi"), ("hd", "ide"), ("mmcblk", "mmc")):
        if name.startswith(prefix):
            return kind
    return "other"


def parse_storage(out: ProbeOutput, gaps: Gaps) -> dict[str, Any]:
    """Disks, mounts, swap, LVM, multipath and any other volume manager."""
    unique_ids: dict[str, list[str]] = {}
    for line in _lines(out.cmd("disk_ids")):
        link, _, device = line.partition("\t")
        if link.startswith(("scsi-", "wwn-")) and "-part" not in link:
            unique_ids.setdefault(device.rsplit("/", 1)[-1], []).append(link)
    disks = []
    for line in _lines(out.cmd("block_devices")):
        name, size, path, vendor, model = (line.split("\t") + [""] * 5)[:5]
        if name.startswith(VIRTUAL_BLOCK) or "/devices/virtual/" in path:
            continue
        size_bytes = int(size) * 512 if size.strip().isdigit() else None
        disks.append({"name": name.replace("!", "/"), "size_bytes": size_bytes,
                      "size_gb": round(size_bytes / 1024**3, 1) if size_bytes is not None else None,
                      "controller": _controller(name), "vendor": vendor.strip(), "model": model.strip(),
                      "unique_ids": sorted(unique_ids.get(name, []))})
    mounts = []
    for line in _lines(out.file("/proc/mounts")):
        fields = line.split()
        if len(fields) >= 3:
            decode = lambda s: re.sub(r"\\(\d{3})", lambda m: chr(int(m.group(1), 8)), s)  # noqa: E731
            mounts.append({"device": decode(fields[0]), "mountpoint": decode(fields[1]), "fstype": fields[2],
                           "options": fields[3].split(",") if len(fields) > 3 else []})
    if out.file("/proc/mounts") is None:
        gaps.note("storage.mounts", "/proc/mounts was not readable")
    block_mounts = [m for m in mounts if m["device"].startswith("/dev/") and not m["device"].startswith(PSEUDO_DEVICES)]
    swaps = []
    for line in _lines(out.file("/proc/swaps"))[1:]:
        fields = line.split()
        if len(fields) >= 3:
            swaps.append({"device": fields[0], "type": fields[1],
                          "size_kb": int(fields[2]) if fields[2].isdigit() else None})
    dm_targets = sorted({line.split()[3] for line in _lines(out.cmd("dmsetup")) if len(line.split()) > 3})
    lvs_section = out.commands.get("lvs")
    volumes = [line.strip().split("|")[:2] for line in _lines(out.cmd("lvs"))]
    lvm_present: bool | None
    if lvs_section is not None and lvs_section.rc == 0:
        lvm_present = bool(volumes)
    elif any(m["device"].startswith("/dev/mapper/") for m in block_mounts) or "linear" in dm_targets:
        lvm_present = True
    else:
        lvm_present = False if "lvs" in out.missing else None
        if lvm_present is None:
            gaps.note("storage.lvm.present", "lvs could not run (it needs root)")
    modules = {line.split()[0] for line in _lines(out.cmd("modules"))}
    vm_paths = set(_lines(out.cmd("volume_managers")))
    multipath_maps = [line for line in _lines(out.cmd("multipath")) if re.match(r"^\S+ \(", line)]
    others = []
    for line in _lines(out.file("/proc/mdstat")):
        if re.match(r"^md\d+\s*:\s*active", line):
            others.append("md-raid " + line.split()[0])
    if vm_paths & {"/dev/vx", "/etc/vx"} or modules & {"vxdmp", "vxio"}:
        others.append("veritas-vxvm")
    if vm_paths & {"/etc/powermt.custom", "/sbin/powermt", "/dev/emcpowera"} or "emcp" in modules:
        others.append("emc-powerpath")
    if "zfs" in modules:
        others.append("zfs")
    cciss_entries = _lines(out.cmd("cciss"))
    return {
        "disks": disks,
        "disk_count": len(disks),
        "largest_disk_gb": max((d["size_gb"] or 0 for d in disks), default=0),
        "cciss": bool(cciss_entries) or any(d["controller"] == "cciss" for d in disks),
        "mounts": mounts,
        "block_mounts": block_mounts,
        "filesystems": sorted({m["fstype"] for m in block_mounts}),
        "swaps": swaps,
        "lvm": {"present": lvm_present, "volumes": [v for v in volumes if len(v) == 2]},
        "multipath": {"present": bool(multipath_maps) or "multipath" in dm_targets or "dm_multipath" in modules,
                      "maps": len(multipath_maps), "config": "/etc/multipath.conf" in vm_paths},
        "dm_targets": dm_targets,
        "other_volume_managers": others,
        "free": parse_df(out.cmd("df")),
    }


def parse_df(text: str | None) -> list[dict[str, Any]]:
    """`df -P -k`: POSIX output, one line per file system."""
    rows = []
    for line in _lines(text)[1:]:
        fields = line.split(None, 5)
        if len(fields) == 6 and fields[1].isdigit():
            rows.append({"device": fields[0], "mountpoint": fields[5], "size_kb": int(fields[1]),
                         "available_kb": int(fields[3]) if fields[3].isdigit() else None})
    return rows


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

    config = SSHConfig.from_text("\n".join(lines))
    return {k: (" ".join(v) if isinstance(v, list) else str(v)) for k, v in config.lookup("*").items()
            if k != "hostname"}


def parse_sshd(out: ProbeOutput, packages: dict[str, Any], processes: list[str], gaps: Gaps) -> dict[str, Any]:
    """sshd: running, enabled at boot, ports and the effective push-relevant settings."""
    effective = out.commands.get("sshd_effective")
    source = None
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
        values = sshd_config_values(expand_includes(out.file("/etc/ssh/sshd_config") or "", out))
    else:
        gaps.note("sshd.password_authentication", "neither sshd -T nor /etc/ssh/sshd_config was readable")
        gaps.note("sshd.sftp_subsystem", "neither sshd -T nor /etc/ssh/sshd_config was readable")
    installed = packages.get("installed") or {}
    openssh = installed.get("openssh-server") or installed.get("openssh")
    old_openssh = bool(openssh) and _first_version(openssh) < (7, 0)
    sftp = None
    for entry in (values.get("subsystem") or "").splitlines():
        name, *command = entry.split(None, 1)
        if name.lower() == "sftp":
            sftp = command[0].strip() if command else None
    ports = [int(p) for p in (values.get("port") or "22").split() if p.isdigit()] if source else []
    boot, boot_evidence = sshd_boot(out)
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


def parse_firewall(out: ProbeOutput, ssh_ports: list[int], gaps: Gaps) -> dict[str, Any]:
    """Whether inbound SSH is allowed: iptables rules, firewalld, SuSEfirewall2 or ufw."""
    ports = {str(p) for p in (ssh_ports or [22])} | {"ssh"}
    rules = out.commands.get("iptables")
    if rules is not None and rules.rc == 0 and "*filter" in rules.text:
        lines = _lines(rules.text)
        blocking = [line for line in lines if re.match(r"^-A \S+ .*-j (DROP|REJECT)", line)
                    or re.match(r"^:INPUT (DROP|REJECT)", line)]
        accepting = [line for line in lines if line.startswith("-A ") and "-j ACCEPT" in line
                     and re.search(r"--dports? (\S+)", line)
                     and ports & set(re.search(r"--dports? (\S+)", line).group(1).split(","))]  # type: ignore[union-attr]
        allows = not blocking or bool(accepting)
        evidence = accepting[0] if accepting else (blocking[0] if blocking else "no blocking iptables rule")
        return {"tool": "iptables", "active": bool(blocking), "allows_ssh": allows, "evidence": evidence}
    services = out.cmd("firewalld")
    if services is not None and out.commands["firewalld"].rc == 0:
        allowed = "ssh" in services.split()
        return {"tool": "firewalld", "active": True, "allows_ssh": allowed,
                "evidence": f"firewall-cmd --list-services: {services.strip()}"}
    suse = out.cmd("suse_firewall")
    if suse:
        allowed = bool(re.search(r"\b(22|ssh|sshd)\b", suse))
        return {"tool": "SuSEfirewall2", "active": None, "allows_ssh": allowed, "evidence": " ".join(suse.split())}
    ufw = out.cmd("ufw")
    if ufw and "Status:" in ufw:
        inactive = "Status: inactive" in ufw
        allowed = inactive or bool(re.search(r"^(22|OpenSSH|22/tcp)\s.*ALLOW", ufw, re.M))
        return {"tool": "ufw", "active": not inactive, "allows_ssh": allowed, "evidence": _lines(ufw)[0]}
    if rules is not None and rules.rc == 0 and not rules.text.strip():
        return {"tool": "iptables", "active": False, "allows_ssh": True, "evidence": "iptables has no rules loaded"}
    reason = ("iptables-save needs root" if rules is not None else "no firewall tool found (iptables, "
              "firewalld, SuSEfirewall2, ufw)")
    if rules is None and "iptables" in out.missing and out.cmd("firewalld") is None:
        return {"tool": None, "active": False, "allows_ssh": True, "evidence": reason}
    gaps.note("firewall.allows_ssh", reason)
    return {"tool": None, "active": None, "allows_ssh": None, "evidence": reason}


def parse_software(out: ProbeOutput, packages: dict[str, Any], processes: list[str]) -> dict[str, Any]:
    """VMware Tools / open-vm-tools, WALinuxAgent and NetworkManager."""
    installed = packages.get("installed") or {}
    paths = set(_lines(out.cmd("agent_paths")))
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


def parse_probe(raw: str) -> tuple[dict[str, Any], dict[str, str]]:
    """Raw probe output -> (facts by namespace, gaps). Raises ValueError on garbage."""
    out = split_sections(raw)
    gaps = Gaps()
    meta = parse_os_release(out.cmd("probe") or "")
    hostname = (out.cmd("hostname") or out.file("/proc/sys/kernel/hostname") or "").strip() or None
    if hostname is None:
        gaps.note("host.hostname", "neither hostname nor /proc/sys/kernel/hostname answered")
    processes = [line.strip().split("/")[-1] for line in _lines(out.cmd("processes"))]
    if not processes:
        gaps.note("sshd.running", "the process list could not be read")
    packages = parse_packages(out, gaps)
    sshd = parse_sshd(out, packages, processes, gaps)
    if sshd["enabled_at_boot"] is None:
        gaps.note("sshd.enabled_at_boot", sshd["boot_evidence"])
    facts: dict[str, Any] = {
        "probe": {"version": int(meta.get("version", "0") or 0), "user": meta.get("user") or None,
                  "uid": int(meta["uid"]) if meta.get("uid", "").isdigit() else None,
                  "epoch": int(meta["epoch"]) if meta.get("epoch", "").isdigit() else None,
                  "missing_tools": sorted(out.missing)},
        "os": parse_os(out, gaps),
        "root_account": parse_root_account(out),
        "host": {"hostname": hostname, "short_name": hostname.split(".")[0] if hostname else None,
                 "locale": parse_locale(out)},
        "network": parse_network(out, hostname),
        "boot": {"firmware": (out.cmd("firmware") or "").strip() or None},
        "storage": parse_storage(out, gaps),
        "sshd": sshd,
        "firewall": parse_firewall(out, sshd["ports"], gaps),
        "packages": packages,
        "software": parse_software(out, packages, processes),
    }
    if facts["network"]["hosts_file"] is None:
        gaps.note("network.hosts_file", "/etc/hosts was not readable")
        gaps.note("network.hostname_addresses", "/etc/hosts was not readable")
    return facts, dict(gaps)
