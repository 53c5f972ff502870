"""One simulation of a scenario: the closed loop its workload describes, summarised, with
the analytic closed-loop figures beside it (`serving.closed_loop`), after the benchmark
client's warm-up requests (`warmup_run`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from inferplan.deployment import Deployment, Workload
from inferplan.disagg import disaggregated_serving
from inferplan.memory import max_batch
from inferplan.serving import closed_loop
from inferplan.sim.disagg import DisaggRun, simulate_disaggregated
from inferplan.sim.fleet import Router, simulate_fleet
from inferplan.sim.loop import SimResult, simulate_replica
from inferplan.sim.metrics import SimSummary, summarise_run
from inferplan.sim.requests import (
    Requests,
    closed_loop_requests,
    file_requests,
    with_file_lengths,
)
from inferplan.units import InferplanError


@dataclass(frozen=True)
class Simulation:
    """A scenario's simulated run and the closed form of the same loop."""

    deployment: Deployment
    workload: Workload
    concurrency: int | None          # closed-loop clients; None: open-loop arrivals
    seed: int
    summary: SimSummary
    run: SimResult                    # the requests and iterations themselves
    closed_form_ttft_s: float | None  # `serving.closed_loop` of the same loop (closed only)
    closed_form_tpot_s: float | None
    warmup_s: float = 0.0             # the warm-up requests' run, before the measured one
    #: disaggregated pools: the prefill pool (`deployment` is then the decode pool) and the
    #: run's per-request path; the closed form is then `disagg.disaggregated_serving`'s
    prefill: Deployment | None = None
    disagg: DisaggRun | None = None
    router: str | None = None
    kv_link: str | None = None

    @property
    def chips(self) -> int:
        """All chips: the deployment's, or both pools'."""
        pools = [self.deployment] + ([self.prefill] if self.prefill is not None else [])
        return sum(d.chips for d in pools)

    def to_dict(self) -> dict[str, object]:
        d = self.deployment
        pools: dict[str, object] = {}
        if self.prefill is not None and self.disagg is not None:
            r = self.disagg
            pools = {"disaggregated": {
                "router": self.router, "kv_link": self.kv_link,
                **{name: {"hardware": p.chip.name, "chips": p.chips, "replicas": p.layout.dp,
                          "tp": p.layout.tp, "pp": p.layout.pp, "ep": p.layout.ep,
                          "attention": p.layout.attention,
                          "attention_dp": p.layout.attention_dp,
                          "engine": pool_engine(p)}
                   for name, p in (("prefill", self.prefill), ("decode", d))},
                "prefill_busy_fraction": r.prefill_busy_s / (r.prefill_replicas
                                                             * self.summary.duration_s),
                "prefill_queue_and_step_s_mean": float(
                    (r.prefill_end_s - self.run.sent_s).mean()),
                "kv_transfer_s_mean": float(r.transfer_s.mean())}}
        return {
            "model": d.model.name, "hardware": d.chip.name, "chips": self.chips,
            "engine": {"name": d.engine.name, "version": d.engine.version},
            "concurrency": self.concurrency, "rate": self.workload.rate, "seed": self.seed,
            "input_len": self.workload.input_len, "output_len": self.workload.output_len,
            "length_ratio": self.workload.length_ratio,
            "length_distribution": self.workload.length_distribution,
            "length_cv": self.workload.length_cv,
            "prefix_hit_rate": self.workload.prefix_hit_rate,
            "mean_input_tokens": float(self.run.requests.input_tokens.mean()),
            "mean_output_tokens": float(self.run.requests.output_tokens.mean()),
            "replicas": d.layout.dp, "router": self.router or self.workload.router,
            "warmup": {"requests": self.workload.warmup, "duration_s": self.warmup_s},
            **self.summary.to_dict(self.chips),
            "closed_form": {"ttft_s": self.closed_form_ttft_s,
                            "tpot_s": self.closed_form_tpot_s}, **pools}


def lengths_text(workload: Workload) -> str:
    """How a run's lengths were drawn, for its summary line: '1024 in / 256 out (ratio
    0.8)' (uniform); 'mean 1024 in / 256 out (lognormal, cv 0.5)'; "the trace's lengths"
    (a closed loop over a file); each with ', prefix hit rate 0.75' where one is set."""
    w = workload
    if w.file_mean_lengths is not None:
        text = (f"the trace's lengths (mean {w.file_mean_lengths[0]:,.0f} in / "
                f"{w.file_mean_lengths[1]:,.0f} out)")
    elif w.length_distribution == "uniform":
        text = f"{w.input_len} in / {w.output_len} out (ratio {w.length_ratio:g})"
    else:
        spread = f", cv {w.length_cv:g}" if w.length_cv is not None else ""
        text = (f"mean {w.input_len} in / {w.output_len} out "
                f"({w.length_distribution}{spread})")
    if w.prefix_hit_rate > 0:
        text += f", prefix hit rate {w.prefix_hit_rate:g}"
    return text


def pool_engine(pool: Deployment) -> dict[str, object]:
    """A pool's engine as the simulator runs it: name, version and the scheduler limits a
    pool's own `engine:` block sets (its step's token budget, running-sequence cap and
    CUDA-graph limit)."""
    sched = pool.engine.scheduler
    return {"name": pool.engine.name, "version": pool.engine.version,
            "max_num_batched_tokens": pool.token_budget,
            "max_num_seqs": sched.max_num_seqs,
            "cuda_graph_max_batch": sched.cuda_graph_max_batch}


def clients(deployment: Deployment, workload: Workload) -> int | None:
    """The closed loop's C: `concurrency` (with a `trace`, a closed loop of the file's
    lengths), or for `batch: max` the largest batch that fits; None for open-loop
    arrivals (`rate`, `trace` alone); a static batch is not a serving loop."""
    if workload.concurrency is not None:
        return workload.concurrency
    if workload.rate is not None or workload.trace is not None \
            or workload.arrival == "offline":
        return None
    if workload.batch == "max":
        return max(1, max_batch(deployment, workload))
    raise InferplanError("workload.batch", workload.batch,
                         "simulate runs a serving loop: give concurrency (or batch: max), "
                         "rate or trace")


def check_context(deployment: Deployment, workload: Workload,
                  trace: Requests | None) -> None:
    """The longest request (the workload's lengths, or the trace's) fits the model's
    context; a trace the command line did not read is an error."""
    if workload.trace is not None and trace is None:
        raise InferplanError("workload.trace", workload.trace, "the trace file was not read")
    longest = (workload.input_len + workload.output_len if trace is None else
               int((trace.input_tokens + trace.output_tokens).max()))
    context = deployment.model.max_position_embeddings
    if context and longest > context:
        where = "workload.input_len" if trace is None else "workload.trace"
        raise InferplanError(where, longest, f"input + output tokens ({longest}) must fit "
                             f"the {context}-token context of {deployment.model.name}")


def simulate(deployment: Deployment, workload: Workload, seed: int = 0,
             trace: Requests | None = None) -> Simulation:
    """Simulate the deployment's replicas under the workload's closed or open loop, or the
    `trace`'s requests when the workload names one (see `sim.loop`, `sim.fleet`)."""
    check_context(deployment, workload, trace)
    C = clients(deployment, workload)
    if workload.warmup and C is None:
        raise InferplanError("workload.warmup", workload.warmup,
                             "warm-up requests apply to a closed loop (concurrency or "
                             "batch: max); give 0 with rate, trace or arrival: offline")
    if C is not None and trace is not None and workload.file_mean_lengths is None:
        workload = with_file_lengths(workload, trace, C)     # the closed form's means
    warmup_s = warmup_run(deployment, workload, C, seed, trace) if C is not None else 0.0
    run = simulate_fleet(deployment, workload, C, seed, trace)
    loop = closed_loop(deployment, workload, C) if C is not None else None
    return Simulation(deployment=deployment, workload=workload, concurrency=C, seed=seed,
                      summary=summarise_run(run), run=run,
                      closed_form_ttft_s=None if loop is None else float(loop.ttft_s),
                      closed_form_tpot_s=None if loop is None else float(loop.tpot_s),
                      warmup_s=warmup_s)


def warmup_run(deployment: Deployment, workload: Workload, concurrency: int,
               seed: int = 0, rows: Requests | None = None) -> float:
    """Seconds the benchmark client's `workload.warmup` warm-up requests take, per replica
    (the longest): vLLM's `vllm bench serve --num-warmups` (vllm/benchmarks/serve.py,
    `benchmark()`) sends that many copies of the first request under the same
    --max-concurrency, gathers them all, and only then starts the measured requests and
    their clock (`benchmark_start_time`); the warm-ups are not among --num-prompts nor in
    any metric. Modelled so: each replica runs `warmup` copies of its first request's
    lengths under its C clients and empties; the measured run then starts from the same
    empty replica at its own t = 0. A replica keeps no state between the two (no prefix
    cache, no compilation), so the measured figures are those of a run without warm-ups,
    and `workload.requests` counts the measured requests only. A lengths file's closed
    loop (`rows`): the replica's first row. 0 warm-ups: 0 s."""
    if workload.warmup == 0:
        return 0.0
    longest = 0.0
    for r in range(deployment.layout.dp):
        first = (closed_loop_requests(workload, concurrency, seed + r) if rows is None
                 else file_requests(rows, workload, concurrency, r))
        copies = Requests(np.full(workload.warmup, first.input_tokens[0], dtype=np.int64),
                          np.full(workload.warmup, first.output_tokens[0], dtype=np.int64))
        run = simulate_replica(deployment, workload, concurrency, seed + r, copies)
        longest = max(longest, float(np.max(run.finished_s)))
    return longest


def pool_clients(workload: Workload) -> int | None:
    """Disaggregated pools' closed-loop C (`concurrency`, for the whole deployment; with a
    `trace`, over the file's lengths), or None for open-loop arrivals; `batch` is
    refused: the pools have no one batch."""
    if workload.concurrency is not None:
        return workload.concurrency
    if workload.rate is not None or workload.trace is not None \
            or workload.arrival == "offline":
        return None
    raise InferplanError("workload.batch", workload.batch,
                         "disaggregated pools simulate a serving loop: give concurrency "
                         "(clients of the whole deployment), rate or trace")


def simulate_pools(prefill: Deployment, decode: Deployment, workload: Workload,
                   seed: int = 0, trace: Requests | None = None,
                   router: Router = "round_robin",
                   kv_link: str = "scale_out") -> Simulation:
    """Simulate disaggregated pools (`sim.disagg`) under the workload's closed loop (C
    clients of the whole deployment) or open loop (`rate` for the whole deployment, or a
    trace); beside it, `disagg.disaggregated_serving` at a decode batch of C/D per decode
    replica (no queueing) for a closed loop of more than one output token."""
    check_context(decode, workload, trace)
    if workload.router != "round_robin":
        raise InferplanError("workload.router", workload.router,
                             "disaggregated pools route with disaggregated.router")
    if workload.warmup:
        raise InferplanError("workload.warmup", workload.warmup,
                             "0: warm-up requests are not simulated for disaggregated pools")
    C = pool_clients(workload)
    run = simulate_disaggregated(prefill, decode, workload, C, seed, trace, router,
                                 same_domain=kv_link == "scale_up")
    ttft = tpot = None
    if C is not None and workload.output_len >= 2:
        # the pools' saturated closed form at the workload's mean lengths
        analytic = disaggregated_serving(prefill, decode,
                                         max(1, round(workload.mean_input_len)),
                                         max(2, round(workload.mean_output_len)),
                                         max(1, math.ceil(C / decode.layout.dp)),
                                         same_domain=kv_link == "scale_up",
                                         prefix_hit_rate=workload.prefix_hit_rate)
        ttft, tpot = analytic.ttft_s, analytic.tpot_s
    return Simulation(deployment=decode, workload=workload, concurrency=C, seed=seed,
                      summary=summarise_run(run.run), run=run.run, closed_form_ttft_s=ttft,
                      closed_form_tpot_s=tpot, prefill=prefill, disagg=run, router=router,
                      kv_link=kv_link)


def simulated_pool_means(prefill: Deployment, decode: Deployment,
                         workload: Workload) -> tuple[float, float]:
    """Mean TTFT and TPOT of disaggregated pools under the workload's closed loop (seed 0,
    round robin, scale-out hand-off): the predictor `inferplan validate --serving
    --simulate` scores the disaggregated rows with."""
    run = simulate_disaggregated(prefill, decode, workload, pool_clients(workload))
    s = summarise_run(run.run)
    return s.ttft_s.mean, s.tpot_s.mean


def simulated_means(deployment: Deployment, workload: Workload) -> tuple[float, float]:
    """Mean TTFT and TPOT of a simulated run of the workload's closed loop (seed 0): the
    predictor `inferplan validate --serving --simulate` scores rows with."""
    run = summarise_run(simulate_replica(deployment, workload, clients(deployment, workload)))
    return run.ttft_s.mean, run.tpot_s.mean
