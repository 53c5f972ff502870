"""Attention data parallelism (the engines' DP attention, `attention: batch`) in the step
cost: each rank replays its own CUDA graphs."""

from __future__ import annotations

from typing import Any

import pytest

from inferplan.cli.loader import load_scenario
from inferplan.cost import graph_batch_per_rank, step_cost
from inferplan.deployment import Deployment

WORKLOAD = {"input_len": 1024, "output_len": 8, "batch": 1}


def deployment(parallelism: dict[str, Any], engine: Any = "sglang", chips: int = 32,
               hardware: str = "gb200") -> Deployment:
    dep, _ = load_scenario({"model": "deepseek-v3", "hardware": hardware, "chips": chips,
                            "parallelism": parallelism, "engine": engine,
                            "dtypes": {"weights": "fp8", "kv": "fp8"},
                            "workload": WORKLOAD})
    return dep


def test_graph_batch_per_rank_is_the_fullest_rank() -> None:
    """512 sequences over 32 ranks: 16 a rank; 513: 17; one rank: the step itself."""
    assert float(graph_batch_per_rank(512.0, 32)) == 16.0
    assert float(graph_batch_per_rank(513.0, 32)) == 17.0
    assert float(graph_batch_per_rank(600.0, 1)) == 600.0


def test_cuda_graph_capture_limit_applies_per_attention_rank() -> None:
    """SGLang's --cuda-graph-max-bs bounds one DP rank's batch (CudaGraphRunner.can_run):
    32 ranks of 256 decoding sequences each (8,192 in the step) replay graphs, so the step
    costs what it costs with an unbounded capture; 257 a rank (8,224) runs eagerly and
    pays the host's dispatch time."""
    layout = {"tp": 32, "ep": 32, "attention": "batch"}
    capped = deployment(layout, {"name": "sglang", "cuda_graph_max_batch": 256})
    unbounded = deployment(layout, {"name": "sglang", "cuda_graph_max_batch": 10**6})

    def step_s(dep: Deployment, batch: int) -> float:
        return float(step_cost(dep, "decode", batch, 1, 2048).latency_s)

    assert step_s(capped, 32 * 256) == pytest.approx(step_s(unbounded, 32 * 256), rel=1e-12)
    assert step_s(capped, 32 * 257) > step_s(unbounded, 32 * 257) + 0.01
