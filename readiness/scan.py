"""The pipeline: targets -> transports -> collectors -> facts -> findings.

One target's failure (unreachable, refused, garbage output, even a bug in a
collector) never aborts the scan: it becomes an `unknown` target with the
reason.  Targets are collected on a bounded worker pool and handed on as they
finish, so memory stays flat however large the estate.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import datetime, timezone
from typing import Any, TypeVar

from checks.base import CollectContext
from checks.registry import load_collectors
from readiness.engine import applies
from readiness.errors import ReadinessError
from readiness.facts import TargetFacts
from readiness.rulepack import Rule
from readiness.settings import ScanSettings
from readiness.targets import Target
from readiness.transports import transport_for

#: Roles a target gets when none is given, by what its facts say it is.
DEFAULT_ROLES = {"linux": ["protected-linux"], "windows": ["protected-windows"], "vsphere": ["vcenter"]}

T = TypeVar("T")
R = TypeVar("R")


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def detect_roles(target: Target, settings: ScanSettings, facts: dict[str, Any]) -> list[str]:
    """Explicit roles (CLI, inventory) win; otherwise the OS family decides."""
    if target.roles:
        return list(target.roles)
    if settings.roles:
        return list(settings.roles)
    family = (facts.get("os") or {}).get("family", "") or ("vsphere" if target.scheme == "vcenter" else "")
    if family == "windows":  # Hyper-V host, VMM server, local management server: checks/windows/roles.py
        from checks.windows.roles import windows_roles
        return windows_roles(facts, local=target.scheme == "local")
    return list(DEFAULT_ROLES.get(family, []))


def needed_namespaces(rules: Iterable[Rule], roles: list[str], scenarios: list[str]) -> set[str]:
    """Fact namespaces the in-scope rules read; collectors of others are skipped."""
    return {path.split(".")[0] for rule in rules if applies(rule, roles, scenarios) for path in rule.fact_paths}


def collect_target(target: Target, settings: ScanSettings, rules: list[Rule]) -> list[TargetFacts]:
    """Collect one target (a vCenter target may yield more: its VMs and hosts)."""
    start = time.monotonic()
    result = TargetFacts(uri=target.uri, name=target.display_name, scheme=target.scheme,
                         collected_at=now_iso(), notes=list(settings.notes),
                         roles=list(target.roles or settings.roles))  # an unreachable target keeps its roles
    children: list[TargetFacts] = []
    transport = None
    try:
        transport = transport_for(target, settings)
        with transport:
            provisional = detect_roles(target, settings, {"os": {"family": {"posix": "linux"}.get(
                transport.platform, transport.platform)}})
            wanted = needed_namespaces(rules, provisional, settings.scenarios)
            ctx = CollectContext(transport=transport, settings=settings, wanted=wanted)
            for collector in load_collectors():
                if not collector.applies(transport):
                    continue
                if collector.local_only and not settings.collect_all and not wanted & set(collector.namespaces):
                    continue  # optional extras (network checks, psutil) only when a rule needs them
                ctx.facts.update(collector.collect(ctx))
            children = ctx.children
            result.facts, result.gaps = ctx.facts, ctx.gaps
            result.name = target.name or target.options.get("name") or (
                (ctx.facts.get("host") or {}).get("hostname") or target.display_name)
            result.roles = detect_roles(target, settings, ctx.facts)
    except ReadinessError as exc:
        result.error = str(exc)
    except Exception as exc:  # a collector bug must not abort an estate scan
        result.error = f"internal error while collecting: {type(exc).__name__}: {exc}"
    result.notes += getattr(transport, "notes", [])  # e.g. a host key accepted with --accept-new-host-keys
    result.duration_s = round(time.monotonic() - start, 3)
    return [result, *children]


def bounded_map(func: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[R]:
    """Like pool.map, unordered, with at most `workers` items in flight (flat memory)."""
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        pending: set[Future[R]] = set()
        for item in items:
            if len(pending) >= workers:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
            pending.add(pool.submit(func, item))
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()


def scan(targets: Iterable[Target], settings: ScanSettings, rules: list[Rule], workers: int = 16
         ) -> Iterator[TargetFacts]:
    """Collect every target; yield each target's facts as soon as it is done."""
    for batch in bounded_map(lambda t: collect_target(t, settings, rules), targets, workers):
        yield from batch
