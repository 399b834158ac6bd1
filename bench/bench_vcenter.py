"""Benchmark: the readiness CLI scanning a simulated vCenter end to end, against naive per-VM reads.

Not a test: it prints figures.  For each estate size (default 1,000, 5,000 and 10,000 VMs) it starts the govmomi
simulator (tests/vcsim) over TLS, then

1. ours: `readiness scan vcenter://... --reporter json:FILE` in a child process, REPEATS times: wall time, CPU,
   the child's peak RSS (its VmHWM at exit) and the simulator's CPU meanwhile, every VM and host collected,
   judged and written to the JSON report; plus one collection alone (no rules) in a fresh process for the API
   round trips, the collection-only time and its peak RSS (what remains is judging and reporting);
2. naive: pyVmomi attribute reads VM by VM on a sample (vm.name, vm.config, vm.guest, vm.runtime,
   vm.datastore: 5 round trips per VM, the way a simple script reads them), REPEATS times, extrapolated to the
   estate (reading 10,000 VMs that way takes minutes).

Each row prints the median with the spread (min-max) of the repeats, and the ratio naive / ours.  The goal at
10,000 VMs: CLI wall <= 6 s, >= 6x faster than naive, peak RSS <= 400 MB; each is printed met or missed.  The
simulator shares the two cores with the scanner (and, on a shared machine, with everything else: the load
average is printed), so wall times move with load; CPU figures move less.

    .venv/bin/python bench/bench_vcenter.py [--sizes 1000,5000,10000] [--repeats 3] [--sample 300] [--no-no-perf-runs]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.goals import Goal, print_goals, spread  # noqa: E402
from tests import vcsim  # noqa: E402

GOAL_WALL_S, GOAL_RATIO, GOAL_RSS_MB = 6.0, 6.0, 400.0

#: The CLI, reporting its own peak RSS at exit.  VmHWM is the high-water mark of the process's own memory
#: since exec; wait4's ru_maxrss is not: on Linux it starts from the forking parent's size (this benchmark's,
#: which holds the in-process measurements), so it overstates the child.
CLI = ("import atexit, re, sys\n"
       "def hwm():\n"
       "    text = open('/proc/self/status').read()\n"
       "    sys.stderr.write('VMHWM_KB %s\\n' % re.search(r'VmHWM:\\s+(\\d+)', text).group(1))\n"
       "atexit.register(hwm)\n"
       "from readiness.cli import main\n"
       "sys.exit(main(sys.argv[1:]))\n")


def cpu_of(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far (/proc: the simulator's share of a run)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cli_scan(sim: vcsim.Simulator, out: Path, extra: tuple[str, ...] = ()) -> dict[str, float]:
    """One end-to-end CLI run: wall time, CPU and peak RSS of the child, the simulator's CPU, VMs reported."""
    env = {**os.environ, "READINESS_VCENTER_PASSWORD": sim.password, "NO_COLOR": "1"}
    assert sim.proc is not None
    server0 = cpu_of(sim.proc.pid)
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", CLI, "scan", sim.uri(), "--ca-bundle", str(sim.bundle),
                             "--reporter", f"json:{out}", *extra], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    assert proc.stderr is not None
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    server = cpu_of(sim.proc.pid) - server0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"scan failed ({proc.returncode}): {stderr.decode(errors='replace')[-2000:]}")
    report = json.loads(out.read_text())
    vms = sum(1 for t in report["targets"] if "vmware-vm" in t["roles"])
    hwm = re.search(rb"VMHWM_KB (\d+)", stderr)
    if hwm is None:
        raise SystemExit(f"the CLI did not report its peak RSS: {stderr.decode(errors='replace')[-500:]}")
    return {"wall_s": wall, "rss_mb": int(hwm.group(1)) / 1024, "cpu_s": usage.ru_utime + usage.ru_stime,
            "server_cpu_s": server, "vms": vms}


COLLECT = ("import json, re, sys, time\n"
           "from readiness.scan import collect_target\n"
           "from readiness.settings import ScanSettings\n"
           "from readiness.targets import parse_target\n"
           "start = time.perf_counter()\n"
           "targets = collect_target(parse_target(sys.argv[1]), ScanSettings(ca_bundle=sys.argv[2]), [])\n"
           "took = time.perf_counter() - start\n"
           "hwm = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)\n"
           "print(json.dumps({'error': targets[0].error, 'collect_s': took, 'collect_rss_mb': int(hwm) / 1024,\n"
           "                  'round_trips': (targets[0].facts.get('vcenter') or {}).get('api_round_trips')}))\n")


def collect_only(sim: vcsim.Simulator) -> dict[str, float]:
    """In a fresh process, no rules: the collection's share of the wall time, its API round trips and peak RSS."""
    env = {**os.environ, "READINESS_VCENTER_PASSWORD": sim.password}
    proc = subprocess.run([sys.executable, "-c", COLLECT, sim.uri(), str(sim.bundle)], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"collection failed: {proc.stderr[-2000:]}")
    result = json.loads(proc.stdout)
    if result.pop("error"):
        raise SystemExit(f"collection failed: {proc.stdout}")
    return result


def naive(sim: vcsim.Simulator, sample: int) -> dict[str, float]:
    """Per-VM pyVmomi reads of `sample` VMs: seconds per VM and round trips per VM."""
    from pyVim.connect import Disconnect
    from pyVmomi import vim

    si = sim.connect()
    stub = si._stub
    calls = {"n": 0}
    original = stub.InvokeMethod

    def counted(*args: Any, **kwargs: Any) -> Any:  # lazy property reads go through InvokeMethod too
        calls["n"] += 1
        return original(*args, **kwargs)

    stub.InvokeMethod = counted
    try:
        content = si.RetrieveContent()
        view = content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine], True)
        vms = list(view.view)[:sample]
        calls["n"] = 0
        start = time.perf_counter()
        for vm in vms:
            config, guest, runtime = vm.config, vm.guest, vm.runtime  # one round trip each
            _ = (vm.name, config.firmware, config.extraConfig, config.hardware.device, guest.toolsStatus,
                 guest.net, runtime.powerState, runtime.host, vm.datastore)
        elapsed = time.perf_counter() - start
        view.DestroyView()
        return {"per_vm_s": elapsed / len(vms), "trips_per_vm": calls["n"] / len(vms)}
    finally:
        Disconnect(si)


def measure(size: int, repeats: int, sample: int, clusters: int, no_perf: bool) -> dict[str, Any]:
    per_pool = max(1, size // clusters)
    with tempfile.TemporaryDirectory(prefix="bench-vcsim-") as work:
        t0 = time.perf_counter()
        sim = vcsim.Simulator(Path(work), args=["-cluster", str(clusters), "-cluster-host", "4",
                                                "-standalone-host", "0", "-vm", str(per_pool),
                                                "-vc-version", "6.0.0", "-esx-version", "6.0.0"])
        with sim:
            started = time.perf_counter() - t0
            ours = [cli_scan(sim, Path(work) / f"r{i}.json") for i in range(repeats)]
            bare = [cli_scan(sim, Path(work) / f"n{i}.json", ("--no-perf",)) for i in range(repeats if no_perf else 0)]
            inproc = collect_only(sim)
            slow = [naive(sim, min(sample, sim.info["vms"])) for _ in range(repeats)]
            vms = int(sim.info["vms"])
    naive_s = [s["per_vm_s"] * vms for s in slow]
    walls = [o["wall_s"] for o in ours]
    return {"size": vms, "started_s": started, "ours": ours, "walls": walls, "naive_s": naive_s,
            "ratios": [n / w for n, w in zip(sorted(naive_s), sorted(walls), strict=True)],
            "rss": [o["rss_mb"] for o in ours], "cpu": [o["cpu_s"] for o in ours],
            "server": [o["server_cpu_s"] for o in ours], "walls_no_perf": [o["wall_s"] for o in bare],
            "rss_no_perf": [o["rss_mb"] for o in bare],
            "ratios_no_perf": [n / o["wall_s"] for n, o in zip(sorted(naive_s), sorted(bare, key=lambda o: o["wall_s"]),
                                                               strict=True)],
            "reported_vms": ours[0]["vms"], "trips_per_vm": slow[0]["trips_per_vm"], **inproc}


def goal_rows(row: dict[str, Any]) -> list[Goal]:
    """The goal at the biggest size (10,000 VMs by default): wall, ratio against naive reads, peak RSS; with the
    performance statistics read (the default) and, when measured, without them (--no-perf)."""
    naive_s = spread(row["naive_s"], "{:.1f}") + " s naive"
    goals = []
    for label, walls, ratios, rss in (("", row["walls"], row["ratios"], row["rss"]),
                                      (" --no-perf", row["walls_no_perf"], row["ratios_no_perf"],
                                       row["rss_no_perf"])):
        if not walls:
            continue
        name = f"vCenter {row['size']} VMs{label}"
        goals += [
            Goal(f"{name}: CLI wall", spread(walls) + " s", naive_s, spread(ratios, "{:.1f}x"),
                 f"<= {GOAL_WALL_S:g} s", statistics.median(walls) <= GOAL_WALL_S),
            Goal(f"{name}: against naive", spread(walls) + " s", naive_s, spread(ratios, "{:.1f}x"),
                 f">= {GOAL_RATIO:g}x", statistics.median(ratios) >= GOAL_RATIO),
            Goal(f"{name}: peak RSS", spread(rss, "{:.0f}") + " MB", "-", "-", f"<= {GOAL_RSS_MB:g} MB",
                 statistics.median(rss) <= GOAL_RSS_MB)]
    return goals


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,5000,10000", help="estate sizes in VMs (default 1000,5000,10000)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each measurement (default 3)")
    parser.add_argument("--sample", type=int, default=300, help="VMs read the naive way per run (default 300)")
    parser.add_argument("--clusters", type=int, default=5, help="clusters the VMs are spread over (default 5)")
    parser.add_argument("--no-perf-runs", action=argparse.BooleanOptionalAction, default=True,
                        help="also run the CLI with --no-perf (performance statistics not read; default on)")
    args = parser.parse_args()
    if vcsim.available():
        raise SystemExit(vcsim.available())
    print(f"{'VMs':>6} | {'ours: CLI wall s':>20} | {'CLI CPU s':>18} | {'simulator CPU s':>18} | "
          f"{'peak RSS MB':>16} | {'collect s, MB':>13} | {'trips':>5} | {'naive s (extrap.)':>22} | {'ratio':>17}")
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        row = measure(size, args.repeats, args.sample, args.clusters, args.no_perf_runs)
        rows.append(row)
        print(f"{row['size']:>6} | {spread(row['walls']):>20} | {spread(row['cpu']):>18} | "
              f"{spread(row['server']):>18} | {spread(row['rss'], '{:.0f}'):>16} | "
              f"{row['collect_s']:>6.2f}, {row['collect_rss_mb']:>4.0f} | {row['round_trips']:>5} | "
              f"{spread(row['naive_s'], '{:.1f}'):>22} | {spread(row['ratios'], '{:.1f}x'):>17}", flush=True)
        if row["walls_no_perf"]:
            print(f"{'':>6} | {spread(row['walls_no_perf']):>20} | with --no-perf: peak RSS "
                  f"{spread(row['rss_no_perf'], '{:.0f}')} MB, ratio {spread(row['ratios_no_perf'], '{:.1f}x')}")
        if row["reported_vms"] != row["size"]:
            print(f"       warning: the report holds {row['reported_vms']} VMs of {row['size']}")
    print(f"naive: {rows[-1]['trips_per_vm']:.1f} round trips per VM, a {args.sample}-VM sample per run; "
          f"simulator start {rows[-1]['started_s']:.1f} s at {rows[-1]['size']} VMs (not counted)")
    biggest = rows[-1]
    print(f"collection alone at {biggest['size']} VMs (fresh process, no rules): {biggest['collect_s']:.2f} s, "
          f"peak RSS {biggest['collect_rss_mb']:.0f} MB; the rest of the CLI wall is judging and reporting")
    print_goals(goal_rows(biggest))
    print(f"load: {os.getloadavg()[0]:.1f} (1-min load average on {os.cpu_count()} CPUs; "
          "other work on the machine skews wall times)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
