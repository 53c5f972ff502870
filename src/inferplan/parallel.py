"""`Layout`: how a deployment splits the model over chips, and whether that is legal.

tp (tensor), pp (pipeline), dp (data/replica), ep (expert) degrees; tp·pp·dp = chips.
On chips built of cores (FuriosaAI RNGD: 8 PEs) tp counts cores, and a replica of
tp ≤ cores_per_chip fuses PEs of one chip (`cores_per_chip` replicas share a chip).

Attention under tp > K (more shards than KV heads) has two options:
- "heads": each shard holds ⌈K/tp⌉ KV heads: the KV cache is replicated tp/K times
  (what vLLM and TensorRT-LLM do).
- "batch": the extra factor tp/K shards the batch instead (Pope et al.'s
  batch-sharded multi-query attention): no replication.
"auto" picks "batch" when tp > K, as Pope et al. do for multi-query models.

Engines' data-parallel attention (SGLang --enable-dp-attention, vLLM --data-parallel-size
with expert parallelism, TensorRT-LLM enable_attention_dp) is `attention_dp` = A > 1: the
tp devices form A ranks, each running attention for its own requests with its own
scheduler, heads split over the tp/A devices of the rank and the attention weights
replicated per rank; the MLP/MoE still spans all tp devices.
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
    #: data-parallel attention ranks inside the tp group (1: none)
    attention_dp: int = 1

    @property
    def model_parallel(self) -> int:
        """Devices (chips or cores) holding one replica: tp·pp."""
        return self.tp * self.pp

    @property
    def devices(self) -> int:
        """tp·pp·dp devices in all."""
        return self.tp * self.pp * self.dp

    def degrees(self) -> str:
        """The degrees as reports print them: "tp=8 pp=1 dp=1", then ep and the
        DP-attention ranks when above 1 ("tp=8 pp=1 dp=1 ep=8 attention_dp=8")."""
        return (f"tp={self.tp} pp={self.pp} dp={self.dp}"
                + (f" ep={self.ep}" if self.ep > 1 else "")
                + (f" attention_dp={self.attention_dp}" if self.attention_dp > 1 else ""))

    @property
    def attention_tp(self) -> int:
        """Devices that split one attention rank's heads: tp/A (tp without DP attention)."""
        return self.tp // self.attention_dp

    def head_shards(self, model: ModelSpec) -> int:
        """Ways the KV heads are split: min(tp/A, K). MiniMax-M2.5 (K = 8) at tp 4 with
        A = 2 DP-attention ranks: 2; without: 4."""
        return min(self.attention_tp, model.num_kv_heads)

    def attention_mode(self, model: ModelSpec) -> Literal["heads", "batch"]:
        """The attention sharding in force ('auto' resolved; DP attention shards the batch)."""
        if self.attention_dp > 1:
            return "batch"
        if self.attention != "auto":
            return self.attention
        return "batch" if self.tp > model.num_kv_heads else "heads"

    def kv_batch_shards(self, model: ModelSpec) -> int:
        """Ways the batch is split for the KV cache: tp/min(tp/A, K) under batch sharding
        (A DP-attention ranks, and tp/A above K shards the batch further), else 1.
        DeepSeek-R1 (K = 1) at tp 8: 8; MiniMax-M2.5 (K = 8) at tp 4, A = 2: 2."""
        if self.attention_mode(model) == "batch":
            return max(1, self.tp // self.head_shards(model))
        return 1

    def attention_dp_ranks(self, model: ModelSpec) -> int:
        """Attention data-parallel ranks, each with its own scheduler: A when set
        (`attention_dp`); else the batch shards when `attention: batch` is set explicitly,
        or 1 (batch sharding chosen by `auto` for tp above the KV heads is one scheduler).
        DeepSeek-R1 (K = 1) at tp 8, attention: batch: 8; the same under auto: 1;
        gpt-oss-120b (K = 8) at tp 4 with attention_dp 4: 4."""
        if self.attention_dp > 1:
            return self.attention_dp
        return self.kv_batch_shards(model) if self.attention == "batch" else 1


def check_layout(model: ModelSpec, chip: ChipSpec, layout: Layout, chips: int) -> None:
    """Raise `InferplanError` for an impossible layout, saying why and what would work:
    `check_degrees`, then the model's heads, layers and experts against the degrees
    (Megatron's rules; Pope et al.'s 2D layouts need less, see `partitioning`)."""
    check_degrees(chip, layout, chips)
    N, K = model.num_heads, model.num_kv_heads
    # the heads split over one attention rank's devices (tp without DP attention)
    name, heads_tp = (("parallelism.tp", layout.tp) if layout.attention_dp == 1
                      else ("parallelism.tp/attention_dp", layout.attention_tp))
    if N % heads_tp:
        raise InferplanError(name, heads_tp,
                             f"must divide the {N} attention heads of {model.name}")
    if heads_tp < K and K % heads_tp:
        raise InferplanError(name, heads_tp,
                             f"must divide the {K} KV heads of {model.name} "
                             f"(or be a multiple of {K}, replicating or batch-sharding KV)")
    if heads_tp > K and heads_tp % K:
        raise InferplanError(name, heads_tp,
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
    for name in ("tp", "pp", "dp", "ep", "attention_dp"):
        value = getattr(layout, name)
        if not isinstance(value, int) or value < 1:
            raise InferplanError(f"parallelism.{name}", value, "must be a positive integer")
    if layout.tp % layout.attention_dp:
        raise InferplanError("parallelism.attention_dp", layout.attention_dp,
                             f"must divide tp={layout.tp} (the ranks split the tp devices)")
    if layout.attention_dp > 1 and layout.attention == "heads":
        raise InferplanError("parallelism.attention", layout.attention,
                             "DP attention (attention_dp > 1) shards the batch; use auto or "
                             "batch")
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
