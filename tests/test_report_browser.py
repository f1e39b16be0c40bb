"""The HTML report in a real headless browser (Chromium from the OS packages).

The report is written from recorded results (tests/fixtures/report/: a small L-Mul against
exact set on ECP5-85F and iCE40 UP5K, and the two accuracy studies); Chromium loads it from
disk, a probe page (a copy of index.html with one script added, in the same directory so
that the relative references resolve the same way) reports what the browser shows, and a
screenshot of the real page is written to build/screenshots/report.png.

Skipped, with the reason, where no Chromium is installed (Debian: ``apt-get install
chromium``; the test looks for ``chromium``, ``chromium-browser``, ``google-chrome`` or
``$CHROMIUM``). Firefox has no ``--dump-dom``, so it cannot run the probe.
"""

import html.parser
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from fpga import designs, report, studies

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "report"
SCREENSHOT = ROOT / "build" / "screenshots" / "report.png"

_PROBE = """<script>
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var broken = images.filter(function (i) { return !(i.complete && i.naturalWidth > 0); })
                     .map(function (i) { return i.getAttribute("src"); });
  var text = document.body.innerText;
  var out = {images: images.length, broken: broken, text: text,
             tables: document.querySelectorAll("table").length,
             details: document.querySelectorAll("details").length,
             details_open: document.querySelectorAll("details[open]").length,
             width: document.documentElement.scrollWidth,
             viewport: window.innerWidth};
  var pre = document.createElement("pre");
  pre.id = "nnrtl-probe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


def _browser():
    candidates = [os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"]
    for name in filter(None, candidates):
        path = shutil.which(name)
        if path:
            return path
    return None


def _run(browser, *args):
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--no-first-run", "--hide-scrollbars", "--allow-file-access-from-files", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


class _Probe(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.inside = False
        self.data = []

    def handle_starttag(self, tag, attrs):
        self.inside = self.inside or (tag == "pre" and ("id", "nnrtl-probe") in attrs)

    def handle_endtag(self, tag):
        if tag == "pre":
            self.inside = False

    def handle_data(self, data):
        if self.inside:
            self.data.append(data)


@pytest.fixture(scope="module")
def browser():
    path = _browser()
    if path is None:
        pytest.skip("no headless browser: none of chromium, chromium-browser, google-chrome "
                    "(or $CHROMIUM) is on PATH; on Debian `apt-get install chromium`")
    return path


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    rows = json.loads((FIXTURES / "lmul-mini-results.json").read_text())
    design_set = designs.load(FIXTURES / "lmul-mini.toml")
    paths = report.write_report([(row["section"], row) for row in rows], out,
                                compares=design_set.compares,
                                title=f"nnrtl FPGA report: {design_set.title}",
                                source="tests/fixtures/report/lmul-mini.toml",
                                studies=studies.load_studies(FIXTURES / "studies"))
    return paths


def test_page_in_a_headless_browser(browser, page):
    index = Path(page["html"])
    probe = index.with_name("_probe.html")
    probe.write_text(index.read_text().replace("</body>", _PROBE + "</body>"))
    done = _run(browser, "--virtual-time-budget=20000", "--window-size=1280,900", "--dump-dom",
                probe.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    parser = _Probe()
    parser.feed(done.stdout)
    assert parser.data, f"the page did not load (no probe output): {done.stderr[-2000:]}"
    seen = json.loads("".join(parser.data))
    expected_images = len(page["plots"])
    assert seen["images"] == expected_images >= 5         # families, comparison, accuracy
    assert seen["broken"] == [], f"images that did not load: {seen['broken']}"
    text = seen["text"]
    assert "**" not in text and "`" not in text, re.findall(r".{0,40}(?:\*\*|`).{0,40}", text)
    assert "{'" not in text and "':" not in text          # no Python dict text
    assert "e8m<m>" in text                               # markup-like text shown as text
    assert seen["tables"] >= 5 and seen["details"] == 2 and seen["details_open"] == 0
    assert "Critical paths (8 configurations)" in text
    assert "unit.i__payload" not in text                  # folded away until opened
    assert seen["width"] <= seen["viewport"] + 1, "the page scrolls sideways"

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    SCREENSHOT.unlink(missing_ok=True)
    shot = _run(browser, f"--screenshot={SCREENSHOT}", "--window-size=1280,2600",
                "--virtual-time-budget=20000", index.as_uri())
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert SCREENSHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
