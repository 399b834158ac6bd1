"""The wheel: nothing but `readiness` at the top of site-packages, and a scan works beside packages named like ours.

Before, the wheel installed top-level `checks` and `rules` packages; with an unrelated `rules` distribution in
the same environment readiness died on an ImportError.  The repository keeps its top-level `checks/` and
`rules/` folders; `readiness/checks` and `readiness/rules` are links to them, so the code imports
`readiness.checks` and `readiness.rules` both from a checkout and from the wheel.

The test builds the wheel, builds two small stand-in distributions named `rules` and `checks` (no network: the
real PyPI `rules` project is what a user would meet, these carry the same import names), installs all three into
a fresh virtualenv without their dependencies (which it borrows from the suite's own environment through a
path file, never through the editable install), and runs a real scan from a folder outside the checkout.
"""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _stand_in(tmp: Path, name: str) -> Path:
    """A distribution whose import package is `name`, as an unrelated project on PyPI would be."""
    src = tmp / f"src-{name}"
    (src / name).mkdir(parents=True)
    (src / name / "__init__.py").write_text(f'"""Not readiness\'s {name}."""\nPACK_DIR = None\n')
    (src / "pyproject.toml").write_text(
        f'[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
        f'[project]\nname = "{name}"\nversion = "9.9"\n[tool.hatch.build.targets.wheel]\npackages = ["{name}"]\n')
    return _wheel(src, tmp / "dist")


def _wheel(source: Path, dist: Path) -> Path:
    dist.mkdir(exist_ok=True)
    before = set(dist.glob("*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(dist),
                    str(source)], check=True, capture_output=True, text=True, timeout=300)
    return next(iter(set(dist.glob("*.whl")) - before))


def test_wheel_installs_only_readiness_and_scans_beside_a_rules_package(tmp_path: Path) -> None:
    wheel = _wheel(REPO, tmp_path / "dist")
    tops = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"readiness"}
    names = zipfile.ZipFile(wheel).namelist()
    for shipped in ("readiness/checks/linux/probe.sh", "readiness/checks/windows/probe.ps1",
                    "readiness/checks/facts.yaml", "readiness/rules/requirements.yaml",
                    "readiness/rules/matrices/seed.yaml"):
        assert shipped in names, shipped

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    # dependencies from the suite's environment, as plain path entries (its .pth files, the editable install
    # of this checkout among them, are not processed through such a path)
    Path(site, "deps-from-suite.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    wheels = [str(wheel), str(_stand_in(tmp_path, "rules")), str(_stand_in(tmp_path, "checks"))]
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", *wheels], check=True,
                   capture_output=True, text=True, timeout=300)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = subprocess.run([str(py), "-c", "import readiness, rules; print(readiness.__file__); print(rules.__file__)"],
                           capture_output=True, text=True, check=True, cwd=elsewhere).stdout.split()
    assert where[0].startswith(site) and not where[0].startswith(str(REPO)), where
    assert where[1].startswith(site), where  # the stand-in `rules` is really importable beside us
    proc = subprocess.run([str(venv / "bin" / "readiness"), "scan", "--network-timeout", "1", "--no-proxy",
                           "--reporter", "json:-"], capture_output=True, text=True, cwd=elsewhere, timeout=300)
    assert proc.returncode in (0, 1), proc.stderr
    assert "Traceback" not in proc.stderr
    report = json.loads(proc.stdout)
    assert report["rules"] > 100 and report["targets"][0]["findings"]


def test_no_code_names_the_top_level_folders() -> None:
    """A checkout can still import `checks` and `rules` from its root, so a stray import would pass every other
    test and fail only in the wheel: every module path (imports, resources, registry rows) is under readiness."""
    import re

    pattern = re.compile(r"^\s*(from|import) (checks|rules)\b"
                         r"|[\"'](checks|rules)\.[a-z_]+[.:]|files\([\"'](checks|rules)")
    links = {REPO / "readiness" / "checks", REPO / "readiness" / "rules"}  # the same files as checks/ and rules/
    offenders = []
    for folder in ("readiness", "checks", "rules", "tests", "bench"):
        for path in (REPO / folder).rglob("*.py"):
            if "node_modules" in path.parts or any(link in path.parents for link in links):
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                if pattern.search(line):
                    offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
