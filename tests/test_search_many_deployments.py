"""Issue 12's per-deployment speed-ups change no number: a deployment's static groups
timed together (`evaluate_static_groups`) equal each group timed alone
(`evaluate_static`), bit for bit; a search equals one that times every group alone; the
engine profile's hash agrees with equality; the cached realistic rates equal fresh ones."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from tests.conftest import make

from inferplan.deployment import Workload
from inferplan.efficiency import _realistic_efficiency, efficiency_for
from inferplan.engines import engine_profile, resolve_engine
from inferplan.hardware import catalog_chip
from inferplan.models import catalog_model
from inferplan.search import parse_space, result, run_search
from inferplan.search.evaluate import evaluate_static, evaluate_static_groups
from inferplan.search.space import SLO

#: Dense, sliding windows, MoE with ep, MLA with pp, cores, ideal; vLLM (phase label
#: inert), SGLang (prompt steps run eagerly: priced apart) and TensorRT-LLM.
CASES: list[dict[str, Any]] = [
    {"model": "llama-3.1-70b", "hardware": "h100-sxm", "chips": 8, "engine": "vllm",
     "parallelism": {"tp": 4, "pp": 2}, "dtypes": {"weights": "fp8", "kv": "fp8",
                                                  "compute": "fp8"}},
    {"model": "gemma-2-9b", "hardware": "h100-sxm", "chips": 2, "parallelism": {"tp": 2},
     "engine": "sglang"},
    {"model": "mixtral-8x7b", "hardware": "h200-sxm", "chips": 8, "engine": "trtllm",
     "parallelism": {"tp": 4, "ep": 8}},
    {"model": "deepseek-v3", "hardware": "h200-sxm", "chips": 16, "engine": "sglang",
     "parallelism": {"tp": 8, "pp": 2}, "dtypes": {"weights": "fp8", "kv": "bf16"}},
    {"model": "llama-3.1-70b", "hardware": "tpu-v5e-scaling-book", "chips": 16,
     "topology": "4x4", "parallelism": {"tp": 16}, "efficiency": "ideal"},
    {"model": "llama-3.1-8b", "hardware": "rngd", "chips": 1, "parallelism": {"tp": 4}},
]
#: (input_len, output_len): a full decode grid, the separable one, one step, none.
SHAPES = [(1024, 16), (4096, 16), (2000, 900), (300, 2), (777, 1)]
BATCHES = np.asarray([1, 3, 17, 64, 200, 512, 4096, 1 << 17], dtype=np.int64)


def _ids(case: dict[str, Any]) -> str:
    return f"{case['model']}-{case['hardware']}-{case.get('engine', 'generic')}"


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.array_equal(a, b, equal_nan=True))


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_static_groups_equal_each_group_alone(case: dict[str, Any]) -> None:
    dep, _ = make(**case, workload={"input_len": 1, "output_len": 2, "batch": 1})
    shapes = [(Workload(input_len=S, output_len=n, batch=1), BATCHES) for S, n in SHAPES]
    together = evaluate_static_groups(dep, shapes)
    for (wl, values), m in zip(shapes, together, strict=True):
        alone = evaluate_static(dep, wl, values, SLO())
        for f in ("batch", "fits", "ttft_s", "tpot_s", "e2e_latency_s"):
            assert _same(getattr(m, f), getattr(alone, f)), (wl, f)
    assert any(m.fits.any() for m in together) and any(not m.fits.all() for m in together)


SPACES: list[dict[str, Any]] = [
    {"model": ["qwen3-8b", "mixtral-8x7b", "gemma-2-27b"], "hardware": ["h100-sxm", "mi300x"],
     "chips": [4, 8], "parallelism": {"tp": [1, 2, 4], "pp": [1, 2], "dp": "auto"},
     "dtypes": {"weights": ["bf16", "int4"], "kv": ["fp8"], "compute": "auto"},
     "engine": ["vllm", "sglang", "trtllm"],
     "workload": {"input_len": [100, 3000], "output_len": [1, 40, 700],
                  "batch": [1, 5, 64, 300, "max"]}},
    {"model": ["llama-3.1-8b"], "hardware": ["h100-sxm"], "chips": [2],
     "parallelism": {"tp": [1, 2]}, "efficiency": ["ideal", "realistic"],
     "speculative": {"draft": "llama-3.2-1b", "alpha": [0.7]},
     "workload": {"input_len": [512, 2048], "output_len": 64, "batch": [1, 8, 96]}},
]


@pytest.mark.parametrize("raw", SPACES, ids=["fleet", "speculative"])
def test_search_equals_one_group_at_a_time(raw: dict[str, Any],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    fast = run_search(parse_space(raw), catalog_model, catalog_chip)
    monkeypatch.setattr(result, "_plain_static", lambda group: False)
    slow = run_search(parse_space(raw), catalog_model, catalog_chip)
    for f in ("ttft_s", "tpot_s", "e2e_latency_s", "output_tokens_per_s", "chips",
              "usd_per_hour"):
        assert _same(getattr(fast.cols, f), getattr(slow.cols, f)), f
    for f in ("order", "status", "point_group", "point_value", "batch", "gamma"):
        assert np.array_equal(getattr(fast, f), getattr(slow, f)), f
    assert fast.dropped == slow.dropped and fast.drop_examples == slow.drop_examples
    assert fast.feasible > 0


def test_static_run_stops_at_another_deployment() -> None:
    raw = {"model": "llama-3.1-8b", "hardware": "h100-sxm", "chips": 2,
           "parallelism": {"tp": [1, 2]},
           "workload": {"input_len": [512, 2048, 4096], "output_len": 8, "batch": [1, 4]}}
    groups = run_search(parse_space(raw), catalog_model, catalog_chip).groups
    assert result.static_run(groups, 0) == [0, 1, 2]
    assert result.static_run(groups, 1) == [1, 2]
    assert result.static_run(groups, 3) == [3, 4, 5]


def test_engine_hash_agrees_with_equality() -> None:
    vllm = engine_profile("vllm")
    again = resolve_engine({"name": "vllm"})
    other = resolve_engine({"name": "vllm", "max_num_seqs": 64})
    assert again == vllm and hash(again) == hash(vllm)
    assert other != vllm and hash(other) != hash(vllm)
    copy = vllm.model_copy(update={"ops": dict(vllm.ops)})
    assert copy == vllm and hash(copy) == hash(vllm)


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_cached_rates_equal_fresh(case: dict[str, Any]) -> None:
    dep, _ = make(**case, workload={"input_len": 1, "output_len": 2, "batch": 1})
    first = efficiency_for(dep)
    _realistic_efficiency.cache_clear()
    assert efficiency_for(dep) == first


@pytest.mark.parametrize("case", CASES[:2], ids=_ids)
def test_chunked_joint_calls_equal_one_call(case: dict[str, Any],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Shapes split over several calls (`JOINT_CELLS`) price every cell the same."""
    from inferplan.search import vectorised

    dep, _ = make(**case, workload={"input_len": 1, "output_len": 2, "batch": 1})
    shapes = [(Workload(input_len=S, output_len=n, batch=1), BATCHES[:6].astype(np.float64))
              for S, n in SHAPES]
    whole = vectorised.static_batch_latencies_many(dep, shapes)
    monkeypatch.setattr(vectorised, "JOINT_CELLS", 50)
    split = vectorised.static_batch_latencies_many(dep, shapes)
    for a, b in zip(whole, split, strict=True):
        for f in ("ttft_s", "tpot_s", "e2e_latency_s"):
            assert _same(getattr(a, f), getattr(b, f))


def test_a_slice_without_scale_out_drops_its_pipelines_not_the_search() -> None:
    """16 L40S (PCIe, domains of 8, no scale-out network): tp 8 with dp 2 runs; any pp > 1
    is dropped as `topology` with the reason, and the search goes on (it raised before)."""
    from inferplan.deployment import scale_out_problem
    from inferplan.hardware import topology_for
    from inferplan.parallel import Layout
    chip = catalog_chip("l40s")
    topo = topology_for(chip, 16, None)
    assert scale_out_problem(topo, Layout(tp=8, dp=2)) is None
    assert "a pipeline cannot cross them" in str(scale_out_problem(topo, Layout(tp=8, pp=2)))
    assert scale_out_problem(topology_for(chip, 8, None), Layout(tp=4, pp=2)) is None
    raw = {"model": "llama-3.1-8b", "hardware": "l40s", "chips": [8, 16],
           "parallelism": {"tp": [1, 2, 4, 8], "pp": [1, 2], "dp": "auto"},
           "dtypes": {"weights": "bf16", "kv": "bf16"},
           "workload": {"input_len": 1024, "output_len": 16, "batch": {"min": 1, "max": 4}}}
    result = run_search(parse_space(raw), catalog_model, catalog_chip)
    assert result.dropped["topology"] == 4 * 4           # 16 chips, pp 2: tp 1..8, 4 batches
    assert result.feasible > 0
