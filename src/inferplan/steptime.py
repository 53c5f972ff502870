"""The one way a command gets a step time: a `StepTimeModel`.

A step is a list of `Segment`s (sequences of one kind: `batch` of them adding
`new_tokens` onto `cached_tokens`); a model prices it as a named `StepCost`. The
analytic model (`AnalyticStepTime`) is the roofline of `inferplan.cost` under the
deployment's engine profile; a calibration (`CalibratedStepTime`, from a file of
measured per-term ratios) wraps another model. A deployment carries the model it is
priced with (`Deployment.step_time`; None: analytic), so estimate, search, disagg,
speculative, buckets and the serving model all ask `step_cost` / `mixed_step_cost`
here and never build a step time of their own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from inferplan.cost import TERMS, Segment, StepCost
from inferplan.cost import mixed_step_cost as analytic_step_cost
from inferplan.deployment import Deployment
from inferplan.units import InferplanError


@runtime_checkable
class StepTimeModel(Protocol):
    """(deployment, step composition) → the step's cost with every term named."""

    def step(self, deployment: Deployment, segments: Sequence[Segment]) -> StepCost:
        """Price one step of `segments` on `deployment`."""
        ...


@dataclass(frozen=True)
class AnalyticStepTime:
    """The roofline of `inferplan.cost` with the deployment's engine profile."""

    def step(self, deployment: Deployment, segments: Sequence[Segment]) -> StepCost:
        return analytic_step_cost(deployment, list(segments))


@dataclass(frozen=True)
class CalibratedStepTime:
    """Another model's step with each exposed term scaled by a measured ratio
    (measured ÷ modelled time of that term on the calibrating runs).

    `scale` maps a term (compute, weights, kv, communication, overhead) to its ratio;
    terms not named keep 1. Latency is the sum of the scaled terms, MFU follows it.
    A decode step of 10 ms weights + 2 ms overhead with weights ×1.1: 13 ms.
    """

    base: StepTimeModel
    scale: tuple[tuple[str, float], ...]
    source: str = ""

    def step(self, deployment: Deployment, segments: Sequence[Segment]) -> StepCost:
        cost = self.base.step(deployment, segments)
        factors = dict(self.scale)
        terms = {k: np.asarray(v * factors.get(k, 1.0), dtype=np.float64)
                 for k, v in cost.breakdown_s().items()}
        latency = np.asarray(sum(terms.values()), dtype=np.float64)
        mfu = np.asarray(cost.mfu * cost.latency_s / np.maximum(latency, 1e-30),
                         dtype=np.float64)
        return replace(cost, compute_s=terms["compute"], weights_s=terms["weights"],
                       kv_s=terms["kv"], communication_s=terms["communication"],
                       overhead_s=terms["overhead"], latency_s=latency, mfu=mfu)


ANALYTIC = AnalyticStepTime()


def calibration_from_mapping(data: Mapping[str, Any], origin: str) -> CalibratedStepTime:
    """A calibration file's mapping → a `CalibratedStepTime` over the analytic model.

    Format: `{scale: {weights: 1.08, overhead: 1.3, ...}, source: "what was measured"}`;
    each ratio a positive number, each key one of the step's terms.
    """
    if not isinstance(data, Mapping):
        raise InferplanError(origin, type(data).__name__, "must be a mapping with 'scale'")
    scale = data.get("scale")
    if not isinstance(scale, Mapping) or not scale:
        raise InferplanError(f"{origin}.scale", scale,
                             f"a mapping of terms ({', '.join(TERMS)}) to positive ratios")
    pairs = []
    for term, value in scale.items():
        if term not in TERMS:
            raise InferplanError(f"{origin}.scale.{term}", term, f"allowed: {', '.join(TERMS)}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 \
                or not np.isfinite(value):
            raise InferplanError(f"{origin}.scale.{term}", value, "a positive, finite ratio")
        pairs.append((str(term), float(value)))
    unknown = [k for k in data if k not in ("scale", "source")]
    if unknown:
        raise InferplanError(f"{origin}.{unknown[0]}", data[unknown[0]], "allowed: scale, source")
    return CalibratedStepTime(ANALYTIC, tuple(sorted(pairs)), str(data.get("source", "")))


def step_time_model(deployment: Deployment) -> StepTimeModel:
    """The model `deployment` is priced with: its own, else the analytic roofline."""
    model = deployment.step_time
    if model is None:
        return ANALYTIC
    if not isinstance(model, StepTimeModel):
        raise TypeError(f"Deployment.step_time must be a StepTimeModel, not {type(model)}")
    return model


def mixed_step_cost(deployment: Deployment, segments: Sequence[Segment]) -> StepCost:
    """Cost of one step that runs several kinds of sequences together (decodes plus a
    prompt chunk), from the deployment's step-time model."""
    return step_time_model(deployment).step(deployment, segments)


def step_cost(deployment: Deployment, phase: str, batch: npt.ArrayLike,
              new_tokens: npt.ArrayLike, cached_tokens: npt.ArrayLike) -> StepCost:
    """Cost of one step of `batch` sequences adding `new_tokens` onto `cached_tokens`.

    Seed 001 A9 (ideal, book v5e 4x2, LLaMA 3-70B int8, B=32, T=8192): ≈ 17.2 ms.
    """
    return mixed_step_cost(deployment, [Segment(phase, batch, new_tokens, cached_tokens)])


__all__ = ["ANALYTIC", "AnalyticStepTime", "CalibratedStepTime", "Segment", "StepCost",
           "StepTimeModel", "calibration_from_mapping", "mixed_step_cost", "step_cost",
           "step_time_model"]
