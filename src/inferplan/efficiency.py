"""Achievable rates and fixed costs of one device under `efficiency: realistic`: the
deployment's engine profile (`data/engines/*.yaml`, op costs per chip) over the measured
ceilings of `data/efficiency.yaml` (MAMF, HBM, links; row ids of measured_dev.csv).

An engine with op tables states its GEMM, attention and elementwise rates as fractions of
the datasheet peak and its fixed costs per kernel and per collective call; the `generic`
engine (fitted by `benchmarks/fit_realistic.py`) runs GEMMs at the MAMF ceiling times a
fraction and adds fixed costs per layer and per collective. `ideal` uses peak rates,
perfect overlap and no overheads.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from functools import cache, lru_cache
from importlib import resources
from typing import Any

import numpy as np
import numpy.typing as npt

from inferplan.deployment import Deployment
from inferplan.engines import OpCosts
from inferplan.hardware import ChipSpec
from inferplan.interpolate import log2_interp
from inferplan.rows import DeploymentRows
from inferplan.units import dtype_bytes, parse_bundled_yaml

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Efficiency:
    """What a deployment achieves: FLOP/s of the matmuls and of attention, bandwidth of
    memory-bound kernels, link bandwidth, and fixed costs per layer, collective and step.
    For rows of deployments (`efficiency_for` of a `DeploymentRows`) a number that differs
    between the members is a per-row array (the link efficiency, which follows tp; the
    rates a weight or compute dtype sets)."""

    matmul_flops_per_s: float
    attention_flops_per_s: float
    memory_bytes_per_s: float
    interconnect: float = 1.0
    gemm_overlap_loss: float = 0.0
    per_layer_overhead_s: float = 0.0
    per_collective_overhead_s: float = 0.0
    per_step_overhead_s: float = 0.0
    #: bytes/s of weight streaming in GEMMs (memory-bound kernels' rate when None)
    weight_bytes_per_s: float | None = None
    #: bytes/s of the attention kernels' KV reads (memory-bound kernels' rate when None)
    kv_bytes_per_s: float | None = None
    gemm_fixed_s: float = 0.0                 # per GEMM launch (small-M floor)
    #: the attention projections' GEMM FLOP/s and per-launch cost where they are stored
    #: at their own dtype (`Dtypes.attention`), and the output projection's
    #: (`Dtypes.attention_output`); None: the layer GEMMs' (`cost.attention_gemm_s`)
    attention_gemm_flops_per_s: float | None = None
    attention_gemm_fixed_s: float | None = None
    attention_output_gemm_flops_per_s: float | None = None
    attention_output_gemm_fixed_s: float | None = None
    #: the layer GEMMs' widths at which the compute rate halves (`cost.gemm_shape_factor`;
    #: 0: the matmul rate whatever the shape)
    gemm_n_half: float = 0.0
    gemm_k_half: float = 0.0
    #: a fused MoE layer's fixed cost (None: its two grouped GEMMs pay gemm_fixed_s each)
    moe_fixed_s: float | None = None
    #: bytes/s of the routed experts' weight streaming (None: the GEMMs' weight rate)
    expert_bytes_per_s: float | None = None
    #: the fused MoE op's FLOP/s at full expert width, and the local width at which it
    #: reaches half of that (None: the routed experts compute at the GEMMs' rate)
    expert_flops_per_s: float | None = None
    expert_half_width: float = 0.0
    #: (ep, factor) pairs: the fused MoE op's time at many tokens over ep expert-parallel
    #: ranks under uneven routing, relative to ep = 1 (`cost.expert_ep_imbalance`)
    expert_ep_imbalance: tuple[tuple[int, float], ...] = ()
    attention_fixed_s: float = 0.0            # per attention kernel (one per layer)
    #: a linear-attention layer's prefill kernels: fixed s per prompt step, s per prompt
    #: token and value head (0: by FLOPs at the attention rate)
    linear_attention_fixed_s: float = 0.0
    linear_attention_s_per_token_head: float = 0.0
    #: kernels a linear-attention layer's attention launches in an eager prefill
    #: (`cost.eager_ops_per_layer`; 1: counted as one attention kernel)
    linear_attention_eager_kernels: int = 1
    #: GEMM launches of a linear-attention layer's projections (`cost.attention_gemms_per_layer`)
    linear_attention_gemms: int = 2
    #: operations a sparse (DSA) layer's attention dispatches in an eager prefill, its
    #: indexer's included (`cost.eager_ops_per_layer`; 1: counted as one attention kernel)
    sparse_attention_eager_kernels: int = 1
    #: host seconds per dispatched operation of a step run eagerly (outside CUDA graphs)
    eager_op_host_s: float = 0.0
    #: the largest step (tokens) replayed from CUDA graphs; 0: every step runs eagerly
    graph_max_tokens: float = 0.0
    #: prompt-carrying steps replay graphs too (up to graph_max_tokens)
    prompt_graphs: bool = False
    #: graph_max_tokens counts a step's sequences (decode/verify), not its tokens
    graph_counts_sequences: bool = False
    elementwise_ops_per_layer: int = 0
    elementwise_fixed_s: float = 0.0
    elementwise_bytes_per_s: float = 1.0
    #: per-call latency of a collective over p devices (replaces the link model's α and
    #: `per_collective_overhead_s` when the engine states it); empty: none stated
    collective_latency_s: tuple[tuple[int, float], ...] = ()
    #: measured all-reduce seconds per call: ((p, ((bytes, s), ...)), ...); empty: none
    allreduce_curve_s: tuple[tuple[int, tuple[tuple[float, float], ...]], ...] = ()

    def allreduce_call_s(self, group_size: int, message_bytes: npt.ArrayLike
                         ) -> FloatArray | None:
        """Seconds of one all-reduce of `message_bytes` over `group_size` devices from
        the engine's measured curve: log-log interpolation between its sizes; below the
        smallest, that size's time (the latency floor); above the largest, the last two
        sizes' slope (the bandwidth regime). None when the curve lacks this group size.

        TensorRT-LLM on 8 H100s: 1 MiB 26.0 µs, 1.5 MiB 31.2 µs (between 26.0 and
        35.5 at 2 MiB), where α + ring would give 3.6 + 4.4 µs.
        """
        row = next((r for p, r in reversed(self.allreduce_curve_s) if p == group_size), None)
        if row is None:
            return None
        sizes, times, log_sizes, log_times = _curve_arrays(row)
        V = np.maximum(np.asarray(message_bytes, dtype=np.float64), 1.0)
        inside = np.exp(np.interp(np.log(np.clip(V, sizes[0], sizes[-1])), log_sizes,
                                  log_times))
        slope = (times[-1] - times[-2]) / (sizes[-1] - sizes[-2])
        beyond = times[-1] + (V - sizes[-1]) * slope
        return np.asarray(np.where(sizes[-1] < V, beyond, inside), dtype=np.float64)

    def collective_alpha_s(self, group_size: int | FloatArray) -> float | FloatArray | None:
        """The engine's per-call latency for a group of `group_size` (a number, or an
        array of them), interpolated linearly in log2(p) between stated sizes (clamped
        beyond them); None when the engine states none. vLLM on H200, p = 8: 5.2 µs."""
        if not self.collective_latency_s:
            return None
        return log2_interp(group_size, self.collective_latency_s)


@lru_cache(maxsize=256)
def _curve_arrays(row: tuple[tuple[float, float], ...]
                  ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """A measured curve's message sizes and times and their logs (read-only: shared by
    every call of `Efficiency.allreduce_call_s` on this curve)."""
    sizes = np.asarray([b for b, _ in row], dtype=np.float64)
    times = np.asarray([t for _, t in row], dtype=np.float64)
    out = (sizes, times, np.log(sizes), np.log(times))
    for a in out:
        a.setflags(write=False)
    return out


@cache
def efficiency_table() -> dict[str, Any]:
    text = (resources.files("inferplan") / "data" / "efficiency.yaml").read_text("utf-8")
    data: dict[str, Any] = parse_bundled_yaml(text)
    return data


def _lookup(table: dict[str, Any], chip: str, dtype: str | None = None) -> float:
    entry = table.get(chip)
    if isinstance(entry, dict) and dtype is not None and dtype in entry:
        return float(entry[dtype])
    if isinstance(entry, (int, float)):
        return float(entry)
    return float(table["default"])


def attention_dtype(chip: ChipSpec, compute: str, bits: int) -> str:
    """The dtype attention math runs in: the compute dtype if it is at least `bits` wide,
    else the chip's `bits`-bit float (bf16, else fp16). fp8 on H100 with 16: bf16."""
    if dtype_bytes(compute, "dtypes.compute") * 8 >= bits:
        return compute
    for name in ("bf16", "fp16"):
        if name in chip.peak_flops_per_s:
            return name
    return compute


def core_fusion_fraction(deployment: Deployment, table: dict[str, Any]) -> float:
    """Fraction of the summed rates of the cores a tensor-parallel group fuses that the fused
    device achieves (`core_fusion` in data/efficiency.yaml): 1 for a one-core device and on
    chips not built of cores. RNGD, tp=4 (4 PEs fused): the default, 1.0 (no sourced figure).
    """
    cores = deployment.chip.cores_per_chip
    fused = min(deployment.layout.tp, cores)
    if cores == 1 or fused == 1:
        return 1.0
    section: dict[str, Any] = table.get("core_fusion", {})
    entry = section.get(deployment.chip.name, section.get("default", 1.0))
    if isinstance(entry, dict):
        entry = entry.get(fused, entry.get(str(fused), section.get("default", 1.0)))
    return float(entry)


def _by_dtype(table: dict[str, float], dtype: str) -> float | None:
    """`table[dtype]`, else `table['default']`, else None."""
    return _by_kernel(table, (dtype,))


def expert_kernel(dtype: str, checkpoint_format: str | None,
                  activations: str = "bf16") -> tuple[str, ...]:
    """The keys of an engine's MoE constants that price the experts, most specific first:
    4-bit experts of a checkpoint with a format of its own (`ModelSpec.expert_format`)
    run that format's kernels where the profile measured them (with 8-bit activations,
    `ops.mxfp4_activations` "mxfp8", the kernels keyed "<format>_mxfp8" first), else the
    dtype's. gpt-oss (MXFP4) with fp4 experts: ("mxfp4", "fp4"), under MXFP8 activations
    ("mxfp4_mxfp8", "mxfp4", "fp4"); DeepSeek-R1 NVFP4: ("fp4",)."""
    if dtype != "fp4" or checkpoint_format is None:
        return (dtype,)
    if activations != "bf16":
        return (f"{checkpoint_format}_{activations}", checkpoint_format, dtype)
    return (checkpoint_format, dtype)


def _by_kernel(table: dict[str, float], keys: tuple[str, ...]) -> float | None:
    """The first of `keys` the table holds, else `table['default']`, else None."""
    for key in keys:
        if key in table:
            return table[key]
    return table.get("default")


def matmul_rate_for(chip: ChipSpec, dtype: str, ops: OpCosts,
                    table: dict[str, Any]) -> float:
    """Layer-GEMM FLOP/s of one chip: the engine's `gemm_compute_fraction` of the dense
    peak where it states one, else the MAMF ceiling times `gemm_fraction_of_ceiling`.

    vLLM on H200, fp8: 1.979e15 · 0.70 = 1.385e15 FLOP/s; generic on H100 SXM, fp8:
    1.979e15 · 0.709 · 0.65 = 9.12e14 FLOP/s.
    """
    fraction = _by_dtype(ops.gemm_compute_fraction, dtype)
    if fraction is not None:
        return chip.flops_per_s(dtype) * fraction
    of_ceiling = _by_dtype(ops.gemm_fraction_of_ceiling, dtype) or 1.0
    return chip.flops_per_s(dtype) * _lookup(table["compute"], chip.name, dtype) * of_ceiling


def link_efficiency_for(ops: OpCosts, group_size: int, fallback: float) -> float:
    """Large-message link efficiency of a collective over `group_size` devices: the
    engine's per-p figure (interpolated in log2 p, clamped), else its one figure, else
    `fallback`. Capped at 1: the tables' p = 8 figure on NVSwitch is above the ring bound
    (the switch reduces in place, NVLS), which the ring model cannot express beyond full
    link rate. vLLM on H200: p = 2 0.75, p = 4 0.79, p = 8 1.1 → 1.0."""
    if ops.link_efficiency_by_p:
        value = log2_interp(group_size, sorted(ops.link_efficiency_by_p.items()))
        return min(float(value), 1.0)
    return ops.link_efficiency if ops.link_efficiency is not None else fallback


def efficiency_for(deployment: Deployment | DeploymentRows) -> Efficiency:
    """Rates of one device (a chip, or one core of a chip built of cores: RNGD's PE has
    1/8 of its FLOP/s and bandwidth, times `core_fusion_fraction` when the tp group fuses
    several) and fixed costs, from the deployment's engine profile (ideal: peak rates, no
    overheads).

    A100 80GB SXM bf16, generic engine: matmul 3.12e14 · 0.869 · 0.90 = 2.44e14 FLOP/s;
    memory-bound kernels 2.039e12 · 0.85 = 1.73e12 B/s; links 0.88; 80 µs per layer.
    Rows of deployments: the members' rates, a number that differs between them per row
    (`rows_efficiency`).
    """
    if isinstance(deployment, DeploymentRows):
        return rows_efficiency(deployment)
    chip, compute = deployment.chip, deployment.dtypes.compute
    share = 1.0 / chip.cores_per_chip      # a device is one core on chips built of cores
    if deployment.efficiency == "ideal":
        peak = chip.flops_per_s(compute) * share
        dt = deployment.dtypes
        own: dict[str, Any] = {f"{name}_gemm_flops_per_s": chip.flops_per_s(gemm) * share
                               for name, _, gemm in dt.attention_gemms}
        return replace(Efficiency(matmul_flops_per_s=peak, attention_flops_per_s=peak,
                                  memory_bytes_per_s=chip.memory_bandwidth_bytes_per_s * share),
                       **own)
    return _realistic_efficiency(_RatesKey(deployment))


def rows_efficiency(rows: DeploymentRows) -> Efficiency:
    """The `Efficiency` of rows of deployments: each member's (`efficiency_for`), with
    every number that differs between members as a per-row array gathered by the rows'
    index; a difference that is not a number (a curve, a flag, a rate one member states
    and another lacks: `missing_rates`) is an error (such deployments are not rows of one
    family). vLLM on H200 at tp 2 and 8: interconnect [[0.75], [1.0]] over rows
    [[0], [1]], every other rate one number."""
    first, varying = rows.once(("rows_efficiency",), lambda: _member_rates(rows))
    if not varying:
        return first

    def build() -> Efficiency:
        per_row: dict[str, Any] = {name: np.asarray(values[rows.index], dtype=np.float64)
                                   for name, values in varying.items()}
        return replace(first, **per_row)
    return rows.per_rows("rows_efficiency", build)


def _member_rates(rows: DeploymentRows) -> tuple[Efficiency, dict[str, FloatArray]]:
    """The first member's `Efficiency` and, per field that differs, every member's value.
    Members share chip and engine, so their rates differ at most by tp and the weight,
    expert and compute dtypes (`_RatesKey`; the KV dtype sets none of them): one
    `efficiency_for` per such combination, compared and spread over the members once
    per combination."""
    by_rates: dict[tuple[object, ...], int] = {}   # (tp, dtypes) -> its place in `effs`
    effs: list[Efficiency] = []
    code = []                               # each member's place in `effs`
    for m in rows.members:
        dt = m.dtypes
        rates = (m.layout.tp, dt.weights, dt.compute, dt.experts, dt.attention,
                 dt.attention_output)
        if rates not in by_rates:
            by_rates[rates] = len(effs)
            effs.append(efficiency_for(m))
        code.append(by_rates[rates])
    first = effs[code[0]]
    varying: dict[str, FloatArray] = {}
    if all(e is first or e == first for e in effs):
        return first, varying
    for f in fields(Efficiency):
        values = [getattr(e, f.name) for e in effs]
        if all(v == values[0] for v in values[1:]):
            continue
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            raise ValueError(f"rows of deployments differ in {f.name}, which is not a number")
        varying[f.name] = np.asarray(values, dtype=np.float64)[np.asarray(code, dtype=np.intp)]
    return first, varying


def _own_attention_rates(deployment: Deployment, ops: OpCosts, table: dict[str, Any],
                         share: float) -> dict[str, Any]:
    """The attention projections' GEMM rate and per-launch cost at their own storage
    dtypes (`Efficiency.attention_gemm_*`), as the layer GEMMs' are at the weights': the
    rate at `projection_compute`, the fixed cost by storage dtype. Empty where the
    deployment stores them as the weights. TensorRT-LLM on B200, fp4 weights with bf16
    attention: bf16 GEMMs at 0.69 of 2.25e15 = 1.5525e15 FLOP/s and 3.34 µs a launch
    (fp4: 5.49e15 FLOP/s, 12.4 µs)."""
    out: dict[str, Any] = {}
    for name, storage, gemm in deployment.dtypes.attention_gemms:
        out[f"{name}_gemm_flops_per_s"] = matmul_rate_for(deployment.chip, gemm, ops,
                                                          table) * share
        out[f"{name}_gemm_fixed_s"] = _by_dtype(ops.gemm_fixed_s, storage) or 0.0
    return out


#: The rates an `Efficiency` may lack (None), each with its formula's fallback.
OPTIONAL_RATES = ("weight_bytes_per_s", "kv_bytes_per_s", "moe_fixed_s",
                  "expert_bytes_per_s", "expert_flops_per_s", "attention_gemm_flops_per_s",
                  "attention_gemm_fixed_s", "attention_output_gemm_flops_per_s",
                  "attention_output_gemm_fixed_s")


def missing_rates(deployment: Deployment) -> tuple[str, ...]:
    """The `OPTIONAL_RATES` the deployment's `Efficiency` lacks: deployments that lack
    the same ones may be rows of one family whatever their dtypes (`rows_efficiency`
    spreads the rates they state per row). TensorRT-LLM on H100: bf16 and fp8 weights
    lack the four attention-GEMM rates only (set where the attention has its own dtype),
    int4 also the three MoE rates (its MoE table states no int4)."""
    eff = efficiency_for(deployment)
    return tuple(name for name in OPTIONAL_RATES if getattr(eff, name) is None)


class CacheKey:
    """A cache key that carries the objects an entry is built from: hashed and compared
    on its `key` tuple alone (hash computed once), keys of another class never equal.
    Subclasses set `key` and `_hash` in `__init__`."""

    __slots__ = ()
    key: tuple[object, ...]
    _hash: int

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.key == other.key


class _RatesKey(CacheKey):
    """What a realistic `Efficiency` depends on: the chip (by identity: a `ChipSpec` has
    dict fields and no hash; the key holds its deployment, so the chip outlives the
    cached entry and its id is not reused), the efficiency table (by identity, held
    likewise: `efficiency_table()`, read once), the engine profile (by identity, held
    likewise: a search resolves each engine once, and a profile's hash walks its
    scheduler's fields), the dtypes, tp and the model's expert format (an MXFP4
    checkpoint's experts may have constants of their own, `expert_kernel`). Every
    deployment of one chip, engine, dtypes, tp and expert format shares one key, whatever
    else its model is, and its pp, dp or topology: a fleet search of
    100,000 deployments on 9 chips, 3 engines, 3 weight dtypes and 4 tp degrees has at
    most a few hundred."""

    __slots__ = ("_hash", "deployment", "key", "table")

    def __init__(self, deployment: Deployment) -> None:
        self.deployment, self.table = deployment, efficiency_table()
        self.key = (id(deployment.chip), id(self.table), id(deployment.engine),
                    deployment.dtypes, deployment.layout.tp, deployment.model.expert_format)
        self._hash = hash(self.key)


@lru_cache(maxsize=1024)
def _realistic_efficiency(key: _RatesKey) -> Efficiency:
    """`efficiency_for` of a realistic deployment, once per `_RatesKey`."""
    deployment, table = key.deployment, key.table
    chip, compute = deployment.chip, deployment.dtypes.compute
    share = 1.0 / chip.cores_per_chip      # a device is one core on chips built of cores
    share *= core_fusion_fraction(deployment, table)
    engine = deployment.engine
    ops = engine.ops_for(chip.name)
    att_dtype = attention_dtype(chip, compute, ops.attention_dtype_bits)
    hbm = chip.memory_bandwidth_bytes_per_s * share
    memory = hbm * _lookup(table["memory_bandwidth"], chip.name)
    weights_fraction = _by_dtype(ops.gemm_memory_fraction, deployment.dtypes.weights)
    attention_rate = (chip.flops_per_s(att_dtype) * ops.attention_compute_fraction * share
                      if ops.attention_compute_fraction is not None
                      else matmul_rate_for(chip, att_dtype, ops, table) * share)
    graphs = engine.scheduler.cuda_graphs
    widths = ops.gemm_half_width.get(compute, ops.gemm_half_width.get("default", {}))
    latency = ops.allreduce_latency_s.get(engine.scheduler.allreduce if graphs else "nccl", {})
    own = _own_attention_rates(deployment, ops, table, share)
    moe_kernel = expert_kernel(deployment.dtypes.expert_weights, deployment.model.expert_format,
                               ops.mxfp4_activations)
    return replace(Efficiency(
        matmul_flops_per_s=matmul_rate_for(chip, compute, ops, table) * share,
        attention_flops_per_s=attention_rate,
        memory_bytes_per_s=memory,
        interconnect=link_efficiency_for(ops, max(1, deployment.layout.tp // chip.cores_per_chip),
                                         _lookup(table["interconnect"], chip.name)),
        gemm_overlap_loss=ops.gemm_overlap_loss,
        per_layer_overhead_s=ops.per_layer_s,
        per_collective_overhead_s=ops.per_collective_s,
        per_step_overhead_s=ops.per_step_s,
        weight_bytes_per_s=None if weights_fraction is None else hbm * weights_fraction,
        kv_bytes_per_s=(None if ops.attention_memory_fraction is None
                        else hbm * ops.attention_memory_fraction),
        gemm_fixed_s=_by_dtype(ops.gemm_fixed_s, deployment.dtypes.weights) or 0.0,
        gemm_n_half=widths.get("n", 0.0),
        gemm_k_half=widths.get("k", 0.0),
        moe_fixed_s=_by_kernel(ops.moe_fixed_s, moe_kernel),
        expert_bytes_per_s=(None if (frac := _by_kernel(ops.moe_memory_fraction,
                                                        moe_kernel)) is None
                            else hbm * frac),
        expert_flops_per_s=(None if (moe_rate := _by_kernel(
            ops.moe_flops_per_s, moe_kernel)) is None else moe_rate * share),
        expert_half_width=_by_kernel(ops.moe_half_width, moe_kernel) or 0.0,
        expert_ep_imbalance=tuple(sorted(ops.moe_ep_imbalance.items())),
        attention_fixed_s=ops.attention_fixed_s,
        linear_attention_fixed_s=ops.linear_attention_fixed_s,
        linear_attention_s_per_token_head=ops.linear_attention_s_per_token_head,
        linear_attention_eager_kernels=ops.linear_attention_eager_kernels,
        linear_attention_gemms=ops.linear_attention_gemms,
        sparse_attention_eager_kernels=ops.sparse_attention_eager_kernels,
        eager_op_host_s=ops.eager_op_host_s,
        graph_max_tokens=float(engine.scheduler.cuda_graph_max_batch) if graphs else 0.0,
        prompt_graphs=engine.scheduler.prompt_graphs,
        graph_counts_sequences=engine.scheduler.cuda_graph_unit == "sequences",
        elementwise_ops_per_layer=ops.elementwise_ops_per_layer,
        elementwise_fixed_s=ops.elementwise_fixed_s,
        elementwise_bytes_per_s=hbm * ops.elementwise_memory_fraction,
        collective_latency_s=tuple(sorted(latency.items())),
        allreduce_curve_s=tuple(
            (p, tuple(sorted((float(b), t) for b, t in row.items())))
            for p, row in sorted(ops.allreduce_curve_s.get(
                engine.scheduler.allreduce if graphs else "nccl", {}).items()))), **own)
