"""The pipeline: targets -> transports -> collectors -> facts -> findings.

One target's failure (unreachable, refused, garbage output, even a bug in a
collector) never aborts the scan: it becomes an `unknown` target with the
reason.  Targets are collected on a bounded worker pool and handed on as they
finish, so memory stays flat however large the estate.

Every target has one overall deadline (connect + authentication + probe +
reading it back).  A watchdog closes the transport when it passes, whatever
the peer does, and a worker that still does not come back is abandoned (its
thread is a daemon): the scan reports the target `unknown` and goes on.  The
same daemon threads are why Ctrl-C ends a scan at once.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from typing import Any

from readiness.checks.base import CollectContext
from readiness.checks.registry import load_collectors
from readiness.engine import applies
from readiness.errors import ReadinessError
from readiness.facts import TargetFacts
from readiness.rulepack import Rule
from readiness.settings import ScanSettings
from readiness.targets import Target
from readiness.transports import Transport, transport_for

#: Roles a target gets when none is given, by what its facts say it is.
DEFAULT_ROLES = {"linux": ["protected-linux"], "windows": ["protected-windows"], "vsphere": ["vcenter"]}

#: How long after its deadline a worker may take to come back (closing unblocks it) before it is abandoned.
ABANDON_GRACE_S = 2.0
#: How often the scan loop wakes up to look for overdue workers (and lets Ctrl-C in).
POLL_S = 0.2


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
        from readiness.checks.windows.roles import windows_roles
        return windows_roles(facts, local=target.scheme == "local")
    return list(DEFAULT_ROLES.get(family, []))


def needed_namespaces(rules: Iterable[Rule], roles: list[str], scenarios: list[str]) -> set[str]:
    """Fact namespaces the in-scope rules read; collectors of others are skipped."""
    return {path.split(".")[0] for rule in rules if applies(rule, roles, scenarios) for path in rule.fact_paths}


class Watchdog:
    """Closes a transport when its target's overall deadline passes, whatever the peer does.

    Generic on purpose: every transport's `close()` must unblock a call stuck in it (a socket read, an
    SSH channel wait, an HTTP request), so one timer covers SSH, WinRM and vCenter alike.
    """

    def __init__(self) -> None:
        self.fired = threading.Event()
        self.deadline_s: float | None = None
        self.expires: float | None = None  # monotonic time the deadline passes
        self._timer: threading.Timer | None = None

    def arm(self, transport: Transport) -> None:
        self.deadline_s = transport.deadline_s()
        self.expires = time.monotonic() + self.deadline_s
        self._timer = threading.Timer(self.deadline_s, self._fire, (transport,))
        self._timer.daemon = True
        self._timer.start()

    def _fire(self, transport: Transport) -> None:
        self.fired.set()
        transport.close()

    def disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def message(self) -> str:
        return (f"no result within the {self.deadline_s or 0:g} s deadline for this target (connect, authentication, "
                "probe and reading it back); the connection was closed")


def collect_target(target: Target, settings: ScanSettings, rules: list[Rule],
                   watchdog: Watchdog | None = None) -> list[TargetFacts]:
    """Collect one target (a vCenter target may yield more: its VMs and hosts), within its deadline."""
    start = time.monotonic()
    watchdog = watchdog or Watchdog()
    result = blank_facts(target, settings)
    children: list[TargetFacts] = []
    transport = None
    try:
        transport = transport_for(target, settings)
        watchdog.arm(transport)
        with transport:
            provisional = detect_roles(target, settings, {"os": {"family": {"posix": "linux"}.get(
                transport.platform, transport.platform)}})
            wanted = needed_namespaces(rules, provisional, settings.scenarios)
            ctx = CollectContext(transport=transport, settings=settings, wanted=wanted)
            for collector in load_collectors(transport.platform, transport.is_local):  # only this transport's
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
    finally:
        watchdog.disarm()
    if watchdog.fired.is_set() and result.error:  # whatever the interrupted call raised, the deadline is the reason
        result.error, result.facts, result.gaps, children = watchdog.message(), {}, {}, []
    result.notes += getattr(transport, "notes", [])  # e.g. a host key accepted with --accept-new-host-keys
    result.duration_s = round(time.monotonic() - start, 3)
    return [result, *children]


def blank_facts(target: Target, settings: ScanSettings) -> TargetFacts:
    """A target's record before anything is collected (an unreachable target keeps its roles)."""
    return TargetFacts(uri=target.uri, name=target.display_name, scheme=target.scheme, collected_at=now_iso(),
                       notes=list(settings.notes), roles=list(target.roles or settings.roles))


class _Worker:
    """One target in flight on its own daemon thread (abandoned, not joined, when it overruns or on Ctrl-C)."""

    def __init__(self, target: Target, settings: ScanSettings, rules: list[Rule],
                 done: queue.Queue[tuple[_Worker, list[TargetFacts]]]) -> None:
        self.target, self.settings = target, settings
        self.watchdog = Watchdog()
        self.started = time.monotonic()
        self._thread = threading.Thread(target=self._run, args=(rules, done), daemon=True,
                                        name=f"readiness {target.display_name}")
        self._thread.start()

    def _run(self, rules: list[Rule], done: queue.Queue[tuple[_Worker, list[TargetFacts]]]) -> None:
        try:
            batch = collect_target(self.target, self.settings, rules, self.watchdog)
        except BaseException as exc:  # the scan must hear back from every worker, whatever happened
            batch = [blank_facts(self.target, self.settings)]
            batch[0].error = f"internal error while collecting: {type(exc).__name__}: {exc}"
        done.put((self, batch))

    def overdue(self, now: float) -> bool:
        return self.watchdog.expires is not None and now > self.watchdog.expires + ABANDON_GRACE_S

    def abandoned(self) -> TargetFacts:
        result = blank_facts(self.target, self.settings)
        result.error = self.watchdog.message() + " (and the worker did not come back; abandoned)"
        result.duration_s = round(time.monotonic() - self.started, 3)
        return result


def scan(targets: Iterable[Target], settings: ScanSettings, rules: list[Rule], workers: int = 16
         ) -> Iterator[TargetFacts]:
    """Collect every target, at most `workers` at once; yield each target's facts as soon as it is done.

    Every target comes back exactly once: with its facts, its error, or the deadline.  Stopping the
    iteration (Ctrl-C) leaves the running workers behind; they are daemon threads and die with the process.
    """
    done: queue.Queue[tuple[_Worker, list[TargetFacts]]] = queue.Queue()
    running: set[_Worker] = set()
    pending = iter(targets)
    exhausted = False
    while True:
        while not exhausted and len(running) < max(1, workers):
            target = next(pending, None)
            if target is None:
                exhausted = True
            else:
                running.add(_Worker(target, settings, rules, done))
        if not running:
            return
        try:
            worker, batch = done.get(timeout=POLL_S)
        except queue.Empty:
            worker, batch = None, []
        if worker in running:  # an abandoned worker's late answer was already reported
            running.discard(worker)
            yield from batch
        now = time.monotonic()  # checked on every turn: a busy estate must not hide a stuck worker
        for late in [w for w in running if w.overdue(now)]:
            running.discard(late)
            yield late.abandoned()
