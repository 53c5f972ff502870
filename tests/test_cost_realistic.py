"""The realistic step cost: each rate and overhead from data/efficiency.yaml and the
generic engine profile (data/engines/generic.yaml), applied where the docstrings say,
checked against hand arithmetic."""

from __future__ import annotations

import numpy as np
import pytest
from tests.conftest import make

from inferplan.cost import step_cost
from inferplan.efficiency import efficiency_for, efficiency_table
from inferplan.engines import engine_profile

GENERIC = engine_profile("generic").ops_for("h100-sxm")
KERNELS = {"gemm_fraction_of_ceiling": GENERIC.gemm_fraction_of_ceiling,
           "gemm_overlap_loss": GENERIC.gemm_overlap_loss,
           "per_layer_overhead_s": GENERIC.per_layer_s,
           "per_collective_overhead_s": GENERIC.per_collective_s,
           "per_step_overhead_s": GENERIC.per_step_s}


def h100(**kw: object) -> object:
    return make(model="llama-2-7b", hardware="h100-sxm", chips=1,
                dtypes={"weights": "fp8", "kv": "fp8", "compute": "fp8"}, **kw)[0]


def test_rates_are_ceiling_times_engine_fraction() -> None:
    dep = h100()
    eff = efficiency_for(dep)  # type: ignore[arg-type]
    table = efficiency_table()
    mamf_fp8 = table["compute"]["h100-sxm"]["fp8"]
    mamf_bf16 = table["compute"]["h100-sxm"]["bf16"]
    assert eff.matmul_flops_per_s == pytest.approx(
        1.979e15 * mamf_fp8 * KERNELS["gemm_fraction_of_ceiling"]["fp8"], rel=1e-3)
    # attention math runs at the 16-bit rate though the projections are fp8
    assert eff.attention_flops_per_s == pytest.approx(
        9.89e14 * mamf_bf16 * KERNELS["gemm_fraction_of_ceiling"]["default"], rel=1e-3)
    assert eff.memory_bytes_per_s == pytest.approx(
        3.35e12 * table["memory_bandwidth"]["h100-sxm"], rel=1e-3)


def test_overhead_is_per_layer_plus_per_step() -> None:
    dep = h100()
    c = step_cost(dep, "decode", 1, 1, 100)  # type: ignore[arg-type]
    want = 32 * KERNELS["per_layer_overhead_s"] + KERNELS["per_step_overhead_s"]
    assert float(c.overhead_s) == pytest.approx(want)


def test_gemm_exposes_part_of_the_shorter_term() -> None:
    """Decode at batch 1 is weight-streaming bound: the exposed compute is overlap_loss ×
    the matmul FLOP time; weights are exposed in full."""
    dep = h100()
    eff = efficiency_for(dep)  # type: ignore[arg-type]
    c = step_cost(dep, "decode", 1, 1, 0)  # type: ignore[arg-type]
    assert float(c.weights_s) == pytest.approx(float(c.weight_bytes) / eff.memory_bytes_per_s)
    mm_flops = float(c.flops) - 4 * 32 * 128 * 32 * 1  # minus one position of attention
    assert float(c.compute_s) == pytest.approx(
        KERNELS["gemm_overlap_loss"] * mm_flops / eff.matmul_flops_per_s, rel=1e-6)


def test_collectives_pay_a_fixed_launch_cost() -> None:
    """Each of TP's 2L+1 collectives pays per_collective_overhead_s on top of α–β."""
    base = make(model="llama-2-70b", hardware="h100-sxm", chips=4,
                parallelism={"tp": 4, "layout": "megatron"})[0]
    c = step_cost(base, "decode", 1, 1, 100)
    assert float(c.communication_s) > (2 * 80 + 1) * KERNELS["per_collective_overhead_s"]


def test_realistic_is_never_faster_than_ideal() -> None:
    for model, chip, chips in (("llama-3.1-8b", "a100-80gb-sxm", 1),
                               ("llama-3.1-70b", "h100-sxm", 8),
                               ("mixtral-8x7b", "tpu-v5e", 8)):
        real = make(model=model, hardware=chip, chips=chips, efficiency="realistic",
                    parallelism={"tp": chips})[0]
        ideal = make(model=model, hardware=chip, chips=chips, efficiency="ideal",
                     parallelism={"tp": chips})[0]
        for q, kv in ((1, 2048), (2048, 0), (512, 4096)):
            B = np.array([1, 8, 64])
            assert np.all(step_cost(real, "prefill", B, q, kv).latency_s
                          > step_cost(ideal, "prefill", B, q, kv).latency_s)
