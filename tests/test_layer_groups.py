"""The per-step quantities computed once per distinct layer kind (times its count) and the
collectives read once per deployment as linear functions of the tokens equal the
per-layer loops and the per-step plans they replace (relative 1e-12), on models that mix
sliding-window, linear and sparse attention and dense and MoE layers."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from inferplan.cli.loader import load_scenario
from inferplan.collectives import all_gather_time, all_to_all_time, place_group, send_recv_time
from inferplan.cost import (
    attended_positions,
    attention_flops,
    busiest_expert_share,
    communication,
    ep_all_to_all_bytes,
    fixed_kernel_time_s,
    gemms_per_layer,
    kv_bytes_moved,
    matmul_params_per_token,
    weight_bytes_read,
)
from inferplan.deployment import Deployment
from inferplan.efficiency import Efficiency, efficiency_for
from inferplan.memory import (
    attention_params_per_device,
    expert_params_per_device,
    ffn_params_per_device,
    kv_bytes_per_sequence_per_device,
    linear_state_shards,
    stage_layers,
    stage_params_per_device,
)
from inferplan.models import ModelSpec, catalog_model
from inferplan.parallel import Layout
from inferplan.partitioning import feasible_layouts, layout_plan, linear_plan
from inferplan.units import dtype_bytes

FloatArray = npt.NDArray[np.float64]
MIXED = ["gemma-2-27b", "gemma-3-27b", "qwen3.5-397b-a17b", "glm-5", "deepseek-v3",
         "gpt-oss-120b", "mixtral-8x7b", "llama-3.1-70b", "minimax-m2.5", "falcon-180b"]
LAYOUTS = [Layout(tp=1), Layout(tp=8), Layout(tp=4, pp=3), Layout(tp=16, attention="batch"),
           Layout(tp=8, ep=16, dp=2), Layout(tp=2, pp=4, attention="heads")]
TOKENS = (np.asarray(1.0), np.asarray([1.0, 7.0, 64.0, 921.6, 8192.0]))
CONTEXTS = np.asarray([0.0, 100.0, 4095.0, 4096.0, 8191.0, 131072.0])


def close(a: npt.ArrayLike, b: npt.ArrayLike) -> None:
    np.testing.assert_allclose(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64),
                               rtol=1e-12, atol=0.0)


# ------------------------------------------------------- the per-layer loops, as they were
def loop_stage_params(model: ModelSpec, layout: Layout) -> list[tuple[float, float]]:
    norms = model.norm_params_per_layer
    V, D = model.vocab_size, model.hidden_size
    final_norm = D * (2 if model.norm_with_bias else 1)
    stages = stage_layers(model.num_layers, layout.pp)
    per_layer = expert_params_per_device(model, layout)
    out = []
    for s, layers in enumerate(stages):
        params, experts = 0.0, 0.0
        for i in layers:
            routed = per_layer if model.layer_moe[i] else 0.0
            experts += routed
            params += (attention_params_per_device(model, layout, model.layer_attention[i])
                       + norms + ffn_params_per_device(model, layout, model.layer_moe[i])
                       - routed)
        if s == 0:
            params += V * D / layout.tp
        if s == len(stages) - 1:
            params += final_norm + (0 if model.tie_word_embeddings and len(stages) == 1
                                    else V * D / layout.tp)
        out.append((params, experts))
    return out


def loop_kv_per_sequence(model: ModelSpec, layout: Layout, kv: str, T: FloatArray) -> FloatArray:
    heads = layout.head_shards(model)
    state = (model.linear_attention.state_bytes_per_sequence / linear_state_shards(model, layout)
             if model.linear_attention is not None else 0.0)
    best = np.zeros_like(T)
    for layers in stage_layers(model.num_layers, layout.pp):
        total = np.zeros_like(T)
        for i in layers:
            w, kind = model.layer_windows[i], model.layer_attention[i]
            if kind == "linear":
                total = total + state
                continue
            per = model.kv_bytes_per_token_per_layer(kind, kv) / heads
            total = total + per * (T if w is None else np.minimum(T, float(w)))
        best = np.maximum(best, total)
    return best


def loop_matmul_params(model: ModelSpec, layout: Layout) -> float:
    total = 0.0
    for moe_layer, kind in zip(model.layer_moe, model.layer_attention, strict=True):
        attn = attention_params_per_device(model, layout, kind)
        if moe_layer and model.moe is not None:
            m = model.moe
            router = model.hidden_size * m.num_experts
            ffn = (m.experts_per_token * model.expert_params
                   + model.moe_shared_params - router) / layout.tp + router
        else:
            ffn = ffn_params_per_device(model, layout, False)
        total += attn + ffn
    return total


def loop_weight_bytes(model: ModelSpec, layout: Layout, w_dtype: str, T: FloatArray,
                      e_dtype: str | None) -> FloatArray:
    w = dtype_bytes(w_dtype)
    e = dtype_bytes(e_dtype) if e_dtype is not None else w
    params = np.zeros_like(T) + sum(attention_params_per_device(model, layout, kind)
                                    for kind in model.layer_attention)
    params = params + model.num_layers * model.norm_params_per_layer
    params = params + model.vocab_size * model.hidden_size / layout.tp
    experts = np.zeros_like(T)
    for moe_layer in model.layer_moe:
        if moe_layer and model.moe is not None:
            m = model.moe
            touched = busiest_expert_share(m.num_experts, m.experts_per_token,
                                           T * max(1, layout.ep // layout.tp),
                                           max(1, layout.ep))
            routed = expert_params_per_device(model, layout)
            experts = experts + touched * routed
            params = params + ffn_params_per_device(model, layout, True) - routed
        else:
            params = params + ffn_params_per_device(model, layout, False)
    return np.asarray(params * w + experts * e, dtype=np.float64)


def loop_attention_flops(model: ModelSpec, layout: Layout, B: float, q: FloatArray,
                         kv: FloatArray) -> FloatArray:
    per_pos = model.attention_flops_per_position
    total = np.zeros(np.broadcast_shapes(np.shape(q), np.shape(kv)))
    for w, kind in zip(model.layer_windows, model.layer_attention, strict=True):
        if kind == "linear" and model.linear_attention is not None:
            total = total + q * model.linear_attention.flops_per_token / layout.tp
        elif kind == "sparse" and model.sparse_attention is not None:
            sp = model.sparse_attention
            total = total + per_pos / layout.tp * attended_positions(q, kv, float(sp.top_k)) \
                + sp.index_flops_per_position * attended_positions(q, kv, None)
        else:
            total = total + per_pos / layout.tp * attended_positions(q, kv, w)
    return B * total


def loop_kv_moved(model: ModelSpec, layout: Layout, kv_dtype: str, B: float, q: FloatArray,
                  kv: FloatArray) -> FloatArray:
    span = kv + q
    per_position = model.kv_elements_per_token_per_layer * dtype_bytes(kv_dtype)
    heads = layout.head_shards(model)
    total = np.zeros_like(span)
    for w, kind in zip(model.layer_windows, model.layer_attention, strict=True):
        if kind == "linear" and model.linear_attention is not None:
            total = total + 2.0 * model.linear_attention.state_bytes_per_sequence / (
                linear_state_shards(model, layout))
        elif kind == "sparse" and model.sparse_attention is not None:
            sp = model.sparse_attention
            total = total + (np.minimum(span, q * sp.top_k) * per_position
                             + span * sp.index_bytes_per_token) / heads
        else:
            total = total + (span if w is None else np.minimum(span, float(w))) * (
                per_position / heads)
    return B * total / layout.kv_batch_shards(model)


# ------------------------------------------------------------------------ the groups
@pytest.mark.parametrize("name", MIXED)
def test_layer_groups_count_every_layer(name: str) -> None:
    model = catalog_model(name)
    layers = list(zip(model.layer_windows, model.layer_attention, model.layer_moe,
                      strict=True))
    assert sum(n for *_, n in model.layer_groups) == model.num_layers
    for w, kind, moe, n in model.layer_groups:
        assert layers.count((w, kind, moe)) == n
    assert sum(n for *_, n in model.attention_groups) == model.num_layers
    assert sum(n for *_, n in model.block_groups) == model.num_layers


def test_mixed_models_have_several_groups() -> None:
    assert len(catalog_model("gemma-2-27b").attention_groups) == 2       # sliding + global
    assert {k for _, k, _ in catalog_model("qwen3.5-397b-a17b").attention_groups} == {
        "linear", "full"}
    assert {k for _, k, _ in catalog_model("glm-5").attention_groups} == {"sparse"}
    assert {m for _, m, _ in catalog_model("deepseek-v3").block_groups} == {False, True}


@pytest.mark.parametrize("name", MIXED)
@pytest.mark.parametrize("layout", LAYOUTS, ids=repr)
def test_grouped_sums_equal_per_layer_loops(name: str, layout: Layout) -> None:
    model = catalog_model(name)
    for got, want in zip(stage_params_per_device(model, layout),
                         loop_stage_params(model, layout), strict=True):
        close(got, want)
    close(matmul_params_per_token(model, layout), loop_matmul_params(model, layout))
    for kv in ("bf16", "fp8"):
        close(kv_bytes_per_sequence_per_device(model, layout, kv, CONTEXTS),
              loop_kv_per_sequence(model, layout, kv, CONTEXTS))
    for T in TOKENS:
        close(weight_bytes_read(model, layout, "fp8", T, "int4"),
              loop_weight_bytes(model, layout, "fp8", T, "int4"))
        close(weight_bytes_read(model, layout, "bf16", T), loop_weight_bytes(
            model, layout, "bf16", T, None))
    for q, kv in ((np.asarray(1.0), CONTEXTS), (np.asarray([512.0, 921.6]), np.asarray(
            [0.0, 3000.0]))):
        close(attention_flops(model, layout, 3.0, q, kv),
              loop_attention_flops(model, layout, 3.0, q, kv))
        close(kv_bytes_moved(model, layout, "fp8", 3.0, q, kv),
              loop_kv_moved(model, layout, "fp8", 3.0, q, kv))


@pytest.mark.parametrize("name", MIXED)
def test_fixed_kernel_gemms_per_kind(name: str) -> None:
    model = catalog_model(name)
    eff = Efficiency(1e15, 1e15, 1e12, gemm_fixed_s=1e-6, moe_fixed_s=3e-6)
    gemms = sum(gemms_per_layer(model, moe, True) for moe in model.layer_moe)
    close(fixed_kernel_time_s(model, eff, 0.0), gemms * 1e-6 + model.num_moe_layers * 3e-6)


# ------------------------------------------------------------------ the collectives
DEPLOYMENTS: list[dict[str, Any]] = [
    {"model": "llama-3.1-70b", "hardware": "tpu-v5e", "chips": 8,
     "parallelism": {"tp": 8}, "dtypes": {"weights": "int8", "kv": "int8"}},
    {"model": "llama-3.1-70b", "hardware": "tpu-v5e", "chips": 16, "topology": "4x4",
     "parallelism": {"tp": 16}, "efficiency": "ideal"},
    {"model": "palm-540b", "hardware": "tpu-v4", "chips": 64, "topology": "4x4x4",
     "parallelism": {"tp": 16, "dp": 4}},
    {"model": "qwen3-32b", "hardware": "h100-sxm", "chips": 16,
     "parallelism": {"tp": 16, "attention": "batch"}},
    {"model": "llama-3.1-70b", "hardware": "h100-sxm", "chips": 8, "parallelism": {"tp": 8},
     "engine": "vllm"},
    {"model": "llama-3.1-70b", "hardware": "h100-sxm", "chips": 8,
     "parallelism": {"tp": 4, "pp": 2}, "engine": "trtllm"},
    {"model": "llama-3.1-70b", "hardware": "h200-sxm", "chips": 8,
     "parallelism": {"tp": 8, "layout": "ws2d"}, "engine": "sglang"},
    {"model": "mixtral-8x7b", "hardware": "mi300x", "chips": 8,
     "parallelism": {"tp": 4, "dp": 2, "ep": 8}},
    {"model": "deepseek-v3", "hardware": "h200-sxm", "chips": 16,
     "parallelism": {"tp": 8, "pp": 2, "ep": 8}, "dtypes": {"weights": "fp8", "kv": "fp8"}},
    {"model": "llama-3.1-8b", "hardware": "rngd", "chips": 2, "parallelism": {"tp": 16}},
    {"model": "qwen3-32b", "hardware": "trainium2", "chips": 32, "parallelism": {"tp": 32}},
]


def scenario(raw: dict[str, Any]) -> Deployment:
    dep, _ = load_scenario({**raw, "workload": {"input_len": 128, "output_len": 8,
                                                 "batch": 1}})
    return dep


def reference_tensor_parallel(dep: Deployment, tokens: FloatArray, link: float,
                              per_collective_s: float, alpha_s: float | None,
                              eff: Efficiency | None) -> tuple[FloatArray, Any]:
    """`cost.tensor_parallel_time_s` as it was: every layout's plan built per step."""
    layout = dep.layout.layout
    names = feasible_layouts(dep) if layout == "auto" else (layout,)
    times = []
    for name in names:
        plan = layout_plan(dep, name, tokens)
        launches = plan.layers * sum(t.per_layer for t in plan.transfers)
        if alpha_s is None:
            times.append(plan.time_s(link) + per_collective_s * launches)
        elif eff is not None and eff.allreduce_curve_s and not plan.concurrent:
            layer = np.zeros_like(plan.tokens)
            for t in plan.transfers:
                measured = (eff.allreduce_call_s(t.group.size, t.bytes_per_device)
                            if t.collective == "all_reduce" else None)
                call = (t.time(link).bandwidth_s / t.per_layer + alpha_s
                        if measured is None else measured)
                layer = layer + t.per_layer * (call + per_collective_s)
            times.append(np.asarray(plan.layers * layer, dtype=np.float64))
        else:
            bandwidth = plan.layers * plan.layer_time(link).bandwidth_s
            times.append(np.asarray(bandwidth + (alpha_s + per_collective_s) * launches))
    stacked = np.stack(np.broadcast_arrays(*times))
    return np.min(stacked, axis=0), np.array(names)[np.argmin(stacked, axis=0)]


def reference_communication(dep: Deployment, tokens: FloatArray, logit_tokens: FloatArray,
                            link: float, per_collective_s: float,
                            eff: Efficiency | None) -> tuple[FloatArray, Any]:
    """`cost.communication` as it was."""
    model, layout = dep.model, dep.layout
    act = dtype_bytes(dep.dtypes.compute)
    hidden = tokens * model.hidden_size * act
    total = np.zeros_like(hidden)
    chosen: Any = np.full(np.shape(hidden), "none")
    cores = dep.chip.cores_per_chip
    tp_chips = max(1, layout.tp // cores)
    if tp_chips > 1:
        group = place_group(dep.topology, tp_chips)
        alpha = None if eff is None else eff.collective_alpha_s(tp_chips)
        tp_time, chosen = reference_tensor_parallel(dep, tokens, link, per_collective_s,
                                                    alpha, eff)
        total = total + tp_time
        gather = all_gather_time(group, logit_tokens * model.vocab_size * 4.0, link)
        total = total + per_collective_s + (gather.total_s if alpha is None
                                            else gather.bandwidth_s + alpha)
    # experts exchange tokens only beyond a tp group that holds them all (ep > tp), or a
    # rank's own T/A under DP attention with an all-to-all engine
    share = 0.0
    if model.moe is not None and layout.ep > 1:
        if layout.attention_dp > 1:
            all_to_all = dep.engine.scheduler.moe_exchange == "all_to_all"
            share = 1.0 / layout.attention_dp if all_to_all else 0.0
        elif layout.ep > layout.tp:
            share = 1.0
    if share > 0 and layout.ep // cores > 1:
        ep_group = place_group(dep.topology, max(1, layout.ep // cores))
        total = total + model.num_moe_layers * 2 * (all_to_all_time(
            ep_group, ep_all_to_all_bytes(model, tokens * share, act), link).total_s
            + per_collective_s)
    if layout.pp > 1:
        total = total + (layout.pp - 1) * (send_recv_time(
            dep.topology, hidden / layout.pp, dep.topology.domains > 1, link).total_s
            + per_collective_s)
    return total, chosen


@pytest.mark.parametrize("raw", DEPLOYMENTS, ids=lambda r: f"{r['model']}-{r['hardware']}")
def test_linear_plans_equal_layout_plans(raw: dict[str, Any]) -> None:
    dep = scenario(raw)
    T = np.asarray([0.0, 1.0, 3.0, 64.0, 921.6, 8192.0, 2.0**20])
    names = feasible_layouts(dep) if dep.layout.layout == "auto" else (dep.layout.layout,)
    for name in names:
        for link in (1.0, 0.7):
            plan = layout_plan(dep, name, T)
            linear = linear_plan(dep, name, link)
            close(linear.time_s(T), plan.time_s(link))
            close(linear.layer_bandwidth_s(T), plan.layer_time(link).bandwidth_s)
            assert linear.launches == plan.layers * sum(t.per_layer for t in plan.transfers)
            for got, want in zip(linear.transfers, plan.transfers, strict=True):
                close(got.bytes_per_device(T), np.broadcast_to(want.bytes_per_device, T.shape))


@pytest.mark.parametrize("raw", DEPLOYMENTS, ids=lambda r: f"{r['model']}-{r['hardware']}")
def test_communication_equals_per_step_plans(raw: dict[str, Any]) -> None:
    dep = scenario(raw)
    eff = efficiency_for(dep)
    for tokens in (np.asarray(1.0), np.asarray(4096.0), np.asarray([1.0, 2.0, 33.0, 512.0]),
                   np.linspace(1.0, 70_000.0, 300)):
        logits = np.minimum(tokens, 8.0)
        for link, per_call, e in ((eff.interconnect, eff.per_collective_overhead_s, eff),
                                  (1.0, 0.0, None), (0.5, 2e-6, None)):
            got, got_layout = communication(dep, tokens, logits, link, per_call, e)
            want, want_layout = reference_communication(dep, tokens, logits, link, per_call, e)
            close(got, want)
            assert np.array_equal(np.asarray(got_layout, dtype=str),
                                  np.asarray(want_layout, dtype=str))


# ------------------------------------------------------------------ the step summary
def test_most_common_bound_counts_the_bound_names() -> None:
    from inferplan.serving import most_common
    from inferplan.steptime import step_cost

    for raw in DEPLOYMENTS[:6]:
        dep = scenario(raw)
        contexts = np.linspace(0.0, 200_000.0, 97)
        for batch in (np.asarray(1.0), np.arange(1.0, 600.0, 37.0)[:, None]):
            cost = step_cost(dep, "decode", batch, 1, contexts[None, :] if np.ndim(batch)
                             else contexts)
            assert cost.most_common_bound() == most_common(cost.bound)
    ties = np.asarray(["weights", "kv", "kv", "weights", "compute"])
    assert most_common(ties) == "kv"
    assert most_common(np.asarray(["ws2d"] * 5)) == "ws2d"
