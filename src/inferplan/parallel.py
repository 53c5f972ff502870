"""`Layout`: how a deployment splits the model over chips, and whether that is legal.

tp (tensor), pp (pipeline), dp (data/replica), ep (expert) degrees; tp·pp·dp = chips.
On chips built of cores (FuriosaAI RNGD: 8 PEs) tp counts cores, and a replica of
tp ≤ cores_per_chip fuses PEs of one chip (`cores_per_chip` replicas share a chip).

Attention under tp > K (more shards than KV heads) has two options:
- "heads": each shard holds ⌈K/tp⌉ KV heads: the KV cache is replicated tp/K times
  (what vLLM and TensorRT-LLM do).
- "batch": the extra factor tp/K shards the batch instead (Pope et al.'s
  batch-sharded multi-query attention; DP-attention in SGLang): no replication.
"auto" picks "batch" when tp > K, as Pope et al. do for multi-query models.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from inferplan.hardware import ChipSpec
from inferplan.models import ModelSpec
from inferplan.units import InferplanError

AttentionSharding = Literal["auto", "heads", "batch"]

#: The partitionings of Pope et al. (2023) plus Megatron's, named as `parallelism.layout`.
LAYOUTS = ("auto", "megatron", "ws1d", "ws2d", "wg_x", "wg_xy", "wg_xyz")


@dataclass(frozen=True)
class Layout:
    """Parallel degrees and partitioning choices of one deployment."""

    tp: int = 1
    pp: int = 1
    dp: int = 1
    ep: int = 1
    layout: str = "auto"
    attention: AttentionSharding = "auto"

    @property
    def model_parallel(self) -> int:
        """Devices (chips or cores) holding one replica: tp·pp."""
        return self.tp * self.pp

    @property
    def devices(self) -> int:
        """tp·pp·dp devices in all."""
        return self.tp * self.pp * self.dp

    def head_shards(self, model: ModelSpec) -> int:
        """Ways the KV heads are split: min(tp, K)."""
        return min(self.tp, model.num_kv_heads)

    def attention_mode(self, model: ModelSpec) -> Literal["heads", "batch"]:
        """The attention sharding in force ('auto' resolved)."""
        if self.attention != "auto":
            return self.attention
        return "batch" if self.tp > model.num_kv_heads else "heads"

    def kv_batch_shards(self, model: ModelSpec) -> int:
        """Ways the batch is split for the KV cache: tp/K under batch sharding, else 1."""
        if self.attention_mode(model) == "batch":
            return max(1, self.tp // self.head_shards(model))
        return 1

    def attention_dp_ranks(self, model: ModelSpec) -> int:
        """Attention data-parallel ranks, each with its own scheduler: the batch shards when
        `attention: batch` is set explicitly (the engines' DP attention), else 1 (batch
        sharding chosen by `auto` for tp above the KV heads is one scheduler).
        DeepSeek-R1 (K = 1) at tp 8, attention: batch: 8; the same under auto: 1."""
        return self.kv_batch_shards(model) if self.attention == "batch" else 1


def check_layout(model: ModelSpec, chip: ChipSpec, layout: Layout, chips: int) -> None:
    """Raise `InferplanError` for an impossible layout, saying why and what would work:
    `check_degrees`, then the model's heads, layers and experts against the degrees
    (Megatron's rules; Pope et al.'s 2D layouts need less, see `partitioning`)."""
    check_degrees(chip, layout, chips)
    N, K = model.num_heads, model.num_kv_heads
    if N % layout.tp:
        raise InferplanError("parallelism.tp", layout.tp,
                             f"must divide the {N} attention heads of {model.name}")
    if layout.tp < K and K % layout.tp:
        raise InferplanError("parallelism.tp", layout.tp,
                             f"must divide the {K} KV heads of {model.name} "
                             f"(or be a multiple of {K}, replicating or batch-sharding KV)")
    if layout.tp > K and layout.tp % K:
        raise InferplanError("parallelism.tp", layout.tp,
                             f"above the {K} KV heads of {model.name}, "
                             f"tp must be a multiple of {K}")
    if layout.pp > model.num_layers:
        raise InferplanError("parallelism.pp", layout.pp,
                             f"{model.name} has only {model.num_layers} layers to split")
    if layout.ep > 1:
        if model.moe is None:
            raise InferplanError("parallelism.ep", layout.ep,
                                 f"{model.name} has no experts; use ep: 1")
        group = layout.tp * layout.dp
        if group % layout.ep:
            raise InferplanError("parallelism.ep", layout.ep,
                                 f"must divide tp*dp = {group} (experts are spread over the "
                                 "tensor- and data-parallel ranks)")
        if layout.ep % layout.tp and layout.tp % layout.ep:
            raise InferplanError("parallelism.ep", layout.ep,
                                 f"must divide tp={layout.tp} or be a multiple of it")
        if model.moe.num_experts % layout.ep:
            raise InferplanError("parallelism.ep", layout.ep,
                                 f"must divide the {model.moe.num_experts} experts")


def check_degrees(chip: ChipSpec, layout: Layout, chips: int) -> None:
    """Raise `InferplanError` unless the degrees are positive, the layout is known, and
    tp·pp·dp fills the devices (on chips built of cores, a replica fuses a divisor of a
    chip's cores or whole chips). Every `Deployment` holds to this on construction."""
    for name in ("tp", "pp", "dp", "ep"):
        value = getattr(layout, name)
        if not isinstance(value, int) or value < 1:
            raise InferplanError(f"parallelism.{name}", value, "must be a positive integer")
    if layout.layout not in LAYOUTS:
        raise InferplanError("parallelism.layout", layout.layout, f"allowed: {', '.join(LAYOUTS)}")
    cores = chip.cores_per_chip
    devices = chips * cores
    if layout.devices != devices:
        unit = f"{chip.core_name or 'core'}s ({chips} chips x {cores})" if cores > 1 else "chips"
        raise InferplanError(
            "parallelism", f"tp={layout.tp} pp={layout.pp} dp={layout.dp}",
            f"tp*pp*dp = {layout.devices} must equal the {devices} {unit}")
    if cores > 1 and layout.model_parallel % cores and cores % layout.model_parallel:
        raise InferplanError(
            "parallelism.tp", layout.tp,
            f"on {chip.name} a replica must fuse a divisor of {cores} {chip.core_name or 'core'}s "
            f"or whole chips (multiples of {cores})")
