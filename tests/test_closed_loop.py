"""The closed-loop serving model (`serving.closed_loop`): properties a benchmark client's
runs have, and the worked numbers of its helpers."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from tests.conftest import make

from inferplan.cost import step_cost
from inferplan.serving import admitted_sequences, closed_loop, mean_ceil

C = np.array([1, 4, 16, 64, 128], dtype=np.float64)


def loop(engine: str, ratio: float = 1.0, tp: int = 2, S: int = 2048, n: int = 256) -> tuple:
    dep, wl = make(model="qwen3-32b", hardware="h100-sxm", chips=tp, parallelism={"tp": tp},
                   engine=engine, workload={"input_len": S, "output_len": n,
                                            "concurrency": 1, "length_ratio": ratio})
    return dep, wl, closed_loop(dep, wl, C)


def test_mean_ceil_worked_number() -> None:
    assert float(mean_ceil(0.25, 8)) == pytest.approx(1.5)
    assert float(mean_ceil(2.0, 3)) == pytest.approx(4.0)          # (2 + 4 + 6)/3
    np.testing.assert_allclose(mean_ceil(np.array([0.25, 1.0]), 8), [1.5, 4.5])


@pytest.mark.parametrize("engine", ["vllm", "sglang", "trtllm", "generic"])
@pytest.mark.parametrize("ratio", [0.8, 1.0])
def test_ttft_is_never_below_one_prompts_prefill(engine: str, ratio: float) -> None:
    dep, wl, result = loop(engine, ratio)
    one = float(step_cost(dep, "prefill", 1, wl.mean_input_len, 0).latency_s)
    assert np.all(result.ttft_s >= one * (1 - 1e-9))
    assert np.all(np.diff(result.tpot_s) > 0)                  # more clients, slower tokens
    assert np.all(np.diff(result.ttft_s) > 0)


def test_prefill_first_with_fixed_lengths_runs_in_waves() -> None:
    """SGLang, fixed lengths: every wave's prompts prefill before any decodes, so every
    request sees the first wave's TTFT, and TPOT is the decode step plus the wait for the
    rest of its wave's prompts."""
    _, _, result = loop("sglang", 1.0)
    np.testing.assert_allclose(result.ttft_s, result.first_wave_ttft_s, rtol=1e-12)
    assert np.all(result.tpot_s >= result.decode_step.latency_s)
    # with spread lengths later requests arrive one at a time: far less than a wave
    _, _, spread = loop("sglang", 0.8)
    assert spread.ttft_s[-1] < result.ttft_s[-1]


def test_mixed_steps_carry_prompts_beside_decodes() -> None:
    """vLLM: TPOT is the decode step plus the share of steps that carry a prompt chunk."""
    _, _, result = loop("vllm", 0.8)
    d, p, phi = result.decode_step.latency_s, result.prompt_step.latency_s, result.prompt_share
    np.testing.assert_allclose(result.tpot_s, phi * p + (1 - phi) * d, rtol=1e-12)
    assert np.all((phi > 0) & (phi <= 1))


def test_clients_beyond_the_kv_cache_queue() -> None:
    dep, wl = make(model="qwen3-32b", hardware="h100-sxm", chips=1, engine="vllm",
                   dtypes={"weights": "fp8", "kv": "fp8", "compute": "fp8"},
                   workload={"input_len": 4096, "output_len": 1024, "concurrency": 1})
    cap = admitted_sequences(dep, wl)
    res = closed_loop(dep, wl, np.array([cap, 2 * cap], dtype=np.float64))
    assert res.running[1] == cap
    # twice the clients on the same running batch: about a request lifetime more TTFT
    lifetime = res.steady_ttft_s[0] + (wl.mean_output_len - 1) * res.tpot_s[0]
    assert res.steady_ttft_s[1] - res.steady_ttft_s[0] == pytest.approx(lifetime, rel=0.05)
    # reserving admission holds the longest context: fewer sequences run
    reserve = replace(dep, engine=dep.engine.with_overrides({"kv_admission": "reserve_full"}))
    assert admitted_sequences(reserve, wl) < cap


def test_requests_weight_the_first_wave() -> None:
    dep, wl, _ = loop("vllm", 0.8)
    one_wave = closed_loop(dep, replace(wl, requests=16), 16)
    many = closed_loop(dep, replace(wl, requests=1600), 16)
    assert float(one_wave.ttft_s) == pytest.approx(float(one_wave.first_wave_ttft_s))
    assert float(many.ttft_s) < float(one_wave.ttft_s)


def test_poll_wait_worked_number() -> None:
    """A closed-loop client's next request reaches the scheduler after the engine composed
    the step that follows its predecessor's completion: it waits that whole step."""
    from inferplan.serving import poll_wait_s
    assert float(poll_wait_s(0.0357, 0.020, 30)) == pytest.approx(0.0357 + 0.29)
    assert float(poll_wait_s(0.0357, 0.020, 1)) == pytest.approx(0.0357)
    # an overlap scheduler adds the step already composed when the request came
    assert float(poll_wait_s(0.0357, 0.020, 1, True)) == pytest.approx(2 * 0.0357)


def test_train_wait_worked_number() -> None:
    """The docstring's case (w = 2, G = 8): P = 13 prompt steps over the groups; one group
    waits two decode steps; without overlap (w = 1) the k-th group waits for the group
    ahead's prompt step, the first a decode step."""
    from inferplan.serving import train_wait_s
    wait, waited = train_wait_s(0.0091, 0.1231, 8, 2.0)
    assert float(wait) == pytest.approx((13 * 0.1231 + 3 * 0.0091) / 8)
    assert float(waited) == pytest.approx(13 / 8)
    assert float(train_wait_s(0.0091, 0.123, 1, 2.0)[0]) == pytest.approx(2 * 0.0091)
    assert float(train_wait_s(0.0091, 0.123, 8, 1.0)[0]) == pytest.approx(
        (0.0091 + 7 * 0.123) / 8)


def test_overlap_scheduling_delays_later_prompts_by_a_step() -> None:
    """Spread lengths: a later request waits one mean step more under an overlap scheduler
    (TensorRT-LLM's default); the first wave (an idle engine) does not, nor does TPOT."""
    base = dict(model="qwen3-32b", hardware="h100-sxm", chips=2, parallelism={"tp": 2},
                workload={"input_len": 2048, "output_len": 256, "concurrency": 32,
                          "length_ratio": 0.8})
    dep_on, wl = make(**base, engine="trtllm")
    dep_off, _ = make(**base, engine={"name": "trtllm", "overlap_scheduling": False})
    on, off = closed_loop(dep_on, wl, 32), closed_loop(dep_off, wl, 32)
    assert float(on.tpot_s) == pytest.approx(float(off.tpot_s))
    assert float(on.first_wave_ttft_s) == pytest.approx(float(off.first_wave_ttft_s))
    assert float(on.steady_ttft_s - off.steady_ttft_s) == pytest.approx(float(on.tpot_s))


def test_recv_interval_must_be_a_positive_count() -> None:
    from inferplan.units import InferplanError
    with pytest.raises(InferplanError, match="recv_interval_steps"):
        make(model="qwen3-32b", hardware="h100-sxm", chips=1,
             engine={"name": "sglang", "recv_interval_steps": 0})


def test_overlap_under_speculative_decoding_follows_each_engine() -> None:
    """vLLM keeps async scheduling with the target's MTP module only; SGLang turns its
    overlap schedule off for speculative decoding; TensorRT-LLM keeps it with drafts too
    (`overlap_speculative`, sourced in each profile)."""
    from inferplan.deployment import overlap_scheduling
    mtp = dict(model="deepseek-r1", hardware="b200", chips=8, parallelism={"tp": 8},
               dtypes={"weights": "fp8", "kv": "fp8", "compute": "fp8"},
               speculative={"draft": "mtp", "gamma": 2, "alpha": 0.8},
               workload={"input_len": 1024, "output_len": 64, "concurrency": 4})
    draft = dict(model="llama-3.1-8b", hardware="h100-sxm", chips=1,
                 speculative={"draft": "llama-3.2-1b", "gamma": 3, "alpha": 0.7},
                 workload={"input_len": 1024, "output_len": 64, "concurrency": 4})
    expected = {("vllm", "mtp"): True, ("vllm", "draft"): False, ("sglang", "mtp"): False,
                ("sglang", "draft"): False, ("trtllm", "mtp"): True, ("trtllm", "draft"): True}
    for (engine, kind), want in expected.items():
        dep, _ = make(**(mtp if kind == "mtp" else draft), engine=engine)
        assert overlap_scheduling(dep) is want, (engine, kind)
        plain = replace(dep, speculative=None)
        assert overlap_scheduling(plain) is True
