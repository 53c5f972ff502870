"""One simulation of a scenario: the closed loop its workload describes, summarised, with
the analytic closed-loop figures beside it (`serving.closed_loop`), after the benchmark
client's warm-up requests (`warmup_run`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inferplan.deployment import Deployment, Workload
from inferplan.memory import max_batch
from inferplan.serving import closed_loop
from inferplan.sim.fleet import simulate_fleet
from inferplan.sim.loop import SimResult, simulate_replica
from inferplan.sim.metrics import SimSummary, summarise_run
from inferplan.sim.requests import Requests, closed_loop_requests
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

    def to_dict(self) -> dict[str, object]:
        d = self.deployment
        return {
            "model": d.model.name, "hardware": d.chip.name, "chips": d.chips,
            "engine": {"name": d.engine.name, "version": d.engine.version},
            "concurrency": self.concurrency, "rate": self.workload.rate, "seed": self.seed,
            "input_len": self.workload.input_len, "output_len": self.workload.output_len,
            "length_ratio": self.workload.length_ratio,
            "replicas": d.layout.dp, "router": self.workload.router,
            "warmup": {"requests": self.workload.warmup, "duration_s": self.warmup_s},
            **self.summary.to_dict(d.chips),
            "closed_form": {"ttft_s": self.closed_form_ttft_s,
                            "tpot_s": self.closed_form_tpot_s}}


def clients(deployment: Deployment, workload: Workload) -> int | None:
    """The closed loop's C: `concurrency`, or for `batch: max` the largest batch that fits;
    None for open-loop arrivals (`rate`, `trace`); a static batch is not a serving loop."""
    if workload.rate is not None or workload.trace is not None \
            or workload.arrival == "offline":
        return None
    if workload.concurrency is not None:
        return workload.concurrency
    if workload.batch == "max":
        return max(1, max_batch(deployment, workload))
    raise InferplanError("workload.batch", workload.batch,
                         "simulate runs a serving loop: give concurrency (or batch: max), "
                         "rate or trace")


def simulate(deployment: Deployment, workload: Workload, seed: int = 0,
             trace: Requests | None = None) -> Simulation:
    """Simulate the deployment's replicas under the workload's closed or open loop, or the
    `trace`'s requests when the workload names one (see `sim.loop`, `sim.fleet`)."""
    if workload.trace is not None and trace is None:
        raise InferplanError("workload.trace", workload.trace, "the trace file was not read")
    longest = (workload.input_len + workload.output_len if trace is None else
               int((trace.input_tokens + trace.output_tokens).max()))
    context = deployment.model.max_position_embeddings
    if context and longest > context:
        where = "workload.input_len" if trace is None else "workload.trace"
        raise InferplanError(where, longest, f"input + output tokens ({longest}) must fit "
                             f"the {context}-token context of {deployment.model.name}")
    C = clients(deployment, workload)
    if workload.warmup and C is None:
        raise InferplanError("workload.warmup", workload.warmup,
                             "warm-up requests apply to a closed loop (concurrency or "
                             "batch: max); give 0 with rate, trace or arrival: offline")
    warmup_s = warmup_run(deployment, workload, C, seed) if C is not None else 0.0
    run = simulate_fleet(deployment, workload, C, seed, trace)
    loop = closed_loop(deployment, workload, C) if C is not None else None
    return Simulation(deployment=deployment, workload=workload, concurrency=C, seed=seed,
                      summary=summarise_run(run), run=run,
                      closed_form_ttft_s=None if loop is None else float(loop.ttft_s),
                      closed_form_tpot_s=None if loop is None else float(loop.tpot_s),
                      warmup_s=warmup_s)


def warmup_run(deployment: Deployment, workload: Workload, concurrency: int,
               seed: int = 0) -> float:
    """Seconds the benchmark client's `workload.warmup` warm-up requests take, per replica
    (the longest): vLLM's `vllm bench serve --num-warmups` (vllm/benchmarks/serve.py,
    `benchmark()`) sends that many copies of the first request under the same
    --max-concurrency, gathers them all, and only then starts the measured requests and
    their clock (`benchmark_start_time`); the warm-ups are not among --num-prompts nor in
    any metric. Modelled so: each replica runs `warmup` copies of its first request's
    lengths under its C clients and empties; the measured run then starts from the same
    empty replica at its own t = 0. A replica keeps no state between the two (no prefix
    cache, no compilation), so the measured figures are those of a run without warm-ups,
    and `workload.requests` counts the measured requests only. 0 warm-ups: 0 s."""
    if workload.warmup == 0:
        return 0.0
    longest = 0.0
    for r in range(deployment.layout.dp):
        first = closed_loop_requests(workload, concurrency, seed + r)
        copies = Requests(np.full(workload.warmup, first.input_tokens[0], dtype=np.int64),
                          np.full(workload.warmup, first.output_tokens[0], dtype=np.int64))
        run = simulate_replica(deployment, workload, concurrency, seed + r, copies)
        longest = max(longest, float(np.max(run.finished_s)))
    return longest


def simulated_means(deployment: Deployment, workload: Workload) -> tuple[float, float]:
    """Mean TTFT and TPOT of a simulated run of the workload's closed loop (seed 0): the
    predictor `inferplan validate --serving --simulate` scores rows with."""
    run = summarise_run(simulate_replica(deployment, workload, clients(deployment, workload)))
    return run.ttft_s.mean, run.tpot_s.mean
