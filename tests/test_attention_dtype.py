"""The attention projections at their own dtypes (`dtypes.attention`,
`dtypes.attention_output`): NVIDIA's NVFP4 MoE checkpoints leave the attention
unquantised, so its weights take bf16 bytes, its GEMMs run at the bf16 rate and launch at
the bf16 cost, and the serving rows of those checkpoints say so."""

from __future__ import annotations

from typing import Any

import pytest

from inferplan.cost import attention_gemm_s, layer_gemm_share
from inferplan.deployment import Deployment, Dtypes
from inferplan.efficiency import efficiency_for
from inferplan.hardware import catalog_chip
from inferplan.memory import stage_attention_params_per_device, weight_bytes_per_device
from inferplan.models import catalog_model
from inferplan.parallel import Layout
from inferplan.scenario import build_deployment, parse_scenario
from inferplan.search import parse_space, run_search
from inferplan.serving import closed_loop
from inferplan.steptime import step_cost
from inferplan.units import InferplanError
from inferplan.validate_serving import (
    ServingCase,
    bundled_serving_text,
    map_serving_row,
    read_serving_rows,
)

FP4 = {"weights": "fp4", "compute": "fp4", "kv": "fp8"}
V2 = {**FP4, "attention": "bf16", "attention_output": "fp4"}   # DeepSeek-R1-0528-FP4-v2


def r1_on_b200(dtypes: dict[str, str]) -> Deployment:
    scenario: dict[str, Any] = {
        "name": "x", "model": "deepseek-r1", "hardware": "b200", "chips": 8,
        "parallelism": {"tp": 8}, "dtypes": dtypes, "engine": "trtllm",
        "efficiency": "realistic", "workload": {"input_len": 8192, "output_len": 1, "batch": 1}}
    return build_deployment(parse_scenario(scenario, "x"), catalog_model, catalog_chip)[0]


def test_the_attention_follows_the_weights_unless_given() -> None:
    assert Dtypes(weights="fp4").attention_weights == "fp4"
    assert Dtypes(weights="fp4", attention="bf16").attention_output_weights == "bf16"
    assert Dtypes(weights="fp4", attention="bf16",
                  attention_output="fp4").attention_output_weights == "fp4"
    assert not Dtypes(weights="fp4").own_attention
    # what the estimate, memory and speculative reports state
    assert Dtypes(weights="fp4", attention="bf16", attention_output="fp4").weights_label == (
        "fp4 (attention bf16, O proj fp4)")
    assert Dtypes(weights="bf16", experts="int4").weights_label == "bf16 (experts int4)"
    assert Dtypes(weights="fp8", attention="fp8").weights_label == "fp8"


def test_bf16_attention_in_an_fp4_checkpoint_costs_its_bytes() -> None:
    # DeepSeek-R1 at tp 8: 61 layers of 36,636,672 attention params a device, 14,680,064
    # of them the output projection; the v2 checkpoint stores all but O in bf16
    model, layout = catalog_model("deepseek-r1"), Layout(tp=8)
    assert stage_attention_params_per_device(model, layout) == ((2_234_836_992.0,
                                                                 895_483_904.0),)
    fp4 = weight_bytes_per_device(model, layout, "fp4", "fp4")
    v2 = weight_bytes_per_device(model, layout, "fp4", "fp4", "bf16", "fp4")
    assert v2 - fp4 == pytest.approx((2_234_836_992 - 895_483_904) * 1.5)   # +2.01 GB
    # stated as the weights' own dtype, nothing changes
    assert weight_bytes_per_device(model, layout, "fp4", "fp4", "fp4", "fp4") == fp4


def test_bf16_attention_gemms_run_at_the_bf16_rate_and_launch_cost() -> None:
    fp4, v2 = r1_on_b200(FP4), r1_on_b200(V2)
    eff = efficiency_for(v2)
    # TensorRT-LLM on B200: bf16 at 0.69 of 2.25e15, fp4 at 0.61 of 9e15; launches
    # 3.34 us (bf16) against 12.4 us (fp4)
    assert eff.attention_gemm_flops_per_s == pytest.approx(1.5525e15)
    assert eff.attention_output_gemm_flops_per_s == pytest.approx(eff.matmul_flops_per_s)
    assert (eff.attention_gemm_fixed_s, eff.gemm_fixed_s) == pytest.approx((3.34e-6, 12.4e-6))
    assert efficiency_for(fp4).attention_gemm_flops_per_s is None
    # an 8192-token prompt: the input projections' 2·8192·1,339,353,088 FLOPs at the bf16
    # rate add 45.0 ms to the compute term
    prompt_fp4, prompt_v2 = (step_cost(d, "prefill", 1, 8192, 0) for d in (fp4, v2))
    added = float(prompt_v2.compute_s - prompt_fp4.compute_s)
    share = float(layer_gemm_share(v2))
    expected = attention_gemm_s(eff, 2.0 * 8192 * 1_339_353_088, 0.0,
                                eff.matmul_flops_per_s * share)
    assert expected is not None
    assert added == pytest.approx(float(expected)) == pytest.approx(45.0e-3, rel=1e-3)
    # a 4-sequence decode: 61 layers of 4 input projections launch 9.06 us cheaper each
    # (-2.211 ms), and read 1,339,353,088·1.5 B more (+0.384 ms at the weight rate)
    decode_fp4, decode_v2 = (step_cost(d, "decode", 4, 1, 1024) for d in (fp4, v2))
    assert float(decode_v2.overhead_s - decode_fp4.overhead_s) == pytest.approx(
        -61 * 4 * (12.4e-6 - 3.34e-6))
    assert float(decode_v2.latency_s) < float(decode_fp4.latency_s)


def test_attention_stated_at_the_weights_dtype_prices_the_same() -> None:
    same = r1_on_b200({**FP4, "attention": "fp4"})
    for phase, q, kv in (("prefill", 8192, 0), ("decode", 1, 1024)):
        assert float(step_cost(same, phase, 4, q, kv).latency_s) == pytest.approx(
            float(step_cost(r1_on_b200(FP4), phase, 4, q, kv).latency_s), rel=1e-12)


def test_an_unknown_attention_dtype_is_refused_naming_the_field() -> None:
    with pytest.raises(InferplanError, match=r"dtypes\.attention.*fp9"):
        r1_on_b200({**FP4, "attention": "fp9"})
    # a projection wider than the compute dtype runs its GEMMs in its own dtype: B200 has
    # no fp32 GEMM rate in the catalog
    with pytest.raises(InferplanError, match=r"dtypes\.attention: 'fp32'.*no rate"):
        r1_on_b200({**FP4, "attention": "fp32"})


ROWS = read_serving_rows(bundled_serving_text())


def mapped_dtypes(model_path: str, precision: str) -> dict[str, str]:
    for row in ROWS:
        if row["model_path"] == model_path and row["precision"] == precision \
                and row["mode"] == "agg":
            case = map_serving_row(row)
            if isinstance(case, ServingCase):
                dtypes: dict[str, str] = case.scenario["dtypes"]
                return dtypes
    raise AssertionError(f"no mapped {precision} row of {model_path}")


def test_nvfp4_rows_keep_the_attention_their_checkpoints_keep() -> None:
    assert mapped_dtypes("deepseek-ai/DeepSeek-R1", "fp4") == {**V2, "experts": "fp4"}
    assert mapped_dtypes("MiniMaxAI/MiniMax-M2.5", "fp4")["attention"] == "bf16"
    assert "attention_output" not in mapped_dtypes("MiniMaxAI/MiniMax-M2.5", "fp4")
    # fp8 checkpoints and NVIDIA's Qwen3-32B NVFP4 quantise the attention with the rest
    assert "attention" not in mapped_dtypes("deepseek-ai/DeepSeek-R1", "fp8")
    assert "attention" not in mapped_dtypes("nvidia/Qwen3-32B-NVFP4", "fp4")


SPACE: dict[str, Any] = {
    "model": "deepseek-r1", "hardware": ["b200"], "chips": [8], "parallelism": {"tp": [8]},
    "dtypes": {"weights": ["fp4"], "kv": ["fp8"], "compute": ["fp4"], "attention": "bf16",
               "attention_output": "fp4"},
    "engine": "trtllm",
    "workload": {"input_len": [8192], "output_len": [1024], "concurrency": [4, 64]}}


def test_a_search_space_states_the_checkpoints_attention_for_every_point() -> None:
    result = run_search(parse_space(SPACE), catalog_model, catalog_chip)
    assert result.feasible == 2
    for i in result.best(2):
        dep = result.deployment(i)
        assert dep.dtypes.attention == "bf16" and dep.dtypes.attention_output == "fp4"
        assert result.scenario(i)["dtypes"] == V2
        loop = closed_loop(dep, result.workload(i), int(result.batch[i]))
        assert result.cols.tpot_s[i] == pytest.approx(float(loop.tpot_s), rel=1e-12)
    # B200 has no fp32 GEMM rate: every point is dropped, the reason naming the field
    bad = run_search(parse_space({**SPACE, "dtypes": {**SPACE["dtypes"], "attention": "fp32"}}),
                     catalog_model, catalog_chip)
    assert bad.feasible == 0 and "dtypes.attention: 'fp32'" in bad.drop_examples[
        "compute_dtype"]
    with pytest.raises(InferplanError, match=r"dtypes\.attention"):
        parse_space({**SPACE, "dtypes": {**SPACE["dtypes"], "attention": ["bf16"]}})
