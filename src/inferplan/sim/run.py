"""One simulation of a scenario: the closed loop its workload describes, summarised, with
the analytic closed-loop figures beside it (`serving.closed_loop`)."""

from __future__ import annotations

from dataclasses import dataclass

from inferplan.deployment import Deployment, Workload
from inferplan.memory import max_batch
from inferplan.serving import closed_loop
from inferplan.sim.loop import simulate_closed_loop
from inferplan.sim.metrics import SimSummary, summarise_run
from inferplan.units import InferplanError


@dataclass(frozen=True)
class Simulation:
    """A scenario's simulated run and the closed form of the same loop."""

    deployment: Deployment
    workload: Workload
    concurrency: int
    seed: int
    summary: SimSummary
    closed_form_ttft_s: float
    closed_form_tpot_s: float

    def to_dict(self) -> dict[str, object]:
        d = self.deployment
        return {
            "model": d.model.name, "hardware": d.chip.name, "chips": d.chips,
            "engine": {"name": d.engine.name, "version": d.engine.version},
            "concurrency": self.concurrency, "seed": self.seed,
            "input_len": self.workload.input_len, "output_len": self.workload.output_len,
            "length_ratio": self.workload.length_ratio,
            **self.summary.to_dict(d.layout.tp * d.layout.pp),
            "closed_form": {"ttft_s": self.closed_form_ttft_s,
                            "tpot_s": self.closed_form_tpot_s}}


def clients(deployment: Deployment, workload: Workload) -> int:
    """The closed loop's C: `concurrency`, or for `batch: max` the largest batch that fits;
    a static batch is not a closed loop."""
    if workload.concurrency is not None:
        return workload.concurrency
    if workload.batch == "max":
        return max(1, max_batch(deployment, workload))
    raise InferplanError("workload.batch", workload.batch,
                         "simulate runs a closed loop: give concurrency (or batch: max)")


def simulate(deployment: Deployment, workload: Workload, seed: int = 0) -> Simulation:
    """Simulate one replica under the workload's closed loop (see `sim.loop`)."""
    C = clients(deployment, workload)
    run = simulate_closed_loop(deployment, workload, C, seed)
    loop = closed_loop(deployment, workload, C)
    return Simulation(deployment=deployment, workload=workload, concurrency=C, seed=seed,
                      summary=summarise_run(run), closed_form_ttft_s=float(loop.ttft_s),
                      closed_form_tpot_s=float(loop.tpot_s))


def simulated_means(deployment: Deployment, workload: Workload) -> tuple[float, float]:
    """Mean TTFT and TPOT of a simulated run of the workload's closed loop (seed 0): the
    predictor `inferplan validate --serving --simulate` scores rows with."""
    run = summarise_run(simulate_closed_loop(deployment, workload, clients(deployment, workload)))
    return run.ttft_s.mean, run.tpot_s.mean
