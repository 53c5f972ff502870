"""`ModelSpec`: a transformer's shape, built from an HF `config.json` dict or the catalog.

Notation follows the seeds: L layers, D d_model, F d_ff, N query heads, K KV heads,
H head dim, V vocabulary, E experts. Parameter counts are exact integers from the
shape; the catalog checks them against published counts.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import cache, cached_property
from importlib import resources
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from inferplan.units import InferplanError, dtype_bytes, unknown_name_error

FloatArray = npt.NDArray[np.float64]
_K = TypeVar("_K")

#: HF `model_type`s this parser understands (the catalog's own "palm" included).
SUPPORTED_MODEL_TYPES = (
    "llama", "mistral", "qwen2", "qwen3", "gemma2", "gemma3", "gemma3_text", "falcon",
    "mixtral", "qwen2_moe", "qwen3_moe", "gpt_oss", "deepseek_v3", "deepseek_v2", "palm",
    "kimi_k2", "glm_moe_dsa", "deepseek_v32", "minimax_m2", "qwen3_next", "qwen3_5_moe_text",
)

#: DeepSeek-V3-shaped types (MLA + shared-expert MoE); Kimi K2 is DeepSeek-V3 with other sizes.
DEEPSEEK_TYPES = ("deepseek_v3", "deepseek_v2", "kimi_k2", "glm_moe_dsa", "deepseek_v32")
#: Qwen types with hybrid Gated DeltaNet / gated full attention and a gated shared expert.
QWEN_NEXT_TYPES = ("qwen3_next", "qwen3_5_moe_text")
#: Per-layer attention kinds: softmax over every (window-capped) position, DeepSeek sparse
#: attention (an indexer picks top-k positions), linear attention with a fixed state.
ATTENTION_KINDS = ("full", "sparse", "linear")
#: HF torch dtype names of state tensors, as inferplan dtypes.
_TORCH_DTYPES = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16"}


@dataclass(frozen=True)
class MoESpec:
    """Mixture-of-experts FFN: E routed experts of width `expert_ffn`, top-k routing."""

    num_experts: int
    experts_per_token: int
    expert_ffn: int
    num_shared_experts: int = 0
    shared_ffn: int = 0
    shared_expert_gate: bool = False   # qwen2_moe: a D->1 sigmoid gate on the shared expert
    router_bias: bool = False          # gpt-oss router bias; deepseek e_score_correction_bias
    expert_bias: bool = False          # gpt-oss experts carry biases


@dataclass(frozen=True)
class MLASpec:
    """DeepSeek multi-head latent attention ranks."""

    q_lora_rank: int | None
    kv_lora_rank: int
    qk_nope_head_dim: int
    qk_rope_head_dim: int
    v_head_dim: int


@dataclass(frozen=True)
class LinearAttentionSpec:
    """Gated DeltaNet linear attention (Qwen3-Next, Qwen3.5): per sequence and layer a
    fixed recurrent state of N_v·d_k·d_v values plus a short-convolution state, no KV.

    Nk key heads of d_k, Nv value heads of d_v, a depthwise causal conv of `conv_kernel`
    over the q, k, v channels; the state is held at `state_dtype` (config
    `mamba_ssm_dtype`), the conv state at `conv_dtype` (the model dtype).
    """

    num_key_heads: int
    num_value_heads: int
    key_head_dim: int
    value_head_dim: int
    conv_kernel: int
    state_dtype: str = "bf16"
    conv_dtype: str = "bf16"

    @property
    def conv_channels(self) -> int:
        """Channels of the short convolution: q, k and v, 2·Nk·d_k + Nv·d_v."""
        return 2 * self.num_key_heads * self.key_head_dim + (
            self.num_value_heads * self.value_head_dim)

    def params_per_layer(self, hidden_size: int) -> int:
        """Weights of one linear-attention layer (HF Qwen3NextGatedDeltaNet).

        in_proj_qkvz D·(2·Nk·d_k + 2·Nv·d_v) + in_proj_ba D·2·Nv + conv C·kernel
        + dt_bias, A_log 2·Nv + gated norm d_v + out_proj Nv·d_v·D. Qwen3.5-397B
        (D=4096, Nk=16, Nv=64, d=128, kernel 4): 83,886,080 + 524,288 + 49,152 + 128
        + 128 + 33,554,432 = 118,014,208.
        """
        D, Nk, Nv = hidden_size, self.num_key_heads, self.num_value_heads
        dk, dv = self.key_head_dim, self.value_head_dim
        return (D * (2 * Nk * dk + 2 * Nv * dv) + D * 2 * Nv
                + self.conv_channels * self.conv_kernel + 2 * Nv + dv + Nv * dv * D)

    @property
    def state_bytes_per_sequence(self) -> float:
        """State one sequence holds in one layer, whatever its length:
        Nv·d_k·d_v·bytes(state) + C·(kernel − 1)·bytes(conv).

        Qwen3.5-397B, fp32 state, bf16 conv: 64·128·128·4 + 12,288·3·2 = 4,194,304
        + 73,728 = 4,268,032 B.
        """
        recurrent = self.num_value_heads * self.key_head_dim * self.value_head_dim
        return (recurrent * dtype_bytes(self.state_dtype, "config.mamba_ssm_dtype")
                + self.conv_channels * (self.conv_kernel - 1) * dtype_bytes(
                    self.conv_dtype, "config.dtype"))

    @property
    def flops_per_token(self) -> float:
        """FLOPs of the recurrence for one token in one layer: 6·Nv·d_k·d_v (S·k, the
        rank-1 delta update and the read-out S·q, 2 FLOPs per MAC) + 2·C·kernel (conv).

        A lower bound for prefill, whose chunked form adds intra-chunk work. Qwen3.5-397B:
        6·64·128·128 + 2·12,288·4 = 6,291,456 + 98,304 = 6,389,760.
        """
        return (6.0 * self.num_value_heads * self.key_head_dim * self.value_head_dim
                + 2.0 * self.conv_channels * self.conv_kernel)


@dataclass(frozen=True)
class SparseAttentionSpec:
    """DeepSeek sparse attention (DSA, DeepSeek-V3.2, GLM-5): a lightning indexer of
    `index_heads` heads of `index_head_dim` scores every cached token for each query and
    the MLA attention reads only the `top_k` best."""

    index_heads: int
    index_head_dim: int
    top_k: int

    def params_per_layer(self, hidden_size: int, q_lora_rank: int) -> int:
        """Indexer weights of one layer (DeepSeek-V3.2 `Indexer`): wq_b r_q·n·d, wk D·d,
        k_norm LayerNorm 2·d, weights_proj D·n.

        GLM-5 (D=6144, r_q=2048, n=32, d=128): 8,388,608 + 786,432 + 256 + 196,608
        = 9,371,904.
        """
        n, d = self.index_heads, self.index_head_dim
        return q_lora_rank * n * d + hidden_size * d + 2 * d + hidden_size * n

    @property
    def index_bytes_per_token(self) -> float:
        """Indexer key cache per token and layer: d fp8 values plus one fp32 scale per 128
        (lightllm Deepseek3_2MemoryManager: k_cache float8_e4m3fn, k_scale float32 per
        index_quant_block_size=128). GLM-5: 128 + 4 = 132 B."""
        d = self.index_head_dim
        return d * dtype_bytes("fp8") + math.ceil(d / 128) * dtype_bytes("fp32")

    @property
    def index_flops_per_position(self) -> float:
        """Indexer FLOPs per query and scored cached token in one layer: 2·n·d (q·k for
        each index head) + 2·n (the weighted sum over heads). GLM-5: 8,192 + 64 = 8,256."""
        return 2.0 * self.index_heads * self.index_head_dim + 2.0 * self.index_heads


@dataclass(frozen=True)
class ModelSpec:
    """The shape of a decoder-only transformer. Never mutated by sharding.

    `layer_windows[i]` is the sliding-window length of layer i (None: full attention);
    `layer_moe[i]` says whether layer i's FFN is a mixture of experts;
    `layer_attention[i]` is its attention kind (ATTENTION_KINDS; empty means all "full").
    """

    name: str
    model_type: str
    num_layers: int            # L
    hidden_size: int           # D
    intermediate_size: int     # F of the dense FFN layers
    num_heads: int             # N
    num_kv_heads: int          # K (1 for multi-query; MLA counts as 1 latent "head")
    head_dim: int              # H
    vocab_size: int            # V
    gated_mlp: bool = True
    qkv_bias: bool = False
    o_bias: bool = False
    mlp_bias: bool = False
    norm_with_bias: bool = False   # LayerNorm (weight + bias) instead of RMSNorm
    norms_per_layer: int = 2
    qk_norm: bool = False
    attention_sinks: bool = False
    parallel_block: bool = False   # attention and FFN read the same input (PaLM, Falcon)
    tie_word_embeddings: bool = False
    layer_windows: tuple[int | None, ...] = ()
    layer_moe: tuple[bool, ...] = ()
    moe: MoESpec | None = None
    mla: MLASpec | None = None
    max_position_embeddings: int | None = None
    layer_attention: tuple[str, ...] = ()
    linear_attention: LinearAttentionSpec | None = None
    sparse_attention: SparseAttentionSpec | None = None
    attn_output_gate: bool = False     # Qwen3-Next/3.5: q_proj also emits an N·H output gate
    qk_norm_per_layer: bool = False    # MiniMax-M2: q/k norms over all heads (N·H + K·H)
    #: multi-token-prediction modules the checkpoint ships (DeepSeek-V3
    #: `num_nextn_predict_layers`, Qwen3.5 `mtp_num_hidden_layers`): a speculative draft
    mtp_layers: int = 0
    #: the checkpoint's own format of its 4-bit experts where it names one the engines run
    #: with kernels of their own (`expert_format`): "mxfp4" (openai/gpt-oss), else None
    expert_format: str | None = None

    # ---------------------------------------------------------------- shape checks
    def __post_init__(self) -> None:
        for name in ("num_layers", "hidden_size", "num_heads", "num_kv_heads", "head_dim",
                     "vocab_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise InferplanError(f"model.{name}", value, "must be a positive integer")
        if self.num_heads % self.num_kv_heads:
            raise InferplanError("model.num_key_value_heads", self.num_kv_heads,
                                 f"must divide num_attention_heads={self.num_heads}")
        if len(self.layer_windows) != self.num_layers or len(self.layer_moe) != self.num_layers:
            raise InferplanError("model.layers", len(self.layer_windows),
                                 f"per-layer tables must have {self.num_layers} entries")
        if any(self.layer_moe) and self.moe is None:
            raise InferplanError("model.moe", None, "MoE layers need expert counts")
        if not self.layer_attention:
            object.__setattr__(self, "layer_attention", ("full",) * self.num_layers)
        if len(self.layer_attention) != self.num_layers or not set(
                self.layer_attention) <= set(ATTENTION_KINDS):
            raise InferplanError("model.layer_attention", self.layer_attention,
                                 f"one of {', '.join(ATTENTION_KINDS)} per layer")
        if "linear" in self.layer_attention and self.linear_attention is None:
            raise InferplanError("model.linear_attention", None,
                                 "linear layers need the linear-attention shape")
        if "sparse" in self.layer_attention and (self.sparse_attention is None
                                                 or self.mla is None):
            raise InferplanError("model.sparse_attention", None,
                                 "sparse (DSA) layers need the indexer shape and MLA")

    # ------------------------------------------------------------------ layer kinds
    @cached_property
    def layer_groups(self) -> tuple[tuple[int | None, str, bool, int], ...]:
        """The distinct layers as (window, attention kind, MoE FFN, count), in order of
        first appearance: per-layer sums over the model are Σ_groups count · term, each
        kind's term computed once (computed once per model).

        LLaMA 3-70B: ((None, 'full', False, 80),); Gemma-2-27B (sliding window 4096 on
        every other of 46 layers): ((4096, 'full', False, 23), (None, 'full', False, 23)).
        """
        counts = _counts(zip(self.layer_windows, self.layer_attention, self.layer_moe,
                             strict=True))
        return tuple((w, kind, moe, n) for (w, kind, moe), n in counts.items())

    @cached_property
    def attention_groups(self) -> tuple[tuple[int | None, str, int], ...]:
        """The distinct (window, attention kind) of the layers with their counts, in order
        of first appearance (attention FLOPs and KV traffic depend on nothing else).

        DeepSeek-V3 (3 dense and 58 MoE layers, all MLA): ((None, 'full', 61),).
        """
        counts = _counts(zip(self.layer_windows, self.layer_attention, strict=True))
        return tuple((w, kind, n) for (w, kind), n in counts.items())

    @cached_property
    def block_groups(self) -> tuple[tuple[str, bool, int], ...]:
        """The distinct (attention kind, MoE FFN) of the layers with their counts, in order
        of first appearance (a layer's weights depend on nothing else).

        Mixtral-8x7B: (('full', True, 32),); DeepSeek-V3: (('full', False, 3),
        ('full', True, 58)).
        """
        counts = _counts(zip(self.layer_attention, self.layer_moe, strict=True))
        return tuple((kind, moe, n) for (kind, moe), n in counts.items())

    # ------------------------------------------------------------- parameter counts
    @property
    def attention_params_per_layer(self) -> int:
        """Q, K, V, O projections (+ biases, q/k norms, sinks) of one layer.

        Standard: D·N·H + 2·D·K·H + N·H·D. LLaMA 3-70B: 8192·8192·2 + 2·8192·1024
        = 150,994,944 per layer.
        """
        D, N, K, H = self.hidden_size, self.num_heads, self.num_kv_heads, self.head_dim
        if self.mla is not None:
            m = self.mla
            qk = m.qk_nope_head_dim + m.qk_rope_head_dim
            if m.q_lora_rank:
                q = D * m.q_lora_rank + m.q_lora_rank + m.q_lora_rank * N * qk
            else:
                q = D * N * qk
            kv = D * (m.kv_lora_rank + m.qk_rope_head_dim) + m.kv_lora_rank
            kv += m.kv_lora_rank * N * (m.qk_nope_head_dim + m.v_head_dim)
            return q + kv + N * m.v_head_dim * D
        params = D * N * H + 2 * D * K * H + N * H * D
        if self.attn_output_gate:
            params += D * N * H
        if self.qkv_bias:
            params += (N + 2 * K) * H
        if self.o_bias:
            params += D
        if self.qk_norm:
            params += (N + K) * H if self.qk_norm_per_layer else 2 * H
        if self.attention_sinks:
            params += N
        return params

    def layer_attention_params(self, kind: str) -> int:
        """Attention weights of one layer of this kind: `attention_params_per_layer` for
        full layers, plus the indexer for sparse ones, the Gated DeltaNet for linear ones.

        GLM-5 sparse: 165,022,208 + 9,371,904 = 174,394,112.
        """
        if kind == "linear" and self.linear_attention is not None:
            return self.linear_attention.params_per_layer(self.hidden_size)
        if kind == "sparse" and self.sparse_attention is not None and self.mla is not None:
            return self.attention_params_per_layer + self.sparse_attention.params_per_layer(
                self.hidden_size, self.mla.q_lora_rank or self.hidden_size)
        return self.attention_params_per_layer

    def _ffn_params(self, width: int) -> int:
        """One FFN of width F: gated 3·D·F (gate, up, down), plain 2·D·F, plus biases."""
        D = self.hidden_size
        mats = 3 if self.gated_mlp else 2
        bias = ((mats - 1) * width + D) if self.mlp_bias else 0
        return mats * D * width + bias

    @property
    def dense_ffn_params(self) -> int:
        """FFN of a dense layer. LLaMA 3-70B: 3·8192·28672 = 704,643,072."""
        return self._ffn_params(self.intermediate_size)

    @property
    def expert_params(self) -> int:
        """One routed expert (gated 3·D·F_e, + biases where the model has them)."""
        if self.moe is None:
            return 0
        D, Fe = self.hidden_size, self.moe.expert_ffn
        bias = (2 * Fe + D) if self.moe.expert_bias else 0
        return 3 * D * Fe + bias

    @property
    def moe_shared_params(self) -> int:
        """Router, shared experts and shared-expert gate of one MoE layer (always active)."""
        if self.moe is None:
            return 0
        m, D = self.moe, self.hidden_size
        params = D * m.num_experts + (m.num_experts if m.router_bias else 0)
        params += m.num_shared_experts * 3 * D * m.shared_ffn
        if m.shared_expert_gate:
            params += D
        return params

    @property
    def norm_params_per_layer(self) -> int:
        """Layer norms of one layer: norms·D (·2 with biases)."""
        return self.norms_per_layer * self.hidden_size * (2 if self.norm_with_bias else 1)

    @property
    def embedding_params(self) -> int:
        """Token embedding V·D, plus an untied LM head V·D, plus the final norm."""
        V, D = self.vocab_size, self.hidden_size
        final_norm = D * (2 if self.norm_with_bias else 1)
        return V * D * (1 if self.tie_word_embeddings else 2) + final_norm

    @property
    def num_moe_layers(self) -> int:
        return sum(self.layer_moe)

    @property
    def num_dense_layers(self) -> int:
        return self.num_layers - self.num_moe_layers

    @cached_property
    def num_linear_attention_layers(self) -> int:
        """Layers of linear (Gated DeltaNet) attention: Qwen3.5-397B 45 of 60; 0 without."""
        return sum(count for _, kind, count in self.attention_groups if kind == "linear")

    @property
    def layer_params(self) -> int:
        """All transformer-layer parameters (every expert counted)."""
        total = sum(self.layer_attention_params(k) for k in self.layer_attention)
        total += self.num_layers * self.norm_params_per_layer
        total += self.num_dense_layers * self.dense_ffn_params
        if self.moe is not None:
            total += self.num_moe_layers * (
                self.moe.num_experts * self.expert_params + self.moe_shared_params)
        return total

    @property
    def parameters(self) -> int:
        """Total parameters. Llama-3.1-8B: 8,030,261,248; Llama-3.1-70B: 70,553,706,496."""
        return self.layer_params + self.embedding_params

    @property
    def active_parameters(self) -> int:
        """Parameters touched per token: all but the unrouted experts (embeddings included).

        Mixtral-8x7B: 46.70B total, 12.88B active (2 of 8 experts).
        """
        if self.moe is None:
            return self.parameters
        idle = self.moe.num_experts - self.moe.experts_per_token
        return self.parameters - self.num_moe_layers * idle * self.expert_params

    @property
    def active_matmul_params(self) -> int:
        """Parameters in matmuls per token: active params less embedding lookup and norms.

        The LM head (V·D) is a matmul and counts, tied or not.
        """
        layer_norms = self.num_layers * self.norm_params_per_layer
        lm_head = self.vocab_size * self.hidden_size
        return self.active_parameters - self.embedding_params - layer_norms + lm_head

    # ------------------------------------------------------------------- KV cache
    @property
    def kv_elements_per_token_per_layer(self) -> int:
        """Cached elements per token and layer: 2·K·H (MLA: kv_lora_rank + rope dim)."""
        if self.mla is not None:
            return self.mla.kv_lora_rank + self.mla.qk_rope_head_dim
        return 2 * self.num_kv_heads * self.head_dim

    def kv_bytes_per_token_per_layer(self, kind: str, kv_dtype: str) -> float:
        """Cache bytes one token adds to one layer of this kind: elements·bytes, plus the
        indexer's keys on sparse layers, nothing on linear ones (their state is fixed).

        GLM-5 sparse, fp8: 576 + 132 = 708 B.
        """
        if kind == "linear":
            return 0.0
        per = self.kv_elements_per_token_per_layer * dtype_bytes(kv_dtype, "dtypes.kv")
        if kind == "sparse" and self.sparse_attention is not None:
            per += self.sparse_attention.index_bytes_per_token
        return per

    def kv_bytes_per_token(self, kv_dtype: str) -> float:
        """KV bytes per token over all layers, ignoring sliding-window caps (linear
        layers add none; see `kv_bytes_per_token_per_layer`).

        2·K·H·L·bytes. LLaMA 3-70B int8: 2·8·128·80 = 163,840 B (the seed's "160kB").
        """
        return sum(self.kv_bytes_per_token_per_layer(k, kv_dtype)
                   for k in self.layer_attention)

    @property
    def linear_state_bytes_per_sequence(self) -> float:
        """Fixed state of one sequence over all linear-attention layers.

        Qwen3.5-397B: 45 layers · 4,268,032 = 192,061,440 B.
        """
        if self.linear_attention is None:
            return 0.0
        return self.layer_attention.count("linear") * (
            self.linear_attention.state_bytes_per_sequence)

    def kv_bytes_per_sequence(self, context_tokens: npt.ArrayLike, kv_dtype: str) -> FloatArray:
        """KV bytes of one sequence of `context_tokens`, sliding layers capped at their window,
        plus the fixed state of linear-attention layers.

        Σ_layers min(T, window_l)·bytes_l + state. LLaMA 3-70B, int8, T=8192: 1.342e9 B.
        Vectorised over `context_tokens`.
        """
        T = np.asarray(context_tokens, dtype=np.float64)
        total = np.zeros_like(T) + self.linear_state_bytes_per_sequence
        for w, kind in zip(self.layer_windows, self.layer_attention, strict=True):
            per = self.kv_bytes_per_token_per_layer(kind, kv_dtype)
            if per:
                total = total + per * (T if w is None else np.minimum(T, float(w)))
        return np.asarray(total, dtype=np.float64)

    # ---------------------------------------------------------------------- FLOPs
    def attention_flops_per_token(self, context_tokens: npt.ArrayLike) -> FloatArray:
        """Score and value FLOPs of one new token attending to T cached tokens.

        4·N·H_qk·Σ_l min(T, window_l) (QKᵀ and AV, 2 FLOPs per MAC). LLaMA 3-70B at
        T=8192: 4·64·128·80·8192 = 2.15e10 FLOPs (the seed's 8.26e6·T for 405B).
        Sparse (DSA) layers attend to min(T, top-k) and add the indexer's
        index_flops_per_position·T; linear layers cost flops_per_token whatever T.
        """
        T = np.asarray(context_tokens, dtype=np.float64)
        per_pos = self.attention_flops_per_position
        total = np.zeros_like(T)
        for w, kind in zip(self.layer_windows, self.layer_attention, strict=True):
            if kind == "linear" and self.linear_attention is not None:
                total = total + self.linear_attention.flops_per_token
            elif kind == "sparse" and self.sparse_attention is not None:
                sp = self.sparse_attention
                total = total + per_pos * np.minimum(T, float(sp.top_k)) + (
                    sp.index_flops_per_position * T)
            else:
                total = total + per_pos * (T if w is None else np.minimum(T, float(w)))
        return np.asarray(total, dtype=np.float64)

    @property
    def attention_flops_per_position(self) -> int:
        """Score and value FLOPs of one query against one cached position in one softmax
        layer: 4·N·H (QKᵀ and AV); MLA 2·N·(qk_dim + v_dim). LLaMA 3-70B: 32,768."""
        if self.mla is not None:
            qk = self.mla.qk_nope_head_dim + self.mla.qk_rope_head_dim
            return 2 * self.num_heads * (qk + self.mla.v_head_dim)
        return 4 * self.num_heads * self.head_dim

    def decode_flops_per_token(self, context_tokens: npt.ArrayLike) -> FloatArray:
        """FLOPs to generate one token at context T: 2·P_matmul + attention(T).

        LLaMA 3-70B, T=0: 2·69.5e9 ≈ 1.39e11 (the seed's "2·70e9").
        """
        return 2.0 * self.active_matmul_params + self.attention_flops_per_token(context_tokens)

    def prefill_flops(self, prompt_tokens: npt.ArrayLike) -> FloatArray:
        """FLOPs to prefill S tokens causally: 2·P_matmul·S + Σ_{t<S} attention(t).

        The causal sum is attention_flops_per_token at the mean position S/2 times S
        for full layers (exact for the linear part). LLaMA 3-70B, S=8192:
        2·69.5e9·8192 + 4·64·128·80·8192²/2 ≈ 1.14e15 + 8.8e13.
        """
        S = np.asarray(prompt_tokens, dtype=np.float64)
        return np.asarray(2.0 * self.active_matmul_params * S + self._causal_attention(S),
                          dtype=np.float64)

    def _causal_attention(self, S: FloatArray) -> FloatArray:
        """Σ_{t=0}^{S-1} attention_flops_per_token(t): sliding windows and DSA top-k cap the
        positions (below the cap they grow linearly, above it each token sees the cap), the
        indexer scores S²/2 positions, linear layers cost S·flops_per_token."""
        per_pos = self.attention_flops_per_position
        total = np.zeros_like(S)
        for w, kind in zip(self.layer_windows, self.layer_attention, strict=True):
            cap = w
            if kind == "linear" and self.linear_attention is not None:
                total = total + S * self.linear_attention.flops_per_token
                continue
            if kind == "sparse" and self.sparse_attention is not None:
                cap = self.sparse_attention.top_k
                total = total + self.sparse_attention.index_flops_per_position * S * S / 2.0
            if cap is None:
                total = total + per_pos * S * S / 2.0
            else:
                capped = np.minimum(S, float(cap))
                total = total + per_pos * (capped * capped / 2.0 + (S - capped) * cap)
        return total


def _counts(items: Iterable[_K]) -> dict[_K, int]:
    """How often each distinct item occurs, in order of first appearance:
    [a, b, a] → {a: 2, b: 1}."""
    counts: dict[_K, int] = {}
    for item in items:
        counts[item] = counts.get(item, 0) + 1
    return counts


# ---------------------------------------------------------------------- parsing
#: Fields transformers fills from its config class when a config.json omits them
#: (transformers Gemma3TextConfig: vocab_size=262208, max_position_embeddings=131072).
HF_CONFIG_DEFAULTS: dict[str, dict[str, Any]] = {
    "gemma3_text": {"vocab_size": 262_208, "max_position_embeddings": 131_072},
}


#: Largest integer a config field may hold (sizes, counts, lengths: 2³¹ − 1, as HF's
#: int32 tensors), and the most layers (the deepest published model has 126; one Python
#: entry per layer is built, so 10⁹ layers would not finish).
MAX_CONFIG_INT = 2**31 - 1
MAX_LAYERS = 4096


def _get(cfg: Mapping[str, Any], key: str, kind: type, default: Any = None,
         required: bool = False, minimum: int = 1, maximum: int = MAX_CONFIG_INT) -> Any:
    """Read `cfg[key]`, check its type (and an int's range, by default 1..2³¹ − 1), and
    name the field if it is wrong."""
    if key not in cfg or cfg[key] is None:
        if required:
            raise InferplanError(f"config.{key}", None, "is required")
        return default
    value = cfg[key]
    if kind is int and isinstance(value, float) and value.is_integer():
        value = int(value)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise InferplanError(f"config.{key}", value, f"must be {kind.__name__}")
    if kind is int and isinstance(value, int) and not minimum <= value <= maximum:
        raise InferplanError(f"config.{key}", value,
                             f"must be an integer from {minimum} to {maximum:,}")
    return value


def _flag(cfg: Mapping[str, Any], key: str, default: bool) -> bool:
    """A true/false config field; a string such as "false" is an error, not true."""
    value = cfg.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise InferplanError(f"config.{key}", value, "must be true or false")
    return value


def _layer_windows(cfg: Mapping[str, Any], model_type: str, L: int) -> tuple[int | None, ...]:
    """Per-layer sliding windows from `layer_types`, gemma patterns or `sliding_window`."""
    window = _get(cfg, "sliding_window", int)
    layer_types = cfg.get("layer_types")
    if layer_types is not None:
        if not isinstance(layer_types, list) or len(layer_types) != L:
            raise InferplanError("config.layer_types", layer_types,
                                 f"must list one type per layer ({L})")
        if window is None and any(t == "sliding_attention" for t in layer_types):
            raise InferplanError("config.sliding_window", None,
                                 "required when layer_types has sliding_attention")
        return tuple(window if t == "sliding_attention" else None for t in layer_types)
    if window is None or _flag(cfg, "use_sliding_window", True) is False:
        return (None,) * L
    if model_type == "gemma2":   # even layers are local (HF Gemma2: layer_idx % 2 == 0)
        return tuple(window if i % 2 == 0 else None for i in range(L))
    if model_type in ("gemma3", "gemma3_text"):
        pattern = _get(cfg, "sliding_window_pattern", int, 6)
        return tuple(None if (i + 1) % pattern == 0 else window for i in range(L))
    if model_type in ("qwen2", "qwen2_moe", "qwen3", "qwen3_moe"):
        # Qwen applies the window only when use_sliding_window is true, above max_window_layers
        if not _flag(cfg, "use_sliding_window", False):
            return (None,) * L
        first = _get(cfg, "max_window_layers", int, L, minimum=0)
        return tuple(window if i >= first else None for i in range(L))
    return (window,) * L


def _layer_attention(cfg: Mapping[str, Any], model_type: str, L: int) -> tuple[str, ...]:
    """Per-layer attention kinds: `layer_types` "linear_attention" (or every layer but each
    `full_attention_interval`-th on Qwen3-Next) is linear; with an `index_topk` (DSA) the
    softmax layers are sparse; the rest full."""
    layer_types = cfg.get("layer_types")
    if isinstance(layer_types, list) and len(layer_types) == L:
        kinds = ["linear" if t == "linear_attention" else "full" for t in layer_types]
    elif model_type in QWEN_NEXT_TYPES:
        every = _get(cfg, "full_attention_interval", int, required=True)
        kinds = ["full" if (i + 1) % every == 0 else "linear" for i in range(L)]
    else:
        kinds = ["full"] * L
    attn_types = cfg.get("attn_type_list")
    if model_type == "minimax_m2" and attn_types is not None and (
            not isinstance(attn_types, list) or any(t != 1 for t in attn_types)):
        raise InferplanError("config.attn_type_list", attn_types,
                             "MiniMax lightning (linear) attention layers are not modelled; "
                             "only full attention (1) is")
    if _get(cfg, "index_topk", int) is not None:
        kinds = ["sparse" if k == "full" else k for k in kinds]
    return tuple(kinds)


def _torch_dtype(cfg: Mapping[str, Any], key: str, default: str) -> str:
    """An HF torch dtype name (`float32`, `bfloat16`) as an inferplan dtype."""
    value = cfg.get(key)
    if value is None:
        return default
    if value not in _TORCH_DTYPES:
        raise InferplanError(f"config.{key}", value, f"allowed: {', '.join(_TORCH_DTYPES)}")
    return _TORCH_DTYPES[value]


def _int_list(cfg: Mapping[str, Any], key: str, L: int) -> list[int]:
    """A list of layer indices (0..L−1), as `mlp_only_layers`; missing: empty."""
    value = cfg.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(
            isinstance(i, int) and not isinstance(i, bool) and 0 <= i < L for i in value):
        raise InferplanError(f"config.{key}", value, f"a list of layer indices 0..{L - 1}")
    return value


def _moe_layers(cfg: Mapping[str, Any], model_type: str, L: int) -> tuple[bool, ...]:
    if model_type in ("mixtral", "gpt_oss", "minimax_m2"):
        return (True,) * L
    if model_type in ("qwen2_moe", "qwen3_moe", *QWEN_NEXT_TYPES):
        step = _get(cfg, "decoder_sparse_step", int, 1)
        only_mlp = set(_int_list(cfg, "mlp_only_layers", L))
        return tuple((i not in only_mlp) and (i + 1) % step == 0 for i in range(L))
    if model_type in DEEPSEEK_TYPES:
        first = _get(cfg, "first_k_dense_replace", int, 0, minimum=0)
        freq = _get(cfg, "moe_layer_freq", int, 1)
        return tuple(i >= first and i % freq == 0 for i in range(L))
    return (False,) * L


def model_from_hf_config(cfg: Mapping[str, Any], name: str | None = None) -> ModelSpec:
    """Build a `ModelSpec` from a Hugging Face `config.json` dict (no download).

    Multimodal configs with a `text_config` use the text model. Raises
    `InferplanError` naming the field for anything missing or malformed.
    """
    if not isinstance(cfg, Mapping):
        raise InferplanError("config", type(cfg).__name__, "must be a JSON object")
    if isinstance(cfg.get("text_config"), Mapping):
        inner = dict(cfg["text_config"])
        inner.setdefault("model_type", f"{cfg.get('model_type', '')}_text")
        for key in ("tie_word_embeddings",):
            if key in cfg and key not in inner:
                inner[key] = cfg[key]
        cfg = inner
    model_type = _get(cfg, "model_type", str, required=True)
    cfg = {**HF_CONFIG_DEFAULTS.get(model_type, {}), **cfg}
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise InferplanError("config.model_type", model_type,
                             f"supported: {', '.join(SUPPORTED_MODEL_TYPES)}")
    is_falcon = model_type == "falcon"
    L = _get(cfg, "num_hidden_layers", int, required=not is_falcon,
             maximum=MAX_LAYERS) or _get(cfg, "n_layer", int, required=True, maximum=MAX_LAYERS)
    D = _get(cfg, "hidden_size", int, required=True)
    N = _get(cfg, "num_attention_heads", int) or _get(cfg, "n_head", int, required=True)
    if D < 1 or N < 1 or L < 1:
        raise InferplanError("config", {"hidden_size": D, "num_attention_heads": N,
                                        "num_hidden_layers": L}, "must be positive")
    H = _get(cfg, "head_dim", int) or D // N
    V = _get(cfg, "vocab_size", int, required=True)
    kwargs: dict[str, Any] = {}

    if is_falcon:
        if _flag(cfg, "new_decoder_architecture", False):
            K = _get(cfg, "num_kv_heads", int, N)
            norms = 2 if _get(cfg, "num_ln_in_parallel_attn", int, 2) == 2 else 1
        else:
            K = 1 if _flag(cfg, "multi_query", True) else N
            norms = 1
        F = _get(cfg, "ffn_hidden_size", int, 4 * D)
        bias = _flag(cfg, "bias", False)
        kwargs.update(gated_mlp=False, qkv_bias=bias, o_bias=bias, mlp_bias=bias,
                      norm_with_bias=True, norms_per_layer=norms,
                      parallel_block=_flag(cfg, "parallel_attn", True),
                      tie_word_embeddings=_flag(cfg, "tie_word_embeddings", True))
    else:
        K = _get(cfg, "num_key_value_heads", int, N)
        F = _get(cfg, "intermediate_size", int,
                 required=model_type not in ("gpt_oss", *QWEN_NEXT_TYPES)) or 0
        tie_default = model_type in ("gemma2", "gemma3", "gemma3_text", "palm")
        kwargs["tie_word_embeddings"] = _flag(cfg, "tie_word_embeddings", tie_default)
        attn_bias = _flag(cfg, "attention_bias", False)
        kwargs["qkv_bias"] = attn_bias or model_type in ("qwen2", "qwen2_moe")
        kwargs["o_bias"] = attn_bias
        kwargs["mlp_bias"] = _flag(cfg, "mlp_bias", False)
        kwargs["qk_norm"] = model_type in ("qwen3", "qwen3_moe", "gemma3", "gemma3_text",
                                           *QWEN_NEXT_TYPES) or _flag(cfg, "use_qk_norm", False)
        kwargs["qk_norm_per_layer"] = cfg.get("qk_norm_type") == "per_layer"
        kwargs["attn_output_gate"] = _flag(cfg, "attn_output_gate",
                                           model_type in QWEN_NEXT_TYPES)
        kwargs["norms_per_layer"] = 4 if model_type.startswith("gemma") else 2
        if model_type == "palm":
            kwargs.update(norms_per_layer=1, parallel_block=True)
        if model_type == "gpt_oss":
            kwargs["attention_sinks"] = True
        if not _flag(cfg, "gated_mlp", True):
            kwargs["gated_mlp"] = False

    moe: MoESpec | None = None
    mla: MLASpec | None = None
    if model_type == "minimax_m2":
        moe = MoESpec(
            num_experts=_get(cfg, "num_local_experts", int, required=True),
            experts_per_token=_get(cfg, "num_experts_per_tok", int, required=True),
            expert_ffn=F, router_bias=_flag(cfg, "use_routing_bias", False))
        if _get(cfg, "shared_intermediate_size", int, 0, minimum=0):
            raise InferplanError("config.shared_intermediate_size",
                                 cfg["shared_intermediate_size"], "MiniMax shared experts: 0")
    elif model_type in ("mixtral", "gpt_oss"):
        moe = MoESpec(
            num_experts=_get(cfg, "num_local_experts", int, required=True),
            experts_per_token=(_get(cfg, "num_experts_per_tok", int)
                               or _get(cfg, "experts_per_token", int, required=True)),
            expert_ffn=F or _get(cfg, "intermediate_size", int, required=True),
            router_bias=model_type == "gpt_oss", expert_bias=model_type == "gpt_oss")
    elif model_type in ("qwen2_moe", "qwen3_moe", *QWEN_NEXT_TYPES):
        shared = _get(cfg, "shared_expert_intermediate_size", int, 0, minimum=0)
        moe = MoESpec(
            num_experts=_get(cfg, "num_experts", int, required=True),
            experts_per_token=_get(cfg, "num_experts_per_tok", int, required=True),
            expert_ffn=_get(cfg, "moe_intermediate_size", int, required=True),
            num_shared_experts=1 if shared else 0, shared_ffn=shared,
            shared_expert_gate=bool(shared))
    elif model_type in DEEPSEEK_TYPES:
        moe = MoESpec(
            num_experts=_get(cfg, "n_routed_experts", int, required=True),
            experts_per_token=_get(cfg, "num_experts_per_tok", int, required=True),
            expert_ffn=_get(cfg, "moe_intermediate_size", int, required=True),
            num_shared_experts=_get(cfg, "n_shared_experts", int, 0, minimum=0),
            shared_ffn=_get(cfg, "moe_intermediate_size", int, required=True),
            router_bias=model_type != "deepseek_v2")
        mla = MLASpec(
            q_lora_rank=_get(cfg, "q_lora_rank", int, minimum=0),
            kv_lora_rank=_get(cfg, "kv_lora_rank", int, required=True),
            qk_nope_head_dim=_get(cfg, "qk_nope_head_dim", int, required=True),
            qk_rope_head_dim=_get(cfg, "qk_rope_head_dim", int, required=True),
            v_head_dim=_get(cfg, "v_head_dim", int, required=True))
        K = 1
        H = mla.qk_nope_head_dim + mla.qk_rope_head_dim
    layer_attention = _layer_attention(cfg, model_type, L)
    linear: LinearAttentionSpec | None = None
    sparse: SparseAttentionSpec | None = None
    if "linear" in layer_attention:
        linear = LinearAttentionSpec(
            num_key_heads=_get(cfg, "linear_num_key_heads", int, required=True),
            num_value_heads=_get(cfg, "linear_num_value_heads", int, required=True),
            key_head_dim=_get(cfg, "linear_key_head_dim", int, required=True),
            value_head_dim=_get(cfg, "linear_value_head_dim", int, required=True),
            conv_kernel=_get(cfg, "linear_conv_kernel_dim", int, required=True),
            state_dtype=_torch_dtype(cfg, "mamba_ssm_dtype", "bf16"),
            conv_dtype=_torch_dtype(cfg, "dtype", _torch_dtype(cfg, "torch_dtype", "bf16")))
    if "sparse" in layer_attention:
        if mla is None or not mla.q_lora_rank:
            raise InferplanError("config.index_topk", cfg.get("index_topk"),
                                 "DSA is modelled on MLA with a q_lora_rank")
        sparse = SparseAttentionSpec(
            index_heads=_get(cfg, "index_n_heads", int, required=True),
            index_head_dim=_get(cfg, "index_head_dim", int, required=True),
            top_k=_get(cfg, "index_topk", int, required=True))
    if moe is not None and moe.experts_per_token > moe.num_experts:
        raise InferplanError("config.num_experts_per_tok", moe.experts_per_token,
                             f"must be at most the number of experts ({moe.num_experts})")
    if K < 1 or N % K:
        raise InferplanError("config.num_key_value_heads", K,
                             f"must be positive and divide num_attention_heads={N}")

    return ModelSpec(
        name=name or str(cfg.get("_name_or_path") or model_type), model_type=model_type,
        num_layers=L, hidden_size=D, intermediate_size=F, num_heads=N, num_kv_heads=K,
        head_dim=H, vocab_size=V,
        layer_windows=_layer_windows(cfg, model_type, L),
        layer_moe=_moe_layers(cfg, model_type, L), moe=moe, mla=mla,
        layer_attention=layer_attention, linear_attention=linear, sparse_attention=sparse,
        max_position_embeddings=_get(cfg, "max_position_embeddings", int),
        mtp_layers=_mtp_layers(cfg), expert_format=expert_format(cfg), **kwargs)


#: checkpoint quantisation formats (config.json quantization_config.quant_method) whose
#: experts the engines run with kernels of their own: MXFP4 (OCP microscaling: 4-bit
#: values, one 8-bit power-of-two scale per 32) against NVFP4 (an fp8 scale per 16)
EXPERT_FORMATS = ("mxfp4",)


def expert_format(cfg: Mapping[str, Any]) -> str | None:
    """The experts' 4-bit format a config's `quantization_config.quant_method` names, where
    it is one of EXPERT_FORMATS (the engine profiles' MoE constants may hold a key of that
    name beside "fp4"): openai/gpt-oss-120b ("quant_method": "mxfp4") → "mxfp4"; a config
    without one, or with another method (fp8, modelopt NVFP4) → None."""
    quant = cfg.get("quantization_config")
    method = quant.get("quant_method") if isinstance(quant, Mapping) else None
    return str(method) if method in EXPERT_FORMATS else None


def _mtp_layers(cfg: Mapping[str, Any]) -> int:
    """MTP modules in a config: `num_nextn_predict_layers` (DeepSeek-V3/R1, GLM-5) or
    `mtp_num_hidden_layers` (Qwen3.5), `num_mtp_modules` under `use_mtp` (MiniMax-M2);
    0 when absent."""
    for key in ("num_nextn_predict_layers", "mtp_num_hidden_layers"):
        value = _get(cfg, key, int, minimum=0, maximum=MAX_LAYERS)
        if value is not None:
            return int(value)
    if _flag(cfg, "use_mtp", False):              # MiniMax-M2: use_mtp, num_mtp_modules
        return int(_get(cfg, "num_mtp_modules", int, default=1, maximum=MAX_LAYERS))
    return 0


def mtp_draft(model: ModelSpec) -> ModelSpec:
    """The model's multi-token-prediction module as a speculative draft: one decoder
    layer shaped as the target's last layer (its attention kind and MoE), with the
    target's vocabulary (the module shares the embedding and output head; DeepSeek-V3
    technical report §2.2, "Multi-Token Prediction"). Each draft token is one pass of it.
    DeepSeek-R1 (61 layers, MoE): a 1-layer MoE model with MLA, vocab 129,280."""
    if model.mtp_layers < 1:
        raise InferplanError("speculative.draft", "mtp",
                             f"{model.name} ships no multi-token-prediction module "
                             "(num_nextn_predict_layers / mtp_num_hidden_layers is 0)")
    last = model.num_layers - 1
    return replace(model, name=f"{model.name}-mtp", num_layers=1,
                   layer_windows=(model.layer_windows[last],),
                   layer_moe=(model.layer_moe[last],),
                   layer_attention=("full" if model.layer_attention[last] == "linear"
                                    else model.layer_attention[last],),
                   mtp_layers=0)


# ---------------------------------------------------------------------- catalog
@dataclass(frozen=True)
class CatalogEntry:
    """One bundled model: its config, where it came from, and its published size."""

    name: str
    hf_repo: str | None
    source: str
    config: Mapping[str, Any]
    published_parameters: int | None
    published_active_parameters: int | None
    parameters_source: str | None
    parameters_rounding: float   # the published figure's precision (0 for exact counts)
    hf_ids: tuple[str, ...] = ()  # HF repo ids of this architecture (quantised repos too)


@cache
def model_catalog() -> dict[str, CatalogEntry]:
    """All bundled models, keyed by their exact catalog name."""
    entries: dict[str, CatalogEntry] = {}
    folder = resources.files("inferplan") / "data" / "models"
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if not item.name.endswith(".json"):
            continue
        raw = json.loads(item.read_text(encoding="utf-8"))
        entries[raw["name"]] = CatalogEntry(
            name=raw["name"], hf_repo=raw.get("hf_repo"), source=raw["source"],
            config=raw["config"], published_parameters=raw.get("published_parameters"),
            published_active_parameters=raw.get("published_active_parameters"),
            parameters_source=raw.get("parameters_source"),
            parameters_rounding=float(raw.get("parameters_rounding", 0)),
            hf_ids=tuple(raw.get("hf_ids", ())))
    return entries


@cache
def hf_id_index() -> dict[str, str]:
    """Lower-cased HF repo id -> catalog name, from each entry's `hf_repo` and `hf_ids`
    (a quantised repo such as nvidia/DeepSeek-R1-NVFP4 names its base architecture)."""
    index: dict[str, str] = {}
    for entry in model_catalog().values():
        for repo in (entry.hf_repo, *entry.hf_ids):
            if repo:
                index.setdefault(repo.lower(), entry.name)
    return index


def catalog_model(name: str) -> ModelSpec:
    """The catalog model with this exact name, or the one an HF repo id maps to
    (`hf_id_index`, case-insensitive); unknown names suggest close ones."""
    catalog = model_catalog()
    if name not in catalog:
        resolved = hf_id_index().get(name.lower())
        if resolved is None:
            raise unknown_name_error("model", name, list(catalog))
        name = resolved
    return _catalog_spec(name)


@cache
def _catalog_spec(name: str) -> ModelSpec:
    return model_from_hf_config(model_catalog()[name].config, name=name)
