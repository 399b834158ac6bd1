"""Peak memory of `readiness evaluate` at 200 and at 2,000 machines: findings must not pile up.

Synthetic facts (this machine's facts cloned, tests/synthetic.py; package lists trimmed as on a minimal image) are
judged with every reporter writing to a file; the peak resident set size of each run is the process's own
(VmHWM).  Prints both figures (median of the repeats) and their ratio; the target is a ratio of at most 1.25.
Then, per size, the peak of a process that only reads the facts (`evaluate` reads its inputs in two passes,
identities first, to merge views of one machine) and what judging and reporting add on top of it.  Asserts
nothing.
Run:  .venv/bin/python bench/bench_memory.py [REPEATS] [SMALL] [LARGE]
"""

from __future__ import annotations

import json
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


#: Runs a module as __main__ and, at exit, prints the process's own peak resident set (VmHWM, kB) on stderr.
#: wait4's ru_maxrss would not do: Linux carries the forking parent's peak across exec into the child's figure,
#: so a bench holding a large facts string would be measured instead of readiness.
HWM = ("import atexit, runpy, sys\n"
       "def hwm():\n"
       "    with open('/proc/self/status') as f:\n"
       "        sys.stderr.write(''.join('HWM ' + l.split()[1] + '\\n' for l in f if l.startswith('VmHWM:')))\n"
       "atexit.register(hwm)\n"
       "sys.argv = sys.argv[1:]\n"
       "runpy.run_module(sys.argv[0], run_name='__main__')\n")


def _own_peak(args: list[str]) -> tuple[float, int, str]:
    """(peak RSS in MiB of the child itself, exit code, stderr) of `python -m args…`."""
    proc = subprocess.run([sys.executable, "-c", HWM, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          cwd=ROOT, text=True, check=False)
    peaks = [int(line.split()[1]) for line in proc.stderr.splitlines() if line.startswith("HWM ")]
    return (peaks[-1] / 1024 if peaks else float("nan")), proc.returncode, proc.stderr


def peak_rss_mib(facts: Path, out: Path) -> tuple[float, float]:
    """(peak RSS in MiB, wall seconds) of one `readiness evaluate` with every reporter."""
    args = ["readiness.cli", "evaluate", str(facts)]
    for fmt in FORMATS:
        args += ["--reporter", f"{fmt}:{out / ('report.' + fmt)}"]
    start = time.perf_counter()
    peak, code, err = _own_peak(args)
    elapsed = time.perf_counter() - start
    if code not in (0, 1):
        raise SystemExit(f"evaluate failed ({code}): {err}")
    return peak, elapsed


def load_only_mib(facts: Path) -> float:
    """Peak RSS of a process that only reads the facts file the way `evaluate` does (both passes of read_inputs),
    judging nothing: what the input costs, apart from what judging and reporting add on top."""
    peak, code, err = _own_peak(["bench._read_only", str(facts)])
    if code != 0:
        raise SystemExit(f"reading the facts failed: {err}")
    return peak


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
