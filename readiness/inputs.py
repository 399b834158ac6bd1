"""What `readiness evaluate` judges: saved facts files and RVTools exports, several at once, as one estate.

Each site scans with `--save-facts`; one place evaluates every file together, so the estate rules see the
whole estate and a machine seen from two jump hosts (or by vCenter and from its guest) is judged once
(readiness/merge.py).  Globs are expanded here too, for shells that do not (`evaluate 'site-*.json'`).
"""

from __future__ import annotations

import glob
from collections.abc import Iterable, Iterator
from pathlib import Path

from readiness.errors import UsageError
from readiness.facts import TargetFacts, read_facts
from readiness.merge import Machines, View, identify, identity_facts, machines
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
        targets: Iterable[TargetFacts] = _read(path)
        if path.suffix.lower() in READERS:
            targets = kept.setdefault(path, list(targets))
        count = 0
        for target in targets:
            views.append(identify(len(views), identity_facts(target)))
            notes.update(target.notes)
            count += 1
        if not count:
            raise UsageError(f"{path} holds no targets")
    found = machines(views)
    run_notes = sorted(notes)
    if len(paths) > 1:
        run_notes.append(f"{len(paths)} inputs judged as one estate: {', '.join(str(p) for p in paths)}")
    if len(found.members) < len(views):
        extra = len(views) - len(found.members)
        run_notes.append(f"{extra} more view{'s' if extra > 1 else ''} of machines already seen merged into them "
                         "(see the notes of each merged target)")
    return _second_pass(paths, kept, found), run_notes


def _second_pass(paths: list[Path], kept: dict[Path, list[TargetFacts]], found: Machines) -> Iterator[TargetFacts]:
    """The targets again, each handed on as read; the views of one machine held until their last one arrives."""
    index = 0
    pending: dict[int, list[View]] = {}
    for path in paths:
        for target in kept.get(path) or _read(path):
            group = pending.setdefault(found.root(index), [])
            group.append(identify(index, target))
            if len(group) == found.size(index):
                yield found.merged(pending.pop(found.root(index)))
            index += 1
