"""Make the README's picture of the HTML report: docs/report.png.

A synthetic 30-machine estate (this machine's facts cloned, tests/synthetic.py) is judged, the HTML report is
opened in headless Chromium (Debian's `chromium`, the flags of the tests) and the first screen is saved.
Run:  .venv/bin/python tests/screenshot.py [OUT.png]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.synthetic import evaluate, make_estate  # noqa: E402
from tests.test_html_chromium import CHROMIUM_FLAGS, chromium  # noqa: E402


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "report.png"
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory() as profile:
        work = Path(tmp)
        page = work / "report.html"
        proc = evaluate(make_estate(work, 30), "--reporter", f"html:{page}")
        if proc.returncode not in (0, 1):
            raise SystemExit(proc.stderr)
        out.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--window-size=1280,1100",
                        "--hide-scrollbars", f"--screenshot={out.resolve()}", page.as_uri() + "?sort=status"],
                       check=True, capture_output=True, timeout=120)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
