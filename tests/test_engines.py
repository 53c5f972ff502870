"""Engine profiles (data/engines): loading, sources, overrides, bad input, and the op
costs they put into a step."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import make

from inferplan.cost import fixed_kernel_time_s, gemms_per_layer, step_cost
from inferplan.efficiency import Efficiency, efficiency_for
from inferplan.engines import ENGINE_NAMES, engine_profile, resolve_engine
from inferplan.models import catalog_model
from inferplan.units import InferplanError


@pytest.mark.parametrize("name", ENGINE_NAMES)
def test_every_profile_loads_with_sources(name: str) -> None:
    profile = engine_profile(name)
    assert profile.name == name
    assert "default" in profile.ops
    for field in ("prompt_steps", "max_num_batched_tokens", "allreduce"):
        assert field in profile.scheduler.sources or (field == "prompt_steps" and name in (
            "generic",)), f"{name}: scheduler.{field} has no source"
    for chip, ops in profile.ops.items():
        stated = {k for k in ops.model_fields_set if k != "sources"}
        missing = [k for k in stated if k not in ops.sources]
        assert not missing, f"{name} ops[{chip}]: no source for {missing}"


def test_measured_tables_override_the_default_block() -> None:
    vllm = engine_profile("vllm")
    h200 = vllm.ops_for("h200-sxm")
    # aiconfigurator-core per-op tables (tools/derive_op_constants.py), vLLM 0.24 on H200
    assert h200.allreduce_latency_s["custom"][8] == pytest.approx(5.7e-6, rel=0.05)
    assert "tables" in h200.sources
    # a chip without a table block gets the default block
    assert vllm.ops_for("l40s") == vllm.ops["default"]
    # dict fields merge key by key: the default's fp16 survives the chip's own table
    assert h200.gemm_compute_fraction["fp16"] == vllm.ops["default"].gemm_compute_fraction["fp16"]


def test_overrides_build_a_new_profile() -> None:
    base = engine_profile("vllm")
    small = resolve_engine({"name": "vllm", "max_num_batched_tokens": 2048,
                            "cuda_graphs": False})
    assert small.scheduler.max_num_batched_tokens == 2048
    assert base.scheduler.max_num_batched_tokens == 8192         # the bundled one unchanged
    assert resolve_engine(None).name == "generic"


@pytest.mark.parametrize(("spec", "field"), [
    ("vlm", "engine"),
    ({"name": "vllm", "block_size": 16}, "engine.block_size"),
    ({"name": "vllm", "kv_admission": "lazy"}, "engine.kv_admission"),
    ({"name": "vllm", "max_num_seqs": 0}, "engine.max_num_seqs"),
    ({"name": "vllm", "version": "0.1"}, "engine.version"),
    ({"version": "0.19"}, "engine.name"),
])
def test_bad_engines_name_the_field(spec: object, field: str) -> None:
    with pytest.raises(InferplanError) as err:
        resolve_engine(spec)  # type: ignore[arg-type]
    assert err.value.field == field


def test_unknown_engine_in_a_scenario_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from inferplan.cli import main
    path = tmp_path / "s.yaml"
    path.write_text("model: qwen3-32b\nhardware: h200-sxm\nchips: 1\nengine: vlm\n"
                    "workload: {input_len: 1024, output_len: 128, concurrency: 8}\n")
    monkeypatch.setattr(sys, "argv", ["inferplan", "estimate", str(path)])
    with pytest.raises(SystemExit) as code:
        main()
    assert code.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "engine" in err[0] and "vllm" in err[0]


def test_gemms_per_layer() -> None:
    assert gemms_per_layer(catalog_model("qwen3-32b"), False) == 4
    assert gemms_per_layer(catalog_model("deepseek-v3"), True) == 10


def test_fixed_kernel_time_worked_number() -> None:
    """The docstring's number: 3.5 µs GEMM floors, 14 µs attention, 2 D-wide elementwise
    ops of 3 µs + 2·64·5120·2 B / 3.84e12 B/s and the gated activation's 3 µs +
    64·153,600 B / 3.84e12 B/s on Qwen3-32B (64 layers, tp 1): 2.576 ms; at tp 2 the
    activation moves half its F-wide bytes."""
    eff = Efficiency(matmul_flops_per_s=1.0, attention_flops_per_s=1.0,
                     memory_bytes_per_s=1.0, gemm_fixed_s=3.5e-6, attention_fixed_s=14e-6,
                     elementwise_ops_per_layer=3, elementwise_fixed_s=3e-6,
                     elementwise_bytes_per_s=3.84e12)
    got = float(fixed_kernel_time_s(catalog_model("qwen3-32b"), eff, 64))
    per_layer = (4 * 3.5e-6 + 14e-6 + 2 * (3e-6 + 2 * 64 * 5120 * 2 / 3.84e12)
                 + 3e-6 + 64 * 3 * 25600 * 2 / 3.84e12)
    assert got == pytest.approx(64 * per_layer, rel=1e-12)
    assert got == pytest.approx(2.576e-3, rel=1e-3)
    at_tp2 = float(fixed_kernel_time_s(catalog_model("qwen3-32b"), eff, 64, 2))
    assert got - at_tp2 == pytest.approx(64 * 64 * 3 * 25600 * 2 / 2 / 3.84e12, rel=1e-9)


def test_collective_alpha_interpolates_in_log_p() -> None:
    eff = Efficiency(1.0, 1.0, 1.0, collective_latency_s=((2, 4e-6), (4, 5e-6), (8, 7e-6)))
    assert eff.collective_alpha_s(8) == pytest.approx(7e-6)
    assert eff.collective_alpha_s(16) == pytest.approx(7e-6)        # clamped
    assert eff.collective_alpha_s(1) == pytest.approx(4e-6)
    assert Efficiency(1.0, 1.0, 1.0).collective_alpha_s(8) is None


def test_engine_allreduce_is_the_measured_call_time() -> None:
    """Megatron tp=8 under vLLM on H200: per layer 2 all-reduces of B·D bf16, each the
    table's measured call time at that size; plus the logits all-gather."""
    dep, _ = make(model="qwen3-32b", hardware="h200-sxm", chips=8,
                  parallelism={"tp": 8, "layout": "megatron"}, engine="vllm")
    eff = efficiency_for(dep)
    alpha = eff.collective_alpha_s(8)
    call = eff.allreduce_call_s(8, 5120 * 2.0)
    assert alpha is not None and call is not None
    c = step_cost(dep, "decode", 1, 1, 100)
    # 128 all-reduces dominate: the step's communication is within the logits gather of it
    assert float(c.communication_s) >= 128 * float(call)
    assert float(c.communication_s) < 128 * float(call) + 2 * alpha + 1e-5


def test_engine_without_a_curve_pays_alpha_plus_ring_bandwidth() -> None:
    """A chip without a measured curve (vLLM's default block on A100): α + 2·7/8·V/(W·eff)
    per all-reduce."""
    dep, _ = make(model="qwen3-32b", hardware="a100-80gb-sxm", chips=8,
                  parallelism={"tp": 8, "layout": "megatron"}, engine="vllm")
    eff = efficiency_for(dep)
    alpha = eff.collective_alpha_s(8)
    assert alpha is not None and eff.allreduce_call_s(8, 1.0) is None
    c = step_cost(dep, "decode", 1, 1, 100)
    V = 5120 * 2.0
    assert dep.chip.interconnect is not None
    W = dep.chip.interconnect.bandwidth_bytes_per_s_per_direction
    ring = 2 * 7 / 8 * V / (W * eff.interconnect)
    assert float(c.communication_s) >= 128 * (alpha + ring)
    assert float(c.communication_s) < 128 * (alpha + ring) + 2 * alpha + 1e-5


def test_no_cuda_graphs_pays_eager_host_time() -> None:
    """Without graphs every step waits for its host dispatch: L · 8 operations (a dense
    Qwen3 layer at tp 1) · eager_op_host_s."""
    graphs, _ = make(model="qwen3-32b", hardware="h200-sxm", chips=1, engine="vllm")
    eager, _ = make(model="qwen3-32b", hardware="h200-sxm", chips=1,
                    engine={"name": "vllm", "cuda_graphs": False})
    a = float(step_cost(graphs, "decode", 8, 1, 1000).latency_s)
    b = float(step_cost(eager, "decode", 8, 1, 1000).latency_s)
    ops = engine_profile("vllm").ops_for("h200-sxm")
    assert ops.eager_op_host_s > 0
    # eager all-reduces are NCCL's: tp = 1 has none, so the host time is the whole gap
    assert b - a == pytest.approx(64 * 8 * ops.eager_op_host_s, rel=1e-9)


def test_prompt_steps_run_eagerly_where_graphs_hold_decodes_only() -> None:
    """SGLang captures decode batches only: a step carrying a prompt pays the host time
    (58 µs per dispatched operation, PR #12160; 8 per dense layer at tp 1), a decode step
    does not, and an expected 0.25 prompt
    chunks of 512 (64 + 128 expected tokens, under the 256 captured) pays a quarter.
    vLLM's piecewise graphs take a 64 + 256-token mixed step, not a 64 + 1024 one."""
    from inferplan.cost import Segment, mixed_step_cost
    dep, _ = make(model="qwen3-32b", hardware="h200-sxm", chips=1, engine="sglang")
    ops = engine_profile("sglang").ops_for("h200-sxm")
    host = 64 * 8 * ops.eager_op_host_s

    def overhead(d: object, chunks: float, tokens: float) -> float:
        return float(mixed_step_cost(d, [Segment("decode", 64, 1, 1000),  # type: ignore[arg-type]
                                         Segment("chunk", chunks, tokens, 0)]).overhead_s)

    eff = efficiency_for(dep)
    model = dep.model

    def kernels(extra_tokens: float) -> float:   # the fixed kernel costs the tokens move
        return float(fixed_kernel_time_s(model, eff, 64 + extra_tokens)
                     - fixed_kernel_time_s(model, eff, 64))

    base = overhead(dep, 0.0, 512.0)
    assert overhead(dep, 1.0, 512.0) - base - kernels(512) == pytest.approx(host, rel=1e-6)
    assert overhead(dep, 0.25, 512.0) - base - kernels(128) == pytest.approx(host / 4,
                                                                             rel=1e-6)
    vllm, _ = make(model="qwen3-32b", hardware="h200-sxm", chips=1, engine="vllm")
    vllm_host = 64 * 8 * engine_profile("vllm").ops_for("h200-sxm").eager_op_host_s
    # beside the host time only the fixed kernel costs move (a few hundred µs)
    assert overhead(vllm, 0.25, 1024.0) - overhead(vllm, 0.0, 1024.0) < 0.1 * vllm_host
    assert overhead(vllm, 1.0, 1024.0) - overhead(vllm, 0.0, 1024.0) > 0.9 * vllm_host


def test_megatron_wins_auto_on_nvlink_with_an_engine() -> None:
    dep, _ = make(model="qwen3-32b", hardware="h200-sxm", chips=8, parallelism={"tp": 8},
                  engine="vllm")
    layouts = step_cost(dep, "decode", np.array([1.0, 64.0]), 1, 1000).layout
    assert layouts is not None and set(np.ravel(layouts)) == {"megatron"}


def test_link_efficiency_per_group_size() -> None:
    """vLLM's H200 table: 0.75 at p = 2, 0.79 at p = 4, 1.1 at p = 8 (capped at 1)."""
    from inferplan.efficiency import link_efficiency_for
    ops = engine_profile("vllm").ops_for("h200-sxm")
    assert link_efficiency_for(ops, 2, 0.88) == pytest.approx(ops.link_efficiency_by_p[2])
    assert link_efficiency_for(ops, 4, 0.88) == pytest.approx(ops.link_efficiency_by_p[4])
    assert link_efficiency_for(ops, 8, 0.88) == 1.0
    assert link_efficiency_for(engine_profile("generic").ops_for("h200-sxm"), 8, 0.88) == 0.88


def test_fused_moe_op_replaces_the_grouped_gemms() -> None:
    """With the tables' fused MoE op, an MoE layer pays `moe_fixed_s` once instead of two
    grouped GEMMs' fixed costs, and its routed experts stream at `moe_memory_fraction`."""
    dep, _ = make(model="qwen3-235b-a22b", hardware="h200-sxm", chips=8,
                  parallelism={"tp": 8}, engine="sglang",
                  dtypes={"weights": "fp8", "kv": "bf16", "compute": "fp8"})
    eff = efficiency_for(dep)
    ops = engine_profile("sglang").ops_for("h200-sxm")
    assert eff.moe_fixed_s == ops.moe_fixed_s["fp8"]
    model = catalog_model("qwen3-235b-a22b")
    assert gemms_per_layer(model, True, fused_moe=True) == gemms_per_layer(model, True) - 2
    plain = Efficiency(1.0, 1.0, 1.0, gemm_fixed_s=4e-6)
    fused = Efficiency(1.0, 1.0, 1.0, gemm_fixed_s=4e-6, moe_fixed_s=30e-6)
    delta = float(fixed_kernel_time_s(model, fused, 1) - fixed_kernel_time_s(model, plain, 1))
    assert delta == pytest.approx(model.num_moe_layers * (30e-6 - 2 * 4e-6))


def test_a_deployment_validates_on_construction() -> None:
    """However a Deployment is built (dataclasses.replace included), its degrees fill its
    devices and its chip computes in its compute dtype."""
    from dataclasses import replace

    from inferplan.deployment import Dtypes
    from inferplan.parallel import Layout
    dep, _ = make(model="qwen3-32b", hardware="h100-sxm", chips=8, parallelism={"tp": 8})
    with pytest.raises(InferplanError, match="tp\\*pp\\*dp"):
        replace(dep, layout=Layout(tp=4))
    with pytest.raises(InferplanError) as err:
        replace(dep, dtypes=Dtypes("fp4", "bf16", "fp4"))
    assert err.value.field == "dtypes.compute"


def test_mxfp4_experts_run_their_own_kernels() -> None:
    """gpt-oss ships MXFP4 experts (config quant_method "mxfp4"), which the engines run with
    kernels of their own, keyed by the activations they multiply with: TensorRT-LLM on
    Blackwell with MXFP8 (its GPT-OSS deployment guide), 21.5 µs a MoE layer at few tokens
    on B200 where DeepSeek-R1's NVFP4 experts take 40.3; vLLM with BF16 by default (21.9
    µs) and MXFP8 where a run sets VLLM_USE_FLASHINFER_MOE_MXFP4_MXFP8 (the engine block's
    `mxfp4_activations: mxfp8`, 28.1 µs); a chip without the MXFP8 kernel (H200) takes the
    BF16 one. A cached rate of one model or setting never serves another."""
    from inferplan.efficiency import expert_kernel
    from inferplan.models import expert_format
    assert catalog_model("gpt-oss-120b").expert_format == "mxfp4"
    assert catalog_model("deepseek-r1").expert_format is None
    assert expert_format({"quantization_config": {"quant_method": "fp8"}}) is None
    assert expert_kernel("fp4", "mxfp4") == ("mxfp4", "fp4")
    assert expert_kernel("fp4", "mxfp4", "mxfp8") == ("mxfp4_mxfp8", "mxfp4", "fp4")
    assert expert_kernel("fp8", "mxfp4", "mxfp8") == ("fp8",)
    dtypes = {"weights": "bf16", "compute": "bf16", "experts": "fp4", "kv": "fp8"}

    def fixed_s(model: str, engine: object, chip: str = "b200") -> float | None:
        dep, _ = make(model=model, hardware=chip, chips=8, parallelism={"tp": 8},
                      engine=engine, dtypes=dtypes)
        return efficiency_for(dep).moe_fixed_s

    trt, vllm = (engine_profile(e).ops_for("b200") for e in ("trtllm", "vllm"))
    assert fixed_s("gpt-oss-120b", "trtllm") == trt.moe_fixed_s["mxfp4_mxfp8"] \
        == pytest.approx(21.5e-6)
    assert fixed_s("deepseek-r1", "trtllm") == trt.moe_fixed_s["fp4"] == pytest.approx(40.3e-6)
    assert fixed_s("gpt-oss-120b", "trtllm", "h200-sxm") == \
        engine_profile("trtllm").ops_for("h200-sxm").moe_fixed_s["mxfp4"]
    assert fixed_s("gpt-oss-120b", "vllm") == vllm.moe_fixed_s["mxfp4"] == pytest.approx(21.9e-6)
    assert fixed_s("gpt-oss-120b", {"name": "vllm", "mxfp4_activations": "mxfp8"}) == \
        vllm.moe_fixed_s["mxfp4_mxfp8"] == pytest.approx(28.1e-6)
    assert fixed_s("deepseek-r1", {"name": "vllm", "mxfp4_activations": "mxfp8"}) == \
        vllm.moe_fixed_s["fp4"]
    with pytest.raises(InferplanError, match=r"engine\.mxfp4_activations"):
        resolve_engine({"name": "vllm", "mxfp4_activations": "fp6"})


def test_routed_experts_compute_at_the_fused_moe_rate() -> None:
    """MiniMax-M2.5 fp8 on 4 B200s under vLLM: a 8192-token prefill's matmul compute is
    the dense GEMMs at the GEMM rate times their shape factor plus the routed experts at
    F·n/(n + n_half), n = 1536/4 (the per-op tables' fits), slower than the GEMM rate
    would price them."""
    from inferplan.cost import (
        attention_flops,
        expert_flops_rate,
        layer_gemm_share,
        matmul_params_per_token,
        routed_params_per_token,
    )
    dep, _ = make(model="minimax-m2.5", hardware="b200", chips=4,
                  parallelism={"tp": 4, "layout": "megatron"}, engine="vllm",
                  dtypes={"weights": "fp8", "kv": "fp8", "compute": "fp8"})
    eff = efficiency_for(dep)
    ops = engine_profile("vllm").ops_for("b200")
    F, half = ops.moe_flops_per_s["fp8"], ops.moe_half_width["fp8"]
    rate = expert_flops_rate(dep.model, dep.layout, eff)
    assert rate == pytest.approx(F * 384 / (384 + half), rel=1e-12)
    assert rate < eff.matmul_flops_per_s
    T = 8192.0
    routed = 2 * T * routed_params_per_token(dep.model, dep.layout)
    assert routed == pytest.approx(2 * T * 62 * 8 * dep.model.expert_params / 4, rel=1e-12)
    total = 2 * T * matmul_params_per_token(dep.model, dep.layout)
    cost = step_cost(dep, "prefill", 1, T, 0)
    head = 2 * 1 * dep.model.vocab_size * dep.model.hidden_size / 4   # one logit row
    expected = (total + head - routed) / (eff.matmul_flops_per_s * layer_gemm_share(dep)) \
        + routed / rate
    attention = float(attention_flops(dep.model, dep.layout, 1.0, T, 0.0)) \
        / eff.attention_flops_per_s
    # compute-bound at 8192 tokens: the compute term is the matmuls' plus attention's
    assert float(cost.compute_s) == pytest.approx(expected + attention, rel=1e-9)


def test_all_reduce_follows_the_measured_curve_between_its_sizes() -> None:
    """TensorRT-LLM's all-reduce on 8 H100s costs the per-op table's time at mid sizes
    (1 MiB: 26.0 µs), far above α + ring (3.6 + 4.1 µs); between sizes log-log, beyond
    the largest the last slope; a Megatron decode step pays 2 calls a layer."""
    from inferplan.cost import tensor_parallel_time_s
    dep, _ = make(model="qwen3-32b", hardware="h100-sxm", chips=8,
                  parallelism={"tp": 8, "layout": "megatron"}, engine="trtllm")
    eff = efficiency_for(dep)
    curve = engine_profile("trtllm").ops_for("h100-sxm").allreduce_curve_s["custom"][8]
    at = eff.allreduce_call_s(8, np.array([2.0**20, 1.5 * 2**20, 2.0**10, 2.0**27]))
    assert at is not None
    assert at[0] == pytest.approx(curve[2**20], rel=1e-12)
    mid = np.exp(np.log(curve[2**20]) + np.log(1.5) / np.log(2)
                 * np.log(curve[2**21] / curve[2**20]))
    assert at[1] == pytest.approx(mid, rel=1e-12)
    assert at[2] == pytest.approx(curve[2**14], rel=1e-12)       # the latency floor
    slope = (curve[2**26] - curve[2**25]) / 2**25
    assert at[3] == pytest.approx(curve[2**26] + 2**26 * slope, rel=1e-12)
    assert eff.allreduce_call_s(3, 2.0**20) is None               # no curve for p = 3
    V = 102 * 5120 * 2.0
    t, _ = tensor_parallel_time_s(dep, 102.0, eff.interconnect, 0.0,
                                  eff.collective_alpha_s(8), eff)
    expected = eff.allreduce_call_s(8, V)
    assert expected is not None
    assert float(t) == pytest.approx(64 * 2 * float(expected), rel=1e-9)


def test_eager_host_time_counts_each_layers_operations() -> None:
    """The sources' own cases: SGLang's DeepSeek-V3 prefill at tp 8 (PR #12160) pays
    1,025 operations · 58 µs = 59.5 ms; vLLM's dense Qwen3 layer pays the slope over depth
    of aiconfigurator PR #1166's TTFT gaps (41/45/52 ms at 28/36/40 layers, two forwards
    each) over its 8 operations: 0.857 ms / 2 / 8 = 54 µs, 0.43 ms a layer; an expert
    layer dispatches more than a dense one."""
    from inferplan.cost import eager_host_s, eager_ops_per_layer
    dep, _ = make(model="deepseek-v3", hardware="h200-sxm", chips=8, parallelism={"tp": 8},
                  engine="sglang", dtypes={"weights": "fp8", "kv": "fp8"})
    eff = efficiency_for(dep)
    assert eager_ops_per_layer(dep.model, dep.layout, True, True) == 17
    assert eager_ops_per_layer(dep.model, dep.layout, False, True) == 13
    assert float(eager_host_s(dep.model, dep.layout, eff, 1.0)) == pytest.approx(59.5e-3,
                                                                                 rel=0.01)
    qwen, _ = make(model="qwen3-8b", hardware="h200-sxm", chips=1, engine="vllm")
    assert eager_ops_per_layer(qwen.model, qwen.layout, False, False) == 8
    per_layer = float(eager_host_s(qwen.model, qwen.layout, efficiency_for(qwen), 1.0)
                      ) / qwen.model.num_layers
    slope_s = float(np.polyfit([28, qwen.model.num_layers, 40], [41e-3, 45e-3, 52e-3], 1)[0])
    assert qwen.model.num_layers == 36
    assert per_layer == pytest.approx(slope_s / 2, rel=0.01)


def test_a_gated_deltanet_layer_dispatches_its_chunked_kernels_eagerly() -> None:
    """SGLang 0.5.9's eager prefill of a Gated DeltaNet layer launches 12 kernels where a
    flash-attention layer launches one (convolution, gating, two l2norms, the chunked
    rule's 7, the gated norm), and SGLang 0.5.10 builds its projections as 3 GEMMs:
    Qwen3.5-397B at tp 8, 15 full-attention expert layers of 14 operations and 45 linear
    ones of 26, 1,380 · 58 µs = 80.0 ms; as one kernel and 2 GEMMs (an engine that states
    neither, TensorRT-LLM's) they would be 840."""
    from inferplan.cost import eager_host_s, eager_ops_per_layer
    dep, _ = make(model="qwen3.5-397b-a17b", hardware="b200", chips=8,
                  parallelism={"tp": 8}, engine="sglang")
    eff = efficiency_for(dep)
    assert eff.linear_attention_eager_kernels == 12
    assert dict(((k, m), n) for k, m, n in dep.model.block_groups) == {
        ("linear", True): 45, ("full", True): 15}
    assert eager_ops_per_layer(dep.model, dep.layout, True, True) == 14
    assert eager_ops_per_layer(dep.model, dep.layout, True, True, attention_kernels=12,
                               attention_launches=3) == 26
    assert float(eager_host_s(dep.model, dep.layout, eff, 1.0)) == pytest.approx(
        1380 * 58e-6, rel=1e-9)
    trtllm = engine_profile("trtllm").ops_for("b200")
    assert (trtllm.linear_attention_eager_kernels, trtllm.linear_attention_gemms) == (1, 2)
    one = replace(eff, linear_attention_eager_kernels=1, linear_attention_gemms=2)
    assert float(eager_host_s(dep.model, dep.layout, one, 1.0)) == pytest.approx(
        60 * 14 * 58e-6, rel=1e-9)


def test_a_sparse_attention_layer_dispatches_its_indexer_eagerly() -> None:
    """SGLang 0.5.9's DeepSeek-sparse-attention prefill always runs its indexer's key path
    (wk, k_norm, rotary, copy, Hadamard, fp8 quantisation, cache store, zero fill, top-k
    transform) before the attention kernel: 10 operations where one was counted. GLM-5 at
    tp 8: 3 dense layers of 22 operations and 75 expert layers of 26, 2,016 · 58 µs =
    116.9 ms (1,314 operations before)."""
    from inferplan.cost import eager_host_s, eager_ops_per_layer
    dep, _ = make(model="glm-5", hardware="b200", chips=8, parallelism={"tp": 8},
                  engine="sglang", dtypes={"weights": "fp8", "kv": "fp8"})
    eff = efficiency_for(dep)
    assert eff.sparse_attention_eager_kernels == 10 and eff.moe_fixed_s is not None
    assert dict(((k, m), n) for k, m, n in dep.model.block_groups) == {
        ("sparse", False): 3, ("sparse", True): 75}
    assert eager_ops_per_layer(dep.model, dep.layout, False, True, attention_kernels=10) == 22
    assert eager_ops_per_layer(dep.model, dep.layout, True, True, attention_kernels=10) == 26
    assert float(eager_host_s(dep.model, dep.layout, eff, 1.0)) == pytest.approx(
        2016 * 58e-6, rel=1e-9)
    one = replace(eff, sparse_attention_eager_kernels=1)
    assert float(eager_host_s(dep.model, dep.layout, one, 1.0)) == pytest.approx(
        (3 * 13 + 75 * 17) * 58e-6, rel=1e-9)
    assert engine_profile("vllm").ops_for("b200").sparse_attention_eager_kernels == 1


def test_the_front_end_adds_to_every_ttft_and_loads_no_step() -> None:
    """`scheduler.frontend_s` (vLLM 20 ms) is in the closed form's TTFT and e2e and in
    every simulated request's, and changes no step: TPOT and the run's timeline stay."""
    from inferplan.serving import closed_loop
    from inferplan.sim.loop import simulate_replica
    wl = {"input_len": 1024, "output_len": 64, "concurrency": 8, "length_ratio": 0.8,
          "requests": 40}
    with_fe, workload = make(model="qwen3-8b", hardware="h100-sxm", chips=1, engine="vllm",
                             workload=wl)
    without, _ = make(model="qwen3-8b", hardware="h100-sxm", chips=1,
                      engine={"name": "vllm", "frontend_s": 0}, workload=wl)
    assert with_fe.engine.scheduler.frontend_s == 0.020
    a, b = closed_loop(with_fe, workload, 8), closed_loop(without, workload, 8)
    assert float(a.ttft_s - b.ttft_s) == pytest.approx(0.020, rel=1e-9)
    assert float(a.e2e_latency_s - b.e2e_latency_s) == pytest.approx(0.020, rel=1e-9)
    assert float(a.tpot_s) == float(b.tpot_s)
    sa, sb = simulate_replica(with_fe, workload, 8, seed=1), simulate_replica(
        without, workload, 8, seed=1)
    assert np.allclose(sa.ttft_s - sb.ttft_s, 0.020, rtol=0, atol=1e-12)
    assert np.array_equal(sa.tpot_s, sb.tpot_s)
    assert np.array_equal(sa.finished_s, sb.finished_s)


def test_the_front_end_is_bounded() -> None:
    with pytest.raises(InferplanError, match="frontend_s"):
        make(model="qwen3-8b", hardware="h100-sxm", chips=1,
             engine={"name": "vllm", "frontend_s": -1})


def test_adp_balance_wait_follows_its_worked_number() -> None:
    """TensorRT-LLM's attention-DP context balancing (`_balance_adp_requests`): with 8
    ranks, a 60-iteration timeout and 0.05 arrivals a step a prompt waits ≈ 37.5 steps;
    none without ranks or timeout; less as arrivals cover the ranks sooner; the batching
    wait adds itself once the ranks are covered."""
    from inferplan.serving import adp_balance_wait_steps
    assert float(adp_balance_wait_steps(0.05, 8, 60, 0)) == pytest.approx(37.4987, abs=1e-3)
    assert float(adp_balance_wait_steps(0.05, 1, 60, 0)) == 0.0
    assert float(adp_balance_wait_steps(0.05, 8, 0, 10)) == 0.0
    waits = adp_balance_wait_steps([0.01, 0.1, 1.0, 10.0], 8, 60, 0)
    assert np.all(np.diff(waits) < 0) and waits[-1] < 2.0
    assert float(adp_balance_wait_steps(10.0, 8, 60, 10) - adp_balance_wait_steps(
        10.0, 8, 60, 0)) == pytest.approx(10.0, rel=1e-6)


def test_adp_balance_holds_prompts_in_closed_form_and_simulator() -> None:
    """DeepSeek-R1 fp4 on 8 B200s with attention DP (8 ranks), 16 clients: a 60-step
    timeout adds about 0.5 s to TTFT in both; without attention DP it changes nothing."""
    from inferplan.serving import closed_loop
    from inferplan.sim.loop import simulate_replica
    wl = {"input_len": 1024, "output_len": 256, "concurrency": 16, "length_ratio": 0.8,
          "requests": 160}

    def both(timeout: int, attention: str) -> tuple[float, float]:
        dep, w = make(model="deepseek-r1", hardware="b200", chips=8,
                      parallelism={"tp": 8, "attention": attention},
                      dtypes={"weights": "fp4", "kv": "fp8"}, workload=wl,
                      engine={"name": "trtllm", "adp_balance_timeout_steps": timeout})
        return (float(closed_loop(dep, w, 16).ttft_s),
                float(np.mean(simulate_replica(dep, w, 16, seed=0).ttft_s)))

    off, on = both(0, "batch"), both(60, "batch")
    assert 0.3 < on[0] - off[0] < 0.7 and 0.3 < on[1] - off[1] < 0.7
    assert on[1] == pytest.approx(on[0], rel=0.15)
    assert both(60, "heads") == both(0, "heads")


def test_estimate_names_the_front_end_in_its_ttft(capsys: pytest.CaptureFixture[str]) -> None:
    """`inferplan estimate` says how much of a closed loop's TTFT is the front end (and
    `--json` carries it as ttft_frontend_s); a static batch has none."""
    from inferplan.report.estimate_table import render_estimate
    from inferplan.serving import estimate, estimate_dict
    dep, wl = make(model="qwen3-8b", hardware="h100-sxm", chips=1, engine="trtllm",
                   workload={"input_len": 1024, "output_len": 64, "concurrency": 4})
    est = estimate(dep, wl)
    assert est.ttft_frontend_s == 0.035 and estimate_dict(est)["ttft_frontend_s"] == 0.035
    static, swl = make(model="qwen3-8b", hardware="h100-sxm", chips=1, engine="trtllm",
                       workload={"input_len": 1024, "output_len": 64, "batch": 4})
    assert estimate(static, swl).ttft_frontend_s == 0.0
    from rich.console import Console
    render_estimate(est, Console(width=80))
    assert "TTFT includes 35.0 ms outside the steps: trtllm's front end" in capsys.readouterr().out


def test_attention_dp_ranks_are_explicit_batch_shards() -> None:
    """DeepSeek-R1 (one latent KV head) at tp 8: 8 ranks with attention: batch, 1 under
    auto (batch sharding the layout chose is one scheduler)."""
    from inferplan.parallel import Layout
    model = catalog_model("deepseek-r1")
    assert Layout(tp=8, attention="batch").attention_dp_ranks(model) == 8
    assert Layout(tp=8).attention_dp_ranks(model) == 1


def test_sglang_budget_follows_the_chips_memory() -> None:
    """SGLang picks chunked_prefill_size by GPU memory (server_args): 2048 below 35 GiB,
    8192 below 160 GiB, else 16384; a stated budget holds on every chip; with DP attention
    the budget is split over the ranks."""
    def budget(hardware: str, engine: object = "sglang") -> int:
        dep, _ = make(model="llama-3.1-8b", hardware=hardware, chips=1, engine=engine)
        return dep.token_budget

    assert budget("l4") == 2048
    assert budget("h100-sxm") == 8192
    assert budget("h200-sxm") == 8192
    assert budget("b200") == 16384
    assert budget("b200", {"name": "sglang", "max_num_batched_tokens": 4096}) == 4096
    assert budget("h100-sxm", {"name": "sglang", "max_num_batched_tokens": 4096}) == 4096
    assert budget("b200", "vllm") == 8192                 # vLLM states one budget
    dep, _ = make(model="deepseek-r1", hardware="b200", chips=8, engine="sglang",
                  parallelism={"tp": 8, "ep": 8, "attention_dp": 8},
                  dtypes={"weights": "fp4", "kv": "fp8", "compute": "fp4"})
    assert dep.rank_token_budget() == 2048.0


def test_expert_parallel_moe_waits_for_the_fullest_rank() -> None:
    """The same MiniMax-M2.5 prefill with its experts over ep = 4 ranks: the fused MoE
    rate at the full expert width (n = 1536) divided by the table's imbalance factor at
    ep 4; the factor interpolates in log2 ep between listed sizes and is 1 at ep 1."""
    from inferplan.cost import expert_ep_imbalance, expert_flops_rate
    from inferplan.efficiency import Efficiency

    ops = engine_profile("vllm").ops_for("b200")
    assert ops.moe_ep_imbalance and min(ops.moe_ep_imbalance.values()) >= 1.0
    dep, _ = make(model="minimax-m2.5", hardware="b200", chips=4,
                  parallelism={"tp": 4, "ep": 4, "layout": "megatron"}, engine="vllm",
                  dtypes={"weights": "fp8", "kv": "fp8", "compute": "fp8"})
    eff = efficiency_for(dep)
    F, half = ops.moe_flops_per_s["fp8"], ops.moe_half_width["fp8"]
    rate = expert_flops_rate(dep.model, dep.layout, eff)
    assert rate == pytest.approx(F * 1536 / (1536 + half) / ops.moe_ep_imbalance[4], rel=1e-12)
    table = Efficiency(matmul_flops_per_s=1.0, attention_flops_per_s=1.0,
                       memory_bytes_per_s=1.0,
                       expert_ep_imbalance=((2, 1.05), (4, 1.10), (8, 1.12)))
    assert expert_ep_imbalance(table, 1) == 1.0
    assert expert_ep_imbalance(table, 8) == pytest.approx(1.12)
    assert expert_ep_imbalance(table, 6) == pytest.approx(1.10 + (2.5849625 - 2) * 0.02)
    assert expert_ep_imbalance(table, 64) == pytest.approx(1.12)
    assert np.allclose(expert_ep_imbalance(table, np.array([[1.0], [4.0]])), [[1.0], [1.10]])


def test_linear_attention_prefill_is_priced_by_its_measured_kernels(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Qwen3.5-397B at tp 4 under SGLang on B200: a 8192-token prompt's 45 Gated DeltaNet
    layers cost L·(fixed + P·N_v/tp·s_head) from the engine's table, which the step's
    compute term carries in place of their FLOPs at the attention rate; a decode-only step
    carries none of it."""
    import inferplan.cost as cost
    dep, _ = make(model="qwen3.5-397b-a17b", hardware="b200", chips=4,
                  parallelism={"tp": 4, "layout": "megatron"}, engine="sglang",
                  dtypes={"weights": "fp8", "kv": "fp8", "compute": "fp8"})
    eff = efficiency_for(dep)
    ops = engine_profile("sglang").ops_for("b200")
    fixed, per = ops.linear_attention_fixed_s, ops.linear_attention_s_per_token_head
    assert fixed > 0 and per > 0 and dep.model.num_linear_attention_layers == 45
    T = 8192.0
    expected = 45 * (fixed + T * 64 / 4 * per)
    assert float(cost.linear_attention_prefill_s(dep.model, dep.layout, eff, T)) == \
        pytest.approx(expected, rel=1e-12)
    assert float(cost.linear_attention_prefill_s(dep.model, dep.layout, eff, 0.0)) == 0.0
    assert dep.model.linear_attention is not None
    linear_flops = T * dep.model.linear_attention.flops_per_token * 45 / 4
    with_table = float(step_cost(dep, "prefill", 1, T, 0).compute_s)
    decode = float(step_cost(dep, "decode", 64, 1, T).compute_s)
    monkeypatch.setattr(cost, "linear_attention_prefill_s",
                        lambda model, layout, eff, tokens: np.zeros_like(
                            np.asarray(tokens, dtype=np.float64)))
    by_flops = float(step_cost(dep, "prefill", 1, T, 0).compute_s)
    assert with_table - by_flops == pytest.approx(
        expected - linear_flops / eff.attention_flops_per_s, rel=1e-9)
    assert float(step_cost(dep, "decode", 64, 1, T).compute_s) == decode


def test_a_linear_layers_projection_gemms_follow_the_engine_build() -> None:
    """SGLang 0.5.10 and vLLM launch a Gated DeltaNet layer's projections as 3 GEMMs (merged
    in_proj_qkvz and in_proj_ba, out_proj); an `engine:` block states 0.5.9's 5 on every
    chip, leaving the other op costs alone. Qwen3.5-397B (45 linear layers): 90 more GEMM
    floors in every decode step, 90 more eager operations; a bad count is a one-line error."""
    from inferplan.cost import attention_gemms_per_layer, eager_host_s, fixed_kernel_time_s
    profile = resolve_engine({"name": "sglang", "linear_attention_gemms": 5})
    base = engine_profile("sglang")
    for chip in ("default", "b200", "h200-sxm"):
        assert base.ops_for(chip).linear_attention_gemms == 3
        old, new = base.ops_for(chip), profile.ops_for(chip)
        assert new.linear_attention_gemms == 5
        assert new.model_copy(update={"linear_attention_gemms": 3}) == old
    model = catalog_model("qwen3.5-397b-a17b")
    assert attention_gemms_per_layer(model, "linear", 5) == 5
    assert attention_gemms_per_layer(model, "full", 5) == 2
    common: dict[str, object] = dict(model="qwen3.5-397b-a17b", hardware="b200", chips=8,
                                     parallelism={"tp": 8}, dtypes={"weights": "fp8"})
    merged, _ = make(engine="sglang", **common)
    apart, _ = make(engine={"name": "sglang", "linear_attention_gemms": 5}, **common)
    e3, e5 = efficiency_for(merged), efficiency_for(apart)
    assert (e3.linear_attention_gemms, e5.linear_attention_gemms) == (3, 5)
    gap = float(fixed_kernel_time_s(model, e5, 8.0, 8)) \
        - float(fixed_kernel_time_s(model, e3, 8.0, 8))
    assert gap == pytest.approx(45 * 2 * e3.gemm_fixed_s, rel=1e-9)
    eager = float(eager_host_s(model, apart.layout, e5, 1.0)) \
        - float(eager_host_s(model, merged.layout, e3, 1.0))
    assert eager == pytest.approx(90 * e3.eager_op_host_s, rel=1e-9)
    with pytest.raises(InferplanError) as err:
        resolve_engine({"name": "sglang", "linear_attention_gemms": 1})
    assert "linear_attention_gemms" in str(err.value.field)


def test_vllm_sizes_its_graphs_from_a_stated_sequence_cap() -> None:
    """vLLM without --max-cudagraph-capture-size captures up to min(2·max_num_seqs, 512)
    tokens (VllmConfig._set_cudagraph_sizes): --max-num-seqs 4 leaves every step of more
    than 8 tokens outside the graphs; a stated capture size wins; SGLang has no such rule."""
    assert resolve_engine({"name": "vllm", "max_num_seqs": 4}).scheduler.cuda_graph_max_batch == 8
    assert resolve_engine({"name": "vllm", "max_num_seqs": 512}).scheduler \
        .cuda_graph_max_batch == 512
    assert resolve_engine({"name": "vllm", "max_num_seqs": 4, "cuda_graph_max_batch": 2048}) \
        .scheduler.cuda_graph_max_batch == 2048
    assert resolve_engine("vllm").scheduler.cuda_graph_max_batch == 512
    sglang = resolve_engine("sglang").scheduler.cuda_graph_max_batch
    assert resolve_engine({"name": "sglang", "max_num_seqs": 4}).scheduler \
        .cuda_graph_max_batch == sglang
