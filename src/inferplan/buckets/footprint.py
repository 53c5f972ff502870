"""Per-graph footprint on the fused PEs: attention tensors as the compiler lays them out,
the layer's weights, the KV slice, and a risk ranking that separates known from suspected.

Layout read from seed 000's compiler log (Llama-3.1-8B, TP=1, kv16384-b1-attn24576):
query [K, N/K, q, H/64, 64] bf16, key and value [attn, K, H/64, 64] bf16, mask
[q, attn] bool, output like the query; a leading batch axis when b > 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from inferplan.buckets.graphs import Graph
from inferplan.buckets.rules import CompileEvidence, FuriosaRules
from inferplan.hardware import ChipSpec
from inferplan.models import ModelSpec
from inferplan.units import InferplanError, dtype_bytes

RiskLevel = Literal["high", "medium", "low", "unknown"]
RISK_ORDER: dict[str, int] = {"high": 3, "medium": 2, "unknown": 1, "low": 0}


@dataclass(frozen=True)
class TensorSpec:
    """One operator tensor: its shape, dtype and bytes."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    nbytes: int


@dataclass(frozen=True)
class CoreBudget:
    """What one fused device (TP <= 8: min(8, tp) PEs; TP > 8: one chip) offers."""

    fused_pes: int
    devices: int
    sram_bytes: float
    memory_bytes: float
    source: str

    @property
    def sram_per_pe_bytes(self) -> float:
        return self.sram_bytes / self.fused_pes


@dataclass(frozen=True)
class Risk:
    level: RiskLevel
    score: float
    known: str
    suspected: str


@dataclass(frozen=True)
class GraphFootprint:
    """A graph's attention tensors, memory and risk on one fused device."""

    graph: Graph
    tensors: tuple[TensorSpec, ...]
    attention_input_bytes: int
    attention_output_bytes: int
    mask_elements: int
    layer_weight_bytes: float
    kv_slice_bytes: int
    compile_kv_example_bytes: float | None
    memory_bytes: float
    sram_ratio: float
    per_pe_input_bytes: float
    per_pe_sram_ratio: float
    memory_ratio: float
    risk: Risk


@dataclass(frozen=True)
class DeploymentFit:
    """Whole-model weights per fused device against its memory window (bucket-independent)."""

    weight_bytes_per_device: float
    memory_bytes: float

    @property
    def fits(self) -> bool:
        return self.weight_bytes_per_device <= self.memory_bytes


def fused_devices(tp: int, pes_per_chip: int) -> tuple[int, int]:
    """(PEs per fused device, fused devices): TP=1 -> (1, 1); TP=8 -> (8, 1); TP=32 -> (8, 4)."""
    return min(tp, pes_per_chip), max(1, math.ceil(tp / pes_per_chip))


def core_budget(tp: int, rules: FuriosaRules, hardware: str,
                chip: ChipSpec | None = None) -> CoreBudget:
    """SRAM and memory window of the fused device a graph is compiled for.

    RNGD from the compiler's own targets: TP=1 -> 32 MiB SRAM (33,554,432 B) and a
    6,375,342,080 B DRAM window; TP=4 -> 128 MiB and 4 x that window. Other chips:
    SRAM and memory divided evenly over `cores_per_chip`.
    """
    target = rules.compiler_targets.get(hardware)
    if target is not None:
        pes, devices = fused_devices(tp, rules.pe_fusion.pes_per_chip)
        if pes not in target.sram_bytes_by_fused_pes:
            raise InferplanError("tensor_parallel_size", tp, "no compiler target for "
                                 f"{pes} fused PEs")
        return CoreBudget(pes, devices, float(target.sram_bytes_by_fused_pes[pes]),
                          float(pes * target.size_dram_per_pe_bytes), target.source)
    if chip is None or chip.sram_bytes is None:
        raise InferplanError("hardware", hardware, "needs a chip with sram_bytes for footprints")
    pes, devices = fused_devices(tp, chip.cores_per_chip)
    return CoreBudget(pes, devices, chip.sram_bytes / chip.cores_per_chip * pes,
                      chip.core_memory_bytes * pes, f"{chip.name} catalog entry")


def _nbytes(shape: tuple[int, ...], per_element: float) -> int:
    return round(math.prod(shape) * per_element)


def attention_tensors(model: ModelSpec, graph: Graph, devices: int, head_dim_lane: int,
                      mask_bytes: int, activation_dtype: str = "bf16",
                      kv_dtype: str = "bf16") -> tuple[TensorSpec, ...]:
    """Query, key, value, mask and output of the attention operator on one fused device.

    Heads split over `devices` chips (TP > 8). Seed 000 at TP=1: query [8, 4, 8192, 2, 64]
    bf16 = 67,108,864 B; key, value [24576, 8, 2, 64] = 50,331,648 B each; mask
    [8192, 24576] bool = 201,326,592 B; output 67,108,864 B.
    """
    K = max(1, model.num_kv_heads // devices)
    G = model.num_heads // model.num_kv_heads
    H = model.head_dim
    head = (H // head_dim_lane, head_dim_lane) if H % head_dim_lane == 0 else (H,)
    lead = (graph.batch,) if graph.batch > 1 else ()
    q_shape = (*lead, K, G, graph.q, *head)
    kv_shape = (*lead, graph.attn, K, *head)
    mask_shape = (*lead, graph.q, graph.attn)
    act, kvb = dtype_bytes(activation_dtype), dtype_bytes(kv_dtype)
    return (
        TensorSpec("query", q_shape, activation_dtype, _nbytes(q_shape, act)),
        TensorSpec("key", kv_shape, kv_dtype, _nbytes(kv_shape, kvb)),
        TensorSpec("value", kv_shape, kv_dtype, _nbytes(kv_shape, kvb)),
        TensorSpec("mask", mask_shape, "bool", _nbytes(mask_shape, mask_bytes)),
        TensorSpec("output", q_shape, activation_dtype, _nbytes(q_shape, act)),
    )


def layer_weight_bytes(model: ModelSpec, weight_dtype: str) -> float:
    """One transformer layer's weights (blockwise compile builds one block per bucket).

    Llama-3.1-8B bf16: (6,979,584,000 / 32) x 2 = 436,224,000 B.
    """
    return model.layer_params / model.num_layers * dtype_bytes(weight_dtype, "weight_dtype")


def compile_kv_example_bytes(model: ModelSpec, graph: Graph, extra_blocks: int | None,
                             kv_dtype: str, devices: int) -> float | None:
    """2025.x compile-time paged KV input of one layer: (b x attn + 100) blocks of 1 token.

    Llama-3.1-8B bf16, decode (4, 32768): (131,072 + 100) x 4,096 B = 537,280,512 B.
    """
    if extra_blocks is None:
        return None
    per_token = model.kv_elements_per_token_per_layer * dtype_bytes(kv_dtype) / devices
    return (graph.batch * graph.attn + extra_blocks) * per_token


def _evidence_for(evidence: tuple[CompileEvidence, ...], fused: int
                  ) -> tuple[CompileEvidence | None, CompileEvidence | None]:
    """Largest graph known to compile and smallest known to fail on `fused` PEs."""
    same = [e for e in evidence if e.fused_pes == fused]
    ok = [e for e in same if e.outcome == "compiled"]
    bad = [e for e in same if e.outcome == "failed"]
    return (max(ok, key=lambda e: e.mask_elements) if ok else None,
            min(bad, key=lambda e: e.mask_elements) if bad else None)


def risk_limit(rules: FuriosaRules, fused: int) -> int | None:
    """Largest b x q x attn known to compile on `fused` PEs (TP=1: 134,217,728), or None."""
    good, _ = _evidence_for(rules.compile_evidence, fused)
    return good.mask_elements if good else None


def assess_risk(mask_elements: int, memory_ratio: float, per_pe_sram_ratio: float,
                budget: CoreBudget, rules: FuriosaRules) -> Risk:
    """Risk of one graph from the evidence table, stating what is known and what suspected.

    score = b·q·attn / (largest b·q·attn known to compile on as many fused PEs); seed 000
    at TP=1: kv16384-b1-attn24576 -> 201,326,592 / 134,217,728 = 1.5 ("high": that size
    failed); kv8192-b1-attn16384 -> 1.0 ("low").
    """
    good, bad = _evidence_for(rules.compile_evidence, budget.fused_pes)
    score = mask_elements / good.mask_elements if good else per_pe_sram_ratio
    known = (f"b*q*attn = {mask_elements:,}; attention inputs {per_pe_sram_ratio:.2f}x the "
             f"per-PE SRAM if heads split over {budget.fused_pes} PE(s)")
    if memory_ratio > 1:
        return Risk("high", max(score, memory_ratio), known + f"; needs {memory_ratio:.2f}x "
                    "the fused device's memory window", "the build cannot hold this graph")
    if bad is not None and mask_elements >= bad.mask_elements:
        return Risk("high", score, known + f"; a graph of {bad.mask_elements:,} failed on "
                    f"{budget.fused_pes} PE(s) ({bad.source})",
                    "the attention kernel finds no tiling at this size (the failure's "
                    "mechanism is not documented)")
    if good is None:
        return Risk("unknown", score, known, f"no compile evidence for {budget.fused_pes} "
                    "fused PE(s); ranked by per-PE SRAM ratio")
    if mask_elements > good.mask_elements:
        return Risk("medium", score, known + f"; larger than the largest graph known to "
                    f"compile on {budget.fused_pes} PE(s) ({good.mask_elements:,}, "
                    f"{good.certainty})", "may fail like seed 000's kv16384-b1-attn24576")
    return Risk("low", score, known + f"; within the largest known to compile "
                f"({good.mask_elements:,}, {good.certainty})", "none")


def graph_footprint(model: ModelSpec, graph: Graph, budget: CoreBudget, rules: FuriosaRules,
                    extra_blocks: int | None, activation_dtype: str = "bf16",
                    kv_dtype: str = "bf16", weight_dtype: str = "bf16") -> GraphFootprint:
    """Everything known about one graph's size on its fused device, and its risk."""
    layout = rules.attention_layout
    tensors = attention_tensors(model, graph, budget.devices, layout.head_dim_lane,
                                layout.mask_bytes_per_element, activation_dtype, kv_dtype)
    by = {t.name: t.nbytes for t in tensors}
    inputs = by["query"] + by["key"] + by["value"] + by["mask"]
    kv_slice = by["key"] + by["value"]
    example = compile_kv_example_bytes(model, graph, extra_blocks, kv_dtype, budget.devices)
    weights = layer_weight_bytes(model, weight_dtype) / budget.devices
    memory = weights + by["query"] + by["mask"] + by["output"] + max(kv_slice, example or 0.0)
    split = min(budget.fused_pes, max(1, model.num_kv_heads // budget.devices))
    per_pe = (by["query"] + kv_slice) / split + by["mask"]
    mask_elements = graph.batch * graph.q * graph.attn
    memory_ratio = memory / budget.memory_bytes
    per_pe_ratio = per_pe / budget.sram_per_pe_bytes
    return GraphFootprint(
        graph=graph, tensors=tensors, attention_input_bytes=inputs,
        attention_output_bytes=by["output"], mask_elements=mask_elements,
        layer_weight_bytes=weights, kv_slice_bytes=kv_slice, compile_kv_example_bytes=example,
        memory_bytes=memory, sram_ratio=inputs / budget.sram_bytes,
        per_pe_input_bytes=per_pe, per_pe_sram_ratio=per_pe_ratio, memory_ratio=memory_ratio,
        risk=assess_risk(mask_elements, memory_ratio, per_pe_ratio, budget, rules))


def rank_by_risk(footprints: list[GraphFootprint]) -> list[GraphFootprint]:
    """Highest risk first: by level, then score, then attention input bytes."""
    return sorted(footprints, key=lambda f: (RISK_ORDER[f.risk.level], f.risk.score,
                                             f.attention_input_bytes), reverse=True)


def deployment_fit(model: ModelSpec, budget: CoreBudget, weight_dtype: str) -> DeploymentFit:
    """All weights over the fused devices against one device's window.

    Llama-3.1-8B bf16 at TP=1: 16,060,522,496 B against 6,375,342,080 B: does not fit.
    """
    total = model.parameters * dtype_bytes(weight_dtype, "weight_dtype")
    return DeploymentFit(total / budget.devices, budget.memory_bytes)
