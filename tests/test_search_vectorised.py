"""The search's vectorised serving equals `serving.estimate` point by point (rel 1e-9),
and the separable decode mean equals the full (batch × context) grid."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from tests.conftest import make

from inferplan.deployment import Workload
from inferplan.search import decode_mean
from inferplan.search.decode_mean import (
    decode_contexts,
    full_rows_mean_s,
    mean_decode_step_s,
    probe_indices,
)
from inferplan.search.evaluate import EVALUATORS
from inferplan.search.space import SLO
from inferplan.search.vectorised import in_flight_latencies, static_batch_latencies
from inferplan.serving import estimate

REL = 1e-9

#: Deployments covering dense, GQA beyond tp, sliding windows, MoE, MLA, pipeline
#: stages, cores (RNGD), tori without wraparound and both efficiency modes.
CASES: list[dict[str, Any]] = [
    {"model": "llama-3.1-70b", "hardware": "h100-sxm", "chips": 8,
     "parallelism": {"tp": 4, "pp": 2}, "dtypes": {"weights": "fp8", "kv": "fp8",
                                                  "compute": "fp8"}},
    {"model": "llama-3.1-70b", "hardware": "tpu-v5e-scaling-book", "chips": 16,
     "topology": "4x4", "parallelism": {"tp": 16}, "efficiency": "ideal"},
    {"model": "llama-3.1-70b", "hardware": "tpu-v5e-scaling-book", "chips": 32,
     "topology": "4x8", "parallelism": {"tp": 32}, "efficiency": "ideal"},
    {"model": "gemma-2-9b", "hardware": "h100-sxm", "chips": 2, "parallelism": {"tp": 2}},
    {"model": "mixtral-8x7b", "hardware": "h100-sxm", "chips": 8,
     "parallelism": {"tp": 4, "ep": 8}, "efficiency": "ideal"},
    {"model": "deepseek-v3", "hardware": "h200-sxm", "chips": 16,
     "parallelism": {"tp": 8, "pp": 2}, "dtypes": {"weights": "fp8", "kv": "bf16"}},
    {"model": "llama-3.1-8b", "hardware": "rngd", "chips": 1, "parallelism": {"tp": 4}},
]
BATCHES = [1, 3, 17, 64, 200]


def _ids(case: dict[str, Any]) -> str:
    return f"{case['model']}-{case['hardware']}-{case['chips']}-{case.get('efficiency', 'r')}"


def build(case: dict[str, Any], workload: dict[str, Any]) -> Any:
    return make(**case, workload=workload)


@pytest.mark.parametrize("case", CASES, ids=_ids)
@pytest.mark.parametrize(("S", "n"), [(1000, 300), (4096, 1), (300, 2)])
def test_static_batch_equals_serving(case: dict[str, Any], S: int, n: int) -> None:
    dep, wl = build(case, {"input_len": S, "output_len": n, "batch": 1})
    lat = static_batch_latencies(dep, wl, np.asarray(BATCHES))
    for k, b in enumerate(BATCHES):
        est = estimate(dep, Workload(S, n, b))
        assert lat.ttft_s[k] == pytest.approx(est.ttft_s, rel=REL)
        assert lat.tpot_s[k] == pytest.approx(est.tpot_s, rel=REL, abs=1e-300)
        assert lat.e2e_latency_s[k] == pytest.approx(est.e2e_latency_s, rel=REL)


@pytest.mark.parametrize("case", CASES, ids=_ids)
@pytest.mark.parametrize(("S", "n", "chunk"), [(1000, 300, None), (20_000, 64, 2048),
                                                (128, 1, None)])
def test_in_flight_equals_serving(case: dict[str, Any], S: int, n: int,
                                  chunk: int | None) -> None:
    dep, _ = build(case, {"input_len": S, "output_len": n, "batch": 1})
    wl = Workload(S, n, None, 1, chunk)
    values = [1, 7, 64, 300, 2000]
    lat = in_flight_latencies(dep, wl, np.asarray(values))
    for k, c in enumerate(values):
        est = estimate(dep, Workload(S, n, None, c, chunk))
        assert lat.ttft_s[k] == pytest.approx(est.ttft_s, rel=REL)
        assert lat.tpot_s[k] == pytest.approx(est.tpot_s, rel=REL)
        assert lat.e2e_latency_s[k] == pytest.approx(est.e2e_latency_s, rel=REL)


@pytest.mark.parametrize("case", CASES[:3], ids=_ids)
def test_batch_max_and_fit_equal_serving(case: dict[str, Any]) -> None:
    dep, _ = build(case, {"input_len": 8000, "output_len": 200, "batch": 1})
    wl = Workload(8000, 200, "max")
    m = EVALUATORS["max"](dep, wl, np.zeros(1, dtype=np.int64), SLO())
    est = estimate(dep, wl)
    assert int(m.batch[0]) == est.batch and bool(m.fits[0]) == est.fits
    assert m.tpot_s[0] == pytest.approx(est.tpot_s, rel=REL)
    assert m.requests_per_s(dep.layout.dp)[0] == pytest.approx(est.requests_per_s, rel=REL)
    static = EVALUATORS["static"](dep, Workload(8000, 200, 1),
                                  np.asarray([1, est.batch, est.batch + 1]), SLO())
    assert static.fits.tolist() == [True, True, False]


@pytest.mark.parametrize("case", CASES, ids=_ids)
@pytest.mark.parametrize(("S", "n"), [(100, 300), (8192, 512), (5000, 3000)])
def test_separable_decode_mean_equals_full_grid(case: dict[str, Any], S: int, n: int) -> None:
    dep, _ = build(case, {"input_len": S, "output_len": n, "batch": 1})
    batches = np.arange(1, 513, dtype=np.float64)
    fast = mean_decode_step_s(dep, S, n, batches)
    full = full_rows_mean_s(dep, decode_contexts(S, n), batches)
    np.testing.assert_allclose(fast, full, rtol=1e-12)


def test_rows_that_do_not_separate_are_evaluated_in_full(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    # The ideal roofline hides communication under the pass until it no longer can: on a
    # 4x4 book v5e at short contexts that switch falls inside some rows, which the probes
    # catch.
    dep, _ = build(CASES[1], {"input_len": 100, "output_len": 300, "batch": 1})
    seen: list[int] = []
    original = decode_mean.full_rows_mean_s

    def spy(deployment: Any, contexts: Any, batches: Any) -> Any:
        seen.append(int(batches.size))
        return original(deployment, contexts, batches)

    monkeypatch.setattr(decode_mean, "full_rows_mean_s", spy)
    batches = np.arange(1, 513, dtype=np.float64)
    fast = decode_mean.mean_decode_step_s(dep, 100, 300, batches)
    assert seen and 0 < seen[0] < batches.size
    np.testing.assert_allclose(fast, original(dep, decode_contexts(100, 300), batches),
                               rtol=1e-12)


def test_probe_indices() -> None:
    assert probe_indices(511).tolist() == [0, 1, 127, 255, 383, 509, 510]
    assert probe_indices(3).tolist() == [0, 1, 2]
    assert decode_contexts(8192, 4).tolist() == [8192, 8193, 8194]
    assert decode_contexts(10, 1).size == 0


def test_one_call_per_phase_when_the_label_matters(monkeypatch: pytest.MonkeyPatch) -> None:
    from inferplan.search import vectorised

    dep, wl = build(CASES[0], {"input_len": 1000, "output_len": 300, "batch": 1})
    assert vectorised.phase_label_is_inert(dep)           # cost.py today: only 'verify'
    merged = static_batch_latencies(dep, wl, np.asarray(BATCHES))
    monkeypatch.setattr(vectorised, "phase_label_is_inert", lambda d: False)
    split = static_batch_latencies(dep, wl, np.asarray(BATCHES))
    np.testing.assert_allclose(split.ttft_s, merged.ttft_s, rtol=1e-12)
    np.testing.assert_allclose(split.tpot_s, merged.tpot_s, rtol=1e-12)
