"""Per-chip memory: weights, KV cache and working memory; fits; largest batch; smallest slice.

A *device* is one tensor/pipeline shard: a chip, or a core (PE) on chips built of
cores. Per-chip bytes are per-device bytes times the devices a chip hosts.
Everything over batch is vectorised with numpy.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from inferplan.deployment import Deployment, Dtypes, Efficiency, Workload, engine_defaults
from inferplan.hardware import ChipSpec, Topology, default_topology, legal_chip_counts
from inferplan.models import ModelSpec
from inferplan.parallel import Layout, check_layout
from inferplan.rows import DeploymentRows, LayoutRows, per_dtypes, per_layout
from inferplan.units import InferplanError, activation_bytes, dtype_bytes

FloatArray = npt.NDArray[np.float64]


# ----------------------------------------------------------------- weights
def stage_layers(num_layers: int, pp: int) -> list[range]:
    """Contiguous layer ranges of each pipeline stage, the first ones one layer longer.

    80 layers over pp=3: range(0, 27), range(27, 54), range(54, 80).
    """
    q, r = divmod(num_layers, pp)
    bounds = [0]
    for s in range(pp):
        bounds.append(bounds[-1] + q + (1 if s < r else 0))
    return [range(bounds[s], bounds[s + 1]) for s in range(pp)]


def attention_params_per_device(model: ModelSpec, layout: Layout, kind: str = "full") -> float:
    """Attention weights of one layer of `kind` one tensor shard holds.

    Q and O are split tp ways; K and V over the min(tp, K) KV-head shards (a KV head
    is replicated when tp > K). MLA: the latent down-projections are replicated,
    the up-projections and O split. LLaMA 3-70B, tp=8: (2·8192·8192 + 2·8192·1024)/8
    = 18,874,368. A linear (Gated DeltaNet) layer splits by heads, tp ways; a sparse
    (DSA) layer adds its indexer, replicated on every shard (GLM-5: 9,371,904).
    With A data-parallel attention ranks every rank holds the attention whole, split only
    over its tp/A devices (`Layout.attention_tp`): DeepSeek-R1 at tp 8 with A = 8 holds
    all 187,107,328 attention weights of a layer on each GPU.
    """
    tp = layout.attention_tp
    if kind == "linear":
        return model.layer_attention_params("linear") / tp
    if kind == "sparse":
        indexer = model.layer_attention_params("sparse") - model.attention_params_per_layer
        return indexer + attention_params_per_device(model, layout)
    if model.mla is not None:
        m, D = model.mla, model.hidden_size
        down = D * (m.kv_lora_rank + m.qk_rope_head_dim) + m.kv_lora_rank
        if m.q_lora_rank:
            down += D * m.q_lora_rank + m.q_lora_rank
        return down + (model.attention_params_per_layer - down) / tp
    D, K, H = model.hidden_size, model.num_kv_heads, model.head_dim
    kv = 2 * D * K * H + (2 * K * H if model.qkv_bias else 0)
    return (model.attention_params_per_layer - kv) / tp + kv / layout.head_shards(model)


def attention_output_params_per_device(model: ModelSpec, layout: Layout,
                                       kind: str = "full") -> float:
    """The output projection's share of `attention_params_per_device`: the O weights of
    one layer of `kind` on one tensor shard, split like the heads they read. GQA/MHA:
    H·hd·D/tp; MLA (sparse layers too): H·d_v·D/tp; a linear (Gated DeltaNet) layer's
    out_proj N_v·d_v·D/tp. LLaMA 3-70B, tp=8: 8192·8192/8 = 8,388,608; DeepSeek-V3, tp=8:
    128·128·7168/8 = 14,680,064."""
    tp, D = layout.attention_tp, model.hidden_size
    if kind == "linear" and model.linear_attention is not None:
        la = model.linear_attention
        return la.num_value_heads * la.value_head_dim * D / tp
    if model.mla is not None:
        return model.num_heads * model.mla.v_head_dim * D / tp
    return model.num_heads * model.head_dim * D / tp


def expert_params_per_device(model: ModelSpec, layout: Layout) -> float:
    """Routed-expert weights of one MoE layer on one device: E·expert/max(tp, ep).

    Mixtral-8x7B, tp=8: 8·3·4096·14336/8 = 176,160,768.
    """
    if model.moe is None:
        return 0.0
    return model.moe.num_experts * model.expert_params / max(layout.tp, layout.ep)


def ffn_params_per_device(model: ModelSpec, layout: Layout, moe_layer: bool) -> float:
    """FFN weights of one layer on one shard.

    Dense: F split tp ways. MoE: the E experts spread over max(tp, ep) devices (expert
    parallelism beyond tp spans data-parallel ranks), router replicated, shared
    experts split tp ways. Mixtral-8x7B, tp=8: 8·3·4096·14336/8 + 4096·8 = 176,193,536.
    """
    if not moe_layer or model.moe is None:
        return model.dense_ffn_params / layout.tp
    m, D = model.moe, model.hidden_size
    router = D * m.num_experts + (m.num_experts if m.router_bias else 0)
    shared = model.moe_shared_params - router
    return expert_params_per_device(model, layout) + router + shared / layout.tp


def stage_layer_groups(model: ModelSpec, pp: int
                       ) -> tuple[tuple[tuple[int | None, str, bool, int], ...], ...]:
    """Each pipeline stage's distinct layers (`stage_layers`) as (window, attention kind,
    MoE FFN, count), in order of first appearance: a per-stage sum over layers is
    Σ_groups count · term (`ModelSpec.layer_groups`, per stage; cached per model and pp).

    DeepSeek-V3 (3 dense, then 58 MoE layers) over pp=2: ((None, 'full', False, 3),
    (None, 'full', True, 28)) and ((None, 'full', True, 30),).
    """
    return _stage_layer_groups(model, pp)


@lru_cache(maxsize=256)
def _stage_layer_groups(model: ModelSpec, pp: int
                        ) -> tuple[tuple[tuple[int | None, str, bool, int], ...], ...]:
    out = []
    for layers in stage_layers(model.num_layers, pp):
        counts: dict[tuple[int | None, str, bool], int] = {}
        for i in layers:
            key = (model.layer_windows[i], model.layer_attention[i], model.layer_moe[i])
            counts[key] = counts.get(key, 0) + 1
        out.append(tuple((w, kind, moe, n) for (w, kind, moe), n in counts.items()))
    return tuple(out)


def stage_params_per_device(model: ModelSpec, layout: Layout) -> list[tuple[float, float]]:
    """(other, routed-expert) parameters one device holds in each pipeline stage: its
    layers, plus the vocab-parallel embedding on stage 0 and the LM head and final norm on
    the last stage; the routed experts apart so they can be stored at their own dtype.
    Each distinct layer of a stage is counted once times its count (`stage_layer_groups`);
    cached per model and layout.

    Mixtral-8x7B, tp=8, pp=1: experts 32·176,160,768 = 5,637,144,576.
    """
    return list(_stage_params_per_device(model, layout))


@lru_cache(maxsize=1024)
def _stage_params_per_device(model: ModelSpec, layout: Layout
                             ) -> tuple[tuple[float, float], ...]:
    norms = model.norm_params_per_layer
    V, D = model.vocab_size, model.hidden_size
    final_norm = D * (2 if model.norm_with_bias else 1)
    stages = _stage_layer_groups(model, layout.pp)
    experts_per_layer = expert_params_per_device(model, layout)
    out = []
    for s, groups in enumerate(stages):
        params, experts = 0.0, 0.0
        for _, kind, moe_layer, count in groups:
            routed = experts_per_layer if moe_layer else 0.0
            experts += count * routed
            params += count * (attention_params_per_device(model, layout, kind)
                               + norms + ffn_params_per_device(model, layout, moe_layer)
                               - routed)
        if s == 0:
            params += V * D / layout.tp
        if s == len(stages) - 1:
            params += final_norm + (0 if model.tie_word_embeddings and len(stages) == 1
                                    else V * D / layout.tp)
        out.append((params, experts))
    return tuple(out)


def weight_params_per_device(model: ModelSpec, layout: Layout) -> float:
    """Parameters on the fullest device: max over pipeline stages (`stage_params_per_device`).

    Llama-3.1-70B, tp=8, pp=1: 70,553,706,496/8 plus replicated norms ≈ 8.82e9.
    """
    return max(p + e for p, e in stage_params_per_device(model, layout))


def stage_attention_params_per_device(model: ModelSpec, layout: Layout
                                      ) -> tuple[tuple[float, float], ...]:
    """(attention projections, output projections) parameters one device holds in each
    pipeline stage: the part of `stage_params_per_device`'s other parameters a
    checkpoint may store at the attention's own dtypes (`Dtypes.attention`). Cached per
    model and layout. LLaMA 3-70B, tp=8, pp=1: 80·18,874,368 = 1,509,949,440, of which
    output 80·8,388,608 = 671,088,640."""
    return _stage_attention_params(model, layout)


@lru_cache(maxsize=1024)
def _stage_attention_params(model: ModelSpec, layout: Layout
                            ) -> tuple[tuple[float, float], ...]:
    return tuple(
        (sum(count * attention_params_per_device(model, layout, kind)
             for _, kind, _, count in groups),
         sum(count * attention_output_params_per_device(model, layout, kind)
             for _, kind, _, count in groups))
        for groups in _stage_layer_groups(model, layout.pp))


def weight_bytes_per_device(model: ModelSpec, layout: Layout, weights_dtype: str,
                            experts_dtype: str | None = None,
                            attention_dtype: str | None = None,
                            attention_output_dtype: str | None = None) -> float:
    """Weight bytes on the fullest device: other params · bytes(weights dtype) + routed
    expert params · bytes(experts dtype, default the weights dtype), the attention
    projections at their own dtypes where given (`Dtypes.attention`, output projection
    `Dtypes.attention_output`; default the weights', the attention's).

    All other parameters, embeddings included, are stored at the weights dtype (as the
    seeds assume). Llama-3.1-70B int8 on 8 chips: ≈ 8.82e9 B. Mixtral-8x7B, tp=8, bf16
    with int4 experts: 201,854,976·2 + 5,637,144,576·0.5 = 3,222,282,240 B (all bf16:
    11,677,999,104 B). DeepSeek-R1 NVFP4 v2 at tp 8 (fp4; attention bf16, its output
    projection fp4): 2,234,836,992 attention params a device, 895,483,904 of them output,
    so (2,234,836,992 − 895,483,904)·(2 − 0.5) B = +2.01 GB over all fp4 (42.39 → 44.40
    GB).
    """
    w = dtype_bytes(weights_dtype, "dtypes.weights")
    e = dtype_bytes(experts_dtype, "dtypes.experts") if experts_dtype is not None else w
    stages = stage_params_per_device(model, layout)
    if attention_dtype is None and attention_output_dtype is None:
        return max(p * w + x * e for p, x in stages)
    a = dtype_bytes(attention_dtype, "dtypes.attention") if attention_dtype is not None else w
    o = (dtype_bytes(attention_output_dtype, "dtypes.attention_output")
         if attention_output_dtype is not None else a)
    return max(p * w + x * e + (att - out) * (a - w) + out * (o - w)
               for (p, x), (att, out) in zip(stages, stage_attention_params_per_device(
                   model, layout), strict=True))


def weight_bytes_at(model: ModelSpec, layout: Layout, dtypes: Dtypes) -> float:
    """`weight_bytes_per_device` at a deployment's dtypes (weights, experts and the
    attention's own). Llama-3.1-70B int8 on 8 chips: ≈ 8.82e9 B."""
    return weight_bytes_per_device(model, layout, dtypes.weights, dtypes.experts,
                                   dtypes.attention, dtypes.attention_output)


# ---------------------------------------------------------------- KV cache
def linear_state_shards(model: ModelSpec, layout: Layout) -> int:
    """Ways one sequence's linear-attention state is split: the tensor shards that share a
    sequence (tp over the batch shards) up to the linear key heads, so that per device it
    is B·state/(batch shards · this). Qwen3.5 (16 key heads), tp=8, heads mode: 8;
    batch mode with K=2 (4 batch shards): 2."""
    if model.linear_attention is None:
        return 1
    per_sequence = max(1, layout.tp // layout.kv_batch_shards(model))
    return min(per_sequence, model.linear_attention.num_key_heads)


def kv_bytes_per_sequence_per_device(model: ModelSpec, layout: Layout, kv_dtype: str,
                                     context_tokens: npt.ArrayLike) -> FloatArray:
    """KV bytes of one sequence on the fullest device's stage, one KV-head shard.

    Σ_{l in stage} min(T, window_l) · bytes_l / min(tp, K), sparse layers with their
    indexer keys, plus each linear layer's fixed state / `linear_state_shards` (each
    distinct layer once, times its count: `stage_layer_groups`).
    LLaMA 3-70B int8, tp=8, T=8192: 163,840·8192/8 = 167,772,160 B. Qwen3.5-397B bf16,
    tp=8 (heads), T=8192: 15·2·2·256·2·8192/2 + 45·4,268,032/8 = 125,829,120 + 24,007,680
    = 149,836,800 B.
    """
    T = np.asarray(context_tokens, dtype=np.float64)
    heads = layout.head_shards(model)
    state = (model.linear_attention.state_bytes_per_sequence / linear_state_shards(model, layout)
             if model.linear_attention is not None else 0.0)
    best = np.zeros_like(T)
    for groups in _stage_layer_groups(model, layout.pp):
        total = np.zeros_like(T)
        for w, kind, _, count in groups:
            if kind == "linear":
                total = total + count * state
                continue
            per = model.kv_bytes_per_token_per_layer(kind, kv_dtype) / heads
            total = total + count * (per * (T if w is None else np.minimum(T, float(w))))
        best = np.maximum(best, total)
    return np.asarray(best, dtype=np.float64)


def sequences_per_device(model: ModelSpec, layout: Layout | LayoutRows,
                         batch: npt.ArrayLike) -> FloatArray:
    """Sequences whose KV a device holds: ⌈B / batch shards⌉ (batch-sharded attention
    splits the batch tp/K ways). B=32, tp=16, K=8, batch sharding: 16."""
    B = np.asarray(batch, dtype=np.float64)
    return np.asarray(np.ceil(B / layout.kv_batch_shards(model)), dtype=np.float64)


# ------------------------------------------------------------- activations
def activation_bytes_per_token(model: ModelSpec, layout: Layout, compute_dtype: str) -> float:
    """Live activations per token in one layer on one shard: the residual stream and
    normed input (2·D), the QKV projection ((N+2K)·H/tp) and the FFN's gate and up
    outputs (2·F/tp; MoE: top-k experts plus shared experts), each element
    `units.activation_bytes` (16-bit under an fp8, int8 or fp4 GEMM, which writes bf16).

    LLaMA 3-70B, tp=8, bf16 (and fp8): (16384 + 1280 + 7168)·2 = 49,664 B.
    """
    D, N, K, H, tp = (model.hidden_size, model.num_heads, model.num_kv_heads, model.head_dim,
                      layout.tp)
    ffn = model.intermediate_size if model.num_dense_layers else 0
    if model.moe is not None:
        m = model.moe
        ffn = max(ffn, m.experts_per_token * m.expert_ffn + m.num_shared_experts * m.shared_ffn)
    width = 2 * D + (N + 2 * K) * H / tp + 2 * ffn / tp
    return width * activation_bytes(compute_dtype, "dtypes.compute")


def logits_bytes(model: ModelSpec, layout: Layout | LayoutRows,
                 sequences: npt.ArrayLike) -> FloatArray:
    """Last-token logits of n sequences over the vocab-parallel LM head, in the engine's
    logits dtype (fp32): n·V/tp·4. Llama-3-8B, 240 sequences, tp=1: 123,125,760 B."""
    n = np.asarray(sequences, dtype=np.float64)
    per_value = dtype_bytes(str(engine_defaults()["logits_dtype"]))
    return np.asarray(n * model.vocab_size / layout.tp * per_value, dtype=np.float64)


def decode_working_bytes(model: ModelSpec, layout: Layout | LayoutRows, compute_dtype: str,
                         batch: npt.ArrayLike) -> FloatArray:
    """Working memory of a decode step on one shard: B tokens of activations plus the
    fp32 logits of B sequences over the vocab-parallel LM head (B·V/tp·4).

    Seed 001 Q2(c), Llama-3-8B at B=240, tp=1, bf16: 240·86,016 + 240·128,256·4
    ≈ 1.44e8 B (the seed's ≈0.15 GB).
    """
    B = np.asarray(batch, dtype=np.float64)
    return np.asarray(B * per_layout(activation_bytes_per_token, model, layout=layout,
                                     compute_dtype=compute_dtype)
                      + logits_bytes(model, layout, B), dtype=np.float64)


def prefill_working_bytes(model: ModelSpec, layout: Layout | LayoutRows, compute_dtype: str,
                          chunk_tokens: npt.ArrayLike, sequences: npt.ArrayLike) -> FloatArray:
    """Working memory of a prefill step of T tokens from `sequences` prompts: T tokens of
    activations plus last-token logits of each sequence.

    Llama-3-8B, tp=1, bf16, an 8192-token chunk: 8192·86,016 + 128,256·4 ≈ 7.05e8 B
    (the seed's "gate and up 470 MB per layer" is the 2·F part alone).
    """
    T = np.asarray(chunk_tokens, dtype=np.float64)
    return np.asarray(T * per_layout(activation_bytes_per_token, model, layout=layout,
                                     compute_dtype=compute_dtype)
                      + logits_bytes(model, layout, sequences), dtype=np.float64)


def prefill_chunk_tokens(workload: Workload, batch: npt.ArrayLike,
                         budget_tokens: int) -> FloatArray:
    """Tokens in the largest prefill step: the workload's chunk, else the engine's per-step
    budget (`max_num_batched_tokens`: 8192 in vLLM V1), capped at B·input_len."""
    B = np.asarray(batch, dtype=np.float64)
    chunk = workload.prefill_chunk_tokens or budget_tokens
    return np.asarray(np.minimum(B * workload.input_len, float(chunk)), dtype=np.float64)


def activation_bytes_per_device(deployment: Deployment | DeploymentRows, workload: Workload,
                                batch: npt.ArrayLike) -> FloatArray:
    """Working memory of the largest step: max(prefill step, decode step).

    LLaMA 3-70B tp=8 bf16, B=32, S=8192: the prefill step, 8192·49,664 + 128,256/8·4
    ≈ 4.07e8 B.
    """
    model, layout = deployment.model, deployment.layout
    B = np.asarray(batch, dtype=np.float64)
    chunk = prefill_chunk_tokens(workload, B, deployment.token_budget)
    seqs = np.maximum(1.0, np.ceil(chunk / workload.input_len))
    return np.asarray(per_dtypes(deployment, lambda dt: np.maximum(
        prefill_working_bytes(model, layout, dt.compute, chunk, seqs),
        decode_working_bytes(model, layout, dt.compute, B)), "compute"), dtype=np.float64)


# ------------------------------------------------------------------ totals
@dataclass(frozen=True)
class MemoryBreakdown:
    """Per-chip bytes (arrays when evaluated over several batches)."""

    weights_bytes_per_chip: float | FloatArray       # per row for rows of deployments
    kv_bytes_per_chip: FloatArray
    activation_bytes_per_chip: FloatArray
    capacity_bytes_per_chip: float
    usable_bytes_per_chip: float

    @property
    def total_bytes_per_chip(self) -> FloatArray:
        return np.asarray(self.weights_bytes_per_chip + self.kv_bytes_per_chip
                          + self.activation_bytes_per_chip, dtype=np.float64)

    @property
    def fits(self) -> npt.NDArray[np.bool_]:
        return np.asarray(self.total_bytes_per_chip <= self.usable_bytes_per_chip)

    @property
    def headroom_bytes_per_chip(self) -> FloatArray:
        return np.asarray(self.usable_bytes_per_chip - self.total_bytes_per_chip,
                          dtype=np.float64)


def devices_per_chip(chip: ChipSpec) -> int:
    """Shards one chip hosts: its cores (8 PEs on RNGD), else 1."""
    return chip.cores_per_chip


def memory_breakdown(deployment: Deployment | DeploymentRows, workload: Workload,
                     batch: npt.ArrayLike) -> MemoryBreakdown:
    """Weights, KV cache (at the full context input+output) and working memory per chip.

    LLaMA 3-70B int8 weights and KV on a TPU v5e 4x2, B=32, S=8192 (book numbers):
    weights 8.82e9 + KV 5.37e9 + activations 0.41e9 ≈ 14.6e9 of 16e9 B: fits. Rows of
    deployments (`DeploymentRows`): each row's member, `batch` broadcast against the rows.
    """
    model, layout = deployment.model, deployment.layout
    per_chip = devices_per_chip(deployment.chip)
    weights = per_dtypes(deployment, lambda dt: per_layout(
        weight_bytes_at, model, layout=layout, dtypes=dt),
        "weights", "experts", "attention", "attention_output") * per_chip
    kv_seq = per_dtypes(deployment, lambda dt: per_layout(
        kv_bytes_per_sequence_per_device, model, layout=layout, kv_dtype=dt.kv,
        context_tokens=workload.context_len), "kv")
    kv = sequences_per_device(model, layout, batch) * kv_seq * per_chip
    act = activation_bytes_per_device(deployment, workload, batch) * per_chip
    capacity = deployment.chip.memory_bytes
    return MemoryBreakdown(
        weights_bytes_per_chip=(float(weights) if np.ndim(weights) == 0
                                else np.asarray(weights, dtype=np.float64)),
        kv_bytes_per_chip=np.asarray(kv),
        activation_bytes_per_chip=act, capacity_bytes_per_chip=capacity,
        usable_bytes_per_chip=capacity * deployment.usable_fraction)


def largest_true(fits: Callable[[npt.NDArray[np.int64]], npt.NDArray[np.bool_]],
                 limit: int = 1 << 24) -> int:
    """The largest n in 1..limit with fits(n), for a predicate monotone in n that takes an
    array of n (0 if none): one vectorised call over the powers of two finds the bracket
    [2^k, 2^(k+1)), then one call per window of up to 4,096 values narrows it (a bracket
    below 4,096 needs one). fits = n ≤ 138: 138."""
    powers = np.asarray([1 << k for k in range(limit.bit_length()) if 1 << k <= limit],
                        dtype=np.int64)
    ok = np.asarray(fits(powers), dtype=bool)
    if not ok[0]:
        return 0
    k = int(np.nonzero(ok)[0][-1])
    lo, hi = int(powers[k]), (int(powers[k + 1]) if k + 1 < powers.size else limit + 1)
    while hi - lo > 1:
        grid = np.linspace(lo, hi - 1, num=min(4096, hi - lo)).astype(np.int64)
        # ascending already, so drop repeats in place of np.unique (which imports numpy.ma,
        # 20 ms of an `inferplan estimate`)
        grid = grid[np.concatenate(([True], grid[1:] != grid[:-1]))]
        good = grid[np.asarray(fits(grid), dtype=bool)]
        last = int(good[-1]) if good.size else lo
        above = grid[grid > last]
        lo, hi = last, int(above[0]) if above.size else last + 1
    return lo


def max_batch(deployment: Deployment, workload: Workload, limit: int = 1 << 24) -> int:
    """Largest batch per replica whose weights, KV at full context and working memory
    fit in usable memory; 0 if not even one sequence fits.

    Memory grows monotonically with batch, so `largest_true` doubles then bisects,
    evaluating `memory_breakdown` on arrays. Book TPU v5e 4x4, LLaMA 3-70B int8, S=8192 with
    batch-sharded attention: 138 (the seed's corrected roofline table).
    """
    return largest_true(lambda b: np.asarray(
        memory_breakdown(deployment, workload, b).fits, dtype=bool), limit)


# ---------------------------------------------------------- smallest slice
@dataclass(frozen=True)
class SliceFit:
    """The smallest deployment found, with its memory at the requested batch."""

    deployment: Deployment
    memory: MemoryBreakdown
    max_batch: int


def model_parallel_layouts(model: ModelSpec, chip: ChipSpec, chips: int) -> list[Layout]:
    """Legal layouts using every device of `chips` for one replica, most TP first:
    tp = devices, then trading tp for pipeline stages."""
    devices = chips * chip.cores_per_chip
    out = []
    for pp in (p for p in range(1, devices + 1) if devices % p == 0):
        layout = Layout(tp=devices // pp, pp=pp, dp=1)
        try:
            check_layout(model, chip, layout, chips)
        except InferplanError:
            continue
        out.append(layout)
    return out


def smallest_deployment(model: ModelSpec, chip: ChipSpec, dtypes: Dtypes, workload: Workload,
                        batch: int, efficiency: Efficiency = "realistic",
                        max_chips: int = 4096) -> SliceFit | None:
    """The fewest chips (a legal slice on tori) holding one replica at `batch` sequences of
    the workload's context, with pure model parallelism (tp, then pp if tp cannot grow).

    Seed 001: LLaMA 3-70B int8, B=32, S=8192 on book v5e: 8 chips (4x2);
    bf16 / int8 / int4 weights at B=1: 16 / 8 / 4 chips.
    """
    for chips in legal_chip_counts(chip, max_chips):
        topo: Topology = default_topology(chip, chips)
        for layout in model_parallel_layouts(model, chip, chips):
            dep = Deployment(model=model, chip=chip, topology=topo, layout=layout,
                             dtypes=dtypes, efficiency=efficiency)
            mem = memory_breakdown(dep, workload, batch)
            if bool(mem.fits):
                return SliceFit(dep, mem, max_batch(dep, workload))
    return None


def min_chips_for_weights(model: ModelSpec, chip: ChipSpec, weights_dtype: str,
                          usable_fraction: float = 1.0) -> float:
    """Chips needed for the weights alone: P·bytes / memory (fractional).

    LLaMA 3-70B on 16e9-B chips: bf16 8.82, int8 4.41, int4 2.20 (the seed's 8.75 /
    4.38 / 2.81 use 70e9 parameters; its 2.81 for int4 is wrong).
    """
    return (model.parameters * dtype_bytes(weights_dtype, "dtypes.weights")
            / (chip.memory_bytes * usable_fraction))


def kv_capacity_sequences(deployment: Deployment, context_tokens: int) -> int:
    """Whole sequences of `context_tokens` the memory left after weights holds per replica,
    ignoring working memory (the seed's 'num KV caches' column)."""
    model, layout, dt = deployment.model, deployment.layout, deployment.dtypes
    per_chip = devices_per_chip(deployment.chip)
    free = (deployment.chip.memory_bytes * deployment.usable_fraction
            - weight_bytes_at(model, layout, dt) * per_chip)
    per_seq = float(kv_bytes_per_sequence_per_device(model, layout, dt.kv, context_tokens))
    per_seq *= per_chip / layout.kv_batch_shards(model)
    return max(0, math.floor(free / per_seq))


# ------------------------------------------------------------------ result
@dataclass(frozen=True)
class MemoryResult:
    """What `inferplan memory` reports for one scenario."""

    deployment: Deployment
    workload: Workload
    batch: int
    max_batch: int
    memory: MemoryBreakdown
    smallest: SliceFit | None

    @property
    def fits(self) -> bool:
        return bool(self.memory.fits) and self.batch >= 1

    def memory_dict(self) -> dict[str, float]:
        m = self.memory
        return {
            "weights_bytes_per_chip": float(m.weights_bytes_per_chip),
            "kv_bytes_per_chip": float(m.kv_bytes_per_chip),
            "activation_bytes_per_chip": float(m.activation_bytes_per_chip),
            "total_bytes_per_chip": float(m.total_bytes_per_chip),
            "capacity_bytes_per_chip": float(m.capacity_bytes_per_chip),
            "usable_bytes_per_chip": float(m.usable_bytes_per_chip),
        }

    def to_dict(self) -> dict[str, object]:
        d, lay = self.deployment, self.deployment.layout
        return {
            "model": d.model.name,
            "hardware": d.chip.name,
            "chips": d.chips,
            "topology": d.topology.describe(),
            "parallelism": {"tp": lay.tp, "pp": lay.pp, "dp": lay.dp, "ep": lay.ep,
                            "attention": lay.attention_mode(d.model),
                            "attention_dp": lay.attention_dp},
            "dtypes": {"weights": d.dtypes.weights, "kv": d.dtypes.kv,
                       "compute": d.dtypes.compute,
                       **{name: getattr(d.dtypes, name) for name in
                          ("experts", "attention", "attention_output")
                          if getattr(d.dtypes, name)}},
            "efficiency": d.efficiency,
            "context_tokens": self.workload.context_len,
            "batch": self.batch,
            "fits": self.fits,
            "max_batch": self.max_batch,
            "memory": self.memory_dict(),
            "smallest_deployment": None if self.smallest is None else {
                "chips": self.smallest.deployment.chips,
                "topology": self.smallest.deployment.topology.describe(),
                "tp": self.smallest.deployment.layout.tp,
                "pp": self.smallest.deployment.layout.pp,
                "max_batch": self.smallest.max_batch,
            },
        }


def memory_result(deployment: Deployment, workload: Workload,
                  find_smallest: bool = True) -> MemoryResult:
    """Memory at the workload's batch (or concurrency; 'max' resolves to the largest
    batch that fits), the largest batch, and the smallest deployment of this chip that
    holds one replica at that batch with the same dtypes (a search over chip counts,
    skipped when `find_smallest` is false)."""
    best = max_batch(deployment, workload)
    requested = workload.batch if workload.batch is not None else workload.concurrency
    batch = best if requested == "max" else int(requested or 1)
    smallest = smallest_deployment(deployment.model, deployment.chip, deployment.dtypes,
                                   workload, max(batch, 1), deployment.efficiency
                                   ) if find_smallest else None
    return MemoryResult(deployment, workload, batch, best,
                        memory_breakdown(deployment, workload, max(batch, 1)), smallest)
