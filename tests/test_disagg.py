"""Prefill/decode disaggregation: rates of each pool, the ratio, churn, bad input.

Seed 001's goldens (A10, A25, A27, A32–A34) are in tests/test_seed001_latency.py;
these tests pin the conventions and properties.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import make

from inferplan.cost import step_cost
from inferplan.deployment import Deployment
from inferplan.disagg import (
    decode_requests_per_s,
    decode_step_s,
    decode_tokens_per_s,
    kv_tokens_freed_per_step,
    prefill_decode_ratio,
    prefill_requests_per_s,
    prefill_step_s,
    sequences_finished_per_step,
)
from inferplan.serving import estimate
from inferplan.units import InferplanError

BOOK = "tpu-v5e-scaling-book"


def v5e(chips: int = 16, topology: str = "4x4", dtype: str = "bf16", batch: int = 8,
        efficiency: str = "ideal") -> Deployment:
    dep, _ = make(model="llama-3.1-70b", hardware=BOOK, chips=chips, topology=topology,
                  parallelism={"tp": chips}, dtypes={"weights": dtype, "kv": dtype},
                  efficiency=efficiency,
                  workload={"input_len": 2048, "output_len": 128, "batch": batch})
    return dep


@pytest.mark.parametrize("efficiency", ["ideal", "realistic"])
def test_same_conventions_as_a_static_batch_estimate(efficiency: str) -> None:
    dep, wl = make(model="llama-3.1-8b", hardware="h100-sxm", chips=2, parallelism={"tp": 2},
                   efficiency=efficiency,
                   workload={"input_len": 2048, "output_len": 128, "batch": 8})
    est = estimate(dep, wl)
    # TPOT of a static batch = the mean decode step over contexts S..S+n−2; TTFT = one
    # prefill step of the batch.
    assert decode_step_s(dep, 8, 2048, 128) == pytest.approx(est.tpot_s, rel=1e-12)
    assert prefill_step_s(dep, 2048, batch=8) == pytest.approx(est.ttft_s, rel=1e-12)
    assert decode_tokens_per_s(dep, 8, 2048, 128) == pytest.approx(8 / est.tpot_s)


def test_mfu_prefill_is_flops_over_a_fraction_of_peak() -> None:
    dep = v5e()
    flops = float(step_cost(dep, "prefill", 2, 4096, 0).flops)
    assert prefill_step_s(dep, 4096, 2, mfu=0.5) == pytest.approx(flops / (0.5 * 1.97e14))
    # at 100% MFU no faster than the roofline, which also reads memory and communicates
    assert prefill_step_s(dep, 4096, 2, mfu=1.0) <= prefill_step_s(dep, 4096, 2)
    assert prefill_requests_per_s(dep, 4096, 2, mfu=0.5) == pytest.approx(
        2 / prefill_step_s(dep, 4096, 2, mfu=0.5))


def test_ratio_is_the_formula() -> None:
    prefill, decode = v5e(16, "4x4", "bf16"), v5e(8, "4x2", "int8")
    r = prefill_decode_ratio(prefill, decode, 4096, 256, decode_batch=24, prefill_batch=2,
                             prefill_mfu=0.4)
    t_prefill = prefill_step_s(prefill, 4096, 2, mfu=0.4)
    tau = decode_step_s(decode, 24, 4096, 256)
    assert r.prefill_servers_per_decode_server == pytest.approx(
        24 * t_prefill / (2 * 255 * tau), rel=1e-12)
    assert r.decode_requests_per_s == pytest.approx(decode_requests_per_s(decode, 24, 4096,
                                                                          256))
    assert r.prefill_chips_per_decode_chip == pytest.approx(
        r.prefill_servers_per_decode_server * 16 / 8)


@settings(max_examples=25, deadline=None)
@given(batch=st.integers(1, 200), extra=st.integers(1, 200),
       mfu=st.floats(0.05, 0.95))
def test_more_decode_batch_or_slower_prefill_needs_more_prefill_servers(
        batch: int, extra: int, mfu: float) -> None:
    dep = v5e()
    def ratio(b: int, m: float) -> float:
        return prefill_decode_ratio(dep, dep, 2048, 128, b, prefill_mfu=m
                                    ).prefill_servers_per_decode_server
    base = ratio(batch, mfu)
    assert ratio(batch + extra, mfu) >= base * (1 - 1e-12)
    assert ratio(batch, mfu / 2) > base


def test_churn_matches_the_decode_rate() -> None:
    # Finishing B/(n−1) sequences per step of τ is the decode server's request rate.
    dep = v5e()
    tau = decode_step_s(dep, 16, 2048, 128)
    assert sequences_finished_per_step(16, 128) / tau == pytest.approx(
        decode_requests_per_s(dep, 16, 2048, 128))
    assert kv_tokens_freed_per_step(16, 2048, 128) == pytest.approx(16 * (2048 + 128) / 127)
    freed = [kv_tokens_freed_per_step(16, s, 128) for s in (512, 1024, 4096)]
    assert np.all(np.diff(freed) > 0)


@pytest.mark.parametrize(("call", "field"), [
    (lambda d: decode_step_s(d, 8, 2048, 1), "output_len"),
    (lambda d: decode_requests_per_s(d, 0, 2048, 128), "batch"),
    (lambda d: decode_step_s(d, 8, 0, 128), "input_len"),
    (lambda d: prefill_step_s(d, 2048, mfu=0.0), "mfu"),
    (lambda d: prefill_step_s(d, 2048, mfu=1.5), "mfu"),
    (lambda d: prefill_step_s(d, 2048, batch=0), "batch"),
    (lambda d: sequences_finished_per_step(8, 1), "output_len"),
    (lambda d: kv_tokens_freed_per_step(8, 0, 128), "input_len"),
])
def test_bad_input_names_the_field(call: object, field: str) -> None:
    assert callable(call)
    with pytest.raises(InferplanError) as info:
        call(v5e())
    assert info.value.field == field


def test_kv_hand_off_worked_example() -> None:
    """LLaMA 3-70B int8, 8 v5e chips, 8192 tokens: each chip sends its 1/8 of
    8192 · 163,840 B over its DCN share (catalog 3.125e9 B/s, 10 µs)."""
    from tests.conftest import make

    from inferplan.disagg import kv_transfer_s
    dep, _ = make(model="llama-3.1-70b", hardware="tpu-v5e", chips=8, topology="4x2",
                  parallelism={"tp": 8}, dtypes={"weights": "int8", "kv": "int8"})
    shard = 8192 * 163_840 / 8
    nic = dep.chip.scale_out.bandwidth_bytes_per_s_per_direction  # type: ignore[union-attr]
    latency = dep.chip.scale_out.latency_s  # type: ignore[union-attr]
    assert kv_transfer_s(dep, 8192) == pytest.approx(shard / nic + latency, rel=1e-9)
    assert kv_transfer_s(dep, 8192, same_domain=True) < kv_transfer_s(dep, 8192)


def test_disaggregated_pools_per_chip_accounting() -> None:
    """tokens/s/chip = r_d · n / (chips_d + (P/G) · chips_p); TTFT adds the hand-off."""
    from tests.conftest import make

    from inferplan.disagg import disaggregated_serving, kv_transfer_s, prefill_step_s
    dep, _ = make(model="llama-3.1-70b", hardware="tpu-v5e", chips=8, topology="4x2",
                  parallelism={"tp": 8}, dtypes={"weights": "int8", "kv": "int8"})
    out = disaggregated_serving(dep, dep, 8192, 512, 32)
    r = out.ratio
    assert out.output_tokens_per_s_per_chip == pytest.approx(
        r.decode_requests_per_s * 512 / (8 + r.prefill_servers_per_decode_server * 8))
    assert out.ttft_s == pytest.approx(prefill_step_s(dep, 8192) + kv_transfer_s(dep, 8192))
    assert out.to_dict()["prefill_servers_per_decode_server"] > 1
