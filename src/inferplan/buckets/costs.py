"""What a graph step costs: FLOPs from `ModelSpec`, or seconds from a performance model.

`StepTimeFn(kind, batch, q, attn) -> seconds` is the protocol a performance model
implements (vectorised over numpy arrays; kind is prefill, chunk, append, decode or
verify; the cached tokens are attn - q). `step_time.deployment_step_time` builds one
from `cost.step_cost`. Padding is priced in FLOPs always, and in seconds where a
step-time model is given.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from inferplan.models import ModelSpec

FloatArray = npt.NDArray[np.float64]
#: (kind, batch, q, attn) -> cost per step; batch, q, attn broadcast as numpy arrays.
StepCostFn = Callable[[str, npt.ArrayLike, npt.ArrayLike, npt.ArrayLike], FloatArray]
#: The performance model's protocol: the same signature, in seconds.
StepTimeFn = StepCostFn


@dataclass(frozen=True)
class CostModel:
    """A step-cost function and its unit ('FLOP' or 's')."""

    fn: StepCostFn
    unit: str


def step_flops(model: ModelSpec, batch: npt.ArrayLike, q: npt.ArrayLike,
               attn: npt.ArrayLike) -> FloatArray:
    """FLOPs of one step: b sequences, q new tokens each, attending up to attn keys.

    q = 1 (decode): b·decode_flops_per_token(attn); q > 1: b·(prefill_flops(attn) -
    prefill_flops(attn - q)), the causal cost of tokens attn-q .. attn-1.
    Llama-3.1-8B prefill of 1024: 2·7,504,658,432·1024 + 4·32·128·32·1024²/2
    = 1.564e13 FLOPs.
    """
    b = np.asarray(batch, dtype=np.float64)
    qq = np.asarray(q, dtype=np.float64)
    a = np.asarray(attn, dtype=np.float64)
    chunk = model.prefill_flops(a) - model.prefill_flops(a - qq)
    decode = model.decode_flops_per_token(a)
    return np.asarray(b * np.where(qq <= 1, decode, chunk), dtype=np.float64)


def flops_cost(model: ModelSpec) -> CostModel:
    """The FLOP cost model of `model` (the kind argument does not change FLOPs)."""

    def fn(kind: str, batch: npt.ArrayLike, q: npt.ArrayLike, attn: npt.ArrayLike
           ) -> FloatArray:
        return step_flops(model, batch, q, attn)

    return CostModel(fn, "FLOP")


def time_cost(step_time: StepTimeFn) -> CostModel:
    """Wrap a performance model's step time (seconds)."""
    return CostModel(step_time, "s")
