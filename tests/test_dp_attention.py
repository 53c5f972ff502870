"""Data-parallel attention (`parallelism.attention_dp`): A ranks inside the tp group, each
running attention for its own requests with its own scheduler and token budget, heads split
over the rank's tp/A devices, attention weights replicated per rank, the MLP/MoE over all
tp devices."""

from __future__ import annotations

import numpy as np
import pytest
from tests.conftest import make

from inferplan.cost import attention_rank_batch, mixed_step_cost
from inferplan.memory import attention_params_per_device
from inferplan.models import catalog_model
from inferplan.parallel import Layout
from inferplan.serving import closed_loop
from inferplan.steptime import Segment
from inferplan.units import InferplanError


def test_ranks_heads_and_batch_shards_follow_the_ranks_not_the_kv_heads() -> None:
    """MiniMax-M2.5 (8 KV heads) at tp 4 with 2 ranks: heads split 2 ways, the batch 2
    ways, 2 schedulers; before `attention_dp`, tp 4 <= 8 KV heads could not shard the batch
    at all. gpt-oss-120b at tp 4, A = 4: 4 ranks of one GPU each."""
    minimax, oss = catalog_model("minimax-m2.5"), catalog_model("gpt-oss-120b")
    two = Layout(tp=4, attention_dp=2)
    assert (two.attention_tp, two.head_shards(minimax), two.kv_batch_shards(minimax),
            two.attention_dp_ranks(minimax)) == (2, 2, 2, 2)
    assert Layout(tp=4, attention="batch").attention_dp_ranks(minimax) == 1
    four = Layout(tp=4, attention_dp=4)
    assert (four.head_shards(oss), four.kv_batch_shards(oss),
            four.attention_dp_ranks(oss)) == (1, 4, 4)
    assert four.attention_mode(oss) == "batch"


def test_every_rank_holds_the_attention_weights_of_its_heads() -> None:
    """Attention weights split over tp/A only: DeepSeek-R1 at tp 8 with A = 8 holds a whole
    layer's attention on each GPU, as at tp 1."""
    ds = catalog_model("deepseek-r1")
    whole = attention_params_per_device(ds, Layout(tp=1))
    assert attention_params_per_device(ds, Layout(tp=8, attention_dp=8)) == whole
    assert attention_params_per_device(ds, Layout(tp=8)) < whole / 4


def test_the_fullest_rank_sets_the_attention_terms() -> None:
    """One prompt chunk lands on one rank, so with 8 ranks the attention terms are those of
    8 chunks spread evenly (A·max(B/A, min(B, 1))); 64 decodes spread evenly."""
    assert attention_rank_batch(1.0, 8) == pytest.approx(8.0)
    assert attention_rank_batch(64.0, 8) == pytest.approx(64.0)
    assert attention_rank_batch(0.5, 8) == pytest.approx(4.0)
    assert attention_rank_batch(3.0, 1) == pytest.approx(3.0)


def test_a_lone_prompt_on_one_rank_costs_more_than_the_same_tokens_spread() -> None:
    """A 4096-token prompt under A = 8 runs its attention (and the attention projections)
    on one GPU: the step is slower than eight 512-token chunks spread one per rank, and
    slower than the same prompt under plain tensor parallelism."""
    dp, _ = make(model="deepseek-r1", hardware="b200", chips=8,
                 parallelism={"tp": 8, "attention_dp": 8, "layout": "megatron"},
                 dtypes={"weights": "fp8", "kv": "fp8", "compute": "fp8"}, engine="sglang")
    tp, _ = make(model="deepseek-r1", hardware="b200", chips=8,
                 parallelism={"tp": 8, "layout": "megatron"},
                 dtypes={"weights": "fp8", "kv": "fp8", "compute": "fp8"}, engine="sglang")
    lone = mixed_step_cost(dp, [Segment("prefill", 1, 4096, 0)])
    spread = mixed_step_cost(dp, [Segment("prefill", 8, 512, 0)])
    plain = mixed_step_cost(tp, [Segment("prefill", 1, 4096, 0)])
    assert float(lone.compute_s) > float(spread.compute_s)
    assert float(lone.latency_s) > float(plain.latency_s)


def test_each_rank_brings_its_own_scheduler_budget_and_sequences() -> None:
    """With A ranks the replica runs A·max_num_seqs sequences and its first wave goes
    through A token budgets: 64 clients of 4096-token prompts on TensorRT-LLM (8192 tokens
    a rank) get their first tokens in fewer steps with 8 ranks than with one scheduler."""
    common = dict(model="deepseek-r1", hardware="b200", chips=8,
                  dtypes={"weights": "fp8", "kv": "fp8", "compute": "fp8"}, engine="trtllm",
                  workload={"input_len": 4096, "output_len": 256, "concurrency": 64})
    dp, wl = make(parallelism={"tp": 8, "attention_dp": 8, "layout": "megatron"}, **common)
    one, _ = make(parallelism={"tp": 8, "layout": "megatron"}, **common)
    assert dp.max_running_sequences == 8 * one.max_running_sequences
    first_dp = closed_loop(dp, wl, 64).first_wave_ttft_s
    first_one = closed_loop(one, wl, 64).first_wave_ttft_s
    assert np.all(first_dp < first_one)


@pytest.mark.parametrize("parallelism, field", [
    ({"tp": 8, "attention_dp": 3}, "parallelism.attention_dp"),
    ({"tp": 8, "attention_dp": 0}, "parallelism.attention_dp"),
    ({"tp": 8, "attention_dp": 8, "attention": "heads"}, "parallelism.attention"),
    ({"tp": 8, "attention_dp": 8, "layout": "ws2d"}, "parallelism.layout"),
])
def test_bad_attention_dp_is_rejected_naming_the_field(parallelism: dict[str, object],
                                                       field: str) -> None:
    with pytest.raises((InferplanError, ValueError)) as err:
        dep, wl = make(model="qwen3-32b", hardware="h100-sxm", chips=8,
                       parallelism=parallelism)
        closed_loop(dep, wl, 8)
    assert field in str(err.value) or "attention_dp" in str(err.value)


def test_sglang_splits_one_limit_over_its_ranks() -> None:
    """SGLang divides --max-running-requests and --chunked-prefill-size by dp_size under DP
    attention (`scheduler.attention_dp_limits: replica`), so 8 ranks run what one setting
    allows; TensorRT-LLM's limits are each rank's."""
    common = dict(model="deepseek-r1", hardware="b200", chips=8,
                  parallelism={"tp": 8, "attention_dp": 8, "layout": "megatron"},
                  dtypes={"weights": "fp8", "kv": "fp8", "compute": "fp8"})
    sg, _ = make(engine="sglang", **common)
    trt, _ = make(engine="trtllm", **common)
    assert sg.engine.scheduler.attention_dp_limits == "replica"
    assert sg.max_running_sequences == sg.engine.scheduler.max_num_seqs
    assert sg.rank_token_budget() == sg.engine.scheduler.max_num_batched_tokens / 8
    assert trt.rank_token_budget() == trt.engine.scheduler.max_num_batched_tokens
    assert trt.max_running_sequences == 8 * trt.engine.scheduler.max_num_seqs


def test_a_search_space_varies_the_attention_dp_ranks() -> None:
    """`parallelism.attention_dp` is a search axis: each value its own deployment, labelled
    in the result; a value that does not divide tp is dropped with the reason."""
    from inferplan.hardware import catalog_chip
    from inferplan.search import parse_space, run_search
    space = parse_space({"model": "deepseek-r1", "hardware": "b200", "chips": 8,
                         "parallelism": {"tp": 8, "ep": 8, "attention_dp": [1, 3, 8],
                                         "layout": "megatron"},
                         "dtypes": {"weights": "fp8", "kv": "fp8", "compute": "fp8"},
                         "engine": "trtllm",
                         "workload": {"input_len": 1024, "output_len": 256,
                                      "concurrency": 64}})
    result = run_search(space, catalog_model, catalog_chip)
    ranks = sorted(result.scenario(i)["parallelism"]["attention_dp"]
                   for i in range(len(result.point_group)))
    assert ranks == [1, 8]
    assert any("attention_dp" in str(g.drop_message) for g in result.groups
               if g.deployment is None)


@pytest.mark.parametrize("order", [(1, 8), (8, 1)])
def test_the_collectives_of_one_layout_depend_on_its_ranks_in_any_order(
        order: tuple[int, int]) -> None:
    """The cached communication plan is keyed on the attention-DP ranks: DeepSeek-R1 tp 8
    ep 8 with A = 8 gathers T·E over the ranks instead of two all-reduces a layer, so its
    collectives differ from A = 1, whichever the process priced first (the key once left A
    out and the first one priced won)."""
    from inferplan.communication import communication_time_s
    seconds = {}
    for a in order:
        dep, _ = make(model="deepseek-r1", hardware="h200-sxm", chips=8,
                      parallelism={"tp": 8, "ep": 8, "attention_dp": a}, engine="sglang",
                      dtypes={"weights": "fp8", "kv": "fp8", "compute": "fp8"},
                      workload={"input_len": 1024, "output_len": 128, "concurrency": 64})
        seconds[a] = float(communication_time_s(dep, np.asarray(256.0), np.asarray(64.0),
                                                0.88))
    assert seconds[8] < 0.8 * seconds[1]


def test_expert_all_to_all_share_worked_numbers() -> None:
    """The docstring's cases: tokens on every device of the tp group (TEP) or gathered over
    the DP ranks need no all-to-all; DeepEP-style exchange sends a rank's own T/A tokens;
    experts beyond the tp group send every replica token."""
    from inferplan.communication import expert_all_to_all_share
    ds, mixtral = catalog_model("deepseek-r1"), catalog_model("mixtral-8x7b")
    assert expert_all_to_all_share(ds, Layout(tp=8, ep=8), "gather") == 0.0
    assert expert_all_to_all_share(ds, Layout(tp=8, ep=8, attention_dp=8), "gather") == 0.0
    assert expert_all_to_all_share(ds, Layout(tp=8, ep=8, attention_dp=8),
                                   "all_to_all") == 0.125
    assert expert_all_to_all_share(mixtral, Layout(tp=2, ep=4, dp=2), "gather") == 1.0
    assert expert_all_to_all_share(catalog_model("qwen3-32b"), Layout(tp=8), "gather") == 0.0


def test_experts_inside_the_tp_group_communicate_what_tp_alone_does() -> None:
    """DeepSeek-R1 tp 8 ep 8 without DP attention runs Megatron's two all-reduces a layer
    and nothing more: the same collectives as tp 8 with the experts tensor-split."""
    from inferplan.communication import communication_time_s
    seconds = []
    for ep in (1, 8):
        dep, _ = make(model="deepseek-r1", hardware="h200-sxm", chips=8,
                      parallelism={"tp": 8, "ep": ep}, engine="sglang",
                      dtypes={"weights": "fp8", "kv": "fp8", "compute": "fp8"},
                      workload={"input_len": 1024, "output_len": 128, "concurrency": 64})
        seconds.append(float(communication_time_s(dep, np.asarray(256.0),
                                                  np.asarray(64.0), 0.88)))
    assert seconds[0] == pytest.approx(seconds[1], rel=1e-12)


def test_an_all_to_all_engine_exchanges_only_each_ranks_tokens() -> None:
    """`engine: {moe_exchange: all_to_all}` (DeepEP): no T·E gather over the ranks, and
    the all-to-alls carry T/A tokens' top-k copies. Over NVLink at 256 tokens that is less
    than the gather of all 256 tokens in each of 61 layers."""
    from inferplan.communication import communication_time_s
    seconds = {}
    for exchange in ("gather", "all_to_all"):
        dep, _ = make(model="deepseek-r1", hardware="h200-sxm", chips=8,
                      parallelism={"tp": 8, "ep": 8, "attention_dp": 8},
                      engine={"name": "sglang", "moe_exchange": exchange},
                      dtypes={"weights": "fp8", "kv": "fp8", "compute": "fp8"},
                      workload={"input_len": 1024, "output_len": 128, "concurrency": 64})
        assert dep.engine.scheduler.moe_exchange == exchange
        seconds[exchange] = float(communication_time_s(dep, np.asarray(256.0),
                                                       np.asarray(64.0), 0.88))
    assert 0 < seconds["all_to_all"] < seconds["gather"]


def test_a_bad_moe_exchange_names_the_field() -> None:
    with pytest.raises(InferplanError) as err:
        make(model="deepseek-r1", hardware="h200-sxm", chips=8, parallelism={"tp": 8},
             engine={"name": "sglang", "moe_exchange": "deepep"},
             workload={"input_len": 1024, "output_len": 128, "concurrency": 8})
    assert "moe_exchange" in err.value.field and "gather" in str(err.value)


def test_expected_maximum_of_standard_normals() -> None:
    """The order statistic's known values: 1/√π for two, 1.0294 for four, 1.4236 for
    eight (Monte Carlo over 200,000 draws gives 1.4242), none for one."""
    from inferplan.cost import expected_max_standard_normal
    assert expected_max_standard_normal(1) == 0.0
    assert expected_max_standard_normal(2) == pytest.approx(1 / np.sqrt(np.pi), rel=1e-4)
    assert expected_max_standard_normal(4) == pytest.approx(1.0294, abs=1e-4)
    assert expected_max_standard_normal(8) == pytest.approx(1.4236, abs=1e-4)


def test_the_busiest_expert_group_reads_more_than_the_mean() -> None:
    """The docstring's DeepSeek-V3 numbers: over 8 expert groups, 8 tokens make the
    busiest read 0.329 of its experts against a mean 0.224; 64 tokens 0.954 against 0.869;
    one group (experts sliced over every device) reads the mean; many tokens touch all."""
    from inferplan.cost import busiest_expert_share, expected_distinct_experts
    got = busiest_expert_share(256, 8, np.asarray([8.0, 64.0]), 8)
    assert got == pytest.approx([0.3293, 0.9538], abs=1e-4)
    mean = expected_distinct_experts(256, 8, np.asarray([8.0, 64.0])) / 256
    assert busiest_expert_share(256, 8, np.asarray([8.0, 64.0]), 1) == pytest.approx(mean)
    assert float(busiest_expert_share(256, 8, np.asarray(4096.0), 8)) == pytest.approx(1.0)
