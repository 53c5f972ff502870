"""The layer GEMMs' shapes and what they cost the compute rate; collectives' activation bytes."""

from __future__ import annotations

import numpy as np
import pytest
from tests.conftest import make

from inferplan.cost import gemm_shape_factor, gemm_shapes, layer_gemm_share, step_cost
from inferplan.efficiency import efficiency_for
from inferplan.models import catalog_model
from inferplan.parallel import Layout
from inferplan.rows import DeploymentRows
from inferplan.units import InferplanError, activation_bytes


def test_activation_bytes_are_16_bit_below_16_bits() -> None:
    assert activation_bytes("fp8") == 2.0
    assert activation_bytes("fp4") == 2.0
    assert activation_bytes("int8") == 2.0
    assert activation_bytes("bf16") == 2.0
    assert activation_bytes("fp32") == 4.0
    with pytest.raises(InferplanError):
        activation_bytes("fp9")


def test_fp8_gemms_all_reduce_bf16_activations() -> None:
    """The tensor-parallel all-reduces of an fp8 deployment move what a bf16 one's do: the
    GEMMs write bf16 whatever their input dtype."""
    steps = []
    for dtype in ("bf16", "fp8"):
        dep, _ = make(model="qwen3-32b", hardware="h100-sxm", chips=8, engine="trtllm",
                      parallelism={"tp": 8, "layout": "megatron"},
                      dtypes={"weights": dtype, "kv": dtype, "compute": dtype})
        steps.append(float(step_cost(dep, "prefill", 1, 2048, 0).communication_s))
    assert steps[1] == pytest.approx(steps[0], rel=1e-12)


def test_qwen3_32b_shapes_at_tp8() -> None:
    model = catalog_model("qwen3-32b")
    shapes = gemm_shapes(model, Layout(tp=8, layout="megatron"))
    assert shapes == ((1280.0, 5120.0, 64.0), (5120.0, 1024.0, 64.0),
                      (6400.0, 5120.0, 64.0), (5120.0, 3200.0, 64.0))


def test_shape_factor_worked_number_and_limits() -> None:
    model = catalog_model("qwen3-32b")
    factors = [gemm_shape_factor(model, Layout(tp=tp, layout="megatron"), 2230.0, 609.0)
               for tp in (1, 2, 4, 8)]
    assert factors[-1] == pytest.approx(0.556, abs=5e-4)
    assert factors == sorted(factors, reverse=True)       # narrower shards, lower rate
    assert gemm_shape_factor(model, Layout(tp=8, layout="megatron"), 0.0, 0.0) == 1.0


def test_every_kind_of_layer_has_shapes() -> None:
    """MLA, sparse (DSA), linear attention and MoE layers give positive shapes."""
    for name, tp in (("deepseek-r1", 8), ("glm-5", 8), ("qwen3.5-397b-a17b", 8),
                     ("gpt-oss-120b", 4), ("minimax-m2.5", 4)):
        model = catalog_model(name)
        shapes = gemm_shapes(model, Layout(tp=tp, ep=tp, layout="megatron"))
        assert shapes and all(n > 0 and k > 0 and c > 0 for n, k, c in shapes), name
        assert 0.0 < gemm_shape_factor(model, Layout(tp=tp, ep=tp, layout="megatron"),
                                       2000.0, 600.0) < 1.0


def test_tensorrt_llm_fp8_prompt_compute_follows_the_shape(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """TensorRT-LLM on H100 states fp8 half widths (its per-op table): a prompt step's
    matmul time at tp 8 is the full-rate one over the shape factor (attention, priced on
    its own, keeps the ratio a little under 1/share)."""
    import inferplan.cost as cost

    dep, _ = make(model="qwen3-32b", hardware="h100-sxm", chips=8, engine="trtllm",
                  parallelism={"tp": 8, "layout": "megatron"},
                  dtypes={"weights": "fp8", "kv": "fp8", "compute": "fp8"})
    eff = efficiency_for(dep)
    assert eff.gemm_n_half > 1000 and eff.gemm_k_half > 100
    share = layer_gemm_share(dep)
    assert share == pytest.approx(
        gemm_shape_factor(dep.model, dep.layout, eff.gemm_n_half, eff.gemm_k_half))
    shaped = float(step_cost(dep, "prefill", 1, 2048, 0).compute_s)
    monkeypatch.setattr(cost, "layer_gemm_share", lambda deployment: 1.0)
    full = float(step_cost(dep, "prefill", 1, 2048, 0).compute_s)
    assert 0.9 / share < shaped / full <= 1.0 / share + 1e-9


def test_rows_take_each_members_share() -> None:
    members = []
    for tp in (2, 8):
        dep, _ = make(model="qwen3-32b", hardware="h100-sxm", chips=tp, engine="trtllm",
                      parallelism={"tp": tp, "layout": "megatron"},
                      dtypes={"weights": "fp8", "kv": "fp8", "compute": "fp8"})
        members.append(dep)
    rows = DeploymentRows(tuple(members), np.array([[0], [1], [1]]))
    got = np.asarray(layer_gemm_share(rows))
    assert got.shape == (3, 1)
    assert got[0, 0] == pytest.approx(layer_gemm_share(members[0]))
    assert got[2, 0] == pytest.approx(layer_gemm_share(members[1]))
    assert got[0, 0] > got[1, 0]


def test_negative_half_width_is_refused() -> None:
    from inferplan.engines import OpCosts

    with pytest.raises(ValueError):
        OpCosts(gemm_half_width={"fp8": {"n": -1.0, "k": 600.0}})
    assert OpCosts(gemm_half_width={"fp8": {"n": 2230.0, "k": 609.0}}
                   ).gemm_half_width["fp8"]["n"] == 2230.0


def test_a_synchronous_vllm_step_waits_for_its_host_work() -> None:
    """vLLM without async scheduling (0.13 and earlier) pays the step's host work, 1.0 ms
    + 27 µs a running sequence; with it the work hides behind the previous step."""
    from inferplan.cost import synchronous_host_s

    common: dict[str, object] = dict(model="qwen3-32b", hardware="h100-sxm", chips=8,
                                     parallelism={"tp": 8, "layout": "megatron"})
    on, _ = make(engine="vllm", **common)
    off, _ = make(engine={"name": "vllm", "overlap_scheduling": False}, **common)
    assert float(synchronous_host_s(on, 8)) == 0.0
    assert float(synchronous_host_s(off, 8)) == pytest.approx(1.0e-3 + 8 * 2.7e-5)
    gap = float(step_cost(off, "decode", 8, 1, 1000).latency_s) \
        - float(step_cost(on, "decode", 8, 1, 1000).latency_s)
    assert gap == pytest.approx(1.216e-3, rel=1e-9)
    ideal, _ = make(engine={"name": "vllm", "overlap_scheduling": False},
                    efficiency="ideal", **common)
    assert float(synchronous_host_s(ideal, 8)) == 0.0


def test_a_draft_pass_pays_no_host_step() -> None:
    from inferplan.cost import synchronous_host_s
    from inferplan.speculative import draft_deployment

    target, _ = make(model="llama-3.1-70b", hardware="h100-sxm", chips=8,
                     parallelism={"tp": 8, "layout": "megatron"},
                     engine={"name": "vllm", "overlap_scheduling": False})
    draft = draft_deployment(target, catalog_model("llama-3.2-1b"))
    assert float(synchronous_host_s(target, 4)) > 0.0
    assert float(synchronous_host_s(draft, 4)) == 0.0


def test_sglangs_eagle_cycle_without_overlap_waits_for_its_host_work() -> None:
    """SGLang runs EAGLE/MTP without its overlap scheduler unless spec v2 is on, so the
    verify step waits for the scheduler's 2.0 ms (PR #12128: DeepSeek-R1 tp 8, 16.34 ms
    a cycle without overlap against 14.38 with it); plain decoding overlaps it (0)."""
    from inferplan.cost import synchronous_host_s
    from inferplan.models import mtp_draft
    from inferplan.speculative import draft_deployment

    common: dict[str, object] = dict(model="deepseek-r1", hardware="b200", chips=8,
                                     parallelism={"tp": 8, "layout": "megatron"},
                                     engine="sglang", dtypes={"weights": "fp8", "kv": "fp8"})
    plain, _ = make(**common)
    mtp, _ = make(speculative={"draft": "mtp", "gamma": 2, "alpha": 0.85}, **common)
    assert float(synchronous_host_s(plain, 64)) == 0.0
    assert float(synchronous_host_s(mtp, 64)) == pytest.approx(2.0e-3)
    draft = draft_deployment(mtp, mtp_draft(mtp.model))
    assert float(synchronous_host_s(draft, 64)) == 0.0


def test_step_host_overrides_are_validated() -> None:
    dep, _ = make(model="qwen3-32b", hardware="h100-sxm", chips=1,
                  engine={"name": "sglang", "overlap_scheduling": False,
                          "step_host_s": 2e-3})
    assert dep.engine.scheduler.step_host_s == 2e-3
    with pytest.raises(InferplanError) as err:
        make(model="qwen3-32b", hardware="h100-sxm", chips=1,
             engine={"name": "vllm", "step_host_s": -1.0})
    assert "step_host_s" in str(err.value.field) + str(err.value)
