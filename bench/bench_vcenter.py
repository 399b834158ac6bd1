"""Benchmark: a full vCenter scan of a large simulated estate, against naive per-VM reads.

Not a test: it prints figures.  It starts the govmomi simulator (tests/vcsim) with
`--vms` VMs (default 10,000), then in one process:

1. the full readiness scan of the vCenter target: one ContainerView, RetrievePropertiesEx and
   ContinueRetrievePropertiesEx pages, every VM and host turned into a target and judged with the shipped
   rules (wall time, VMs/s, API round trips, peak RSS of this process);
2. the naive way, on a sample of `--sample` VMs: pyVmomi attribute reads VM by VM, each property object
   read once (vm.name, vm.config, vm.guest, vm.runtime, vm.datastore: 5 round trips per VM; only properties
   that are set, since lazy reads of unset ones crash this simulator), timed and extrapolated to the whole
   estate, and the ratio.

    .venv/bin/python bench/bench_vcenter.py [--vms 10000] [--sample 500]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from readiness.engine import judge_target
from readiness.rulepack import default_rules
from readiness.scan import collect_target
from readiness.settings import ScanSettings
from readiness.targets import parse_target
from tests import vcsim


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def full_scan(sim: vcsim.Simulator) -> dict[str, float]:
    os.environ["READINESS_VCENTER_PASSWORD"] = sim.password
    rules = list(default_rules())
    settings = ScanSettings(ca_bundle=sim.bundle)
    start, cpu0 = time.perf_counter(), time.process_time()
    targets = collect_target(parse_target(sim.uri()), settings, rules)
    collected, cpu1 = time.perf_counter(), time.process_time()
    if targets[0].error:
        raise SystemExit(f"scan failed: {targets[0].error}")
    findings = sum(len(judge_target(t, rules)) for t in targets)
    judged, cpu2 = time.perf_counter(), time.process_time()
    vms = sum(1 for t in targets if "vm" in t.facts)
    return {"vms": vms, "targets": len(targets), "findings": findings, "collect_s": collected - start,
            "judge_s": judged - collected, "wall_s": judged - start,
            "collect_cpu_s": cpu1 - cpu0, "judge_cpu_s": cpu2 - cpu1,
            "round_trips": targets[0].facts["vcenter"]["api_round_trips"], "rss_mb": peak_rss_mb()}


def naive(sim: vcsim.Simulator, sample: int) -> dict[str, float]:
    from pyVim.connect import Disconnect
    from pyVmomi import vim

    si = sim.connect()
    stub = si._stub
    calls = {"n": 0}
    for name in ("InvokeMethod",):  # lazy property reads go through InvokeMethod too
        original = getattr(stub, name)

        def counted(*args, _original=original, **kwargs):  # type: ignore[no-untyped-def]
            calls["n"] += 1
            return _original(*args, **kwargs)
        setattr(stub, name, counted)
    try:
        content = si.RetrieveContent()
        view = content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine], True)
        vms = list(view.view)[:sample]
        calls["n"] = 0
        start, cpu0 = time.perf_counter(), time.process_time()
        for vm in vms:
            config, guest, runtime = vm.config, vm.guest, vm.runtime  # one round trip each
            _ = (vm.name, config.firmware, config.extraConfig, config.hardware.device, guest.toolsStatus,
                 guest.net, runtime.powerState, runtime.host, vm.datastore)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu0
        view.DestroyView()
        return {"sample": len(vms), "seconds": elapsed, "cpu_s": cpu, "round_trips": calls["n"]}
    finally:
        Disconnect(si)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vms", type=int, default=10_000, help="VMs in the simulated estate (default 10000)")
    parser.add_argument("--sample", type=int, default=500, help="VMs read the naive way (default 500)")
    parser.add_argument("--clusters", type=int, default=5, help="clusters the VMs are spread over (default 5)")
    args = parser.parse_args()
    if vcsim.available():
        raise SystemExit(vcsim.available())
    per_pool = max(1, args.vms // args.clusters)
    with tempfile.TemporaryDirectory(prefix="bench-vcsim-") as work:
        t0 = time.perf_counter()
        sim = vcsim.Simulator(Path(work), args=["-cluster", str(args.clusters), "-cluster-host", "4",
                                                "-standalone-host", "0", "-vm", str(per_pool),
                                                "-vc-version", "6.0.0", "-esx-version", "6.0.0"])
        with sim:
            print(f"simulator: {sim.info['vms']} VMs, {sim.info['hosts']} hosts, paging={sim.info['paging']} "
                  f"(started in {time.perf_counter() - t0:.1f} s)")
            full = full_scan(sim)
            slow = naive(sim, args.sample)
    per_vm = slow["seconds"] / slow["sample"]
    extrapolated = per_vm * full["vms"]
    print(f"full scan      : {full['vms']:.0f} VMs, {full['targets']:.0f} targets, {full['findings']:.0f} findings")
    print(f"  collect      : {full['collect_s']:.2f} s ({full['vms'] / full['collect_s']:.0f} VMs/s), "
          f"{full['round_trips']:.0f} API round trips, client CPU {full['collect_cpu_s']:.2f} s")
    print(f"  judge        : {full['judge_s']:.2f} s (CPU {full['judge_cpu_s']:.2f} s)")
    print(f"  wall         : {full['wall_s']:.2f} s ({full['vms'] / full['wall_s']:.0f} VMs/s, judging included)")
    print(f"  peak RSS     : {full['rss_mb']:.0f} MB (this process)")
    print(f"naive reads    : {slow['sample']:.0f} VMs in {slow['seconds']:.2f} s ({1 / per_vm:.0f} VMs/s), "
          f"{slow['round_trips'] / slow['sample']:.1f} round trips per VM, client CPU {slow['cpu_s']:.2f} s")
    print(f"  extrapolated : {extrapolated:.1f} s and {slow['round_trips'] / slow['sample'] * full['vms']:.0f} "
          f"round trips for {full['vms']:.0f} VMs")
    print(f"ratio          : {extrapolated / full['collect_s']:.1f}x faster collection "
          f"({extrapolated / full['wall_s']:.1f}x with judging)")
    print(f"load           : {os.getloadavg()[0]:.1f} (1-min load average; other work on the machine skews wall times)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
