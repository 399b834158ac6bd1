"""Judge collected facts and hand the report to the reporters: waivers, planning inputs, the estate target."""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Iterable
from datetime import date
from pathlib import Path

import yaml

from readiness.catalog import default_catalog
from readiness.engine import Waiver, judge_target
from readiness.errors import UsageError
from readiness.estate import digest, estate_target
from readiness.facts import TargetFacts
from readiness.gate import gate
from readiness.progress import ScanProgress
from readiness.report import build_report, target_entry
from readiness.reporters import ReporterSpec, emit
from readiness.rulepack import Rule
from readiness.settings import Plan
from readiness.util import load_yaml


def load_waivers(path: Path | None) -> list[Waiver]:
    """Waivers: id, justification (required), targets (glob), expires (YYYY-MM-DD)."""
    if path is None:
        return []
    try:
        data = load_yaml(path.read_text()) or []
    except (OSError, yaml.YAMLError) as exc:
        raise UsageError(f"cannot read waivers file {path}: {exc}") from None
    waivers = []
    for index, entry in enumerate(data if isinstance(data, list) else [None]):
        if not isinstance(entry, dict) or not entry.get("id") or not str(entry.get("justification", "")).strip():
            raise UsageError(f"{path}: waiver #{index + 1} needs an id and a justification")
        expires = entry.get("expires")
        if expires is not None and not isinstance(expires, date):
            try:
                expires = date.fromisoformat(str(expires))
            except ValueError:
                raise UsageError(f"{path}: waiver #{index + 1} expires {expires!r} is not YYYY-MM-DD") from None
        waivers.append(Waiver(id=str(entry["id"]), justification=str(entry["justification"]).strip(),
                              targets=str(entry.get("targets", "*")), expires=expires))
    return waivers


def plan_from(args: argparse.Namespace) -> Plan:
    """The planning inputs of the command line, checked (they are not collected facts)."""
    for flag, value in (("--planned-machines", args.planned_machines), ("--daily-change-gb", args.daily_change_gb)):
        if value is not None and value < 0:
            raise UsageError(f"{flag} must not be negative (got {value})")
    for flag, drive in (("--cache-drive", args.cache_drive), ("--retention-drive", args.retention_drive)):
        if not re.fullmatch(r"[A-Za-z]:", drive):
            raise UsageError(f"{flag} takes a drive letter like C: (got {drive!r})")
    return Plan(planned_machines=args.planned_machines, daily_change_gb=args.daily_change_gb,
                cache_drive=args.cache_drive, retention_drive=args.retention_drive,
                keep_ip_on_failover=args.keep_ip_on_failover)


def judge_and_report(facts: Iterable[TargetFacts], args: argparse.Namespace, rules: list[Rule],
                     notes: list[str], started: float, started_at: str, total: int = 0) -> int:
    """Judge each target as it arrives (with a progress bar on a terminal), render every reporter."""
    specs: list[ReporterSpec] = args.reporter_specs
    waivers = load_waivers(args.waivers)
    plan = plan_from(args).as_facts()
    entries = []
    digests = []
    with ScanProgress(total, enabled=None if total > 1 else False) as progress:
        for target in facts:
            entries.append(target_entry(target, judge_target(target, rules, args.scenario, waivers,
                                                             args.management_server, plan=plan)))
            if (summary := digest(target)) is not None:
                digests.append(summary)
            progress.advance(entries[-1])
    estate = None
    if len(entries) > 1:  # requirements about the set, not one machine (capacity, failback set, policy groups)
        whole = estate_target(digests)
        estate = target_entry(whole, judge_target(whole, rules, args.scenario, waivers, args.management_server,
                                                  plan=plan))
    report = build_report(entries, started_at=started_at, duration_s=time.monotonic() - started,
                          scenarios=args.scenario or sorted(default_catalog().scenarios), notes=notes,
                          rules_count=len(rules), estate=estate)
    emit(specs, report, {"show": args.show})
    return gate(report, args.fail_on, args.fail_under)
