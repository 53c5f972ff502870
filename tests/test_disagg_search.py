"""Disaggregated pools chosen from a space (`inferplan disagg`): agreement with brute force
over `disagg.disaggregated_serving`, the e2e coupling, whole-replica fleets, seed 001's
P:G out of the search, the co-located comparison and the CLI."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from inferplan.cli import app
from inferplan.disagg import (
    decode_server_memory,
    disaggregated_serving,
    max_decode_batch,
    prefill_server_memory,
)
from inferplan.hardware import catalog_chip
from inferplan.models import catalog_model
from inferplan.search import parse_space, run_search
from inferplan.search.disagg_search import (
    DisaggResult,
    cheapest_within,
    fleet_goodput_per_chip,
    run_disagg_search,
    whole_replica_fleet,
)
from inferplan.units import InferplanError

SMALL: dict[str, Any] = {
    "model": "llama-3.1-8b", "hardware": "h100-sxm", "chips": [1, 2, 4],
    "parallelism": {"tp": [1, 2, 4], "dp": 1},
    "dtypes": {"weights": ["bf16", "fp8"], "kv": "bf16", "compute": "auto"},
    "workload": {"input_len": [1024, 4096], "output_len": 128, "batch": [1, 8, 64, 256]},
    "disaggregated": {"prefill_batch": [1, 4]},
}


def disagg(**fields: Any) -> DisaggResult:
    return run_disagg_search(parse_space({**SMALL, **fields}), catalog_model, catalog_chip)


def brute_force(result: DisaggResult) -> dict[tuple[Any, ...], float]:
    """Best goodput per chip of every (weights, input_len) over all prefill × decode
    deployments and batches that fit and meet the SLO, via `disaggregated_serving`."""
    slo = result.space.slo
    best: dict[tuple[Any, ...], float] = {}
    deps = [(g.deployment, g.workload) for g in result.groups if g.deployment is not None]
    for (pd, pw), (dd, dw) in itertools.product(deps, deps):
        if (pd.dtypes.weights, pw.input_len) != (dd.dtypes.weights, dw.input_len):
            continue
        S, n = pw.input_len, pw.output_len
        for bp, bd in itertools.product(result.space.disaggregated.prefill_batch,
                                        result.space.workload.batch or []):
            if not (prefill_server_memory(pd, S, bp).fits
                    and decode_server_memory(dd, S, n, int(bd)).fits):
                continue
            out = disaggregated_serving(pd, dd, S, n, int(bd), bp)
            if ((slo.ttft_s is not None and out.ttft_s > slo.ttft_s)
                    or (slo.tpot_s is not None and out.tpot_s > slo.tpot_s)
                    or (slo.e2e_latency_s is not None
                        and out.ttft_s + (n - 1) * out.tpot_s > slo.e2e_latency_s)):
                continue
            key = (pd.dtypes.weights, S)
            best[key] = max(best.get(key, 0.0), out.output_tokens_per_s_per_chip)
    return best


def best_by_key(result: DisaggResult) -> dict[tuple[Any, ...], float]:
    out: dict[tuple[Any, ...], float] = {}
    for pair in result.pairs:
        dep = result.deployment(result.decode, pair.decode)
        s = result.scenario(result.decode, pair.decode)
        out.setdefault((dep.dtypes.weights, s["workload"]["input_len"]),
                       pair.output_tokens_per_s_per_chip)
    return out


@pytest.mark.parametrize("slo", [{}, {"ttft_s": 0.3, "tpot_s": 0.012},
                                 {"e2e_latency_s": 1.2}, {"ttft_s": 0.5, "e2e_latency_s": 1.5}])
def test_best_pair_per_key_is_the_brute_force_best(slo: dict[str, float]) -> None:
    result = disagg(slo=slo)
    expected = brute_force(result)
    got = best_by_key(result)
    assert got.keys() == expected.keys() and expected
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-9)


def test_pair_figures_are_disaggregated_serving() -> None:
    result = disagg(slo={"tpot_s": 0.02})
    for pair in result.pairs[:20]:
        pd = result.deployment(result.prefill, pair.prefill)
        dd = result.deployment(result.decode, pair.decode)
        s = result.scenario(result.decode, pair.decode)["workload"]
        ref = disaggregated_serving(pd, dd, s["input_len"], s["output_len"],
                                    int(result.decode.batch[pair.decode]),
                                    int(result.prefill.batch[pair.prefill]))
        assert pair.ttft_s == pytest.approx(ref.ttft_s, rel=1e-12)
        assert pair.tpot_s == pytest.approx(ref.tpot_s, rel=1e-9)
        assert pair.prefill_replicas_per_decode_replica == pytest.approx(
            ref.ratio.prefill_servers_per_decode_server, rel=1e-9)
        assert pair.output_tokens_per_s_per_chip == pytest.approx(
            ref.output_tokens_per_s_per_chip, rel=1e-9)
        assert pair.tpot_s <= 0.02


def test_pairs_are_ranked_and_every_candidate_is_kept_or_has_a_reason() -> None:
    result = disagg(slo={"ttft_s": 0.3, "e2e_latency_s": 1.2})
    scores = [p.output_tokens_per_s_per_chip for p in result.pairs]
    assert scores == sorted(scores, reverse=True)
    kept = int((result.decode.status == -1).sum())
    assert kept == len(result.pairs)
    assert sum(result.decode.dropped().values()) + kept == result.decode.status.size
    assert "layout" in result.decode.dropped()          # tp 2 and 4 on one chip
    for pair in result.pairs:
        assert pair.e2e_latency_s <= 1.2 and pair.ttft_s <= 0.3


def test_dp_variants_are_one_replica_design() -> None:
    one = disagg(chips=4, parallelism={"tp": [1, 2, 4], "dp": "auto"})
    # tp1 dp4, tp2 dp2, tp4 dp1 on 4 chips: three designs, as on 1, 2, 4 chips with dp 1
    solo = disagg()
    designs = {(result.deployment(result.decode, p.decode).layout.tp,
                result.deployment(result.prefill, p.prefill).layout.tp)
               for result in (one,) for p in result.pairs}
    assert designs == {(result.deployment(result.decode, p.decode).layout.tp,
                        result.deployment(result.prefill, p.prefill).layout.tp)
                       for result in (solo,) for p in result.pairs}
    assert one.pairs[0].output_tokens_per_s_per_chip == pytest.approx(
        solo.pairs[0].output_tokens_per_s_per_chip, rel=1e-9)


def test_pools_pair_within_one_engine() -> None:
    """An engine space: a prefill pool of one engine never feeds a decode pool of
    another, and each engine's pairs are its own `disaggregated_serving`."""
    result = disagg(engine=["vllm", "sglang"], slo={"tpot_s": 0.02})
    engines = set()
    for pair in result.pairs:
        pd = result.deployment(result.prefill, pair.prefill)
        dd = result.deployment(result.decode, pair.decode)
        assert pd.engine == dd.engine
        assert result.scenario(result.decode, pair.decode)["engine"] == dd.engine.name
        engines.add(dd.engine.name)
        s = result.scenario(result.decode, pair.decode)["workload"]
        ref = disaggregated_serving(pd, dd, s["input_len"], s["output_len"],
                                    int(result.decode.batch[pair.decode]),
                                    int(result.prefill.batch[pair.prefill]))
        assert pair.tpot_s == pytest.approx(ref.tpot_s, rel=1e-9)
    assert engines == {"vllm", "sglang"}


def test_cheapest_within_budget() -> None:
    ttft = np.asarray([0.5, 0.2, 0.9])
    cost = np.asarray([1.0, 3.0, 0.5])
    got = cheapest_within(ttft, cost, np.asarray([0.1, 0.6, 1.0]))
    assert got.tolist() == [-1, 0, 2]
    rng = np.random.default_rng(0)
    t, c, b = rng.random(50), rng.random(50), rng.random(20)
    for k, pick in zip(b, cheapest_within(t, c, b), strict=True):
        within = np.nonzero(t <= k)[0]
        assert (pick == -1) == (within.size == 0)
        if within.size:
            assert c[pick] == c[within].min()


def test_fleet_goodput_and_whole_replicas() -> None:
    r_d = 43 / (511 * 0.01988)
    assert float(fleet_goodput_per_chip(512, 16, 1 / 0.977, 16, r_d)) == pytest.approx(
        26.38, rel=1e-3)
    fleet = whole_replica_fleet(1.0, 4.135, 16, 16, 512)
    assert (fleet.prefill_replicas, fleet.decode_replicas, fleet.chips) == (4, 1, 80)
    assert fleet.output_tokens_per_s_per_chip == pytest.approx(25.6)
    # an exact ratio needs no rounding
    exact = whole_replica_fleet(1.0, 3.0, 8, 8, 100)
    assert (exact.prefill_replicas, exact.decode_replicas) == (3, 1)
    assert exact.output_tokens_per_s_per_chip == pytest.approx(
        float(fleet_goodput_per_chip(100, 8, 1.0, 8, 3.0)))


def test_seed001_a34_prefill_to_decode_ratio_out_of_the_search() -> None:
    """Seed 001 A34: LLaMA 3-70B bf16, both pools 16 book v5e chips (4x4, 1D model
    parallel), 8192-token prompts at 40% MFU, 512 output tokens, decode at the largest
    batch: P ≈ 3G (seed), ≈ 4G (seed_cases, at B = 43). A decode server holds 38 caches
    of 8704 tokens (`max_decode_batch`; B = 43 does not fit), so the search says 3.86."""
    space = parse_space({
        "model": "llama-3.1-70b", "hardware": "tpu-v5e-scaling-book", "chips": 16,
        "topology": "4x4", "parallelism": {"tp": 16, "layout": "megatron"},
        "dtypes": {"weights": "bf16", "kv": "bf16"}, "efficiency": "ideal",
        "workload": {"input_len": 8192, "output_len": 512, "batch": "max"},
        "disaggregated": {"prefill_mfu": 0.4}})
    result = run_disagg_search(space, catalog_model, catalog_chip)
    best = result.pairs[0]
    dep = result.deployment(result.decode, best.decode)
    assert int(result.decode.batch[best.decode]) == max_decode_batch(dep, 8192, 512) == 38
    assert 3.0 <= best.prefill_replicas_per_decode_replica <= 4.0
    assert best.prefill_replicas_per_decode_replica == pytest.approx(3.86, abs=0.01)
    assert float(result.prefill.step_s[best.prefill]) == pytest.approx(0.977, rel=0.005)


def test_comparison_with_the_best_colocated_point() -> None:
    result = disagg(slo={"ttft_s": 0.3, "tpot_s": 0.012})
    co = run_search(result.space, catalog_model, catalog_chip)
    i = int(co.order[0])
    assert result.colocated_score() == pytest.approx(float(co.cols.tokens_per_s_per_chip[i]))
    gain = result.gain()
    assert gain == pytest.approx(result.pairs[0].output_tokens_per_s_per_chip
                                 / float(co.cols.tokens_per_s_per_chip[i]))


def test_usd_objective_needs_prices_and_ranks_by_tokens_per_usd() -> None:
    result = disagg(objective="throughput_per_usd")     # h100-sxm has a catalog price
    values = [p.tokens_per_usd for p in result.pairs]
    assert values == sorted(values, reverse=True) and values[0] > 0
    free = disagg(objective="throughput_per_usd", hardware="a100-80gb-sxm")   # no price
    assert not free.pairs
    assert "no_price" in free.decode.dropped() and "no_price" in free.prefill.dropped()
    priced = disagg(objective="throughput_per_usd", hardware="a100-80gb-sxm",
                    price_per_chip_hour=2.0)
    assert priced.pairs[0].tokens_per_usd > 0


def test_bad_objective_and_output_len() -> None:
    with pytest.raises(InferplanError, match="throughput_per_chip or throughput_per_usd"):
        disagg(objective="min_tpot")
    with pytest.raises(InferplanError, match="output_len"):
        disagg(workload={"input_len": 1024, "output_len": 1, "batch": 8})


def test_cli_disagg_text_and_json(tmp_path: Path) -> None:
    path = tmp_path / "space.json"
    path.write_text(json.dumps({**SMALL, "slo": {"tpot_s": 0.02}}))
    runner = CliRunner()
    text = runner.invoke(app, ["disagg", str(path), "--top", "3"])
    assert text.exit_code == 0, text.output
    assert "best disaggregated fleet" in text.output
    assert "best co-located under the same SLO" in text.output
    out = runner.invoke(app, ["disagg", str(path), "--json", "--top", "2"])
    assert out.exit_code == 0, out.output
    record = json.loads(out.output)
    assert set(record) >= {"evaluated", "feasible", "dropped", "best", "colocated",
                           "gain_over_colocated"}
    best = record["best"][0]
    assert best["tpot_s"] <= 0.02
    assert best["whole_replicas"]["decode"] >= 1
    assert best["prefill"]["scenario"]["model"] == "llama-3.1-8b"


def test_cli_disagg_bad_space_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "space.json"
    path.write_text(json.dumps({**SMALL, "disaggregated": {"kv_link": "pigeon"}}))
    result = CliRunner().invoke(app, ["disagg", str(path)])
    assert result.exit_code != 0
    assert "disaggregated.kv_link" in str(result.output) + str(result.exception)


@pytest.mark.parametrize("field,value", [("length_ratio", 0.8), ("prefix_hit_rate", 0.5),
                                         ("requests", 100)])
def test_disagg_refuses_what_its_pools_do_not_price(capsys: pytest.CaptureFixture[str],
                                                    tmp_path: Path, field: str,
                                                    value: float) -> None:
    """The pools are priced at fixed lengths without a prefix cache; a space that sets how
    a closed loop draws its requests would reach the co-located side only: one line."""
    from tests.conftest import one_line_error
    raw = {"model": "llama-3.1-8b", "hardware": "h100-sxm", "chips": 8,
           "parallelism": {"tp": [1, 2]},
           "workload": {"input_len": 1024, "output_len": 128, "concurrency": [8, 16],
                        field: value}}
    path = tmp_path / "space.json"
    path.write_text(json.dumps(raw))
    line = one_line_error(capsys, "disagg", str(path))
    assert f"workload.{field}" in line and "inferplan search" in line


SPECULATIVE: dict[str, Any] = {
    **SMALL, "chips": [1, 2], "parallelism": {"tp": [1, 2], "dp": 1},
    "dtypes": {"weights": "bf16", "kv": "bf16", "compute": "auto"},
    "workload": {"input_len": 1024, "output_len": 128, "batch": [1, 8, 64]},
    "speculative": {"draft": "llama-3.2-1b", "alpha": 0.8, "gamma": "auto", "gamma_max": 4},
}


def test_speculative_decode_pools_run_draft_and_verify_cycles() -> None:
    """A space with a draft gives decode candidates that draft (γ > 0, TPOT = cycle/E at
    the mean context with the best γ, as the co-located search prices them) beside the
    plain ones; their prefill partners prefill with the same draft."""
    from inferplan.disagg import prefill_steps_s, speculative_decode_server_memory
    from inferplan.search.disagg_search import _with_speculation
    from inferplan.speculative import best_gamma, draft_deployment, mean_decode_context

    result = run_disagg_search(parse_space(SPECULATIVE), catalog_model, catalog_chip)
    dec, pre = result.decode, result.prefill
    drafting = np.nonzero((dec.gamma > 0) & (dec.status == -1))[0]
    plain = np.nonzero((dec.gamma == 0) & (dec.status == -1))[0]
    assert drafting.size and plain.size
    for i in drafting[:4]:
        g = result.groups[int(dec.group[i])]
        assert g.speculative is not None and g.deployment is not None
        dep, B = g.deployment, int(dec.batch[i])
        chosen = best_gamma(dep, draft_deployment(dep, g.speculative.draft), float(B),
                            mean_decode_context(g.workload), 0.8, 4)
        assert float(dec.step_s[i]) == pytest.approx(float(chosen.cost.tpot_s), rel=1e-12)
        assert int(dec.gamma[i]) == int(chosen.gamma)
        assert speculative_decode_server_memory(dep, g.speculative.draft, 1024, 128, B,
                                                4).fits
    for pair in result.pairs:
        dg = result.groups[int(dec.group[pair.decode])]
        pg = result.groups[int(pre.group[pair.prefill])]
        assert (dg.speculative is None) == (pg.speculative is None)
        if pg.speculative is not None:
            dep = pg.deployment
            assert dep is not None
            B = int(pre.batch[pair.prefill])
            both = prefill_steps_s(_with_speculation(dep, pg.speculative), 1024, B)
            assert float(pre.step_s[pair.prefill]) == pytest.approx(float(both))
            assert float(both) > float(prefill_steps_s(dep, 1024, B))


def test_a_drafting_decode_server_holds_fewer_sequences() -> None:
    from inferplan.disagg import max_decode_batch, speculative_decode_server_memory
    from inferplan.memory import largest_true

    raw = {**SPECULATIVE, "chips": 1, "parallelism": {"tp": 1, "dp": 1},
           "workload": {"input_len": 4096, "output_len": 1024, "batch": "max"}}
    result = run_disagg_search(parse_space(raw), catalog_model, catalog_chip)
    dec = result.decode
    by_gamma = {int(dec.gamma[i] > 0): int(dec.batch[i]) for i in range(dec.batch.size)
                if dec.status[i] == -1}
    dep = result.groups[0].deployment
    assert dep is not None
    draft = catalog_model("llama-3.2-1b")
    assert by_gamma[0] == max_decode_batch(dep, 4096, 1024)
    assert by_gamma[1] == largest_true(lambda b: speculative_decode_server_memory(
        dep, draft, 4096, 1024, b, 4).fits)
    assert by_gamma[1] < by_gamma[0]


def test_cli_disagg_with_a_draft(tmp_path: Path) -> None:
    path = tmp_path / "space.json"
    path.write_text(json.dumps(SPECULATIVE))
    runner = CliRunner()
    out = runner.invoke(app, ["disagg", str(path), "--json", "--top", "3"])
    assert out.exit_code == 0, out.output
    best = json.loads(out.output)["best"]
    assert best
    for record in best:
        drafting = "speculative" in record["decode"]["scenario"]
        assert drafting == ("gamma" in record["decode"])
        assert drafting == ("speculative" in record["prefill"]["scenario"])
    text = runner.invoke(app, ["disagg", str(path)])
    assert text.exit_code == 0, text.output


def test_the_drafting_example_of_the_doc() -> None:
    """docs/disaggregated-serving.md: Llama-3.1-8B bf16 on H100s, 1k/128, α 0.8 with a
    Llama-3.2-1B draft under TTFT ≤ 1 s and TPOT ≤ 20 ms: the best decode replica is one
    GPU drafting γ 2 at 64 slots, 8.0 ms TPOT, 3,120 tok/s per chip; the best plain pair
    2,862 at 11.5 ms."""
    raw = {**SPECULATIVE, "slo": {"ttft_s": 1.0, "tpot_s": 0.02}}
    result = run_disagg_search(parse_space(raw), catalog_model, catalog_chip)
    best = result.pairs[0]
    dec = result.decode
    assert (int(dec.gamma[best.decode]), int(dec.batch[best.decode])) == (2, 64)
    assert result.deployment(dec, best.decode).chips == 1
    assert best.tpot_s == pytest.approx(8.0e-3, abs=5e-5)
    assert best.output_tokens_per_s_per_chip == pytest.approx(3119.8, abs=0.5)
    plain = next(p for p in result.pairs if int(dec.gamma[p.decode]) == 0)
    assert plain.tpot_s == pytest.approx(11.5e-3, abs=5e-5)
    assert plain.output_tokens_per_s_per_chip == pytest.approx(2862.3, abs=0.5)
