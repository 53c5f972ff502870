"""A deployment's dp replicas behind a round-robin router.

Closed loop: every replica has its own C clients (concurrency is per replica), so the
replicas run independently, each with its own seed. Open loop: the fleet's arrivals, at
dp × the per-replica `rate`, are dealt to the replicas in turn (request i to replica
i mod dp), and each replica runs its share. Round robin couples nothing else, so the
fleet is its replicas' runs side by side.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from inferplan.deployment import Deployment, Workload
from inferplan.sim.loop import SimResult, simulate_replica
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
        total = fleet.count
        runs = []
        for r in range(dp):
            share = slice(r, None, dp)
            runs.append(simulate_replica(deployment, workload, None, seed, Requests(
                fleet.input_tokens[share], fleet.output_tokens[share],
                fleet.arrival_s[share])))
        order = np.argsort(np.concatenate([np.arange(r, total, dp) for r in range(dp)]),
                           kind="stable")

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
                     kv_capacity_tokens=runs[0].kv_capacity_tokens)
