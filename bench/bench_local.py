"""Local scan wall time, against the bare probe and (when installed) Ansible's fact gathering.

Prints figures; asserts nothing.  Run:  .venv/bin/python bench/bench_local.py [RUNS]
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

from checks.linux.collector import probe_script  # noqa: E402
from readiness.engine import judge_target  # noqa: E402
from readiness.rulepack import default_rules  # noqa: E402
from readiness.scan import scan  # noqa: E402
from readiness.settings import ScanSettings  # noqa: E402
from readiness.targets import parse_target  # noqa: E402


def timed(func, runs: int) -> float:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
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
    print(f"runs per figure (median): {runs}")
    print(f"bare probe (sh probe.sh):            {bare * 1000:8.1f} ms")
    print(f"collect + judge, in process:         {engine * 1000:8.1f} ms  ({engine / bare:.2f}x the bare probe)")
    print(f"readiness scan CLI (python start):   {cli * 1000:8.1f} ms  ({cli / bare:.2f}x the bare probe)")
    ansible = ROOT / "bench" / ".venv" / "bin" / "ansible"
    if ansible.exists():
        peer = timed(lambda: subprocess.run([str(ansible), "localhost", "-c", "local", "-m", "setup"],
                                            capture_output=True, check=False), runs)
        print(f"ansible localhost -m setup (peer):   {peer * 1000:8.1f} ms  "
              f"(readiness CLI is {peer / cli:.2f}x faster)")
    else:
        print("ansible localhost -m setup (peer):   skipped: bench/.venv/bin/ansible not installed")
    print(f"peak RSS of this process:            {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:8.1f} MB")
    print(f"rules: {len(rules)}")


if __name__ == "__main__":
    main()
