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
import sys
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import NoReturn

import yaml

from readiness import __version__
from readiness.catalog import default_catalog
from readiness.errors import ReadinessError, UsageError
from readiness.facts import FactsWriter, TargetFacts, facts_header, read_facts
from readiness.gate import EXIT_GATE, EXIT_NOTHING, EXIT_OK, EXIT_USAGE  # noqa: F401  (re-exported for tests)
from readiness.inventory import inventory_targets
from readiness.judging import judge_and_report, load_waivers
from readiness.reporters import check_destinations, parse_reporter
from readiness.rulepack import Rule, default_rules, load_pack, load_rules
from readiness.scan import now_iso, scan
from readiness.settings import Endpoint, NetworkSettings, ScanSettings
from readiness.targets import Target, parse_target
from readiness.util import load_yaml


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"readiness: error: {message} (see '{self.prog} --help')\n")


def _add_judging_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--role", action="append", default=[], metavar="ROLE",
                        help="judge targets in this role (repeatable); default: detected from the OS")
    parser.add_argument("--scenario", action="append", default=[], metavar="NAME",
                        help="limit rules to this scenario (repeatable); default: all")
    parser.add_argument("--reporter", nargs="+", action="extend", default=[], metavar="FORMAT[:PATH]",
                        help="cli, json:PATH, junit:PATH, html:PATH (json:- for stdout); default: cli")
    parser.add_argument("--fail-on", choices=["blocker", "warning"], default="blocker",
                        help="gate: fail on a not-ready target (blocker, default) or also on warnings")
    parser.add_argument("--fail-under", type=float, metavar="SCORE", help="gate: fail when a target scores below")
    parser.add_argument("--show", choices=["failed", "all"], default="failed",
                        help="console display only: failed/error/waived findings (default) or all")
    parser.add_argument("--rules", action="append", default=[], type=Path, metavar="PACK.yaml",
                        help="use these rule packs instead of the shipped ones (repeatable)")
    parser.add_argument("--waivers", type=Path, metavar="FILE", help="YAML list of accepted findings")
    parser.add_argument("--management-server", metavar="HOST",
                        help="the management server protected machines must reach on 443 and 9443")
    plan = parser.add_argument_group("planning inputs (sizing, cache and retention rules)")
    plan.add_argument("--planned-machines", type=int, metavar="N",
                      help="machines to protect through the management server (MS-SIZE-001)")
    plan.add_argument("--daily-change-gb", type=float, metavar="GB",
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
    scan_p.add_argument("--workers", type=int, default=16, help="targets collected at once (default 16)")

    eval_p = sub.add_parser("evaluate", help="judge saved facts again, with no network")
    eval_p.add_argument("facts_file", type=Path, metavar="FACTS.json")
    _add_judging_options(eval_p)

    facts_p = sub.add_parser("facts", help="collect and print facts as JSON (nothing is judged)")
    _add_collection_options(facts_p)
    facts_p.add_argument("--role", action="append", default=[], metavar="ROLE")

    rules_p = sub.add_parser("rules", help="list, show or check rules")
    rules_sub = rules_p.add_subparsers(dest="rules_command", required=True, parser_class=Parser)
    list_p = rules_sub.add_parser("list", help="every rule with the requirements it covers")
    show_p = rules_sub.add_parser("show", help="one rule, by rule ID or requirement ID")
    show_p.add_argument("id")
    cov_p = rules_sub.add_parser("coverage", help="which catalog requirements have rules")
    for rules_user in (list_p, show_p, cov_p):
        rules_user.add_argument("--rules", action="append", default=[], type=Path, metavar="PACK.yaml")
    check_p = rules_sub.add_parser("check", help="validate rule pack files")
    check_p.add_argument("paths", nargs="+", type=Path, metavar="PACK.yaml")
    return parser


def _add_collection_options(parser: argparse.ArgumentParser) -> None:
    """What every collecting command takes: targets, timeouts, SSH/inventory and network-check options."""
    parser.add_argument("targets", nargs="*", metavar="TARGET", help="local:// (default), ssh://, winrm://, vcenter://")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds a probe may run (default 120)")
    parser.add_argument("--connect-timeout", type=float, default=10.0, help="seconds to connect (default 10)")
    _add_ssh_options(parser)
    _add_network_options(parser)


def _add_ssh_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("estates and SSH targets")
    group.add_argument("-i", "--inventory", type=Path, metavar="FILE",
                       help="hosts to scan: readiness YAML, Ansible INI/YAML inventory, or one host per line")
    group.add_argument("--limit", metavar="PATTERN", help="only these inventory hosts/groups (Ansible syntax)")
    group.add_argument("--ssh-config", type=Path, metavar="FILE", help="ssh_config to read (default ~/.ssh/config)")
    group.add_argument("--accept-new-host-keys", action="store_true",
                       help="trust and record unknown SSH host keys (never changed ones); recorded in the report")
    group.add_argument("--become", action="store_true", help="run the probe through 'sudo -n' (never prompts)")


def _add_network_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("network checks")
    group.add_argument("--endpoints", type=Path, metavar="FILE", help="endpoints file (format of the shipped one)")
    group.add_argument("--proxy", metavar="URL", help="proxy for the network checks (default: the environment's)")
    group.add_argument("--no-proxy", action="store_true", help="connect directly, ignoring proxy variables")
    group.add_argument("--dns-server", metavar="IP[:PORT]", help="resolver for the DNS evidence (default: system)")
    group.add_argument("--port-check-host", metavar="HOST", help="host that listens on every port checked")
    group.add_argument("--time-url", metavar="URL", help="HTTPS URL whose Date header is the reference clock")
    group.add_argument("--network-timeout", type=float, default=5.0, help="seconds per network step (default 5)")
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
    vc.add_argument("--master-target", metavar="VM",
                    help="the failback master target VM, judged against the selected VMs")


def load_network(args: argparse.Namespace) -> NetworkSettings:
    """The shipped endpoints file, then --endpoints, then the flags."""
    source = args.endpoints or resources.files("readiness.data").joinpath("endpoints.yaml")
    try:
        data = load_yaml(source.read_text()) or {}
        endpoints = [Endpoint(id=e["id"], url=e["url"], requirement=e["requirement"], pattern=e.get("pattern", ""))
                     for e in data.get("endpoints", [])]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise UsageError(f"cannot read endpoints file {source}: {exc}") from None
    catalog = default_catalog()
    for endpoint in endpoints:
        if endpoint.requirement not in catalog.requirements:
            raise UsageError(f"endpoints file {source}: {endpoint.id} cites unknown requirement {endpoint.requirement}")
    net = NetworkSettings(
        endpoints=endpoints,
        port_check_host=args.port_check_host or data.get("port_check_host", "portquiz.net"),
        outbound_ports=list(data.get("outbound_ports", [443, 9443, 80])),
        listener_ports=list(data.get("listener_ports", [443, 9443])),
        time_url=args.time_url if args.time_url is not None else (data.get("time_url") or ""),
        proxy="" if args.no_proxy else args.proxy,
        dns_servers=[args.dns_server] if args.dns_server else [],
        ca_bundle=str(args.ca_bundle) if args.ca_bundle else None,
        timeout_s=args.network_timeout,
    )
    return net




def select_rules(paths: list[Path]) -> list[Rule]:
    return load_rules(paths) if paths else list(default_rules())


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
                            ca_bundle=args.ca_bundle, insecure=args.insecure,
                            management_server=getattr(args, "management_server", None),
                            ssh_config=args.ssh_config, accept_new_host_keys=args.accept_new_host_keys,
                            become=args.become, vm_patterns=args.vm, vm_folders=args.folder,
                            vm_clusters=args.cluster, master_target=args.master_target)
    if args.insecure:
        settings.notes.append("TLS certificate verification was turned off (--insecure)")
    if args.accept_new_host_keys:
        settings.notes.append("unknown SSH host keys were accepted and recorded in known_hosts "
                              "(--accept-new-host-keys, like StrictHostKeyChecking=accept-new)")
    if args.ssh_config is not None and not args.ssh_config.is_file():
        raise UsageError(f"--ssh-config {args.ssh_config}: no such file")
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


def cmd_scan(args: argparse.Namespace) -> int:
    started, started_at = time.monotonic(), now_iso()
    check_vocabulary(args.role, args.scenario)
    if args.workers < 1:
        raise UsageError("--workers must be at least 1")
    targets = _targets(args.targets, args)
    rules = select_rules(args.rules)
    settings = _settings(args)
    args.reporter_specs = [parse_reporter(r) for r in args.reporter or ["cli"]]
    check_destinations(args.reporter_specs)
    load_waivers(args.waivers)
    facts = _saving(scan(targets, settings, rules, workers=args.workers), args.save_facts)
    return judge_and_report(facts, args, rules, settings.notes, started, started_at, total=len(targets))


def cmd_evaluate(args: argparse.Namespace) -> int:
    started, started_at = time.monotonic(), now_iso()
    check_vocabulary(args.role, args.scenario)
    rules = select_rules(args.rules)
    args.reporter_specs = [parse_reporter(r) for r in args.reporter or ["cli"]]
    check_destinations(args.reporter_specs)
    targets = list(read_facts(args.facts_file))
    if not targets:
        raise UsageError(f"{args.facts_file} holds no targets")
    for target in targets:
        if args.role:
            target.roles = list(args.role)
    notes = sorted({note for t in targets for note in t.notes})
    return judge_and_report(targets, args, rules, notes, started, started_at)


def cmd_facts(args: argparse.Namespace) -> int:
    check_vocabulary(args.role, [])
    settings = _settings(args)
    settings.collect_all = True
    targets = _targets(args.targets, args)
    rules = list(default_rules())
    collected = [t.to_json() for t in scan(targets, settings, rules)]
    print(json.dumps({**facts_header(), "targets": collected}, indent=2))
    return EXIT_NOTHING if all(t["error"] for t in collected) else EXIT_OK


def cmd_rules(args: argparse.Namespace) -> int:
    if args.rules_command == "check":
        total = 0
        for path in args.paths:
            total += len(load_pack(path))
        print(f"ok: {total} rule(s) in {len(args.paths)} file(s) are valid")
        return EXIT_OK
    rules = select_rules(args.rules)
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


COMMANDS = {"scan": cmd_scan, "evaluate": cmd_evaluate, "facts": cmd_facts, "rules": cmd_rules}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except ReadinessError as exc:
        print(f"readiness: error: {exc}", file=sys.stderr)
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
