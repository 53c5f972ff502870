"""Step times for padding: a `StepTimeFn` built from `inferplan.cost.step_cost`.

`StepTimeFn(kind, batch, q, attn) -> seconds` (see `costs.py`) takes the graph's shape:
`batch` sequences, `q` new tokens each, `attn` keys attended; the cached tokens are
attn - q. `deployment_step_time` maps that onto `step_cost(deployment, phase, batch,
new_tokens=q, cached_tokens=attn - q).latency_s`; `bucket_deployment` builds the
`Deployment` a bucket config describes (its model, chip, TP in cores, dtypes).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from inferplan.buckets.costs import FloatArray, StepTimeFn
from inferplan.deployment import Deployment, Dtypes, Efficiency
from inferplan.hardware import ChipSpec, topology_for
from inferplan.models import ModelSpec
from inferplan.parallel import Layout, check_layout
from inferplan.steptime import step_cost
from inferplan.units import InferplanError

#: Graph kind -> `cost.step_cost` phase (an append bucket runs as a chunk).
STEP_PHASES: dict[str, str] = {"prefill": "prefill", "chunk": "chunk", "append": "chunk",
                               "decode": "decode", "verify": "verify"}


def cached_tokens(q: npt.ArrayLike, attn: npt.ArrayLike) -> FloatArray:
    """Tokens already in the cache when a step adds q onto them: kv = attn - q.

    Chunk kv16384-b1-attn24576: 24576 - 8192 = 16384; decode (4, 8192): 8192 - 1 = 8191.
    """
    kv = np.asarray(attn, dtype=np.float64) - np.asarray(q, dtype=np.float64)
    if np.any(kv < 0):
        raise InferplanError("attn", np.asarray(attn).tolist(), "must be >= q (new tokens)")
    return np.asarray(kv, dtype=np.float64)


def bucket_devices(tp: int, chip: ChipSpec) -> tuple[int, int]:
    """(chips, replicas) a TP-way graph occupies: chips = ceil(tp / cores per chip), and
    the chips' cores hold chips·cores/tp replicas. RNGD (8 PEs): TP=1 -> (1, 8);
    TP=8 -> (1, 1); TP=32 -> (4, 1). A GPU (1 core): TP=4 -> (4, 1)."""
    chips = max(1, math.ceil(tp / chip.cores_per_chip))
    return chips, max(1, chips * chip.cores_per_chip // tp)


def bucket_deployment(model: ModelSpec, chip: ChipSpec, tp: int, weights: str = "bf16",
                      kv: str = "bf16", compute: str = "bf16",
                      efficiency: Efficiency = "realistic") -> Deployment:
    """The `Deployment` of one bucket build: `tp` tensor shards (cores on RNGD), pp = 1,
    the rest of the chips' cores as data-parallel replicas; bad layouts raise
    `InferplanError` (e.g. tp=3 on RNGD's 8 PEs)."""
    if efficiency not in ("realistic", "ideal"):
        raise InferplanError("efficiency", efficiency, "allowed: realistic, ideal")
    if compute not in chip.peak_flops_per_s:
        raise InferplanError("activation_dtype", compute, f"{chip.name} computes in "
                             f"{', '.join(chip.peak_flops_per_s)}")
    chips, dp = bucket_devices(tp, chip)
    layout = Layout(tp=tp, pp=1, dp=dp)
    check_layout(model, chip, layout, chips)
    return Deployment(model=model, chip=chip, topology=topology_for(chip, chips, None),
                      layout=layout, dtypes=Dtypes(weights=weights, kv=kv, compute=compute),
                      efficiency=efficiency)


def deployment_step_time(deployment: Deployment) -> StepTimeFn:
    """A `StepTimeFn` that prices a graph step with `cost.step_cost(...).latency_s`:
    fn(kind, b, q, attn) = step_cost(deployment, STEP_PHASES[kind], b, q, attn - q).

    Chunk kv16384-b1-attn24576: fn("chunk", 1, 8192, 24576) = step_cost(dep, "chunk", 1,
    8192, 16384).latency_s; decode (4, 8192): step_cost(dep, "decode", 4, 1, 8191).
    """

    def fn(kind: str, batch: npt.ArrayLike, q: npt.ArrayLike, attn: npt.ArrayLike
           ) -> FloatArray:
        if kind not in STEP_PHASES:
            raise InferplanError("kind", kind, f"allowed: {', '.join(STEP_PHASES)}")
        cost = step_cost(deployment, STEP_PHASES[kind], batch, q, cached_tokens(q, attn))
        return np.asarray(cost.latency_s, dtype=np.float64)

    return fn
