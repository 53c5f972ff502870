"""`inferplan report`: one HTML file that opens offline, holding the estimate (every term
of TTFT and TPOT, memory per chip), the simulation's percentiles and the search's
ranked table and frontier, with the same figures as the commands' --json; bad input
exits 2 with one line. The page in a real browser: tests/test_report_browser.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import cli, one_line_error

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = str(ROOT / "examples" / "python-api" / "closed-loop.yaml")
STATIC = str(ROOT / "docs" / "walkthrough" / "int8-4x2-bs32.yaml")
SPACE = str(ROOT / "examples" / "python-api" / "space.yaml")


def report(capsys: pytest.CaptureFixture[str], out: Path, *args: str) -> str:
    code, stdout, err = cli(capsys, "report", *args, "--out", str(out))
    assert code == 0, err[-2000:]
    # the console wraps at its width; a long temporary path may break the line
    assert " ".join(stdout.split()).startswith(f"wrote {out} (")
    return out.read_text(encoding="utf-8")


def visible_text(html: str) -> str:
    """The page without plotly.js and tags: what the tables and paragraphs say."""
    body = html.split("<body>", 1)[1]
    body = re.sub(r"<script.*?</script>", " ", body, flags=re.S)
    return re.sub(r"<[^>]+>", " ", body)


def test_one_file_that_opens_offline(tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    html = report(capsys, tmp_path / "r.html", STATIC)
    assert html.startswith("<!DOCTYPE html>")
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=", html)   # nothing fetched
    body = html.split("</head>", 1)[1]       # (plotly.js itself names URLs it never loads)
    assert "cdn.plot.ly" not in body         # the assumptions cite URLs as text, no more:
    assert not re.search(r"""(src|href|url)\s*[=(]\s*["']?https?:""", body)
    divs = html.count('class="plotly-graph-div"')
    assert divs == 3 and html.count("Plotly.newPlot(") == divs   # split, memory, roofline
    head = html.split("</head>", 1)[0]
    assert len(head) > 3_000_000 and "plotly" in head             # plotly.js inline, once


def test_the_estimate_section_holds_the_estimates_figures(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = visible_text(report(capsys, tmp_path / "r.html", STATIC))
    code, out, _ = cli(capsys, "estimate", STATIC, "--json")
    assert code == 0
    est = json.loads(out)
    for phase in ("prefill", "decode"):
        for term, seconds in est[phase]["breakdown_s"].items():
            assert term in text
            assert f"{seconds * 1e3:,.3f}" in text, (phase, term)
        assert est[phase]["bound"] in text
    assert f"{est['ttft_s'] * 1e3:,.1f} ms" in text
    assert f"{est['tpot_s'] * 1e3:,.2f} ms" in text
    assert f"{est['throughput']['output_tokens_per_s_per_chip']:,.1f}" in text
    for key in ("weights_bytes_per_chip", "kv_bytes_per_chip", "activation_bytes_per_chip",
                "usable_bytes_per_chip"):
        assert f"{est['memory'][key]:,.0f}" in text, key
    assert est["explanation"] in text
    assert "prefill step (TTFT)" in text      # a static batch's TTFT is its prefill step


def test_simulation_and_search_sections(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    html = report(capsys, tmp_path / "r.html", SCENARIO, "--simulate", "--space", SPACE,
                  "--top", "3", "--title", "Qwen <and> Llama")
    text = visible_text(html)
    assert "<title>Qwen &lt;and&gt; Llama</title>" in html        # escaped
    for section in ("Estimate: ", "Simulation: ", "Search: ", "The winner of "):
        assert f"<h2>{section}" in html, section
    code, out, _ = cli(capsys, "simulate", SCENARIO, "--json")
    sim = json.loads(out)
    for metric in ("ttft_s", "tpot_s", "itl_s", "e2e_s"):
        for stat in ("mean", "p50", "p90", "p99"):
            assert f"{sim[metric][stat] * 1e3:,.1f}" in text, (metric, stat)
    code, out, _ = cli(capsys, "search", SPACE, "--top", "3", "--json")
    assert code == 0
    found = json.loads(out)
    assert f"{found['evaluated']:,} points evaluated" in text
    for point in found["best"]:
        assert f"{point['search']['output_tokens_per_s_per_chip']:,.1f}" in text
    assert "best 3 by throughput_per_chip" in text
    assert re.search(r'id="search-\d+-[^"]*-frontier"', html)
    # estimate: split, memory, roofline; simulation: percentiles; search: frontier;
    # winner: split, memory, roofline
    assert html.count('class="plotly-graph-div"') == 8


def test_without_arguments_the_bundled_default(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    html = report(capsys, tmp_path / "r.html")
    assert "Estimate: the bundled default scenario" in html
    assert "llama-3.1-70b" in html


@pytest.mark.parametrize(("args", "field"), [
    (["no-such.yaml"], "scenario"),
    (["--space", "no-such-space.yaml"], "space"),
    ([SCENARIO, "--simulate-top", "2"], "--simulate-top"),
    ([SCENARIO, "--seed", "-1"], "--seed"),
    ([STATIC, "--simulate"], "workload.batch"),     # a static batch is no serving loop
])
def test_bad_input_is_one_line(args: list[str], field: str, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    line = one_line_error(capsys, "report", *args, "--out", str(tmp_path / "r.html"))
    assert field in line
    assert not (tmp_path / "r.html").exists()


def test_an_unknown_scenario_field_is_one_line(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(Path(SCENARIO).read_text(encoding="utf-8") + "colour: blue\n",
                   encoding="utf-8")
    line = one_line_error(capsys, "report", str(bad), "--out", str(tmp_path / "r.html"))
    assert "colour" in line


def test_an_output_that_cannot_be_written_is_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = one_line_error(capsys, "report", "--out", str(tmp_path / "missing" / "r.html"))
    assert "--out" in line and "existing folder" in line
    line = one_line_error(capsys, "report", "--out", str(tmp_path))
    assert "--out" in line and "folder" in line
    if Path("/proc/self").is_dir():         # a folder nobody can create files in, root too
        line = one_line_error(capsys, "report", "--out", "/proc/inferplan-report.html")
        assert "--out" in line and "cannot be written" in line


def test_the_python_api_puts_reports_on_one_page(tmp_path: Path) -> None:
    import inferplan

    est = inferplan.estimate(STATIC)
    sim = inferplan.simulate(SCENARIO, seed=0)
    found = inferplan.search(SPACE, top=2)
    page = inferplan.html_report(est, sim, found, title="three answers")
    sections = re.findall(r"<h2>(\w+)", page)
    assert sections == ["Estimate", "Step", "Simulation", "Search", "The", "The",
                        "Assumptions"]          # the winner's estimate and roofline
    text = visible_text(page)
    assert f"{est.estimate.ttft_s * 1e3:,.1f} ms" in text
    assert f"{sim.simulation.summary.ttft_s.p90 * 1e3:,.1f}" in text
    assert "best 2 by throughput_per_chip" in text
    with pytest.raises(inferplan.InferplanError, match="reports"):
        inferplan.html_report(est, "not a report")  # type: ignore[arg-type]
    with pytest.raises(inferplan.InferplanError, match="at least one"):
        inferplan.html_report()


def test_a_speculative_scenario_says_so(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    scenario = tmp_path / "mtp.yaml"
    scenario.write_text(
        "model: deepseek-r1\nhardware: b200\nchips: 8\nparallelism: {tp: 8}\n"
        "dtypes: {weights: fp8, kv: fp8, compute: fp8}\nengine: trtllm\n"
        "workload: {input_len: 1024, output_len: 1024, concurrency: 4}\n"
        "speculative: {draft: mtp, gamma: 3, alpha: 0.875}\n", encoding="utf-8")
    text = visible_text(report(capsys, tmp_path / "r.html", str(scenario)))
    assert "speculative: draft deepseek-r1-mtp, gamma 3, alpha 0.875" in text
    assert "decode, per output token (TPOT)" in text
