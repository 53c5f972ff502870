"""Serving metrics: static batching, closed-loop concurrency, and the estimate contract."""

from __future__ import annotations

import pytest
from tests.conftest import make

from inferplan.serving import estimate, estimate_dict

BOOK = "tpu-v5e-scaling-book"


def test_static_batch_seed_a22_a23_decode_of_512_tokens() -> None:
    dep, wl = make(model="llama-3.1-70b", hardware=BOOK, chips=16, topology="4x4",
                   parallelism={"tp": 16}, dtypes={"weights": "bf16", "kv": "bf16"},
                   efficiency="ideal",
                   workload={"input_len": 7680, "output_len": 513, "batch": 41})
    est = estimate(dep, wl)
    # Seed: 19 ms per step at full HBM, "about 9 s" for 512 tokens (10 s with 19.5 ms).
    assert est.tpot_s * 512 == pytest.approx(9.7, rel=0.05)
    assert est.e2e_latency_s == pytest.approx(est.ttft_s + 512 * est.tpot_s)
    assert est.output_tokens_per_s == pytest.approx(41 * 513 / est.e2e_latency_s)


def test_throughput_per_chip_and_cost() -> None:
    dep, wl = make(model="llama-3.1-70b", hardware=BOOK, chips=8, topology="4x2",
                   parallelism={"tp": 8}, dtypes={"weights": "int8", "kv": "int8"},
                   efficiency="ideal",
                   workload={"input_len": 8192, "output_len": 512, "batch": 32})
    est = estimate(dep, wl)
    assert est.output_tokens_per_s_per_chip == pytest.approx(est.output_tokens_per_s / 8)
    usd = est.usd_per_million_output_tokens
    assert usd == pytest.approx(1.2 * 8 / est.output_tokens_per_s * 1e6 / 3600)


def test_concurrency_closed_loop_behaves() -> None:
    def run(c: int) -> tuple[float, float, float]:
        dep, wl = make(model="llama-3.1-8b", hardware="h100-sxm", chips=1,
                       parallelism={"tp": 1},
                       workload={"input_len": 1024, "output_len": 256, "concurrency": c})
        e = estimate(dep, wl)
        return e.output_tokens_per_s, e.tpot_s, e.ttft_s
    low, high = run(4), run(64)
    assert high[0] > low[0]          # more in flight: more tokens/s
    assert high[1] >= low[1]         # ... at a longer step
    assert high[2] >= low[2]


def test_batch_max_uses_the_memory_limit() -> None:
    dep, wl = make(model="llama-3.1-8b", hardware="h100-sxm", chips=1, parallelism={"tp": 1},
                   workload={"input_len": 2048, "output_len": 256, "batch": "max"})
    est = estimate(dep, wl)
    assert est.mode == "max" and est.batch == est.memory.max_batch > 1 and est.fits


def test_estimate_json_contract() -> None:
    dep, wl = make(model="llama-3.1-8b", hardware="h100-sxm", chips=2, parallelism={"tp": 2},
                   workload={"input_len": 512, "output_len": 64, "batch": 8})
    d = estimate_dict(estimate(dep, wl))
    for key in ("fits", "batch", "memory", "ttft_s", "tpot_s", "e2e_latency_s", "prefill",
                "decode", "throughput", "cost"):
        assert key in d
    decode = d["decode"]
    assert isinstance(decode, dict)
    assert set(decode["breakdown_s"]) == {"compute", "weights", "kv", "communication",
                                          "overhead"}
    assert decode["bound"] in decode["breakdown_s"]
    assert sum(decode["breakdown_s"].values()) == pytest.approx(decode["step_latency_s"])


def test_auto_layout_is_reported_per_phase() -> None:
    """The bundled default (LLaMA 3-70B, v5e 4x2, tp=8) leaves the layout to the tool: a
    32×7680-token prefill gathers weights (Pope et al.'s weight-gathered layout), while
    decode keeps the weights still."""
    from tests.conftest import make

    from inferplan.serving import estimate, estimate_dict
    dep, wl = make(model="llama-3.1-70b", hardware="tpu-v5e", chips=8, topology="4x2",
                   parallelism={"tp": 8}, dtypes={"weights": "int8", "kv": "int8"},
                   workload={"input_len": 7680, "output_len": 512, "batch": 32})
    out = estimate_dict(estimate(dep, wl))
    assert out["prefill"]["layout"].startswith("wg_")  # type: ignore[index]
    assert out["decode"]["layout"] in ("ws1d", "ws2d", "megatron")  # type: ignore[index]
    named, _ = make(model="llama-3.1-70b", hardware="tpu-v5e", chips=8, topology="4x2",
                    parallelism={"tp": 8, "layout": "megatron"},
                    dtypes={"weights": "int8", "kv": "int8"},
                    workload={"input_len": 7680, "output_len": 512, "batch": 32})
    fixed = estimate_dict(estimate(named, wl))
    assert fixed["prefill"]["layout"] == "megatron"  # type: ignore[index]
    assert fixed["ttft_s"] >= out["ttft_s"]  # type: ignore[operator]


def test_attention_data_parallel_ranks_each_schedule_their_own_batch() -> None:
    """Attention over 8 batch shards (attention data parallelism) runs 8 schedulers, each
    with the engine's max_num_seqs (TensorRT-LLM's max_batch_size is per rank); tp above
    the KV heads, chosen automatically, is one scheduler."""
    dp8, _ = make(model="deepseek-r1", hardware="b200", chips=8,
                  parallelism={"tp": 8, "attention": "batch"}, engine="trtllm",
                  dtypes={"weights": "fp8", "kv": "fp8", "compute": "fp8"})
    one, _ = make(model="qwen3-32b", hardware="h100-sxm", chips=8, parallelism={"tp": 8},
                  engine="trtllm")
    per_rank = dp8.engine.scheduler.max_num_seqs
    assert dp8.layout.kv_batch_shards(dp8.model) == 8
    assert dp8.max_running_sequences == 8 * per_rank
    assert one.max_running_sequences == per_rank
