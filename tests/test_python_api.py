"""The Python API (issue 14): `inferplan.estimate`, `search` and `simulate` from a mapping,
a path and typed objects give what the command gives for the same input: `.to_dict()` is
its `--json`, printing is its tables, a bad input is its one-line error."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

import inferplan
from inferplan.cli import main

ESTIMATE = {"model": "llama-3.1-8b", "hardware": "h100-sxm", "chips": 1,
            "parallelism": {"tp": 1},
            "workload": {"input_len": 1024, "output_len": 128, "batch": 8}}
SIMULATE = {"model": "qwen3-32b", "hardware": "h100-sxm", "chips": 2, "parallelism": {"tp": 2},
            "engine": "sglang", "workload": {"input_len": 512, "output_len": 32,
                                             "concurrency": 4, "length_ratio": 0.8}}
SPACE = {"model": "llama-3.1-8b", "hardware": "h100-sxm", "chips": [1, 2],
         "parallelism": {"tp": [1, 2], "pp": 1, "dp": "auto"},
         "dtypes": {"weights": ["bf16", "fp8"], "kv": "fp8", "compute": "auto"},
         "workload": {"input_len": [512, 2048], "output_len": 128,
                      "batch": {"min": 1, "max": 64}},
         "slo": {"ttft_s": 0.5, "tpot_s": 0.02}, "objective": "throughput_per_chip"}


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`inferplan ARGS` in-process: (exit status, stdout, stderr)."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        main(list(args))
    code = stop.value.code
    out = capsys.readouterr()
    return (code if isinstance(code, int) else 0 if code is None else 1), out.out, out.err


def cli_json(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    code, out, err = cli(capsys, *args, "--json")
    assert code == 0, err
    return json.loads(out)


def write(tmp_path: Path, data: dict[str, Any], name: str) -> Path:
    """A YAML file (JSON is YAML) or, by its suffix, a JSON one."""
    path = tmp_path / name
    path.write_text(json.dumps(data, indent=1))
    return path


def rich_text(report: object, width_chars: int = 80) -> str:
    buffer = io.StringIO()
    Console(file=buffer, width=width_chars, color_system=None).print(report)
    return buffer.getvalue()


def html_text(html: str) -> str:
    """What a notebook shows of a report's HTML: the text of its `<pre>`, tags dropped."""
    body = html.split("<pre", 1)[1].split(">", 1)[1].split("</pre>", 1)[0]
    return unescape(re.sub(r"<[^>]+>", "", body))


def untimed(record: dict[str, Any]) -> dict[str, Any]:
    """A search record, which holds no wall time unless asked (issue 13)."""
    assert "elapsed_s" not in record
    return record


def test_estimate_from_a_mapping_a_path_and_typed_objects_is_the_cli_json(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, ESTIMATE, "s.yaml")
    expected = cli_json(capsys, "estimate", str(path))
    deployment, workload = inferplan.load(ESTIMATE)
    for given in (ESTIMATE, str(path), path, write(tmp_path, ESTIMATE, "s.json"),
                  (deployment, workload)):
        assert inferplan.estimate(given).to_dict() == expected, given
    assert inferplan.estimate(deployment, workload).to_dict() == expected
    assert expected["ttft_s"] > 0 and expected["model"] == "llama-3.1-8b"


def test_estimate_prints_the_cli_tables(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "estimate", str(write(tmp_path, ESTIMATE, "s.yaml")))
    assert code == 0, err
    report = inferplan.estimate(ESTIMATE)
    assert str(report) == out
    assert rich_text(report) == report.text(80)
    buffer = io.StringIO()       # a colour terminal: the same text, styled
    Console(file=buffer, width=80, force_terminal=True, color_system="truecolor").print(report)
    assert "\x1b[" in buffer.getvalue()
    assert re.sub(r"\x1b\[[0-9;]*m", "", buffer.getvalue()) == out
    headline = " ".join(report.text(200).splitlines()[0].split())
    assert headline.startswith("llama-3.1-8b on 1x ") and headline in " ".join(out.split())
    html = report._repr_html_()
    assert html.lstrip().startswith("<!DOCTYPE html>")
    assert report.text(110).rstrip() in html_text(html)
    assert repr(report).startswith("EstimateReport(llama-3.1-8b on 1x h100-sxm: TTFT ")


def test_search_from_a_mapping_and_a_path_is_the_cli_json_and_tables(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, SPACE, "space.yaml")
    expected = untimed(cli_json(capsys, "search", str(path), "--top", "3"))
    code, out, err = cli(capsys, "search", str(path), "--top", "3")
    assert code == 0, err
    for given in (SPACE, str(path), path):
        report = inferplan.search(given, top=3)
        assert untimed(report.to_dict()) == expected, given
    assert len(expected["best"]) == 3 and expected["best"] == untimed(
        report.to_dict())["best"]
    timed = report.to_dict(timings=True)
    assert isinstance(timed.pop("elapsed_s"), float) and timed == expected
    elapsed = re.compile(r"evaluated in [0-9.]+ s")
    assert elapsed.sub("", str(report)) == elapsed.sub("", out)
    assert "why it wins" in rich_text(report)
    assert elapsed.sub("", report.text(110).rstrip()) in elapsed.sub(
        "", html_text(report._repr_html_()))
    assert report.best[0][1].deployment.model.name == "llama-3.1-8b"


def test_search_simulates_its_best_points_as_the_cli_does(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    space = {**SPACE, "chips": 1, "parallelism": {"tp": 1},
             "workload": {"input_len": 512, "output_len": 64, "concurrency": [4, 8]}}
    path = write(tmp_path, space, "space.yaml")
    expected = untimed(cli_json(capsys, "search", str(path), "--simulate-top", "2"))
    got = untimed(inferplan.search(space, simulate_top=2).to_dict())
    assert got == expected and len(got["simulated"]) == 2


def test_simulate_from_a_mapping_a_path_and_typed_objects_is_the_cli_json(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, SIMULATE, "s.yaml")
    expected = cli_json(capsys, "simulate", str(path), "--seed", "3")
    pair = inferplan.load(path)
    for given in (SIMULATE, str(path), path, pair):
        assert inferplan.simulate(given, seed=3).to_dict() == expected, given
    assert inferplan.simulate(*pair, seed=3).to_dict() == expected
    assert inferplan.simulate(SIMULATE).to_dict() != expected   # the seed reaches it
    code, out, err = cli(capsys, "simulate", str(path), "--seed", "3")
    assert code == 0, err
    report = inferplan.simulate(pair, seed=3)
    assert str(report) == out and rich_text(report) == report.text(80)
    assert report.text(110).rstrip() in html_text(report._repr_html_())


BAD: list[tuple[str, dict[str, Any], str]] = [
    ("estimate", {**ESTIMATE, "chips": "two"}, "scenario.chips"),
    ("estimate", {**ESTIMATE, "model": "llama-3.1-8c"}, "model"),
    ("estimate", {**ESTIMATE, "workload": {**ESTIMATE["workload"], "batch": 100000}},
     "workload.batch"),
    ("simulate", {**SIMULATE, "workload": {**SIMULATE["workload"], "concurrency": -1}},
     "workload.concurrency"),
    ("search", {**SPACE, "chips": [1, "two"]}, "chips"),
]


@pytest.mark.parametrize(("command", "data", "field"), BAD, ids=[b[2] for b in BAD])
def test_a_bad_field_raises_the_cli_line(command: str, data: dict[str, Any], field: str,
                                         tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    function = {"estimate": inferplan.estimate, "simulate": inferplan.simulate,
                "search": inferplan.search}[command]
    with pytest.raises(inferplan.InferplanError) as raised:
        function(data)
    code, _, err = cli(capsys, command, str(write(tmp_path, data, "bad.yaml")))
    assert code == 2 and err.strip() == f"error: {raised.value}"
    assert field in raised.value.field


@pytest.mark.parametrize(("call", "field"), [
    (lambda: inferplan.estimate(42), "scenario"),
    (lambda: inferplan.estimate("no/such/scenario.yaml"), "scenario"),
    (lambda: inferplan.search(SPACE, top=0), "top"),
    (lambda: inferplan.simulate(SIMULATE, seed=-1), "seed"),
    (lambda: inferplan.simulate(inferplan.load(SIMULATE)[0]), "workload"),
], ids=["not-a-source", "no-file", "top", "seed", "deployment-alone"])
def test_a_bad_argument_names_it(call: Any, field: str) -> None:
    with pytest.raises(inferplan.InferplanError) as raised:
        call()
    assert raised.value.field == field and "\n" not in str(raised.value)


def test_search_stays_the_function_once_the_subpackage_is_loaded() -> None:
    import inferplan.search.space  # sets the package attribute, if let
    from inferplan import search
    assert search is inferplan.search and callable(search)
    assert search.__module__ == "inferplan"


def test_import_inferplan_loads_none_of_the_work() -> None:
    probe = ("import sys, inferplan; print(sorted(m for m in sys.modules if m in "
             "{'numpy', 'pydantic', 'yaml', 'rich'} or m.startswith('inferplan.') and m != "
             "'inferplan.units'))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.strip() == "[]"


ROOT = Path(__file__).resolve().parents[1]
TOUR = ROOT / "examples" / "python-api" / "tour.py"


def fenced(doc: str, lang: str) -> str:
    """The first ```LANG block of a markdown page."""
    return doc.split(f"```{lang}\n", 1)[1].split("\n```", 1)[0]


def test_the_doc_shows_the_tour_and_what_it_prints() -> None:
    doc = (ROOT / "docs" / "python-api.md").read_text("utf-8")
    assert fenced(doc, "python") in TOUR.read_text("utf-8")
    out = subprocess.run([sys.executable, TOUR.name], capture_output=True, text=True,
                         cwd=TOUR.parent, env={**os.environ, "COLUMNS": "80"}, timeout=120,
                         check=True).stdout
    assert out.rstrip() == fenced(doc, "text"), (
        "docs/python-api.md is stale: paste the output of `COLUMNS=80 python tour.py` "
        "(in examples/python-api/) under 'prints'")
    assert "](docs/python-api.md)" in (ROOT / "README.md").read_text("utf-8")
