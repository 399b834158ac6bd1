"""The `readiness` command line.

Verbs: `scan` (collect and judge), `evaluate` (re-judge saved facts, no
network), `rules list|show|check|coverage`, and `facts` (dump what a scan
collects).  Exit codes follow the report contract: 0 gate passed, 1 gate
failed, 2 usage or input error (one line, no traceback), 3 nothing judged.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Iterable, Iterator
from importlib import resources
from pathlib import Path
from typing import NoReturn

import yaml

from readiness import __version__
from readiness.catalog import default_catalog
from readiness.cli_matrix import COMMANDS as MATRIX_COMMANDS
from readiness.cli_matrix import add_matrix_command, matrix_option
from readiness.cli_output import COMMANDS as OUTPUT_COMMANDS
from readiness.cli_output import (
    add_commands,
    add_log_options,
    add_output_options,
    known_ids,
    output_options,
    start_logging,
)
from readiness.errors import ReadinessError, UsageError
from readiness.facts import FactsWriter, TargetFacts, facts_header
from readiness.gate import (  # noqa: F401  (exit codes re-exported for tests)
    EXIT_GATE,
    EXIT_NOTHING,
    EXIT_OK,
    EXIT_USAGE,
    FAIL_ON,
    GateOptions,
    GateResult,
)
from readiness.guests import GuestScan, add_guest_options, guest_options
from readiness.inputs import read_inputs
from readiness.inventory import inventory_targets
from readiness.judging import JudgeOptions, judge_and_report, load_waivers
from readiness.matrix import DEFAULT_MATRIX, load_matrix, matrix_files
from readiness.merge import merge_stream
from readiness.proxy import proxy_flag
from readiness.reporters import OutputOptions, parse_reporters
from readiness.rulepack import Rule, default_rules, load_pack, load_rules
from readiness.scan import now_iso, scan
from readiness.settings import Endpoint, NetworkSettings, Plan, ScanSettings
from readiness.targets import Target, parse_target
from readiness.util import bounded, load_yaml

#: Numeric option types with their ranges: a value outside is a usage error (exit 2, one line), not a hang or a crash.
SECONDS = bounded(float, 0, low_open=True)
SCORE = bounded(float, 0, 100)
WORKERS = bounded(int, 1, 1024)
COUNT = bounded(int, 0)
AMOUNT = bounded(float, 0)


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"readiness: error: {message} (see '{self.prog} --help')\n")


def _add_judging_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--role", action="append", default=[], metavar="ROLE",
                        help="judge targets in this role (repeatable); default: detected from the OS")
    parser.add_argument("--scenario", action="append", default=[], metavar="NAME",
                        help="judge only this scenario (repeatable); default: every scenario the target's roles "
                             "take part in")
    add_output_options(parser)
    parser.add_argument("--fail-on", choices=list(FAIL_ON), default="blocker",
                        help="gate: fail on a not-ready target (blocker, default), also on warnings, or also on "
                             "any finding that could not be judged (error)")
    parser.add_argument("--allow-unjudged", action="store_true",
                        help="gate: a blocker that could not be judged does not fail the gate (recorded)")
    parser.add_argument("--soft-fail", action="store_true",
                        help="exit 0 whatever the gate says; the report is unchanged and records it")
    parser.add_argument("--fail-under", type=SCORE, metavar="SCORE", help="gate: fail when a target scores below")
    parser.add_argument("--show", choices=["failed", "all"], default="failed",
                        help="console display only: failed/error/waived findings (default) or all")
    parser.add_argument("--rules", action="append", default=[], type=Path, metavar="PACK.yaml",
                        help="use these rule packs instead of the shipped ones (repeatable)")
    matrix_option(parser)
    parser.add_argument("--waivers", type=Path, metavar="FILE", help="YAML list of accepted findings")
    parser.add_argument("--management-server", metavar="HOST",
                        help="the management server protected machines must reach on 443 and 9443")
    plan = parser.add_argument_group("planning inputs (sizing, cache and retention rules)")
    plan.add_argument("--planned-machines", type=COUNT, metavar="N",
                      help="machines to protect through the management server (MS-SIZE-001)")
    plan.add_argument("--daily-change-gb", type=AMOUNT, metavar="GB",
                      help="daily data change of those machines in GB (MS-SIZE-001)")
    plan.add_argument("--cache-drive", default="C:", metavar="X:",
                      help="install/cache volume of the management server (default C:)")
    plan.add_argument("--retention-drive", default="R:", metavar="X:",
                      help="retention volume of a Windows master target (default R:)")
    plan.add_argument("--keep-ip-on-failover", action="store_true", default=None,
                      help="replicated machines keep their IP addresses on failover (FB-CS-002: two NICs)")


def build_parser() -> Parser:
    parser = Parser(prog="readiness", description="Azure Site Recovery readiness validator.")
    parser.add_argument("--version", action="version", version=f"readiness {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    scan_p = sub.add_parser("scan", help="collect facts from targets and judge them")
    _add_collection_options(scan_p)
    _add_judging_options(scan_p)
    scan_p.add_argument("--save-facts", type=Path, metavar="PATH", help="also write the collected facts here")
    scan_p.add_argument("--workers", type=WORKERS, default=16, help="targets collected at once (default 16)")
    add_guest_options(scan_p)

    eval_p = sub.add_parser("evaluate", help="judge saved facts again, with no network")
    eval_p.add_argument("inputs", nargs="+", metavar="FILE",
                        help="saved facts files (--save-facts) and RVTools exports (.xlsx), globs too; judged as one "
                             "estate, views of one machine merged")
    _add_judging_options(eval_p)

    facts_p = sub.add_parser("facts", help="collect and print facts as JSON (nothing is judged)")
    _add_collection_options(facts_p)
    facts_p.add_argument("--role", action="append", default=[], metavar="ROLE")
    facts_p.add_argument("--raw", type=Path, metavar="OUT",
                         help="also write the Windows probe's raw output to OUT (a directory: one file per target)")
    facts_p.add_argument("--mask", action="store_true",
                         help="with --raw: replace host names, domain, users, addresses, MACs and serials")

    rules_p = sub.add_parser("rules", help="list, show or check rules")
    rules_sub = rules_p.add_subparsers(dest="rules_command", required=True, parser_class=Parser)
    list_p = rules_sub.add_parser("list", help="every rule with the requirements it covers")
    show_p = rules_sub.add_parser("show", help="one rule, by rule ID or requirement ID")
    show_p.add_argument("id")
    cov_p = rules_sub.add_parser("coverage", help="which catalog requirements have rules")
    for rules_user in (list_p, show_p, cov_p):
        rules_user.add_argument("--rules", action="append", default=[], type=Path, metavar="PACK.yaml")
        matrix_option(rules_user)
    check_p = rules_sub.add_parser("check", help="validate rule pack files")
    check_p.add_argument("paths", nargs="+", type=Path, metavar="PACK.yaml")
    add_commands(sub)
    add_matrix_command(sub)
    for command_parser in sub.choices.values():
        add_log_options(command_parser)
    return parser


def _add_collection_options(parser: argparse.ArgumentParser) -> None:
    """What every collecting command takes: targets, timeouts, SSH/inventory and network-check options."""
    parser.add_argument("targets", nargs="*", metavar="TARGET", help="local:// (default), ssh://, winrm://, vcenter://")
    parser.add_argument("--timeout", type=SECONDS, default=120.0, help="seconds a probe may run (default 120)")
    parser.add_argument("--connect-timeout", type=SECONDS, default=10.0, help="seconds to connect (default 10)")
    parser.add_argument("--deadline", type=SECONDS, metavar="SECONDS",
                        help="a target's whole budget (connect, log in, probe, read); past it the connection is "
                             "closed and the target is unknown (default: 4 x connect timeout + timeout)")
    _add_ssh_options(parser)
    _add_network_options(parser)


def _add_ssh_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("estates and SSH targets")
    group.add_argument("-i", "--inventory", type=Path, metavar="FILE",
                       help="hosts to scan: readiness YAML, Ansible INI/YAML inventory or inventory directory, "
                            "or one host per line")
    group.add_argument("-l", "--limit", metavar="PATTERN", help="only these inventory hosts/groups (Ansible syntax)")
    group.add_argument("--ssh-config", type=Path, metavar="FILE", help="ssh_config to read (default ~/.ssh/config)")
    group.add_argument("--accept-new-host-keys", action="store_true",
                       help="trust and record unknown SSH host keys (never changed ones); recorded in the report")
    group.add_argument("--become", action="store_true", help="run the probe through 'sudo -n' (never prompts)")


def _add_network_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("network checks")
    group.add_argument("--endpoints", type=Path, metavar="FILE", help="endpoints file (format of the shipped one)")
    group.add_argument("--proxy", metavar="URL", help="proxy for the network checks, http://[USER@]HOST:PORT "
                       "(password: READINESS_PROXY_PASSWORD or a prompt, never the URL; default: the environment's)")
    group.add_argument("--no-proxy", action="store_true", help="connect directly, ignoring proxy variables")
    group.add_argument("--vcenter", metavar="HOST", help="the vCenter/ESXi host a management server must reach on "
                       "443 (VC-NET-001), checked from the machine scanned")
    group.add_argument("--dns-server", metavar="IP[:PORT]", help="resolver for the DNS evidence (default: system)")
    group.add_argument("--port-check-host", metavar="HOST", help="host that listens on every port checked")
    group.add_argument("--time-url", metavar="URL", help="HTTPS URL whose Date header is the reference clock")
    group.add_argument("--network-timeout", type=SECONDS, default=5.0, help="seconds per network step (default 5)")
    group.add_argument("--ca-bundle", type=Path, metavar="PEM", help="CA bundle to verify TLS against")
    group.add_argument("--insecure", action="store_true",
                       help="do not verify TLS certificates of vCenter/WinRM (recorded in the report)")
    vc = parser.add_argument_group("vCenter targets")
    vc.add_argument("--vm", action="append", default=[], metavar="PATTERN",
                    help="judge only VMs whose name matches this glob (repeatable); default: every VM")
    vc.add_argument("--folder", action="append", default=[], metavar="PATH",
                    help="judge only VMs in this VM folder (name or path glob, repeatable)")
    vc.add_argument("--cluster", action="append", default=[], metavar="NAME",
                    help="judge only VMs running in this cluster (glob, repeatable)")
    vc.add_argument("--master-target", action="append", default=[], metavar="VM",
                    help="failback master target VM name or glob (repeatable: a Linux and a Windows one); each is "
                         "judged against the selected VMs of its OS family")
    vc.add_argument("--perf-window", type=float, default=7.0, metavar="DAYS",
                    help="days of vCenter statistics read for IOPS and daily change (default 7; the finest "
                         "historical interval holding them is used)")
    vc.add_argument("--no-perf", action="store_true", help="do not read vCenter performance statistics")


def load_network(args: argparse.Namespace) -> NetworkSettings:
    """The shipped endpoints file, then --endpoints, then the flags."""
    source = args.endpoints or resources.files("readiness.data").joinpath("endpoints.yaml")
    try:
        data = load_yaml(source.read_text()) or {}
        endpoints = [Endpoint(id=e["id"], url=e["url"], requirement=e["requirement"], pattern=e.get("pattern", ""))
                     for e in data.get("endpoints", [])]
    except (OSError, UnicodeDecodeError, yaml.YAMLError, KeyError, TypeError, AttributeError) as exc:
        raise UsageError(f"cannot read endpoints file {source}: {' '.join(str(exc).split())}") from None
    catalog = default_catalog()
    for endpoint in endpoints:
        if endpoint.requirement not in catalog.requirements:
            raise UsageError(f"endpoints file {source}: {endpoint.id} cites unknown requirement {endpoint.requirement}")
    proxy_url, proxy_password = proxy_flag(args.proxy, args.no_proxy)
    net = NetworkSettings(
        endpoints=endpoints,
        port_check_host=args.port_check_host or data.get("port_check_host", "portquiz.net"),
        outbound_ports=list(data.get("outbound_ports", [443, 9443, 80])),
        listener_ports=list(data.get("listener_ports", [443, 9443])),
        time_url=args.time_url if args.time_url is not None else (data.get("time_url") or ""),
        proxy=proxy_url,
        proxy_password=proxy_password,
        dns_servers=[args.dns_server] if args.dns_server else [],
        ca_bundle=str(args.ca_bundle) if args.ca_bundle else None,
        timeout_s=args.network_timeout,
    )
    return net




def select_rules(paths: list[Path], matrix: str = DEFAULT_MATRIX) -> list[Rule]:
    """The rule packs given (default: the shipped ones), their matrix params read from the named matrix."""
    return load_rules(paths, matrix=load_matrix(matrix)) if paths else list(default_rules(matrix))


def check_vocabulary(roles: list[str], scenarios: list[str]) -> None:
    catalog = default_catalog()
    for role in roles:
        if role not in catalog.roles:
            raise UsageError(f"unknown role {role!r} (known: {', '.join(catalog.roles)})")
    for scenario in scenarios:
        if scenario not in catalog.scenarios:
            raise UsageError(f"unknown scenario {scenario!r} (known: {', '.join(catalog.scenarios)})")








def _settings(args: argparse.Namespace) -> ScanSettings:
    settings = ScanSettings(roles=args.role, scenarios=getattr(args, "scenario", []), network=load_network(args),
                            connect_timeout_s=args.connect_timeout, command_timeout_s=args.timeout,
                            target_deadline_s=args.deadline,
                            ca_bundle=args.ca_bundle, insecure=args.insecure,
                            management_server=getattr(args, "management_server", None), vcenter=args.vcenter,
                            ssh_config=args.ssh_config, accept_new_host_keys=args.accept_new_host_keys,
                            become=args.become, vm_patterns=args.vm, vm_folders=args.folder,
                            vm_clusters=args.cluster, master_targets=args.master_target,
                            perf_window_days=None if args.no_perf else args.perf_window)
    if not args.no_perf and not 0 < args.perf_window <= 366:
        raise UsageError(f"--perf-window takes 0 to 366 days (got {args.perf_window})")
    if args.insecure:
        settings.notes.append("TLS certificate verification was turned off (--insecure)")
    if args.ssh_config is not None and not args.ssh_config.is_file():
        raise UsageError(f"--ssh-config {args.ssh_config}: no such file")
    if args.ca_bundle is not None and not args.ca_bundle.is_file():
        raise UsageError(f"--ca-bundle {args.ca_bundle}: no such file")
    return settings


def _targets(texts: list[str], args: argparse.Namespace | None = None) -> list[Target]:
    """Targets named on the command line, then the inventory's (after --limit); local:// when none."""
    targets = [parse_target(t) for t in texts]
    inventory = getattr(args, "inventory", None)
    if inventory is not None:
        catalog = default_catalog()
        targets += inventory_targets(inventory, args.limit, catalog.roles, catalog.scenarios)
    elif getattr(args, "limit", None):
        raise UsageError("--limit needs an inventory (-i FILE)")
    return targets or [parse_target("local://")]


def _saving(facts: Iterator[TargetFacts], path: Path | None) -> Iterator[TargetFacts]:
    """Pass facts through, streaming them to a facts file when asked."""
    if path is None:
        yield from facts
        return
    writer = FactsWriter(path)
    try:
        for target in facts:
            writer.add(target)
            yield target
    finally:
        writer.close()


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


def _judging(args: argparse.Namespace, rules: list[Rule]) -> tuple[JudgeOptions, GateOptions, OutputOptions]:
    """The judging, gate and display flags, turned into values once (checked before anything is scanned)."""
    options = JudgeOptions(rules=tuple(rules), scenarios=tuple(dict.fromkeys(args.scenario)),
                           waivers=tuple(load_waivers(args.waivers, known_ids(rules))), plan=plan_from(args),
                           management_server=args.management_server,
                           catalog_scenarios=tuple(sorted(default_catalog().scenarios)),
                           matrix=load_matrix(args.matrix).info())
    gate_options = GateOptions(fail_on=args.fail_on, fail_under=args.fail_under,
                               allow_unjudged=args.allow_unjudged, soft_fail=args.soft_fail)
    return options, gate_options, output_options(args)


#: Blockers not judged named on stderr before the rest is left to the report (an estate can have thousands).
UNJUDGED_LINES = 20


def _finish(result: GateResult, gate_options: GateOptions) -> int:
    """The exit code; blockers that could not be judged are named on stderr, so a gate never passes (or fails)
    on them silently."""
    accepted = " (accepted: --allow-unjudged)" if gate_options.allow_unjudged else ""
    for line in result.unjudged[:UNJUDGED_LINES]:
        print(f"readiness: blocker not judged{accepted}: {line}", file=sys.stderr)
    if len(result.unjudged) > UNJUDGED_LINES:
        print(f"readiness: ... and {len(result.unjudged) - UNJUDGED_LINES} more blocker(s) not judged (each target's "
              "`unjudged` in the JSON report lists them all)", file=sys.stderr)
    return result.exit_code


def cmd_scan(args: argparse.Namespace) -> int:
    started, started_at = time.monotonic(), now_iso()
    check_vocabulary(args.role, args.scenario)
    targets = _targets(args.targets, args)
    rules = select_rules(args.rules, args.matrix)
    settings = _settings(args)
    settings.notes.append(load_matrix(args.matrix).note())  # every report format shows which matrix judged
    specs = parse_reporters(args.reporter)
    options, gate_options, output = _judging(args, rules)
    if (guests := guest_options(args)) is not None:  # vCenter VMs scanned from inside too: readiness/guests.py
        if not any(t.scheme == "vcenter" for t in targets):
            raise UsageError("--guests needs a vcenter:// target (its VMs are the guests scanned)")
        guest_scan = GuestScan(targets, settings, rules, args.workers, guests)
        facts = guest_scan.merge(_saving(iter(guest_scan), args.save_facts))
    else:
        facts = _saving(scan(targets, settings, rules, workers=args.workers), args.save_facts)
        facts = merge_stream(facts, {t.scheme for t in targets})  # a vCenter VM and its guest scan: one machine
    result = judge_and_report(facts, options, specs, output, gate_options, settings.notes, started, started_at,
                              total=len(targets))
    return _finish(result, gate_options)


def _with_roles(targets: Iterable[TargetFacts], roles: list[str]) -> Iterator[TargetFacts]:
    """--role on evaluate: every target judged in these roles (streamed, like the targets)."""
    for target in targets:
        target.roles = list(roles)
        yield target


def cmd_evaluate(args: argparse.Namespace) -> int:
    started, started_at = time.monotonic(), now_iso()
    check_vocabulary(args.role, args.scenario)
    rules = select_rules(args.rules, args.matrix)
    specs = parse_reporters(args.reporter)
    options, gate_options, output = _judging(args, rules)
    targets, notes = read_inputs(args.inputs)
    notes = [*notes, load_matrix(args.matrix).note()]  # every report format shows which matrix judged
    if args.role:
        targets = _with_roles(targets, list(args.role))
    result = judge_and_report(targets, options, specs, output, gate_options, notes, started, started_at)
    return _finish(result, gate_options)


def cmd_facts(args: argparse.Namespace) -> int:
    check_vocabulary(args.role, [])
    settings = _settings(args)
    settings.collect_all = True
    targets = _targets(args.targets, args)
    if args.mask and args.raw is None:
        raise UsageError("--mask needs --raw OUT")
    if args.raw is not None and len(targets) > 1 and not args.raw.is_dir():
        raise UsageError(f"--raw {args.raw}: several targets need an existing directory")
    settings.raw_output, settings.raw_mask = args.raw, args.mask
    rules = list(default_rules())
    collected = [t.to_json() for t in scan(targets, settings, rules)]
    print(json.dumps({**facts_header(), "targets": collected}, indent=2))
    return EXIT_NOTHING if all(t["error"] for t in collected) else EXIT_OK


def cmd_rules(args: argparse.Namespace) -> int:
    if args.rules_command == "check":
        total = 0
        for path in args.paths:  # against every shipped matrix: a rule must find its entries in each
            total += len(load_pack(path))
            for name in matrix_files():
                load_pack(path, matrix=load_matrix(name))
        print(f"ok: {total} rule(s) in {len(args.paths)} file(s) are valid")
        return EXIT_OK
    rules = select_rules(args.rules, args.matrix)
    catalog = default_catalog()
    if args.rules_command == "show":
        matches = [r for r in rules if r.id == args.id or args.id in r.requirements]
        if not matches:
            raise UsageError(f"no rule has ID or requirement {args.id!r} ('readiness rules list' lists them)")
        for rule in matches:
            print(yaml.safe_dump(rule.as_dict(), sort_keys=False, allow_unicode=True, width=110).rstrip())
            print()
        return EXIT_OK
    covered = {req for rule in rules for req in rule.requirements}
    if args.rules_command == "coverage":
        for req in catalog.requirements.values():
            mark = "covered" if req.id in covered else "-------"
            print(f"{mark}  {req.id:<16} {req.severity:<8} {','.join(req.roles)}")
        print(f"{len(covered)} of {len(catalog.requirements)} catalog requirements have rules")
        return EXIT_OK
    for rule in rules:
        print(f"{rule.id:<6} {rule.severity:<8} {','.join(rule.requirements):<28} "
              f"{','.join(rule.roles):<36} {rule.title}")
    print(f"{len(rules)} rules covering {len(covered)} of {len(catalog.requirements)} catalog requirements")
    return EXIT_OK


COMMANDS = {"scan": cmd_scan, "evaluate": cmd_evaluate, "facts": cmd_facts, "rules": cmd_rules, **OUTPUT_COMMANDS,
            **MATRIX_COMMANDS}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        start_logging(args)
        return COMMANDS[args.command](args)
    except ReadinessError as exc:
        # one line whatever the message (a YAML error quoted in it spans several): the contract of exit 2
        print("readiness: error: " + "; ".join(p.strip() for p in str(exc).splitlines() if p.strip()), file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("readiness: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:
        if os.environ.get("READINESS_DEBUG"):
            raise
        print(f"readiness: internal error: {type(exc).__name__}: {exc} (READINESS_DEBUG=1 shows the traceback)",
              file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
