"""A Llama-shaped model in JAX, built from a (scaled) `ModelSpec` with random weights,
and the three steps `timing` times: prefill, decode and mixed.

Layers (pre-norm, sequential): RMSNorm → fused QKV projection [D, (N + 2K)·H] →
grouped-query softmax attention (each KV head serves N/K query heads) → O [N·H, D] →
residual; RMSNorm → gated FFN (SiLU(x·W_gate)·(x·W_up))·W_down, or routed experts
(`moe_ffn`) → residual. Then the final norm and the LM head over each sequence's last
position. Nothing is downloaded: weights are drawn from a seeded normal.

A step runs the matmuls once over all its tokens (decode tokens and a prompt chunk
together, as engines batch them) and attention per kind of sequence:
- decode: B sequences, one new token each, attend to a KV cache of shape
  (L, B, C, K, H) (keys and values) and to their own new key; the cache is read, the new
  keys and values are returned (what an engine writes into its paged cache).
- prefill: B prompts of S tokens, causal attention over the prompt; their keys and
  values (L, B, S, K, H) are returned.
- mixed: both in one call.

Imports jax at module level: only `calibrate.measure` imports this module, and only the
command that asked for a calibration imports that.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from inferplan.models import ModelSpec

Params = dict[str, Any]
Array = jax.Array

#: Routed-expert capacity over the mean load: an expert takes at most
#: ceil(T·k/E · CAPACITY_FACTOR) of a step's T tokens (GShard's drop policy).
CAPACITY_FACTOR = 1.25
#: Standard deviation of the random weights.
INIT_STD = 0.02
NORM_EPS = 1e-5


@dataclass(frozen=True)
class Dims:
    """The static shape of the built model (from its `ModelSpec`)."""

    L: int
    D: int
    F: int
    N: int
    K: int
    H: int
    V: int
    experts: int = 0
    top_k: int = 0
    expert_ffn: int = 0

    @classmethod
    def of(cls, spec: ModelSpec) -> Dims:
        moe = spec.moe if any(spec.layer_moe) else None
        return cls(L=spec.num_layers, D=spec.hidden_size, F=spec.intermediate_size,
                   N=spec.num_heads, K=spec.num_kv_heads, H=spec.head_dim,
                   V=spec.vocab_size, experts=moe.num_experts if moe else 0,
                   top_k=moe.experts_per_token if moe else 0,
                   expert_ffn=moe.expert_ffn if moe else 0)

    @property
    def group(self) -> int:
        """Query heads per KV head, N/K."""
        return self.N // self.K


def param_shapes(d: Dims) -> dict[str, tuple[int, ...]]:
    """Shape of each weight of one layer (`layer.`) and of the embeddings.

    Sizes add up to `ModelSpec.parameters` (tests/test_calibrate_model.py holds it).
    """
    shapes: dict[str, tuple[int, ...]] = {
        "embed": (d.V, d.D), "final_norm": (d.D,), "lm_head": (d.D, d.V),
        "layer.attn_norm": (d.D,), "layer.wqkv": (d.D, (d.N + 2 * d.K) * d.H),
        "layer.wo": (d.N * d.H, d.D), "layer.ffn_norm": (d.D,)}
    if d.experts:
        shapes.update({"layer.router": (d.D, d.experts),
                       "layer.w_gate_up": (d.experts, d.D, 2 * d.expert_ffn),
                       "layer.w_down": (d.experts, d.expert_ffn, d.D)})
    else:
        shapes.update({"layer.w_gate_up": (d.D, 2 * d.F), "layer.w_down": (d.F, d.D)})
    return shapes


def init_params(d: Dims, dtype: str, seed: int = 0) -> Params:
    """Random weights of every shape in `param_shapes` (norm weights are ones), drawn on
    the host with numpy (one jax random op per shape would compile once per shape)."""
    rng = np.random.default_rng(seed)
    jdtype = jnp.dtype(dtype)

    def draw(name: str, shape: tuple[int, ...]) -> Array:
        if name.endswith("norm"):
            return jnp.ones(shape, jdtype)
        values = INIT_STD * rng.standard_normal(shape, dtype=np.float32)
        return jnp.asarray(values.astype(jdtype))

    shapes = param_shapes(d)
    params: Params = {k: draw(k, v) for k, v in shapes.items() if not k.startswith("layer.")}
    params["layers"] = [{k[len("layer."):]: draw(k, v) for k, v in shapes.items()
                         if k.startswith("layer.")} for _ in range(d.L)]
    return params


def rms_norm(x: Array, weight: Array) -> Array:
    """x / sqrt(mean(x²) + ε) · w over the last axis."""
    scale = jax.lax.rsqrt(jnp.mean(jnp.square(x), axis=-1, keepdims=True) + NORM_EPS)
    return (x * scale).astype(x.dtype) * weight


def decode_attention(q: Array, k_new: Array, v_new: Array, k_cache: Array,
                     v_cache: Array) -> Array:
    """One new query per sequence against its C cached positions and its own new key.

    q [B, K, G, H], k/v_new [B, K, H], k/v_cache [B, C, K, H] → [B, K, G, H]. The two
    parts share one softmax, so the cache is read once and never copied (with K = 1 the
    head-major view of the cache is free; with more KV heads XLA transposes it). The
    scores are batched matmuls per (sequence, KV head), the layout XLA's CPU backend runs
    fastest (einsum over the cache's own layout ran 1.5-3x slower on 2 cores).
    """
    B, K, G, H = q.shape
    C = k_cache.shape[1]
    scale = 1.0 / math.sqrt(H)
    keys = k_cache.transpose(0, 2, 1, 3).reshape(B * K, C, H)
    values = v_cache.transpose(0, 2, 1, 3).reshape(B * K, C, H)
    queries = q.reshape(B * K, G, H)
    cached = jnp.matmul(queries, keys.transpose(0, 2, 1)) * scale            # [BK, G, C]
    own = jnp.sum(queries * k_new.reshape(B * K, 1, H), axis=-1, keepdims=True) * scale
    weights = jax.nn.softmax(jnp.concatenate([cached, own], axis=-1), axis=-1)
    out = jnp.matmul(weights[..., :-1], values) + weights[..., -1:] * v_new.reshape(
        B * K, 1, H)
    return out.reshape(B, K, G, H)


#: Fewest query rows per block of causal prefill attention, and most blocks.
MIN_PREFILL_BLOCK = 128
MAX_PREFILL_BLOCKS = 8


def prefill_block(S: int) -> int:
    """Query rows per block: max(128, ceil(S/8)), so a prompt runs at most 8 blocks (and
    compiles that many). 1024 → 128; 8192 → 1024."""
    return max(MIN_PREFILL_BLOCK, math.ceil(S / MAX_PREFILL_BLOCKS))


def prefill_attention(q: Array, k: Array, v: Array) -> Array:
    """Causal attention within each prompt, a block of `prefill_block(S)` queries at a
    time against the keys up to its end, so about half the S² scores are computed, as a
    causal kernel does: q [B, S, K, G, H], k/v [B, S, K, H] → [B, S, K, G, H]."""
    S = q.shape[1]
    block = prefill_block(S)
    scale = 1.0 / math.sqrt(q.shape[-1])
    outs = []
    for start in range(0, S, block):
        stop = min(start + block, S)
        scores = jnp.einsum("bskgh,btkh->bkgst", q[:, start:stop], k[:, :stop]) * scale
        causal = (jnp.arange(start, stop)[:, None] >= jnp.arange(stop)[None, :])
        scores = jnp.where(causal, scores, -jnp.inf)
        outs.append(jnp.einsum("bkgst,btkh->bskgh", jax.nn.softmax(scores, axis=-1),
                               v[:, :stop]))
    return jnp.concatenate(outs, axis=1)


def dense_ffn(p: dict[str, Array], x: Array) -> Array:
    """SiLU(x·W_gate)·(x·W_up)·W_down with gate and up fused: x [T, D] → [T, D]."""
    gate, up = jnp.split(x @ p["w_gate_up"], 2, axis=-1)
    return (jax.nn.silu(gate) * up) @ p["w_down"]


def expert_capacity(tokens: int, d: Dims) -> int:
    """Tokens one expert takes in a step: ceil(T·k/E · CAPACITY_FACTOR), at least 1.
    64 tokens, top-2 of 8: ceil(16 · 1.25) = 20."""
    return max(1, math.ceil(tokens * d.top_k / d.experts * CAPACITY_FACTOR))


def moe_ffn(p: dict[str, Array], x: Array, d: Dims) -> Array:
    """Routed experts, GShard-style: each token's top-k experts (softmax over their
    router scores) get a copy of it in their buffer of `expert_capacity` slots (a copy past
    the capacity is dropped), the experts run as one batched matmul over [E, C, D], and
    the outputs are gathered back, weighted. x [T, D] → [T, D]."""
    T = x.shape[0]
    E, k = d.experts, d.top_k
    C = expert_capacity(T, d)
    scores, chosen = jax.lax.top_k(x @ p["router"], k)
    gates = jax.nn.softmax(scores, axis=-1).reshape(-1)
    expert = chosen.reshape(-1)
    token = jnp.repeat(jnp.arange(T), k)
    order = jnp.argsort(expert, stable=True)
    expert, token, gates = expert[order], token[order], gates[order]
    counts = jnp.bincount(expert, length=E)
    position = jnp.arange(T * k) - (jnp.cumsum(counts) - counts)[expert]
    slot = jnp.where(position < C, expert * C + position, E * C)    # E·C: dropped
    buffer = jnp.zeros((E * C, d.D), x.dtype).at[slot].set(x[token], mode="drop")
    h = buffer.reshape(E, C, d.D)
    gate, up = jnp.split(jnp.einsum("ecd,edf->ecf", h, p["w_gate_up"]), 2, axis=-1)
    out = jnp.einsum("ecf,efd->ecd", jax.nn.silu(gate) * up, p["w_down"]).reshape(E * C, d.D)
    picked = jnp.take(out, slot, axis=0, mode="fill", fill_value=0)
    return jnp.zeros_like(x).at[token].add(picked * gates[:, None].astype(x.dtype))


def layer(p: dict[str, Array], x: Array, d: Dims, decode: int, prompts: tuple[int, int],
          cache: tuple[Array, Array] | None) -> tuple[Array, Array, Array]:
    """One layer over a step's tokens x [T, D]: the first `decode` are decode tokens
    (attending to `cache`, [B, C, K, H] each), the rest `prompts` = (B, S) prompts.
    Returns x and the step's new keys and values ([T, K, H])."""
    B, S = prompts
    h = rms_norm(x, p["attn_norm"]) @ p["wqkv"]
    q = h[:, :d.N * d.H].reshape(-1, d.K, d.group, d.H)
    k = h[:, d.N * d.H:(d.N + d.K) * d.H].reshape(-1, d.K, d.H)
    v = h[:, (d.N + d.K) * d.H:].reshape(-1, d.K, d.H)
    outs = []
    if decode:
        assert cache is not None
        outs.append(decode_attention(q[:decode], k[:decode], v[:decode], *cache)
                    .reshape(decode, -1))
    if B:
        shape = (B, S, d.K, d.H)
        attended = prefill_attention(q[decode:].reshape(B, S, d.K, d.group, d.H),
                                     k[decode:].reshape(shape), v[decode:].reshape(shape))
        outs.append(attended.reshape(B * S, -1))
    x = x + jnp.concatenate(outs, axis=0) @ p["wo"]
    normed = rms_norm(x, p["ffn_norm"])
    x = x + (moe_ffn(p, normed, d) if d.experts else dense_ffn(p, normed))
    return x, k, v


def step(params: Params, d: Dims, decode_tokens: Array | None, cache: tuple[Array, Array]
         | None, prompt_tokens: Array | None) -> tuple[Array, Array, Array]:
    """One engine step: `decode_tokens` [B_d] with their caches (k, v), each
    [L, B_d, C, K, H], and `prompt_tokens` [B_p, S]; either may be None. Returns the
    logits of each sequence's last position [B_d + B_p, V] and the step's new keys and
    values [L, T, K, H] (T = B_d + B_p·S)."""
    decode = 0 if decode_tokens is None else int(decode_tokens.shape[0])
    prompts = (0, 0) if prompt_tokens is None else (int(prompt_tokens.shape[0]),
                                                    int(prompt_tokens.shape[1]))
    ids = [t for t in (decode_tokens, None if prompt_tokens is None
                       else prompt_tokens.reshape(-1)) if t is not None]
    x = jnp.take(params["embed"], jnp.concatenate(ids), axis=0)
    new_k, new_v = [], []
    for i, p in enumerate(params["layers"]):
        layer_cache = None if cache is None else (cache[0][i], cache[1][i])
        x, k, v = layer(p, x, d, decode, prompts, layer_cache)
        new_k.append(k)
        new_v.append(v)
    B, S = prompts
    last = [x[:decode]] + ([x[decode:].reshape(B, S, d.D)[:, -1]] if B else [])
    logits = rms_norm(jnp.concatenate(last, axis=0), params["final_norm"]) @ params["lm_head"]
    return logits, jnp.stack(new_k), jnp.stack(new_v)
