"""Disaggregated prefill and decode pools, request by request.

P prefill replicas and D decode replicas (each pool one `Deployment`; its `dp` is the
replica count, and each pool has its own chips, tp/ep and attention split). A request is
routed to a prefill replica (round robin, or the least loaded: fewest requests routed there
and not yet handed off), where it waits FCFS and is prefilled in prefill-only steps through
that replica's token budget (`sim.loop.Replica`, phase `prefill`). Its KV then crosses to a
decode replica (routed the same way when the prompt ends) in `disagg.kv_transfer_s` of its
prompt; the transfers of one prefill replica go one after another over its link. The decode
replica admits it (FCFS, max_num_seqs, KV room) and it decodes its n − 1 remaining tokens in
decode steps (phase `decode`).

The first token: the prefill worker samples it (TensorRT-LLM's context-only response
carries `first_gen_tokens`, tensorrt_llm/disaggregated_params.py; vLLM's disaggregated
routers send the prefill with max_tokens=1, vllm-project/production-stack
examples/disaggregated_prefill_orchestrated; SGLang's prefill server sends the first output
id beside the KV), but the client receives it in the decode worker's stream, once the KV
has landed (TensorRT-LLM's disaggregated server records the first token from the
generation server, `on_first_token(gen_server, ...)` in serve/openai_disagg_server.py). So
TTFT here ends at the transfer's completion: prefill queue + prefill + hand-off, as
`disagg.disaggregated_serving` states it without the queue.

The event loop is exact and deterministic. Every replica is idle or has one planned step
in flight (`Replica.plan`), whose effects apply at its end. The loop takes the earliest
time among step ends, transfer completions and open-loop arrivals; at that time it applies
every step that ends there (prefill replicas first, then decode, each in index order),
starts the hand-offs and (closed loop) the clients' next requests, delivers the transfers
and arrivals due, then plans a step on every idle replica with work. A decode replica's
decode-only jump runs up to its next known arrival; a hand-off learnt later that lands
inside the jump cuts it where `simulate_replica` would have (`Replica.cut`), so each decode
replica runs exactly as a replica fed its arrivals as an open loop (tested). No iteration
or fixed point is needed: every event is caused by an earlier one.

Not modelled: the decode side's link contention (several prefill replicas sending to one
decode replica at once), a prefill replica holding its KV until the hand-off ends (it is
freed when the prompt ends), layer-wise overlap of the transfer with the prefill.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from inferplan.deployment import Deployment, Workload
from inferplan.disagg import kv_transfer_s
from inferplan.sim.fleet import Router, pick_replica
from inferplan.sim.loop import Replica, SimResult, Step, iteration_log, resent_s
from inferplan.sim.requests import (
    OPEN_LOOP_REQUESTS,
    Requests,
    closed_loop_requests,
    file_requests,
    open_loop_requests,
)

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class DisaggRun:
    """A disaggregated run: the client's view (`run`: decode replicas' iterations in its
    log, so its occupancy is the decode pool's) and each request's path."""

    run: SimResult
    prefill_end_s: FloatArray            # the prompt's last prefill step ends
    transfer_s: FloatArray               # its KV hand-off alone (no link wait)
    decode_arrival_s: FloatArray         # the KV has landed: the first token reaches the client
    prefill_replica: npt.NDArray[np.int64]
    decode_replica: npt.NDArray[np.int64]    # -1: one output token, no decode
    prefill_busy_s: float                # summed over prefill replicas
    prefill_steps: int
    prefill_max_running: int
    prefill_replicas: int
    decode_replicas: int


def transfer_times_s(prefill: Deployment, input_tokens: npt.ArrayLike,
                     same_domain: bool) -> FloatArray:
    """Each request's KV hand-off, `disagg.kv_transfer_s` of its own prompt length
    (computed once per distinct length)."""
    S = np.asarray(input_tokens, dtype=np.int64)
    lengths, index = np.unique(S, return_inverse=True)
    per_length = np.array([float(kv_transfer_s(prefill, int(s), same_domain))
                           for s in lengths], dtype=np.float64)
    return np.asarray(per_length[index], dtype=np.float64)


def disaggregated_requests(workload: Workload, concurrency: int | None, seed: int,
                           requests: Requests | None) -> Requests:
    """The client's requests: C closed-loop clients' 10·C (or `requests`; with a lengths
    file's rows, `file_requests`), or the open loop's arrivals at `workload.rate` for the
    whole deployment, or a trace's."""
    if requests is not None:
        return requests if concurrency is None else file_requests(requests, workload,
                                                                   concurrency)
    if concurrency is not None:
        return closed_loop_requests(workload, concurrency, seed)
    return open_loop_requests(replace(workload, requests=workload.requests
                                      or OPEN_LOOP_REQUESTS), seed)


def simulate_disaggregated(prefill: Deployment, decode: Deployment, workload: Workload,
                           concurrency: int | None, seed: int = 0,
                           requests: Requests | None = None,
                           router: Router = "round_robin",
                           same_domain: bool = False) -> DisaggRun:
    """Run the two pools under C closed-loop clients (all C at t = 0; each completion
    sends that client's next request) or open-loop arrivals (`concurrency` None: the
    workload's `rate` for the whole deployment, `offline`, or `requests` with arrival
    times). See the module docstring for the event order."""
    reqs = disaggregated_requests(workload, concurrency, seed, requests)
    S, n, N = reqs.input_tokens, reqs.output_tokens, reqs.count
    P, D = prefill.layout.dp, decode.layout.dp
    pre = [Replica(prefill, workload, S, n, min(prefill.max_running_sequences, N),
                   "prefill") for _ in range(P)]
    dec = [Replica(decode, workload, S, n,
                   min(decode.max_running_sequences, concurrency or N), "decode")
           for _ in range(D)]
    replicas = pre + dec
    transfer = transfer_times_s(prefill, S, same_domain)
    open_loop = reqs.arrival_s is not None
    sent = reqs.arrival_s.copy() if reqs.arrival_s is not None else np.full(N, np.nan)
    first, done = np.full(N, np.nan), np.full(N, np.nan)
    prefill_end, arrival = np.full(N, np.nan), np.full(N, np.nan)
    where_p, where_d = np.full(N, -1, dtype=np.int64), np.full(N, -1, dtype=np.int64)
    load_p, load_d = [0] * P, [0] * D            # routed and not yet handed off / finished
    turns = [0, 0]                               # round-robin counters: prefill, decode
    link_free = [0.0] * P                        # each prefill replica's link is free from
    landing: list[list[tuple[float, int, int]]] = [[] for _ in range(D)]  # heaps per decode
    order = 0                                    # ties among landings: in hand-off order
    flight: list[Step | None] = [None] * (P + D)
    next_id = 0

    def send(r: int, t: float, reaches_s: float | None = None) -> None:
        i = pick_replica(router, turns[0], load_p)
        turns[0] += 1
        load_p[i] += 1
        where_p[r] = i
        sent[r] = t
        pre[i].arrive(r, t if reaches_s is None else reaches_s)

    def hand_off(i: int, r: int, t: float) -> None:
        nonlocal order
        j = pick_replica(router, turns[1], load_d)
        turns[1] += 1
        load_d[j] += 1
        where_d[r] = j
        start = max(t, link_free[i])
        link_free[i] = lands = start + float(transfer[r])
        heapq.heappush(landing[j], (lands, order, r))
        order += 1
        step = flight[P + j]
        if step is not None:
            dec[j].cut(step, lands, t)

    def finish(r: int, t: float) -> None:
        nonlocal next_id
        done[r] = t
        if not open_loop and next_id < N:
            send(next_id, t, resent_s(t))
            next_id += 1

    if not open_loop:
        for r in range(min(concurrency or N, N)):
            send(r, 0.0)
        next_id = min(concurrency or N, N)
    now = 0.0
    while True:
        for x, rep in enumerate(replicas):
            if flight[x] is None and rep.has_work():
                rep.t = max(rep.t, now)
                j = x - P
                known = landing[j][0][0] if j >= 0 and landing[j] else None
                flight[x] = rep.plan(known)
        ends = [s.end_s for s in flight if s is not None]
        times = ends + [h[0][0] for h in landing if h]
        if open_loop and next_id < N:
            times.append(float(sent[next_id]))
        if not times:
            break
        now = min(times)
        for x, step in enumerate(flight):
            if step is None or step.end_s > now:
                continue
            flight[x] = None
            out = replicas[x].complete(step)
            if x < P:
                for r in out.finished:
                    prefill_end[r] = now
                    load_p[x] -= 1
                    if n[r] > 1:
                        hand_off(x, r, now)
                    else:                       # its only token: no decode
                        first[r] = arrival[r] = now
                        finish(r, now)
            else:
                for r in out.finished:
                    load_d[x - P] -= 1
                    finish(r, now)
        for j, heap in enumerate(landing):
            while heap and heap[0][0] <= now:
                lands, _, r = heapq.heappop(heap)
                first[r] = arrival[r] = lands
                dec[j].arrive(r, lands)
        while open_loop and next_id < N and sent[next_id] <= now:
            send(next_id, float(sent[next_id]))
            next_id += 1
    logs = [rep.iterations() for rep in dec]
    log = np.concatenate([np.column_stack([np.full(len(lg), j), lg[:, 1:]])
                          for j, lg in enumerate(logs)])
    run = SimResult(requests=reqs, sent_s=sent, first_token_s=first, finished_s=done,
                    steps=sum(rep.steps for rep in dec), busy_s=sum(rep.busy for rep in dec),
                    max_running=max(rep.most for rep in dec),
                    preemptions=sum(rep.preemptions for rep in dec),
                    itl_s=np.concatenate([np.asarray(rep.gaps) for rep in dec]),
                    itl_tokens=np.concatenate([np.asarray(rep.weights) for rep in dec]),
                    log=log if log.size else iteration_log([], []),
                    kv_capacity_tokens=dec[0].capacity, frontend_s=pre[0].frontend_s)
    return DisaggRun(run=run, prefill_end_s=prefill_end, transfer_s=transfer,
                     decode_arrival_s=arrival, prefill_replica=where_p, decode_replica=where_d,
                     prefill_busy_s=sum(rep.busy for rep in pre),
                     prefill_steps=sum(rep.steps for rep in pre),
                     prefill_max_running=max(rep.most for rep in pre),
                     prefill_replicas=P, decode_replicas=D)
