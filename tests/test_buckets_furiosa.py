"""furiosa-llm graph enumeration: seed 000 golden numbers and one test per version rule
of shared/reference/furiosa.md (sections 2-5)."""

from __future__ import annotations

from typing import Any

import pytest

from inferplan.buckets.config import parse_bucket_config
from inferplan.buckets.furiosa_rules import GraphPlan, chunk_boundaries, enumerate_graphs
from inferplan.buckets.rules import furiosa_rules
from inferplan.models import catalog_model
from inferplan.units import InferplanError

SEED_PREFILL = [[1, 256], [1, 320], [1, 384], [1, 512], [1, 640], [1, 768], [1, 1024],
                [2, 1024], [4, 1024]]
SEED_DECODE = ([[b, 1024] for b in (1, 4, 8, 16, 32, 64)] + [[b, 2048] for b in (1, 4, 8, 16, 32)]
               + [[b, 4096] for b in (1, 4, 8, 16, 32)] + [[b, 8192] for b in (1, 4, 8, 16)]
               + [[b, 16384] for b in (1, 4, 8)] + [[1, 32768], [4, 32768]])
SEED: dict[str, Any] = {
    "model": "llama-3.1-8b", "tensor_parallel_size": 1, "prefill_buckets": SEED_PREFILL,
    "decode_buckets": SEED_DECODE, "max_seq_len_to_capture": 32768,
    "prefill_chunk_size": 8192, "furiosa_llm_version": "2025.3"}
CHUNK_NAMES = ["kv0-b1-attn8192", "kv8192-b1-attn16384", "kv16384-b1-attn24576",
               "kv24576-b1-attn32768"]
MODEL = catalog_model("llama-3.1-8b")
RULES = furiosa_rules()


def plan(**changes: Any) -> GraphPlan:
    raw = {**SEED, **changes}
    return enumerate_graphs(parse_bucket_config({k: v for k, v in raw.items() if v is not None}),
                            MODEL, RULES)


# ------------------------------------------------------------------ seed 000 golden
def test_seed000_builds_38_graphs_with_the_four_chunk_graphs() -> None:
    p = plan()
    assert len(SEED_PREFILL) + len(SEED_DECODE) == p.configured == 34
    assert p.count == 38
    assert [g.name for g in p.added] == CHUNK_NAMES
    assert all(g.kind == "chunk" and g.batch == 1 and g.q == 8192 for g in p.added)
    # ArtifactBuilder's lists: the first chunk is a prefill bucket, the rest "other"
    assert [g.furiosa_list for g in p.added] == ["prefill", "other", "other", "other"]
    failing = next(g for g in p.graphs if g.name == "kv16384-b1-attn24576")
    assert (failing.batch, failing.kv, failing.q, failing.attn) == (1, 16384, 8192, 24576)


def test_seed000_with_a_1x8192_prefill_bucket_builds_37() -> None:
    """furiosa.md 2.1: 34 buckets of which one is (1, 8192) -> 37 graphs, because the first
    chunk (1, 8192, kv 0) is de-duplicated against it. Adding (1, 8192) as a 35th bucket
    gives 35 + 3 = 38: the collision saves a graph either way."""
    swapped = [b for b in SEED_PREFILL if b != [4, 1024]] + [[1, 8192]]
    p = plan(prefill_buckets=swapped)
    assert p.configured == 34 and p.count == 37
    assert sum(1 for g in p.graphs if g.name == "kv0-b1-attn8192") == 1
    assert [g.name for g in p.added] == CHUNK_NAMES[1:]
    added = plan(prefill_buckets=[*SEED_PREFILL, [1, 8192]])
    assert added.configured == 35 and added.count == 38


def test_decode_bucket_name_uses_kv_l_minus_1() -> None:
    names = {g.name for g in plan().graphs if g.kind == "decode"}
    assert "kv8191-b4-attn8192" in names and "kv32767-b4-attn32768" in names


def test_dropping_decode_1x16384_does_not_remove_the_failing_graph() -> None:
    """The user's question 2: the failing graph is a chunk graph, not a decode bucket."""
    p = plan(decode_buckets=[d for d in SEED_DECODE if d != [1, 16384]])
    assert p.count == 37 and "kv16384-b1-attn24576" in {g.name for g in p.graphs}


# ---------------------------------------------------------- 2025.1 -> 2026.1 rule (sec. 2)
def test_chunk_limit_not_a_multiple_gives_a_shorter_last_chunk() -> None:
    assert chunk_boundaries(30000, 8192)[-1] == (24576, 30000)
    p = plan(max_seq_len_to_capture=30000, decode_buckets=[[1, 16384], [1, 30000]])
    last = p.added[-1]
    assert (last.name, last.q) == ("kv24576-b1-attn30000", 5424)


def test_chunks_run_to_max_prompt_len_when_given() -> None:
    p = plan(max_prompt_len=16384)
    assert [g.name for g in p.added] == CHUNK_NAMES[:2] and p.count == 36


def test_chunk_larger_than_limit_is_rejected() -> None:
    with pytest.raises(InferplanError, match="prefill_chunk_size"):
        plan(max_prompt_len=4096)


def test_speculative_decoding_adds_one_verify_graph_per_decode_bucket() -> None:
    p = plan(num_speculative_tokens=3)
    verify = [g for g in p.graphs if g.kind == "verify"]
    assert len(verify) == 25 and p.count == 38 + 25
    v = next(g for g in verify if g.batch == 4 and g.attn == 8192)
    assert (v.name, v.q, v.logits) == ("kv8188-b4-attn8192", 4, 4)


def test_no_buckets_means_default_prefill_and_decode_at_max_seq_len() -> None:
    p = plan(prefill_buckets=[], decode_buckets=[], prefill_chunk_size=None,
             max_seq_len_to_capture=None)
    assert [g.name for g in p.graphs] == ["kv0-b1-attn2048", "kv2047-b1-attn2048"]


def test_duplicates_are_removed_per_list_with_a_note() -> None:
    p = plan(prefill_buckets=[*SEED_PREFILL, [1, 256]])
    assert p.count == 38 and any("duplicate" in n for n in p.notes)


# ------------------------------------------------------------------- version table
def test_2024_2_drops_manual_prefill_buckets_and_chunks_to_max_seq_len() -> None:
    p = plan(furiosa_llm_version="2024.2", max_prompt_len=16384)
    assert not [g for g in p.graphs if g.origin == "prefill_buckets"]
    assert [g.name for g in p.added] == CHUNK_NAMES        # max_prompt_len not used
    assert p.count == 25 + 4
    assert any("ignores the 9 manual prefill" in n for n in p.notes)


def test_2025_1_and_2025_2_compile_non_final_chunks_twice() -> None:
    for version in ("2025.1", "2025.2.1"):
        p = plan(furiosa_llm_version=version)
        assert p.count == 41
        logits = [(g.name, g.logits) for g in p.added]
        assert logits.count(("kv8192-b1-attn16384", 0)) == 1
        assert ("kv24576-b1-attn32768", 0) not in logits


def test_2025_3_and_2026_1_compile_one_graph_per_chunk() -> None:
    assert plan(furiosa_llm_version="2025.3.4").count == 38
    assert plan(furiosa_llm_version="2026.1").count == 38


def test_default_tp_is_4_before_2026_and_8_from_2026_1() -> None:
    assert plan(tensor_parallel_size=None, furiosa_llm_version="2025.3").tp == 4
    assert plan(tensor_parallel_size=None, furiosa_llm_version="2026.1").tp == 8


def test_2025_tp_must_be_1_2_4_or_a_multiple_of_8() -> None:
    for tp in (1, 2, 4, 8, 16, 32):
        assert plan(tensor_parallel_size=tp).tp == tp
    with pytest.raises(InferplanError, match="tensor_parallel_size"):
        plan(tensor_parallel_size=3)


def test_2026_1_append_and_tokenwise_buckets() -> None:
    p = plan(furiosa_llm_version="2026.1", append_buckets=[[1, 4096, 1024]],
             tokenwise_seq_lens=[256, 2048])
    names = {g.name: g for g in p.graphs}
    assert names["kv3072-b1-attn4096"].kind == "append"
    # 256 is already a batch-1 prefill bucket; 2048 needs its own prefill(1, 2048) graph
    assert names["kv0-b1-attn2048"].origin == "tokenwise_seq_lens"
    assert p.count == 38 + 2
    with pytest.raises(InferplanError, match="append_buckets"):
        plan(append_buckets=[[1, 4096, 1024]])              # 2025.3 has none


def test_2026_1_checks_max_position_embeddings() -> None:
    with pytest.raises(InferplanError, match="max_position_embeddings"):
        plan(furiosa_llm_version="2026.1", max_seq_len_to_capture=262144,
             decode_buckets=[[1, 262144]])


VALID_2026 = {"furiosa_llm_version": "2026.2", "tensor_parallel_size": 8,
              "prefill_chunk_size": None, "prefill_buckets": [[1, 1024]],
              "decode_buckets": [[1, 8192], [8, 4096]], "append_buckets": [[1, 8192, 1024]]}


def test_2026_2_valid_config_and_removed_chunk_size() -> None:
    p = plan(**VALID_2026)
    assert p.count == 4
    with pytest.raises(InferplanError, match="removed"):
        plan(**{**VALID_2026, "prefill_chunk_size": 1024})
    with pytest.raises(InferplanError, match="prefill_chunk_size"):
        plan(furiosa_llm_version="2026.2", tensor_parallel_size=8)   # the seed config


@pytest.mark.parametrize(("change", "message"), [
    ({"decode_buckets": [[1, 8192], [1, 8192]]}, "duplicate"),
    ({"prefill_buckets": []}, "at least one prefill"),
    ({"append_buckets": [[1, 8192, 8192]]}, "exceed q"),
    ({"decode_buckets": []}, "needs decode"),
    ({"max_model_len": 4096}, "exceeds max_model_len"),
    ({"max_model_len": 16384}, "max_executable_len"),
    ({"append_buckets": []}, "largest decode one"),
])
def test_2026_2_validation_rules(change: dict[str, Any], message: str) -> None:
    with pytest.raises(InferplanError, match=message):
        plan(**{**VALID_2026, **change})


def test_2026_2_tp_must_be_4_8_or_32() -> None:
    for tp in (4, 32):
        assert plan(**{**VALID_2026, "tensor_parallel_size": tp}).tp == tp
    with pytest.raises(InferplanError, match="4, 8, 32"):
        plan(**{**VALID_2026, "tensor_parallel_size": 1})


def test_2026_2_empty_config_uses_the_model_preset() -> None:
    p = plan(**{**VALID_2026, "prefill_buckets": [], "decode_buckets": [],
                "append_buckets": []})
    assert p.preset is not None and p.preset.key == "llama3-1-8b-w16a16"
    assert p.count == 4 + 44 + 34 and p.graphs == ()


def test_2026_4_can_skip_the_max_attention_validation() -> None:
    skip = {**VALID_2026, "furiosa_llm_version": "2026.4", "append_buckets": []}
    with pytest.raises(InferplanError, match="largest decode one"):
        plan(**skip)
    assert plan(**skip, skip_bucket_validation=True).count == 3
    with pytest.raises(InferplanError, match="skip_bucket_validation"):
        plan(skip_bucket_validation=True)                   # 2025.3 has no such option


def test_unknown_version_names_the_known_ones() -> None:
    with pytest.raises(InferplanError, match=r"known versions: 2024\.1"):
        plan(furiosa_llm_version="2023.9")


def test_speculative_decoding_is_not_modelled_for_2024() -> None:
    with pytest.raises(InferplanError, match="num_speculative_tokens"):
        plan(furiosa_llm_version="2024.2", num_speculative_tokens=2)


def test_every_version_entry_names_its_source() -> None:
    for rule in RULES.versions:
        assert "furiosa-llm" in rule.source and rule.matches
