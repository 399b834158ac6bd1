"""Build RVTools exports for tests: the real column headers of RVTools 4.x, rows given by header name.

The headers are those of an RVTools 4.x export, sheet by sheet and in order; a test names only the cells it
cares about and the others stay empty, as in real exports where a column is not filled.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

_VM_TAIL = ["Annotation", "Backup status", "ClusterInvariantVMMId", "Last backup", "Datacenter", "Cluster", "Host",
            "Folder", "OS according to the configuration file", "OS according to the VMware Tools"]

HEADERS: dict[str, list[str]] = {
    "vInfo": [
        "VM", "Powerstate", "Template", "SRM Placeholder", "Config status", "DNS Name", "Connection state",
        "Guest state", "Heartbeat", "Consolidation Needed", "PowerOn", "Suspended To Memory", "Suspend time",
        "Suspend Interval", "Creation date", "Change Version", "CPUs", "Overall Cpu Readiness", "Memory",
        "Active Memory", "NICs", "Disks", "Total disk capacity MiB", "Fixed Passthru HotPlug",
        "min Required EVC Mode Key", "Latency Sensitivity", "Op Notification Timeout", "EnableUUID", "CBT",
        "Primary IP Address", "Network #1", "Network #2", "Network #3", "Network #4", "Network #5", "Network #6",
        "Network #7", "Network #8", "Num Monitors", "Video Ram KiB", "Resource pool", "Folder ID", "Folder", "vApp",
        "DAS protection", "FT State", "FT Role", "FT Latency", "FT Bandwidth", "FT Sec. Latency",
        "Vm Failover In Progress", "Provisioned MiB", "In Use MiB", "Unshared MiB", "HA Restart Priority",
        "HA Isolation Response", "HA VM Monitoring", "Cluster rule(s)", "Cluster rule name(s)", "Boot Required",
        "Boot delay", "Boot retry delay", "Boot retry enabled", "Boot BIOS setup", "Reboot PowerOff",
        "EFI Secure boot", "Firmware", "HW version", "HW upgrade status", "HW upgrade policy", "HW target", "Path",
        "Log directory", "Snapshot directory", "Suspend directory", "Annotation", "Backup status",
        "ClusterInvariantVMMId", "Last backup", "Datacenter", "Cluster", "Host",
        "OS according to the configuration file", "OS according to the VMware Tools", "Customization Info",
        "Guest Detailed Data", "VM ID", "SMBIOS UUID", "VM UUID", "VI SDK Server type", "VI SDK API Version",
        "VI SDK Server", "VI SDK UUID"],
    "vDisk": [
        "VM", "Powerstate", "Template", "SRM Placeholder", "Disk", "Disk Key", "Disk UUID", "Disk Path",
        "Capacity MiB", "Raw", "Disk Mode", "Sharing mode", "Thin", "Eagerly Scrub", "Split", "Write Through",
        "Level", "Shares", "Reservation", "Limit", "Controller", "Label", "SCSI Unit #", "Unit #", "Shared Bus",
        "Path", "Raw LUN ID", "Raw Comp. Mode", "Internal Sort Column", *_VM_TAIL, "VM ID", "VM UUID",
        "VI SDK Server", "VI SDK UUID"],
    "vPartition": [
        "VM", "Powerstate", "Template", "SRM Placeholder", "Disk Key", "Disk", "Capacity MiB", "Consumed MiB",
        "Free MiB", "Free %", "Internal Sort Column", *_VM_TAIL, "VM ID", "VM UUID", "VI SDK Server",
        "VI SDK UUID"],
    "vNetwork": [
        "VM", "Powerstate", "Template", "SRM Placeholder", "NIC label", "Adapter", "Network", "Switch",
        "Connected", "Starts Connected", "Mac Address", "Type", "IPv4 Address", "IPv6 Address", "Direct Path IO",
        "Internal Sort Column", *_VM_TAIL, "VM ID", "VM UUID", "VI SDK Server", "VI SDK UUID"],
    "vSnapshot": [
        "VM", "Powerstate", "Name", "Description", "Date / time", "Filename", "Size MiB (vmsn)",
        "Size MiB (total)", "Quiesced", "State", *_VM_TAIL, "VM ID", "VM UUID", "VI SDK Server", "VI SDK UUID"],
    "vTools": [
        "VM", "Powerstate", "Template", "SRM Placeholder", "VM Version", "Tools", "Tools Version",
        "Required Version", "Upgradeable", "Upgrade Policy", "Sync time", "App status", "Heartbeat status",
        "Kernel Crash state", "Operation Ready", "State change support", "Interactive Guest", *_VM_TAIL, "VMRef",
        "VM ID", "VM UUID", "VI SDK Server", "VI SDK UUID"],
    "vHost": [
        "Host", "Datacenter", "Cluster", "Config status", "Compliance Check State", "in Maintenance Mode",
        "in Quarantine Mode", "vSAN Fault Domain Name", "CPU Model", "Speed", "HT Available", "HT Active", "# CPU",
        "Cores per CPU", "# Cores", "CPU usage %", "# Memory", "Memory Tiering Type", "Memory usage %", "Console",
        "# NICs", "# HBAs", "# VMs total", "# VMs", "VMs per Core", "# vCPUs", "vCPUs per Core", "vRAM",
        "VM Used memory", "VM Memory Swapped", "VM Memory Ballooned", "VMotion support", "Storage VMotion support",
        "Current EVC", "Max EVC", "Assigned License(s)", "ATS Heartbeat", "ATS Locking",
        "Current CPU power man. policy", "Supported CPU power man.", "Host Power Policy", "ESX Version",
        "Boot time", "DNS Servers", "DHCP", "Domain", "Domain List", "DNS Search Order", "NTP Server(s)",
        "NTPD running", "Time Zone", "Time Zone Name", "GMT Offset", "Vendor", "Model", "Serial number",
        "Service tag", "OEM specific string", "BIOS Vendor", "BIOS Version", "BIOS Date", "Certificate Issuer",
        "Certificate Start Date", "Certificate Expiry Date", "Certificate Status", "Certificate Subject",
        "Object ID", "AutoDeploy.MachineIdentity", "Backup status", "ClusterInvariantVMMId", "Last backup", "UUID",
        "VI SDK Server", "VI SDK UUID"],
    "vDatastore": [
        "Name", "Config status", "Address", "Accessible", "Type", "# VMs total", "# VMs", "Capacity MiB",
        "Provisioned MiB", "In Use MiB", "Free MiB", "Free %", "SIOC enabled", "SIOC Threshold", "# Hosts",
        "Hosts", "Cluster name", "Cluster capacity MiB", "Cluster free space MiB", "Block size", "Max Blocks",
        "# Extents", "Major Version", "Version", "VMFS Upgradeable", "MHA", "URL", "Object ID", "Backup status",
        "ClusterInvariantVMMId", "Last backup", "VI SDK Server", "VI SDK UUID"],
    "vMetaData": ["RVTools major version", "RVTools version", "xlsx creation datetime", "Server"],
}


def write_export(path: Path, rows: dict[str, list[dict[str, Any]]], sheets: list[str] | None = None) -> Path:
    """An .xlsx with the given sheets (default: every sheet above), each row given as {header: value}."""
    import openpyxl

    book = openpyxl.Workbook()
    book.remove(book.active)
    for name in sheets or list(HEADERS):
        sheet = book.create_sheet(name)
        sheet.append(HEADERS[name])
        for row in rows.get(name, []):
            unknown = set(row) - set(HEADERS[name])
            assert not unknown, f"not an RVTools {name} column: {unknown}"
            sheet.append([row.get(h) for h in HEADERS[name]])
    book.save(path)
    return path
