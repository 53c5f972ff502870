"""Speculative decoding (Leviathan et al. 2023): formula goldens, a hand-computed roofline
case, properties, the vectorised γ search, memory with the draft, and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import make
from typer.testing import CliRunner

from inferplan.cli import app
from inferplan.memory import max_batch, memory_breakdown
from inferplan.models import catalog_model
from inferplan.speculative import (
    best_gamma,
    draft_deployment,
    expected_tokens_per_step,
    max_batch_with_draft,
    speculative_cost,
    speculative_memory,
    speculative_result,
    speculative_tpot,
)
from inferplan.units import InferplanError

DRAFT = catalog_model("llama-3.2-1b")


def rngd(tp: int = 8, **workload: object) -> tuple:  # type: ignore[type-arg]
    wl = {"input_len": 1024, "output_len": 256, "batch": 32, **workload}
    return make(model="llama-3.1-8b", hardware="rngd", chips=1,
                parallelism={"tp": tp}, workload=wl)


# ------------------------------------------------------------------ formulae
def test_expected_tokens_golden() -> None:
    # (1 − 0.8⁵)/(1 − 0.8) = (1 − 0.32768)/0.2
    assert float(expected_tokens_per_step(0.8, 4)) == pytest.approx(3.3616, abs=1e-12)
    assert expected_tokens_per_step(0.5, [0, 1, 2, 3]).tolist() == pytest.approx(
        [1.0, 1.5, 1.75, 1.875])


@pytest.mark.parametrize("gamma", [0, 1, 4, 8])
def test_expected_tokens_limits(gamma: int) -> None:
    assert float(expected_tokens_per_step(1.0, gamma)) == gamma + 1
    assert float(expected_tokens_per_step(1.0 - 1e-12, gamma)) == pytest.approx(gamma + 1,
                                                                                rel=1e-9)
    assert float(expected_tokens_per_step(0.0, gamma)) == 1.0
    assert float(expected_tokens_per_step(1e-15, gamma)) == pytest.approx(1.0)


def test_tpot_formula_hand_numbers() -> None:
    # t_draft 2 ms, t_verify 10 ms, α 0.8, γ 4: (4·2 + 10)/3.3616 ms
    assert float(speculative_tpot(2e-3, 10e-3, 0.8, 4)) == pytest.approx(18e-3 / 3.3616)
    assert float(speculative_tpot(2e-3, 10e-3, 0.8, 0)) == pytest.approx(10e-3)


@pytest.mark.parametrize("alpha", [-0.1, 1.5, float("nan"), "high", True])
def test_bad_alpha(alpha: object) -> None:
    with pytest.raises(InferplanError, match="alpha"):
        expected_tokens_per_step(alpha, 4)  # type: ignore[arg-type]


@pytest.mark.parametrize("gamma", [-1, 1.5, [2, -3]])
def test_bad_gamma(gamma: object) -> None:
    with pytest.raises(InferplanError, match="gamma"):
        expected_tokens_per_step(0.7, gamma)  # type: ignore[arg-type]


# --------------------------------------------------------- hand-computed case
def test_hand_computed_ideal_h100_batch_one() -> None:
    """Llama-3.1-8B bf16 target, Llama-3.2-1B draft, one H100 SXM, ideal roofline, B=1:
    every step is memory-bound, so each takes (weight bytes + KV bytes)/bandwidth.

    Weights read per step (embedding table not read, LM head read): 8B: 32 layers ·
    (41,943,040 attention + 176,160,768 FFN + 8,192 norms) + 128,256·4096 = 7,504,920,576
    params; 1B: 16 · (10,485,760 + 50,331,648 + 4,096) + 128,256·2048 = 1,235,812,352.
    KV per position: 2·K·H·L·2 B = 131,072 (8B), 32,768 (1B).
    """
    dep, _ = make(model="llama-3.1-8b", hardware="h100-sxm", chips=1, efficiency="ideal",
                  parallelism={"tp": 1})
    bw, T, alpha, gamma = 3.35e12, 1024, 0.8, 4
    w8, w1 = 2 * 7_504_920_576, 2 * 1_235_812_352
    decode = (w8 + (T + 1) * 131_072) / bw                    # reads kv+q positions
    verify = (w8 + (T + gamma + 1) * 131_072) / bw
    draft = (w1 + (T + (gamma - 1) / 2 + 1) * 32_768) / bw    # mean draft context
    tpot = (gamma * draft + verify) / 3.3616
    c = speculative_cost(dep, DRAFT, 1, T, alpha, gamma)
    assert float(c.decode_step_s) == pytest.approx(decode, rel=1e-9)
    assert float(c.verify_step_s) == pytest.approx(verify, rel=1e-9)
    assert float(c.draft_step_s) == pytest.approx(draft, rel=1e-9)
    assert float(c.tpot_s) == pytest.approx(tpot, rel=1e-9)
    assert float(c.speedup) == pytest.approx(decode / tpot, rel=1e-9)
    assert float(c.speedup) == pytest.approx(2.02, abs=0.005)
    assert float(c.output_tokens_per_s) == pytest.approx(1 / tpot, rel=1e-9)


def test_rngd_docstring_numbers() -> None:
    dep, _ = rngd(8)
    c = speculative_cost(dep, DRAFT, 1, 1152, 0.8, 4)
    assert float(c.decode_step_s) == pytest.approx(14.51e-3, abs=0.01e-3)
    assert float(c.cycle_s) == pytest.approx(27.78e-3, abs=0.01e-3)
    assert float(c.speedup) == pytest.approx(1.76, abs=0.005)


def test_chosen_cost_is_the_stated_or_the_best_gamma() -> None:
    """`chosen_cost`: the stated γ's cost (8.26 ms TPOT at γ 4 on the RNGD example), or
    `best_gamma`'s per batch for `auto`."""
    from inferplan.speculative import best_gamma, chosen_cost, draft_deployment

    dep, _ = rngd(8)
    draft = draft_deployment(dep, DRAFT)
    stated = chosen_cost(dep, draft, 1, 1152, 0.8, 4)
    assert float(stated.tpot_s) == pytest.approx(8.26e-3, abs=0.01e-3)
    B = np.asarray([1.0, 16.0, 64.0])
    auto = chosen_cost(dep, draft, B, 1152, 0.8, None, 6)
    best = best_gamma(dep, draft, B, 1152, 0.8, 6)
    assert auto.gamma.tolist() == best.gamma.tolist()
    assert np.allclose(auto.tpot_s, best.cost.tpot_s, rtol=1e-12)


# ----------------------------------------------------------------- properties
def test_gamma_zero_is_plain_decoding() -> None:
    dep, _ = rngd(4)
    B = np.array([1.0, 8.0, 32.0, 128.0])
    c = speculative_cost(dep, DRAFT, B, 2048, 0.6, 0)
    np.testing.assert_allclose(c.tpot_s, c.decode_step_s, rtol=1e-12)
    np.testing.assert_allclose(c.speedup, 1.0, rtol=1e-12)
    np.testing.assert_allclose(c.output_tokens_per_s, c.plain_output_tokens_per_s, rtol=1e-12)
    assert c.replicas == 2


@settings(max_examples=25, deadline=None)
@given(a=st.floats(0.0, 0.99), da=st.floats(0.005, 0.5), gamma=st.integers(1, 8),
       batch=st.sampled_from([1, 4, 32, 128]))
def test_speedup_increases_with_alpha(a: float, da: float, gamma: int, batch: int) -> None:
    dep, _ = rngd(8)
    b = min(a + da, 1.0)
    lo = speculative_cost(dep, DRAFT, batch, 1152, a, gamma)
    hi = speculative_cost(dep, DRAFT, batch, 1152, b, gamma)
    assert float(hi.speedup) > float(lo.speedup)


def test_expected_tokens_monotone_in_gamma_and_bounded() -> None:
    g = np.arange(0, 12)
    for a in (0.3, 0.5, 0.9, 0.99):
        e = expected_tokens_per_step(a, g)
        assert np.all(np.diff(e) > 0) and np.all(e < 1 / (1 - a) + 1e-9)


# ----------------------------------------------------------- vectorised search
def test_best_gamma_vectorised_matches_loop() -> None:
    dep, _ = rngd(8)
    B = np.array([1, 4, 16, 64, 128])
    best = best_gamma(dep, DRAFT, B, 1152, 0.7, gamma_max=8)
    assert best.grid.tpot_s.shape == (5, 8) and best.gamma.shape == (5,)
    for i, b in enumerate(B):
        tpots = [float(speculative_cost(dep, DRAFT, b, 1152, 0.7, g).tpot_s)
                 for g in range(1, 9)]
        assert int(best.gamma[i]) == 1 + int(np.argmin(tpots))
        assert float(best.cost.tpot_s[i]) == pytest.approx(min(tpots), rel=1e-12)


def test_speculation_pays_less_at_large_batch() -> None:
    dep, _ = rngd(8)
    best = best_gamma(dep, DRAFT, np.array([1, 32, 256]), 1152, 0.7)
    s = best.cost.speedup
    assert s[0] > s[1] > s[2]


def test_batch_and_context_broadcast_together() -> None:
    dep, _ = rngd(8)
    c = speculative_cost(dep, DRAFT, np.array([[1.0], [8.0]]), np.array([512.0, 4096.0]),
                         0.7, 3)
    assert c.tpot_s.shape == (2, 2)
    assert np.all(c.tpot_s[:, 1] > c.tpot_s[:, 0])     # longer context: slower


def test_draft_must_fit_the_targets_layout() -> None:
    dep, _ = make(model="llama-3.1-70b", hardware="tpu-v5e", chips=16, topology="4x4",
                  parallelism={"tp": 16})
    with pytest.raises(InferplanError, match="draft"):
        draft_deployment(dep, catalog_model("llama-3.2-3b"))     # 24 heads, tp=16


# --------------------------------------------------------------------- memory
def test_memory_with_draft_adds_to_the_target() -> None:
    dep, wl = rngd(8)
    d = draft_deployment(dep, DRAFT)
    m = speculative_memory(dep, d, wl, 32, 4)
    plain = memory_breakdown(dep, wl, 32)
    assert m.target_weights_bytes_per_chip == plain.weights_bytes_per_chip
    assert float(m.total_bytes_per_chip) > float(plain.total_bytes_per_chip) + \
        m.draft_weights_bytes_per_chip
    assert m.draft_weights_bytes_per_chip == pytest.approx(2.47e9, rel=0.01)


def test_a_decode_pool_adds_the_same_draft_memory() -> None:
    """One draft-memory formula (`speculative.draft_bytes_per_chip`): the speculative
    deployment and a disaggregated decode server that drafts add the same draft weights
    and caches (Llama-3.2-1B beside Llama-3.1-8B bf16 on one H100, B = 8 at 1,152 tokens:
    2.47 GB and 8 · 37.7 MB)."""
    from inferplan.disagg import decode_server_memory, with_draft_memory
    from inferplan.speculative import draft_bytes_per_chip

    dep, wl = make(model="llama-3.1-8b", hardware="h100-sxm", chips=1,
                   parallelism={"tp": 1}, dtypes={"weights": "bf16", "kv": "bf16",
                                                  "compute": "bf16"},
                   workload={"input_len": 1024, "output_len": 128, "batch": 8})
    weights, kv = draft_bytes_per_chip(dep, DRAFT, 1152, 8)
    assert weights == pytest.approx(2.47e9, rel=0.01)
    assert float(kv) == pytest.approx(8 * 37.7e6, rel=0.01)
    spec = speculative_memory(dep, draft_deployment(dep, DRAFT), wl, 8, 0)
    assert spec.draft_weights_bytes_per_chip == weights
    assert float(spec.draft_kv_bytes_per_chip) == pytest.approx(float(kv), rel=1e-12)
    plain = decode_server_memory(dep, 1024, 128, 8)
    pool = with_draft_memory(plain, dep, DRAFT, 1152, 8)
    assert pool.weights_bytes_per_chip - plain.weights_bytes_per_chip == pytest.approx(weights)
    assert float(pool.kv_bytes_per_chip - plain.kv_bytes_per_chip) == pytest.approx(float(kv))


@pytest.mark.parametrize("tp", [8, 4])
def test_max_batch_with_draft(tp: int) -> None:
    dep, wl = rngd(tp)
    d = draft_deployment(dep, DRAFT)
    n = max_batch_with_draft(dep, d, wl, 4)
    assert 0 < n < max_batch(dep, wl)
    assert bool(speculative_memory(dep, d, wl, n, 4).fits)
    assert not bool(speculative_memory(dep, d, wl, n + 1, 4).fits)


def test_result_does_not_fit_when_weights_do_not() -> None:
    dep, wl = rngd(1)                                # 8 bf16 copies of an 8B model
    r = speculative_result(dep, DRAFT, wl, 0.7)
    assert not r.fits and r.max_batch_with_draft == 0 and r.max_batch_plain == 0


def test_result_batch_max_uses_memory_with_the_draft() -> None:
    dep, wl = rngd(8, batch="max")
    r = speculative_result(dep, DRAFT, wl, 0.7, gamma=3)
    assert r.batch == r.max_batch_with_draft and r.fits and int(r.chosen.gamma) == 3
    assert r.table.gamma.tolist() == list(range(1, 9))


@pytest.mark.parametrize(("gamma", "gamma_max"), [(0, 8), (None, 0), (None, -2)])
def test_result_rejects_bad_gamma(gamma: int | None, gamma_max: int) -> None:
    dep, wl = rngd(8)
    with pytest.raises(InferplanError, match="gamma"):
        speculative_result(dep, DRAFT, wl, 0.7, gamma, gamma_max)


# ------------------------------------------------------------------------ CLI
ROOT = Path(__file__).resolve().parents[1]
SCENARIO = str(ROOT / "docs" / "rngd" / "tp8.yaml")


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "120", "NO_COLOR": "1"})
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.exit_code, result.output


def run(*args: str) -> tuple[int, str]:
    """The real entry point (`main` turns bad input into one line and exit 2)."""
    out = subprocess.run([sys.executable, "-m", "inferplan", *args], capture_output=True,
                         text=True, cwd=ROOT, timeout=120)
    return out.returncode, out.stdout + out.stderr


def test_cli_table() -> None:
    code, out = invoke("speculative", SCENARIO, "--draft", "llama-3.2-1b", "--alpha", "0.7")
    assert code == 0, out
    assert "plain" in out and "speculative" in out and "least TPOT" in out
    assert "fits with the draft" in out


def test_cli_json_contract() -> None:
    code, out = invoke("speculative", SCENARIO, "--draft", "llama-3.2-1b", "--alpha", "0.8",
                       "--gamma", "4", "--json")
    assert code == 0, out
    d = json.loads(out)
    assert d["speculative"]["gamma"] == 4 and d["gamma_given"] is True
    assert d["speculative"]["expected_tokens_per_step"] == pytest.approx(3.3616)
    assert len(d["gammas"]) == 8 and d["fits"] is True
    assert d["speculative"]["tpot_s"] == pytest.approx(
        d["plain"]["tpot_s"] / d["speculative"]["speedup"])


@pytest.mark.parametrize(("args", "needle"), [
    (("--draft", "llama-3.2-1b", "--alpha", "1.2"), "alpha"),
    (("--draft", "no-such-model", "--alpha", "0.7"), "--draft"),
    (("--draft", "llama-3.2-1b", "--alpha", "0.7", "--gamma", "0"), "gamma"),
])
def test_cli_bad_input_is_one_line(args: tuple[str, ...], needle: str) -> None:
    code, out = run("speculative", SCENARIO, *args)
    assert code == 2 and needle in out and "Traceback" not in out
    assert len(out.strip().splitlines()) == 1


def test_cli_needs_draft_and_alpha() -> None:
    code, out = run("speculative", SCENARIO, "--alpha", "0.7")
    assert code == 2 and "--draft" in out
    code, out = run("speculative", SCENARIO, "--draft", "llama-3.2-1b")
    assert code == 2 and "--alpha" in out


def test_result_to_dict_rounds_trip_through_json() -> None:
    dep, wl = rngd(4)
    r = speculative_result(dep, DRAFT, replace(wl, batch=16), 0.6)
    d = json.loads(json.dumps(r.to_dict()))
    assert d["parallelism"] == {"tp": 4, "pp": 1, "dp": 2} and d["batch"] == 16
