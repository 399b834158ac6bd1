"""What `readiness evaluate` judges: saved facts files and RVTools exports, several at once, as one estate.

Each site scans with `--save-facts`; one place evaluates every file together, so the estate rules see the
whole estate and a machine seen from two jump hosts (or by vCenter and from its guest) is judged once
(readiness/merge.py).  Globs are expanded here too, for shells that do not (`evaluate 'site-*.json'`).
"""

from __future__ import annotations

import glob
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from readiness.errors import UsageError
from readiness.facts import TargetFacts, read_facts
from readiness.merge import View, _match, _merge, identify
from readiness.rvtools import read_rvtools

#: Readers by file suffix; anything else is read as a facts file.
READERS = {".xlsx": read_rvtools}


def expand(patterns: Iterable[str]) -> list[Path]:
    """Paths as given, globs expanded (sorted); a pattern that matches nothing is a usage error."""
    paths: list[Path] = []
    for pattern in patterns:
        if any(c in pattern for c in "*?[") and not Path(pattern).exists():
            found = sorted(glob.glob(pattern))
            if not found:
                raise UsageError(f"{pattern} matches no file")
            paths += [Path(p) for p in found]
        else:
            paths.append(Path(pattern))
    unique = list(dict.fromkeys(paths))
    for path in unique:
        if path.is_dir():
            raise UsageError(f"{path} is a directory, not a facts file or an RVTools export")
    return unique


def _read(path: Path) -> Iterator[TargetFacts]:
    return READERS.get(path.suffix.lower(), read_facts)(path)


def _identity(target: TargetFacts) -> TargetFacts:
    """What matching reads of a target (readiness/merge.py: identify), and nothing more, so the first pass over a
    large estate holds a few hundred bytes per machine instead of its facts."""
    facts = target.facts or {}
    vm, host = facts.get("vm") or {}, facts.get("host") or {}
    return TargetFacts(
        uri=target.uri, name=target.name, scheme=target.scheme, collected_at=target.collected_at,
        facts={"vm": {k: vm.get(k) for k in ("uuid", "guest_hostname", "ip_addresses")},
               "host": {k: host.get(k) for k in ("hostname", "product_uuid")},
               "network": {"ipv4_addresses": (facts.get("network") or {}).get("ipv4_addresses")},
               "windows": {"netbios_name": (facts.get("windows") or {}).get("netbios_name")}})


def read_inputs(patterns: Iterable[str]) -> tuple[Iterator[TargetFacts], list[str]]:
    """Every target of every input, views of one machine merged; and the run's notes.

    Two passes, so memory does not grow with the estate: the first reads each target's identity only and
    finds the views of one machine; the second streams the targets again, handing each on as it is read,
    except the views of one machine, held until their last one arrives and then merged.  RVTools exports are
    small and read once.
    """
    paths = expand(patterns)
    views: list[View] = []
    kept: dict[Path, list[TargetFacts]] = {}
    notes: set[str] = set()
    for path in paths:
        found = _read(path)
        if path.suffix.lower() in READERS:
            found = kept.setdefault(path, list(found))  # type: ignore[assignment]
        count = 0
        for target in found:
            views.append(identify(len(views), _identity(target)))
            notes.update(target.notes)
            count += 1
        if not count:
            raise UsageError(f"{path} holds no targets")
    groups = _match(views, [])
    members: dict[int, list[int]] = {}
    for view in views:
        members.setdefault(groups.find(view.index), []).append(view.index)
    run_notes = sorted(notes)
    if len(paths) > 1:
        run_notes.append(f"{len(paths)} inputs judged as one estate: {', '.join(str(p) for p in paths)}")
    if len(members) < len(views):
        extra = len(views) - len(members)
        run_notes.append(f"{extra} more view{'s' if extra > 1 else ''} of machines already seen merged into them "
                         "(see the notes of each merged target)")
    return _second_pass(paths, kept, groups, members), run_notes


def _second_pass(paths: list[Path], kept: dict[Path, list[TargetFacts]], groups: Any,
                 members: dict[int, list[int]]) -> Iterator[TargetFacts]:
    index = 0
    pending: dict[int, list[View]] = {}
    for path in paths:
        for target in kept.get(path) or _read(path):
            root = groups.find(index)
            if len(members[root]) == 1:
                yield target
            else:
                group = pending.setdefault(root, [])
                group.append(identify(index, target))
                if len(group) == len(members[root]):
                    yield _merge(pending.pop(root), groups.how.get(root, []))
            index += 1
