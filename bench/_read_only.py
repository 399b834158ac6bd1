"""Read a facts file the way `readiness evaluate` does (both passes), judging nothing: bench_memory.py's baseline."""

import sys

import readiness.cli  # noqa: F401  (the same modules loaded as a real run)
from readiness.inputs import read_inputs

if __name__ == "__main__":
    targets, _ = read_inputs([sys.argv[1]])
    for _target in targets:
        pass
