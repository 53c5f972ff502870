"""Deployments evaluated as rows of one array computation (`DeploymentRows`,
`search.rows`) give the numbers each deployment gives alone: the step cost of every row
equals its member's, term by term (and its latency alone, `steptime.step_latency_s`);
memory and fit likewise; a search whose static groups go by family equals the
per-deployment path (`evaluate.evaluate_static_groups`) on a diverse space; and sharing
a collectives plan between slices that differ only in what no collective reads (dp, the
slice beyond its torus shape or domain count) changes nothing."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from tests.conftest import make

from inferplan import communication, layout_plans
from inferplan.communication import communication as comm_time
from inferplan.deployment import Deployment, Workload, scale_out_problem
from inferplan.efficiency import efficiency_for, missing_rates
from inferplan.hardware import catalog_chip
from inferplan.memory import memory_breakdown
from inferplan.models import catalog_model
from inferplan.partitioning import ws2d
from inferplan.rows import PER_ROW, DeploymentRows, element_bytes
from inferplan.search import parse_space, result, run_search
from inferplan.search.rows import design_key, evaluate_family
from inferplan.steptime import step_cost, step_latency_s
from inferplan.units import InferplanError, dtype_bytes

#: Families of deployments that differ only in degrees and slice: dense, sliding windows,
#: MoE with ep, MLA, a torus, a chip of cores; vLLM, SGLang (prompt steps eager) and
#: TensorRT-LLM (a measured all-reduce curve); ideal and realistic; AMD and Gaudi.
FAMILIES: list[tuple[dict[str, Any], list[dict[str, Any]]]] = [
    ({"model": "llama-3.1-70b", "hardware": "h100-sxm", "engine": "trtllm",
      "dtypes": {"weights": "fp8", "kv": "fp8", "compute": "fp8"}},
     [{"chips": 8, "parallelism": {"tp": 8}}, {"chips": 8, "parallelism": {"tp": 4, "pp": 2}},
      {"chips": 16, "parallelism": {"tp": 8, "dp": 2}}, {"chips": 4, "parallelism": {"tp": 4}},
      {"chips": 16, "parallelism": {"tp": 4, "pp": 4}}]),
    ({"model": "gemma-2-27b", "hardware": "mi300x", "engine": "sglang"},
     [{"chips": 2, "parallelism": {"tp": 2}}, {"chips": 8, "parallelism": {"tp": 8}},
      {"chips": 4, "parallelism": {"tp": 1, "pp": 2, "dp": 2}}]),
    ({"model": "mixtral-8x7b", "hardware": "h200-sxm", "engine": "vllm"},
     [{"chips": 8, "parallelism": {"tp": 4, "ep": 8, "dp": 2}},
      {"chips": 8, "parallelism": {"tp": 8}}, {"chips": 4, "parallelism": {"tp": 2, "dp": 2}}]),
    ({"model": "qwen3-30b-a3b", "hardware": "gaudi3"},
     [{"chips": 4, "parallelism": {"tp": 4}}, {"chips": 8, "parallelism": {"tp": 2, "pp": 2,
                                                                          "dp": 2}}]),
    ({"model": "deepseek-v3", "hardware": "h200-sxm", "engine": "sglang",
      "dtypes": {"weights": "fp8", "kv": "bf16"}},
     [{"chips": 16, "parallelism": {"tp": 8, "pp": 2}}, {"chips": 16, "parallelism": {"tp": 16}}]),
    ({"model": "llama-3.1-70b", "hardware": "tpu-v5e-scaling-book", "efficiency": "ideal"},
     [{"chips": 16, "topology": "4x4", "parallelism": {"tp": 16}},
      {"chips": 16, "topology": "4x4", "parallelism": {"tp": 8, "dp": 2}},
      {"chips": 8, "topology": "4x2", "parallelism": {"tp": 4, "pp": 2}}]),
    ({"model": "llama-3.1-8b", "hardware": "rngd"},
     [{"chips": 1, "parallelism": {"tp": 4, "dp": 2}}, {"chips": 1, "parallelism": {"tp": 8}},
      {"chips": 2, "parallelism": {"tp": 8, "dp": 2}}]),
    # members that differ in their KV cache dtype too (`DeploymentRows.per_dtypes`)
    ({"model": "gemma-2-27b", "hardware": "h100-sxm", "engine": "vllm"},
     [{"chips": 2, "parallelism": {"tp": 2}, "dtypes": {"kv": "fp8"}},
      {"chips": 2, "parallelism": {"tp": 2}}, {"chips": 8, "parallelism": {"tp": 8}},
      {"chips": 4, "parallelism": {"tp": 2, "pp": 2}, "dtypes": {"kv": "fp8"}}]),
    # ... and in their weight, expert and compute dtypes (rates per row: fp8 GEMMs'
    # fraction, fixed cost and weight streaming, int4 weight-only computing in bf16)
    ({"model": "llama-3.1-70b", "hardware": "h100-sxm", "engine": "vllm"},
     [{"chips": 8, "parallelism": {"tp": 8}, "dtypes": {"weights": "fp8", "compute": "fp8"}},
      {"chips": 8, "parallelism": {"tp": 8}},
      {"chips": 4, "parallelism": {"tp": 4}, "dtypes": {"weights": "int4", "kv": "fp8"}},
      {"chips": 8, "parallelism": {"tp": 4, "pp": 2},
       "dtypes": {"weights": "fp8", "kv": "fp8", "compute": "fp8"}}]),
    ({"model": "mixtral-8x7b", "hardware": "h200-sxm", "engine": "vllm"},
     [{"chips": 8, "parallelism": {"tp": 4, "ep": 8, "dp": 2},
       "dtypes": {"weights": "fp8", "compute": "fp8"}},
      {"chips": 8, "parallelism": {"tp": 8}, "dtypes": {"weights": "int4"}},
      {"chips": 4, "parallelism": {"tp": 2, "dp": 2}},
      {"chips": 4, "parallelism": {"tp": 4}, "dtypes": {"weights": "bf16", "experts": "int4"}}]),
    ({"model": "mixtral-8x7b", "hardware": "h100-sxm", "engine": "trtllm"},
     [{"chips": 8, "parallelism": {"tp": 8}, "dtypes": {"weights": "fp8", "compute": "fp8"}},
      {"chips": 4, "parallelism": {"tp": 4}, "dtypes": {"experts": "fp8"}},
      {"chips": 4, "parallelism": {"tp": 4}}]),
    ({"model": "qwen3-30b-a3b", "hardware": "mi300x", "efficiency": "ideal"},
     [{"chips": 4, "parallelism": {"tp": 4}, "dtypes": {"weights": "fp8", "compute": "fp8"}},
      {"chips": 8, "parallelism": {"tp": 2, "pp": 2, "dp": 2}, "dtypes": {"weights": "int4"}},
      {"chips": 2, "parallelism": {"tp": 2}}]),
]


def _members(shared: dict[str, Any], layouts: list[dict[str, Any]]) -> list[Deployment]:
    workload = {"input_len": 1, "output_len": 2, "batch": 1}
    return [make(**shared, **lay, workload=workload)[0] for lay in layouts]


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    x, y = np.asarray(a), np.asarray(b)
    return bool(np.array_equal(x, y, equal_nan=x.dtype.kind == "f"))


@pytest.mark.parametrize(("shared", "layouts"), FAMILIES,
                         ids=[f"{s['model']}-{s['hardware']}" for s, _ in FAMILIES])
def test_rows_step_cost_equals_each_member(shared: dict[str, Any],
                                           layouts: list[dict[str, Any]]) -> None:
    members = _members(shared, layouts)
    index = np.asarray([i for i in range(len(members)) for _ in range(3)], dtype=np.intp)
    rows = DeploymentRows(tuple(members), index[:, None])
    B = np.tile([1.0, 7.0, 96.0], len(members))[:, None]
    S = np.asarray([[300.0, 5000.0]])
    contexts = 300.0 + np.arange(5.0)[None, :]
    for phase, q, kv in (("prefill", S, 0.0), ("decode", 1.0, contexts),
                         ("verify", 4.0, contexts)):
        together = step_cost(rows, phase, B, q, kv)
        # the latency alone (what a search reads): the same numbers
        assert _same(step_latency_s(rows, phase, B, q, kv), together.latency_s), phase
        for r, i in enumerate(index):
            alone = step_cost(members[i], phase, B[r], q, kv)
            for field in ("flops", "weight_bytes", "kv_bytes", "activation_bytes",
                          "compute_s", "weights_s", "kv_s", "communication_s", "overhead_s",
                          "latency_s", "mfu", "communication_bound", "layout"):
                got = np.broadcast_to(getattr(together, field)[r], np.shape(alone.latency_s))
                assert _same(got, getattr(alone, field)), (phase, r, field)
            assert together.parts is not None and alone.parts is not None
            assert _same(np.broadcast_to(together.parts.sequences[r], np.shape(
                alone.parts.sequences)), alone.parts.sequences)


@pytest.mark.parametrize(("shared", "layouts"), FAMILIES,
                         ids=[f"{s['model']}-{s['hardware']}" for s, _ in FAMILIES])
def test_rows_memory_and_rates_equal_each_member(shared: dict[str, Any],
                                                 layouts: list[dict[str, Any]]) -> None:
    members = _members(shared, layouts)
    batches = np.asarray([1, 9, 64, 700, 1 << 14])
    rows = DeploymentRows(tuple(members), np.arange(len(members), dtype=np.intp)[:, None])
    for workload in (Workload(input_len=2000, output_len=300, batch=1),
                     Workload(input_len=70, output_len=9000, batch=1,
                              prefill_chunk_tokens=512)):
        together = memory_breakdown(rows, workload, batches[None, :])
        for i, dep in enumerate(members):
            alone = memory_breakdown(dep, workload, batches)
            assert _same(together.total_bytes_per_chip[i], alone.total_bytes_per_chip)
            assert _same(together.fits[i], alone.fits)
    eff = efficiency_for(rows)
    for i, dep in enumerate(members):
        mine = efficiency_for(dep)
        for field in ("matmul_flops_per_s", "memory_bytes_per_s", "interconnect",
                      "gemm_fixed_s", "per_step_overhead_s"):
            assert _same(np.broadcast_to(getattr(eff, field), rows.index.shape)[i, 0],
                         getattr(mine, field)), field


def test_rows_refuse_deployments_that_differ_in_more_than_numbers() -> None:
    a, _ = make(model="llama-3.1-8b", hardware="h100-sxm", chips=1)
    b, _ = make(model="llama-3.1-8b", hardware="h100-sxm", chips=1, engine="vllm")
    with pytest.raises(ValueError, match="differ only"):
        DeploymentRows((a, b), np.zeros((1, 1), dtype=np.intp))
    c, _ = make(model="llama-3.1-8b", hardware="h100-sxm", chips=1, efficiency="ideal")
    with pytest.raises(ValueError, match="differ only"):
        DeploymentRows((a, c), np.zeros((1, 1), dtype=np.intp))
    # a rate one member's engine states and another's lacks (TensorRT-LLM's MoE table has
    # no int4): not rows of one family (`efficiency.missing_rates`, `family_key`)
    d, _ = make(model="mixtral-8x7b", hardware="h100-sxm", chips=4, engine="trtllm")
    e, _ = make(model="mixtral-8x7b", hardware="h100-sxm", chips=4, engine="trtllm",
                dtypes={"weights": "int4"})
    assert missing_rates(d) != missing_rates(e)
    with pytest.raises(ValueError, match="moe_fixed_s"):
        efficiency_for(DeploymentRows((d, e), np.zeros((1, 1), dtype=np.intp)))


def test_rows_of_several_dtypes_read_each_rows_dtype() -> None:
    """Members may differ in their dtypes: `per_dtypes` and `element_bytes` read each
    row's, and a field of `dtypes` they differ in names none (a formula that reads it
    fails instead of pricing every row at the first member's)."""
    a, _ = make(model="llama-3.1-8b", hardware="h100-sxm", chips=1)
    b, _ = make(model="llama-3.1-8b", hardware="h100-sxm", chips=1, dtypes={"kv": "fp8"})
    rows = DeploymentRows((a, b), np.asarray([[0], [1], [1]], dtype=np.intp))
    assert rows.dtypes.kv == PER_ROW and rows.dtypes.weights == "bf16"
    assert np.array_equal(element_bytes(rows, "kv"), [[2.0], [1.0], [1.0]])
    assert DeploymentRows((b, b), rows.index).dtypes is b.dtypes
    with pytest.raises(InferplanError):
        dtype_bytes(rows.dtypes.kv, "dtypes.kv")
    c, _ = make(model="llama-3.1-8b", hardware="h100-sxm", chips=1,
                dtypes={"weights": "fp8", "compute": "fp8"})
    rows = DeploymentRows((a, b, c), np.asarray([[2], [0], [1]], dtype=np.intp))
    assert (rows.dtypes.weights, rows.dtypes.kv, rows.dtypes.compute) == (PER_ROW,) * 3
    assert np.array_equal(element_bytes(rows, "weights"), [[1.0], [2.0], [2.0]])
    assert np.array_equal(element_bytes(rows, "expert_weights"), [[1.0], [2.0], [2.0]])
    seen: list[str] = []
    assert np.array_equal(rows.per_dtypes(lambda dt: seen.append(dt.kv) or 1.0, "compute"),
                          np.ones((3, 1)))
    assert seen == [PER_ROW, PER_ROW]            # fn once per compute dtype, kv unread


#: A diverse space whose static groups go by family: several models (an MoE with ep),
#: chips (AMD, Gaudi, NVIDIA, a torus), engines, dtypes, tp/pp/ep, ideal and realistic,
#: outputs of 1, 9 and 17 tokens, and `max` (in flight, per deployment).
SPACE: dict[str, Any] = {
    "model": ["qwen3-30b-a3b", "gemma-2-27b", "llama-3.1-8b"],
    "hardware": ["mi300x", "gaudi3", "h100-sxm", "tpu-v5e-scaling-book"],
    "chips": [2, 8], "parallelism": {"tp": [1, 2, 8], "pp": [1, 2], "ep": [1, 2],
                                     "dp": "auto"},
    "dtypes": {"weights": ["bf16", "int4", "fp8"], "kv": ["fp8", "bf16"], "compute": "auto"},
    "efficiency": ["ideal", "realistic"], "engine": ["vllm", "sglang", "trtllm"],
    "workload": {"input_len": [100, 3000], "output_len": [1, 17],
                 "batch": [1, 7, 300, "max"]},
}


def test_search_by_family_equals_per_deployment(monkeypatch: pytest.MonkeyPatch) -> None:
    fast = run_search(parse_space(SPACE), catalog_model, catalog_chip)
    monkeypatch.setattr(result, "rows_ready", lambda workload, values: False)
    slow = run_search(parse_space(SPACE), catalog_model, catalog_chip)
    for f in ("ttft_s", "tpot_s", "e2e_latency_s", "output_tokens_per_s", "chips",
              "usd_per_hour"):
        a, b = getattr(fast.cols, f), getattr(slow.cols, f)
        assert np.array_equal(np.isnan(a), np.isnan(b)), f
        np.testing.assert_allclose(a[~np.isnan(a)], b[~np.isnan(b)], rtol=1e-9, atol=0)
    for f in ("order", "status", "point_group", "point_value", "batch", "gamma"):
        assert np.array_equal(getattr(fast, f), getattr(slow, f)), f
    assert fast.dropped == slow.dropped and fast.drop_examples == slow.drop_examples
    assert fast.feasible > 1000


@pytest.mark.parametrize("hardware", ["h100-sxm", "mi300x", "gaudi3", "l40s",
                                      "tpu-v5e-scaling-book"])
def test_shared_plans_equal_fresh_ones(hardware: str) -> None:
    """A plan is shared by slices that differ only in what no collective reads; each
    deployment's collectives equal those of a plan built for it alone."""
    chip = catalog_chip(hardware)
    deployments = []
    for chips in (2, 4, 8, 16):
        for tp, pp in ((2, 1), (4, 1), (2, 2), (8, 1)):
            if tp * pp > chips or chips > 16:
                continue
            try:
                dep, _ = make(model="llama-3.1-8b", hardware=hardware, chips=chips,
                              parallelism={"tp": tp, "pp": pp, "dp": chips // (tp * pp)})
            except Exception:          # a slice or layout this chip cannot hold
                continue
            if scale_out_problem(dep.topology, dep.layout) is None:
                deployments.append(dep)
    assert deployments and all(d.chip.name == chip.name for d in deployments)
    T = np.asarray([1.0, 64.0, 4096.0])
    shared = [comm_time(d, T, T, 0.9, 1e-6, efficiency_for(d)) for d in deployments]
    for dep, (seconds, layout) in zip(deployments, shared, strict=True):
        communication._communication_plan.cache_clear()
        communication._tensor_parallel_part.cache_clear()
        layout_plans._feasible.cache_clear()
        layout_plans._linear.cache_clear()
        ws2d._SPLITS.clear()
        fresh = comm_time(dep, T, T, 0.9, 1e-6, efficiency_for(dep))
        assert _same(seconds, fresh[0]) and _same(layout, fresh[1])


def test_replicas_of_one_design_are_evaluated_once() -> None:
    """Deployments that differ only in their replica count on slices no collective tells
    apart share a `design_key` and are evaluated as one (`evaluate_family`); each
    point equals its deployment's family evaluated alone, bit for bit. H100s: one
    NVSwitch domain up to 8 chips, two at 16 (pipeline sends cross them)."""
    layouts = [(2, 2, 1), (4, 2, 1), (8, 2, 1), (16, 2, 1), (4, 2, 2), (8, 2, 2),
               (16, 2, 2), (16, 8, 2)]          # (chips, tp, pp)
    deps = [make(model="llama-3.1-8b", hardware="h100-sxm", chips=chips, engine="vllm",
                 parallelism={"tp": tp, "pp": pp, "dp": chips // (tp * pp)})[0]
            for chips, tp, pp in layouts]
    keys = [design_key(d) for d in deps]
    assert keys[0] == keys[1] == keys[2] != keys[3]        # 16 chips: two domains
    assert keys[4] == keys[5] != keys[6] and len(set(keys)) == 5
    values = np.asarray([1, 8, 64, 512, 1 << 16], dtype=np.int64)
    items = [(d, Workload(input_len=S, output_len=16, batch=1), values)
             for d in deps for S in (1024, 4096)]
    together = evaluate_family(items)
    for k, item in enumerate(items):
        alone = evaluate_family([item])
        at = slice(k * values.size, (k + 1) * values.size)
        for f in ("fits", "ttft_s", "tpot_s", "e2e_latency_s"):
            assert _same(getattr(together, f)[at], getattr(alone, f)), (k, f)
    assert together.fits.any() and not together.fits.all()
