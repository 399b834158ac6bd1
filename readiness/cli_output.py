"""The command line's output side: reporter, colour, baseline and log flags, and the `diff` and `waivers` verbs.

Kept beside cli.py so the reporting interfaces CI relies on are declared in one place: flags are turned into
values here once (`OutputOptions`, the log level) and nothing below reads the argparse namespace.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from pathlib import Path

from readiness.baseline import Baseline, diff, load_report
from readiness.catalog import default_catalog
from readiness.errors import UsageError
from readiness.gate import EXIT_GATE, EXIT_OK
from readiness.logsetup import LEVELS, configure, level_from
from readiness.reporters import COLOR_MODES, FORMATS, OutputOptions
from readiness.rulepack import Rule
from readiness.waiverfile import waivers_template

log = logging.getLogger(__name__)
STRAY_REPORTER = re.compile(rf"^({'|'.join(FORMATS)})(:(?!//).*)?$")


def add_output_options(parser: argparse.ArgumentParser) -> None:
    """--reporter (several specs, repeatable), --color, --baseline."""
    # The report contract's form (`--reporter cli json:PATH junit:PATH`, as InSpec) and one spec per flag both
    # work; a target URI swallowed by it is refused with a hint (parse_reporter), never taken for a reporter.
    parser.add_argument("--reporter", nargs="+", action="extend", default=[], metavar="FORMAT[:PATH]",
                        help="cli, json:PATH, junit:PATH, html:PATH, sarif:PATH (PATH - is standard output; at most "
                             "one reporter may use it); several after one flag or one per flag; default: cli")
    parser.add_argument("--color", choices=COLOR_MODES, default="auto",
                        help="console colour: auto (default: on a terminal, unless NO_COLOR is set or FORCE_COLOR "
                             "forces it), always, never")
    parser.add_argument("--baseline", type=Path, metavar="OLD.json",
                        help="an earlier JSON report: mark each finding new, unchanged or fixed in every reporter")


def add_log_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log what the tool does to standard error (-v info, -vv debug); secrets are redacted")
    parser.add_argument("--log-level", choices=LEVELS, help="log level on standard error (default: warning)")


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    diff_p = sub.add_parser("diff", help="what changed between two JSON reports (exit 1 when a problem is new)")
    diff_p.add_argument("old", type=Path, metavar="OLD.json")
    diff_p.add_argument("new", type=Path, metavar="NEW.json")
    waivers_p = sub.add_parser("waivers", help="write a waiver file for a report's failures, to fill in")
    waivers_p.add_argument("--from", dest="report", type=Path, required=True, metavar="REPORT.json")
    waivers_p.add_argument("-o", "--output", type=Path, metavar="FILE", help="write here (default: standard output)")
    waivers_p.add_argument("--force", action="store_true", help="overwrite an existing --output file")


def start_logging(args: argparse.Namespace) -> None:
    """Set up the redacting stderr log, and refuse reporter specs that slipped into the positional arguments."""
    configure(level_from(getattr(args, "log_level", None), getattr(args, "verbose", 0)))
    log.debug("readiness %s", " ".join(sys.argv[1:]))
    for value in [*getattr(args, "targets", []), *getattr(args, "inputs", [])]:
        if STRAY_REPORTER.match(value):
            raise UsageError(f"{value!r} looks like a reporter, not a target: give it after --reporter "
                             f"(--reporter cli {value})")


def output_options(args: argparse.Namespace) -> OutputOptions:
    baseline = Baseline(args.baseline) if args.baseline is not None else None
    return OutputOptions(show=args.show, color=args.color, baseline=baseline)


def known_ids(rules: list[Rule]) -> set[str]:
    """What a waiver may name: the rules in use and every catalog requirement."""
    return {r.id for r in rules} | {req for r in rules for req in r.requirements} | set(default_catalog().requirements)


def cmd_diff(args: argparse.Namespace) -> int:
    text, new_problems = diff(load_report(args.old), load_report(args.new))
    print(text)
    return EXIT_GATE if new_problems else EXIT_OK


def cmd_waivers(args: argparse.Namespace) -> int:
    text = waivers_template(load_report(args.report), str(args.report))
    if args.output is None:
        sys.stdout.write(text)
        return EXIT_OK
    if args.output.exists() and not args.force:
        raise UsageError(f"{args.output} exists: edit it, or give --force to overwrite it")
    try:
        args.output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {args.output}: {exc.strerror}") from None
    log.info("wrote %s", args.output)
    return EXIT_OK


COMMANDS = {"diff": cmd_diff, "waivers": cmd_waivers}
