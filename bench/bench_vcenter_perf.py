"""Benchmark: what reading vCenter's statistics adds to a vCenter scan, at 1k and 10k VMs.

Not a test: it prints figures.  For each size it starts the govmomi simulator with the statistics wrapper
(tests/vcsim/perf.go: four historical intervals at level 3, one disk per VM, every sample of the 7-day window,
vCenter's 64-metric query limit) and collects the vCenter target in this process three times without
statistics (`--no-perf`: the inventory scan alone) and three times with them (the default 7-day window: 336
samples x 4 counters per disk), then prints the medians, the spread and the round trips.  The peer is the
inventory scan of the same run: the figure that matters is what the statistics add to it, and that their
round trips grow with VMs / 16, not with VMs.

    .venv/bin/python bench/bench_vcenter_perf.py [--sizes 1000,10000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from readiness.scan import collect_target
from readiness.settings import ScanSettings
from readiness.targets import parse_target
from tests import vcsim

SERIES = {"default": {"write_iops": [40, 60, 55, 300], "read_iops": [30, 20], "write_kbps": [800, 1200],
                      "read_kbps": [400]}, "vms": {}}


def collect_once(sim: vcsim.Simulator, window_days: float | None) -> tuple[float, int, int]:
    os.environ["READINESS_VCENTER_PASSWORD"] = sim.password
    settings = ScanSettings(ca_bundle=sim.bundle, perf_window_days=window_days)
    start = time.perf_counter()
    targets = collect_target(parse_target(sim.uri()), settings, [])
    elapsed = time.perf_counter() - start
    if targets[0].error:
        raise SystemExit(f"scan failed: {targets[0].error}")
    vms = sum(1 for t in targets if "vm" in t.facts)
    perf_trips = (targets[0].facts.get("perf_collection") or {}).get("round_trips") or 0
    with_figures = sum(1 for t in targets if "perf" in t.facts)
    if window_days is not None and with_figures != vms:
        raise SystemExit(f"only {with_figures} of {vms} VMs have statistics")
    return elapsed, vms, perf_trips


def spread(values: list[float]) -> str:
    return f"median {statistics.median(values):6.2f} s (min {min(values):.2f}, max {max(values):.2f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000", help="VM counts (default 1000,10000)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--clusters", type=int, default=5)
    args = parser.parse_args()
    if vcsim.available():
        raise SystemExit(vcsim.available())
    for size in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory(prefix="bench-vcperf-") as work:
            spec = Path(work) / "series.json"
            spec.write_text(json.dumps(SERIES))
            sim = vcsim.Simulator(Path(work), args=[
                "-cluster", str(args.clusters), "-cluster-host", "4", "-standalone-host", "0",
                "-vm", str(max(1, size // args.clusters)), "-perf", str(spec), "-perf-level", "3"])
            with sim:
                inventory, stats, trips, vms = [], [], 0, 0
                for _ in range(args.repeats):
                    inventory.append(collect_once(sim, None)[0])
                    elapsed, vms, trips = collect_once(sim, 7.0)
                    stats.append(elapsed)
        added = [s - i for s, i in zip(stats, inventory, strict=True)]
        print(f"{vms:6d} VMs  inventory only     : {spread(inventory)}")
        print(f"{vms:6d} VMs  with statistics    : {spread(stats)}; {trips} statistics round trips "
              f"({vms / max(1, trips - 3):.1f} VMs per QueryPerf)")
        print(f"{vms:6d} VMs  statistics add     : {spread(added)}, "
              f"{statistics.median(added) / vms * 1000:.2f} ms per VM; "
              f"x{statistics.median(stats) / statistics.median(inventory):.2f} the inventory scan")
    print(f"load: {os.getloadavg()[0]:.1f} (1-min load average; the simulator shares the 2 cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
