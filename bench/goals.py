"""The goal table every benchmark ends with: ours, the peer measured in the same run, the ratio, the goal, met.

One shape for every bench (issue 11), so the README can quote them side by side.  Each figure is the median of
its repeats with the spread (min-max) beside it; a goal that cannot be checked (its peer is not available) is
printed as such, never as met.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass


def spread(values: list[float], fmt: str = "{:.2f}") -> str:
    """Median (min-max) of the repeats."""
    if not values:
        return "-"
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}-{fmt.format(max(values))})"


@dataclass
class Goal:
    """One line of the table.  `met` is None when the goal could not be checked."""

    path: str
    ours: str
    peer: str
    ratio: str
    goal: str
    met: bool | None


def print_goals(goals: list[Goal]) -> None:
    rows = [("path", "ours", "peer (same run)", "ratio", "goal", "")]
    rows += [(g.path, g.ours, g.peer, g.ratio, g.goal,
              "not checked" if g.met is None else "met" if g.met else "MISSED") for g in goals]
    widths = [max(len(row[i]) for row in rows) for i in range(6)]
    print("\ngoal table (medians of the repeats, spread min-max in brackets)")
    for index, row in enumerate(rows):
        print("| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) + " |")
        if index == 0:
            print("|" + "|".join("-" * (width + 2) for width in widths) + "|")
