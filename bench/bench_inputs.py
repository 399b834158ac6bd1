"""Offline inputs: facts-file validation, merging views, reading an RVTools export, expanding inventory ranges.

Prints figures; asserts nothing.  Run:  .venv/bin/python bench/bench_inputs.py [VMS]
Peers measured in the same run: json.loads of the same facts (validation), openpyxl's bare row iteration of the
same workbook (RVTools), and the merge's own input size.
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from readiness.facts import TargetFacts  # noqa: E402
from readiness.factschema import target_problem  # noqa: E402
from readiness.inventory import expand_range  # noqa: E402
from readiness.merge import merge_targets  # noqa: E402
from readiness.rvtools import read_rvtools  # noqa: E402
from tests.rvtools_export import write_export  # noqa: E402


def views(count: int) -> list[TargetFacts]:
    """`count` VM views, and a guest view for every fifth VM (most with a byte-swapped product UUID)."""
    rng = random.Random(7)
    result = []
    for i in range(count):
        ip = f"10.{i // 65536}.{i // 256 % 256}.{i % 256}"
        result.append(TargetFacts(
            uri=f"vcenter://v/vm/vm{i}", name=f"vm{i}", scheme="vcenter", roles=["vmware-vm"],
            collected_at="2026-11-20T10:00:00Z",
            facts={"vm": {"name": f"vm{i}", "uuid": str(uuid.UUID(int=rng.getrandbits(128))),
                          "guest_hostname": f"host{i}.contoso.local", "ip_addresses": [ip], "disk_count": 2,
                          "has_snapshots": False, "firmware": "bios"}}))
    for i in range(0, count, 5):
        h = result[i].facts["vm"]["uuid"].replace("-", "")
        swapped = h[6:8] + h[4:6] + h[2:4] + h[0:2] + h[10:12] + h[8:10] + h[14:16] + h[12:14] + h[16:]
        result.append(TargetFacts(
            uri=f"ssh://host{i}", name=f"host{i}", scheme="ssh", roles=["protected-linux"],
            collected_at="2026-11-20T11:00:00Z",
            facts={"os": {"family": "linux"},
                   "host": {"hostname": f"host{i}", "product_uuid": swapped if i % 10 else None},
                   "network": {"ipv4_addresses": [result[i].facts["vm"]["ip_addresses"][0]]}}))
    return result


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    all_views = views(count)
    text = json.dumps([v.to_json() for v in all_views])
    start = time.perf_counter()
    docs = json.loads(text)
    parse = time.perf_counter() - start
    start = time.perf_counter()
    problems = sum(1 for i, d in enumerate(docs) if target_problem(d, i))
    check = time.perf_counter() - start
    print(f"facts schema: {len(docs):,} targets in {check:.2f} s ({len(docs) / check:,.0f}/s, {problems} problems); "
          f"json.loads of the same: {parse:.2f} s (validation = {check / parse:.1f}x parsing)")
    start = time.perf_counter()
    merged = merge_targets(all_views)
    took = time.perf_counter() - start
    print(f"merge: {len(all_views):,} views -> {len(merged):,} machines in {took:.2f} s "
          f"({len(all_views) / took:,.0f} views/s)")

    import openpyxl

    vms = max(100, count // 5)
    rows = {"vInfo": [{"VM": f"vm{i}", "VM ID": f"vm-{i}", "Firmware": "bios", "VI SDK Server": "vc"}
                      for i in range(vms)],
            "vDisk": [{"VM": f"vm{i}", "VM ID": f"vm-{i}", "Label": "Hard disk 1", "Capacity MiB": 40960,
                       "VI SDK Server": "vc"} for i in range(vms)]}
    with tempfile.TemporaryDirectory() as tmp:
        path = write_export(Path(tmp) / "export.xlsx", rows)
        start = time.perf_counter()
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        cells = sum(len(r) for ws in book.worksheets for r in ws.iter_rows(values_only=True))
        book.close()
        bare = time.perf_counter() - start
        start = time.perf_counter()
        targets = list(read_rvtools(path))
        took = time.perf_counter() - start
    print(f"RVTools: {len(targets):,} VMs in {took:.2f} s ({len(targets) / took:,.0f} VMs/s); openpyxl alone "
          f"iterating the same {cells:,} cells: {bare:.2f} s ({took / bare:.2f}x)")

    start = time.perf_counter()
    hosts = sum(1 for _ in expand_range("web[000001:100000].contoso.local", Path("-"), 1))
    took = time.perf_counter() - start
    start = time.perf_counter()
    try:
        next(expand_range("web[00000000:99999999]", Path("-"), 1))
    except Exception as exc:  # the cap: refused before a single name is built
        refused = f"{type(exc).__name__} after {(time.perf_counter() - start) * 1000:.2f} ms"
    print(f"inventory ranges: {hosts:,} hosts expanded in {took:.2f} s; web[00000000:99999999]: {refused}")


if __name__ == "__main__":
    main()
