"""The HTML report opened in headless Chromium (Debian's `chromium`): banner, overview rows, in-page filter and sort.

The page is loaded from file:// with `?filter=` / `?sort=` (which its inline script reads on load) and the DOM is
dumped after the scripts ran (`--dump-dom`), so what is checked is what a person's browser shows, offline.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from tests.synthetic import evaluate, make_estate

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium() -> str:
    path = shutil.which("chromium")
    assert path, "chromium missing: tests/run.sh installs Debian's chromium"
    return path


def browse(page: Path, query: str = "", *extra: str) -> str:
    """The DOM of `page` after its scripts ran, as Chromium serialises it."""
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run([chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, "--dump-dom",
                               page.as_uri() + query], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0 and "</html>" in proc.stdout, proc.stderr[-2000:]
    return proc.stdout


class Dom(HTMLParser):
    """What the tests read: machine rows (attributes), sections, and text by element id."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.rows: list[dict[str, str | None]] = []
        self.sections: dict[str, dict[str, str | None]] = {}
        self.text: dict[str, str] = {}
        self._open: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "tr" and "machine-row" in (found.get("class") or ""):
            self.rows.append(found)
        if tag == "section" and found.get("id"):
            self.sections[found["id"] or ""] = found
        if found.get("id"):
            self._open.append(found["id"] or "")
            self.text.setdefault(found["id"] or "", "")

    def handle_data(self, data: str) -> None:
        for ident in self._open:
            self.text[ident] += data

    def handle_endtag(self, tag: str) -> None:
        if tag in ("span", "b", "section", "header", "p", "table") and self._open:
            self._open.pop()

    def visible(self) -> list[str]:
        return [r["data-name"] or "" for r in self.rows if "hidden" not in r]


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("html")
    facts = make_estate(work, 30)
    proc = evaluate(facts, "--reporter", f"json:{work / 'r.json'}", "--reporter", f"html:{work / 'r.html'}")
    assert proc.returncode == 1, proc.stderr
    return {"report": json.loads((work / "r.json").read_text()), "page": work / "r.html"}


def test_banner_and_every_machine_in_the_overview(estate: dict[str, Any]) -> None:
    report = estate["report"]
    dom = Dom(browse(estate["page"]))
    assert dom.text["verdict"].strip() == "NOT-READY"
    assert dom.text["machine-count"].strip() == str(report["summary"]["targets"]) == "30"
    assert dom.text["estate-score"].strip() == f"{report['summary']['score']:.1f}"
    assert len(dom.rows) == 30 and len(dom.visible()) == 30
    assert dom.text["shown"].strip() == "30 of 30 machines shown"
    assert {r["data-status"] for r in dom.rows} == {t["status"] for t in report["targets"]}


def test_filter_from_the_query_string(estate: dict[str, Any]) -> None:
    report = estate["report"]
    dom = Dom(browse(estate["page"], "?filter=host-0007"))
    assert dom.visible() == ["host-0007"]
    assert dom.text["shown"].strip() == "1 of 30 machines shown"
    hidden_sections = [s for s in dom.sections.values() if "hidden" in s and s.get("class") == "machine"]
    assert len(hidden_sections) == 29
    unknown = sorted(t["name"] for t in report["targets"] if t["status"] == "unknown")
    assert sorted(Dom(browse(estate["page"], "?filter=unknown")).visible()) == unknown == [
        "host-0010", "host-0020", "host-0030"]


def test_sort_by_score(estate: dict[str, Any]) -> None:
    dom = Dom(browse(estate["page"], "?sort=score"))
    scores = [float(r["data-score"]) if r["data-score"] else -1.0 for r in dom.rows]
    assert scores == sorted(scores) and scores != [float(r["data-score"] or -1) for r in Dom(
        browse(estate["page"])).rows]


def test_unknown_machines_give_the_reason_and_passes_are_collapsed(estate: dict[str, Any]) -> None:
    html = estate["page"].read_text()
    assert "Unknown: cannot judge this machine: cannot connect to host-0010.example.test:22" in html
    assert '<details class="passes"><summary>' in html and '<details class="not-applicable"><summary>' in html
    not_applicable = html.split('<details class="not-applicable">')[1].split("</details>")[0]
    assert "remediation" not in not_applicable and 'class="finding not-applicable"' in not_applicable
    assert "<script" in html and "http://" not in html.split("<main>")[0].split("</style>")[0]
    assert "src=" not in html and "<link" not in html  # no external asset
