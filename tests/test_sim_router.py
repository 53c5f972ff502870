"""The fleet's routers (`workload.router`) and the benchmark client's warm-up requests
(`workload.warmup`)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import cli, make, one_line_error

from inferplan.deployment import Deployment, Workload
from inferplan.sim.fleet import pick_replica, simulate_fleet
from inferplan.sim.loop import Replica, run_alone, simulate_replica
from inferplan.sim.metrics import summarise_run
from inferplan.sim.requests import Requests, open_loop_requests
from inferplan.sim.run import simulate


def skewed(router: str, requests: int = 100) -> tuple[Deployment, Workload]:
    """dp = 4 replicas of one H100 each, lengths uniform in [103, 2048] in and [26, 512]
    out: a long request behind a round-robin turn makes a queue the others do not have."""
    dep, wl = make(model="qwen3-32b", hardware="h100-sxm", chips=4, parallelism={"tp": 1},
                   engine="vllm", workload={"input_len": 2048, "output_len": 512, "rate": 2.0,
                                            "requests": requests, "length_ratio": 0.05,
                                            "router": router})
    assert dep.layout.dp == 4
    return dep, wl


def test_least_loaded_pick_worked_number() -> None:
    """In flight [2, 3] (dealt [5, 4], finished [3, 1]): replica 0; a tie: the lowest."""
    assert pick_replica("least_loaded", 7, [2, 3]) == 0
    assert pick_replica("least_loaded", 7, [3, 1, 1]) == 1


def test_least_loaded_balances_a_skewed_open_loop() -> None:
    rr = summarise_run(simulate_fleet(*skewed("round_robin"), None, seed=1))
    ll = summarise_run(simulate_fleet(*skewed("least_loaded"), None, seed=1))
    assert rr.requests == ll.requests == 400
    assert ll.ttft_s.p99 < rr.ttft_s.p99 and ll.ttft_s.mean < rr.ttft_s.mean
    assert ll.e2e_s.p99 < rr.e2e_s.p99


def test_least_loaded_deals_each_arrival_to_the_least_loaded_replica() -> None:
    """Recount from the run's own finishes: at each arrival, the replica it went to had
    the fewest requests dealt before it and not finished by its time (lowest index on
    ties)."""
    dep, wl = skewed("least_loaded")
    run = simulate_fleet(dep, wl, None, seed=2)
    assert np.all(np.isfinite(run.finished_s)) and np.all(np.diff(run.sent_s) >= 0)
    N, dp = run.requests.count, dep.layout.dp
    on = run.replica[None, :] == np.arange(dp)[:, None]                  # (dp, N)
    before = np.tril(np.ones((N, N), dtype=bool), k=-1)                  # i < j
    dealt = on.astype(int) @ before.T                                     # (dp, N)
    gone = on.astype(int) @ (run.finished_s[:, None] <= run.sent_s[None, :]).astype(int)
    loads = dealt - gone
    np.testing.assert_array_equal(run.replica, np.argmin(loads, axis=0))
    assert len(set(run.replica.tolist())) == dp
    # round robin deals by index whatever the load; here that differs
    assert np.any(run.replica != np.arange(N) % dp)


def test_least_loaded_shares_rerun_alone_give_the_same_run() -> None:
    """Dealing arrivals one at a time while the replicas run is exact: each replica given
    its whole share from the start (told every arrival at once) runs the same steps."""
    dep, wl = skewed("least_loaded")
    fleet_run = simulate_fleet(dep, wl, None, seed=3)
    stream = open_loop_requests(replace(wl, rate=8.0, requests=400), seed=3)
    for r in range(dep.layout.dp):
        mine = np.flatnonzero(fleet_run.replica == r)
        assert stream.arrival_s is not None
        sent = stream.arrival_s.copy()
        first, done = np.full(stream.count, np.nan), np.full(stream.count, np.nan)
        alone = Replica(dep, wl, stream.input_tokens, stream.output_tokens,
                        min(dep.engine.scheduler.max_num_seqs, stream.count))
        run_alone(alone, mine.tolist(), sent, first, done, None)
        assert alone.steps == int(np.sum(fleet_run.log[fleet_run.log[:, 0] == r, 3])) > 0
        np.testing.assert_array_equal(done[mine], fleet_run.finished_s[mine])
        np.testing.assert_array_equal(first[mine], fleet_run.first_token_s[mine])
    assert fleet_run.steps == sum(int(np.sum(fleet_run.log[fleet_run.log[:, 0] == r, 3]))
                                  for r in range(dep.layout.dp))


def test_round_robin_is_the_default_and_each_share_runs_alone() -> None:
    dep, wl = skewed("round_robin")
    default = simulate_fleet(dep, replace(wl, router=Workload(1, 1).router), None, seed=4)
    explicit = simulate_fleet(dep, wl, None, seed=4)
    assert default.finished_s.tobytes() == explicit.finished_s.tobytes()
    stream = open_loop_requests(replace(wl, rate=8.0, requests=400), seed=4)
    assert stream.arrival_s is not None
    for r in range(4):
        alone = simulate_replica(dep, wl, None, 4, Requests(
            stream.input_tokens[r::4], stream.output_tokens[r::4], stream.arrival_s[r::4]))
        assert alone.finished_s.tobytes() == explicit.finished_s[r::4].tobytes()
    np.testing.assert_array_equal(explicit.replica, np.arange(400) % 4)


def test_least_loaded_same_seed_same_run() -> None:
    dep, wl = skewed("least_loaded", requests=60)
    a = simulate_fleet(dep, wl, None, seed=5)
    b = simulate_fleet(dep, wl, None, seed=5)
    c = simulate_fleet(dep, wl, None, seed=6)
    assert a.finished_s.tobytes() == b.finished_s.tobytes()
    assert a.replica.tobytes() == b.replica.tobytes()
    assert a.finished_s.tobytes() != c.finished_s.tobytes()


def test_offline_least_loaded_alternates() -> None:
    """Every request at t = 0: nothing finishes between arrivals, so the fewest in flight
    goes round in turn, as round robin does."""
    dep, wl = make(model="qwen3-32b", hardware="h100-sxm", chips=2, parallelism={"tp": 1},
                   engine="vllm", workload={"input_len": 512, "output_len": 32,
                                            "arrival": "offline", "requests": 16,
                                            "router": "least_loaded"})
    ll = simulate_fleet(dep, wl, None)
    rr = simulate_fleet(dep, replace(wl, router="round_robin"), None)
    np.testing.assert_array_equal(ll.replica, np.arange(32) % 2)
    np.testing.assert_array_equal(ll.finished_s, rr.finished_s)


def closed(warmup: int, dp: int = 1) -> tuple[Deployment, Workload]:
    return make(model="qwen3-32b", hardware="h100-sxm", chips=dp, parallelism={"tp": 1},
                engine="sglang", workload={"input_len": 512, "output_len": 64,
                                           "concurrency": 8, "length_ratio": 0.5,
                                           "requests": 40, "warmup": warmup})


@pytest.mark.parametrize("dp", [1, 2])
def test_warmups_run_first_and_stay_out_of_every_metric(dp: int) -> None:
    """vLLM's warm-ups finish before the measured requests start and are not counted: the
    measured figures are those of the run without them, over `requests` requests."""
    plain = simulate(*closed(0, dp))
    warm = simulate(*closed(8, dp))
    longer = simulate(*closed(24, dp))
    assert warm.summary == plain.summary
    assert warm.summary.requests == 40 * dp
    assert plain.warmup_s == 0.0 < warm.warmup_s < longer.warmup_s
    # 8 copies of the first request on 8 clients run as one batch: one prefill of the
    # 8 prompts plus 63 decode steps, longer than one request's TTFT alone
    assert warm.warmup_s > float(np.min(plain.run.ttft_s))
    assert warm.to_dict()["warmup"] == {"requests": 8, "duration_s": warm.warmup_s}


def write(tmp_path: Path, workload: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text("model: qwen3-32b\nhardware: h100-sxm\nchips: 2\nparallelism: {tp: 1}\n"
                    f"engine: vllm\nworkload: {{input_len: 512, output_len: 32, {workload}}}\n")
    return path


def test_simulate_command_takes_router_and_warmup(
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "rate: 4, requests: 30, router: least_loaded")
    code, out, _ = cli(capsys, "simulate", str(path), "--json")
    assert code == 0
    record = json.loads(out)
    assert record["router"] == "least_loaded" and record["requests"] == 60
    path = write(tmp_path, "concurrency: 4, requests: 12, warmup: 3")
    code, out, _ = cli(capsys, "simulate", str(path))
    assert code == 0
    assert "after 3 warm-up requests" in out and "24 requests" in out


@pytest.mark.parametrize(("workload", "field", "word"), [
    ("concurrency: 4, warmup: -1", "workload.warmup", "greater than or equal to 0"),
    ("concurrency: 4, warmup: many", "workload.warmup", "integer"),
    ("rate: 2, router: fastest", "workload.router", "least_loaded"),
    ("rate: 2, warmup: 5", "workload.warmup", "closed loop"),
])
def test_bad_router_and_warmup_exit_2_naming_the_field(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        workload: str, field: str, word: str) -> None:
    line = one_line_error(capsys, "simulate", str(write(tmp_path, workload)))
    assert field in line and word in line, line
