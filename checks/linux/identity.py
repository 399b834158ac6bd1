"""The machine's SMBIOS system UUID from the Linux probe's `product_uuid` section.

It is what ties a guest scan to its vCenter VM (readiness/merge.py matches it against vm.uuid in either byte
order), so when it cannot be read the gap says why: a scan without root sees no /sys/class/dmi/id/product_uuid
(mode 0400) and dmidecode needs root too; the views are then matched by host name and address instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from readiness.checks.linux.sections import ProbeOutput
from readiness.checks.linux.text import lines

_UUID = re.compile(r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")


def parse_product_uuid(out: ProbeOutput, note: Callable[[str, str], None]) -> str | None:
    """The UUID in lower case as the firmware presents it (never byte-swapped here), or None with a gap."""
    section = out.cmd("product_uuid")
    if section is None:
        note("host.product_uuid", "the probe did not report the SMBIOS UUID (an older probe)")
        return None
    values = dict(line.partition("=")[::2] for line in lines(section))  # raw values: no shell quoting here
    for source in ("sysfs", "dmidecode"):
        text = (values.get(source) or "").strip()
        if _UUID.match(text):
            return text.lower()
    if "sysfs_unreadable" in values:
        why = "/sys/class/dmi/id/product_uuid is readable by root only (scan as root or with --become)"
    elif "dmidecode_missing" in values:
        why = "/sys/class/dmi/id/product_uuid does not exist and dmidecode is not installed"
    else:
        why = "neither /sys/class/dmi/id/product_uuid nor dmidecode -s system-uuid gave a UUID"
    if "dmidecode" in values and not _UUID.match(values["dmidecode"].strip()):
        why += f" (dmidecode answered {values['dmidecode'].strip()[:60]!r})"
    note("host.product_uuid", why)
    return None
