"""A deployment's dp replicas behind a router (`workload.router`).

Closed loop: every replica has its own C clients (concurrency is per replica), so the
replicas run independently, each with its own seed, whatever the router: it has nothing
to route. Open loop: the fleet's arrivals, at dp × the per-replica `rate`, are dealt
- `round_robin` (the default): in turn, request i to replica i mod dp. That couples
  nothing, so the fleet is its replicas' runs side by side;
- `least_loaded`: each to the replica with the fewest requests in flight (queued or
  running, `in_flight`) at its arrival time, ties to the lowest index. The load depends on
  every replica's finishes so far, so the replicas run side by side in time
  (`least_loaded_fleet`).
"""

from __future__ import annotations

import heapq
from collections.abc import Generator
from dataclasses import replace

import numpy as np
import numpy.typing as npt

from inferplan.deployment import Deployment, Workload
from inferplan.sim.loop import (
    Route,
    SimResult,
    replica_steps,
    replica_table,
    run_to_end,
    simulate_replica,
)
from inferplan.sim.requests import OPEN_LOOP_REQUESTS, Requests, open_loop_requests


def simulate_fleet(deployment: Deployment, workload: Workload, concurrency: int | None,
                   seed: int = 0, requests: Requests | None = None) -> SimResult:
    """All dp replicas; the result lists every request of the fleet (replica by replica for
    a closed loop, in arrival order for an open loop). `requests` (with arrival times, a
    trace) replaces the open loop's generated arrivals."""
    dp = deployment.layout.dp
    if dp == 1:
        return simulate_replica(deployment, workload, concurrency, seed, requests)
    if concurrency is not None:
        runs = [simulate_replica(deployment, workload, concurrency, seed + r)
                for r in range(dp)]
        order = None
    else:
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
                     replica=joined_replicas(runs, order))


def joined_replicas(runs: list[SimResult], order: npt.NDArray[np.intp] | None
                    ) -> npt.NDArray[np.int64]:
    """The replica of each request of `joined_runs`."""
    replica = np.concatenate([np.full(run.requests.count, r, dtype=np.int64)
                              for r, run in enumerate(runs)])
    return replica if order is None else replica[order]


IntArray = npt.NDArray[np.int64]


def in_flight(dealt: IntArray, finished: IntArray) -> IntArray:
    """Requests in flight at each replica (queued or running): dealt to it minus finished
    by then. Dealt [5, 4], finished [3, 1]: [2, 3]."""
    return np.asarray(dealt - finished, dtype=np.int64)


def least_loaded_fleet(deployment: Deployment, workload: Workload, fleet: Requests
                       ) -> SimResult:
    """The fleet's arrivals (in time order) dealt one at a time to the replica with the
    fewest in flight at the arrival's time, ties to the lowest index; the same runs as if
    each replica had been given its share from the start.

    Each replica is its loop as a generator (`loop.replica_steps`) that goes on while its
    next step does not depend on an arrival not dealt yet, and otherwise waits, saying how
    far the dealing must get. Before arrival j at time a is dealt, every replica that can
    go on goes on: its finishes up to a are then all known (a replica that waits on a
    decode jump ends it after a, as a step's time does not fall as context grows). A
    finish at a leaves before the arrival at a, as in the loop (admission follows the
    step). Exact for the loop's semantics; cost: the replicas' own loops plus, per arrival,
    O(dp) numpy work, O(log dp) per finish, and one resume of each replica that can go on:
    O(N·dp) at worst, far less when replicas wait on their own arrivals."""
    assert fleet.arrival_s is not None
    dp = deployment.layout.dp
    N = fleet.count
    sent = fleet.arrival_s.copy()
    first = np.full(N, np.nan)
    done = np.full(N, np.nan)
    table = replica_table(deployment, workload, None, fleet)
    routes = [Route(mine=[], horizon_s=0.0, closed=False) for _ in range(dp)]
    loops: list[Generator[float, None, SimResult]] = [
        replica_steps(deployment, workload, None, fleet, route, sent, first, done, table)
        for route in routes]
    wake_s = np.full(dp, -np.inf)        # the horizon each replica waits to see passed
    dealt = np.zeros(dp, dtype=np.int64)
    finished_by = np.zeros(dp, dtype=np.int64)
    counted = [0] * dp                   # finishes of each replica already in the heap
    finishes: list[tuple[float, int]] = []
    for j in range(N):
        a = float(sent[j])
        for r in np.flatnonzero(wake_s < a):
            routes[r].horizon_s = a
            wake_s[r] = next(loops[r])
            new = routes[r].finished_s[counted[r]:]
            counted[r] += len(new)
            for f in new:
                heapq.heappush(finishes, (f, int(r)))
        while finishes and finishes[0][0] <= a:
            finished_by[heapq.heappop(finishes)[1]] += 1
        target = int(np.argmin(in_flight(dealt, finished_by)))   # first minimum: lowest index
        routes[target].mine.append(j)
        dealt[target] += 1
        wake_s[target] = -np.inf         # it has a new arrival to look at
    runs = []
    for route, steps in zip(routes, loops, strict=True):
        route.closed, route.horizon_s = True, np.inf
        runs.append(run_to_end(steps))
    shares = [Requests(fleet.input_tokens[route.mine], fleet.output_tokens[route.mine],
                       sent[route.mine]) for route in routes]
    return joined_runs([replace(run, requests=share, sent_s=sent[route.mine],
                                first_token_s=first[route.mine],
                                finished_s=done[route.mine])
                        for run, share, route in zip(runs, shares, routes, strict=True)],
                       np.argsort(np.concatenate([route.mine for route in routes]),
                                  kind="stable"))
