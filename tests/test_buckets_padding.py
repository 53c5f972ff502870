"""Padding, the DP, JetStream and vLLM bucket rules; property tests."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inferplan.buckets.costs import flops_cost, step_flops
from inferplan.buckets.cuda_graphs import (
    evaluate_capture_sizes,
    optimise_capture_sizes,
    padded_batch,
    plan_vllm,
    vllm_default_capture_sizes,
)
from inferplan.buckets.dp import optimal_boundaries
from inferplan.buckets.graphs import Graph
from inferplan.buckets.lengths import lengths_from_arrays, lengths_from_records, named_distribution
from inferplan.buckets.padding import DecodeModel, evaluate_padding, prefill_cost_by_length
from inferplan.buckets.xla import (
    JETSTREAM_DEFAULT_PREFILL_BUCKETS,
    evaluate_prefill_buckets,
    optimise_prefill_buckets,
    take_nearest_length,
)
from inferplan.models import catalog_model
from inferplan.units import InferplanError

MODEL = catalog_model("llama-3.1-8b")
COST = flops_cost(MODEL)
SEED_PATHS = [(0, L) for L in (256, 320, 384, 512, 640, 768, 1024)] + [
    (0, 8192), (8192, 16384), (16384, 24576), (24576, 32768)]


def test_step_flops_worked_number() -> None:
    assert MODEL.active_matmul_params == 7_504_658_432
    assert float(step_flops(MODEL, 1, 1024, 1024)) == pytest.approx(1.564e13, rel=1e-3)
    assert float(step_flops(MODEL, 4, 1, 2048)) == pytest.approx(
        4 * float(MODEL.decode_flops_per_token(2048)))


def test_prefill_path_pads_the_last_chunk() -> None:
    cost, top = prefill_cost_by_length(SEED_PATHS, np.array([300, 5000, 20000, 40000]), COST)
    assert list(top[:3]) == [320, 8192, 24576]
    assert cost[2] == pytest.approx(float(MODEL.prefill_flops(24576)), rel=1e-9)
    assert np.isinf(cost[3])                                # longer than the chunk limit


def test_padding_report_worked_example() -> None:
    graphs = [Graph("prefill", 1, 0, 512, 1, "prefill", "p"),
              Graph("prefill", 1, 0, 1024, 1, "prefill", "p"),
              Graph("decode", 1, 1023, 1024, 1, "decode", "d")]
    dist = lengths_from_arrays([100, 600], [10, 10])
    rep = evaluate_padding(graphs, dist, DecodeModel((1,), (1.0,), "per_sequence", 1024), COST)
    assert rep.prefill.padded_tokens_per_request == pytest.approx((412 + 424) / 2)
    # decode contexts 101..110 and 601..610, all padded to 1024 keys
    assert rep.decode.padded_keys_per_token == pytest.approx(1024 - (105.5 + 605.5) / 2)
    assert rep.prefill.uncovered_share == 0 and rep.decode.uncovered_share == 0


def test_dp_worked_example() -> None:
    r = optimal_boundaries(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 4.0]), 3)
    assert list(r.best[1:]) == [12.0, 8.0, 7.0] and r.sets[2] == (1, 2)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 4000), min_size=1, max_size=60),
       st.lists(st.integers(1, 4096), min_size=1, max_size=12))
def test_padding_is_never_negative(prompts: list[int], buckets: list[int]) -> None:
    dist = lengths_from_arrays(prompts, [1] * len(prompts))
    graphs = [Graph("prefill", 1, 0, L, 1, "prefill", "p") for L in {*buckets, 4096}]
    graphs.append(Graph("decode", 1, 4096, 4097, 1, "decode", "d"))
    rep = evaluate_padding(graphs, dist, DecodeModel((1,), (1.0,), "batch_max", 4097), COST)
    assert rep.prefill.padded_tokens_per_request >= 0
    assert rep.prefill.wasted_cost_per_request >= -1e-6 * rep.prefill.useful_cost_per_request
    assert rep.decode.padded_keys_per_token >= -1e-9


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 2048), min_size=1, max_size=80))
def test_more_buckets_never_increase_optimal_padding(prompts: list[int]) -> None:
    dist = lengths_from_arrays(prompts, [1] * len(prompts))
    wastes = [evaluate_prefill_buckets(optimise_prefill_buckets(dist, k, COST, 2048, False, 64,
                                                                add_bos=False),
                                       dist, COST, add_bos=False).wasted_cost_per_request
              for k in range(1, 8)]
    assert all(b <= a * (1 + 1e-9) + 1e-3 for a, b in itertools.pairwise(wastes))


def test_jetstream_take_nearest_length_and_defaults() -> None:
    assert JETSTREAM_DEFAULT_PREFILL_BUCKETS[0] == 16
    assert JETSTREAM_DEFAULT_PREFILL_BUCKETS[-1] == 32768
    assert list(take_nearest_length((16, 32, 64), [1, 17, 64, 100])) == [16, 32, 64, 64]
    dist = named_distribution("chat")
    default = evaluate_prefill_buckets(JETSTREAM_DEFAULT_PREFILL_BUCKETS, dist, COST)
    best = evaluate_prefill_buckets(optimise_prefill_buckets(dist, 12, COST, 32768), dist, COST)
    assert best.wasted_cost_per_request <= default.wasted_cost_per_request
    assert all(b & (b - 1) == 0 for b in best.buckets)   # powers of two


def test_vllm_default_capture_sizes_by_version() -> None:
    new = vllm_default_capture_sizes(256)
    assert len(new) == 51 and new[:5] == (1, 2, 4, 8, 16) and new[-2:] == (496, 512)
    old = vllm_default_capture_sizes(256, scheme="v0.8")
    assert old == (1, 2, 4, *range(8, 513, 8))
    assert vllm_default_capture_sizes(8) == (1, 2, 4, 8, 16)
    assert max(vllm_default_capture_sizes(256, max_num_batched_tokens=128)) == 128
    assert list(padded_batch((1, 2, 4, 8), [3, 5, 9])) == [4, 8, 9]


def test_vllm_optimised_capture_sizes_pad_less_at_equal_count() -> None:
    batches = np.arange(1, 257)
    res = plan_vllm(256, "v0.11", 0, None, None, None)
    assert len(res.suggested.sizes) == len(res.given.sizes) == 51
    assert res.suggested.padded_slots_per_step < res.given.padded_slots_per_step
    few = evaluate_capture_sizes(optimise_capture_sizes(batches, 4, 256), batches)
    assert few.padded_slots_per_step > res.suggested.padded_slots_per_step


def test_length_records_and_named_distributions() -> None:
    d = lengths_from_records([{"prompt_tokens": "10", "output_tokens": 5},
                              {"prompt_tokens": 20, "output_tokens": "7"}])
    assert list(d.prompt) == [10, 20] and d.context_histogram().sum() == pytest.approx(6.0)
    with pytest.raises(InferplanError, match="prompt column"):
        lengths_from_records([{"x": 1}])
    chat = named_distribution("chat")
    assert chat.requests == 20000 and 500 < np.median(chat.prompt) < 525
    custom = named_distribution("lognormal:prompt_median=2000,max_tokens=8192")
    assert custom.prompt.max() < 8192
    with pytest.raises(InferplanError, match="known"):
        named_distribution("sharegpt")
