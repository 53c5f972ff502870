"""The one way a command gets a step time: a `StepTimeModel`.

A step is a list of `Segment`s (sequences of one kind: `batch` of them adding
`new_tokens` onto `cached_tokens`); a model prices it as a named `StepCost`. The
analytic model (`AnalyticStepTime`) is the roofline of `inferplan.cost` under the
deployment's engine profile; a calibration (`CalibratedStepTime`, from a file of
measured per-part ratios and fixed costs, written by `inferplan calibrate` or by hand)
wraps another model. A deployment carries the model it is
priced with (`Deployment.step_time`; None: analytic), so estimate, search, disagg,
speculative, buckets and the serving model all ask `step_cost` / `mixed_step_cost`
here and never build a step time of their own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from inferplan.cost import TERMS, FloatArray, Segment, StepCost
from inferplan.cost import mixed_step_cost as analytic_step_cost
from inferplan.cost import mixed_step_latency_s as analytic_step_latency_s
from inferplan.deployment import Deployment, Efficiency
from inferplan.rows import DeploymentRows
from inferplan.units import InferplanError


@runtime_checkable
class StepTimeModel(Protocol):
    """(deployment, step composition) → the step's cost with every term named."""

    def step(self, deployment: Deployment | DeploymentRows,
             segments: Sequence[Segment]) -> StepCost:
        """Price one step of `segments` on `deployment` (or on each row of rows of
        deployments)."""
        ...


@dataclass(frozen=True)
class AnalyticStepTime:
    """The roofline of `inferplan.cost` with the deployment's engine profile."""

    def step(self, deployment: Deployment | DeploymentRows,
             segments: Sequence[Segment]) -> StepCost:
        return analytic_step_cost(deployment, list(segments))


#: What a calibration may scale: the step's terms, and `attention`, the attention
#: kernels' part of `compute` (by default it takes the compute ratio, so `compute` alone
#: scales all of it).
SCALED_PARTS = (*TERMS, "attention")
#: How a calibration adds the roofline's parts: `roofline`, the terms as the roofline
#: exposes them (compute or memory, whichever bounds each kernel class); `none`, every
#: part in full, compute and memory one after the other (as a CPU runs).
OVERLAPS = ("roofline", "none")
Overlap = Literal["roofline", "none"]
#: Fixed costs a calibration may state (seconds, ≥ 0): per step, per layer, and per
#: sequence and layer.
FIXED_COSTS = ("per_step_s", "per_layer_s", "per_sequence_layer_s")


@dataclass(frozen=True)
class CalibratedStepTime:
    """Another model's step with each part scaled by a measured ratio (measured ÷
    modelled time of that part on the calibrating runs), plus the fixed costs the runs
    showed, in the overhead term.

    `scale` maps a part (SCALED_PARTS) to its ratio; parts not named keep 1 (attention:
    the compute ratio). With `overlap: roofline` the ratios scale the terms as the base
    model exposes them; with `none` they scale the roofline's parts in full
    (`cost.RooflineParts`: matmul and attention FLOPs, weight and KV bytes, each at its
    rate) and the step adds them. `efficiency`, when set, is the analytic mode the ratios
    were fitted against: the base model prices the step in that mode whatever the
    deployment says (the ratios mean nothing against another). Latency is the sum of the
    terms; MFU follows it.

    A decode step of 10 ms weights + 2 ms overhead with weights ×1.1: 13 ms; with 0.1 ms
    per step, 0.02 ms per layer and 1 µs per sequence and layer, 8 sequences, 32 layers:
    13 + 0.1 + 0.64 + 0.256 = 13.996 ms.
    """

    base: StepTimeModel
    scale: tuple[tuple[str, float], ...]
    source: str = ""
    per_step_s: float = 0.0
    per_layer_s: float = 0.0
    per_sequence_layer_s: float = 0.0
    overlap: Overlap = "roofline"
    efficiency: Efficiency | None = None

    def step(self, deployment: Deployment | DeploymentRows,
             segments: Sequence[Segment]) -> StepCost:
        if self.efficiency is not None and deployment.efficiency != self.efficiency:
            if isinstance(deployment, DeploymentRows):
                deployment = DeploymentRows(tuple(replace(m, efficiency=self.efficiency)
                                                  for m in deployment.members),
                                            deployment.index)
            else:
                deployment = replace(deployment, efficiency=self.efficiency)
        cost = self.base.step(deployment, segments)
        r = dict(self.scale)
        ratio = {k: r.get(k, 1.0) for k in TERMS}
        ratio["attention"] = r.get("attention", ratio["compute"])
        parts = cost.parts
        if self.overlap == "none":
            if parts is None:
                raise TypeError("a calibration without overlap needs a base model that "
                                "gives the roofline's parts (cost.RooflineParts)")
            compute = (ratio["compute"] * parts.matmul_compute_s
                       + ratio["attention"] * parts.attention_compute_s)
            weights = ratio["weights"] * parts.weight_read_s
            kv = ratio["kv"] * parts.kv_read_s
        else:
            attention = 0.0 if parts is None else parts.attention_exposed_s
            compute = (ratio["compute"] * (cost.compute_s - attention)
                       + ratio["attention"] * attention)
            weights, kv = ratio["weights"] * cost.weights_s, ratio["kv"] * cost.kv_s
        sequences = 0.0 if parts is None else parts.sequences
        terms = {"compute": compute, "weights": weights, "kv": kv,
                 "communication": ratio["communication"] * cost.communication_s,
                 "overhead": ratio["overhead"] * cost.overhead_s + fixed_cost_s(
                     self.per_step_s, self.per_layer_s, self.per_sequence_layer_s,
                     deployment.model.num_layers, sequences)}
        out = {k: np.asarray(np.broadcast_to(v, np.shape(cost.latency_s)), dtype=np.float64)
               for k, v in terms.items()}
        latency = np.asarray(sum(out.values()), dtype=np.float64)
        mfu = np.asarray(cost.mfu * cost.latency_s / np.maximum(latency, 1e-30),
                         dtype=np.float64)
        scaled = None if parts is None else replace(
            parts, matmul_compute_s=ratio["compute"] * parts.matmul_compute_s,
            attention_compute_s=ratio["attention"] * parts.attention_compute_s,
            weight_read_s=ratio["weights"] * parts.weight_read_s,
            kv_read_s=ratio["kv"] * parts.kv_read_s,
            attention_exposed_s=ratio["attention"] * parts.attention_exposed_s)
        return replace(cost, compute_s=out["compute"], weights_s=out["weights"],
                       kv_s=out["kv"], communication_s=out["communication"],
                       overhead_s=out["overhead"], latency_s=latency, mfu=mfu, parts=scaled)


def fixed_cost_s(per_step_s: float, per_layer_s: float, per_sequence_layer_s: float,
                 layers: int, sequences: npt.ArrayLike) -> FloatArray:
    """A calibration's fixed cost of one step: c_step + L·c_layer + L·n·c_sequence for n
    sequences. 0.1 ms + 32 · 0.02 ms + 32 · 8 · 1 µs = 0.996 ms."""
    n = np.asarray(sequences, dtype=np.float64)
    return np.asarray(per_step_s + layers * per_layer_s + layers * n * per_sequence_layer_s,
                      dtype=np.float64)


ANALYTIC = AnalyticStepTime()


#: Keys of a calibration file the step model reads.
CALIBRATION_KEYS = ("scale", "fixed", "overlap", "efficiency", "source")
#: Keys `inferplan calibrate` records beside them (what was measured, on what, with
#: which software, when, how well it fits); kept in the file, not read.
RECORDED_KEYS = ("date", "device", "software", "model", "fit", "points")


def _number(value: object, field: str, allowed: str) -> float:
    """A finite number ≥ 0, or an `InferplanError`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(
            value) or value < 0:
        raise InferplanError(field, value, allowed)
    return float(value)


def calibration_from_mapping(data: Mapping[str, Any], origin: str) -> CalibratedStepTime:
    """A calibration file's mapping → a `CalibratedStepTime` over the analytic model.

    Format: `{scale: {weights: 1.08, overhead: 1.3, ...}, source: "what was measured"}`;
    each ratio a finite number ≥ 0 (0: the part hid under the fixed costs on the
    calibrating runs), each key one of the step's terms or `attention` (the attention
    kernels' part of compute). Optional: `fixed: {per_step_s: 1.0e-4, per_layer_s: 2.0e-5,
    per_sequence_layer_s: 1.0e-6}` (seconds, ≥ 0), `overlap: roofline|none` (what the
    ratios scale; default roofline) and `efficiency: ideal|realistic` (the analytic mode
    they are relative to). `inferplan calibrate` also writes `date`, `device`,
    `software`, `model`, `fit` and `points`, kept as a record and not read.
    """
    if not isinstance(data, Mapping):
        raise InferplanError(origin, type(data).__name__, "must be a mapping with 'scale'")
    unknown = [k for k in data if k not in CALIBRATION_KEYS + RECORDED_KEYS]
    if unknown:
        raise InferplanError(f"{origin}.{unknown[0]}", data[unknown[0]],
                             f"allowed: {', '.join(CALIBRATION_KEYS + RECORDED_KEYS)}")
    scale = data.get("scale")
    if not isinstance(scale, Mapping) or not scale:
        raise InferplanError(f"{origin}.scale", scale,
                             f"a mapping of terms ({', '.join(SCALED_PARTS)}) to ratios >= 0")
    pairs = []
    for term, value in scale.items():
        if term not in SCALED_PARTS:
            raise InferplanError(f"{origin}.scale.{term}", term,
                                 f"allowed: {', '.join(SCALED_PARTS)}")
        pairs.append((str(term), _number(value, f"{origin}.scale.{term}",
                                         "a finite ratio, >= 0")))
    fixed = data.get("fixed", {})
    if not isinstance(fixed, Mapping):
        raise InferplanError(f"{origin}.fixed", fixed,
                             f"a mapping of {', '.join(FIXED_COSTS)} to seconds")
    costs = {}
    for key, value in fixed.items():
        if key not in FIXED_COSTS:
            raise InferplanError(f"{origin}.fixed.{key}", key,
                                 f"allowed: {', '.join(FIXED_COSTS)}")
        costs[str(key)] = _number(value, f"{origin}.fixed.{key}", "seconds, finite and >= 0")
    efficiency = data.get("efficiency")
    if efficiency not in (None, "ideal", "realistic"):
        raise InferplanError(f"{origin}.efficiency", efficiency, "allowed: ideal, realistic")
    overlap = data.get("overlap", "roofline")
    if overlap not in OVERLAPS:
        raise InferplanError(f"{origin}.overlap", overlap, f"allowed: {', '.join(OVERLAPS)}")
    return CalibratedStepTime(ANALYTIC, tuple(sorted(pairs)), str(data.get("source", "")),
                              per_step_s=costs.get("per_step_s", 0.0),
                              per_layer_s=costs.get("per_layer_s", 0.0),
                              per_sequence_layer_s=costs.get("per_sequence_layer_s", 0.0),
                              overlap=overlap, efficiency=efficiency)


def step_time_model(deployment: Deployment | DeploymentRows) -> StepTimeModel:
    """The model `deployment` is priced with: its own, else the analytic roofline."""
    model = deployment.step_time
    if model is None:
        return ANALYTIC
    if not isinstance(model, StepTimeModel):
        raise TypeError(f"Deployment.step_time must be a StepTimeModel, not {type(model)}")
    return model


def mixed_step_cost(deployment: Deployment | DeploymentRows,
                    segments: Sequence[Segment]) -> StepCost:
    """Cost of one step that runs several kinds of sequences together (decodes plus a
    prompt chunk), from the deployment's step-time model (rows of deployments: each
    row's, in one pass)."""
    return step_time_model(deployment).step(deployment, segments)


def step_cost(deployment: Deployment | DeploymentRows, phase: str, batch: npt.ArrayLike,
              new_tokens: npt.ArrayLike, cached_tokens: npt.ArrayLike) -> StepCost:
    """Cost of one step of `batch` sequences adding `new_tokens` onto `cached_tokens`
    (rows of deployments: the arrays broadcast against the rows).

    Seed 001 A9 (ideal, book v5e 4x2, LLaMA 3-70B int8, B=32, T=8192): ≈ 17.2 ms.
    """
    return mixed_step_cost(deployment, [Segment(phase, batch, new_tokens, cached_tokens)])


def step_latency_s(deployment: Deployment | DeploymentRows, phase: str,
                   batch: npt.ArrayLike, new_tokens: npt.ArrayLike,
                   cached_tokens: npt.ArrayLike) -> FloatArray:
    """`step_cost(...).latency_s`, the same numbers: under the analytic model its latency
    alone (`cost.mixed_step_latency_s`, none of the other fields), under any other model
    its `StepCost`'s. What a search that reads only latencies asks."""
    segments = [Segment(phase, batch, new_tokens, cached_tokens)]
    model = step_time_model(deployment)
    if type(model) is AnalyticStepTime:
        return analytic_step_latency_s(deployment, segments)
    return np.asarray(model.step(deployment, segments).latency_s, dtype=np.float64)


__all__ = ["ANALYTIC", "CALIBRATION_KEYS", "FIXED_COSTS", "OVERLAPS", "RECORDED_KEYS",
           "SCALED_PARTS", "AnalyticStepTime", "CalibratedStepTime", "Overlap", "Segment",
           "StepCost", "StepTimeModel", "calibration_from_mapping", "fixed_cost_s",
           "mixed_step_cost", "step_cost", "step_latency_s", "step_time_model"]
