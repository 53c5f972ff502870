"""Property tests of the memory model (hypothesis)."""

from __future__ import annotations

from hypothesis import assume, given, settings
from hypothesis import strategies as st
from tests.conftest import make

from inferplan.memory import max_batch, memory_breakdown
from inferplan.units import InferplanError

MODELS = ["llama-3.1-8b", "llama-3.1-70b", "mixtral-8x7b", "qwen3-30b-a3b", "deepseek-v3",
          "gemma-2-9b", "palm-62b", "falcon-180b", "gpt-oss-120b"]
DTYPES = ["bf16", "fp8", "int8", "int4"]


@settings(max_examples=60, deadline=None)
@given(model=st.sampled_from(MODELS), dtype=st.sampled_from(DTYPES),
       tp_exp=st.integers(0, 3), grow=st.integers(1, 3),
       input_len=st.integers(1, 32_768), output_len=st.integers(1, 4096))
def test_per_chip_weights_and_kv_never_grow_with_more_chips(
        model: str, dtype: str, tp_exp: int, grow: int, input_len: int, output_len: int
) -> None:
    tp = 2 ** tp_exp
    bigger = tp * 2 ** grow
    wl = {"input_len": input_len, "output_len": output_len, "batch": 8}
    try:
        small, w = make(model=model, hardware="h100-sxm", chips=tp, parallelism={"tp": tp},
                        dtypes={"weights": dtype, "kv": dtype}, workload=wl)
        large, _ = make(model=model, hardware="gb200", chips=bigger,
                        parallelism={"tp": bigger}, dtypes={"weights": dtype, "kv": dtype},
                        workload=wl)
    except InferplanError:
        assume(False)   # tp must divide the heads: such layouts are rejected, not compared
    a, b = memory_breakdown(small, w, 8), memory_breakdown(large, w, 8)
    assert b.weights_bytes_per_chip <= a.weights_bytes_per_chip
    assert float(b.kv_bytes_per_chip) <= float(a.kv_bytes_per_chip)


@settings(max_examples=60, deadline=None)
@given(model=st.sampled_from(MODELS), dtype=st.sampled_from(DTYPES),
       chips=st.sampled_from([1, 2, 4, 8]), batch=st.integers(1, 4096),
       input_len=st.integers(1, 65_536), output_len=st.integers(1, 8192),
       efficiency=st.sampled_from(["ideal", "realistic"]))
def test_fits_iff_max_batch_at_least_batch(model: str, dtype: str, chips: int, batch: int,
                                           input_len: int, output_len: int,
                                           efficiency: str) -> None:
    try:
        dep, wl = make(model=model, hardware="h200-sxm", chips=chips,
                       parallelism={"tp": chips}, dtypes={"weights": dtype, "kv": dtype},
                       efficiency=efficiency,
                       workload={"input_len": input_len, "output_len": output_len,
                                 "batch": batch})
    except InferplanError:
        assume(False)
    fits = bool(memory_breakdown(dep, wl, batch).fits)
    assert fits == (max_batch(dep, wl) >= batch)
