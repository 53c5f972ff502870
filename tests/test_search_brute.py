"""The search against brute force: every point of small spaces built as a scenario and
estimated one by one with `serving.estimate` (same feasible set, same drops, same best
point, values equal to rel 1e-9); the frontier is non-dominated; `recommend` agrees."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest

from inferplan.hardware import catalog_chip
from inferplan.models import catalog_model
from inferplan.scenario import build_deployment, parse_scenario
from inferplan.search import SearchResult, parse_space, run_search
from inferplan.search.explain import why
from inferplan.search.frontier import frontiers
from inferplan.search.objectives import OBJECTIVES, REASONS
from inferplan.search.pareto import dominated_by, pareto_front
from inferplan.search.recommend import recommend
from inferplan.serving import Estimate, estimate
from inferplan.units import InferplanError

REL = 1e-9
Key = tuple[Any, ...]

SPACE_STATIC: dict[str, Any] = {
    "model": "llama-3.1-8b", "hardware": "h100-sxm", "chips": [1, 2],
    "parallelism": {"tp": [1, 2], "pp": [1, 2], "dp": "auto"},
    "dtypes": {"weights": ["bf16", "fp8"], "kv": "fp8", "compute": ["fp8", "int4"]},
    "workload": {"input_len": [512, 4096], "output_len": 64,
                 "batch": [1, 8, 64, 700, "max"]},
    "slo": {"ttft_s": 1.5, "tpot_s": 0.012},
}
SPACE_CONCURRENCY: dict[str, Any] = {
    "model": ["llama-3.1-70b", "mixtral-8x7b"], "hardware": "tpu-v5e-scaling-book",
    "chips": [4, 8, 12, 16], "parallelism": {"tp": [4, 8, 16], "dp": "auto"},
    "dtypes": {"weights": ["int8", "bf16"], "kv": "int8"}, "efficiency": "ideal",
    "workload": {"input_len": 2048, "output_len": 256, "concurrency": [1, 16, 128]},
    "slo": {"tpot_s": 0.03, "e2e_latency_s": 3.0},
    "objective": "throughput_per_usd",
}
SPACE_SMALL_MODELS: dict[str, Any] = {
    "model": ["llama-3.2-1b", "gemma-2-9b"], "hardware": ["h100-sxm", "l4"],
    "chips": [1, 2], "parallelism": {"tp": [1, 2]},
    "dtypes": {"weights": ["bf16", "int4"], "kv": "bf16", "compute": "auto"},
    "workload": {"input_len": 1024, "output_len": [2, 128], "batch": {"min": 1, "max": 4}},
    "objective": "min_tpot",
}
#: The engine as a dimension: each point's figures are `serving.estimate` of the scenario
#: with that engine (its scheduler and per-op costs), in a closed loop where they differ.
SPACE_ENGINES: dict[str, Any] = {
    "model": "qwen3-32b", "hardware": "h100-sxm", "chips": 8,
    "engine": ["vllm", "sglang", "trtllm"],
    "parallelism": {"tp": [1, 2, 4, 8], "dp": "auto"},
    "workload": {"input_len": 1024, "output_len": 256, "concurrency": [1, 8, 32, 128]},
    "slo": {"tpot_s": 0.04},
}
SPACES = {"static": SPACE_STATIC, "concurrency": SPACE_CONCURRENCY,
          "small": SPACE_SMALL_MODELS, "engines": SPACE_ENGINES}


def listed(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return list(range(value["min"], value["max"] + 1))
    return list(value) if isinstance(value, list) else [value]


def engines_of(raw: dict[str, Any]) -> list[Any]:
    """The space's engines as scenarios name them ([None]: no `engine:`, generic)."""
    engine = raw.get("engine")
    return [None] if engine is None else list(engine) if isinstance(engine, list) else [engine]


def brute_force(raw: dict[str, Any]) -> tuple[dict[Key, Estimate], dict[str, int], int]:
    """Every point as a scenario: feasible estimates by key, drop counts, total points."""
    p, d, w = raw.get("parallelism", {}), raw.get("dtypes", {}), raw["workload"]
    mode = "concurrency" if "concurrency" in w else "batch"
    axes = [listed(raw["model"]), listed(raw["hardware"]), listed(raw["chips"]),
            listed(p.get("tp", 1)), listed(p.get("pp", 1)), listed(d.get("weights", "bf16")),
            listed(d.get("kv", "bf16")), listed(d.get("compute", "bf16")),
            listed(raw.get("efficiency", "realistic")), listed(w["input_len"]),
            listed(w["output_len"]), listed(w[mode]), engines_of(raw)]
    slo = raw.get("slo", {})
    feasible: dict[Key, Estimate] = {}
    dropped = {"illegal": 0, "memory": 0, "slo_ttft": 0, "slo_tpot": 0, "slo_e2e": 0,
               "no_price": 0}
    total = 0
    for (model, hw, chips, tp, pp, weights, kv, compute, eff, s, n,
         value, engine) in itertools.product(*axes):
        total += 1
        chip = catalog_chip(hw)
        comp = compute if compute != "auto" else (
            weights if weights in chip.peak_flops_per_s else "bf16")
        scen = {"model": model, "hardware": hw, "chips": chips,
                "parallelism": {"tp": tp, "pp": pp, "dp": "auto"},
                "dtypes": {"weights": weights, "kv": kv, "compute": comp}, "efficiency": eff,
                "workload": {"input_len": s, "output_len": n, mode: value}}
        if engine is not None:
            scen["engine"] = engine
        try:
            dep, wl = build_deployment(parse_scenario(scen), catalog_model, catalog_chip)
        except InferplanError:
            dropped["illegal"] += 1
            continue
        est = estimate(dep, wl)
        if not est.fits:
            dropped["memory"] += 1
        elif est.ttft_s > slo.get("ttft_s", math.inf):
            dropped["slo_ttft"] += 1
        elif est.tpot_s > slo.get("tpot_s", math.inf):
            dropped["slo_tpot"] += 1
        elif est.e2e_latency_s > slo.get("e2e_latency_s", math.inf):
            dropped["slo_e2e"] += 1
        elif raw.get("objective") == "throughput_per_usd" and dep.price is None:
            dropped["no_price"] += 1
        else:
            feasible[(model, hw, chips, tp, pp, dep.layout.dp, weights, kv, comp, eff, s, n,
                      value, repr(engine))] = est
    return feasible, dropped, total


def key_of(result: SearchResult, i: int) -> Key:
    s = result.scenario(i)
    p, d, w = s["parallelism"], s["dtypes"], s["workload"]
    value = w.get("concurrency", w.get("batch"))
    return (s["model"], s["hardware"], s["chips"], p["tp"], p["pp"], p["dp"], d["weights"],
            d["kv"], d["compute"], s["efficiency"], w["input_len"], w["output_len"], value,
            repr(s.get("engine")))


def objective_of(objective: str, est: Estimate) -> float:
    return {"throughput_per_chip": est.output_tokens_per_s_per_chip,
            "throughput_per_usd": est.output_tokens_per_s * 3600
            / ((est.deployment.price or math.nan) * est.deployment.chips),
            "min_tpot": -est.tpot_s, "min_ttft": -est.ttft_s,
            "min_chips": -est.deployment.chips}[objective]


@pytest.fixture(scope="module", params=list(SPACES))
def pair(request: pytest.FixtureRequest) -> tuple[dict[str, Any], SearchResult, Any]:
    raw = SPACES[request.param]
    return raw, run_search(parse_space(raw), catalog_model, catalog_chip), brute_force(raw)


def test_same_feasible_set_and_values(pair: tuple[dict[str, Any], SearchResult, Any]) -> None:
    _, result, (feasible, _, _) = pair
    found = {key_of(result, int(i)): int(i) for i in result.order}
    assert set(found) == set(feasible)
    assert feasible, "the space should keep some points"
    for key, est in feasible.items():
        i = found[key]
        assert result.batch[i] == est.batch
        assert result.cols.ttft_s[i] == pytest.approx(est.ttft_s, rel=REL)
        assert result.cols.tpot_s[i] == pytest.approx(est.tpot_s, rel=REL)
        assert result.cols.e2e_latency_s[i] == pytest.approx(est.e2e_latency_s, rel=REL)
        assert result.cols.output_tokens_per_s[i] == pytest.approx(est.output_tokens_per_s,
                                                                   rel=REL)


def test_every_point_is_counted_with_a_reason(
        pair: tuple[dict[str, Any], SearchResult, Any]) -> None:
    _, result, (feasible, dropped, total) = pair
    assert result.evaluated == total
    assert result.feasible == len(feasible)
    assert result.evaluated == result.feasible + sum(result.dropped.values())
    illegal = sum(result.dropped.get(r, 0) for r in ("topology", "layout", "compute_dtype"))
    assert illegal == dropped["illegal"]
    for reason in ("memory", "slo_ttft", "slo_tpot", "slo_e2e", "no_price"):
        assert result.dropped.get(reason, 0) == dropped[reason], reason
    assert set(result.drop_examples) == set(result.dropped)


def test_same_best_point(pair: tuple[dict[str, Any], SearchResult, Any]) -> None:
    raw, result, (feasible, _, _) = pair
    objective = raw.get("objective", "throughput_per_chip")
    scores = {k: objective_of(objective, e) for k, e in feasible.items()}
    top = max(scores.values())
    best = result.best(1)[0]
    assert scores[key_of(result, best)] == pytest.approx(top, rel=REL)
    winners = [k for k, v in scores.items() if v >= top * (1 - 1e-12) - 1e-300]
    if len(winners) == 1:
        assert key_of(result, best) == winners[0]
    # the whole ranking is sorted by the objective
    ranked = [scores[key_of(result, int(i))] for i in result.order]
    assert all(a >= b - 1e-12 * abs(b) for a, b in itertools.pairwise(ranked))


def test_frontier_is_non_dominated(pair: tuple[dict[str, Any], SearchResult, Any]) -> None:
    _, result, _ = pair
    for f in frontiers(result):
        shape = [int(i) for i in result.order
                 if (result.group(int(i)).workload.input_len,
                     result.group(int(i)).workload.output_len) == (f.input_len, f.output_len)]
        lat = result.cols.tpot_s[shape]
        thr = result.cols.tokens_per_s_per_chip[shape]
        members = {p.index for p in f.points}
        assert len(f.points) >= (1 if shape else 0)
        for k, i in enumerate(shape):
            if i in members:
                assert dominated_by(lat, thr, k).size == 0
            else:   # every other point is dominated by (or equal to) a frontier point
                assert any(result.cols.tpot_s[m] <= lat[k]
                           and result.cols.tokens_per_s_per_chip[m] >= thr[k]
                           for m in members)
        tpots = [p.tpot_s for p in f.points]
        assert tpots == sorted(tpots)
        for p in f.points:
            assert set(p.decode_split_s) == {"compute", "weights", "kv", "communication",
                                             "overhead"}
            est = result.estimate(p.index)
            assert p.decode_split_s == pytest.approx(est.decode.breakdown_s, rel=1e-9)


def test_recommend_against_brute_force(
        pair: tuple[dict[str, Any], SearchResult, Any]) -> None:
    _, result, (feasible, _, _) = pair
    target = 3 * max(e.output_tokens_per_s for e in feasible.values())
    recs = recommend(result, target, "tokens", "chips", top=3)
    fewest = min(math.ceil(max(1, math.ceil(target / (e.output_tokens_per_s
                                                      / e.deployment.layout.dp) - 1e-9))
                           * e.deployment.layout.model_parallel
                           / e.deployment.chip.cores_per_chip) for e in feasible.values())
    assert recs[0].chips == fewest
    assert recs[0].tokens_per_s >= target * (1 - 1e-12)
    assert [r.chips for r in recs] == sorted(r.chips for r in recs)


def test_pareto_front_small_cases() -> None:
    assert pareto_front([1, 2, 2, 3], [1, 3, 2, 2]).tolist() == [0, 1]
    assert pareto_front([1, 1], [5, 5]).tolist() == [0]
    assert pareto_front([], []).tolist() == []
    rng = np.random.default_rng(7)
    lat, thr = rng.random(300), rng.random(300)
    front = set(pareto_front(lat, thr).tolist())
    for i in range(300):
        assert (dominated_by(lat, thr, i).size == 0) == (i in front)


def test_why_the_winner_wins(pair: tuple[dict[str, Any], SearchResult, Any]) -> None:
    _, result, _ = pair
    reason = why(result)
    assert reason is not None and reason.winner == result.best(1)[0]
    score = OBJECTIVES[result.objective].score(result.cols)
    for alt in reason.alternatives:
        assert alt.axis in result.varied_axes
        assert result.value(reason.winner, alt.axis) != alt.value
        if alt.index is None:
            assert alt.reason in REASONS
        else:
            assert result.value(alt.index, alt.axis) == alt.value
            assert score[alt.index] <= score[reason.winner]
    assert reason.limit


def test_the_engine_changes_the_answer() -> None:
    """Same layout and concurrency, different engine: SGLang's prompt-only steps make
    the decodes wait (TTFT and TPOT differ from vLLM's mixed steps), and each engine's
    figures are its own scenario's `serving.estimate`."""
    result = run_search(parse_space(SPACE_ENGINES), catalog_model, catalog_chip)
    every = {key_of(result, i): i for i in range(result.point_group.size)
             if bool(result.cols.ttft_s[i] == result.cols.ttft_s[i])}
    for tp, c in itertools.product([2, 4, 8], [8, 32]):
        by_engine = {}
        for engine in SPACE_ENGINES["engine"]:
            key = ("qwen3-32b", "h100-sxm", 8, tp, 1, 8 // tp, "bf16", "bf16", "bf16",
                   "realistic", 1024, 256, c, repr(engine))
            i = every[key]
            assert result.deployment(i).engine.name == engine
            dep, wl = build_deployment(parse_scenario({
                "model": "qwen3-32b", "hardware": "h100-sxm", "chips": 8, "engine": engine,
                "parallelism": {"tp": tp}, "workload": {"input_len": 1024, "output_len": 256,
                                                        "concurrency": c}}),
                catalog_model, catalog_chip)
            est = estimate(dep, wl)
            assert result.cols.tpot_s[i] == pytest.approx(est.tpot_s, rel=REL)
            assert result.cols.ttft_s[i] == pytest.approx(est.ttft_s, rel=REL)
            by_engine[engine] = est
        vllm, sglang = by_engine["vllm"], by_engine["sglang"]
        # the engine changes the answer (a TPOT may agree by chance at few clients)
        assert vllm.ttft_s != pytest.approx(sglang.ttft_s, rel=1e-3), (tp, c)
        assert (vllm.ttft_s, vllm.tpot_s) != pytest.approx((sglang.ttft_s, sglang.tpot_s),
                                                           rel=1e-3), (tp, c)
    assert result.varied_axes >= {"engine", "tp"}


@pytest.mark.parametrize("mode", ["concurrency", "batch"])
def test_how_the_benchmark_draws_lengths_reaches_every_point(mode: str) -> None:
    """A space's `length_ratio`, `prefix_hit_rate` and `requests` apply to every point, go
    into the point's scenario, and the point's numbers are that scenario's estimate; spread
    lengths change the answer of fixed ones (a closed loop's groups dissolve)."""
    shapes = {"concurrency": [8, 32]} if mode == "concurrency" else {"batch": [8, 32]}
    drawn = {"length_ratio": 0.8, "prefix_hit_rate": 0.5, "requests": 200}
    raw: dict[str, Any] = {
        "model": "qwen3-32b", "hardware": "h100-sxm", "chips": 8, "engine": "vllm",
        "parallelism": {"tp": [2, 4, 8], "dp": "auto"},
        "workload": {"input_len": 1024, "output_len": 256, **shapes, **drawn}}
    result = run_search(parse_space(raw), catalog_model, catalog_chip)
    assert result.evaluated == 6
    for i in range(result.point_group.size):
        s = result.scenario(i)
        assert {k: s["workload"][k] for k in drawn} == drawn
        dep, wl = build_deployment(parse_scenario(s), catalog_model, catalog_chip)
        est = estimate(dep, wl)
        assert result.cols.tpot_s[i] == pytest.approx(est.tpot_s, rel=REL)
        assert result.cols.ttft_s[i] == pytest.approx(est.ttft_s, rel=REL)
    fixed = run_search(parse_space({**raw, "workload": {**raw["workload"], "length_ratio": 1.0,
                                                       "prefix_hit_rate": 0.0}}),
                       catalog_model, catalog_chip)
    assert "length_ratio" not in fixed.scenario(0)["workload"]
    assert not np.allclose(fixed.cols.ttft_s, result.cols.ttft_s)


def test_a_bad_length_field_in_a_space_is_one_line() -> None:
    raw = {"model": "qwen3-32b", "hardware": "h100-sxm", "chips": 8,
           "workload": {"input_len": 1024, "output_len": 256, "concurrency": 8,
                        "length_ratio": 1.5}}
    with pytest.raises(InferplanError) as err:
        parse_space(raw)
    assert "space.workload.length_ratio" in str(err.value)
