"""Achievable fractions of peak and kernel overheads for `efficiency: realistic`, read from
`data/efficiency.yaml`.

Ceilings (MAMF, HBM, links) are measurements (row ids of measured_dev.csv) or stated
defaults; the `kernels` section is fitted by `benchmarks/fit_realistic.py` and says so.
`ideal` uses peak rates, perfect overlap and no overheads.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from inferplan.deployment import Deployment
from inferplan.hardware import ChipSpec
from inferplan.units import dtype_bytes


@dataclass(frozen=True)
class Efficiency:
    """What a deployment achieves: FLOP/s of the matmuls and of attention, bandwidth of
    memory-bound kernels, link bandwidth, and fixed costs per layer, collective and step."""

    matmul_flops_per_s: float
    attention_flops_per_s: float
    memory_bytes_per_s: float
    interconnect: float = 1.0
    gemm_overlap_loss: float = 0.0
    per_layer_overhead_s: float = 0.0
    per_collective_overhead_s: float = 0.0
    per_step_overhead_s: float = 0.0


@cache
def efficiency_table() -> dict[str, Any]:
    text = (resources.files("inferplan") / "data" / "efficiency.yaml").read_text("utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
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


def matmul_rate(chip: ChipSpec, dtype: str, table: dict[str, Any]) -> float:
    """Layer-GEMM FLOP/s: peak · MAMF ceiling · engine fraction of the ceiling.

    H100 SXM fp8: 1.979e15 · 0.709 · 0.65 = 9.12e14 FLOP/s.
    """
    kernels = table["kernels"]["gemm_fraction_of_ceiling"]
    fraction = float(kernels.get(dtype, kernels["default"]))
    return chip.flops_per_s(dtype) * _lookup(table["compute"], chip.name, dtype) * fraction


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


def efficiency_for(deployment: Deployment) -> Efficiency:
    """Rates of one device (a chip, or one core of a chip built of cores: RNGD's PE has
    1/8 of its FLOP/s and bandwidth, times `core_fusion_fraction` when the tp group fuses
    several) and overheads (ideal: peak rates, no overheads).

    A100 80GB SXM bf16: matmul 3.12e14 · 0.869 · 0.90 = 2.44e14 FLOP/s; memory-bound
    kernels 2.039e12 · 0.85 = 1.73e12 B/s; links 0.88; 80 µs per layer.
    """
    chip, compute = deployment.chip, deployment.dtypes.compute
    share = 1.0 / chip.cores_per_chip      # a device is one core on chips built of cores
    if deployment.efficiency == "ideal":
        peak = chip.flops_per_s(compute) * share
        return Efficiency(matmul_flops_per_s=peak, attention_flops_per_s=peak,
                          memory_bytes_per_s=chip.memory_bandwidth_bytes_per_s * share)
    table = efficiency_table()
    share *= core_fusion_fraction(deployment, table)
    k = table["kernels"]
    att_dtype = attention_dtype(chip, compute, int(k["attention_dtype_bits"]))
    return Efficiency(
        matmul_flops_per_s=matmul_rate(chip, compute, table) * share,
        attention_flops_per_s=matmul_rate(chip, att_dtype, table) * share,
        memory_bytes_per_s=chip.memory_bandwidth_bytes_per_s * share
        * _lookup(table["memory_bandwidth"], chip.name),
        interconnect=_lookup(table["interconnect"], chip.name),
        gemm_overlap_loss=float(k["gemm_overlap_loss"]),
        per_layer_overhead_s=float(k["per_layer_overhead_s"]),
        per_collective_overhead_s=float(k["per_collective_overhead_s"]),
        per_step_overhead_s=float(k["per_step_overhead_s"]))
