"""Synthetic estates: one real facts document cloned into many machines, for reporter tests and the memory bench.

The clone keeps the collected facts (so the shipped rules judge them as they would a real machine) and varies
what tells machines apart: name, URI, host name.  host-0003 is the one master target, and every tenth machine
could not be reached, so an estate has unknown machines with a reason too.  `trim_packages` keeps the
installed-package list short, as a minimal image would have it.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

READINESS = [sys.executable, "-m", "readiness.cli"]


def local_facts(path: Path) -> dict[str, Any]:
    """The facts of this machine (no judging), saved to `path`, as one target document."""
    proc = subprocess.run([*READINESS, "facts", "--network-timeout", "1", "--no-proxy"], capture_output=True,
                          text=True, timeout=300, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"readiness facts failed: {proc.stderr}")
    path.write_text(proc.stdout)
    return json.loads(proc.stdout)["targets"][0]  # type: ignore[no-any-return]


def clone(base: dict[str, Any], index: int, trim_packages: bool = False) -> dict[str, Any]:
    name = f"host-{index:04d}"
    target = copy.deepcopy(base)
    target.update(uri=f"ssh://root@{name}.example.test:22", name=name, scheme="ssh", notes=[])
    if index % 10 == 0:
        target.update(facts={}, gaps={}, error=f"cannot connect to {name}.example.test:22: connection refused")
        return target
    facts = target["facts"]
    if isinstance(facts.get("host"), dict):
        facts["host"].update(hostname=name, short_name=name)
    if trim_packages and isinstance(facts.get("packages"), dict):
        installed = facts["packages"].get("installed")
        if isinstance(installed, list):
            facts["packages"]["installed"] = installed[:20]
        elif isinstance(installed, dict):
            facts["packages"]["installed"] = dict(list(installed.items())[:20])
    if index == 3:  # one failback master target, as an estate has (estate rules pair it with every machine)
        target["roles"] = ["master-target"]
    return target


def estate_facts(base: dict[str, Any], count: int, header: dict[str, Any], trim_packages: bool = False) -> str:
    """A facts file of `count` machines, as text (one machine per line, as `--save-facts` writes it)."""
    head = {k: v for k, v in header.items() if k != "targets"}
    lines = [json.dumps(clone(base, i, trim_packages), sort_keys=True) for i in range(1, count + 1)]
    return json.dumps(head)[:-1] + ', "targets": [\n' + ",\n".join(lines) + "\n]}\n"


def evaluate(facts: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`readiness evaluate FACTS ARGS...` in a child process, plain environment."""
    return subprocess.run([*READINESS, "evaluate", str(facts), *args], capture_output=True, text=True, timeout=300,
                          env=env or {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "NO_COLOR": "1"}, check=False)


def make_estate(work: Path, count: int = 30) -> Path:
    """A facts file of `count` synthetic machines cloned from this machine's facts (collected once per folder)."""
    local = work / "local.json"
    if not local.exists():
        local_facts(local)
    header = json.loads(local.read_text())
    path = work / f"estate-{count}.json"
    path.write_text(estate_facts(header["targets"][0], count, header))
    return path
