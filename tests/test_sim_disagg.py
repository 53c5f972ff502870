"""Disaggregated prefill and decode pools in the simulator (`inferplan.sim.disagg`): the
low-load figures from the step model and the hand-off, queueing in an undersized prefill
pool, exactness of the coupled loop against a decode replica run alone, determinism, the
scenario block and its errors."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.conftest import cli, one_line_error

from inferplan.disagg import kv_transfer_s
from inferplan.hardware import catalog_chip
from inferplan.models import catalog_model
from inferplan.scenario import build_pools, parse_scenario
from inferplan.sim.disagg import pick_replica, simulate_disaggregated
from inferplan.sim.loop import Replica, run_alone
from inferplan.sim.metrics import summarise_run
from inferplan.sim.step_table import step_table
from inferplan.steptime import Segment, mixed_step_cost
from inferplan.units import InferplanError


def pools(prefill: dict[str, Any], decode: dict[str, Any], engine: str = "sglang",
          **workload: Any) -> tuple:
    raw = {"model": "qwen3-32b", "hardware": "h100-sxm", "chips": 2, "parallelism": {"tp": 2},
           "dtypes": {"weights": "fp8", "kv": "fp8", "compute": "fp8"}, "engine": engine,
           "workload": {"input_len": 2048, "output_len": 64, **workload},
           "disaggregated": {"prefill": prefill, "decode": decode}}
    return build_pools(parse_scenario(raw), catalog_model, catalog_chip)


def test_router_worked_numbers() -> None:
    assert pick_replica("least_loaded", 0, [2, 0, 0]) == 1
    assert pick_replica("round_robin", 4, [0, 0, 0]) == 1


def test_one_client_ttft_is_prefill_plus_hand_off_and_tpot_the_decode_step() -> None:
    """One client, fixed lengths: no queue anywhere. TTFT = one prefill step of the prompt
    (the prefill replica's own step model) + `disagg.kv_transfer_s`; TPOT = the decode step
    of a batch of one at the request's middle context (it decodes alone)."""
    prefill, decode, wl = pools({"chips": 1, "parallelism": {"tp": 1}}, {"chips": 2},
                                concurrency=1)
    run = simulate_disaggregated(prefill, decode, wl, 1)
    S, n = wl.input_len, wl.output_len
    prompt = float(mixed_step_cost(prefill, [Segment("chunk", 1.0, S, 0.0)]).latency_s)
    hand_off = float(kv_transfer_s(prefill, S))
    assert hand_off > 0
    assert run.run.ttft_s == pytest.approx(prompt + hand_off, rel=0.01)
    # n − 1 decode steps from context S to S + n − 2: their mean, as the middle context
    decode_step = step_table(decode, 1, S + n, 8192).step_s(1, S + (n - 2) / 2.0, 0.0)
    assert run.run.tpot_s == pytest.approx(decode_step, rel=0.01)
    # the request's path: sent, prefilled, handed off, landed, finished in order
    assert np.all(run.prefill_end_s + run.transfer_s == pytest.approx(run.decode_arrival_s))
    assert np.all(run.run.first_token_s == run.decode_arrival_s)


def test_an_undersized_prefill_pool_queues() -> None:
    """32 clients of 2048-token prompts: one single-GPU prefill replica cannot keep up, its
    queue shows in TTFT (far above one prefill + hand-off), not in TPOT; a four-replica
    prefill pool cuts the queue."""
    small = pools({"chips": 1, "parallelism": {"tp": 1}}, {"chips": 2}, concurrency=32)
    large = pools({"chips": 4, "parallelism": {"tp": 1}}, {"chips": 2}, concurrency=32)
    assert small[0].layout.dp == 1 and large[0].layout.dp == 4
    a = summarise_run(simulate_disaggregated(*small, 32).run)
    b = summarise_run(simulate_disaggregated(*large, 32).run)
    prompt = float(mixed_step_cost(small[0], [Segment("chunk", 1.0, 2048, 0.0)]).latency_s)
    assert a.ttft_s.mean > 5 * prompt
    assert b.ttft_s.mean < a.ttft_s.mean / 3
    assert b.output_tokens_per_s > a.output_tokens_per_s


def test_each_decode_replica_runs_as_one_fed_its_arrivals() -> None:
    """The coupled loop is exact: each decode replica's requests, fed as an open loop at
    their landing times to a decode replica run alone (`phase="decode"`), finish at the
    same instants, although the coupled loop learnt each arrival only at its hand-off. The
    replica alone interpolates the same step table (built over all the requests, up to C
    running): a table over its share alone has other grid points, off by an ulp or so."""
    prefill, decode, wl = pools({"chips": 2, "parallelism": {"tp": 1}},
                                {"chips": 4, "parallelism": {"tp": 2}}, engine="vllm",
                                concurrency=24, length_ratio=0.8)
    run = simulate_disaggregated(prefill, decode, wl, 24, seed=3, router="least_loaded")
    assert decode.layout.dp == 2
    reqs = run.run.requests
    for j in range(2):
        mine = np.flatnonzero(run.decode_replica == j)
        mine = mine[np.argsort(run.decode_arrival_s[mine], kind="stable")]
        first, done = np.full(reqs.count, np.nan), np.full(reqs.count, np.nan)
        alone = Replica(decode, wl, reqs.input_tokens, reqs.output_tokens,
                        min(decode.engine.scheduler.max_num_seqs, 24), "decode")
        run_alone(alone, mine.tolist(), run.decode_arrival_s.copy(), first, done, None)
        np.testing.assert_array_equal(done[mine], run.run.finished_s[mine])
        np.testing.assert_array_equal(first[mine], run.run.first_token_s[mine])


def test_same_seed_same_run() -> None:
    prefill, decode, wl = pools({"chips": 2, "parallelism": {"tp": 1}}, {"chips": 2},
                                concurrency=16, length_ratio=0.8)
    a = simulate_disaggregated(prefill, decode, wl, 16, seed=5)
    b = simulate_disaggregated(prefill, decode, wl, 16, seed=5)
    c = simulate_disaggregated(prefill, decode, wl, 16, seed=6)
    for name in ("sent_s", "first_token_s", "finished_s", "itl_s", "log"):
        assert getattr(a.run, name).tobytes() == getattr(b.run, name).tobytes()
    assert a.run.finished_s.tobytes() != c.run.finished_s.tobytes()
    assert a.run.requests.count == 160 and np.all(np.isfinite(a.run.finished_s))


def test_open_loop_and_one_token_requests() -> None:
    """An open loop at a rate for the whole deployment; a request of one output token ends
    at its prefill (no hand-off, no decode)."""
    prefill, decode, wl = pools({"chips": 2, "parallelism": {"tp": 1}}, {"chips": 2},
                                rate=4.0, requests=40)
    run = simulate_disaggregated(prefill, decode, wl, None, seed=1)
    assert run.run.requests.count == 40 and np.all(run.run.finished_s > run.run.sent_s)
    one = replace(wl, output_len=1)
    single = simulate_disaggregated(prefill, decode, one, None, seed=1)
    assert np.all(single.decode_replica == -1)
    np.testing.assert_array_equal(single.run.finished_s, single.prefill_end_s)


@pytest.mark.parametrize(("pool", "field"), [
    ({"prefill": {"chips": 3, "parallelism": {"tp": 2}}, "decode": {}},
     "scenario.disaggregated.prefill.parallelism"),
    ({"prefill": {"chips": 0}, "decode": {}}, "scenario.disaggregated.prefill.chips"),
    ({"prefill": {}, "decode": {"hardware": "h100-sxn"}},
     "scenario.disaggregated.decode.hardware"),
    ({"prefill": {}, "decode": {}, "router": "random"}, "scenario.disaggregated.router"),
    ({"prefill": {}}, "scenario.disaggregated.decode"),
    ({"prefill": {}, "decode": {"tp": 2}}, "scenario.disaggregated.decode.tp"),
])
def test_bad_pools_name_the_field(pool: dict[str, Any], field: str) -> None:
    raw = {"model": "qwen3-32b", "hardware": "h100-sxm", "chips": 2, "parallelism": {"tp": 2},
           "workload": {"input_len": 512, "output_len": 16, "concurrency": 4},
           "disaggregated": pool}
    with pytest.raises(InferplanError) as err:
        build_pools(parse_scenario(raw, origin="scenario"), catalog_model, catalog_chip)
    # parse errors carry the file's origin, build errors the field alone (as elsewhere)
    assert err.value.field.removeprefix("scenario.").startswith(
        field.removeprefix("scenario.")), err.value.field
    text = str(err.value)
    assert "\n" not in text


def test_simulate_command_runs_pools_and_refuses_bad_ones(
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "d.yaml"
    good.write_text("model: qwen3-32b\nhardware: h100-sxm\nchips: 2\nparallelism: {tp: 2}\n"
                    "engine: trtllm\nworkload: {input_len: 1024, output_len: 32, "
                    "concurrency: 8}\ndisaggregated:\n  prefill: {chips: 2, parallelism: "
                    "{tp: 1}}\n  decode: {chips: 2}\n  router: least_loaded\n")
    code, out, _ = cli(capsys, "simulate", str(good), "--json")
    assert code == 0
    record = json.loads(out)
    pools_record = record["disaggregated"]
    assert record["chips"] == 4 and record["requests"] == 80
    assert pools_record["prefill"]["replicas"] == 2 and pools_record["decode"]["tp"] == 2
    assert pools_record["router"] == "least_loaded"
    for text in ("chips: 3, parallelism: {tp: 2}}\n  decode: {chips: 2}",
                 "chips: 2}\n  decode: {chips: 2, topology: 9x9}",
                 "chips: 2}\n  decode: {chips: -1}"):
        bad = tmp_path / "bad.yaml"
        bad.write_text(good.read_text().replace(
            "chips: 2, parallelism: {tp: 1}}\n  decode: {chips: 2}", text))
        assert "disaggregated." in one_line_error(capsys, "simulate", str(bad))
    batch = tmp_path / "batch.yaml"
    batch.write_text(good.read_text().replace("concurrency: 8", "batch: 8"))
    assert "workload.batch" in one_line_error(capsys, "simulate", str(batch))


@pytest.mark.parametrize(("workload", "field"), [
    ({"router": "least_loaded"}, "workload.router"),
    ({"warmup": 4}, "workload.warmup"),
])
def test_pools_refuse_the_fleet_router_and_warmups(workload: dict[str, Any],
                                                   field: str) -> None:
    """The pools route with `disaggregated.router`; warm-ups are a fleet's only."""
    from inferplan.sim.run import simulate_pools
    prefill, decode, wl = pools({"chips": 2, "parallelism": {"tp": 1}}, {"chips": 2},
                                concurrency=8, requests=16, **workload)
    with pytest.raises(InferplanError) as err:
        simulate_pools(prefill, decode, wl)
    assert err.value.field == field


def test_mtp_pools_decode_in_cycles_and_prefill_the_draft_too() -> None:
    """A `speculative:` block goes to both pools. DeepSeek-R1 fp8 on B200, MTP γ = 2,
    α = 0.85: the decode pool's TPOT is the mean cycle / E (E = 1 + α + α² = 2.5725) in
    the closed form (`disagg.decode_step_s`) and in the run; the prefill pool's step adds
    the MTP module's prefill to the target's (`disagg.prefill_step_s`), and waits for
    its host work: SGLang runs its EAGLE path without the overlap scheduler (2.0 ms)."""
    from inferplan.disagg import decode_step_s, prefill_step_s
    from inferplan.speculative import draft_deployment, speculative_cost
    raw = {"model": "deepseek-r1", "hardware": "b200", "chips": 8, "parallelism": {"tp": 8},
           "dtypes": {"weights": "fp8", "kv": "fp8", "compute": "fp8"}, "engine": "sglang",
           "speculative": {"draft": "mtp", "gamma": 2, "alpha": 0.85},
           "workload": {"input_len": 1024, "output_len": 128, "concurrency": 16},
           "disaggregated": {"prefill": {"chips": 8}, "decode": {"chips": 8}}}
    prefill, decode, wl = build_pools(parse_scenario(raw), catalog_model, catalog_chip)
    assert prefill.speculative is not None and decode.speculative is not None
    draft = draft_deployment(decode, decode.speculative.draft)
    contexts = 1024 + np.arange(127, dtype=np.float64)
    cost = speculative_cost(decode, draft, 16.0, contexts, 0.85, 2)
    assert float(np.mean(cost.expected_tokens)) == pytest.approx(2.5725)
    expected = float(np.mean(np.asarray(cost.cycle_s) / 2.5725))
    assert decode_step_s(decode, 16, 1024, 128) == pytest.approx(expected)
    plain = {k: v for k, v in raw.items() if k != "speculative"}
    p_prefill, p_decode, _ = build_pools(parse_scenario(plain), catalog_model, catalog_chip)
    assert decode_step_s(decode, 16, 1024, 128) < 0.7 * decode_step_s(p_decode, 16, 1024, 128)
    mtp_prefill = prefill_step_s(draft_deployment(prefill, prefill.speculative.draft), 1024)
    assert prefill_step_s(prefill, 1024) == pytest.approx(
        prefill_step_s(p_prefill, 1024) + mtp_prefill + 2.0e-3)
    run = summarise_run(simulate_disaggregated(prefill, decode, wl, 16).run)
    assert run.tpot_s.mean == pytest.approx(decode_step_s(decode, 16, 1024, 128), rel=0.08)
    plain_run = summarise_run(simulate_disaggregated(p_prefill, p_decode, wl, 16).run)
    assert run.tpot_s.mean < 0.7 * plain_run.tpot_s.mean


def test_a_prefix_hit_rate_shortens_the_pools_prefill_not_the_hand_off() -> None:
    """Prefix-cache hits in the prefill pool: the closed form's prefill computes S·(1 − h)
    tokens on S·h cached (Qwen3-32B, 2,048 tokens at h = 0.5: the step of 1,024 new tokens
    on 1,024 cached), the KV hand-off still carries the whole prompt, and the run agrees."""
    from inferplan.disagg import disaggregated_serving, prefill_step_s
    prefill, decode, wl = pools({"chips": 2, "parallelism": {"tp": 2}}, {"chips": 2},
                                concurrency=1, prefix_hit_rate=0.5)
    step = float(mixed_step_cost(prefill, [Segment("prefill", 1.0, 1024.0, 1024.0)]).latency_s)
    assert prefill_step_s(prefill, 2048, prefix_hit_rate=0.5) == pytest.approx(step)
    assert prefill_step_s(prefill, 2048, prefix_hit_rate=0.5) < prefill_step_s(prefill, 2048)
    hit = disaggregated_serving(prefill, decode, 2048, 64, 1, prefix_hit_rate=0.5)
    plain = disaggregated_serving(prefill, decode, 2048, 64, 1)
    assert hit.kv_transfer_s == plain.kv_transfer_s and hit.ttft_s < plain.ttft_s
    run = simulate_disaggregated(prefill, decode, wl, 1)
    assert float(np.mean(run.run.ttft_s)) == pytest.approx(hit.ttft_s, rel=0.02)
    with pytest.raises(InferplanError, match="prefix_hit_rate"):
        prefill_step_s(prefill, 2048, prefix_hit_rate=1.0)
