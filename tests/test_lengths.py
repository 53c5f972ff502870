"""Workload lengths: named distributions (their clipped means, seeded draws), a closed loop
over a lengths file, and the prefix-cache hit rate, in the simulator and the closed form,
and the one-line errors of bad values."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import cli, make, one_line_error

from inferplan.lengths import (
    cached_tokens,
    clipped_mean,
    draw_lengths,
    length_caps,
    lognormal_parameters,
    prompt_work,
)
from inferplan.serving import closed_loop, estimate
from inferplan.sim import simulate_replica, summarise_run
from inferplan.sim.requests import (
    Requests,
    closed_loop_requests,
    file_requests,
    with_file_lengths,
)
from inferplan.sim.trace import trace_requests
from inferplan.steptime import step_cost


def qwen(engine: str, C: int, S: int, n: int, tp: int, **extra: object) -> tuple:
    return make(model="qwen3-32b", hardware="h100-sxm", chips=tp, parallelism={"tp": tp},
                engine=engine, workload={"input_len": S, "output_len": n,
                                         "concurrency": C, **extra})


# ------------------------------------------------------------ distributions and means
def test_clipped_means_worked_numbers() -> None:
    """The docstrings' numbers: normal 100 at cv 1 (15.9% clipped up to 1): 108.49;
    exponential 100: 100.005; lognormal 1024 at cv 1 capped at 4,096: 992.19."""
    assert clipped_mean("normal", 100, 1.0, 2**20) == pytest.approx(108.4914, abs=1e-3)
    assert clipped_mean("exponential", 100, 1.0, 2**20) == pytest.approx(100.00498, abs=1e-4)
    assert clipped_mean("lognormal", 1024, 1.0, 4096) == pytest.approx(992.188, abs=1e-2)
    mu, sigma = lognormal_parameters(1024, 1.0)
    assert (mu, sigma) == (pytest.approx(6.58490, abs=1e-5), pytest.approx(0.83255, abs=1e-5))
    # nothing to clip: the mean itself
    assert clipped_mean("lognormal", 1024, 0.3, 2**27) == pytest.approx(1024, rel=1e-9)
    assert clipped_mean("normal", 1024, 0.1, 2**27) == pytest.approx(1024, rel=1e-9)


@pytest.mark.parametrize("dist, mean, cv, cap", [
    ("normal", 100, 1.0, 2**20), ("normal", 300, 0.5, 400), ("lognormal", 1024, 1.0, 4096),
    ("lognormal", 50, 2.0, 2**20), ("exponential", 100, 1.0, 250), ("exponential", 3, 1.0, 99)])
def test_draws_have_the_clipped_mean(dist: str, mean: int, cv: float, cap: int) -> None:
    """10⁶ seeded draws (rounded to whole tokens, clipped to [1, cap]) against the exact
    mean of the continuous draw: within four standard errors and 0.02 tokens (the
    rounding, not in the formula: about 0.01 token for the steep exponential of mean 3)."""
    x = draw_lengths(dist, mean, 1.0, cv, cap, 1_000_000, np.random.default_rng(0))
    assert x.dtype == np.int64 and x.min() >= 1 and x.max() <= cap
    exact = clipped_mean(dist, mean, cv, cap)
    assert abs(x.mean() - exact) < 4 * x.std() / 1000 + 0.02


def test_workload_means() -> None:
    """Uniform keeps L·(1 + ratio)/2; a named distribution's mean is the clipped one the
    simulator draws from; the model's context caps it (Qwen3-32B: 40,960 tokens)."""
    _, uni = qwen("vllm", 8, 1024, 256, 1, length_ratio=0.8)
    assert (uni.mean_input_len, uni.mean_output_len) == (921.6, 230.4)
    assert uni.max_context_tokens == 40_960 and length_caps(40_960) == (40_959, 40_959)
    _, norm = qwen("vllm", 8, 100, 100, 1, length_distribution="normal", length_cv=1.0)
    assert norm.mean_input_len == pytest.approx(108.4914, abs=1e-3)
    assert not norm.fixed_lengths and uni.fixed_lengths is False
    _, ln = qwen("vllm", 8, 30_000, 1024, 1, length_distribution="lognormal", length_cv=1.0)
    assert ln.mean_input_len == pytest.approx(clipped_mean("lognormal", 30_000, 1.0, 40_959))
    assert ln.mean_input_len < 29_000
    _, fixed = qwen("vllm", 8, 1024, 256, 1)
    assert fixed.fixed_lengths and fixed.mean_input_len == 1024


def test_draws_are_seeded_and_fit_the_context() -> None:
    """Same seed, same lengths; another seed, others. A prompt never passes the context
    less one token, and each output is held to what its prompt leaves."""
    _, wl = qwen("vllm", 16, 20_000, 20_000, 1, length_distribution="lognormal",
                 length_cv=1.0, requests=5000)
    a, b = closed_loop_requests(wl, 16, seed=3), closed_loop_requests(wl, 16, seed=3)
    c = closed_loop_requests(wl, 16, seed=4)
    assert a.input_tokens.tobytes() == b.input_tokens.tobytes()
    assert a.output_tokens.tobytes() == b.output_tokens.tobytes()
    assert a.input_tokens.tobytes() != c.input_tokens.tobytes()
    total = a.input_tokens + a.output_tokens
    assert total.max() <= 40_960 and a.input_tokens.max() <= 40_959
    assert (total == 40_960).sum() > 100          # the context binds here, as meant
    assert a.input_tokens.min() >= 1 and a.output_tokens.min() >= 1


def test_uniform_draws_did_not_change() -> None:
    """The uniform stream is today's: two `uniform_lengths` draws from one generator."""
    from inferplan.sim.requests import uniform_lengths
    _, wl = qwen("vllm", 8, 1024, 256, 1, length_ratio=0.8)
    reqs = closed_loop_requests(wl, 8, seed=5)
    rng = np.random.default_rng(5)
    assert reqs.input_tokens.tobytes() == uniform_lengths(1024, 0.8, 80, rng).tobytes()
    assert reqs.output_tokens.tobytes() == uniform_lengths(256, 0.8, 80, rng).tobytes()


# ------------------------------------------------------------ prefix cache
def test_cached_tokens_and_prompt_work_worked_numbers() -> None:
    assert cached_tokens(np.array([1000, 3, 1, 1024]), 0.75).tolist() == [750, 2, 0, 768]
    assert cached_tokens(np.array([3]), 0.9).tolist() == [2]     # one token is computed
    assert cached_tokens(np.array([1000]), 0.0).tolist() == [0]
    assert prompt_work(1024, 0.75) == (256.0, 768.0)
    assert prompt_work(1024, 0.0) == (1024, 0)
    _, wl = qwen("vllm", 8, 1024, 256, 1, prefix_hit_rate=0.75)
    assert (wl.mean_computed_input_len, wl.mean_cached_input_len) == (256.0, 768.0)


def test_the_simulator_computes_only_uncached_prompt_tokens() -> None:
    """Every prompt token a step carries is an uncached one: Σ (S − round(h·S)) over the
    requests (no preemption here); the KV still holds whole prompts."""
    dep, wl = qwen("vllm", 16, 1024, 64, 2, length_ratio=0.8, prefix_hit_rate=0.6)
    run = simulate_replica(dep, wl, 16, seed=1)
    S = run.requests.input_tokens
    assert run.preemptions == 0
    carried = float((run.log[:, 6] * run.log[:, 3]).sum())
    assert carried == float((S - cached_tokens(S, 0.6)).sum())
    assert carried == pytest.approx(0.4 * S.sum(), rel=0.01)
    plain = simulate_replica(dep, replace(wl, prefix_hit_rate=0.0), 16, seed=1)
    assert summarise_run(run).ttft_s.mean < 0.8 * summarise_run(plain).ttft_s.mean
    assert run.log[:, 7].max() == pytest.approx(plain.log[:, 7].max(), rel=0.05)


def test_closed_form_prices_uncached_work_on_cached_context() -> None:
    """vLLM, prompts up to 1,024 tokens (ratio 0.8) at h = 0.75 beside 32 decodes: one
    chunk of a quarter of each prompt's tokens, attending to the cached rest; the decodes
    as without. The one-prompt prefill of `estimate` (the longest prompt, 1,024) is
    step_cost(1, 256, 768), between a 256-token prompt's and a 1,024-token one's."""
    dep, wl = qwen("vllm", 32, 1024, 256, 2, prefix_hit_rate=0.75, length_ratio=0.8)
    loop, plain = closed_loop(dep, wl, 32), closed_loop(dep, replace(wl, prefix_hit_rate=0), 32)
    assert float(loop.prompt_step.latency_s) < float(plain.prompt_step.latency_s)
    assert float(loop.decode_step.latency_s) == float(plain.decode_step.latency_s)
    assert float(loop.ttft_s) < float(plain.ttft_s)
    est = estimate(dep, wl)
    expected = float(step_cost(dep, "prefill", 1, 256.0, 768.0).latency_s)
    assert est.prefill.latency_s == pytest.approx(expected, rel=1e-12)
    short = float(step_cost(dep, "prefill", 1, 256, 0).latency_s)
    whole = float(step_cost(dep, "prefill", 1, 1024, 0).latency_s)
    assert short < expected < whole


def test_static_batch_prefill_with_a_hit_rate() -> None:
    dep, wl = make(model="qwen3-32b", hardware="h100-sxm", chips=2, parallelism={"tp": 2},
                   workload={"input_len": 2048, "output_len": 16, "batch": 8,
                             "prefix_hit_rate": 0.5})
    est = estimate(dep, wl)
    assert est.ttft_s == pytest.approx(
        float(step_cost(dep, "prefill", 8, 1024.0, 1024.0).latency_s), rel=1e-12)


# ------------------------------------------------------------ simulator vs closed form
AGREE = [  # engine, C, S, n, tp, workload fields
    ("vllm", 32, 1024, 256, 2, {"length_ratio": 0.8, "prefix_hit_rate": 0.75}),
    ("sglang", 16, 2048, 128, 8, {"prefix_hit_rate": 0.9}),
    ("trtllm", 128, 2048, 256, 4, {"prefix_hit_rate": 0.5}),
    ("vllm", 32, 1024, 256, 2, {"length_distribution": "lognormal", "length_cv": 0.5}),
    ("trtllm", 32, 2048, 256, 4, {"length_distribution": "lognormal", "length_cv": 0.5}),
    ("sglang", 64, 1024, 512, 4, {"length_distribution": "lognormal", "length_cv": 0.5,
                                  "prefix_hit_rate": 0.5}),
    ("vllm", 32, 1024, 256, 2, {"length_distribution": "normal", "length_cv": 0.3}),
]


@pytest.mark.parametrize("case", AGREE, ids=[f"{c[0]}-C{c[1]}-{'-'.join(map(str, c[5].values()))}"
                                             for c in AGREE])
def test_agrees_with_the_closed_form(case: tuple) -> None:
    """tests/test_sim.py's bar (TPOT within 5%, TTFT within 15%, 40·C requests) with a
    prefix-cache hit rate and with named distributions."""
    engine, C, S, n, tp, extra = case
    dep, wl = qwen(engine, C, S, n, tp, requests=40 * C, **extra)
    s = summarise_run(simulate_replica(dep, wl, C, seed=0))
    loop = closed_loop(dep, wl, C)
    assert s.tpot_s.mean == pytest.approx(float(loop.tpot_s), rel=0.05)
    assert s.ttft_s.mean == pytest.approx(float(loop.ttft_s), rel=0.15)


# ------------------------------------------------------------ lengths from a file
def test_file_requests_wrap_and_means() -> None:
    """100 rows, N = 40: replica 0 sends rows 0–39, replica 2 rows 80–99 then 0–19; the
    closed form reads the mean of what is sent."""
    rows = Requests(np.arange(1, 101, dtype=np.int64), np.arange(101, 201, dtype=np.int64))
    _, wl = qwen("vllm", 8, 512, 64, 1, requests=40)
    assert file_requests(rows, wl, 8).input_tokens.tolist() == list(range(1, 41))
    third = file_requests(rows, wl, 8, replica=2).input_tokens.tolist()
    assert third == list(range(81, 101)) + list(range(1, 21))
    assert file_requests(rows, replace(wl, requests=None), 8).count == 100
    assert file_requests(rows, replace(wl, requests=None), 200).count == 200   # at least C
    means = with_file_lengths(wl, rows, 8)
    assert (means.mean_input_len, means.mean_output_len) == (20.5, 120.5)
    assert not means.fixed_lengths


def test_untimed_trace_keeps_file_order_without_timestamps() -> None:
    r = trace_requests("timestamp,input_tokens,output_tokens\n0.5,100,10\n0.0,200,20\n",
                       timed=False)
    assert r.input_tokens.tolist() == [100, 200] and r.arrival_s is None
    lengths = trace_requests("input_tokens,output_tokens\n7,3\n9,4\n", timed=False)
    assert lengths.output_tokens.tolist() == [3, 4]


def test_closed_loop_over_a_lengths_file(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """`trace` with `concurrency`: the clients send the file's rows in order (no timestamps
    needed); the closed form beside it, and `estimate`, read the file's means."""
    rows = [(300 + 97 * i % 700, 20 + 13 * i % 60) for i in range(30)]
    (tmp_path / "lengths.csv").write_text(
        "input_tokens,output_tokens\n" + "".join(f"{a},{b}\n" for a, b in rows))
    scenario = tmp_path / "s.yaml"
    scenario.write_text("model: qwen3-32b\nhardware: h100-sxm\nchips: 4\nparallelism: {tp: 2}\n"
                        "engine: vllm\nworkload: {input_len: 1024, output_len: 128, "
                        "concurrency: 4, trace: lengths.csv}\n")
    code, out, err = cli(capsys, "simulate", str(scenario), "--json")
    assert code == 0, err
    record = json.loads(out)
    assert record["requests"] == 60 and record["closed_form"]["tpot_s"] > 0  # 2 replicas
    assert record["mean_input_tokens"] == pytest.approx(np.mean([a for a, _ in rows]))
    assert (record["length_distribution"], record["prefix_hit_rate"]) == ("uniform", 0.0)
    code, out, err = cli(capsys, "estimate", str(scenario), "--json")
    assert code == 0, err
    from inferplan.cli.loader import load_scenario
    dep, wl = load_scenario(str(scenario))
    assert wl.mean_input_len == pytest.approx(np.mean([a for a, _ in rows]))
    assert json.loads(out)["ttft_s"] == pytest.approx(float(closed_loop(dep, wl, 4).ttft_s))
    from inferplan.sim.run import simulate
    sim = simulate(dep, wl, 0, trace_requests((tmp_path / "lengths.csv").read_text(),
                                              timed=False))
    sent = sim.run.requests.input_tokens.tolist()
    assert sent == [a for a, _ in rows] * 2          # each replica sends the file once


# ------------------------------------------------------------ errors
BASE = ("model: qwen3-32b\nhardware: h100-sxm\nchips: 1\n"
        "workload: {input_len: 1024, output_len: 128, concurrency: 8, EXTRA}\n")


@pytest.mark.parametrize("extra, start, allowed", [
    ("prefix_hit_rate: 1.2", "scenario.workload.prefix_hit_rate: 1.2 is not valid", "less than 1"),
    ("prefix_hit_rate: -0.1", "scenario.workload.prefix_hit_rate: -0.1", "greater than or equal"),
    ("length_distribution: lognormal, length_cv: -1",
     "scenario.workload.length_cv: -1", "greater than 0"),
    ("length_distribution: zipf", "scenario.workload.length_distribution: 'zipf'",
     "'uniform', 'normal', 'lognormal' or 'exponential'"),
    ("length_distribution: lognormal", "scenario.workload.length_cv: None",
     "a number > 0 with length_distribution lognormal"),
    ("length_distribution: exponential, length_cv: 0.5", "scenario.workload.length_cv: 0.5",
     "its cv is 1"),
    ("length_cv: 0.5", "scenario.workload.length_cv: 0.5", "applies to normal and lognormal"),
    ("length_distribution: normal, length_cv: 0.5, length_ratio: 0.8",
     "scenario.workload.length_ratio: 0.8", "give length_cv for normal or lognormal"),
    ("trace: t.csv, length_distribution: normal, length_cv: 0.5", "scenario.workload:",
     "takes its lengths from the file"),
])
def test_bad_lengths_exit_2_naming_the_field(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             extra: str, start: str, allowed: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(BASE.replace("EXTRA", extra))
    for command in ("estimate", "simulate"):
        line = one_line_error(capsys, command, str(path))
        assert line.startswith(f"error: {start}"), line
        assert allowed in line, line


def test_summary_line_names_the_lengths() -> None:
    from inferplan.sim.run import lengths_text
    _, uni = qwen("vllm", 8, 1024, 256, 1, length_ratio=0.8)
    assert lengths_text(uni) == "1024 in / 256 out (ratio 0.8)"
    _, ln = qwen("vllm", 8, 1024, 256, 1, length_distribution="lognormal", length_cv=0.5,
                 prefix_hit_rate=0.75)
    assert lengths_text(ln) == ("mean 1024 in / 256 out (lognormal, cv 0.5), "
                                "prefix hit rate 0.75")
    assert lengths_text(replace(uni, file_mean_lengths=(540.2, 47.9))) == (
        "the trace's lengths (mean 540 in / 48 out)")


def test_estimate_counts_the_mean_output_of_a_distribution() -> None:
    """Output tokens/s = requests/s × the mean output (exponential 256: 256.0)."""
    dep, wl = qwen("vllm", 16, 1024, 256, 2, length_distribution="exponential")
    est = estimate(dep, wl)
    assert est.output_tokens_per_s == pytest.approx(est.requests_per_s * wl.mean_output_len)
    assert wl.mean_output_len == pytest.approx(256.0, abs=0.01)
