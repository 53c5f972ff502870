"""Hybrid linear/full attention (Qwen3.5), DeepSeek sparse attention (GLM-5), MiniMax-M2
and Kimi K2 parsing, HF repo ids resolving to catalog models, and a routed-expert dtype.

Every number below is computed by hand from the configs in data/models/ (the sums are
written out); none is the code's own output pasted back.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from inferplan.cost import attention_flops, kv_bytes_moved, weight_bytes_read
from inferplan.memory import (
    kv_bytes_per_sequence_per_device,
    linear_state_shards,
    weight_bytes_per_device,
)
from inferplan.models import catalog_model, model_catalog, model_from_hf_config
from inferplan.parallel import Layout
from inferplan.scenario import parse_scenario
from inferplan.units import InferplanError

HEADS8 = Layout(tp=8, attention="heads")


# ------------------------------------------------------------------ HF ids
@pytest.mark.parametrize(("repo", "name"), [
    ("MiniMaxAI/MiniMax-M2.5", "minimax-m2.5"),
    ("moonshotai/Kimi-K2.5", "kimi-k2.5"),
    ("zhipuai/GLM-5", "glm-5"),
    ("Qwen/Qwen3.5-397B-A17B", "qwen3.5-397b-a17b"),
    ("deepseek-ai/DeepSeek-R1", "deepseek-r1"),
    ("deepseek-ai/DeepSeek-V3", "deepseek-v3"),
    ("Qwen/Qwen3-32B", "qwen3-32b"),
    ("Qwen/Qwen3-235B-A22B-FP8", "qwen3-235b-a22b"),
    ("openai/gpt-oss-120b", "gpt-oss-120b"),
    ("nvidia/Qwen3-32B-NVFP4", "qwen3-32b"),
    ("nvidia/DeepSeek-R1-NVFP4", "deepseek-r1"),
    ("nvidia/DeepSeek-V3.1-NVFP4", "deepseek-v3"),
])
def test_hf_repo_ids_resolve_to_catalog_models(repo: str, name: str) -> None:
    assert catalog_model(repo).name == name
    assert catalog_model(repo.lower()).name == name


def test_hf_ids_are_unique_across_entries() -> None:
    seen: dict[str, str] = {}
    for entry in model_catalog().values():
        for repo in {r.lower() for r in (entry.hf_repo, *entry.hf_ids) if r}:
            assert repo not in seen, f"{repo} on {entry.name} and {seen[repo]}"
            seen[repo] = entry.name


def test_cli_loader_treats_a_known_hf_id_as_a_catalog_name(tmp_path: Any) -> None:
    from inferplan.cli.loader import load_model
    assert load_model("nvidia/DeepSeek-R1-NVFP4", tmp_path).name == "deepseek-r1"


def test_unknown_hf_id_is_an_inferplan_error() -> None:
    with pytest.raises(InferplanError, match="model"):
        catalog_model("nobody/NoSuchModel-1B")


# ----------------------------------------------------- Qwen3.5: hybrid attention
def test_qwen35_layer_kinds_and_linear_shape() -> None:
    q = catalog_model("qwen3.5-397b-a17b")
    assert q.layer_attention[:4] == ("linear", "linear", "linear", "full")
    assert q.layer_attention.count("linear") == 45 and q.layer_attention.count("full") == 15
    lin = q.linear_attention
    assert lin is not None and (lin.state_dtype, lin.conv_dtype) == ("fp32", "bf16")
    # in_proj_qkvz 4096·(2·16·128 + 2·64·128) + in_proj_ba 4096·128 + conv 12,288·4
    # + dt_bias, A_log 128 + norm 128 + out_proj 8192·4096
    assert lin.params_per_layer(4096) == (4096 * 20480 + 4096 * 128 + 12288 * 4 + 128 + 128
                                          + 8192 * 4096) == 118_014_208
    # state 64·128·128 fp32 + conv 12,288·3 bf16
    assert lin.state_bytes_per_sequence == 64 * 128 * 128 * 4 + 12288 * 3 * 2 == 4_268_032
    assert lin.flops_per_token == 6 * 64 * 128 * 128 + 2 * 12288 * 4 == 6_389_760
    # full layers: gated q (2·D·N·H), k, v, o, q/k norms
    assert q.attention_params_per_layer == (2 * 4096 * 32 * 256 + 2 * 4096 * 2 * 256
                                            + 32 * 256 * 4096 + 2 * 256)


def test_qwen35_kv_does_not_grow_in_linear_layers() -> None:
    q = catalog_model("qwen3.5-397b-a17b")
    state = 45 * 4_268_032
    assert q.linear_state_bytes_per_sequence == state
    # bf16 KV of the 15 full layers: 2·2·256·2 B = 2048 B per token and layer
    assert q.kv_bytes_per_token("bf16") == 15 * 2048
    assert float(q.kv_bytes_per_sequence(8192, "bf16")) == 15 * 2048 * 8192 + state
    # per device, tp=8 heads: full layers over min(8, K=2) = 2, state over min(8, 16) = 8
    assert float(kv_bytes_per_sequence_per_device(q, HEADS8, "bf16", 8192)) == (
        15 * 2048 * 8192 / 2 + state / 8) == 149_836_800


def test_linear_state_shards_follow_batch_sharding() -> None:
    q = catalog_model("qwen3.5-397b-a17b")
    assert linear_state_shards(q, HEADS8) == 8
    # batch mode, K=2: 4 batch shards, 2 shards per sequence -> B·state/8 per device
    assert linear_state_shards(q, Layout(tp=8, attention="batch")) == 2
    assert linear_state_shards(catalog_model("llama-3-8b"), HEADS8) == 1


def test_qwen35_decode_bytes_and_flops_per_step() -> None:
    q = catalog_model("qwen3.5-397b-a17b")
    # decode at T=8192 (kv 8191 + 1): full layers read 8192 positions, linear layers read
    # and write their state once: 2·45·4,268,032/8
    expected = 15 * 8192 * 2048 / 2 + 2 * 45 * 4_268_032 / 8
    assert float(kv_bytes_moved(q, HEADS8, "bf16", 1, 1, 8191)) == expected == 173_844_480
    # the linear part does not grow with context
    grow = float(kv_bytes_moved(q, HEADS8, "bf16", 1, 1, 16383)) - expected
    assert grow == 15 * 8192 * 2048 / 2
    # FLOPs: 15 full layers 4·32·256 per position, 45 linear layers 6,389,760 per token
    assert float(attention_flops(q, HEADS8, 1, 1, 8191)) == (
        15 * 4 * 32 * 256 * 8192 + 45 * 6_389_760) / 8 == 539_258_880
    # linear in new tokens: a prefill of 1000 costs 1000 times the recurrence
    assert float(q.attention_flops_per_token(0)) == 45 * 6_389_760


def test_qwen35_causal_prefill_flops() -> None:
    q = catalog_model("qwen3.5-397b-a17b")
    S = 4096
    attn = 15 * 4 * 32 * 256 * S * S / 2 + 45 * 6_389_760 * S
    assert float(q.prefill_flops(S)) == pytest.approx(2 * q.active_matmul_params * S + attn)


# -------------------------------------------------------------- GLM-5: DSA
def test_glm5_sparse_attention_shape() -> None:
    g = catalog_model("glm-5")
    assert set(g.layer_attention) == {"sparse"} and g.num_layers == 78
    sp = g.sparse_attention
    assert sp is not None and (sp.index_heads, sp.index_head_dim, sp.top_k) == (32, 128, 2048)
    # wq_b 2048·32·128 + wk 6144·128 + k_norm 2·128 + weights_proj 6144·32
    assert sp.params_per_layer(6144, 2048) == 8_388_608 + 786_432 + 256 + 196_608 == 9_371_904
    assert sp.index_bytes_per_token == 128 + 4
    assert sp.index_flops_per_position == 2 * 32 * 128 + 2 * 32 == 8256
    # cache per token and layer: MLA latent 512 + rope 64 at fp8, plus the indexer keys
    assert g.kv_bytes_per_token_per_layer("sparse", "fp8") == 576 + 132


def test_glm5_attention_is_capped_at_top_k() -> None:
    g = catalog_model("glm-5")
    per_pos = 2 * 64 * (256 + 256)   # MLA 2·N·(qk + v)
    assert g.attention_flops_per_position == per_pos == 65_536
    # decode at T=8192 on tp=8: 2048 attended (of 8192) split tp ways; the indexer scores
    # all 8192 on every shard
    expected = 78 * (per_pos * 2048 / 8 + 8256 * 8192)
    assert float(attention_flops(g, HEADS8, 1, 1, 8191)) == expected == 6_584_008_704
    # below top-k DSA is full attention plus the indexer
    assert float(attention_flops(g, HEADS8, 1, 1, 999)) == 78 * (per_pos * 1000 / 8
                                                                  + 8256 * 1000)
    # bytes: 2048 latent rows read, 8192 indexer keys
    assert float(kv_bytes_moved(g, HEADS8, "fp8", 1, 1, 8191)) == (
        78 * (2048 * 576 + 8192 * 132)) == 176_357_376
    # memory still holds every token, with its indexer key
    assert float(g.kv_bytes_per_sequence(8192, "fp8")) == 78 * 8192 * 708


def test_glm5_causal_prefill_caps_at_top_k() -> None:
    g = catalog_model("glm-5")
    S = 8192
    capped = 2048 * 2048 / 2 + (S - 2048) * 2048
    attn = 78 * (65_536 * capped + 8256 * S * S / 2)
    assert float(g.prefill_flops(S)) == pytest.approx(2 * g.active_matmul_params * S + attn)


# ------------------------------------------------------- MiniMax-M2.5, Kimi-K2.5
def test_minimax_m25_is_full_attention_moe() -> None:
    m = catalog_model("minimax-m2.5")
    assert set(m.layer_attention) == {"full"} and m.num_moe_layers == 62
    assert m.moe is not None and (m.moe.num_experts, m.moe.experts_per_token) == (256, 8)
    assert m.moe.router_bias and m.moe.num_shared_experts == 0
    # q, k, v, o + per-layer q/k norms over all heads (48·128 + 8·128)
    assert m.attention_params_per_layer == (2 * 3072 * 48 * 128 + 2 * 3072 * 8 * 128
                                            + 48 * 128 + 8 * 128)
    # 62·(attention + norms + 256 experts + router and bias) + embeddings + final norm
    per_layer = 44_047_360 + 2 * 3072 + 256 * 3 * 3072 * 1536 + 3072 * 256 + 256
    assert m.parameters == 62 * per_layer + 2 * 200064 * 3072 + 3072 == 228_689_764_864


def test_minimax_lightning_attention_layers_are_refused() -> None:
    cfg = dict(model_catalog()["minimax-m2.5"].config)
    cfg["attn_type_list"] = [0] + [1] * 61
    with pytest.raises(InferplanError, match="attn_type_list"):
        model_from_hf_config(cfg)


def test_kimi_k25_text_config_is_deepseek_v3_shaped() -> None:
    k = catalog_model("kimi-k2.5")
    assert k.model_type == "kimi_k2" and k.mla is not None and k.moe is not None
    assert (k.moe.num_experts, k.num_dense_layers, k.num_heads) == (384, 1, 64)
    r1, v3 = catalog_model("deepseek-r1"), catalog_model("deepseek-v3")
    assert r1.parameters == v3.parameters == 671_026_419_200


# ---------------------------------------------------------- experts dtype
def test_expert_dtype_in_memory_and_bytes_read() -> None:
    m = catalog_model("mixtral-8x7b")
    layout = Layout(tp=8)
    experts = 32 * 8 * 3 * 4096 * 14336 / 8      # 32 layers · 8 experts, split 8 ways
    assert experts == 5_637_144_576
    bf16 = weight_bytes_per_device(m, layout, "bf16")
    int4 = weight_bytes_per_device(m, layout, "bf16", "int4")
    assert bf16 - int4 == experts * (2 - 0.5)
    assert weight_bytes_per_device(m, layout, "bf16", "bf16") == bf16
    # bytes read at 64 tokens (every expert touched): the same saving
    read = float(weight_bytes_read(m, layout, "bf16", 64))
    read4 = float(weight_bytes_read(m, layout, "bf16", 64, experts_dtype="int4"))
    touched = 8 * (1 - (1 - 2 / 8) ** 64)
    assert read - read4 == pytest.approx(experts * touched / 8 * 1.5)
    assert math.isclose(touched, 8.0, rel_tol=1e-7)


def test_expert_dtype_in_scenario() -> None:
    base = {"model": "kimi-k2.5", "hardware": "b200", "chips": 8,
            "workload": {"input_len": 1024, "output_len": 1024, "batch": 1}}
    assert parse_scenario({**base, "dtypes": {"weights": "bf16"}}).dtypes.experts is None
    s = parse_scenario({**base, "dtypes": {"weights": "fp8", "experts": "int4"}})
    assert s.dtypes.experts == "int4"
    with pytest.raises(InferplanError, match=r"dtypes\.experts"):
        parse_scenario({**base, "dtypes": {"experts": "int3"}})
