"""Capacity from vCenter's statistics: the arithmetic on exact series, then end to end against the simulator.

The launcher (tests/vcsim/perf.go) serves the historical intervals and QueryPerf the way vCenter does (levels,
per-device counters, CSV, the 64-metric query limit) with series the test writes, so every expected peak,
percentile, daily change and verdict below is exact.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from readiness.checks.vsphere.perf import MAX_QUERY_METRICS, choose_interval, percentile, stars, summarize
from readiness.scan import collect_target
from readiness.settings import ScanSettings
from readiness.targets import parse_target
from tests import vcsim
from tests.test_vcenter import run

WEEK = 7 * 86400
HALF_HOUR = 1800


# ---------------------------------------------------------------- the arithmetic


def stamps(count: int, period: int = HALF_HOUR) -> list[datetime]:
    start = datetime(2026, 11, 20, tzinfo=timezone.utc)  # midnight: whole days
    return [start + timedelta(seconds=period * (i + 1)) for i in range(count)]


@pytest.mark.parametrize(("values", "share", "expected"), [
    ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.95, 10), (list(range(1, 101)), 0.95, 95), ([7], 0.95, 7), ([], 0.95, None),
    ([100] * 335 + [600], 0.95, 100),
])
def test_nearest_rank_percentile(values: list[float], share: float, expected: float | None) -> None:
    assert percentile(values, share) == expected


@pytest.mark.parametrize(("coverage", "rating"), [(1.0, 5), (0.81, 5), (0.8, 4), (0.61, 4), (0.6, 3), (0.5, 3),
                                                  (0.41, 3), (0.4, 2), (0.21, 2), (0.2, 1), (0.0, 1)])
def test_confidence_bands(coverage: float, rating: int) -> None:
    assert stars(coverage) == rating


def test_interval_choice() -> None:
    intervals = [{"key": 1, "sampling_period": 300, "length": 86400, "enabled": True},
                 {"key": 2, "sampling_period": 1800, "length": WEEK, "enabled": True},
                 {"key": 3, "sampling_period": 7200, "length": 30 * 86400, "enabled": True}]
    assert choose_interval(intervals, 86400)["key"] == 1
    assert choose_interval(intervals, WEEK)["key"] == 2
    assert choose_interval(intervals, 10 * 86400)["key"] == 3
    assert choose_interval(intervals, 90 * 86400)["key"] == 3  # the longest there is
    assert choose_interval([{**i, "enabled": False} for i in intervals], WEEK) is None


def test_machine_figures_sum_disks_per_sample() -> None:
    n = 336
    series = {"scsi0:0": {"write_iops": [300.0] * n, "read_iops": [100.0] * n, "write_kbps": [1024.0] * n},
              "scsi0:1": {"write_iops": [200.0] * (n - 1) + [900.0], "read_iops": [0.0] * n,
                          "write_kbps": [0.0] * n}}
    got = summarize(series, stamps(n), HALF_HOUR, WEEK)
    assert got["peak_iops"] == 1300.0 and got["p95_iops"] == 600.0 and got["peak_write_iops"] == 1200.0
    assert [d["peak_iops"] for d in got["disks"]] == [400.0, 900.0]
    assert got["peak_churn_mbps"] == 1.0 and got["daily_change_gb"] == 84.4  # 1 MB/s x 86,400 s = 84.375 GiB
    assert got["coverage"] == 1.0 and got["stars"] == 5 and got["samples"] == got["expected_samples"] == n


def test_daily_change_boundary_and_missing_samples() -> None:
    n = 336
    kbps = 2048 * 1024**2 / 86400  # exactly 2 TB (2,048 GB) a day
    got = summarize({"scsi0:0": {"write_kbps": [kbps] * n}}, stamps(n), HALF_HOUR, WEEK)
    assert got["peak_daily_change_gb"] == 2048.0 and got["daily_change_gb"] == 2048.0
    gappy = [None] * (n // 2) + [kbps] * (n // 2)
    got = summarize({"scsi0:0": {"write_kbps": gappy}}, stamps(n), HALF_HOUR, WEEK)
    assert got["coverage"] == 0.5 and got["stars"] == 3 and got["peak_daily_change_gb"] == 2048.0
    negative = [-1.0] * n  # vCenter's "no value"
    got = summarize({"scsi0:0": {"write_kbps": negative}}, stamps(n), HALF_HOUR, WEEK)
    assert got["samples"] == 0 and got["daily_change_gb"] is None and got["peak_daily_change_gb"] is None


# ---------------------------------------------------------------- against the simulator

KBPS_2_5_TB = 31069  # 2.5 TB/day: 2,560 GB x 1024^2 KB / 86,400 s
SERIES = {
    "default": {"write_iops": [50], "read_iops": [50], "write_kbps": [400], "read_kbps": [400]},
    "vms": {
        "DC0_H0_VM0": {"disks": {"scsi0:0": {"write_iops": [15000], "read_iops": [10000], "write_kbps": [2000]}}},
        "DC0_H0_VM1": {"disks": {"scsi0:0": {"write_iops": [100] * 335 + [600], "read_iops": [0],
                                             "write_kbps": [100]}}},
        "DC0_C0_RP0_VM0": {"disks": {"scsi0:0": {"write_iops": [200], "read_iops": [100],
                                                 "write_kbps": [KBPS_2_5_TB]}}},
        "DC0_C0_RP0_VM1": {"missing_before": 0.5, "disks": {"scsi0:0": {"write_iops": [20], "read_iops": [20],
                                                                         "write_kbps": [10]}}},
    },
}
EXPECTED = {  # VM -> rule -> verdict
    "DC0_H0_VM0": {"RP001": "fail", "RP002": "fail", "RP003": "pass"},      # 25,000 IOPS
    "DC0_H0_VM1": {"RP001": "pass", "RP002": "fail", "RP003": "pass"},      # one disk peaks at 600
    "DC0_C0_RP0_VM0": {"RP001": "pass", "RP002": "pass", "RP003": "fail"},  # 2.5 TB a day
    "DC0_C0_RP0_VM1": {"RP001": "error", "RP002": "error", "RP003": "error"},  # half the samples
}


@pytest.fixture(scope="module")
def perf_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[vcsim.Simulator]:
    if vcsim.available() is not None:
        pytest.skip(str(vcsim.available()))
    work = tmp_path_factory.mktemp("vcsim-perf")
    spec = work / "series.json"
    spec.write_text(json.dumps(SERIES))
    with vcsim.Simulator(work, args=["-vm", "2", "-perf", str(spec), "-perf-level", "3"]) as simulator:
        yield simulator


def collect(sim: vcsim.Simulator, **settings: Any) -> dict[str, Any]:
    os.environ["READINESS_VCENTER_PASSWORD"] = sim.password
    try:
        found = collect_target(parse_target(sim.uri()), ScanSettings(ca_bundle=sim.bundle, **settings), [])
    finally:
        del os.environ["READINESS_VCENTER_PASSWORD"]
    assert found[0].error is None, found[0].error
    return {t.name: t for t in found}


def test_exact_figures_from_the_simulator(perf_sim: vcsim.Simulator) -> None:
    targets = collect(perf_sim)
    busy = targets["DC0_H0_VM0"].facts["perf"]
    assert (busy["peak_iops"], busy["peak_write_iops"], busy["samples"], busy["expected_samples"]) == (
        25000.0, 15000.0, 336, 336)
    disk = targets["DC0_H0_VM1"].facts["perf"]["disks"][0]
    assert (disk["instance"], disk["peak_iops"], disk["p95_iops"]) == ("scsi0:0", 600.0, 100.0)
    churn = targets["DC0_C0_RP0_VM0"].facts["perf"]
    assert churn["daily_change_gb"] == 2560.0 and churn["peak_daily_change_gb"] == 2560.0
    partial = targets["DC0_C0_RP0_VM1"].facts["perf"]
    assert (partial["coverage"], partial["stars"], partial["samples"]) == (0.5, 3, 168)
    summary = next(t for t in targets.values() if "perf_collection" in t.facts).facts["perf_collection"]
    vms = sum(1 for t in targets.values() if "vm" in t.facts)
    # counters, intervals, the server clock, then one QueryPerf per 16 VMs (4 counters x 16 = 64 metrics)
    assert summary["round_trips"] == 3 + math.ceil(vms / (MAX_QUERY_METRICS // 4))
    assert summary["interval"]["name"] == "Past week"


def test_verdicts_through_the_cli(perf_sim: vcsim.Simulator, tmp_path: Path) -> None:
    out, html, table = tmp_path / "r.json", tmp_path / "r.html", tmp_path / "capacity.csv"
    proc = run("scan", perf_sim.uri(), "--ca-bundle", str(perf_sim.bundle), "--reporter", f"json:{out}",
               f"html:{html}", f"capacity-csv:{table}", password=perf_sim.password)
    assert "Traceback" not in proc.stderr, proc.stderr
    report = json.loads(out.read_text())
    got = {t["name"]: {f["rule_id"]: f["status"] for f in t["findings"] if f["rule_id"].startswith("RP")}
           for t in report["targets"]}
    for vm, expected in EXPECTED.items():
        assert got[vm] == expected, vm
    estate = {f["rule_id"]: f for f in report["estate"]["findings"]}
    # 25,000 + 600 + 300 + 40 + 100 x the rest of the VMs: two storage accounts; 2,560 GB a day alone needs a
    # second process server (l.88-89)
    assert estate["RX006"]["status"] == "fail" and estate["RX006"]["evidence"]["accounts"] == 2
    assert estate["RX007"]["status"] == "fail" and estate["RX007"]["evidence"]["needed"] == 2
    totals = report["capacity"]["totals"]
    assert (totals["storage_accounts"], totals["process_servers_needed"]) == (2, 2)
    rows = {r["name"]: r for r in csv.DictReader(table.read_text().splitlines())}
    assert set(rows) == {t["name"] for t in report["targets"] if "vmware-vm" in t["roles"]}
    assert (rows["DC0_H0_VM0"]["peak_iops"], rows["DC0_H0_VM0"]["iops"]) == ("25000.0", "fail")
    assert (rows["DC0_C0_RP0_VM0"]["daily_change_gb"], rows["DC0_C0_RP0_VM0"]["daily_change"]) == ("2560.0", "fail")
    page = html.read_text()
    assert 'id="capacity"' in page and "<b>2</b> storage account(s)" in page
    partial = next(t for t in report["targets"] if t["name"] == "DC0_C0_RP0_VM1")
    assert all("50" in f["message"] or "3/5" in f["message"] for f in partial["findings"]
               if f["rule_id"].startswith("RP"))


def test_level_1_reads_the_vm_wide_counters_and_says_which_setting(tmp_path: Path) -> None:
    """vCenter's default level 1 keeps no per-disk counter: the VM-wide ones give the machine's IOPS and an
    upper bound of its change (reads plus writes); what needs a disk's own figures cannot be judged."""
    if vcsim.available() is not None:
        pytest.skip(str(vcsim.available()))
    spec = tmp_path / "series.json"
    spec.write_text(json.dumps(SERIES))
    out = tmp_path / "r.json"
    with vcsim.Simulator(tmp_path, args=["-vm", "2", "-perf", str(spec), "-perf-level", "1"]) as sim:
        targets = collect(sim)
        run("scan", sim.uri(), "--ca-bundle", str(sim.bundle), "--reporter", f"json:{out}", password=sim.password)
    vms = [t for t in targets.values() if "vm" in t.facts]
    assert vms and all("raise it to 3" in t.facts["perf"]["note"] and not t.facts["perf"]["per_disk"] for t in vms)
    busy = targets["DC0_H0_VM0"].facts["perf"]
    assert (busy["peak_iops"], busy["disks"], busy["change_gb"]) == (25000.0, [], None)
    assert targets["DC0_C0_RP0_VM0"].facts["perf"]["change_upper_gb"] == 2560.0
    report = json.loads(out.read_text())
    got = {t["name"]: {f["rule_id"]: f for f in t["findings"] if f["rule_id"].startswith("RP")}
           for t in report["targets"]}
    assert got["DC0_H0_VM0"]["RP001"]["status"] == "fail"  # 25,000 IOPS from the VM-wide counters
    assert got["DC0_H0_VM0"]["RP002"]["status"] == "error" and "raise it to 3" in got["DC0_H0_VM0"]["RP002"]["message"]
    assert got["DC0_H0_VM1"]["RP003"]["status"] == "pass"  # 100 KB/s of reads and writes: far below 2 TB a day
    assert "at most" in got["DC0_H0_VM1"]["RP003"]["message"]
    heavy = got["DC0_C0_RP0_VM0"]["RP003"]
    assert heavy["status"] == "error" and "2560.0" in heavy["message"] and "write share" in heavy["message"]


def test_no_perf_is_a_recorded_gap(perf_sim: vcsim.Simulator) -> None:
    targets = collect(perf_sim, perf_window_days=None)
    vms = [t for t in targets.values() if "vm" in t.facts]
    assert vms and all(t.gaps["perf"].endswith("(--no-perf)") for t in vms)
