"""`inferplan report` opened in a real headless browser (issue 14): the page loads
without console errors, every plotly chart is drawn (a `.js-plotly-plot` with SVG
inside), the key numbers of the estimate, the simulation and the search are in the
page's text, and moving the roofline chart's context slider (a mousedown on its rail,
as a user would) changes the plotted data.

The screenshot: kaleido's Chromium has no DevTools port, so no full-page screenshot; the
checker renders the roofline chart as it is drawn after the slider moved with plotly's
own `Plotly.toImage` in the page, and the test writes that PNG to pytest's `tmp_path`
and, when the environment variable INFERPLAN_TEST_ARTIFACTS names a folder, a copy
there (`roofline-after-slider.png`).

The browser: the headless Chromium 88 that the `kaleido` 0.2.1 wheel bundles (in the
`dev` extra as `kaleido>=0.2.1,<0.3`), driven by `headless_browser.py` and
`headless_browser.js`. Chosen because it is the one browser that installs from PyPI
alone and runs on a bare machine: `playwright install chromium` downloads its browser
from a CDN, which fails where the tests run (tried; pyppeteer, selenium-manager and
kaleido 1.x also download a Chrome or expect one installed); PyQt6-WebEngine's Chromium
runs (tried) but needs some fifty system libraries a bare image lacks; kaleido 0.2.1
ships its own libraries and fonts and needs only glibc. It has no DevTools port, so
the checker rides on kaleido's stdin protocol (see `headless_browser.py`). The tests
skip, with the browser's own message, only when that Chromium cannot start on the
machine; a missing kaleido is a failure (`pip install -e '.[dev]'` installs it).
"""

from __future__ import annotations

import base64
import os
import re
import shutil
from pathlib import Path

import pytest

import inferplan
from headless_browser import BrowserUnavailable, PageCheck, check_page
from inferplan.cli import main

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "examples" / "python-api" / "closed-loop.yaml"
SPACE = ROOT / "examples" / "search" / "h100.yaml"


@pytest.fixture(scope="module")
def report_html(tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("report") / "report.html"
    with pytest.raises(SystemExit) as done:
        main(["report", str(SCENARIO), "--simulate", "--space", str(SPACE), "--top", "5",
              "--simulate-top", "2", "--out", str(out)])
    assert done.value.code in (0, None)
    return out.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def page(report_html: str) -> PageCheck:
    try:
        return check_page(report_html, slider_suffix="-roofline")
    except BrowserUnavailable as exc:
        pytest.skip(f"the headless browser cannot start here: {exc}")


def test_the_page_loads_without_console_errors(page: PageCheck) -> None:
    assert page.errors == []
    assert page.external == []             # nothing loaded from elsewhere: it opens offline
    assert page.compat_mode == "CSS1Compat"  # standards mode: the doctype came first
    assert page.title.startswith("inferplan report: ")


def test_every_chart_is_drawn(page: PageCheck, report_html: str) -> None:
    divs = len(re.findall(r'class="plotly-graph-div"', report_html))
    # per scenario: step split, memory and roofline; its simulation's percentiles; the
    # frontier; the winner's step split, memory and roofline
    assert divs == 8
    assert page.graph_divs == divs
    assert len(page.plots) == divs
    for plot in page.plots:
        assert plot["svgs"] > 0, plot
        assert plot["traces"] > 0, plot
        assert plot["marks"] > 0, plot     # bars or markers were drawn, not empty axes
    frontier = [p for p in page.plots if p["id"].endswith("-frontier")]
    assert len(frontier) == 1 and frontier[0]["marks"] > 100


def test_the_slider_changes_the_plot(page: PageCheck, tmp_path: Path) -> None:
    slider = page.slider
    assert slider is not None and "error" not in slider, slider
    before, after = slider["before"], slider["after"]
    assert slider["via"] == "mouse"          # plotly's own handler ran the step
    assert after["active"] == slider["target"] != before["active"]
    terms = ["compute", "weights", "kv", "communication", "overhead"]
    assert [t["name"] for t in before["traces"]] == terms
    assert [t["name"] for t in after["traces"]] == terms
    assert [t["y_sum"] for t in after["traces"]] != [t["y_sum"] for t in before["traces"]]
    assert after["paths"] and after["paths"] != before["paths"]   # drawn anew
    assert after["title"] != before["title"]
    png = base64.b64decode(slider["png"].split(",", 1)[1])
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    shot = tmp_path / "roofline-after-slider.png"
    shot.write_bytes(png)
    folder = os.environ.get("INFERPLAN_TEST_ARTIFACTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(folder) / shot.name)


def test_the_key_numbers_are_in_the_page(page: PageCheck) -> None:
    est = inferplan.estimate(str(SCENARIO)).estimate
    sim = inferplan.simulate(str(SCENARIO), seed=0).simulation
    found = inferplan.search(str(SPACE), top=5)
    text = page.text
    wanted = [f"{est.ttft_s * 1e3:,.1f} ms", f"{est.tpot_s * 1e3:,.2f} ms",
              f"{est.output_tokens_per_s_per_chip:,.1f}"]
    wanted += [f"{est.decode.breakdown_s[t] * 1e3:,.3f}" for t in est.decode.breakdown_s]
    wanted += [f"{est.prefill.breakdown_s[t] * 1e3:,.3f}" for t in est.prefill.breakdown_s]
    wanted += [f"{est.memory.memory_dict()['weights_bytes_per_chip']:,.0f}"]
    wanted += [f"{sim.summary.ttft_s.p90 * 1e3:,.1f}", f"{sim.summary.tpot_s.p99 * 1e3:,.1f}"]
    result = found.result
    for i, _ in found.best:
        wanted.append(f"{result.cols.tokens_per_s_per_chip[i]:,.1f}")
    missing = [w for w in wanted if w not in text]
    assert not missing, missing
    for heading in ("TTFT and TPOT by term", "memory per chip", "simulated percentiles",
                    "best 5 by throughput_per_chip", "communication", "overhead"):
        assert heading in text


def test_the_checker_sees_a_broken_page() -> None:
    """The checker can fail: a page that logs an error, throws, misses an image and has a
    chart plotly never draws is reported as such (after waiting 2 s for the chart)."""
    broken = ("<!DOCTYPE html><html><head><title>broken</title></head><body><p>text</p>"
              "<div class='plotly-graph-div'></div>"
              "<script>console.error('boom'); undefinedFunction();</script>"
              "<img src='missing-image.png'></body></html>")
    try:
        seen = check_page(broken, wait_s=2)
    except BrowserUnavailable as exc:
        pytest.skip(f"the headless browser cannot start here: {exc}")
    assert any("boom" in e for e in seen.errors), seen.errors
    assert any("undefinedFunction" in e for e in seen.errors), seen.errors
    assert any("missing-image.png" in e for e in seen.errors), seen.errors
    assert (seen.graph_divs, seen.plots) == (1, [])
    assert seen.text.strip() == "text"
