"""Worked numbers of the `ModelSpec` formulas and clear errors for malformed configs."""

from __future__ import annotations

import pytest

from inferplan.models import catalog_model, model_from_hf_config
from inferplan.units import InferplanError

TINY = {"model_type": "llama", "hidden_size": 64, "intermediate_size": 128,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
        "vocab_size": 100}


def test_tiny_llama_parameters_by_hand() -> None:
    m = model_from_hf_config(TINY)
    # per layer: q 64·64 + kv 2·64·32 + o 64·64 + mlp 3·64·128 + 2 norms·64 = 36,992
    # embeddings 100·64 · 2 (untied) + final norm 64 = 12,864
    assert m.parameters == 2 * 36_992 + 12_864
    assert m.active_parameters == m.parameters
    assert m.active_matmul_params == 2 * (36_992 - 128) + 6_400


def test_llama3_70b_flops_per_token() -> None:
    m = catalog_model("llama-3.1-70b")
    # 2·P_matmul: the seed's "2·70e9" (embedding lookup excluded, LM head included)
    assert float(m.decode_flops_per_token(0)) == pytest.approx(2 * 69.5e9, rel=0.002)
    # attention at T=8192: 4·N·H·L·T = 4·64·128·80·8192
    assert float(m.attention_flops_per_token(8192)) == 4 * 64 * 128 * 80 * 8192
    # prefill of S=8192: 2·P·S plus causal attention 4·N·H·L·S²/2 (seed A31: +7.7%)
    pre = float(m.prefill_flops(8192))
    linear = 2 * m.active_matmul_params * 8192
    assert pre - linear == pytest.approx(4 * 64 * 128 * 80 * 8192**2 / 2)
    assert (pre - linear) / linear == pytest.approx(0.077, abs=0.002)


def test_llama3_405b_flops_per_token_seed_b_q1() -> None:
    # Seed 001 Q1: 8.1e11 FLOPs per token (exact config 8.08e11); attention 8.26e6·T.
    m = catalog_model("llama-3.1-405b")
    assert float(m.decode_flops_per_token(0)) == pytest.approx(8.1e11, rel=0.005)
    assert float(m.attention_flops_per_token(1)) == pytest.approx(8.26e6, rel=0.001)


def test_sliding_window_caps_kv() -> None:
    m = catalog_model("mistral-7b-v0.1")           # every layer: window 4096
    per_tok = m.kv_bytes_per_token("bf16")
    assert per_tok == 2 * 8 * 128 * 32 * 2
    assert float(m.kv_bytes_per_sequence(2048, "bf16")) == 2048 * per_tok
    assert float(m.kv_bytes_per_sequence(32_768, "bf16")) == 4096 * per_tok
    g = catalog_model("gemma-2-9b")                 # alternating 4096-window / global
    full = g.kv_bytes_per_token("bf16") / g.num_layers
    assert float(g.kv_bytes_per_sequence(8192, "bf16")) == 21 * full * 8192 + 21 * full * 4096


def test_mla_caches_the_latent() -> None:
    m = catalog_model("deepseek-v3")
    # (kv_lora_rank 512 + rope 64) · 61 layers · 2 B
    assert m.kv_bytes_per_token("bf16") == 576 * 61 * 2 == 70_272
    assert m.moe is not None and m.num_moe_layers == 58   # first 3 layers dense


def test_palm_multiquery_parallel_block() -> None:
    m = catalog_model("palm-540b")
    assert m.num_kv_heads == 1 and m.parallel_block and m.tie_word_embeddings
    assert m.kv_bytes_per_token("bf16") == 2 * 256 * 118 * 2


def test_moe_active_parameters() -> None:
    m = catalog_model("mixtral-8x7b")
    assert m.parameters == 46_702_792_704
    assert m.active_parameters == pytest.approx(12.88e9, rel=0.001)


@pytest.mark.parametrize(("patch", "field"), [
    ({"hidden_size": "big"}, "config.hidden_size"),
    ({"num_key_value_heads": 3}, "config.num_key_value_heads"),
    ({"model_type": "rwkv"}, "config.model_type"),
    ({"vocab_size": None}, "config.vocab_size"),
    ({"num_hidden_layers": 0}, "config"),
])
def test_malformed_config_names_the_field(patch: dict[str, object], field: str) -> None:
    with pytest.raises(InferplanError) as err:
        model_from_hf_config({**TINY, **patch})
    assert str(err.value).startswith(field)


def test_unknown_catalog_name_suggests() -> None:
    with pytest.raises(InferplanError, match=r"did you mean.*llama-3\.1-70b"):
        catalog_model("llama-3.1-70")
