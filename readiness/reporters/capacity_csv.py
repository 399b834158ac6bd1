"""The capacity table as CSV (`--reporter capacity-csv:PATH`), for a consultant's proposal or a spreadsheet.

One row per VM with vCenter statistics: its measured load (peak and 95th percentile IOPS, the busiest disk,
churn, daily change), how much of the window the samples cover, and the verdicts on them.  The estate's totals
(storage accounts, process servers, cache, bandwidth) are in the JSON and HTML reports.  Written with the csv
module at the end of the run: the rows are a few hundred bytes per VM, kept by the judging loop.
"""

from __future__ import annotations

import csv
from typing import Any

from readiness.reporters.base import Reporter

COLUMNS = ("name", "peak_iops", "p95_iops", "busiest_disk_iops", "peak_churn_mbps", "avg_churn_mbps",
           "daily_change_gb", "peak_daily_change_gb", "coverage", "stars", "iops", "disk_iops", "daily_change")


class CapacityCsvReporter(Reporter):
    def end(self, report: dict[str, Any]) -> None:
        writer = csv.writer(self.out, lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in (report.get("capacity") or {}).get("vms", []):
            flat = {**row, **row.get("verdicts", {})}
            writer.writerow(["" if flat.get(column) is None else flat[column] for column in COLUMNS])
