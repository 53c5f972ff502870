"""A catalog `ModelSpec` scaled down to a model small enough to time on the device
(`forward` builds it in JAX with random weights): the same kind of layer, the same
ratios, fewer and narrower layers.

What is kept: the query heads per KV head (N/K), the head width H (halved only when
the model would otherwise be wider than asked), D/(N·H), F/D, and for MoE models the
top-k share of the experts. What is changed: the layer count, the vocabulary, the
expert count (at most `MAX_EXPERTS`), and what the timed model does not build
(biases, q/k norms, sliding windows, tied embeddings), all recorded in `Scaling.notes`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from inferplan.models import ModelSpec, MoESpec
from inferplan.units import InferplanError

#: HF model types whose layers the timed model builds (GQA softmax attention, a gated
#: dense or routed FFN).
LLAMA_SHAPED_TYPES = ("llama", "mistral", "qwen2", "qwen3", "mixtral", "qwen3_moe")
#: Most routed experts a scaled model keeps (the top-k share is kept).
MAX_EXPERTS = 8
#: Narrowest head a scaled model keeps.
MIN_HEAD_DIM = 16
#: FFN widths are rounded to this many columns.
FFN_ROUND = 16


@dataclass(frozen=True)
class Scaling:
    """How the timed model was made from a catalog model: its name, the factor its
    width was divided by, and what else changed."""

    source_model: str
    width_factor: float
    layers: int
    vocab: int
    notes: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "notes": list(self.notes)}


def is_llama_shaped(spec: ModelSpec) -> bool:
    """Whether the timed model can build `spec`'s layers: a Llama-shaped type, softmax
    attention without MLA, a gated FFN, sequential blocks, routed experts without a
    shared expert."""
    return (spec.model_type in LLAMA_SHAPED_TYPES and spec.mla is None
            and spec.linear_attention is None and spec.sparse_attention is None
            and spec.gated_mlp and not spec.parallel_block
            and (spec.moe is None or spec.moe.num_shared_experts == 0))


def round_width(width: float) -> int:
    """A width rounded to a multiple of FFN_ROUND, at least FFN_ROUND: 1792.4 → 1792."""
    return max(FFN_ROUND, round(width / FFN_ROUND) * FFN_ROUND)


def scaled_heads(spec: ModelSpec, hidden: int) -> tuple[int, int, int, int]:
    """(N', K', H', D') of `spec` scaled to about `hidden` wide, keeping N/K and
    D/(N·H): K' = max(1, round(K·hidden/D)), N' = K'·N/K, H' = H halved while
    N'·H'·D/(N·H) exceeds `hidden` (not below MIN_HEAD_DIM), D' = N'·H'·D/(N·H).

    Llama-3.1-8B (D 4096, N 32, K 8, H 128) to 512: K' = 1, N' = 4, H' = 128, D' = 512;
    to 256: H' = 64, D' = 256.
    """
    D, N, K, H = spec.hidden_size, spec.num_heads, spec.num_kv_heads, spec.head_dim
    ratio = D / (N * H)
    kv_heads = max(1, round(K * hidden / D))
    heads = kv_heads * (N // K)
    head_dim = H
    while heads * head_dim * ratio > hidden and head_dim // 2 >= MIN_HEAD_DIM:
        head_dim //= 2
    return heads, kv_heads, head_dim, max(1, round(heads * head_dim * ratio))


def scaled_moe(moe: MoESpec, factor: float) -> tuple[MoESpec, str | None]:
    """The routed experts of a scaled model: at most MAX_EXPERTS experts, top-k scaled
    with them (at least 1), each expert's width divided by `factor`.

    Qwen3-30B-A3B (128 experts, top-8, 768 wide) at factor 4: 8 experts, top-1, 192.
    """
    experts = min(moe.num_experts, MAX_EXPERTS)
    top_k = max(1, round(moe.experts_per_token * experts / moe.num_experts))
    note = None if experts == moe.num_experts else (
        f"experts {moe.num_experts} top-{moe.experts_per_token} -> {experts} top-{top_k}")
    return MoESpec(num_experts=experts, experts_per_token=top_k,
                   expert_ffn=round_width(moe.expert_ffn / factor)), note


def scaled_model(spec: ModelSpec, hidden: int, layers: int, vocab: int
                 ) -> tuple[ModelSpec, Scaling]:
    """`spec` scaled to about `hidden` wide with `layers` layers and a vocabulary of at
    most `vocab` (see the module's docstring); an `InferplanError` naming `--model` for
    a model the timed forward pass cannot build."""
    if not is_llama_shaped(spec):
        raise InferplanError("--model", spec.name,
                             "a Llama-shaped model (GQA softmax attention, a gated dense or "
                             "routed FFN without shared experts), of type "
                             f"{', '.join(LLAMA_SHAPED_TYPES)}")
    heads, kv_heads, head_dim, width = scaled_heads(spec, hidden)
    factor = spec.hidden_size / width
    notes = []
    moe = None
    if spec.moe is not None:
        moe, note = scaled_moe(spec.moe, factor)
        if note:
            notes.append(note)
    dropped = [name for name, on in (("qkv bias", spec.qkv_bias), ("q/k norms", spec.qk_norm),
                                     ("o bias", spec.o_bias), ("mlp bias", spec.mlp_bias),
                                     ("tied embeddings", spec.tie_word_embeddings),
                                     ("sliding windows", any(spec.layer_windows)))
               if on]
    if dropped:
        notes.append("not built: " + ", ".join(dropped))
    notes.append("no rotary embedding (an elementwise op the fixed costs absorb)")
    is_moe = tuple(bool(x) for x in spec.layer_moe)
    moe_layers = (any(is_moe),) * layers
    tiny = ModelSpec(
        name=f"{spec.name}-scaled", model_type=spec.model_type, num_layers=layers,
        hidden_size=width, intermediate_size=round_width(spec.intermediate_size / factor),
        num_heads=heads, num_kv_heads=kv_heads, head_dim=head_dim,
        vocab_size=min(spec.vocab_size, vocab), layer_windows=(None,) * layers,
        layer_moe=moe_layers if moe is not None else (False,) * layers, moe=moe)
    return tiny, Scaling(spec.name, round(factor, 4), layers, tiny.vocab_size, tuple(notes))


def at_depth(spec: ModelSpec, layers: int) -> ModelSpec:
    """`spec` with its first `layers` layers (a scaled model's layers are all alike)."""
    if layers == spec.num_layers:
        return spec
    return replace(spec, num_layers=layers, layer_windows=spec.layer_windows[:layers],
                   layer_moe=spec.layer_moe[:layers],
                   layer_attention=spec.layer_attention[:layers])
