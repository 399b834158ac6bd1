"""Capacity facts from vCenter's own statistics: per-disk IOPS and write throughput of every selected VM.

The Deployment Planner answers "how many IOPS, how much daily change" by profiling VMs live for days; vCenter
already keeps that history in its historical intervals (Past day 300 s samples, Past week 1800 s, Past month
7200 s).  One pass of QueryPerf over those rollups, in the vCenter session the inventory scan opened, gives
the same numbers in one scan.  This collector reads them and computes, per disk and per VM, peak and 95th
percentile IOPS, peak and average churn and the daily change; it judges nothing (rules/capacity.yaml does).

What vCenter keeps decides what can be said: every virtualDisk counter is per instance (per disk), and vCenter
stores per-instance data in an interval only at a statistics level of at least the counter's perDeviceLevel
(3 for the IOPS counters, 2 for throughput); at the default level 1 nothing is kept, and the facts say which
setting to raise instead of inventing numbers.  Counter IDs differ between vCenter builds, so they are found
by name in PerformanceManager.perfCounter, never hard-coded.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from readiness.checks.base import CollectContext, Collector

#: The counters read, by vCenter's "group.name.rollup" key, and the name the facts give them: per disk first
#: (virtualDisk, kept from statistics level 3), and the VM-wide ones (instance "", kept from level 1, vCenter's
#: default) read instead when the per-disk ones are not kept.  disk.usage is reads plus writes, so at level 1 the
#: daily change is known only as an upper bound.
COUNTERS = {
    "virtualDisk.numberWriteAveraged.average": "write_iops",
    "virtualDisk.numberReadAveraged.average": "read_iops",
    "virtualDisk.write.average": "write_kbps",
    "virtualDisk.read.average": "read_kbps",
}
AGGREGATE_COUNTERS = {
    "disk.numberWriteAveraged.average": "write_iops",
    "disk.numberReadAveraged.average": "read_iops",
    "disk.usage.average": "usage_kbps",
}
#: vCenter refuses a historical query over more entity x counter pairs (config.vpxd.stats.maxQueryMetrics).
MAX_QUERY_METRICS = 64


def percentile(values: list[float], share: float) -> float | None:
    """Nearest-rank percentile (the smallest value with at least `share` of the values at or below it)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def stars(coverage: float) -> int:
    """Confidence 1-5 from the share of samples present, in Azure Migrate's bands (0-20 % ... 81-100 %)."""
    for rating, floor in ((5, 0.805), (4, 0.605), (3, 0.405), (2, 0.205)):
        if coverage >= floor:
            return rating
    return 1


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


Samples = list[float | None]


def _clean(values: Samples | None, n: int) -> Samples:
    """n samples, None where vCenter had none (a missing value or its -1)."""
    out: Samples = [v if v is not None and v >= 0 else None for v in (values or ())[:n]]
    return out + [None] * (n - len(out))


def _add(left: Samples, right: Samples) -> Samples:
    """Sample-wise sum; a time with no sample on either side stays None."""
    return [r if a is None else a if r is None else a + r for a, r in zip(left, right, strict=True)]


def _present(values: Samples) -> list[float]:
    return [v for v in values if v is not None]


def summarize(series: dict[str, dict[str, Samples]], timestamps: list[datetime], period_s: int,
              window_s: float) -> dict[str, Any]:
    """Per-disk and per-VM figures from aligned samples (None or a negative value: no sample at that time).

    `series` maps a disk instance ("scsi0:0") to counter name -> values, one per timestamp.
    """
    n = len(timestamps)
    expected = max(1, int(window_s // period_s))
    disks = []
    machine: dict[str, Samples] = {name: [None] * n for name in COUNTERS.values()}
    whole = series.get("", {})  # the VM-wide counters, read when the per-disk ones are not kept
    per_disk = sorted(instance for instance in series if instance)
    if not per_disk:
        for name in ("write_iops", "read_iops"):
            machine[name] = _clean(whole.get(name), n)
    usage = _clean(whole.get("usage_kbps"), n)
    for instance in per_disk:
        counters = {name: _clean(series[instance].get(name), n) for name in COUNTERS.values()}
        totals = _present(_add(counters["write_iops"], counters["read_iops"]))
        writes = _present(counters["write_iops"])
        disks.append({"instance": instance, "peak_write_iops": _round(max(writes, default=None)),
                      "p95_write_iops": _round(percentile(writes, .95)),
                      "peak_iops": _round(max(totals, default=None)), "p95_iops": _round(percentile(totals, .95)),
                      "samples": len(totals)})
        for name, values in counters.items():
            machine[name] = _add(machine[name], values)
    total = _present(_add(machine["write_iops"], machine["read_iops"]))
    writes = _present(machine["write_iops"])
    written = _present(machine["write_kbps"])
    churn = [v / 1024 for v in written]  # MB/s
    present = sum(1 for values in zip(*machine.values(), usage, strict=True) if any(v is not None for v in values))
    coverage = min(1.0, present / expected)
    average_kbps = sum(written) / len(written) if written else None
    used = _present(usage)
    peak_day = _peak_day(machine["write_kbps"], timestamps, period_s)
    daily = _round(average_kbps * 86400 / 1024**2) if average_kbps is not None else None
    usage_day = _peak_day(usage, timestamps, period_s)
    return {
        "interval_s": period_s,
        "window_s": int(window_s),
        "samples": present,
        "expected_samples": expected,
        "coverage": round(coverage, 3),
        "stars": stars(coverage),
        "disks": disks,
        "peak_write_iops": _round(max(writes, default=None)),
        "p95_write_iops": _round(percentile(writes, .95)),
        "peak_iops": _round(max(total, default=None)),
        "p95_iops": _round(percentile(total, .95)),
        "peak_churn_mbps": _round(max(churn, default=None), 2),
        "avg_churn_mbps": _round(sum(churn) / len(churn), 2) if churn else None,
        # GB/day = average write KB/s over the samples present x 86,400 s / 1024^2 (GB read as GiB, as elsewhere)
        "daily_change_gb": daily,
        "peak_daily_change_gb": peak_day,
        "per_disk": bool(per_disk),
        "change_gb": peak_day if peak_day is not None else daily,
        # reads + writes of the busiest day (or the average day): the change cannot be larger
        "change_upper_gb": (usage_day if usage_day is not None else
                            _round(sum(used) / len(used) * 86400 / 1024**2) if used else None),
        "error": None,
    }


@lru_cache(maxsize=8)
def _days(timestamps: tuple[datetime, ...]) -> tuple[Any, ...]:
    """The UTC day each sample belongs to (a sample stamped at midnight closes the day before); shared by every VM
    of a query, whose samples carry the same times."""
    return tuple((stamp - timedelta(seconds=1)).date() for stamp in timestamps)


def _peak_day(write_kbps: Samples, timestamps: list[datetime], period_s: int) -> float | None:
    """The largest change written in one UTC calendar day of the window, counting only days fully sampled."""
    per_day: dict[Any, list[float]] = {}
    for day, value in zip(_days(tuple(timestamps)), write_kbps, strict=False):
        if value is not None:
            per_day.setdefault(day, []).append(value)
    full = [values for values in per_day.values() if len(values) >= 86400 // period_s]
    if not full:
        return None
    return _round(max(sum(values) * period_s / 1024**2 for values in full))


# ---------------------------------------------------------------- reading vCenter


def choose_interval(intervals: list[dict[str, Any]], window_s: float) -> dict[str, Any] | None:
    """The finest enabled historical interval that holds the whole window, else the longest one there is."""
    enabled = [i for i in intervals if i.get("enabled")]
    holding = [i for i in enabled if i["length"] >= window_s]
    if holding:
        return min(holding, key=lambda i: i["sampling_period"])
    return max(enabled, key=lambda i: i["length"], default=None)


Series = dict[str, dict[str, list[float | None]]]


@lru_cache(maxsize=8)
def _stamps(sample_info: str) -> list[datetime]:
    """Sample times of "interval,time,interval,time,..." (the VMs of one query share them)."""
    return [datetime.fromisoformat(text.replace("Z", "+00:00")) for text in sample_info.split(",")[1::2] if text]


def parse_csv_metric(entity: Any, names: dict[int, str]) -> tuple[list[datetime], Series]:
    """(timestamps, instance -> counter -> values) from one PerfEntityMetricCSV."""
    stamps = _stamps(getattr(entity, "sampleInfoCSV", "") or "")
    series: Series = {}
    for value in getattr(entity, "value", None) or ():
        name = names.get(value.id.counterId)
        if name is None:
            continue
        numbers: list[float | None] = [float(v) if v not in ("", None) else None
                                       for v in (value.value or "").split(",")][:len(stamps)]
        series.setdefault(value.id.instance or "", {})[name] = numbers
    return stamps, series


def batches(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class VSpherePerfCollector(Collector):
    """Historical disk statistics of the VMs the vCenter scan selected, in the same session."""

    name = "vsphere-perf"
    namespaces = ("perf_collection",)
    platforms = frozenset({"vsphere"})

    def collect(self, ctx: CollectContext) -> dict[str, Any]:
        window_days = ctx.settings.perf_window_days
        vms = [child for child in ctx.children if "vm" in child.facts]
        if window_days is None:
            for child in vms:
                child.gaps["perf"] = "performance statistics were not read (--no-perf)"
            return {"perf_collection": {"enabled": False, "error": "--no-perf"}}
        transport: Any = ctx.transport
        try:
            summary, per_vm = self._read(transport, vms, float(window_days) * 86400)
        except Exception as exc:  # any API failure is a gap for every VM, never a lost vCenter target
            reason = f"performance statistics could not be read: {type(exc).__name__}: {getattr(exc, 'msg', exc)}"
            for child in vms:
                child.gaps["perf"] = reason
            return {"perf_collection": {"enabled": True, "error": reason}}
        for child in vms:
            moref = child.facts["vm"].get("moref")
            if moref in per_vm:
                child.facts["perf"] = per_vm[moref]
            else:
                child.gaps["perf"] = summary["error"] or "vCenter returned no statistics for this VM"
        return {"perf_collection": summary}

    def _read(self, transport: Any, vms: list[Any], window_s: float) -> tuple[dict[str, Any], dict[str, Any]]:
        from pyVmomi import vim

        manager = transport.content.perfManager
        trips = 0
        counters, whole = {}, {}
        for info in manager.perfCounter:
            key = f"{info.groupInfo.key}.{info.nameInfo.key}.{info.rollupType}"
            if key in COUNTERS:
                counters[info.key] = (COUNTERS[key], int(info.perDeviceLevel or info.level or 0))
            elif key in AGGREGATE_COUNTERS:
                whole[info.key] = (AGGREGATE_COUNTERS[key], int(info.level or 0))
        intervals = [{"key": i.key, "name": i.name, "sampling_period": int(i.samplingPeriod), "length": int(i.length),
                      "level": int(i.level or 0), "enabled": bool(i.enabled)} for i in manager.historicalInterval or ()]
        trips += 2
        summary: dict[str, Any] = {"enabled": True, "window_s": int(window_s), "intervals": intervals,
                                   "counters": sorted(name for name, _ in counters.values()), "interval": None,
                                   "needed_level": None, "round_trips": trips, "error": None}
        missing = sorted(set(COUNTERS.values()) - {name for name, _ in counters.values()})
        chosen = choose_interval(intervals, window_s)
        needed = max((level for _, level in counters.values()), default=0)
        summary.update(interval=chosen, needed_level=needed)
        if missing or chosen is None:
            summary["error"] = (f"vCenter defines no counter {', '.join(missing)}" if missing
                                else "vCenter has no enabled historical statistics interval")
            return summary, {}
        instance = "*"
        if chosen["level"] < needed:
            advice = (f"statistics level {chosen['level']} of interval '{chosen['name']}' keeps no per-disk counters: "
                      f"raise it to {needed} (vCenter > Configure > General > Statistics) and wait for the window "
                      "to fill")
            usable = {key: value for key, value in whole.items() if value[1] <= chosen["level"]}
            if len(usable) < len(set(AGGREGATE_COUNTERS.values())):
                summary["error"] = advice
                return summary, {}
            summary["note"] = advice + "; VM-wide counters were read instead (no per-disk figures, and the daily " \
                                       "change only as an upper bound: reads plus writes)"
            counters, instance = usable, ""
        now = transport.si.CurrentTime() if getattr(transport, "si", None) is not None else datetime.now(timezone.utc)
        trips += 1
        period = chosen["sampling_period"]
        end = now.replace(microsecond=0)
        start = end - timedelta(seconds=window_s)
        names = {key: name for key, (name, _) in counters.items()}
        metric_ids = [vim.PerformanceManager.MetricId(counterId=key, instance=instance) for key in sorted(counters)]
        per_query = max(1, MAX_QUERY_METRICS // len(metric_ids))
        per_vm: dict[str, Any] = {}
        refs = [(child.facts["vm"]["moref"], vim.VirtualMachine(child.facts["vm"]["moref"], manager._stub))
                for child in vms if child.facts["vm"].get("moref") and child.facts["vm"].get("template") is not True]
        for batch in batches(refs, per_query):
            specs = [vim.PerformanceManager.QuerySpec(entity=ref, startTime=start, endTime=end, intervalId=period,
                                                      metricId=metric_ids, format="csv") for _, ref in batch]
            answers = manager.QueryPerf(querySpec=specs) or []
            trips += 1
            if hasattr(transport, "count"):
                transport.count()
            by_moref = {answer.entity._moId: answer for answer in answers}
            for moref, _ in batch:
                answer = by_moref.get(moref)
                stamps, series = parse_csv_metric(answer, names) if answer is not None else ([], {})
                per_vm[moref] = {**summarize(series, stamps, period, window_s), "note": summary.get("note")}
        summary["round_trips"] = trips
        return summary, per_vm
