"""The collector registry imports only what a transport needs, and each row agrees with its class."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

from readiness.checks.registry import COLLECTORS, load_collectors


@pytest.mark.parametrize("name", sorted(COLLECTORS))
def test_row_agrees_with_its_class(name: str) -> None:
    row = COLLECTORS[name]
    module, _, cls = row.spec.partition(":")
    collector = getattr(importlib.import_module(module), cls)
    assert collector.name == name
    assert collector.platforms == row.platforms
    assert collector.local_only == row.local_only


@pytest.mark.parametrize(("platform", "local"), [("posix", False), ("posix", True), ("windows", False),
                                                 ("windows", True), ("vsphere", False)])
def test_filtered_load_is_what_applies(platform: str, local: bool) -> None:
    """The filtered list is exactly the collectors whose own `applies` would accept such a transport."""
    class FakeTransport:  # only the two attributes `Collector.applies` reads
        pass
    transport = FakeTransport()
    transport.platform, transport.is_local = platform, local  # type: ignore[attr-defined]
    expected = [c.name for c in load_collectors() if c.applies(transport)]  # type: ignore[arg-type]
    assert [c.name for c in load_collectors(platform, local)] == expected


def test_an_ssh_scan_imports_no_other_platforms_collectors() -> None:
    code = ("import json, sys\nfrom readiness.checks.registry import load_collectors\nload_collectors('posix', False)\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('readiness.checks.', 'pyVmomi', 'psutil', "
            "'winrm')))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = json.loads(out)
    assert "readiness.checks.linux.collector" in loaded
    others = ("readiness.checks.windows", "readiness.checks.vsphere", "readiness.checks.resources", "pyVmomi",
              "psutil", "winrm")
    assert not [m for m in loaded if m.startswith(others)]
