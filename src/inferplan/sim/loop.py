"""The event loop of one replica, under a closed loop of C clients or open-loop arrivals.

Closed loop: at t = 0 the first C requests arrive; each completion sends the client's
next request at once, until N have been sent. Open loop (`workload.rate`): requests
arrive at their own times (Poisson or gamma gaps), whatever the engine is doing. Every
engine step, in the engine profile's way:
- admission: waiting requests start (FCFS) while fewer than `max_num_seqs` run and the
  KV cache holds them (`on_demand`: the tokens they hold now plus the new prompt;
  `reserve_full`: each admitted sequence reserves its whole prompt + output); under
  `on_demand`, caches that outgrow the room preempt the latest admitted sequences, which
  recompute their tokens when readmitted (vLLM's preemption by recompute);
- `mixed` (vLLM, TensorRT-LLM): the decoding sequences each add a token, and admitted
  prompts fill the rest of the token budget FCFS, in chunks (or whole, without chunked
  prefill);
- `prefill_first` (SGLang, bucketed engines): while admitted prompts wait, a step runs
  prompt tokens only (up to the budget) and the decodes wait;
- a prompt's last chunk emits its first token at the step's end; a sequence that has
  all its tokens leaves, frees its cache and its client sends the next request.
Step times come from `step_table` (the deployment's `StepTimeModel`). Deterministic:
the same seed gives the same run.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Generator
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from inferplan.deployment import Deployment, Workload
from inferplan.memory import max_batch
from inferplan.sim.requests import Requests, closed_loop_requests, open_loop_requests
from inferplan.sim.step_table import StepTable, step_table

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class SimResult:
    """Per request: when it was sent, its first token, its last token; and the run."""

    requests: Requests
    sent_s: FloatArray
    first_token_s: FloatArray
    finished_s: FloatArray
    steps: int
    busy_s: float
    max_running: int
    preemptions: int = 0
    #: every decode step's duration and how many tokens it emitted (one per decoding
    #: sequence): the inter-token latencies a client sees, token-weighted
    itl_s: FloatArray = field(default_factory=lambda: np.zeros(0))
    itl_tokens: FloatArray = field(default_factory=lambda: np.zeros(0))
    #: the engine's iterations (a run of alike decode steps counts once): replica, start,
    #: duration, steps, running sequences, decoding sequences, prompt tokens, KV tokens
    #: held after it; and the KV room of one replica
    log: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros((0, 8)))
    kv_capacity_tokens: int = 0
    #: the replica each request ran on (a fleet's; empty for one replica alone)
    replica: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))

    @property
    def ttft_s(self) -> FloatArray:
        return np.asarray(self.first_token_s - self.sent_s, dtype=np.float64)

    @property
    def tpot_s(self) -> FloatArray:
        """(e2e − TTFT)/(output tokens − 1) per request, as benchmark clients report it
        (requests of one output token: 0)."""
        n = self.requests.output_tokens.astype(np.float64)
        return np.asarray(np.where(n > 1, (self.finished_s - self.first_token_s)
                                   / np.maximum(n - 1, 1), 0.0), dtype=np.float64)

    @property
    def e2e_s(self) -> FloatArray:
        return np.asarray(self.finished_s - self.sent_s, dtype=np.float64)


def kv_token_capacity(deployment: Deployment, workload: Workload) -> int:
    """KV tokens one replica holds: the sequences of the workload's mean held length that
    fit (`memory.max_batch`), times that length."""
    held = max(2, math.ceil(workload.mean_input_len + workload.mean_output_len / 2.0))
    sequences = max_batch(deployment, replace(workload, input_len=held - 1, output_len=1))
    return max(held, sequences * held)


@dataclass
class Route:
    """What a router has told one replica of an open loop so far: the fleet's request ids
    dealt to it (in arrival order), that every arrival before `horizon_s` is dealt, and
    whether the dealing is over (`closed`). A replica alone is told everything at once."""

    mine: list[int]
    horizon_s: float = math.inf
    closed: bool = True
    #: the replica's finish times so far, in order (the router counts its load from them)
    finished_s: list[float] = field(default_factory=list)


def simulate_replica(deployment: Deployment, workload: Workload, concurrency: int | None,
                     seed: int = 0, requests: Requests | None = None) -> SimResult:
    """Run until N requests are done: C closed-loop clients, or with `concurrency` None the
    workload's open-loop arrivals (see the module docstring). `requests` replaces the
    workload's own (a router's share of a fleet's arrivals)."""
    reqs = requests if requests is not None else (
        closed_loop_requests(workload, concurrency, seed) if concurrency is not None
        else open_loop_requests(workload, seed))
    N = reqs.count
    sent = reqs.arrival_s.copy() if reqs.arrival_s is not None else np.full(N, np.nan)
    first = np.full(N, np.nan)
    done = np.full(N, np.nan)
    route = Route(mine=list(range(N))) if reqs.arrival_s is not None else None
    return run_to_end(replica_steps(deployment, workload, concurrency, reqs, route, sent,
                                    first, done,
                                    replica_table(deployment, workload, concurrency, reqs)))


def run_to_end(steps: Generator[float, None, SimResult]) -> SimResult:
    """The result of a replica's loop that has been told everything (it never waits)."""
    try:
        next(steps)
    except StopIteration as stop:
        result: SimResult = stop.value
        return result
    raise AssertionError("a replica told every arrival waited for the router")


def replica_table(deployment: Deployment, workload: Workload, concurrency: int | None,
                  reqs: Requests) -> StepTable:
    """The step-time table a replica's loop interpolates: up to min(max_num_seqs, C or N)
    sequences, contexts up to the longest request, prompts up to the token budget."""
    sched = deployment.engine.scheduler
    budget = int(workload.prefill_chunk_tokens or sched.max_num_batched_tokens)
    cap_seqs = min(sched.max_num_seqs, concurrency or reqs.count)
    return step_table(deployment, cap_seqs,
                      float(reqs.input_tokens.max() + reqs.output_tokens.max()), float(budget))


def replica_steps(deployment: Deployment, workload: Workload, concurrency: int | None,
                  reqs: Requests, route: Route | None, sent: FloatArray, first: FloatArray,
                  done: FloatArray, table: StepTable) -> Generator[float, None, SimResult]:
    """The event loop of one replica (the module docstring), as a generator. A closed loop
    (`route` None) runs to its end; an open loop takes the requests `route.mine` names
    (ids into `reqs`, `sent`, `first` and `done`, which it fills). Where the next step
    depends on an arrival the router has not dealt yet, it yields the lowest horizon at
    which it can go on (`route.horizon_s` must pass it; inf: until dealt one or closed):
    - idle, with no arrival dealt: it yields inf;
    - admission at t: every arrival up to t must be dealt (horizon > t): it yields t;
    - a decode jump of k steps that the next arrival would cut short: it goes on once
      ceil((horizon − t)/dt) ≥ k, and yields t + (k − 1)·dt.
    Its result: the run (the arrays passed in, with its steps and ITL)."""
    sched = deployment.engine.scheduler
    S, n = reqs.input_tokens, reqs.output_tokens
    N = reqs.count
    budget = int(workload.prefill_chunk_tokens or sched.max_num_batched_tokens)
    capacity = kv_token_capacity(deployment, workload)
    cap_seqs = min(sched.max_num_seqs, concurrency or N)
    mixed = sched.prompt_steps == "mixed"
    reserve = sched.kv_admission == "reserve_full"

    open_loop = route is not None
    mine: list[int] = route.mine if route is not None else []
    waiting: deque[int] = deque()
    prompting: deque[list[int]] = deque()        # [request, prompt tokens left]
    decoding: dict[int, int] = {}                # request -> tokens still to emit
    context: dict[int, int] = {}                 # request -> tokens in its cache
    held = 0                                     # KV tokens held (or reserved)
    t, steps, busy, most = 0.0, 0, 0.0, 0
    gaps: list[float] = []                       # decode step durations (ITL)
    log: list[tuple[float, ...]] = []            # one row per iteration (SimResult.log)
    held_after: list[float] = []
    admitted: list[int] = []                     # running requests, in admission order
    recompute: dict[int, int] = {}               # preempted request -> tokens to prefill again
    resumed: dict[int, int] = {}                 # preempted request -> tokens still to emit
    preemptions = 0
    weights: list[float] = []                    # tokens each emitted, times its repeats
    if open_loop:
        next_id = 0                              # the next of `mine` not yet arrived
    else:
        next_id = min(concurrency or N, N)
        sent[:next_id] = 0.0
        waiting.extend(range(next_id))

    def finish(r: int) -> None:
        """Request r has its last token at t: free its cache; a closed-loop client sends
        its next request."""
        nonlocal held, next_id
        done[r] = t
        held -= int(S[r] + n[r]) if reserve else context[r]
        del context[r]
        admitted.remove(r)
        if route is not None:
            route.finished_s.append(t)
        elif next_id < N:
            sent[next_id] = t
            waiting.append(next_id)
            next_id += 1

    while True:
        if not (decoding or prompting or waiting):
            if route is None:
                break                                    # the closed loop is done
            while next_id == len(mine) and not route.closed:
                yield math.inf                           # idle: wait to be dealt one
            if next_id == len(mine):
                break                                    # no arrival left
            t = max(t, float(sent[mine[next_id]]))       # idle until the next arrival
        if route is not None:
            while route.horizon_s <= t and not route.closed:
                yield t                                  # arrivals up to t not all dealt
            while next_id < len(mine) and sent[mine[next_id]] <= t:
                waiting.append(mine[next_id])
                next_id += 1
        # admission, FCFS
        while waiting and len(decoding) + len(prompting) < cap_seqs:
            r = waiting[0]
            need = int(S[r] + n[r]) if reserve else recompute.get(r, int(S[r]))
            if held + need > capacity and (decoding or prompting):
                break
            waiting.popleft()
            prompt = recompute.pop(r, int(S[r]))   # a preempted request recomputes its tokens
            held += need
            prompting.append([r, prompt])
            context[r] = 0
            admitted.append(r)
        most = max(most, len(decoding) + len(prompting))
        decode_now = list(decoding) if (mixed or not prompting) else []
        room = budget - len(decode_now) if mixed else budget
        chunks: list[tuple[list[int], int]] = []
        for entry in prompting:
            if room <= 0:
                break
            take = min(entry[1], room) if sched.chunked_prefill else entry[1]
            if not sched.chunked_prefill and take > room and chunks:
                break
            chunks.append((entry, take))
            room -= take
        if not decode_now and not chunks:
            raise AssertionError("a step with nothing to run")     # admission guarantees work
        prompt_tokens = float(sum(take for _, take in chunks))
        mean_ctx = (sum(context[r] for r in decode_now) / len(decode_now)
                    if decode_now else 1.0)
        # Decode-only steps between events are alike but for the growing context: run k
        # of them at once, up to the next completion (or the next open-loop arrival),
        # at the step time of their middle context.
        k = 1
        if not chunks:
            k = min(decoding[r] for r in decode_now)
            if route is not None and k > 1:
                first_dt = table.step_s(len(decode_now), mean_ctx, 0.0)
                # an arrival not dealt yet comes at or after the horizon: wait until no
                # arrival could cut the jump short, or the next is dealt
                while next_id == len(mine) and not route.closed and \
                        math.ceil((route.horizon_s - t) / first_dt) < k:
                    yield t + (k - 1) * first_dt
                if next_id < len(mine):
                    k = max(1, min(k, math.ceil((float(sent[mine[next_id]]) - t) / first_dt)))
        dt = k * table.step_s(len(decode_now), mean_ctx + (k - 1) / 2.0, prompt_tokens)
        if decode_now:
            gaps.append(dt / k)
            weights.append(float(len(decode_now) * k))
        log.append((0.0, t, dt, float(k), float(len(decoding) + len(prompting)),
                    float(len(decode_now)), prompt_tokens, 0.0))
        t += dt
        busy += dt
        steps += k
        for r in decode_now:
            decoding[r] -= k
            context[r] += k
            if not reserve:
                held += k
            if decoding[r] == 0:
                del decoding[r]
                finish(r)
        for entry, take in chunks:
            r = entry[0]
            entry[1] -= take
            context[r] += take
            if entry[1] == 0:
                prompting.remove(entry)
                if r in resumed:                   # recomputed: it goes on decoding
                    decoding[r] = resumed.pop(r)
                    continue
                first[r] = t
                if n[r] > 1:
                    decoding[r] = int(n[r]) - 1
                else:
                    finish(r)
        # on-demand paging: when the growing caches outrun the KV room, the most recently
        # admitted decoding sequences are preempted (vLLM's recompute): freed, and put back
        # first in the queue to prefill their tokens so far again
        while not reserve and held > capacity and len(decoding) > 1:
            victim = next(r for r in reversed(admitted) if r in decoding)
            resumed[victim] = decoding.pop(victim)
            recompute[victim] = context.pop(victim)
            held -= recompute[victim]
            admitted.remove(victim)
            waiting.appendleft(victim)
            preemptions += 1
        held_after.append(float(held))
    return SimResult(requests=reqs, sent_s=sent, first_token_s=first, finished_s=done,
                     steps=steps, busy_s=busy, max_running=most, preemptions=preemptions,
                     itl_s=np.asarray(gaps, dtype=np.float64),
                     itl_tokens=np.asarray(weights, dtype=np.float64),
                     log=iteration_log(log, held_after), kv_capacity_tokens=capacity)


def iteration_log(rows: list[tuple[float, ...]], held: list[float]) -> npt.NDArray[np.float64]:
    """The loop's iteration rows as an (iterations, 8) array, the KV held filled in."""
    out = np.asarray(rows, dtype=np.float64).reshape(-1, 8)
    out[:, 7] = np.asarray(held, dtype=np.float64)
    return out
