"""`hanemu fleet report`: a results database turned into an HTML page and PNG plots, and the
page opened in headless Chromium, where every plot it references loads."""

from __future__ import annotations

import base64
import hashlib
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from tools import installed

from emulator.fleet.report import PAGE, PLOTS

from .conftest import campaign_file, hanemu

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def reported(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fleet-report")
    db = tmp / "fleet.sqlite"
    run = hanemu("fleet", "run", campaign_file(tmp), "--db", db)
    assert run.returncode == 0, run.stderr
    out = tmp / "report"
    result = hanemu("fleet", "report", db, "--out", out)
    return result, out


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict[str, str | None]] = []
        self.rows: list[dict[str, str | None]] = []
        self.fetches: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "img":
            self.images.append(named)
        elif tag == "tr" and "data-device" in named:
            self.rows.append(named)
        elif tag in ("script", "link", "iframe", "object", "embed") or "href" in named:
            self.fetches.append(tag)


def _parsed(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    return page


def test_the_report_is_a_page_and_a_png_per_plot(reported):
    result, out = reported
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted([PAGE, *PLOTS])
    for name in PLOTS:
        assert (out / name).read_bytes().startswith(PNG_MAGIC), name
    page = (out / PAGE).read_text()
    parsed = _parsed(page)
    assert parsed.fetches == [] and "url(" not in page
    assert [i["src"] for i in parsed.images] == list(PLOTS)
    assert [(r["data-device"], r["data-profile"]) for r in parsed.rows] == [
        ("IHD", "ihd-opt2"), ("PPMID", "ppmid-opt1"), ("HCALCS", "hcalcs-opt2"), ("CAD", "cad")
    ]  # fmt: skip
    assert "img-src 'self'" in page and "default-src 'none'" in page


MARK = (
    "window.addEventListener('load', () => { for (const img of document.images) "
    "img.setAttribute('data-loaded', String(img.complete && img.naturalWidth > 0)); });"
)
"""Run by Chromium once the page and its images loaded: marks each image loaded or not."""


def _with_mark(page: str) -> str:
    """The page with `MARK` added, and its CSP allowing that one script by its hash (and
    nothing else changed: the images are allowed by the page's own policy, or not at all)."""
    digest = base64.b64encode(hashlib.sha256(MARK.encode()).digest()).decode()
    page, n = re.subn(
        r'(Content-Security-Policy" content="[^"]*)"',
        lambda m: f"{m[1]}; script-src 'sha256-{digest}'\"",
        page,
    )
    assert n == 1
    return page.replace("</body>", f"<script>{MARK}</script></body>")


def test_chromium_loads_every_plot_the_page_references(reported, tmp_path):
    chromium = installed("chromium")
    _result, out = reported
    checked = out / "checked.html"  # beside the page, so the plots are its own
    checked.write_text(_with_mark((out / PAGE).read_text()))
    (out / "missing.html").write_text(
        _with_mark((out / PAGE).read_text().replace('src="findings.png"', 'src="gone.png"'))
    )

    def loaded(page: Path) -> list[tuple[str | None, str | None]]:
        dom = subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
             f"--user-data-dir={tmp_path / 'chromium'}", page.resolve().as_uri()],
            capture_output=True, text=True, timeout=120, check=True,
        ).stdout  # fmt: skip
        return [(i["src"], i.get("data-loaded")) for i in _parsed(dom).images]

    assert loaded(checked) == [(name, "true") for name in PLOTS]
    missing = dict(loaded(out / "missing.html"))
    assert missing["gone.png"] == "false" and missing["success-rate.png"] == "true"
