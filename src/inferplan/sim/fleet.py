"""A deployment's dp replicas behind a router (`workload.router`).

Closed loop: every replica has its own C clients (concurrency is per replica), so the
replicas run independently, each with its own seed, whatever the router: it has nothing
to route. Open loop: the fleet's arrivals, at dp × the per-replica `rate`, are dealt
- `round_robin` (the default): in turn, request i to replica i mod dp. That couples
  nothing, so the fleet is its replicas' runs side by side;
- `least_loaded`: each to the replica with the fewest requests in flight (queued or
  running, `Replica.load`) at its arrival time, ties to the lowest index. The load depends on
  every replica's finishes so far, so the replicas run side by side in time
  (`least_loaded_fleet`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

import numpy as np
import numpy.typing as npt

from inferplan.deployment import Deployment, Workload
from inferplan.sim.loop import Replica, SimResult, Step, simulate_replica
from inferplan.sim.requests import (
    OPEN_LOOP_REQUESTS,
    Requests,
    file_requests,
    open_loop_requests,
)


def simulate_fleet(deployment: Deployment, workload: Workload, concurrency: int | None,
                   seed: int = 0, requests: Requests | None = None) -> SimResult:
    """All dp replicas; the result lists every request of the fleet (replica by replica for
    a closed loop, in arrival order for an open loop). `requests` (with arrival times, a
    trace) replaces the open loop's generated arrivals; with `concurrency`, a lengths
    file's rows, which replica r's clients send from row r·N (`file_requests`)."""
    dp = deployment.layout.dp
    if concurrency is not None:
        runs = [simulate_replica(deployment, workload, concurrency, seed + r,
                                 None if requests is None
                                 else file_requests(requests, workload, concurrency, r))
                for r in range(dp)]
        return runs[0] if dp == 1 else joined_runs(runs, None)
    if dp == 1:
        return simulate_replica(deployment, workload, None, seed, requests)
    if requests is not None:
        fleet = requests
    elif workload.rate is not None or workload.arrival == "offline":
        fleet = open_loop_requests(replace(
            workload, rate=None if workload.rate is None else workload.rate * dp,
            requests=int(workload.requests or OPEN_LOOP_REQUESTS) * dp), seed)
    else:
        raise ValueError("an open loop needs workload.rate or a trace's requests")
    assert fleet.arrival_s is not None
    if workload.router == "least_loaded":
        return least_loaded_fleet(deployment, workload, fleet)
    total = fleet.count
    runs = []
    for r in range(dp):
        share = slice(r, None, dp)
        runs.append(simulate_replica(deployment, workload, None, seed, Requests(
            fleet.input_tokens[share], fleet.output_tokens[share],
            fleet.arrival_s[share])))
    order = np.argsort(np.concatenate([np.arange(r, total, dp) for r in range(dp)]),
                       kind="stable")
    return joined_runs(runs, order)


def joined_runs(runs: list[SimResult], order: npt.NDArray[np.intp] | None) -> SimResult:
    """The replicas' runs as one: their requests concatenated (put in arrival order by
    `order`), steps, busy time and preemptions summed, the iteration log tagged by
    replica."""

    def joined(name: str) -> np.ndarray:
        values = np.concatenate([getattr(run, name) for run in runs])
        return values if order is None else values[order]

    requests = Requests(
        input_tokens=np.concatenate([run.requests.input_tokens for run in runs]),
        output_tokens=np.concatenate([run.requests.output_tokens for run in runs]))
    if order is not None:
        requests = Requests(requests.input_tokens[order], requests.output_tokens[order])
    return SimResult(requests=requests, sent_s=joined("sent_s"),
                     first_token_s=joined("first_token_s"), finished_s=joined("finished_s"),
                     steps=sum(run.steps for run in runs),
                     busy_s=sum(run.busy_s for run in runs),
                     max_running=max(run.max_running for run in runs),
                     preemptions=sum(run.preemptions for run in runs),
                     itl_s=np.concatenate([run.itl_s for run in runs]),
                     itl_tokens=np.concatenate([run.itl_tokens for run in runs]),
                     log=np.concatenate([np.column_stack([np.full(len(run.log), r),
                                                          run.log[:, 1:]])
                                         for r, run in enumerate(runs)]),
                     kv_capacity_tokens=runs[0].kv_capacity_tokens,
                     replica=joined_replicas(runs, order), frontend_s=runs[0].frontend_s)


def joined_replicas(runs: list[SimResult], order: npt.NDArray[np.intp] | None
                    ) -> npt.NDArray[np.int64]:
    """The replica of each request of `joined_runs`."""
    replica = np.concatenate([np.full(run.requests.count, r, dtype=np.int64)
                              for r, run in enumerate(runs)])
    return replica if order is None else replica[order]


Router = Literal["round_robin", "least_loaded"]


def pick_replica(router: Router, turn: int, loads: list[int]) -> int:
    """Round robin: replica turn mod count. Least loaded: the fewest outstanding requests,
    the lowest index on a tie. Loads [2, 0, 0]: least loaded picks 1; turn 4 of 3: 1."""
    if router == "round_robin":
        return turn % len(loads)
    return min(range(len(loads)), key=lambda i: (loads[i], i))


def least_loaded_fleet(deployment: Deployment, workload: Workload, fleet: Requests
                       ) -> SimResult:
    """The fleet's arrivals (in time order) dealt one at a time to the replica with the
    fewest in flight at the arrival's time (`Replica.load`), ties to the lowest index; the
    same runs as if each replica had been given its share from the start.

    The replicas (`loop.Replica`) run side by side in time: each is idle or has one planned
    step in flight. The loop takes the earliest of the step ends and the next arrival; it
    applies every step that ends then (its finishes leave before an arrival at the same
    time, as in the loop, where admission follows the step), deals the arrivals due, and
    plans a step on every idle replica with work. A replica plans a decode jump without
    knowing its next arrival; one dealt to it during the jump cuts the jump where the loop
    would have ended it (`Replica.cut`). Exact for the loop's semantics; cost: the
    replicas' own steps plus O(dp) per event."""
    assert fleet.arrival_s is not None
    dp, N = deployment.layout.dp, fleet.count
    sent = fleet.arrival_s.copy()
    first, done = np.full(N, np.nan), np.full(N, np.nan)
    cap = min(deployment.max_running_sequences, N)
    reps = [Replica(deployment, workload, fleet.input_tokens, fleet.output_tokens, cap)]
    reps += [Replica(deployment, workload, fleet.input_tokens, fleet.output_tokens, cap,
                     table=reps[0].table, seed=x) for x in range(1, dp)]
    flight: list[Step | None] = [None] * dp
    mine: list[list[int]] = [[] for _ in range(dp)]
    j, now = 0, 0.0
    while True:
        for x, rep in enumerate(reps):
            if flight[x] is None and rep.has_work():
                rep.t = max(rep.t, now)
                flight[x] = rep.plan()
        times = [step.end_s for step in flight if step is not None]
        if j < N:
            times.append(float(sent[j]))
        if not times:
            break
        now = min(times)
        for x, step in enumerate(flight):
            if step is not None and step.end_s <= now:
                flight[x] = None
                out = reps[x].complete(step)
                first[out.prompts_done] = reps[x].t
                done[out.finished] = reps[x].t
        while j < N and sent[j] <= now:
            x = pick_replica("least_loaded", j, [rep.load() for rep in reps])
            reps[x].arrive(j, float(sent[j]))
            mine[x].append(j)
            step = flight[x]
            if step is not None:
                reps[x].cut(step, now, now)
            j += 1
    return joined_runs([rep.result(Requests(fleet.input_tokens[ids], fleet.output_tokens[ids],
                                            sent[ids]), sent[ids], first[ids], done[ids])
                        for rep, ids in zip(reps, mine, strict=True)],
                       np.argsort(np.concatenate(mine), kind="stable"))
