"""Padding priced in step time: a hand-computed linear case, `cost.step_cost` on a chip,
waste >= 0 (property), waste = 0 for exact buckets, and bad input."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inferplan.buckets.config import parse_bucket_config
from inferplan.buckets.costs import FloatArray, StepTimeFn, time_cost
from inferplan.buckets.graphs import Graph, GraphKind
from inferplan.buckets.lengths import lengths_from_arrays, named_distribution
from inferplan.buckets.padding import DecodeModel, Grouping, evaluate_padding
from inferplan.buckets.plan import plan_buckets
from inferplan.buckets.step_time import (
    bucket_deployment,
    bucket_devices,
    cached_tokens,
    deployment_step_time,
)
from inferplan.cost import step_cost
from inferplan.hardware import catalog_chip
from inferplan.models import catalog_model
from inferplan.units import InferplanError
from test_buckets_furiosa import SEED

MODEL = catalog_model("llama-3.1-8b")
RNGD = catalog_chip("rngd")
TAU = 1e-4      # s per new token (prefill, chunk)
KAPPA = 1e-6    # s per attended key slot (decode)
GROUPINGS: tuple[Grouping, ...] = ("batch_max", "per_sequence")


def linear(kind: str, batch: npt.ArrayLike, q: npt.ArrayLike, attn: npt.ArrayLike
           ) -> FloatArray:
    """Prefill/chunk: TAU·b·q; decode: KAPPA·b·attn (time proportional to tokens/keys)."""
    b = np.asarray(batch, dtype=np.float64)
    per = TAU * np.asarray(q, dtype=np.float64) if kind != "decode" else (
        KAPPA * np.asarray(attn, dtype=np.float64))
    return np.asarray(b * per, dtype=np.float64)


def graph(kind: GraphKind, b: int, kv: int, attn: int) -> Graph:
    return Graph(kind, b, kv, attn, 1, "decode" if kind == "decode" else "prefill", "test")


# ---------------------------------------------------------------- hand-computed
def test_linear_step_time_hand_computed() -> None:
    """Prompts 100 and 600 on prefill buckets 512 and 1024: 412 + 424 padded tokens,
    TAU·418 = 41.8 ms wasted per request of TAU·768 = 76.8 ms spent (useful TAU·350).
    Decode contexts 101..110 and 601..610 on (1, 1024): 1024 - 355.5 = 668.5 padded keys,
    KAPPA·668.5 = 668.5 µs wasted per token. Per request: 41.8 + 10·0.6685 = 48.485 ms."""
    graphs = [graph("prefill", 1, 0, 512), graph("prefill", 1, 0, 1024),
              graph("decode", 1, 1023, 1024)]
    dist = lengths_from_arrays([100, 600], [10, 10])
    rep = evaluate_padding(graphs, dist, DecodeModel((1,), (1.0,), "per_sequence", 1024),
                           time_cost(linear))
    assert rep.unit == "s"
    assert rep.prefill.wasted_cost_per_request == pytest.approx(0.0418)
    assert rep.prefill.padded_cost_per_request == pytest.approx(0.0768)
    assert rep.prefill.wasted_fraction == pytest.approx(418 / 768)
    assert rep.decode.wasted_cost_per_token == pytest.approx(668.5e-6)
    assert rep.decode.useful_cost_per_token == pytest.approx(355.5e-6)
    assert rep.wasted_cost_per_request == pytest.approx(0.048485)


def test_linear_time_waste_is_token_waste_times_unit_time_on_the_seed() -> None:
    """On seed 000 and its suggestion: time waste = TAU x padded prompt tokens and
    KAPPA x padded keys per decode token, to 1e-9."""
    r = plan_buckets(parse_bucket_config(SEED), MODEL, step_time=linear)
    assert r.padding is not None and r.time_padding is not None and r.suggestion is not None
    s = r.suggestion
    assert s.time_padding is not None and s.time_baseline is not None
    for flops, time in ((r.padding, r.time_padding), (s.padding, s.time_padding)):
        assert time.prefill.wasted_cost_per_request == pytest.approx(
            TAU * flops.prefill.padded_tokens_per_request, rel=1e-9)
        assert time.decode.wasted_cost_per_token == pytest.approx(
            KAPPA * flops.decode.padded_keys_per_token, rel=1e-9)
    assert r.step_time_source == "caller's step-time model"


# ------------------------------------------------------------ cost.step_cost
def test_a_chip_prices_steps_with_cost_step_cost() -> None:
    """One request (prompt 300, one output token) on seed 000 with RNGD: prefill runs the
    (1, 320) bucket, decode at context 301 the (B, 1024) bucket of each batch size."""
    dist = lengths_from_arrays([300], [1])
    r = plan_buckets(parse_bucket_config(SEED), MODEL, RNGD, dist, optimise=False)
    assert r.time_padding is not None and r.step_time_source is not None
    assert r.step_time_source == "cost.step_cost on rngd, TP=1, realistic"
    dep = bucket_deployment(MODEL, RNGD, 1)
    assert (dep.layout.tp, dep.layout.dp, dep.chips) == (1, 8, 1)
    p = r.time_padding.prefill
    assert p.useful_cost_per_request == pytest.approx(
        float(step_cost(dep, "prefill", 1, 300, 0).latency_s), rel=1e-12)
    assert p.padded_cost_per_request == pytest.approx(
        float(step_cost(dep, "prefill", 1, 320, 0).latency_s), rel=1e-12)
    levels = (1, 4, 8, 16, 32, 64)
    padded = np.mean([float(step_cost(dep, "decode", B, 1, 1023).latency_s) / B
                      for B in levels])
    useful = np.mean([float(step_cost(dep, "decode", B, 1, 300).latency_s) / B
                      for B in levels])
    d = r.time_padding.decode
    assert d.padded_cost_per_token == pytest.approx(padded, rel=1e-9)
    assert d.useful_cost_per_token == pytest.approx(useful, rel=1e-9)
    assert 0 < d.wasted_cost_per_token < d.padded_cost_per_token


def test_step_time_maps_graph_shapes_onto_step_cost() -> None:
    dep = bucket_deployment(MODEL, RNGD, 8, efficiency="ideal")
    fn = deployment_step_time(dep)
    assert float(fn("chunk", 1, 8192, 24576)) == float(
        step_cost(dep, "chunk", 1, 8192, 16384).latency_s)
    assert float(fn("append", 1, 1024, 4096)) == float(fn("chunk", 1, 1024, 4096))
    assert list(cached_tokens([1, 8192], [8192, 24576])) == [8191, 16384]
    assert bucket_devices(1, RNGD) == (1, 8) and bucket_devices(32, RNGD) == (4, 1)
    assert bucket_devices(4, catalog_chip("h100-sxm")) == (4, 1)
    real = bucket_deployment(MODEL, RNGD, 8)
    assert float(deployment_step_time(real)("decode", 4, 1, 8192)) == float(
        step_cost(real, "decode", 4, 1, 8191).latency_s)


# ------------------------------------------------------------------ properties
FNS: dict[str, StepTimeFn] = {
    "rngd-tp8-realistic": deployment_step_time(bucket_deployment(MODEL, RNGD, 8)),
    "h100-tp4-ideal": deployment_step_time(bucket_deployment(
        MODEL, catalog_chip("h100-sxm"), 4, efficiency="ideal")),
    "linear": linear,
}


@settings(max_examples=40, deadline=None)
@given(prompts=st.lists(st.integers(1, 3000), min_size=1, max_size=40),
       outputs=st.lists(st.integers(1, 600), min_size=40, max_size=40),
       prefill=st.lists(st.integers(1, 4096), max_size=8),
       decode=st.lists(st.tuples(st.sampled_from([1, 2, 4, 8, 16]), st.integers(2, 4096)),
                       max_size=10),
       levels=st.sets(st.sampled_from([1, 3, 4, 8, 16]), min_size=1),
       grouping=st.sampled_from(GROUPINGS),
       fn=st.sampled_from(sorted(FNS)))
def test_time_waste_is_never_negative(prompts: list[int], outputs: list[int],
                                      prefill: list[int], decode: list[tuple[int, int]],
                                      levels: set[int], grouping: Grouping, fn: str) -> None:
    dist = lengths_from_arrays(prompts, outputs[: len(prompts)])
    graphs = [graph("prefill", 1, 0, L) for L in {*prefill, 1024}]
    graphs += [graph("chunk", 1, 1024, 2048), graph("chunk", 1, 2048, 3072)]
    graphs += [graph("decode", b, L - 1, L) for b, L in {*decode, (1, 4096)}]
    lv = tuple(sorted(levels))
    dm = DecodeModel(lv, tuple(1 / len(lv) for _ in lv), grouping, 16 * 4096)
    rep = evaluate_padding(graphs, dist, dm, time_cost(FNS[fn]))
    assert rep.prefill.wasted_cost_per_request >= -1e-9 * rep.prefill.useful_cost_per_request
    for level in rep.decode.levels:
        assert level.wasted_cost_per_token >= -1e-9 * level.useful_cost_per_token
    assert 0 <= rep.wasted_fraction < 1


@pytest.mark.parametrize("grouping", GROUPINGS)
@pytest.mark.parametrize("fn", sorted(FNS))
def test_exact_buckets_waste_nothing(grouping: Grouping, fn: str) -> None:
    """A prefill bucket at every prompt length and a decode bucket (B, t) for every context
    t and batch size B: no waste (batch_max at B = 1 only, where a step has one context)."""
    dist = lengths_from_arrays([5, 17, 40, 40], [3, 8, 2, 30])
    contexts = sorted({int(t) for S, out in zip(dist.prompt, dist.output, strict=True)
                       for t in range(S + 1, S + out + 1)})
    levels = (1,) if grouping == "batch_max" else (1, 4)
    graphs = [graph("prefill", 1, 0, int(S)) for S in set(dist.prompt.tolist())]
    graphs += [graph("decode", B, t - 1, t) for B in levels for t in contexts]
    dm = DecodeModel(levels, tuple(1 / len(levels) for _ in levels), grouping, 10**6)
    rep = evaluate_padding(graphs, dist, dm, time_cost(FNS[fn]))
    assert rep.prefill.padded_tokens_per_request == 0
    assert abs(rep.prefill.wasted_cost_per_request) <= 1e-12 * rep.prefill.useful_cost_per_request
    assert abs(rep.decode.wasted_cost_per_token) <= 1e-12 * rep.decode.useful_cost_per_token


# ------------------------------------------------------------------- bad input
def test_bad_input_names_the_field() -> None:
    cfg = parse_bucket_config(SEED)
    with pytest.raises(InferplanError, match="objective"):
        plan_buckets(cfg, MODEL, objective="time")              # no chip, no step_time
    with pytest.raises(InferplanError, match="activation_dtype"):
        bucket_deployment(MODEL, RNGD, 1, compute="fp4")
    with pytest.raises(InferplanError, match="tp"):
        bucket_deployment(MODEL, RNGD, 3)
    with pytest.raises(InferplanError, match="kind"):
        deployment_step_time(bucket_deployment(MODEL, RNGD, 8))("spec", 1, 1, 8)
    with pytest.raises(InferplanError, match="attn"):
        cached_tokens(8, 4)
    with pytest.raises(InferplanError, match="efficiency"):
        parse_bucket_config({**SEED, "efficiency": "optimistic"})
    with pytest.raises(InferplanError, match="objective"):
        parse_bucket_config({**SEED, "objective": "latency"})


def test_ideal_is_faster_than_realistic() -> None:
    dist = named_distribution("chat")
    raw = {**SEED, "tensor_parallel_size": 8}
    real = plan_buckets(parse_bucket_config(raw), MODEL, RNGD, dist, optimise=False)
    ideal = plan_buckets(parse_bucket_config({**raw, "efficiency": "ideal"}), MODEL, RNGD,
                         dist, optimise=False)
    assert real.time_padding is not None and ideal.time_padding is not None
    assert (ideal.time_padding.padded_cost_per_request
            < real.time_padding.padded_cost_per_request)
