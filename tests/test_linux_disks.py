"""Disks are counted once per disk (not per path) and compared in bytes: parser and rule table tests.

VM-DISK-002: at most 64 disks (vmware-physical-to-azure.md l.182); VM-DISK-001: at most 1023 GiB =
1,098,437,885,952 bytes per disk, compared in bytes (the catalog's reading of "1023 GB").
"""

from __future__ import annotations

import pytest

from readiness.checks.linux.parse import parse_probe
from readiness.engine import judge_target
from readiness.facts import TargetFacts
from readiness.rulepack import default_rules

M = "@@readiness@@"
GIB = 1024**3
LIMIT = 1023 * GIB


def probe_output(rows: list[str], ids: list[str] = ()) -> str:
    """A minimal complete probe output: header, block devices, /dev/disk/by-id, trailer."""
    return (f"{M} cmd probe\nversion=2\nuid=0\n\n{M} end 0\n{M} cmd kernel\n2.6.32-504.el6.x86_64\n\n{M} end 0\n"
            f"{M} cmd block_devices\n" + "\n".join(rows) + f"\n\n{M} end 0\n"
            f"{M} cmd disk_ids\n" + "\n".join(ids) + f"\n\n{M} end 0\n{M} done\n")


def sd(index: int) -> str:
    name, index = "", index + 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(97 + rest) + name
    return "sd" + name


def row(name: str, size: int, wwid: str = "", dm_uuid: str = "", dm_name: str = "", slaves: str = "") -> str:
    path = f"/sys/devices/virtual/block/{name}" if name.startswith("dm-") else f"/sys/devices/pci0/{name}"
    return "\t".join([name, str(size // 512), path, "NETAPP", "LUN", wwid, dm_uuid, dm_name, slaves])


def multipath_host(luns: int, paths: int = 2, size: int = 10 * GIB) -> str:
    rows, n = [row("sda", 40 * GIB)], 1
    for lun in range(luns):
        members = [sd(n + p) for p in range(paths)]
        n += paths
        rows += [row(m, size, f"naa.60a98000{lun:08x}") for m in members]
        rows.append(row(f"dm-{lun + 3}", size, "", f"mpath-360a98000{lun:08x}", f"mpath{lun}", " ".join(members)))
    return probe_output(rows)


def judge(raw: str, rule_id: str) -> tuple[str, str, dict]:
    facts, gaps = parse_probe(raw)
    facts["os"]["family"] = "linux"
    target = TargetFacts(uri="ssh://x", name="x", scheme="ssh", roles=["protected-linux"], facts=facts, gaps=gaps)
    rules = [r for r in default_rules() if r.id == rule_id]
    finding = judge_target(target, rules)[0]
    return finding.status, finding.message, facts["storage"]


@pytest.mark.parametrize("luns, expected", [(63, "pass"), (64, "fail"), (20, "pass")])
def test_disk_count_boundary_counts_luns_not_paths(luns: int, expected: str) -> None:
    status, message, storage = judge(multipath_host(luns, paths=4), "RL017")
    assert storage["disk_count"] == luns + 1 and storage["device_paths"] == 4 * luns + 1
    assert status == expected, message
    assert f"{luns + 1} " in message


def test_sixty_four_distinct_disks_pass_sixty_five_fail() -> None:
    for count, expected in ((64, "pass"), (65, "fail")):
        status, message, _ = judge(probe_output([row(sd(i), GIB, f"naa.{i:032x}") for i in range(count)]), "RL017")
        assert status == expected, message


@pytest.mark.parametrize("rows, ids, count, paths", [
    # same WWID without a multipath map (dm-multipath not running): still one disk
    ([row("sda", GIB, "naa.1"), row("sdb", GIB, "naa.1"), row("sdc", GIB, "naa.2")], [], 2, [2, 1]),
    # no device/wwid (old kernels): grouped by the /dev/disk/by-id SCSI link
    ([row("sda", GIB), row("sdb", GIB)], ["scsi-3600a\t/dev/sda", "scsi-3600a\t/dev/sdb"], 1, [2]),
    # nothing to group by: one disk per device
    ([row("sda", GIB), row("sdb", GIB)], [], 2, [1, 1]),
    # partitions and virtual devices are not disks
    ([row("sda", GIB), row("loop0", GIB), row("dm-0", GIB)], [], 1, [1]),
])
def test_grouping(rows: list[str], ids: list[str], count: int, paths: list[int]) -> None:
    facts, _ = parse_probe(probe_output(rows, ids))
    assert facts["storage"]["disk_count"] == count
    assert sorted(d["paths"] for d in facts["storage"]["disks"]) == sorted(paths)


@pytest.mark.parametrize("size, expected", [
    (LIMIT, "pass"),
    (LIMIT + 512, "fail"),                 # one sector over: rounds to 1023.0 but is over
    (LIMIT + 50 * 1024**2, "fail"),        # the 1023 GiB + 50 MiB
    (LIMIT - 512, "pass"),
])
def test_disk_size_is_compared_in_bytes(size: int, expected: str) -> None:
    status, message, _ = judge(multipath_host(1, paths=4, size=size), "RL016")
    assert status == expected, message
    if expected == "fail":
        assert message.count("mpath0 ") == 1 and str(size) in message
