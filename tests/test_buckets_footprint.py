"""Attention-operator tensors, fused-PE budgets and risk ranking (seed 000, section C2)."""

from __future__ import annotations

import pytest

from inferplan.buckets.footprint import (
    attention_tensors,
    compile_kv_example_bytes,
    core_budget,
    deployment_fit,
    fused_devices,
    graph_footprint,
    layer_weight_bytes,
    rank_by_risk,
    risk_limit,
)
from inferplan.buckets.graphs import Graph
from inferplan.buckets.rules import furiosa_rules
from inferplan.hardware import ChipSpec, catalog_chip
from inferplan.models import catalog_model

MODEL = catalog_model("llama-3.1-8b")
RULES = furiosa_rules()
FAILING = Graph("chunk", 1, 16384, 24576, 1, "other", "prefill_chunk_size=8192")


def rngd() -> ChipSpec:
    return catalog_chip("rngd")


def test_seed000_failing_operator_tensors_match_the_compiler_log() -> None:
    q, k, v, mask, out = attention_tensors(MODEL, FAILING, devices=1, head_dim_lane=64,
                                           mask_bytes=1)
    assert (q.shape, q.dtype, q.nbytes) == ((8, 4, 8192, 2, 64), "bf16", 67_108_864)
    assert (k.shape, k.nbytes) == ((24576, 8, 2, 64), 50_331_648)
    assert (v.shape, v.nbytes) == ((24576, 8, 2, 64), 50_331_648)
    assert (mask.shape, mask.dtype, mask.nbytes) == ((8192, 24576), "bool", 201_326_592)
    assert out.shape == q.shape and out.nbytes == 67_108_864
    f = graph_footprint(MODEL, FAILING, core_budget(1, RULES, "rngd"), RULES, 100)
    assert f.attention_input_bytes == 369_098_752
    assert f.attention_output_bytes == 67_108_864
    assert f.sram_ratio == pytest.approx(11.0)           # 352 MiB over 32 MiB


def test_batch_axis_leads_when_b_above_1() -> None:
    g = Graph("decode", 4, 8191, 8192, 1, "decode", "decode_buckets")
    q, k, _, mask, _ = attention_tensors(MODEL, g, 1, 64, 1)
    assert q.shape == (4, 8, 4, 1, 2, 64) and k.shape == (4, 8192, 8, 2, 64)
    assert mask.shape == (4, 1, 8192)


def test_tp_above_8_splits_kv_heads_over_chips() -> None:
    assert fused_devices(32, 8) == (8, 4) and fused_devices(2, 8) == (2, 1)
    q, k, *_ = attention_tensors(MODEL, FAILING, devices=4, head_dim_lane=64, mask_bytes=1)
    assert q.shape[0] == 2 and k.shape == (24576, 2, 2, 64)


def test_compiler_budgets_per_fused_pe_count_agree_with_the_catalog_chip() -> None:
    b1, b4, b8 = (core_budget(tp, RULES, "rngd") for tp in (1, 4, 8))
    assert (b1.sram_bytes, b1.memory_bytes) == (33_554_432, 6_375_342_080)
    assert (b4.fused_pes, b4.sram_bytes, b4.memory_bytes) == (4, 134_217_728, 4 * 6_375_342_080)
    assert b8.sram_bytes == 268_435_456
    chip = rngd()
    from_chip = core_budget(1, RULES, "not-a-compiler-target", chip)
    assert from_chip.sram_bytes == pytest.approx(b1.sram_bytes)
    assert from_chip.memory_bytes == pytest.approx(6e9)   # 48 GB / 8, vs 6.375e9 compiler


def test_failing_graph_ranks_high_and_its_predecessor_low() -> None:
    budget = core_budget(1, RULES, "rngd")
    graphs = [Graph("chunk", 1, kv, kv + 8192, 1, "other", "x") for kv in (0, 8192, 16384,
                                                                           24576)]
    prints = rank_by_risk([graph_footprint(MODEL, g, budget, RULES, 100) for g in graphs])
    assert [(f.graph.name, f.risk.level) for f in prints] == [
        ("kv24576-b1-attn32768", "high"), ("kv16384-b1-attn24576", "high"),
        ("kv8192-b1-attn16384", "low"), ("kv0-b1-attn8192", "low")]
    failing = prints[1].risk
    assert failing.score == pytest.approx(1.5) and "failed" in failing.known
    assert "not documented" in failing.suspected


def test_same_graph_is_within_evidence_at_tp2_and_unknown_risk_without_evidence() -> None:
    f2 = graph_footprint(MODEL, FAILING, core_budget(2, RULES, "rngd"), RULES, 100)
    assert f2.risk.level == "low"                          # TP=2 compiled all 38 graphs
    assert risk_limit(RULES, 1) == 134_217_728 and risk_limit(RULES, 8) == 1_073_741_824


def test_layer_weights_kv_example_and_deployment_fit() -> None:
    assert layer_weight_bytes(MODEL, "bf16") == pytest.approx(436_224_000)
    g = Graph("decode", 4, 32767, 32768, 1, "decode", "decode_buckets")
    assert compile_kv_example_bytes(MODEL, g, 100, "bf16", 1) == pytest.approx(537_280_512)
    assert compile_kv_example_bytes(MODEL, g, None, "bf16", 1) is None
    tp1 = deployment_fit(MODEL, core_budget(1, RULES, "rngd"), "bf16")
    assert tp1.weight_bytes_per_device == pytest.approx(16_060_522_496) and not tp1.fits
    assert deployment_fit(MODEL, core_budget(4, RULES, "rngd"), "bf16").fits
