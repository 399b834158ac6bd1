"""Peak memory of `readiness evaluate` at 200 and at 2,000 machines: findings must not pile up.

Synthetic facts (this machine's facts cloned, tests/synthetic.py; package lists trimmed as on a minimal image) are
judged with every reporter writing to a file; the peak resident set size of each run is read from the kernel
(wait4's ru_maxrss).  Prints both figures (median of the repeats) and their ratio; the target is a ratio of at most
1.25.  Then, per size, the peak of a process that only reads the facts (`evaluate` loads every input whole, to
merge views of one machine) and what judging and reporting add on top of it.  Asserts nothing.
Run:  .venv/bin/python bench/bench_memory.py [REPEATS] [SMALL] [LARGE]
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.synthetic import estate_facts, local_facts  # noqa: E402

FORMATS = ("json", "html", "junit", "sarif", "cli")


def peak_rss_mib(facts: Path, out: Path) -> tuple[float, float]:
    """(peak RSS in MiB, wall seconds) of one `readiness evaluate` with every reporter."""
    args = [sys.executable, "-m", "readiness.cli", "evaluate", str(facts)]
    for fmt in FORMATS:
        args += ["--reporter", f"{fmt}:{out / ('report.' + fmt)}"]
    start = time.perf_counter()
    child = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise SystemExit(f"evaluate failed ({code}): {child.stderr.read().decode() if child.stderr else ''}")
    return usage.ru_maxrss / 1024, elapsed


def load_only_mib(facts: Path) -> float:
    """Peak RSS of a process that only reads the facts file the way `evaluate` does (read_inputs), judging nothing:
    what the input costs, apart from what judging and reporting add on top."""
    code = ("import sys; from readiness.inputs import read_inputs; "
            "import readiness.cli; read_inputs([sys.argv[1]])")  # readiness.cli: the same modules loaded
    child = subprocess.Popen([sys.executable, "-c", code, str(facts)], cwd=ROOT)
    _, status, usage = os.wait4(child.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("reading the facts failed")
    return usage.ru_maxrss / 1024


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    sizes = (int(sys.argv[2]) if len(sys.argv) > 2 else 200, int(sys.argv[3]) if len(sys.argv) > 3 else 2000)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        local = work / "local.json"
        base = local_facts(local)
        header = json.loads(local.read_text())
        peaks: dict[int, float] = {}
        loads: dict[int, float] = {}
        for size in sizes:
            facts = work / f"facts-{size}.json"
            facts.write_text(estate_facts(base, size, header, trim_packages=True))
            runs = [peak_rss_mib(facts, work) for _ in range(repeats)]
            peaks[size] = statistics.median(r[0] for r in runs)
            loads[size] = load_only_mib(facts)
            findings = sum(len(t["findings"]) for t in json.loads((work / "report.json").read_text())["targets"])
            print(f"{size:>5} machines: peak RSS {peaks[size]:6.1f} MiB (runs: "
                  f"{', '.join(f'{r[0]:.1f}' for r in runs)}), {statistics.median(r[1] for r in runs):5.1f} s, "
                  f"facts file {facts.stat().st_size / 2**20:.1f} MiB, {findings} findings, "
                  f"JSON report {(work / 'report.json').stat().st_size / 2**20:.1f} MiB")
        ratio = peaks[sizes[1]] / peaks[sizes[0]]
        print(f"peak RSS ratio {sizes[1]}/{sizes[0]}: {ratio:.2f} (target <= 1.25)")
        for size in sizes:
            print(f"{size:>5} machines: reading the facts alone peaks at {loads[size]:6.1f} MiB; judging and "
                  f"reporting add {peaks[size] - loads[size]:+5.1f} MiB on top")


if __name__ == "__main__":
    main()
