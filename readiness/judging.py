"""Judge collected facts and stream the report to the reporters: waivers, planning inputs, the estate target, gate.

The command line resolves its flags once into a `JudgeOptions` and a `GateOptions`; nothing here reads an
argparse namespace.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from readiness.engine import Waiver, judge_target, target_scenarios
from readiness.estate import capacity, digest, estate_target
from readiness.facts import TargetFacts
from readiness.gate import GateOptions, GateResult, gate
from readiness.progress import ScanProgress
from readiness.report import build_report, report_header, target_entry
from readiness.reporters import OutputOptions, ReporterSpec, ReportStream
from readiness.rulepack import Rule
from readiness.settings import Plan
from readiness.waiverfile import load_waivers  # noqa: F401  (moved; re-exported for the CLI)

#: Exit code of a scan stopped with Ctrl-C (128 + SIGINT, as shells report it).
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class JudgeOptions:
    """What judging needs, resolved once from the command line."""

    rules: tuple[Rule, ...]
    scenarios: tuple[str, ...] = ()  # --scenario; empty: each target's roles decide
    waivers: tuple[Waiver, ...] = ()
    plan: Plan = field(default_factory=Plan)
    management_server: str | None = None
    catalog_scenarios: tuple[str, ...] = ()  # every scenario of the catalog, for the report header
    matrix: dict[str, str] | None = None  # the support matrix the rules' limits came from: name, date, source


def _judge(target: TargetFacts, options: JudgeOptions, plan: dict[str, object]) -> dict[str, object]:
    findings = judge_target(target, options.rules, options.scenarios, options.waivers, options.management_server,
                            plan=plan)
    return target_entry(target, findings, target_scenarios(options.rules, target.roles, options.scenarios))


def _estate_entry(digests: list[dict[str, object]], options: JudgeOptions,
                  plan: dict[str, object]) -> dict[str, object]:
    """The estate's entry: judged on the digests; `unknown` with the reason when no machine could be read."""
    whole = estate_target(digests)
    if not digests:
        whole.error = "no machine of this run could be read, so nothing about the set can be judged"
    return _judge(whole, options, plan)


#: The rules whose verdicts the capacity table shows beside a VM's measured figures.
CAPACITY_RULES = {"RP001": "iops", "RP002": "disk_iops", "RP003": "daily_change"}


def capacity_row(target: TargetFacts, entry: dict[str, object]) -> dict[str, object] | None:
    """One VM's line of the capacity table (vCenter statistics and the verdicts on them), or None without them."""
    perf = target.facts.get("perf")
    if not perf:
        return None
    verdicts = {CAPACITY_RULES[f["rule_id"]]: f["status"] for f in entry["findings"]  # type: ignore[attr-defined]
                if f["rule_id"] in CAPACITY_RULES}
    return {"name": target.name, "peak_iops": perf["peak_iops"], "p95_iops": perf["p95_iops"],
            "busiest_disk_iops": max((d["peak_iops"] or 0 for d in perf["disks"]), default=None),
            "peak_churn_mbps": perf["peak_churn_mbps"], "avg_churn_mbps": perf["avg_churn_mbps"],
            "daily_change_gb": perf["daily_change_gb"], "peak_daily_change_gb": perf["peak_daily_change_gb"],
            "coverage": perf["coverage"], "stars": perf["stars"], "verdicts": verdicts}


def judge_and_report(facts: Iterable[TargetFacts], options: JudgeOptions, specs: list[ReporterSpec],
                     output: OutputOptions, gate_options: GateOptions, notes: list[str], started: float,
                     started_at: str, total: int = 0) -> GateResult:
    """Judge each target as it arrives and stream it to every reporter (with a progress bar on a terminal);
    then judge the estate, gate the report and finish it."""
    plan = options.plan.as_facts()
    header_scenarios = list(options.scenarios or options.catalog_scenarios)
    entries = []
    digests = []
    capacity_rows = []
    with ReportStream(specs, output) as stream, ScanProgress(total, enabled=None if total > 1 else False) as bar:
        stream.begin(report_header(started_at=started_at, scenarios=header_scenarios, rules_count=len(options.rules)))
        interrupted = False
        try:
            for target in facts:
                entry = _judge(target, options, plan)
                stream.add(entry)
                entries.append({**entry, "findings": []})  # streamed already: keep the verdict, not the findings
                if (summary := digest(target)) is not None:
                    digests.append(summary)
                if (row := capacity_row(target, entry)) is not None:
                    capacity_rows.append(row)
                bar.advance(entry)
        except KeyboardInterrupt:  # Ctrl-C: what finished is reported, marked interrupted (scan.py abandons the rest)
            interrupted = True
            notes = [*notes, f"interrupted (Ctrl-C) after {len(entries)} of {total or '?'} targets: targets still "
                             "being collected were abandoned and are not in this report"]
        # Requirements about the set, not one machine (capacity, failback set, policy groups).
        estate = _estate_entry(digests, options, plan) if len(entries) > 1 else None
        if not options.scenarios:
            judged = {r["scenario"] for e in entries for r in e["scenario_results"]}  # type: ignore[attr-defined]
            notes = [*notes, "no --scenario given: each target was judged in the scenarios its roles take part "
                             f"in ({', '.join(s for s in header_scenarios if s in judged) or 'none'}); "
                             "see scenario_results"]
        report = build_report(entries, started_at=started_at, duration_s=time.monotonic() - started,
                              scenarios=header_scenarios, notes=notes, rules_count=len(options.rules), estate=estate)
        if options.matrix:
            report["matrix"] = options.matrix
        if capacity_rows:  # measured load of each VM and the estate's totals (issue 13), for people and proposals
            report["capacity"] = {"totals": capacity(digests), "vms": capacity_rows}
        result = gate(report, gate_options)
        if interrupted:
            report["interrupted"] = True
            result = dataclasses.replace(result, exit_code=EXIT_INTERRUPTED)
        report["gate"] = result.record(gate_options)
        stream.end(report)
    return result
