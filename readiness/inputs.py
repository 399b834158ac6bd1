"""What `readiness evaluate` judges: saved facts files and RVTools exports, several at once, as one estate.

Each site scans with `--save-facts`; one place evaluates every file together, so the estate rules see the
whole estate and a machine seen from two jump hosts (or by vCenter and from its guest) is judged once
(readiness/merge.py).  Globs are expanded here too, for shells that do not (`evaluate 'site-*.json'`).
"""

from __future__ import annotations

import glob
from collections.abc import Iterable
from pathlib import Path

from readiness.errors import UsageError
from readiness.facts import TargetFacts, read_facts
from readiness.merge import merge_targets
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


def read_inputs(patterns: Iterable[str]) -> tuple[list[TargetFacts], list[str]]:
    """Every target of every input, views of one machine merged; and the run's notes."""
    paths = expand(patterns)
    targets: list[TargetFacts] = []
    for path in paths:
        found = list(READERS.get(path.suffix.lower(), read_facts)(path))
        if not found:
            raise UsageError(f"{path} holds no targets")
        targets += found
    notes = sorted({note for t in targets for note in t.notes})
    merged = merge_targets(targets)
    if len(paths) > 1:
        notes.append(f"{len(paths)} inputs judged as one estate: {', '.join(str(p) for p in paths)}")
    if len(merged) < len(targets):
        extra = len(targets) - len(merged)
        notes.append(f"{extra} more view{'s' if extra > 1 else ''} of machines already seen merged into them "
                     "(see the notes of each merged target)")
    return merged, notes
