"""Speed targets of `inferplan search` (run: `python benchmarks/bench_search.py`).

Each benchmark returns (name, seconds, target) like `run_all.py`'s. Seconds are the
median of three timed runs after one untimed run (catalogs loaded, numpy warm), on
this machine's 2 cores.

- 100,000+ candidate deployments (chips × layouts × dtypes × batch) in ≤ 1 s: LLaMA
  3.1-70B on 8/16/32 H100s, tp and pp in {1, 2, 4, 8}, dp filling the rest, weights
  bf16/fp8/int4, KV bf16/fp8, static batch 1..512, 2048 in / 512 out: 147,456 points.
- The question NVIDIA's aiconfigurator answers in 11-15 s (peers.md): LLaMA 3.1-70B on
  8 H100s, every TP/PP/DP split, fp8/bf16, batch 1..512 in flight, under TTFT and TPOT
  limits, in ≤ 0.5 s, the whole answer: the search, the top five's estimates, why the
  winner wins and the frontier with its decode split.
- The same question as disaggregated pools (`inferplan disagg`: every replica design as
  prefill at 1/2/4/8 prompts per step and as decode at every batch, paired under the
  SLO, plus the co-located search to compare with) in ≤ 0.5 s.
- Speculative decoding as a dimension: the same space in static batches, each point
  plain and with a Llama-3.2-1B draft at α 0.6 and 0.8 (best γ of 1..8 per point),
  98,304 points in ≤ 1 s.
- A fleet space, where the cost of each deployment (not of each point) dominates: four
  models (LLaMA 3.1-70B and 8B, Qwen3-32B, Mixtral-8x7B) on three chips (H100, H200,
  B200 SXM), 8 or 16 of them, tp and pp in {1, 2, 4, 8}, weights bf16/fp8/int4, KV
  bf16/fp8, static batch 1..512, 2048 in / 512 out: 1,179,648 points in ≤ 1.5 s.
- Many deployments, few batches each (issue 12, "search at fleet scale"): twelve catalog
  models on nine chips, 4/8/16 of them, tp {1, 2, 4, 8} × pp {1, 2, 4}, weights
  bf16/fp8/int4, KV bf16/fp8, engines vLLM/SGLang/TensorRT-LLM, prompts of 1,024 and
  4,096 tokens: 139,968 deployments (deployment × workload-shape groups; 101,088 of them
  buildable), each at 16 static batch sizes, in ≤ 3 s. Outputs are 16 tokens, so that a
  point is 16 steps and the cost of each deployment, not of its decode grid, dominates.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from inferplan.hardware import catalog_chip
from inferplan.models import catalog_model
from inferplan.search import SearchResult, parse_space, run_search
from inferplan.search.disagg_search import DisaggResult, run_disagg_search
from inferplan.search.explain import why
from inferplan.search.frontier import frontiers

SPACE_100K: dict[str, Any] = {
    "model": "llama-3.1-70b", "hardware": "h100-sxm", "chips": [8, 16, 32],
    "parallelism": {"tp": [1, 2, 4, 8], "pp": [1, 2, 4, 8], "dp": "auto"},
    "dtypes": {"weights": ["bf16", "fp8", "int4"], "kv": ["bf16", "fp8"], "compute": "auto"},
    "workload": {"input_len": 2048, "output_len": 512, "batch": {"min": 1, "max": 512}},
}

SPACE_FLEET: dict[str, Any] = {
    "model": ["llama-3.1-70b", "qwen3-32b", "llama-3.1-8b", "mixtral-8x7b"],
    "hardware": ["h100-sxm", "h200-sxm", "b200"], "chips": [8, 16],
    "parallelism": {"tp": [1, 2, 4, 8], "pp": [1, 2, 4, 8], "dp": "auto"},
    "dtypes": {"weights": ["bf16", "fp8", "int4"], "kv": ["bf16", "fp8"], "compute": "auto"},
    "workload": {"input_len": 2048, "output_len": 512, "batch": {"min": 1, "max": 512}},
}

SPACE_MANY_DEPLOYMENTS: dict[str, Any] = {
    "model": ["llama-3.1-70b", "llama-3.1-8b", "qwen3-32b", "qwen3-8b", "mixtral-8x7b",
              "gemma-2-27b", "mistral-7b-v0.3", "qwen2.5-72b", "qwen3-30b-a3b", "gpt-oss-20b",
              "llama-3.2-3b", "falcon-40b"],
    "hardware": ["h100-sxm", "h200-sxm", "b200", "a100-80gb-sxm", "mi300x", "gaudi3", "mi325x",
                 "h800-sxm", "h200-nvl"],
    "chips": [4, 8, 16],
    "parallelism": {"tp": [1, 2, 4, 8], "pp": [1, 2, 4], "dp": "auto"},
    "dtypes": {"weights": ["bf16", "fp8", "int4"], "kv": ["bf16", "fp8"], "compute": "auto"},
    "engine": ["vllm", "sglang", "trtllm"],
    "workload": {"input_len": [1024, 4096], "output_len": 16,
                 "batch": [1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512]},
}

SPACE_AICONFIGURATOR: dict[str, Any] = {
    "model": "llama-3.1-70b", "hardware": "h100-sxm", "chips": 8,
    "parallelism": {"tp": [1, 2, 4, 8], "pp": [1, 2, 4, 8], "dp": "auto"},
    "dtypes": {"weights": ["bf16", "fp8"], "kv": ["bf16", "fp8"], "compute": "auto"},
    "workload": {"input_len": 4000, "output_len": 500,
                 "concurrency": {"min": 1, "max": 512}},
    "slo": {"ttft_s": 1.0, "tpot_s": 0.05},
}


def timed(run: Callable[[], object], repeats: int = 3) -> float:
    """Median wall time of `repeats` runs after one untimed run."""
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def search(raw: dict[str, Any]) -> SearchResult:
    return run_search(parse_space(raw), catalog_model, catalog_chip)


def full_answer(raw: dict[str, Any]) -> SearchResult:
    """What `inferplan search --json` computes: search, top-5 estimates, why, frontier."""
    result = search(raw)
    for i in result.best(5):
        result.estimate(i)
    why(result)
    frontiers(result)
    return result


def bench_search_100k() -> tuple[str, float, float]:
    points = search(SPACE_100K).evaluated
    assert points >= 100_000
    return f"search, {points:,} candidate points", timed(lambda: search(SPACE_100K)), 1.0


def bench_search_100k_in_flight() -> tuple[str, float, float]:
    raw = {**SPACE_100K, "workload": {**SPACE_100K["workload"], "batch": None,
                                      "concurrency": {"min": 1, "max": 512}}}
    points = search(raw).evaluated
    return f"search in flight, {points:,} points", timed(lambda: search(raw)), 1.0


def bench_fleet_space() -> tuple[str, float, float]:
    points = search(SPACE_FLEET).evaluated
    return (f"search, fleet space (4 models x 3 chips), {points:,} points",
            timed(lambda: search(SPACE_FLEET)), 1.5)


def bench_many_deployments() -> tuple[str, float, float]:
    """Issue 12's target: 100,000+ deployments × 16 batch sizes in ≤ 3 s (see the module
    docstring). Deployments are the result's groups (model, chip, chips, layout, dtypes,
    engine and workload shape), buildable or not."""
    result = search(SPACE_MANY_DEPLOYMENTS)
    deployments = len(result.groups)
    assert deployments >= 100_000 and result.evaluated == 16 * deployments
    return (f"search, {deployments:,} deployments x 16 batches",
            timed(lambda: search(SPACE_MANY_DEPLOYMENTS)), 3.0)


def bench_fleet_frontier() -> tuple[str, float, float]:
    """The Pareto frontier of the fleet space's two input lengths (2.36 M points), its
    decode splits included: ≤ 1 s (issue 13: it took minutes before `frontiers` read the
    per-chip rate once)."""
    raw = {**SPACE_FLEET, "workload": {**SPACE_FLEET["workload"], "input_len": [1024, 4096]}}
    result = search(raw)
    return (f"frontier of a {result.evaluated:,}-point space, 2 shapes",
            timed(lambda: frontiers(result)), 1.0)


def bench_aiconfigurator_question() -> tuple[str, float, float]:
    result = full_answer(SPACE_AICONFIGURATOR)
    assert result.feasible > 0
    seconds = timed(lambda: full_answer(SPACE_AICONFIGURATOR))
    return f"70B on 8xH100 under SLO, {result.evaluated:,} points, full answer", seconds, 0.5


def bench_aiconfigurator_static() -> tuple[str, float, float]:
    raw = {**SPACE_AICONFIGURATOR, "workload": {
        "input_len": 4000, "output_len": 500, "batch": {"min": 1, "max": 512}}}
    result = full_answer(raw)
    return (f"same, static batches, {result.evaluated:,} points", timed(lambda: full_answer(raw)),
            0.5)


def disagg(raw: dict[str, Any]) -> DisaggResult:
    return run_disagg_search(parse_space(raw), catalog_model, catalog_chip)


def bench_disaggregated_question() -> tuple[str, float, float]:
    raw = {**SPACE_AICONFIGURATOR, "disaggregated": {"prefill_batch": [1, 2, 4, 8]}}
    result = disagg(raw)
    assert result.pairs and result.colocated.feasible
    pools = result.prefill.status.size + result.decode.status.size
    return (f"same, disaggregated pools, {pools:,} pool candidates",
            timed(lambda: disagg(raw)), 0.5)


def bench_speculative_search() -> tuple[str, float, float]:
    raw = {**SPACE_AICONFIGURATOR,
           "workload": {"input_len": 4000, "output_len": 500, "batch": {"min": 1, "max": 512}},
           "speculative": {"draft": "llama-3.2-1b", "alpha": [0.6, 0.8]}}
    result = search(raw)
    assert any(result.group(int(i)).speculative is not None for i in result.order)
    return (f"same, static, plain + draft at 2 alphas, {result.evaluated:,} points",
            timed(lambda: search(raw)), 1.0)


BENCHMARKS: list[Callable[[], tuple[str, float, float]]] = [
    bench_search_100k, bench_search_100k_in_flight, bench_fleet_space,
    bench_many_deployments, bench_aiconfigurator_question,
    bench_aiconfigurator_static, bench_disaggregated_question, bench_speculative_search]


def main() -> None:
    print(f"{'benchmark':58} {'seconds':>9} {'target':>8}  ok")
    failed = False
    for bench in BENCHMARKS:
        name, seconds, target = bench()
        ok = seconds <= target
        failed |= not ok
        print(f"{name:58} {seconds:9.4f} {target:8.2f}  {'yes' if ok else 'NO'}")
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
