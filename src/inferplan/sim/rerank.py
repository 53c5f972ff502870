"""Re-rank a search's best points by simulation: each in-flight point runs its closed loop
request by request, and the points are ordered again by the same objective, those whose
simulated p90 TTFT and p90 TPOT (and mean end-to-end latency) meet the space's limits
first."""

from __future__ import annotations

import math
from dataclasses import dataclass

from inferplan.deployment import Deployment, Workload
from inferplan.sim.run import Simulation, simulate
from inferplan.units import S_PER_HOUR


@dataclass(frozen=True)
class Resimulated:
    """One search point after simulation (None: a static batch, which is no serving loop)."""

    index: int
    simulation: Simulation | None
    meets_slo: bool
    score: float                      # the objective on the simulated run (nan: none)


def simulated_score(sim: Simulation, objective: str) -> float:
    """The search objective on a simulated run: output tok/s per chip (or per USD),
    minus the mean TPOT or TTFT, minus the chips. 8 chips at 4,000 tok/s: 500 tok/s/chip."""
    d, s = sim.deployment, sim.summary
    if objective == "throughput_per_chip":
        return s.output_tokens_per_s / d.chips
    if objective == "throughput_per_usd":
        price = d.price
        return (s.output_tokens_per_s * S_PER_HOUR / (price * d.chips)
                if price else math.nan)
    if objective == "min_tpot":
        return -s.tpot_s.mean
    if objective == "min_ttft":
        return -s.ttft_s.mean
    return -float(d.chips)


def simulate_top(points: list[tuple[int, Deployment, Workload]], objective: str,
                 ttft_limit_s: float | None, tpot_limit_s: float | None,
                 e2e_limit_s: float | None, seed: int = 0) -> list[Resimulated]:
    """Simulate each in-flight point; order: simulated SLO met first, then by the
    simulated objective; static points last, in their search order."""
    out = []
    for index, deployment, workload in points:
        if workload.concurrency is None and workload.batch != "max":
            out.append(Resimulated(index, None, False, math.nan))
            continue
        sim = simulate(deployment, workload, seed)
        s = sim.summary
        meets = ((ttft_limit_s is None or s.ttft_s.p90 <= ttft_limit_s)
                 and (tpot_limit_s is None or s.tpot_s.p90 <= tpot_limit_s)
                 and (e2e_limit_s is None or s.e2e_s.mean <= e2e_limit_s))
        out.append(Resimulated(index, sim, meets, simulated_score(sim, objective)))
    ran = sorted((r for r in out if r.simulation is not None),
                 key=lambda r: (not r.meets_slo, -r.score))
    return ran + [r for r in out if r.simulation is None]
