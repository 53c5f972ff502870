"""The event loop of one replica, under a closed loop of C clients or open-loop arrivals.

Closed loop: at t = 0 the first C requests arrive; each completion sends the client's
next request at once, until N have been sent. Open loop (`workload.rate`): requests
arrive at their own times (Poisson or gamma gaps), whatever the engine is doing. Every
engine step, in the engine profile's way:
- reception: the scheduler takes arrived requests every step, or with SGLang's
  `--scheduler-recv-interval` I every I decode steps, right after a prompt step, or
  when idle (`recv_interval_steps`); under an overlap scheduler (`overlap_scheduling`)
  the next step was composed when the previous one started, so it admits only requests
  that had arrived by then (one that arrives during step j starts in step j + 2), unless
  nothing runs;
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
- with speculative decoding (`speculative:`) a step with decodes is a draft-and-verify
  cycle and each decoding sequence emits 1..γ+1 tokens (its accepted drafts + 1, drawn
  with the per-token acceptance α);
- a prompt's last chunk emits its first token at the step's end; a sequence that has
  all its tokens leaves, frees its cache and its client sends the next request;
- with a prefix-cache hit rate h (`workload.prefix_hit_rate`) a prompt of S tokens
  computes S − round(h·S) of them (at least one, `lengths.cached_tokens`); the cached
  ones are in its KV from admission, and its chunks attend to them.
Step times come from `step_table` (the deployment's `StepTimeModel`). Deterministic:
the same seed gives the same run.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import numpy.typing as npt

from inferplan.deployment import Deployment, Workload, overlap_scheduling
from inferplan.lengths import cached_tokens
from inferplan.memory import max_batch
from inferplan.sim.requests import IntArray, Requests, closed_loop_requests, open_loop_requests
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
    #: the serving stack's time outside the steps on each request's way to its first
    #: token (`scheduler.frontend_s`): in every TTFT and e2e a client sees; it overlaps
    #: the steps, so the run's timeline leaves it out
    frontend_s: float = 0.0

    @property
    def ttft_s(self) -> FloatArray:
        """first token − sent + the stack's front end, as the client sees it."""
        return np.asarray(self.first_token_s - self.sent_s + self.frontend_s,
                          dtype=np.float64)

    @property
    def tpot_s(self) -> FloatArray:
        """(e2e − TTFT)/(output tokens − 1) per request, as benchmark clients report it
        (requests of one output token: 0)."""
        n = self.requests.output_tokens.astype(np.float64)
        return np.asarray(np.where(n > 1, (self.finished_s - self.first_token_s)
                                   / np.maximum(n - 1, 1), 0.0), dtype=np.float64)

    @property
    def e2e_s(self) -> FloatArray:
        return np.asarray(self.finished_s - self.sent_s + self.frontend_s, dtype=np.float64)


def kv_token_capacity(deployment: Deployment, workload: Workload) -> int:
    """KV tokens one replica holds: the sequences of the workload's mean held length that
    fit (`memory.max_batch`), times that length."""
    held = max(2, math.ceil(workload.mean_input_len + workload.mean_output_len / 2.0))
    sequences = max_batch(deployment, replace(workload, input_len=held - 1, output_len=1))
    return max(held, sequences * held)


#: what a replica does with a request: `both` (co-located: prompt, then decodes), `prefill`
#: (a prefill pool: the prompt, then it leaves with its first token), `decode` (a decode
#: pool: it arrives with its prompt's KV and decodes the rest)
Phase = Literal["both", "prefill", "decode"]


@dataclass
class Step:
    """One planned engine iteration: k alike steps from `start_s`, lasting `dt_s`; the
    decoding sequences and the prompt chunks it carries. Its effects apply at its end."""

    start_s: float
    k: int
    dt_s: float
    first_dt_s: float                  # one step at the mean context (a jump's unit)
    decode_now: list[int]
    chunks: list[tuple[list[int], int]]
    prompt_tokens: float
    mean_ctx: float
    running: int
    held: bool = False                 # new prompts held back (attention-DP balancing)

    @property
    def end_s(self) -> float:
        return self.start_s + self.dt_s


@dataclass
class Outcome:
    """What a completed step did: prompts that ended (their first token) and requests that
    left the replica (all tokens emitted; in the `prefill` phase: prompt done)."""

    prompts_done: list[int]
    finished: list[int]


class Replica:
    """One replica's scheduler state, advanced one planned step at a time (see the module
    docstring): `arrive` queues a request, `plan` admits and composes the next step,
    `complete` applies it. Requests are ids into `input_tokens`/`output_tokens`.
    `run_alone` drives one replica by itself; `sim.fleet`'s least-loaded router and
    `sim.disagg`'s pools drive several side by side in time with the same steps. `table`:
    a step table to share (replicas of one deployment and the same requests build the
    same one)."""

    def __init__(self, deployment: Deployment, workload: Workload, input_tokens: IntArray,
                 output_tokens: IntArray, cap_seqs: int, phase: Phase = "both",
                 table: StepTable | None = None, seed: int = 0) -> None:
        sched = deployment.engine.scheduler
        #: speculative decoding: each decoding sequence's cycle emits 1..γ+1 tokens
        #: (P(k) = α^(k−1)(1 − α), γ + 1 with α^γ), drawn from this seeded stream
        self.spec = deployment.speculative
        self.rng = np.random.default_rng([seed, 7919])
        self.S, self.n, self.phase = input_tokens, output_tokens, phase
        #: each prompt's tokens found in the prefix cache (`workload.prefix_hit_rate`):
        #: held in its KV from admission and attended to, never computed
        self.cached = cached_tokens(input_tokens, workload.prefix_hit_rate)
        #: each attention-DP rank schedules with its own token budget (a prompt's chunk
        #: fits one rank's); the replica's step takes up to the ranks' sum
        self.adp_ranks = deployment.layout.attention_dp_ranks(deployment.model)
        self.rank_budget = int(deployment.rank_token_budget(workload.prefill_chunk_tokens))
        self.budget = self.adp_ranks * self.rank_budget
        self.capacity = kv_token_capacity(deployment, workload)
        self.cap_seqs = cap_seqs
        self.table = table if table is not None else step_table(
            deployment, 0 if phase == "prefill" else cap_seqs,
            float(input_tokens.max() + output_tokens.max()), float(self.budget),
            float((input_tokens - self.cached).mean()), float(self.cached.mean()))
        self.mixed = sched.prompt_steps == "mixed"
        self.frontend_s = sched.frontend_s
        self.chunked = sched.chunked_prefill
        self.reserve = sched.kv_admission == "reserve_full" and phase != "prefill"
        self.waiting: deque[int] = deque()
        #: an overlap scheduler composes step j + 1 when step j starts: the next plan sees
        #: the requests that had arrived by `view_s` (the start of the step just run)
        self.overlap = overlap_scheduling(deployment)
        self.arrived_s: dict[int, float] = {}        # waiting request -> its arrival
        self.view_s = 0.0
        #: arrived, not yet taken by the scheduler (it polls every `interval` decode steps)
        self.inbox: deque[int] = deque()
        self.interval = sched.recv_interval_steps
        self.since_poll = self.interval                 # decode steps since the last poll
        #: TensorRT-LLM's attention-DP context balancing: new prompts wait until every rank
        #: holds one (at most `adp_timeout` iterations), then `adp_batching` more. A request
        #: lands on a rank drawn uniformly (seeded): the capacity-aware assignment sends a
        #: closed-loop client's next request to the rank its last one freed, and the ranks
        #: free alike (the ranks: `adp_ranks`, above)
        self.adp_timeout = sched.adp_balance_timeout_steps
        self.adp_batching = sched.adp_balance_batching_steps
        self.adp_rank = np.random.default_rng([seed, 104729]).integers(
            0, max(self.adp_ranks, 1), size=len(input_tokens))
        self.adp_waited = 0                              # iterations held, not yet covered
        self.adp_batched = 0                             # iterations held after covered
        self.prompting: deque[list[int]] = deque()   # [request, prompt tokens left]
        self.decoding: dict[int, int] = {}           # request -> tokens still to emit
        self.context: dict[int, int] = {}            # request -> tokens in its cache
        self.held = 0                                # KV tokens held (or reserved)
        self.t, self.steps, self.busy, self.most = 0.0, 0, 0.0, 0
        self.gaps: list[float] = []                  # decode step durations (ITL)
        self.weights: list[float] = []               # tokens each emitted, times repeats
        self.log: list[tuple[float, ...]] = []       # one row per iteration
        self.held_after: list[float] = []
        self.admitted: list[int] = []                # running requests, admission order
        self.recompute: dict[int, int] = {}          # preempted -> tokens to prefill again
        self.resumed: dict[int, int] = {}            # preempted -> tokens still to emit
        self.preemptions = 0

    def has_work(self) -> bool:
        return bool(self.decoding or self.prompting or self.waiting or self.inbox)

    def load(self) -> int:
        """Requests queued or running here (a least-loaded router's measure)."""
        return len(self.waiting) + len(self.inbox) + len(self.prompting) + len(self.decoding)

    def arrive(self, r: int, at_s: float | None = None) -> None:
        """Request r reaches the replica at `at_s` (default: now, `self.t`)."""
        self.arrived_s[r] = self.t if at_s is None else at_s
        if self.interval > 1:
            self.inbox.append(r)
        else:
            self.waiting.append(r)

    def _poll(self) -> None:
        """The scheduler takes the arrived requests when `interval` decode steps have run
        since its last poll, right after a prompt-carrying step, or when it is idle
        (SGLang `--scheduler-recv-interval`; every step for the other engines)."""
        if self.interval > 1 and (self.since_poll >= self.interval
                                  or not (self.decoding or self.prompting)):
            self.waiting.extend(self.inbox)
            self.inbox.clear()
            self.since_poll = 0

    def _adp_hold(self) -> int:
        """Iterations more that new prompts are held by attention-DP balancing (0: admit
        now): while some rank holds none and fewer than `adp_timeout` iterations have
        passed, or once all hold one, until `adp_batching` more have; never while no
        sequence decodes (TensorRT-LLM `_balance_adp_requests`)."""
        if (self.adp_ranks <= 1 or self.adp_timeout <= 0 or not self.waiting
                or not self.decoding):
            return 0
        if self._adp_covered():
            return max(0, self.adp_batching - self.adp_batched)
        return max(0, self.adp_timeout - self.adp_waited)

    def _adp_covered(self) -> bool:
        """Whether every attention-DP rank holds a waiting prompt."""
        return len({int(self.adp_rank[r]) for r in self.waiting}) >= self.adp_ranks

    def _need(self, r: int) -> int:
        """KV tokens request r takes when admitted: `reserve_full` its prompt + output;
        else the tokens it holds (a recompute's) or its prompt."""
        if self.reserve:
            return int(self.S[r] + self.n[r])
        return self.recompute.get(r, int(self.S[r]))

    def plan(self, next_arrival_s: float | None = None) -> Step:
        """Admit (FCFS, max_num_seqs, KV room) and compose the next step at `self.t`. A
        decode-only step runs k alike steps up to the next completion or, when known,
        `next_arrival_s`, priced at their middle context."""
        self._poll()
        sched_cap, table = self.cap_seqs, self.table
        decoding, prompting, waiting = self.decoding, self.prompting, self.waiting
        hold = self._adp_hold()
        if not hold:
            self.adp_waited = self.adp_batched = 0
        # the step sees the requests that had arrived when it was composed: now, or under an
        # overlap scheduler when the last step began (with nothing running: all of them)
        busy = bool(decoding or prompting)
        seen_s = (self.view_s if self.overlap else self.t) if busy else math.inf
        while not hold and waiting and len(decoding) + len(prompting) < sched_cap:
            r = waiting[0]
            if self.arrived_s.get(r, -math.inf) > seen_s:    # a preempted one: at once
                break
            need = self._need(r)
            if self.held + need > self.capacity and (decoding or prompting):
                break
            waiting.popleft()
            self.arrived_s.pop(r, None)                # read only while it waits
            self.held += need
            self.admitted.append(r)
            if self.phase == "decode" and r not in self.recompute:
                decoding[r] = int(self.n[r]) - 1       # its KV arrived: it decodes at once
                self.context[r] = int(self.S[r])
                continue
            # its tokens (a preempted one's so far) less those in the prefix cache
            cached = int(self.cached[r])
            prompting.append([r, self.recompute.pop(r, int(self.S[r])) - cached])
            self.context[r] = cached
        self.most = max(self.most, len(decoding) + len(prompting))
        decode_now = list(decoding) if (self.mixed or not prompting) else []
        room = self.budget - len(decode_now) if self.mixed else self.budget
        chunks: list[tuple[list[int], int]] = []
        for entry in prompting:
            if room <= 0:
                break
            take = min(entry[1], room, self.rank_budget) if self.chunked else entry[1]
            if not self.chunked and take > room and chunks:
                break
            chunks.append((entry, take))
            room -= take
        if not decode_now and not chunks:
            raise AssertionError("a step with nothing to run")     # admission guarantees work
        prompt_tokens = float(sum(take for _, take in chunks))
        context = self.context
        mean_ctx = (sum(map(context.__getitem__, decode_now)) / len(decode_now)
                    if decode_now else 1.0)
        first_dt = table.step_s(len(decode_now), mean_ctx, prompt_tokens)
        k = 1
        if not chunks and self.spec is None:       # a cycle's tokens vary: one at a time
            k = min(decoding.values())                # decode_now is all of them
            if next_arrival_s is not None and k > 1:
                k = max(1, min(k, math.ceil((next_arrival_s - self.t) / first_dt)))
            if self.interval > 1:                     # up to the scheduler's next poll
                k = max(1, min(k, self.interval - self.since_poll))
            if hold:                                  # up to the balancing's release
                k = max(1, min(k, hold))
            if waiting and self.arrived_s.get(waiting[0], -math.inf) > seen_s:
                k = 1                                 # the next step's composer sees it
        step = Step(start_s=self.t, k=k, dt_s=0.0, first_dt_s=first_dt,
                    decode_now=decode_now, chunks=chunks, prompt_tokens=prompt_tokens,
                    mean_ctx=mean_ctx, running=len(decoding) + len(prompting),
                    held=hold > 0)
        self._price(step, k)
        return step

    def _price(self, step: Step, k: int) -> None:
        """k alike steps at their middle context: k · step_s(context + (k − 1)/2) (one
        step: the first step's time, the same number)."""
        step.k = k
        step.dt_s = step.first_dt_s if k == 1 else k * self.table.step_s(
            len(step.decode_now), step.mean_ctx + (k - 1) / 2.0, step.prompt_tokens)

    def cut(self, step: Step, arrival_s: float, now_s: float) -> None:
        """A request that will arrive at `arrival_s` (learnt at `now_s`, during `step`)
        ends a decode-only jump at the step that arrival falls in, as `plan` would have
        had it known: k' = ⌈(arrival − start)/first step⌉ (at least 1, and ending no
        earlier than `now_s`)."""
        if step.chunks or step.k == 1 or arrival_s >= step.end_s:
            return
        k = max(1, min(step.k, math.ceil((arrival_s - step.start_s) / step.first_dt_s)))
        while k < step.k:
            self._price(step, k)
            if step.end_s >= now_s:
                return
            k += 1
        self._price(step, k)

    def complete(self, step: Step) -> Outcome:
        """Apply a planned step at its end: decodes emit k tokens each, chunks fill their
        prompts, finished requests free their cache; under on-demand paging, caches that
        outgrow the room preempt the latest admitted decoding sequences (vLLM's recompute)."""
        k, dt = step.k, step.dt_s
        # tokens each decode emits: k apiece, or a speculative cycle's draw
        emitted = self._emitted(step) if self.spec is not None else None
        total = (sum(emitted.values()) if emitted is not None
                 else k * len(step.decode_now))        # tokens the decodes emit
        if step.decode_now:
            self.gaps.append(dt * len(step.decode_now) / total)
            self.weights.append(float(total))
        self.log.append((0.0, step.start_s, dt, float(k), float(step.running),
                         float(len(step.decode_now)), step.prompt_tokens, 0.0))
        self.t = step.start_s + dt
        self.view_s = step.start_s + dt * (k - 1) / k   # the last of the k steps began
        self.busy += dt
        self.steps += k
        self.since_poll = self.interval if step.chunks else self.since_poll + k
        if step.held:
            if self._adp_covered():
                self.adp_batched += k
            else:
                self.adp_waited += k
        out = Outcome(prompts_done=[], finished=[])
        decoding, context = self.decoding, self.context
        if not self.reserve:
            self.held += total
        for r in step.decode_now:
            e = k if emitted is None else emitted[r]
            left = decoding[r] - e
            context[r] += e
            if left:
                decoding[r] = left
            else:
                del decoding[r]
                self._leave(r, out)
        for entry, take in step.chunks:
            r = entry[0]
            entry[1] -= take
            self.context[r] += take
            if entry[1] == 0:
                self.prompting.remove(entry)
                if r in self.resumed:                  # recomputed: it goes on decoding
                    self.decoding[r] = self.resumed.pop(r)
                    continue
                out.prompts_done.append(r)
                if self.n[r] > 1 and self.phase == "both":
                    self.decoding[r] = int(self.n[r]) - 1
                else:
                    self._leave(r, out)
        while not self.reserve and self.held > self.capacity and len(self.decoding) > 1:
            victim = next(r for r in reversed(self.admitted) if r in self.decoding)
            self.resumed[victim] = self.decoding.pop(victim)
            self.recompute[victim] = self.context.pop(victim)
            self.held -= self.recompute[victim]
            self.admitted.remove(victim)
            self.waiting.appendleft(victim)
            self.preemptions += 1
        self.held_after.append(float(self.held))
        return out

    def _emitted(self, step: Step) -> dict[int, int]:
        """Tokens each decoding sequence emits in the step: k (one a step); with
        speculative decoding, a cycle's accepted drafts + 1, at most what it has left."""
        if self.spec is None:
            return dict.fromkeys(step.decode_now, step.k)
        drawn = np.minimum(self.rng.geometric(1.0 - self.spec.alpha, len(step.decode_now))
                           if self.spec.alpha < 1.0 else self.spec.gamma + 1,
                           self.spec.gamma + 1)
        drawn = np.broadcast_to(drawn, (len(step.decode_now),))
        return {r: int(min(int(a), self.decoding[r]))
                for r, a in zip(step.decode_now, drawn, strict=True)}

    def _leave(self, r: int, out: Outcome) -> None:
        """Request r leaves at the step's end and frees its cache."""
        self.held -= int(self.S[r] + self.n[r]) if self.reserve else self.context[r]
        del self.context[r]
        self.admitted.remove(r)
        out.finished.append(r)

    def iterations(self) -> npt.NDArray[np.float64]:
        return iteration_log(self.log, self.held_after)

    def result(self, reqs: Requests, sent: FloatArray, first: FloatArray,
               done: FloatArray) -> SimResult:
        """The replica's run over `reqs` (its requests' times given) and its own steps."""
        return SimResult(requests=reqs, sent_s=sent, first_token_s=first, finished_s=done,
                         steps=self.steps, busy_s=self.busy, max_running=self.most,
                         preemptions=self.preemptions,
                         itl_s=np.asarray(self.gaps, dtype=np.float64),
                         itl_tokens=np.asarray(self.weights, dtype=np.float64),
                         log=self.iterations(), kv_capacity_tokens=self.capacity,
                         frontend_s=self.frontend_s)


def simulate_replica(deployment: Deployment, workload: Workload, concurrency: int | None,
                     seed: int = 0, requests: Requests | None = None,
                     phase: Phase = "both") -> SimResult:
    """Run until N requests are done: C closed-loop clients, or with `concurrency` None the
    workload's open-loop arrivals (see the module docstring). `requests` replaces the
    workload's own (a router's share of a fleet's arrivals). `phase="decode"` runs a decode
    pool's replica alone: the requests arrive prefilled (their first token at arrival)."""
    reqs = requests if requests is not None else (
        closed_loop_requests(workload, concurrency, seed) if concurrency is not None
        else open_loop_requests(workload, seed))
    N = reqs.count
    rep = Replica(deployment, workload, reqs.input_tokens, reqs.output_tokens,
                  min(deployment.max_running_sequences, concurrency or N), phase, seed=seed)
    sent = reqs.arrival_s.copy() if reqs.arrival_s is not None else np.full(N, np.nan)
    first = np.full(N, np.nan)
    done = np.full(N, np.nan)
    run_alone(rep, range(N), sent, first, done,
              None if reqs.arrival_s is not None else concurrency or N)
    return rep.result(reqs, sent, first, done)


def resent_s(completed_s: float) -> float:
    """When a closed-loop client's next request reaches the scheduler: just after the
    completion that sent it (the next float above it), so after the engine composed the
    step that follows the completion. The engine answers a request at a step's end and
    at once composes its next step; the client's reply needs the stack's inbound path
    (HTTP, tokenisation, hand-off: part of `scheduler.frontend_s`) before the scheduler can
    see it. 2.0 s → 2.0000000000000004 s."""
    return math.nextafter(completed_s, math.inf)


def run_alone(rep: Replica, ids: Sequence[int], sent: FloatArray, first: FloatArray,
              done: FloatArray, clients: int | None) -> None:
    """Drive one replica by itself over the requests `ids` (in order), filling `sent`,
    `first` and `done` at those ids: `clients` closed-loop clients (the first C at t = 0,
    each finish sends the next), or with `clients` None arrivals at their `sent` times."""
    N = len(ids)
    open_loop = clients is None
    if clients is None:
        next_id = 0                              # the next of `ids` not yet arrived
    else:
        next_id = min(clients, N)
        for r in ids[:next_id]:
            sent[r] = 0.0
            rep.arrive(r)
    while rep.has_work() or (open_loop and next_id < N):
        if open_loop:
            if not rep.has_work():
                rep.t = max(rep.t, float(sent[ids[next_id]]))   # idle until the next arrival
            while next_id < N and sent[ids[next_id]] <= rep.t:
                r = ids[next_id]
                rep.arrive(r, float(sent[r]))
                if rep.phase == "decode":
                    first[r] = sent[r]
                next_id += 1
        out = rep.complete(rep.plan(float(sent[ids[next_id]]) if open_loop and next_id < N
                                    else None))
        for r in out.prompts_done:
            first[r] = rep.t
        for r in out.finished:
            done[r] = rep.t
            if not open_loop and next_id < N:       # the client sends its next request
                sent[ids[next_id]] = rep.t
                rep.arrive(ids[next_id], resent_s(rep.t))
                next_id += 1


def iteration_log(rows: list[tuple[float, ...]], held: list[float]) -> npt.NDArray[np.float64]:
    """The loop's iteration rows as an (iterations, 8) array, the KV held filled in."""
    out = np.asarray(rows, dtype=np.float64).reshape(-1, 8)
    out[:, 7] = np.asarray(held, dtype=np.float64)
    return out
