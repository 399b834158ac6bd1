"""Local scan wall time, against the bare probe and (when installed) Ansible's fact gathering.

Prints figures; asserts nothing.  Run:  .venv/bin/python bench/bench_local.py [RUNS]   (default 3 repeats)
Each figure is the median of RUNS with its spread, and the goal table ends the output: keep the local scan CLI
at its figure before issue 11 (0.52 s, with 15 % for load) and faster than Ansible's fact gathering.
The peer, `ansible localhost -c local -m setup`, comes from bench/.venv (ansible-core from PyPI), which
bench_ssh.py creates; without it that line is skipped and says so.
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.goals import Goal, print_goals, spread  # noqa: E402
from readiness.checks.linux.collector import probe_script  # noqa: E402
from readiness.engine import judge_target  # noqa: E402
from readiness.rulepack import default_rules  # noqa: E402
from readiness.scan import scan  # noqa: E402
from readiness.settings import ScanSettings  # noqa: E402
from readiness.targets import parse_target  # noqa: E402

#: The local scan CLI wall time before issue 11 (0.52 s on this 2-core machine), with 15 % for load: "keep".
GOAL_LOCAL_S = 0.52 * 1.15


def timed(func, runs: int) -> list[float]:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        samples.append(time.perf_counter() - start)
    return samples


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    script = probe_script()
    rules = list(default_rules())
    bare = timed(lambda: subprocess.run(["/bin/sh", "-s"], input=script.encode(), capture_output=True, check=True),
                 runs)

    def in_process() -> None:
        for facts in scan([parse_target("local://")], ScanSettings(), rules):
            judge_target(facts, rules)

    engine = timed(in_process, runs)
    cli = timed(lambda: subprocess.run([sys.executable, "-m", "readiness.cli", "scan", "--reporter", "json:/dev/null"],
                                       capture_output=True, check=False), runs)
    ms = [x * 1000 for x in bare], [x * 1000 for x in engine], [x * 1000 for x in cli]
    median = statistics.median
    print(f"runs per figure: {runs} (median, spread min-max)")
    print(f"bare probe (sh probe.sh):            {spread(ms[0], '{:.0f}')} ms")
    print(f"collect + judge, in process:         {spread(ms[1], '{:.0f}')} ms  "
          f"({median(engine) / median(bare):.2f}x the bare probe)")
    print(f"readiness scan CLI (python start):   {spread(ms[2], '{:.0f}')} ms  "
          f"({median(cli) / median(bare):.2f}x the bare probe)")
    ansible = ROOT / "bench" / ".venv" / "bin" / "ansible"
    goals = [Goal("local scan CLI wall (keep)", spread(cli) + " s", "-", "-", f"<= {GOAL_LOCAL_S:.2f} s",
                  median(cli) <= GOAL_LOCAL_S)]
    if ansible.exists():
        peer = timed(lambda: subprocess.run([str(ansible), "localhost", "-c", "local", "-m", "setup"],
                                            capture_output=True, check=False), runs)
        ratios = [p / c for p, c in zip(sorted(peer), sorted(cli), strict=True)]
        goals.append(Goal("local scan against ansible -m setup", spread(cli) + " s", spread(peer) + " s ansible",
                          spread(ratios, "{:.1f}x"), "> 1x (keep)", median(ratios) > 1))
    else:
        print("ansible localhost -m setup (peer):   peer not available (bench/.venv/bin/ansible not installed)")
        goals.append(Goal("local scan against ansible -m setup", spread(cli) + " s", "peer not available", "-",
                          "> 1x (keep)", None))
    print(f"peak RSS of this process:            {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:8.1f} MB")
    print(f"rules: {len(rules)}")
    print_goals(goals)


if __name__ == "__main__":
    main()
