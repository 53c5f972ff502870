"""`inferplan search`, `recommend` and `frontier`: outputs, JSON contracts, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.test_cli import run, scenario

SPACE = """
name: small-space
model: llama-3.1-8b
hardware: h100-sxm
chips: [1, 2]
parallelism: {tp: [1, 2], pp: 1, dp: auto}
dtypes: {weights: [bf16, fp8], kv: fp8, compute: auto}
workload: {input_len: [512, 2048], output_len: 128, batch: {min: 1, max: 64}}
slo: {ttft_s: 0.5, tpot_s: 0.02}
objective: throughput_per_chip
"""


def test_search_prints_the_winner_and_why(tmp_path: Path) -> None:
    out = run("search", scenario(tmp_path, SPACE), "--top", "3")
    assert out.returncode == 0, out.stderr
    text = " ".join(out.stdout.split())
    assert "points evaluated" in text and "feasible" in text
    assert "best 3 by throughput_per_chip" in text
    assert "step time, exposed" in text           # the winner's full estimate
    assert "why it wins" in text and "its batch is limited by" in text
    assert "best of each alternative" in text


def test_search_json_contract(tmp_path: Path) -> None:
    out = run("search", scenario(tmp_path, SPACE), "--json", "--top", "4")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["evaluated"] == 2 * 2 * 2 * 2 * 64      # chips x tp x weights x S x batch
    assert data["evaluated"] == data["feasible"] + sum(data["dropped"].values())
    assert set(data["dropped"]) <= {"topology", "layout", "compute_dtype", "memory",
                                    "slo_ttft", "slo_tpot", "slo_e2e", "no_price"}
    assert len(data["best"]) == 4
    first = data["best"][0]
    for key in ("scenario", "ttft_s", "tpot_s", "throughput", "decode", "prefill", "memory"):
        assert key in first
    assert first["ttft_s"] <= 0.5 and first["tpot_s"] <= 0.02 and first["fits"]
    rates = [b["throughput"]["output_tokens_per_s_per_chip"] for b in data["best"]]
    assert rates == sorted(rates, reverse=True)
    assert data["frontier"] and {"input_len", "tpot_s", "output_tokens_per_s_per_chip",
                                 "decode_split_s"} <= set(data["frontier"][0])
    assert {f["input_len"] for f in data["frontier"]} == {512, 2048}


def test_a_best_point_scenario_round_trips_through_estimate(tmp_path: Path) -> None:
    data = json.loads(run("search", scenario(tmp_path, SPACE), "--json").stdout)
    best = data["best"][0]
    path = tmp_path / "best.json"
    path.write_text(json.dumps(best["scenario"]))
    again = json.loads(run("estimate", str(path), "--json").stdout)
    assert again["tpot_s"] == pytest.approx(best["tpot_s"], rel=1e-12)
    assert again["throughput"] == pytest.approx(best["throughput"], rel=1e-12)


def test_recommend(tmp_path: Path) -> None:
    path = scenario(tmp_path, SPACE)
    out = run("recommend", path, "--target-tokens-per-s", "20000", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    recs = data["recommendations"]
    assert recs and recs[0]["output_tokens_per_s"] >= 20000
    assert [r["chips"] for r in recs] == sorted(r["chips"] for r in recs)
    text = " ".join(run("recommend", path, "--target-requests-per-s", "5", "--by",
                        "cost").stdout.split())
    assert "recommended" in text and "replica" in text and "$/hour" in text


def test_frontier_table_and_html(tmp_path: Path) -> None:
    html = tmp_path / "frontier.html"
    out = run("frontier", scenario(tmp_path, SPACE), "--html", str(html))
    assert out.returncode == 0, out.stderr
    text = " ".join(out.stdout.split())              # rich wraps at the terminal width
    assert "frontier at 512 in / 128 out" in text and "split %" in text
    assert html.stat().st_size > 100_000 and "plotly" in html.read_text()[:200_000].lower()


@pytest.mark.parametrize(("args", "says"), [
    (("search", "missing.yaml"), "space: 'missing.yaml' is not valid; no such file"),
    (("frontier", "missing.yaml"), "space: 'missing.yaml' is not valid; no such file"),
    (("recommend", "SPACE"), "give exactly one of them"),
    (("recommend", "SPACE", "--target-tokens-per-s", "-3"), "must be a positive rate"),
])
def test_bad_input_exits_2_with_one_line(tmp_path: Path, args: tuple[str, ...],
                                         says: str) -> None:
    path = scenario(tmp_path, SPACE)
    out = run(*(path if a == "SPACE" else a for a in args))
    assert out.returncode == 2
    assert says in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_bad_space_field(tmp_path: Path) -> None:
    out = run("search", scenario(tmp_path, SPACE.replace("chips: [1, 2]", "chips: [1, two]")))
    assert out.returncode == 2
    assert out.stderr.startswith("error: space.chips: [1, 'two'] is not valid")


ENGINES = SPACE.replace("chips: [1, 2]", "chips: 2\nengine: [vllm, {name: sglang, "
                        "max_num_batched_tokens: 4096}]").replace(
    "batch: {min: 1, max: 64}", "concurrency: [1, 16, 64]")


def test_an_engine_space_names_the_engine_everywhere(tmp_path: Path) -> None:
    data = json.loads(run("search", scenario(tmp_path, ENGINES), "--json", "--top", "8").stdout)
    names = {"vllm": "vllm", repr({"name": "sglang", "max_num_batched_tokens": 4096}): "sglang"}
    for record in data["best"] + data["frontier"]:
        spec = record["scenario"]["engine"]
        assert names[spec if isinstance(spec, str) else repr(spec)]
    assert {b["engine"]["name"] for b in data["best"]} == {"vllm", "sglang"}
    assert "engine" in {a["axis"] for a in data["why"]["alternatives"]}
    for b in data["best"]:
        path = tmp_path / "point.json"
        path.write_text(json.dumps(b["scenario"]))
        again = json.loads(run("estimate", str(path), "--json").stdout)
        assert again["engine"] == b["engine"]
        assert again["tpot_s"] == pytest.approx(b["search"]["tpot_s"], rel=1e-9)


def test_bad_space_engine(tmp_path: Path) -> None:
    out = run("search", scenario(tmp_path, ENGINES.replace("[vllm, {", "[vlm, {")))
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1
    assert out.stderr.startswith("error: space.engine[0]: 'vlm' is not valid; ")
    assert "did you mean vllm" in out.stderr


def test_recommend_by_cost_without_any_price_says_why(tmp_path: Path) -> None:
    """A chip without a price (A100 80GB SXM) ranked by cost: one line naming --by and
    what to do, not 'no feasible design' after listing feasible points."""
    space = SPACE.replace("hardware: h100-sxm", "hardware: a100-80gb-sxm")
    assert space != SPACE
    out = run("recommend", scenario(tmp_path, space), "--target-requests-per-s", "5",
              "--by", "cost")
    assert out.returncode == 2
    line = out.stderr.strip()
    assert "\n" not in line and "--by" in line and "has a price" in line
