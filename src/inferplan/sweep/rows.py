"""A point's answer as a result row (`sweep.columns`): the scenario's columns, then the
closed form's or the simulation's figures. Figures are read off the results the
estimate and the simulator return; nothing is computed again here."""

from __future__ import annotations

import json
from typing import Any

from inferplan.deployment import Deployment, Workload
from inferplan.memory import max_batch
from inferplan.serving import Estimate
from inferplan.sim.run import Simulation
from inferplan.sweep.columns import STATS, Row, empty_row
from inferplan.sweep.expand import Point
from inferplan.sweep.keys import canonical_json


def _engine_name(engine: Any) -> str | None:
    """A scenario's `engine:` as a name: the name, a block's `name`, or None (generic)."""
    if isinstance(engine, dict):
        name = engine.get("name")
        return name if isinstance(name, str) else None
    return engine if isinstance(engine, str) else None


def point_row(point: Point, seed: int) -> Row:
    """The row of a point before it is answered: where it is and its scenario."""
    s = point.scenario
    parallelism, dtypes, workload = (s.get(k, {}) for k in ("parallelism", "dtypes",
                                                            "workload"))
    row = empty_row()
    row.update(
        index=point.index, key=point.key, job=point.job, seed=seed,
        model=s["model"], hardware=s["hardware"], chips=s["chips"],
        tp=parallelism.get("tp"), pp=parallelism.get("pp"),
        engine=_engine_name(s.get("engine")), weights_dtype=dtypes.get("weights"),
        kv_dtype=dtypes.get("kv"), input_len=workload.get("input_len"),
        output_len=workload.get("output_len"), concurrency=workload.get("concurrency"),
        rate=workload.get("rate"), axes=canonical_json(point.axes),
        scenario=json.dumps(s, sort_keys=True))
    return row


def deployment_columns(deployment: Deployment, workload: Workload) -> Row:
    """Replicas, and the largest batch per replica that fits at the workload's context
    (0: not one sequence fits beside the weights, so `fits` is false)."""
    largest = max_batch(deployment, workload)
    return {"replicas": deployment.layout.dp, "max_batch": largest, "fits": largest >= 1}


def estimate_columns(est: Estimate) -> Row:
    """The closed form's figures (`inferplan estimate`): its TTFT, TPOT and end-to-end
    latency go in the `_mean` columns (it gives no percentiles), with throughput and cost."""
    return {"fits": est.fits, "max_batch": est.memory.max_batch,
            "replicas": est.deployment.layout.dp,
            "ttft_s_mean": est.ttft_s, "tpot_s_mean": est.tpot_s,
            "e2e_s_mean": est.e2e_latency_s,
            "output_tokens_per_s": est.output_tokens_per_s,
            "output_tokens_per_s_per_chip": est.output_tokens_per_s_per_chip,
            "requests_per_s": est.requests_per_s,
            "usd_per_million_output_tokens": est.usd_per_million_output_tokens}


def simulation_columns(sim: Simulation) -> Row:
    """The simulated run's figures (`inferplan simulate`): TTFT, TPOT and end-to-end
    latency (mean and percentiles over requests), throughput over all its chips."""
    s = sim.summary
    row: Row = {"simulated_requests": s.requests, "simulated_duration_s": s.duration_s,
                "output_tokens_per_s": s.output_tokens_per_s,
                "output_tokens_per_s_per_chip": s.output_tokens_per_s / sim.chips,
                "requests_per_s": s.requests_per_s}
    for metric, dist in (("ttft", s.ttft_s), ("tpot", s.tpot_s), ("e2e", s.e2e_s)):
        row.update({f"{metric}_s_{stat}": getattr(dist, stat) for stat in STATS})
    return row
