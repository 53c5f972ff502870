"""`inferplan report`'s roofline figure, bucket plans and assumptions (issue 14).

The roofline grid is checked against the step-time model and the memory model it is
made from (a point of the grid is `steptime.step_cost` at that batch and context; the
largest batch at the scenario's context is the estimate's), and by its properties (the
step grows with batch and context); the figure against the grid; the bucket plan against
`inferplan buckets --json` on the same config; the assumptions against the catalogs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from conftest import cli
from inferplan.cli.actions.estimate import fitting_estimate
from inferplan.models import model_catalog
from inferplan.roofline import context_steps, decode_step_grid
from inferplan.steptime import step_cost

ROOT = Path(__file__).resolve().parents[1]
STATIC = str(ROOT / "docs" / "walkthrough" / "int8-4x2-bs32.yaml")
LENGTHS = "workload: {input_len: 1024, output_len: 256, concurrency: 16}\n"
FURIOSA = ("model: llama-3.1-8b\nhardware: rngd\nchips: 1\nparallelism: {tp: 4, dp: 2}\n"
           "engine: furiosa-llm\n" + LENGTHS)
TPU = "model: llama-3.1-8b\nhardware: tpu-v5e\nchips: 4\nparallelism: {tp: 4}\n"


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def page(capsys: pytest.CaptureFixture[str], tmp_path: Path, *args: str) -> str:
    out = tmp_path / "r.html"
    code, _, err = cli(capsys, "report", *args, "--out", str(out))
    assert code == 0, err[-2000:]
    return out.read_text(encoding="utf-8")


def test_the_grid_is_the_step_time_model_where_the_batch_fits() -> None:
    est = fitting_estimate(STATIC)          # LLaMA 3-70B int8, book v5e 4x2, ideal
    grid = decode_step_grid(est.deployment, est.workload)
    assert grid is not None
    assert est.workload.context_len in grid.context_tokens.tolist()
    k = grid.scenario_index
    assert grid.context_tokens[k] == est.workload.context_len
    assert grid.max_batch[k] == min(est.memory.max_batch, est.deployment.max_running_sequences)
    step = grid.step_s
    for i in (0, int(np.searchsorted(grid.batch, 32))):
        b, t = int(grid.batch[i]), int(grid.context_tokens[k])
        cost = step_cost(est.deployment, "decode", b, 1, t - 1)
        assert step[i, k] == pytest.approx(float(cost.latency_s))
    b32 = int(np.searchsorted(grid.batch, 32))
    assert grid.batch[b32] == 32
    # seed 001 A9: B=32 at T=8192 on the book v5e 4x2 is about 17.2 ms (the walkthrough's
    # scenario holds 8,192 + its outputs; the seed's step sits within 3% of it)
    at_8192 = grid.context_tokens.tolist().index(8192)
    assert step[b32, at_8192] == pytest.approx(17.2e-3, rel=0.03)
    # beyond the largest batch that fits, nothing; below, a finite step
    for j, largest in enumerate(grid.max_batch):
        assert np.all(np.isnan(step[grid.batch > largest, j]))
        assert np.all(np.isfinite(step[grid.batch <= largest, j]))
    # properties: the step grows with batch (at each context) and with context (at B=1)
    finite = np.where(np.isnan(step), np.inf, step)
    assert np.all(np.diff(step[:, 0][np.isfinite(step[:, 0])]) >= 0)
    assert np.all(np.diff(finite[0, :]) >= 0)
    assert np.all(np.diff(grid.max_batch) <= 0)   # longer contexts fit fewer sequences


def test_context_steps_span_512_to_the_models_context() -> None:
    steps = context_steps(1280, 131_072).tolist()
    assert steps[0] == 512 and steps[-1] == 131_072 and 1280 in steps
    assert 1290 not in steps                 # the scenario's own replaces its neighbour
    assert 6 <= len(steps) <= 8
    assert context_steps(300, None).tolist() == [300]


def test_the_figure_draws_the_grid_with_a_slider_over_contexts(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    html = page(capsys, tmp_path, STATIC)
    est = fitting_estimate(STATIC)
    grid = decode_step_grid(est.deployment, est.workload)
    assert grid is not None
    call = re.search(r'Plotly\.newPlot\(\s*"([^"]*-roofline)",\s*(\[.*?\]),\s*(\{.*?\}),\s*'
                     r'\{"displaylogo"', html, flags=re.S)
    assert call, "no roofline figure"
    data, layout = json.loads(call.group(2)), json.loads(call.group(3))
    slider = layout["sliders"][0]
    assert [s["label"] for s in slider["steps"]] == [f"{t:,}" for t in grid.context_tokens]
    assert slider["active"] == grid.scenario_index
    assert len(data) == 5 * grid.context_tokens.size
    shown = [t for t in data if t["visible"]]
    assert [t["name"] for t in shown] == ["compute", "weights", "kv", "communication",
                                          "overhead"]
    k = grid.scenario_index
    fits = ~np.isnan(grid.step_s[:, k])
    for trace in shown:
        assert trace["x"] == grid.batch[fits].tolist()
        assert np.allclose(trace["y"], grid.terms_s[trace["name"]][fits, k] * 1e3)
    for j, step in enumerate(slider["steps"]):   # each step shows its own five traces
        assert [i for i, v in enumerate(step["args"][0]["visible"]) if v] == \
            list(range(5 * j, 5 * j + 5))


def test_a_furiosa_scenario_has_the_bucket_plan_of_inferplan_buckets(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    html = page(capsys, tmp_path, write(tmp_path, "rngd.yaml", FURIOSA))
    assert "<h2>Bucket plans: " in html and "bucket plan" in html
    config = write(tmp_path, "buckets.yaml",
                   "model: llama-3.1-8b\nhardware: rngd\ntensor_parallel_size: 4\n"
                   "prefill_buckets: [[1, 1280]]\ndecode_buckets: [[16, 1280]]\n")
    code, out, err = cli(capsys, "buckets", config, "--json", "--no-suggest")
    assert code == 0, err
    graphs = [g["name"] for g in json.loads(out)["graphs"]]
    assert graphs and all(f"<td>{name}</td>" in html for name in graphs)


@pytest.mark.parametrize(("engine", "heading"), [
    ("jetstream", "JetStream's default prefill lengths"),
    ("vllm-tpu", "token-count paddings, powers of two from 16 to the step's 8,192"),
])
def test_xla_scenarios_have_prefill_buckets(engine: str, heading: str, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    html = page(capsys, tmp_path, write(tmp_path, "tpu.yaml",
                                        TPU + f"engine: {engine}\n" + LENGTHS))
    assert heading in html.replace("&#x27;", "'")
    assert "prefill length buckets" in html and "best powers of two" in html


def test_a_gpu_engine_has_no_bucket_plan(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert "Bucket plans" not in page(capsys, tmp_path, STATIC)


def test_the_assumptions_come_last_with_their_sources(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "cal.yaml").write_text("scale: {weights: 1.25}\nsource: a test ratio\n")
    scenario = write(tmp_path, "mtp.yaml",
                     "model: deepseek-r1\nhardware: b200\nchips: 8\nparallelism: {tp: 8}\n"
                     "dtypes: {weights: fp8, kv: fp8, compute: fp8}\nengine: trtllm\n"
                     "workload: {input_len: 1024, output_len: 1024, concurrency: 4}\n"
                     "speculative: {draft: mtp, gamma: 3, alpha: 0.875}\n"
                     "calibration: cal.yaml\n")
    html = page(capsys, tmp_path, scenario)
    headings = re.findall(r"<h2>([^<]*)</h2>", html)
    assert headings[-1] == "Assumptions"
    last = html.split("<h2>Assumptions</h2>", 1)[1]
    est = fitting_estimate(scenario)
    d = est.deployment
    assert model_catalog()["deepseek-r1"].source in last
    for key, source in d.chip.sources.items():
        assert f"{d.chip.name}: {key}" in last
        assert source.split(" ")[0] in last
    assert f"{d.engine.name} ({d.engine.display_name} {d.engine.version})" in last
    for key, source in d.engine.scheduler.sources.items():
        assert source.replace("'", "&#x27;").replace('"', "&quot;")[:40] in last, key
    assert "<td>realistic</td>" in last
    assert "weights x1.25" in last and "a test ratio" in last
    assert "0 s a step, 0 s a layer, 0 s a sequence and layer; overlap roofline" in last
    assert "deepseek-r1-mtp, 3, 0.875" in last
