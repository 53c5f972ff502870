"""Roofline step cost: how long one prefill, decode, chunked-prefill or verify step takes,
and why. Vectorised with numpy over batch, new tokens and cached tokens.

One *step* runs `batch` sequences, each adding `new_tokens` (q) on top of
`cached_tokens` (kv) already in its KV cache: prefill q=S, kv=0; decode q=1, kv=T;
chunked prefill q=chunk, kv=past; speculative verify q=γ+1, kv=T.

Quantities are per device (one tensor shard). With pp stages a batch of B runs as pp
micro-batches of B/pp; per step each device runs all pp micro-batches through its L/pp
layers, the same work as one micro-batch through all L layers, which is what is counted.

`ideal` is the textbook roofline of seed 001: attention time max(FLOPs, KV bytes)
plus matmul time max(FLOPs, weight bytes), at peak rates, communication overlapped.
`realistic` runs the matmuls at peak · MAMF ceiling · engine GEMM fraction (attention
math at the 16-bit rate), memory-bound kernels at the measured HBM ceiling, exposes
`gemm_overlap_loss` of the shorter matmul term, adds communication without overlap, and
adds fixed costs per layer, per collective and per step (data/efficiency.yaml says which
numbers are measured and which are fitted, and by what command).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from inferplan.communication import communication as communication
from inferplan.communication import communication_s as communication_s
from inferplan.communication import communication_time_s as communication_time_s
from inferplan.communication import ep_all_to_all_bytes as ep_all_to_all_bytes
from inferplan.communication import tensor_parallel_time_s as tensor_parallel_time_s
from inferplan.deployment import Deployment, overlap_scheduling
from inferplan.efficiency import Efficiency, efficiency_for
from inferplan.interpolate import log2_interp
from inferplan.memory import (
    activation_bytes_per_token,
    attention_output_params_per_device,
    attention_params_per_device,
    expert_params_per_device,
    ffn_params_per_device,
    linear_state_shards,
)
from inferplan.models import ModelSpec
from inferplan.parallel import Layout
from inferplan.rows import DeploymentRows, LayoutRows, element_bytes, per_dtypes, per_layout
from inferplan.units import dtype_bytes

FloatArray = npt.NDArray[np.float64]
TERMS = ("compute", "weights", "kv", "communication", "overhead")


# ------------------------------------------------------------------- FLOPs
def attended_positions(new_tokens: npt.ArrayLike, cached_tokens: npt.ArrayLike,
                       window: float | None) -> FloatArray:
    """Σ_{i=1..q} min(kv + i, w): keys the q new tokens attend to in one layer (causal).

    No window: q·kv + q(q+1)/2. Decode at kv=8191: 8192; prefill of 8192: 33,558,528.
    """
    q = np.asarray(new_tokens, dtype=np.float64)
    kv = np.asarray(cached_tokens, dtype=np.float64)
    if window is None:
        return np.asarray(q * kv + q * (q + 1) / 2, dtype=np.float64)
    below = np.clip(window - kv, 0, q)            # new tokens whose span is under the window
    return np.asarray(below * kv + below * (below + 1) / 2 + (q - below) * window,
                      dtype=np.float64)


def _plus(total: FloatArray | None, term: float | FloatArray) -> FloatArray:
    """total + term, or the term itself when there is no total yet (None): a sum of
    per-layer or per-segment terms without a first pass adding zeros (0 + x is x, bit
    for bit, for the non-negative terms summed here)."""
    if total is None:
        return np.asarray(term, dtype=np.float64)
    return np.asarray(total + term, dtype=np.float64)


def _at_least(total: FloatArray | None, shape: tuple[int, ...]) -> FloatArray:
    """A `_plus` sum broadcast against zeros of `shape` (what a sum started from
    np.zeros(shape) has): the sum itself when it has that shape already."""
    if total is None:
        return np.zeros(shape)
    return total if np.shape(total) == np.broadcast_shapes(np.shape(total), shape) \
        else np.asarray(total + np.zeros(shape), dtype=np.float64)


def attention_flops(model: ModelSpec, layout: Layout | LayoutRows, batch: npt.ArrayLike,
                    new_tokens: npt.ArrayLike, cached_tokens: npt.ArrayLike) -> FloatArray:
    """Score and value FLOPs per device over all layers: B·per_pos/tp·Σ_l attended_l.

    per_pos = 4·N·H (QKᵀ and AV); MLA: 2·N·(qk_dim + v_dim). LLaMA 3-70B, tp=8, one
    decode token at T=8192: 4·64·128·80·8192/8 = 2.68e9 FLOPs.

    Sparse (DSA) layers attend to attended_positions(q, kv, top-k) (the cap acts as a
    window) and their indexer scores every causal position, index_flops_per_position each,
    replicated on every shard (not divided by tp). Linear layers cost q·flops_per_token/tp.
    GLM-5, tp=8, one decode token at T=8192: 78·(65,536·2048/8 + 8,256·8192) = 6.58e9.
    Each distinct (window, kind) is computed once, times its layer count
    (`ModelSpec.attention_groups`). Rows of layouts: tp per row.
    """
    per_pos = model.attention_flops_per_position
    q = np.asarray(new_tokens, dtype=np.float64)
    kv = np.asarray(cached_tokens, dtype=np.float64)
    total: FloatArray | None = None
    for w, kind, count in model.attention_groups:
        if kind == "linear" and model.linear_attention is not None:
            layer = linear_attention_flops(model, layout, q)
        elif kind == "sparse" and model.sparse_attention is not None:
            sp = model.sparse_attention
            layer = per_pos / layout.tp * attended_positions(
                q, kv, float(sp.top_k)) + sp.index_flops_per_position * (
                attended_positions(q, kv, None)) / layout.attention_dp
        else:
            layer = per_pos / layout.tp * attended_positions(q, kv, w)
        total = _plus(total, layer if count == 1 else count * layer)
    total = _at_least(total, np.broadcast_shapes(np.shape(q), np.shape(kv)))
    return np.asarray(np.asarray(batch, dtype=np.float64) * total, dtype=np.float64)


def linear_attention_flops(model: ModelSpec, layout: Layout | LayoutRows,
                           tokens: npt.ArrayLike) -> FloatArray:
    """FLOPs of one linear (Gated DeltaNet) layer on one device for `tokens` new tokens:
    tokens · flops_per_token / tp (its projections apart; the state update and output,
    `LinearAttentionSpec.flops_per_token`); 0 for a model without such layers. Rows of
    layouts: tp per row. Qwen3.5-397B, tp=4, one token: flops_per_token/4."""
    T = np.asarray(tokens, dtype=np.float64)
    if model.linear_attention is None:
        return np.zeros_like(T)
    return np.asarray(T * model.linear_attention.flops_per_token / layout.tp, dtype=np.float64)


def linear_attention_prefill_s(model: ModelSpec, layout: Layout | LayoutRows, eff: Efficiency,
                               prompt_tokens: npt.ArrayLike) -> FloatArray:
    """Seconds a step's linear-attention layers spend on its prompt tokens, where the engine
    states the chunked kernels' measured cost: L_lin · (fixed + P · N_v/tp · s_head) when P >
    0 (P: the step's prompt tokens on the fullest rank). The chunked gated-delta-rule kernel
    is latency and occupancy bound (a few % of the 16-bit peak), so its FLOPs price it far
    below what it takes. 0 where the engine states none (the FLOPs then run at the
    attention rate, `attention_flops`).

    Qwen3.5-397B at tp 4 under SGLang on B200 (23.6 µs, 1.99 ns): a 8192-token prompt,
    45 · (23.6 µs + 8192 · 16 · 1.99 ns) = 45 · 284.4 µs = 12.8 ms.
    """
    P = np.asarray(prompt_tokens, dtype=np.float64)
    layers = model.num_linear_attention_layers
    if not layers or model.linear_attention is None or not (
            eff.linear_attention_s_per_token_head or eff.linear_attention_fixed_s):
        return np.zeros_like(P)
    heads = model.linear_attention.num_value_heads / np.asarray(layout.tp, dtype=np.float64)
    return np.asarray(np.where(P > 0, layers * (eff.linear_attention_fixed_s + P * heads
                                                * eff.linear_attention_s_per_token_head),
                               0.0), dtype=np.float64)


def matmul_params_per_token(model: ModelSpec, layout: Layout) -> float:
    """Weight parameters one token multiplies on one device over all layers (top-k experts,
    shared experts, router), without the LM head.

    LLaMA 3-70B, tp=8: 80·(18,874,368 + 88,080,384) = 8.56e9. Each distinct (attention
    kind, MoE) layer once, times its count (`ModelSpec.block_groups`); cached per model
    and layout.
    """
    return _matmul_params_per_token(model, layout)


@lru_cache(maxsize=1024)
def _matmul_params_per_token(model: ModelSpec, layout: Layout) -> float:
    total = 0.0
    for kind, moe_layer, count in model.block_groups:
        # with A DP-attention ranks a device multiplies its rank's T/A tokens only
        attn = attention_params_per_device(model, layout, kind) / layout.attention_dp
        if moe_layer and model.moe is not None:
            m = model.moe
            router = model.hidden_size * m.num_experts
            ffn = (m.experts_per_token * model.expert_params
                   + model.moe_shared_params - router) / layout.tp + router
        else:
            ffn = ffn_params_per_device(model, layout, False)
        total += count * (attn + ffn)
    return total


def attention_matmul_params_per_token(model: ModelSpec, layout: Layout) -> float:
    """The attention projections' share of `matmul_params_per_token`: Σ_layers attention
    weights on one device (`resident_attention_params`) / A (A data-parallel attention
    ranks, 1 without). DeepSeek-R1 at tp 8 with A = 8: 61·187,107,328/8 = 1.427e9 (each
    GPU holds every attention weight but multiplies only its rank's tokens)."""
    return resident_attention_params(model, layout) / layout.attention_dp


def attention_output_matmul_params_per_token(model: ModelSpec, layout: Layout) -> float:
    """The output projections' share of `attention_matmul_params_per_token`: Σ_layers O
    weights on one device (`resident_attention_output_params`) / A. DeepSeek-R1 at tp 8,
    A = 1: 61·14,680,064 = 895,483,904."""
    return resident_attention_output_params(model, layout) / layout.attention_dp


def attention_gemm_s(eff: Efficiency, attention_flops: float | FloatArray,
                     output_flops: float | FloatArray, layer_rate: float | FloatArray
                     ) -> FloatArray | None:
    """What the attention projections' GEMMs add to the matmul time where they run at
    their own dtype (`Efficiency.attention_gemm_flops_per_s`, output projection
    `attention_output_gemm_flops_per_s`): their FLOPs at that rate less the same FLOPs at
    the layer GEMMs' `layer_rate` (the rates scaled alike by the GEMMs' shape share);
    None where they run as the layer GEMMs.

    DeepSeek-R1 fp4 on B200 under TensorRT-LLM, tp 8, bf16 attention with an fp4 O, an
    8192-token prompt: 2·8192·1,339,353,088 = 2.194e13 FLOPs at 1.5525e15 instead of
    5.49e15 FLOP/s, both times the shape share 0.2253: +45.0 ms (the O projection's term
    is 0).
    """
    if eff.attention_gemm_flops_per_s is None or eff.attention_output_gemm_flops_per_s is None:
        return None
    share = layer_rate / eff.matmul_flops_per_s
    return np.asarray(attention_flops * (1.0 / (eff.attention_gemm_flops_per_s * share)
                                         - 1.0 / layer_rate)
                      + output_flops * (1.0 / (eff.attention_output_gemm_flops_per_s * share)
                                        - 1.0 / layer_rate), dtype=np.float64)


def attention_rank_batch(batch: npt.ArrayLike, ranks: int) -> FloatArray:
    """The batch the attention terms see per device, written as a whole-replica batch:
    A·max(B/A, min(B, 1)). With A data-parallel attention ranks a sequence runs on one
    rank, so the fullest rank holds at least one of the step's sequences (B/A when the
    ranks share many). A = 8: one prompt chunk (B = 1) → 8, as if every rank held one;
    B = 64 decodes → 64. A = 1: B."""
    B = np.asarray(batch, dtype=np.float64)
    if ranks <= 1:
        return B
    return np.asarray(ranks * np.maximum(B / ranks, np.minimum(B, 1.0)), dtype=np.float64)


def routed_params_per_token(model: ModelSpec, layout: Layout | LayoutRows
                            ) -> float | FloatArray:
    """Routed-expert parameters one token multiplies on one device over all layers: per
    MoE layer top-k · expert params / tp (the part of `matmul_params_per_token` the fused
    MoE op computes).

    MiniMax-M2.5 (62 MoE layers, top-8, 14,155,776 params an expert), tp=4:
    62·8·14,155,776/4 = 1.755e9.
    """
    if model.moe is None:
        return 0.0
    return model.num_moe_layers * model.moe.experts_per_token * model.expert_params / layout.tp


def expert_flops_rate(model: ModelSpec, layout: Layout | LayoutRows, eff: Efficiency
                      ) -> float | FloatArray | None:
    """FLOP/s of the fused MoE op on one device: F·n/(n + n_half), n = an expert's local
    width, expert_ffn / max(1, tp/ep) (experts split tp/ep ways; whole under ep ≥ tp). A
    grouped GEMM over narrow expert slices runs narrow tiles (the per-op tables' fit).
    None when the engine states no rate (the GEMMs' rate then applies).

    MiniMax-M2.5 fp8 on B200 under vLLM, tp=4: n = 1536/4 = 384; 8.74e14·384/(384 + 181)
    = 5.94e14 FLOP/s (0.13 of the fp8 peak). Over ep > 1 expert-parallel ranks the rate is
    divided by `expert_ep_imbalance`.
    """
    if eff.expert_flops_per_s is None or model.moe is None:
        return None
    width: float | FloatArray = model.moe.expert_ffn / per_layout(expert_slices, layout=layout)
    return (eff.expert_flops_per_s * width / (width + eff.expert_half_width)
            / expert_ep_imbalance(eff, per_layout(expert_groups, layout=layout)))


def expert_ep_imbalance(eff: Efficiency, ep: float | FloatArray) -> float | FloatArray:
    """How much longer the fused MoE op takes at many tokens when its experts are split over
    ep expert-parallel ranks: each rank computes the tokens routed to its experts, routing
    is uneven (a trained router's load follows a power law), and the step waits for the
    fullest rank. The engine's table (`moe_ep_imbalance`, from the per-op tables' power-law
    against balanced rows) gives the factor at listed ep, 1 at ep = 1; between them linear
    in log2 ep, beyond the last the last.

    SGLang on B200 (2: 1.05, 4: 1.10, 8: 1.12): ep 8 → 1.12; ep 6 → 1.10 + 0.585·0.02 =
    1.112; ep 1 → 1.
    """
    if not eff.expert_ep_imbalance:
        return 1.0
    return log2_interp(ep, ((1, 1.0), *eff.expert_ep_imbalance))


def expert_slices(layout: Layout) -> int:
    """Ways each expert's FFN is split: max(1, tp/ep). tp 8, ep 2: 4; tp 4, ep 8: 1."""
    return max(1, layout.tp // max(layout.ep, 1))


def expert_groups(layout: Layout) -> int:
    """Devices that hold different experts: max(1, min(ep, E-split ways)) = ep (≥ 1); tp 8
    ep 8: 8; tp 8 ep 1 (every expert sliced over all 8): 1."""
    return max(1, layout.ep)


def expert_group_replicas(layout: Layout) -> int:
    """Replicas whose tokens reach one expert group: max(1, ep/tp). tp 4, ep 8: 2."""
    return max(1, layout.ep // layout.tp)


def attention_gemms_per_layer(model: ModelSpec, kind: str = "full",
                              linear_gemms: int = 2) -> int:
    """GEMM launches of one layer's attention projections: QKV and O (2); MLA the q down
    and up, kv down and up, and O projections (5); a linear-attention layer's input
    projections and output as the engine builds them (`linear_gemms`,
    `Efficiency.linear_attention_gemms`: SGLang 0.5.10 and vLLM in_proj_qkvz, in_proj_ba
    and out_proj, 3). The last is the output projection."""
    if kind == "linear":
        return linear_gemms
    return 5 if model.mla is not None else 2


def gemms_per_layer(model: ModelSpec, moe_layer: bool, fused_moe: bool = False,
                    attention_launches: int | None = None) -> int:
    """GEMM launches of one layer in a graph-mode engine: attention QKV and O (MLA: the
    q down/up, kv down/up and O projections: 5; `attention_launches` where the layer's kind
    has its own, `attention_gemms_per_layer`), then the FFN's fused gate-up and down (an
    MoE layer: router, grouped gate-up and down, and the shared expert's two). With a
    `fused_moe` op the routed experts' two grouped GEMMs are that op, not counted here.

    LLaMA-style dense layer: 2 + 2 = 4; DeepSeek-V3 MoE layer: 5 + 3 + 2 = 10 (8 fused).
    """
    attention = attention_gemms_per_layer(model) if attention_launches is None \
        else attention_launches
    if moe_layer and model.moe is not None:
        routed = 0 if fused_moe else 2
        return attention + 1 + routed + (2 if model.moe.num_shared_experts else 0)
    return attention + 2


def gemm_shapes(model: ModelSpec, layout: Layout) -> tuple[tuple[float, float, float], ...]:
    """(N, K, count) of the GEMMs one device runs for a token over all layers, routed
    experts and the LM head aside: each layer's attention projections (GQA: QKV of width
    H·hd/tp + 2·KV·hd/shards and O; MLA: the q and kv down- and up-projections and O; a
    linear or sparse layer's other weights as one D-deep GEMM), weighted by 1/A under A
    data-parallel attention ranks (a device multiplies its rank's tokens), then the FFN's
    gate-up and down (an MoE layer: its shared experts and the router).

    Qwen3-32B at tp 8: QKV (1280, 5120), O (5120, 1024), gate-up (6400, 5120), down
    (5120, 3200), each 64 times.
    """
    return _gemm_shapes(model, layout)


@lru_cache(maxsize=1024)
def _gemm_shapes(model: ModelSpec, layout: Layout) -> tuple[tuple[float, float, float], ...]:
    D, atp, A = float(model.hidden_size), layout.attention_tp, layout.attention_dp
    out: list[tuple[float, float, float]] = []
    for kind, moe_layer, count in model.block_groups:
        c = count / A
        if model.mla is not None and kind in ("full", "sliding", "sparse"):
            m, H = model.mla, model.num_heads
            q_in = float(m.q_lora_rank or model.hidden_size)
            if m.q_lora_rank:
                out.append((float(m.q_lora_rank), D, c))
            out += [(float(m.kv_lora_rank + m.qk_rope_head_dim), D, c),
                    (H * (m.qk_nope_head_dim + m.qk_rope_head_dim) / atp, q_in, c),
                    (H * (m.qk_nope_head_dim + m.v_head_dim) / atp, float(m.kv_lora_rank), c),
                    (D, H * m.v_head_dim / atp, c)]
            if kind == "sparse":
                extra = model.layer_attention_params("sparse") - model.attention_params_per_layer
                out.append((max(extra / D, 1.0), D, c))
        elif kind in ("full", "sliding"):
            q = model.num_heads * model.head_dim / atp
            kv = 2 * model.num_kv_heads * model.head_dim / layout.head_shards(model)
            out += [(q + kv, D, c), (D, q, c)]
        else:
            params = attention_params_per_device(model, layout, kind)
            out.append((max(params / D, 1.0), D, c))
        gate = 2.0 if model.gated_mlp else 1.0
        if moe_layer and model.moe is not None:
            shared = model.moe.num_shared_experts * model.moe.shared_ffn / layout.tp
            if shared:
                out += [(2.0 * shared, D, float(count)), (D, shared, float(count))]
            out.append((float(model.moe.num_experts), D, float(count)))
        else:
            width = model.intermediate_size / layout.tp
            out += [(gate * width, D, float(count)), (D, width, float(count))]
    return tuple(out)


def gemm_shape_factor(model: ModelSpec, layout: Layout, n_half: float, k_half: float
                      ) -> float:
    """Share of the engine's GEMM compute fraction the layer GEMMs reach at their shapes:
    Σ w / Σ (w / s), s = N/(N + n_half) · K/(K + k_half) per GEMM of `gemm_shapes`, w its
    FLOPs a token (count · N · K); the time adds, so the rates combine harmonically. 1
    without half widths.

    Qwen3-32B at tp 8, TensorRT-LLM fp8 on H100 (n_half 2,230, k_half 609): 0.556, so
    0.82 · 0.556 = 0.456 of the fp8 peak; at tp 1: 0.77.
    """
    if n_half <= 0 and k_half <= 0:
        return 1.0
    return _gemm_shape_factor(model, layout, n_half, k_half)


@lru_cache(maxsize=4096)
def _gemm_shape_factor(model: ModelSpec, layout: Layout, n_half: float, k_half: float
                       ) -> float:
    total = slow = 0.0
    for N, K, count in gemm_shapes(model, layout):
        w = count * N * K
        total += w
        slow += w / (N / (N + n_half) * K / (K + k_half))
    return total / slow if slow > 0 else 1.0


def layer_gemm_share(deployment: Deployment | DeploymentRows) -> float | FloatArray:
    """`gemm_shape_factor` of the deployment's model and layout at its engine's half
    widths (`Efficiency.gemm_n_half`, `gemm_k_half`); rows of deployments: each member's,
    one per row. Qwen3-32B, TensorRT-LLM fp8 on 8 H100s: 0.556."""
    if isinstance(deployment, DeploymentRows):
        rows = deployment
        values = rows.once("layer_gemm_share", lambda: _members_gemm_share(rows))
        return np.asarray(values[rows.index], dtype=np.float64)
    return _member_gemm_share(deployment)


def _members_gemm_share(rows: DeploymentRows) -> FloatArray:
    """Each member's share, computed once per (tp, DP-attention ranks, compute dtype): all
    that sets it among members of one model, chip and engine."""
    seen: dict[tuple[int, int, str], float] = {}
    out = np.empty(len(rows.members))
    for i, m in enumerate(rows.members):
        key = (m.layout.tp, m.layout.attention_dp, m.dtypes.compute)
        if key not in seen:
            seen[key] = _member_gemm_share(m)
        out[i] = seen[key]
    return out


def _member_gemm_share(deployment: Deployment) -> float:
    eff = efficiency_for(deployment)
    return gemm_shape_factor(deployment.model, deployment.layout, float(eff.gemm_n_half),
                             float(eff.gemm_k_half))


def fixed_kernel_time_s(model: ModelSpec, eff: Efficiency, tokens: npt.ArrayLike,
                        tp: npt.ArrayLike = 1) -> FloatArray:
    """Per-kernel costs beyond the rooflines of one step, over all layers: each GEMM's
    fixed cost (a fused MoE layer: its `moe_fixed_s`), one attention kernel's floor, and
    `elementwise_ops_per_layer` elementwise
    kernels (norms, residual adds, activation), each `elementwise_fixed_s` plus reading
    and writing the step's tokens·D 16-bit activations at the elementwise rate; in a
    dense layer the activation instead moves its FFN-wide tensors
    (`ffn_activation_bytes_per_token`, F/tp per device). Attention GEMMs stored at their
    own dtype launch at that dtype's cost (`Efficiency.attention_gemm_fixed_s`).

    vLLM on H200, Qwen3-32B (L = 64, D = 5120, F = 25600), bf16, 64 tokens, tp 1: per
    layer 4·3.5 µs of GEMM floors + 14 µs attention + 2·(3 µs + 2·64·5120·2 B /
    3.84e12 B/s) + (3 µs + 64·153,600 B / 3.84e12 B/s) = 40.24 µs; 64 layers: 2.576 ms.
    """
    T = np.asarray(tokens, dtype=np.float64)
    fused = eff.moe_fixed_s is not None
    held, output = eff.attention_gemm_fixed_s, eff.attention_output_gemm_fixed_s
    gemms, own = 0, 0.0
    for kind, moe, count in model.block_groups:
        launches = attention_gemms_per_layer(model, kind, eff.linear_attention_gemms)
        gemms += count * gemms_per_layer(model, moe, fused, launches)
        if held is not None and output is not None:
            # the attention's GEMMs stored at their own dtype launch at that dtype's cost
            own += count * ((launches - 1) * (held - eff.gemm_fixed_s)
                            + output - eff.gemm_fixed_s)
    moe_ops = model.num_moe_layers * (0.0 if eff.moe_fixed_s is None else eff.moe_fixed_s)
    moved_bytes = 2.0 * T * model.hidden_size * 2.0      # read and write, 16-bit
    per_op = eff.elementwise_fixed_s + moved_bytes / eff.elementwise_bytes_per_s
    elementwise = model.num_layers * eff.elementwise_ops_per_layer * per_op
    if eff.elementwise_ops_per_layer and model.num_dense_layers:
        # a dense layer's activation reads and writes F-wide tensors, not D-wide ones
        wide = T * ffn_activation_bytes_per_token(model) / np.asarray(tp, dtype=np.float64)
        elementwise = elementwise + model.num_dense_layers * (
            wide - moved_bytes) / eff.elementwise_bytes_per_s
    return np.asarray(gemms * eff.gemm_fixed_s + own + moe_ops
                      + model.num_layers * eff.attention_fixed_s + elementwise,
                      dtype=np.float64)


def ffn_activation_bytes_per_token(model: ModelSpec) -> float:
    """Bytes a dense layer's activation kernel moves per token, 16-bit: a gated FFN reads
    the gate and up halves and writes their product (3·F·2 B; vLLM/SGLang
    silu_and_mul, TensorRT-LLM's gated activation), a plain one reads and writes F
    (2·F·2 B). Qwen3-32B (F = 25,600, gated): 153,600 B, 7.5× the 4·D = 20,480 B of a
    D-wide op."""
    return (3.0 if model.gated_mlp else 2.0) * model.intermediate_size * 2.0


def lm_head_tokens(batch: npt.ArrayLike, new_tokens: npt.ArrayLike,
                   phase: str) -> FloatArray:
    """Tokens whose logits a step computes: B for prefill, chunk and decode (the last
    position only), B·q for speculative verify (every drafted position)."""
    B = np.asarray(batch, dtype=np.float64)
    q = np.asarray(new_tokens, dtype=np.float64)
    return np.asarray(B * q if phase == "verify" else B * np.ones_like(q), dtype=np.float64)


# ------------------------------------------------------------------- bytes
def expected_distinct_experts(num_experts: int, experts_per_token: int,
                              tokens: npt.ArrayLike) -> FloatArray:
    """Experts a batch of T tokens touches, routing uniformly: E·(1 − (1 − k/E)^T).

    Mixtral (E=8, k=2): 1 token → 2; 8 tokens → 7.2; 64 tokens → 8.0.
    """
    T = np.asarray(tokens, dtype=np.float64)
    E, k = float(num_experts), float(experts_per_token)
    return np.asarray(E * (1.0 - (1.0 - k / E) ** T), dtype=np.float64)


def expected_max_standard_normal(count: int) -> float:
    """E[max of `count` independent standard normals]: ∫ x·n·φ(x)·Φ(x)^(n−1) dx (a fixed
    order statistic, computed by quadrature on [−8, 8]; 0 for one).

    2 → 0.5642 (1/√π); 4 → 1.0294; 8 → 1.4236; 64 → 2.3437.
    """
    return _expected_max_standard_normal(int(count))


@lru_cache(maxsize=64)
def _expected_max_standard_normal(count: int) -> float:
    if count <= 1:
        return 0.0
    x = np.linspace(-8.0, 8.0, 16001)
    pdf = np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
    cdf = 0.5 * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))
    density = count * pdf * cdf ** (count - 1)
    return float(np.sum(x * density) * (x[1] - x[0]))


def busiest_expert_share(num_experts: int, experts_per_token: int, tokens: npt.ArrayLike,
                         groups: npt.ArrayLike) -> FloatArray:
    """Share of its experts that the busiest of `groups` expert-parallel groups reads in a
    step of T tokens routed uniformly: each group holds n = E/G experts, touches
    X ~ n·p of them (p = `expected_distinct_experts`/E), spread σ = √(n·p·(1 − p));
    the step waits for the busiest, min(1, p + c_G·σ/n), c_G the expected maximum of G
    standard normals. Uniform routing is the least imbalance a trained router gives, and
    a group that gets more experts reads more weight bytes (decode) while the rest idle.

    DeepSeek-V3 (E 256, k 8), 8 groups, 8 tokens: p = 0.224, n = 32, σ = 2.36;
    0.224 + 1.4236·2.36/32 = 0.329 (1.47× the mean). 64 tokens: p = 0.869, 0.954 (1.10×).
    One group: p.
    """
    T = np.asarray(tokens, dtype=np.float64)
    p = expected_distinct_experts(num_experts, experts_per_token, T) / num_experts
    G = np.asarray(groups)
    if not np.any(G > 1):
        return np.asarray(p, dtype=np.float64)
    values, where = np.unique(G, return_inverse=True)
    c = np.asarray([expected_max_standard_normal(int(v)) for v in values])[where]
    c = c.reshape(G.shape)
    spread = np.sqrt(np.maximum(p * (1.0 - p), 0.0) * G / num_experts)
    return np.asarray(np.minimum(1.0, p + c * spread), dtype=np.float64)


def weight_bytes_read(model: ModelSpec, layout: Layout | LayoutRows,
                      weights_dtype: str | float | FloatArray, tokens: npt.ArrayLike,
                      experts_dtype: str | float | FloatArray | None = None,
                      attention_dtypes: tuple[str | float | FloatArray,
                                              str | float | FloatArray] | None = None
                      ) -> FloatArray:
    """Weight bytes one device reads per step: attention, dense FFN and router always;
    routed experts only as many as the step's tokens touch on the busiest expert group
    (`busiest_expert_share`), at `experts_dtype` (default the weights dtype); the LM head.
    `attention_dtypes`: the attention projections' and their output projection's own
    dtypes (`Dtypes.attention_weights`, `attention_output_weights`; None: the weights').
    Each dtype may be given as its bytes per element (per row for rows:
    `rows.element_bytes`).

    With ep > tp the expert group also receives the tokens of ep/tp replicas. LLaMA
    3-70B int8 on 8 chips: 8.82e9 B whatever the batch. The parameters that do not
    depend on the tokens are summed once per model and layout (`resident_params_read`).
    """
    T = np.asarray(tokens, dtype=np.float64)
    w = (dtype_bytes(weights_dtype, "dtypes.weights") if isinstance(weights_dtype, str)
         else weights_dtype)
    e = (w if experts_dtype is None else dtype_bytes(experts_dtype, "dtypes.experts")
         if isinstance(experts_dtype, str) else experts_dtype)
    params = np.zeros_like(T) + per_layout(resident_params_read, model, layout=layout)
    moe_layers = model.num_moe_layers
    if moe_layers and model.moe is not None:
        m = model.moe
        group_tokens = T * per_layout(expert_group_replicas, layout=layout)
        touched = busiest_expert_share(m.num_experts, m.experts_per_token, group_tokens,
                                       per_layout(expert_groups, layout=layout))
        experts = moe_layers * (touched * per_layout(expert_params_per_device, model,
                                                     layout=layout))
        out = params * w + experts * e
    else:
        out = params * w
    if attention_dtypes is not None:
        a, o = (dtype_bytes(x, "dtypes.attention") if isinstance(x, str) else x
                for x in attention_dtypes)
        held = per_layout(resident_attention_params, model, layout=layout)
        output = per_layout(resident_attention_output_params, model, layout=layout)
        out = out + (held - output) * (a - w) + output * (o - w)
    return np.asarray(out, dtype=np.float64)


@lru_cache(maxsize=1024)
def resident_attention_params(model: ModelSpec, layout: Layout) -> float:
    """The attention projections' part of `resident_params_read`: Σ_layers attention
    weights on one device, each distinct layer kind once times its count. LLaMA 3-70B,
    tp=8: 80·18,874,368 = 1,509,949,440."""
    params = 0.0
    for _, kind, count in model.attention_groups:
        params += count * attention_params_per_device(model, layout, kind)
    return params


@lru_cache(maxsize=1024)
def resident_attention_output_params(model: ModelSpec, layout: Layout) -> float:
    """The output projections' part of `resident_attention_params`. LLaMA 3-70B, tp=8:
    80·8,388,608 = 671,088,640."""
    return sum(count * attention_output_params_per_device(model, layout, kind)
               for _, kind, count in model.attention_groups)


def resident_params_read(model: ModelSpec, layout: Layout) -> float:
    """Weight parameters one device reads every step whatever its tokens: attention,
    norms, the LM head, dense FFNs, and per MoE layer its router and shared experts (the
    routed experts read depend on the tokens; `weight_bytes_read`). Each distinct layer
    once, times its count; cached per model and layout.

    LLaMA 3-70B, tp=8: 80·18,874,368 + 80·16,384 + 1,050,673,152/8 + 80·88,080,384
    = 8,819,376,128.
    """
    return _resident_params_read(model, layout)


@lru_cache(maxsize=1024)
def _resident_params_read(model: ModelSpec, layout: Layout) -> float:
    params = resident_attention_params(model, layout)
    params = params + model.num_layers * model.norm_params_per_layer
    params = params + model.vocab_size * model.hidden_size / layout.tp
    for _, moe_layer, count in model.block_groups:
        if moe_layer and model.moe is not None:
            params = params + count * (ffn_params_per_device(model, layout, True)
                                       - expert_params_per_device(model, layout))
        else:
            params = params + count * ffn_params_per_device(model, layout, False)
    return params


def kv_bytes_moved(model: ModelSpec, layout: Layout | LayoutRows,
                   kv_dtype: str | float | FloatArray, batch: npt.ArrayLike,
                   new_tokens: npt.ArrayLike, cached_tokens: npt.ArrayLike) -> FloatArray:
    """KV bytes one device reads and writes per step: the cache read once by the step's
    attention (Σ_l min(kv + q, w_l) positions, flash-attention style) plus the q new
    positions written, over min(tp, K) head shards and the batch shards.

    LLaMA 3-70B int8, tp=8, B=32, decode at T=8192: 32·8193·163,840/8 ≈ 5.37e9 B.

    Sparse (DSA) layers read min(kv + q, q·top-k) cached positions (each query gathers its
    top-k) and the indexer keys of all kv + q; linear layers read and write their fixed
    state once per step, 2·state/`linear_state_shards`. GLM-5 fp8, tp=8, B=1, decode at
    T=8192: 78·(2048·576 + 8193·132) = 1.76e8 B. Qwen3.5-397B's 45 linear layers, tp=8:
    2·45·4,268,032/8 = 4.80e7 B per sequence whatever T. Each distinct (window, kind)
    once, times its layer count (`ModelSpec.attention_groups`). `kv_dtype`: the cache's
    dtype, or its bytes per element (per row for rows: `rows.element_bytes`).
    """
    B = np.asarray(batch, dtype=np.float64)
    q = np.asarray(new_tokens, dtype=np.float64)
    kv = np.asarray(cached_tokens, dtype=np.float64)
    span = kv + q
    per_position = model.kv_elements_per_token_per_layer * (
        dtype_bytes(kv_dtype, "dtypes.kv") if isinstance(kv_dtype, str) else kv_dtype)
    heads = layout.head_shards(model)
    total: FloatArray | None = None
    for w, kind, count in model.attention_groups:
        layer: FloatArray | float
        if kind == "linear" and model.linear_attention is not None:
            layer = 2.0 * model.linear_attention.state_bytes_per_sequence / (
                per_layout(linear_state_shards, model, layout=layout))
        elif kind == "sparse" and model.sparse_attention is not None:
            sp = model.sparse_attention
            layer = (np.minimum(span, q * sp.top_k) * per_position
                     + span * sp.index_bytes_per_token) / heads
        else:
            layer = (span if w is None else np.minimum(span, float(w))) * (
                per_position / heads)
        total = _plus(total, layer if count == 1 else count * layer)
    total = _at_least(total, np.shape(span))
    return np.asarray(B * total / layout.kv_batch_shards(model), dtype=np.float64)


# --------------------------------------------------------------- the step
@dataclass(frozen=True)
class RooflineParts:
    """A step's roofline ingredients before the rooflines overlap them: the matmuls'
    FLOPs, attention's FLOPs, the weight bytes and the KV bytes, each at its rate (each
    in full, whichever bound wins); of the exposed compute term, attention's share; and
    the sequences a device runs (one micro-batch's, as the terms count). What a
    calibration scales (`steptime.CalibratedStepTime`)."""

    matmul_compute_s: FloatArray
    attention_compute_s: FloatArray
    weight_read_s: FloatArray
    kv_read_s: FloatArray
    attention_exposed_s: FloatArray
    sequences: FloatArray

    def take(self, index: int) -> RooflineParts:
        """The parts at `index` along the leading axis."""
        return RooflineParts(*(getattr(self, f.name)[index] for f in fields(self)))


@dataclass(frozen=True)
class StepCost:
    """One step's cost with every term named. Times are exposed seconds: they add up to
    `latency_s` (a term hidden under another's roofline contributes nothing)."""

    phase: str
    flops: FloatArray                 # per device, matmul + attention
    weight_bytes: FloatArray
    kv_bytes: FloatArray
    activation_bytes: FloatArray
    compute_s: FloatArray
    weights_s: FloatArray
    kv_s: FloatArray
    communication_s: FloatArray
    overhead_s: FloatArray
    latency_s: FloatArray
    mfu: FloatArray
    #: collectives the step waits on in full: under `ideal` they overlap the rest, and a
    #: step whose collectives outlast its compute and memory traffic is bound by them
    communication_bound: npt.NDArray[np.bool_] | None = None
    #: the tensor-parallel partitioning that runs ('none' without one; see partitioning)
    layout: npt.NDArray[np.str_] | None = None
    #: the rooflines' ingredients in full, before overlap (None from a model without them)
    parts: RooflineParts | None = None

    def breakdown_s(self) -> dict[str, FloatArray]:
        return {"compute": self.compute_s, "weights": self.weights_s, "kv": self.kv_s,
                "communication": self.communication_s, "overhead": self.overhead_s}

    def take(self, index: int) -> StepCost:
        """The costs at `index` along the leading axis (steps priced together)."""
        def at(x: npt.NDArray[Any] | None) -> Any:
            return None if x is None else x[index]
        return StepCost(
            phase=self.phase, flops=at(self.flops), weight_bytes=at(self.weight_bytes),
            kv_bytes=at(self.kv_bytes), activation_bytes=at(self.activation_bytes),
            compute_s=at(self.compute_s), weights_s=at(self.weights_s), kv_s=at(self.kv_s),
            communication_s=at(self.communication_s), overhead_s=at(self.overhead_s),
            latency_s=at(self.latency_s), mfu=at(self.mfu),
            communication_bound=at(self.communication_bound), layout=at(self.layout),
            parts=None if self.parts is None else self.parts.take(index))

    @property
    def bound(self) -> npt.NDArray[np.str_]:
        """The term with the largest share of the step: compute, weights, kv, ..."""
        stacked = np.stack(np.broadcast_arrays(*self.breakdown_s().values()))
        terms = np.array(TERMS)[np.argmax(stacked, axis=0)]
        if self.communication_bound is not None:
            terms = np.where(self.communication_bound, "communication", terms)
        return np.asarray(terms)

    def most_common_bound(self) -> str:
        """The most frequent entry of `bound` over the steps (ties: the first name in
        sorted order), counted on the terms' indices without building the names.

        511 decode steps, 400 bound by weights and 111 by kv: 'weights'.
        """
        stacked = np.stack(np.broadcast_arrays(*self.breakdown_s().values()))
        index = np.argmax(stacked, axis=0)
        if self.communication_bound is not None:
            index = np.where(self.communication_bound, TERMS.index("communication"), index)
        counts = np.bincount(np.ravel(index), minlength=len(TERMS))
        return TERMS[max(sorted(range(len(TERMS)), key=TERMS.__getitem__),
                         key=lambda i: int(counts[i]))]


@dataclass(frozen=True)
class Segment:
    """Sequences of one kind in a step: `batch` of them each adding `new_tokens` onto
    `cached_tokens` (arrays broadcast)."""

    phase: str
    batch: npt.ArrayLike
    new_tokens: npt.ArrayLike
    cached_tokens: npt.ArrayLike


#: Segment phases that carry prompt tokens (decode and speculative verify steps do not).
PROMPT_PHASES = ("prefill", "chunk")


def eager_share(eff: Efficiency, tokens: npt.ArrayLike, prompt_chunks: npt.ArrayLike
                ) -> FloatArray:
    """Probability that a step runs outside CUDA graphs: 1 when the engine captures none
    or the step's size (`tokens`: its tokens, or its decoding sequences where the engine's
    capture counts sequences) exceeds the largest captured size; else, when prompt-carrying
    steps are not captured (SGLang, TensorRT-LLM), the chance the step carries a prompt,
    min(1, expected prompt chunks); vLLM's piecewise graphs capture those up to the size.

    SGLang (captures 256), 64 decodes + 0.25 expected chunks of 512 (192 tokens): 0.25;
    of 1024 (320 tokens, above 256): 1. vLLM (512), 64 + 0.25 chunks of 1024: 0; a
    decode-only step of 600 on vLLM: 1.
    """
    step_tokens = np.asarray(tokens, dtype=np.float64)
    over = np.greater(step_tokens, eff.graph_max_tokens)
    prompt = 0.0 if eff.prompt_graphs else np.minimum(
        np.asarray(prompt_chunks, dtype=np.float64), 1.0)
    return np.asarray(np.where(over, 1.0, prompt), dtype=np.float64)


def graph_batch_per_rank(graph_size: npt.ArrayLike, attention_dp_ranks: npt.ArrayLike
                         ) -> FloatArray:
    """What one attention-DP rank's CUDA graph must hold: the step's graph size (sequences
    or tokens, `eager_share`) over R ranks, the fullest rank's ⌈size/R⌉ (R = 1: the size).
    Each rank runs its own batch through its own captured graphs, so the engine's
    capture limit applies per rank: SGLang 0.5.8 `CudaGraphRunner.can_run`
    (sglang/srt/model_executor/cuda_graph_runner.py) compares the largest rank's
    `global_num_tokens_cpu` (or the rank's own `batch_size`) with `max_bs`; TensorRT-LLM's
    `PyTorchModelEngine._maybe_get_cuda_graph` (tensorrt_llm/_torch/pyexecutor/
    model_engine.py) takes the rank's `len(batch.generation_requests)`, all-gathered over
    the attention-DP ranks.

    512 decoding sequences over 32 ranks: 16 a rank, inside SGLang's 256; 8,192: 256.
    """
    size = np.asarray(graph_size, dtype=np.float64)
    ranks = np.asarray(attention_dp_ranks, dtype=np.float64)
    return np.asarray(np.where(ranks > 1, np.ceil(size / np.maximum(ranks, 1.0)), size),
                      dtype=np.float64)


def eager_ops_per_layer(model: ModelSpec, layout: Layout, moe_layer: bool,
                        fused_moe: bool, attention_kernels: int = 1,
                        attention_launches: int | None = None) -> int:
    """Operations the host dispatches for one layer of an eager forward: the layer's GEMM
    launches (`gemms_per_layer`), its attention's kernels (one flash-attention kernel; a
    linear-attention layer's chunked chain, `Efficiency.linear_attention_eager_kernels`; a
    sparse layer's indexer besides, `Efficiency.sparse_attention_eager_kernels`),
    3 elementwise kernels (fused add+RMSNorm twice, the gated activation), in an expert
    layer the fused MoE op (or its grouped GEMMs, counted with the GEMMs) and the routing's
    top-k and token sort (2), and the tensor-parallel group's 2 all-reduces when tp > 1.

    Qwen3-8B dense layer at tp 1: 4 + 1 + 3 = 8; DeepSeek-V3 expert layer at tp 8 with a
    fused MoE op: 8 + 1 + 3 + 1 + 2 + 2 = 17 (a dense one: 7 + 1 + 3 + 2 = 13); a
    Qwen3.5-397B Gated DeltaNet expert layer at tp 8 with a fused MoE op, its projections'
    3 GEMMs and its 12 chunked kernels: 6 + 12 + 3 + 1 + 2 + 2 = 26.
    """
    ops = gemms_per_layer(model, moe_layer, fused_moe, attention_launches) + attention_kernels + 3
    if moe_layer and model.moe is not None:
        ops += (1 if fused_moe else 0) + 2
    if layout.tp > 1:
        ops += 2
    return ops


def eager_host_s(model: ModelSpec, layout: Layout | LayoutRows, eff: Efficiency,
                 share: npt.ArrayLike) -> FloatArray:
    """Host time a step waits for when it runs eagerly: share · Σ_layers (operations the
    layer dispatches, `eager_ops_per_layer`) · (host s per operation).

    SGLang (58 µs an operation), DeepSeek-V3 at tp 8 (3 dense layers of 13 operations,
    58 expert layers of 17), a prefill step: 1,025 · 58 µs = 59.5 ms. Qwen3.5-397B at tp 8
    (15 full-attention expert layers of 14 operations, 45 Gated DeltaNet ones of 26): 1,380
    operations, 80.0 ms. GLM-5 at tp 8 (sparse layers with the indexer's key path, 3 dense
    of 22 operations and 75 expert of 26): 2,016 operations, 116.9 ms.
    """
    fused = eff.moe_fixed_s is not None
    ops: Any = 0
    for kind, moe_layer, count in model.block_groups:
        kernels = (eff.linear_attention_eager_kernels if kind == "linear"
                   else eff.sparse_attention_eager_kernels if kind == "sparse" else 1)
        ops = ops + count * per_layout(
            eager_ops_per_layer, model, layout=layout, moe_layer=moe_layer, fused_moe=fused,
            attention_kernels=kernels,
            attention_launches=attention_gemms_per_layer(model, kind, eff.linear_attention_gemms))
    return np.asarray(np.asarray(share, dtype=np.float64) * ops * eff.eager_op_host_s,
                      dtype=np.float64)


def synchronous_host_s(deployment: Deployment | DeploymentRows, sequences: npt.ArrayLike
                       ) -> FloatArray:
    """Host time a step waits for outside its forward pass: (step_host_s +
    step_host_per_sequence_s · sequences) where the engine does not compose the next step
    while this one runs (`deployment.overlap_scheduling` false), else 0 (hidden); 0 under
    `ideal` (no overheads).

    vLLM 0.12 (no async scheduling), 8 running sequences: 1.0 ms + 8 · 27 µs = 1.216 ms;
    vLLM 0.14 and later: 0.
    """
    first = deployment.members[0] if isinstance(deployment, DeploymentRows) else deployment
    sched = first.engine.scheduler
    if (first.efficiency == "ideal" or overlap_scheduling(first)
            or not (sched.step_host_s or sched.step_host_per_sequence_s)):
        return np.zeros(())
    return np.asarray(sched.step_host_s + sched.step_host_per_sequence_s
                      * np.asarray(sequences, dtype=np.float64), dtype=np.float64)


def step_cost(deployment: Deployment | DeploymentRows, phase: str, batch: npt.ArrayLike,
              new_tokens: npt.ArrayLike, cached_tokens: npt.ArrayLike) -> StepCost:
    """Cost of one step of `batch` sequences adding `new_tokens` onto `cached_tokens`.

    Seed 001 A9 (ideal, book v5e 4x2, LLaMA 3-70B int8, B=32, T=8192): KV 6.55 ms +
    max(FLOPs 2.84, weights 10.6) ms ≈ 17.2 ms, bound by weight loading.
    """
    return mixed_step_cost(deployment, [Segment(phase, batch, new_tokens, cached_tokens)])


def mixed_step_cost(deployment: Deployment | DeploymentRows, segments: list[Segment]
                    ) -> StepCost:
    """Cost of one step that runs several kinds of sequences together, as in-flight
    batching does (decode sequences plus a chunk of a prompt): FLOPs, KV bytes and
    activations add up; the weights are read once for all the step's tokens.

    Rows of deployments (`deployment.DeploymentRows`) price every row's step on its own
    member, the segments' arrays broadcast against the rows (index (R, 1), cells
    (R, C)): the same numbers as each member alone, in one pass.
    """
    dep, model, layout = deployment, deployment.model, deployment.layout
    t = _step_terms(dep, segments, layouts=True)
    peak = per_dtypes(dep, lambda dt: dep.chip.flops_per_s(dt.compute),   # per device
                      "compute") / dep.chip.cores_per_chip
    act_bytes = 2.0 * model.num_layers * t.tokens * per_dtypes(dep, lambda dt: per_layout(
        activation_bytes_per_token, model, layout=layout, compute_dtype=dt.compute),
        "compute")
    latency, comm, per_pass = t.latency_s, t.communication_s, t.per_pass_s
    mfu = (t.matmul_flops + t.attention_flops) / np.maximum(latency * peak, 1e-30)
    shape = np.broadcast_shapes(*(np.shape(x) for x in (t.tokens, t.attention_flops,
                                                         t.kv_bytes, latency)))

    def b(x: FloatArray) -> FloatArray:
        a = np.asarray(x, dtype=np.float64)
        return a if a.shape == shape else np.broadcast_to(a, shape)

    chosen = t.layout
    assert chosen is not None
    # the exposed terms `_step_terms` adds up per pass: attention's bound term in compute
    # (compute-bound) or in kv (memory-bound), the matmuls' in compute and weights
    compute_s = np.where(t.attention_bound, t.attention_compute_s, 0.0) + t.matmul_s
    kv_s = np.where(t.attention_bound, 0.0, t.attention_memory_s)
    return StepCost(
        phase="+".join(seg.phase for seg in segments),
        flops=b(t.matmul_flops + t.attention_flops), weight_bytes=b(t.weight_bytes),
        kv_bytes=b(t.kv_bytes), activation_bytes=b(act_bytes), compute_s=b(compute_s),
        weights_s=b(t.weights_s), kv_s=b(kv_s), communication_s=b(t.exposed_s),
        overhead_s=b(t.overhead_s), latency_s=b(latency), mfu=b(mfu),
        communication_bound=np.asarray(b(comm) >= b(per_pass + t.overhead_s))
        & (b(comm) > 0), layout=chosen if chosen.shape == shape
        else np.asarray(np.broadcast_to(chosen, shape)),
        parts=RooflineParts(b(t.matmul_compute_s), b(t.attention_compute_s),
                            b(t.matmul_memory_s), b(t.attention_memory_s),
                            b(np.where(t.attention_bound, t.attention_compute_s, 0.0)),
                            b(t.sequences)))


def mixed_step_latency_s(deployment: Deployment | DeploymentRows, segments: list[Segment]
                         ) -> FloatArray:
    """`mixed_step_cost(...).latency_s` alone: the same terms added the same way, without
    what only the other fields read (MFU, activation bytes, the communication-bound flag,
    the roofline parts, the partitioning's name, the compute and KV terms apart). A
    search's decode step of 2,000 rows × 30 contexts: a dozen fewer passes over its
    60,000 cells."""
    t = _step_terms(deployment, segments, layouts=False)
    shape = np.broadcast_shapes(*(np.shape(x) for x in (t.tokens, t.attention_flops,
                                                         t.kv_bytes, t.latency_s)))
    latency = np.asarray(t.latency_s, dtype=np.float64)
    return latency if latency.shape == shape else np.broadcast_to(latency, shape)


class _StepTerms(NamedTuple):
    """A step's terms before `StepCost` names them (`_step_terms`): the matmul and
    attention FLOPs, weight and KV bytes, the step's tokens, the matmuls' exposed compute
    and weights times, the compute, weights and KV times' sum per pass, the collectives
    in full and as exposed, the overhead, the latency, the rooflines' parts and the
    sequences a device runs; the partitioning that runs (None when not asked for)."""

    matmul_flops: FloatArray
    attention_flops: FloatArray
    weight_bytes: FloatArray
    kv_bytes: FloatArray
    tokens: FloatArray
    matmul_s: FloatArray
    weights_s: FloatArray
    per_pass_s: FloatArray
    communication_s: FloatArray
    exposed_s: FloatArray
    overhead_s: FloatArray
    latency_s: FloatArray
    matmul_compute_s: FloatArray
    attention_compute_s: FloatArray
    matmul_memory_s: FloatArray
    attention_memory_s: FloatArray
    attention_bound: npt.NDArray[np.bool_]
    sequences: FloatArray
    layout: npt.NDArray[np.str_] | None


def _step_terms(deployment: Deployment | DeploymentRows, segments: list[Segment],
                layouts: bool) -> _StepTerms:
    """The terms of one step of `segments` (`mixed_step_cost`); `layouts`: whether to
    name the tensor-parallel partitioning that runs (`communication`)."""
    dep, model, layout = deployment, deployment.model, deployment.layout
    eff = efficiency_for(dep)
    per_token_params = per_layout(matmul_params_per_token, model, layout=layout)
    attention_params = per_layout(attention_matmul_params_per_token, model, layout=layout)
    tokens: FloatArray = np.zeros(())
    attention_tokens: FloatArray = np.zeros(())    # tokens the attention terms see (ranks)
    logit_tokens: FloatArray = np.zeros(())
    at_flops: FloatArray | None = None             # summed without a pass over zeros
    kv_bytes: FloatArray | None = None
    prompt_chunks: FloatArray = np.zeros(())
    prompt_tokens: FloatArray = np.zeros(())     # prompt tokens on the fullest rank
    sequences: FloatArray = np.zeros(())
    graph_size: FloatArray = np.zeros(())        # what the engine's graph capture counts
    for seg in segments:
        B = np.asarray(seg.batch, dtype=np.float64)
        q = np.asarray(seg.new_tokens, dtype=np.float64)
        kv = np.asarray(seg.cached_tokens, dtype=np.float64)
        # pp micro-batches in flight; a sequence is not split, and a fractional B is an
        # expectation (in-flight steps carry B = tokens/chunk prompt chunks on average)
        micro = np.maximum(B / layout.pp, np.minimum(B, 1.0))
        # with DP attention the fullest rank sets the attention terms
        ranked = attention_rank_batch(micro, layout.attention_dp)
        sequences = sequences + micro
        tokens = tokens + micro * q
        attention_tokens = attention_tokens + ranked * q
        logit_tokens = logit_tokens + lm_head_tokens(micro, q, seg.phase)
        at_flops = _plus(at_flops, attention_flops(model, layout, ranked, q, kv))
        kv_bytes = _plus(kv_bytes, kv_bytes_moved(model, layout, element_bytes(dep, "kv"),
                                                  ranked, q, kv))
        if seg.phase in PROMPT_PHASES:
            prompt_chunks = prompt_chunks + np.where(q > 0, B, 0.0)
            prompt_tokens = prompt_tokens + ranked * q
        graph_size = graph_size + (micro if eff.graph_counts_sequences
                                   and seg.phase not in PROMPT_PHASES else micro * q)
    at_flops, kv_bytes = _at_least(at_flops, ()), _at_least(kv_bytes, ())

    head = 2.0 * logit_tokens * model.vocab_size * model.hidden_size / layout.tp
    mm_flops = (2.0 * tokens * (per_token_params - attention_params)
                + 2.0 * attention_tokens * attention_params + head)
    weight_bytes, expert_bytes = element_bytes(dep, "weights"), element_bytes(
        dep, "expert_weights")
    own = eff.attention_gemm_flops_per_s is not None    # attention at its own dtypes
    attention_bytes = None if not own else (element_bytes(dep, "attention_weights"),
                                            element_bytes(dep, "attention_output_weights"))
    w_bytes = weight_bytes_read(model, layout, weight_bytes, tokens, expert_bytes,
                                attention_bytes)

    # Two rooflines, as seed 001 draws them: attention max(FLOPs, KV bytes) and matmuls
    # max(FLOPs, weight bytes). Realistic runs each at its achieved rate and exposes
    # `gemm_overlap_loss` of the shorter matmul term (mid-intensity GEMMs hide little).
    at_compute = at_flops / eff.attention_flops_per_s
    linear_prefill = linear_attention_prefill_s(model, layout, eff, prompt_tokens)
    if np.any(linear_prefill):
        # the prompt tokens' linear layers at their kernels' measured cost, not their FLOPs
        linear_flops = (model.num_linear_attention_layers
                        * linear_attention_flops(model, layout, prompt_tokens))
        at_compute = at_compute - linear_flops / eff.attention_flops_per_s + linear_prefill
    at_memory = kv_bytes / (eff.memory_bytes_per_s if eff.kv_bytes_per_s is None
                            else eff.kv_bytes_per_s)
    expert_rate = expert_flops_rate(model, layout, eff)
    layer_rate = eff.matmul_flops_per_s * layer_gemm_share(dep)
    if expert_rate is None:
        mm_compute = mm_flops / layer_rate
    else:
        # routed experts at the fused MoE op's rate, the rest at the GEMMs'
        expert_flops = 2.0 * tokens * routed_params_per_token(model, layout)
        mm_compute = (mm_flops - expert_flops) / layer_rate + expert_flops / expert_rate
    if own:
        output_params = per_layout(attention_output_matmul_params_per_token, model,
                                   layout=layout)
        extra = attention_gemm_s(eff, 2.0 * attention_tokens * (attention_params - output_params),
                                 2.0 * attention_tokens * output_params, layer_rate)
        if extra is not None:
            mm_compute = mm_compute + extra
    weight_rate = (eff.memory_bytes_per_s if eff.weight_bytes_per_s is None
                   else eff.weight_bytes_per_s)
    if eff.expert_bytes_per_s is not None and model.moe is not None:
        # routed experts stream at the fused MoE kernel's rate, the rest at the GEMMs'
        dense = weight_bytes_read(model, layout, weight_bytes, np.zeros_like(tokens),
                                  expert_bytes, attention_bytes)
        mm_memory = dense / weight_rate + (w_bytes - dense) / eff.expert_bytes_per_s
    else:
        mm_memory = w_bytes / weight_rate
    mm_bound = mm_compute > mm_memory
    at_bound = at_compute > at_memory
    hidden = eff.gemm_overlap_loss
    matmul_s = np.where(mm_bound, mm_compute, hidden * mm_compute)
    weights_s = np.where(mm_bound, hidden * mm_memory, mm_memory)
    # compute + kv + weights, compute = the attention's bound term where compute-bound
    # (else 0) + matmul_s and kv = the attention's where memory-bound (else 0): the
    # attention's bound term added to matmul_s once (x + 0 is x for these non-negative
    # terms, so the sum is the one `mixed_step_cost`'s three terms add up to, bit for bit)
    per_pass = (matmul_s + np.where(at_bound, at_compute, at_memory)) + weights_s
    if layouts:
        comm, chosen = communication(dep, tokens, logit_tokens, eff.interconnect,
                                     eff.per_collective_overhead_s, eff)
    else:
        comm, chosen = communication_s(dep, tokens, logit_tokens, eff.interconnect,
                                       eff.per_collective_overhead_s, eff), None
    # ideal: communication overlaps with compute; realistic: it does not
    comm_exposed = np.maximum(comm - per_pass, 0.0) if dep.efficiency == "ideal" else comm
    # on the tokens' shape (rows, not rows × contexts), broadcast where it is added
    overhead = (model.num_layers * eff.per_layer_overhead_s
                + eff.per_step_overhead_s + synchronous_host_s(dep, sequences)
                + fixed_kernel_time_s(model, eff, tokens, layout.tp)
                + eager_host_s(model, layout, eff, eager_share(
                    eff, graph_batch_per_rank(graph_size, layout.attention_dp_ranks(model)),
                    prompt_chunks)))
    # A device runs pp micro-batches through its L/pp layers per step: the same work as
    # one micro-batch through all L layers, which is what the terms above count.
    latency = per_pass + overhead + comm_exposed
    return _StepTerms(mm_flops, at_flops, w_bytes, kv_bytes, tokens, matmul_s, weights_s,
                      per_pass, comm, comm_exposed, overhead, latency, mm_compute,
                      at_compute, mm_memory, at_memory, at_bound, sequences, chosen)
