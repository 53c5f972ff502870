"""From a measurement to a calibration: the measured device as a chip, each grid step
priced by the analytic model on it (before), the fit over the points not held out, and
each step priced again through the calibrated `StepTimeModel` (after), the way every
command will price steps with the file. No jax here."""

from __future__ import annotations

import numpy as np

from inferplan.calibrate.fit import PARTS, Fit, fit_calibration, fixed_columns
from inferplan.calibrate.host import device_chip
from inferplan.calibrate.records import CalibrationResult, Measurement, Row
from inferplan.calibrate.scaling import at_depth
from inferplan.cost import StepCost
from inferplan.deployment import Deployment, Dtypes, Efficiency
from inferplan.hardware import ChipSpec, Topology
from inferplan.models import ModelSpec
from inferplan.parallel import Layout
from inferplan.steptime import ANALYTIC, CalibratedStepTime, Overlap, StepTimeModel

#: The analytic mode a measured device is calibrated against: its roofline at the
#: measured ceilings, no engine fixed costs (the fit finds the device's own).
BASE_EFFICIENCY: Efficiency = "ideal"
#: How the calibrated step adds the parts: in full, one after the other. On five quiet
#: runs of the CPU grid, over the three ways to hold out every third point, the held-out
#: median error was 2.9-11.2% this way and 2.8-15.7% scaling the roofline's exposed
#: terms (docs/calibration.md): a CPU overlaps little of its compute with its memory.
BASE_OVERLAP: Overlap = "none"


def device_deployment(chip: ChipSpec, model: ModelSpec, dtype: str) -> Deployment:
    """The timed model on the one measured device, everything in `dtype`."""
    return Deployment(model=model, chip=chip, topology=Topology(chip, (1,)), layout=Layout(),
                      dtypes=Dtypes(weights=dtype, kv=dtype, compute=dtype),
                      efficiency=BASE_EFFICIENCY)


def step_parts(cost: StepCost, overlap: Overlap) -> dict[str, float]:
    """A step's seconds per fitted part (`fit.PARTS`) as `overlap` adds them: the
    roofline's parts in full (`none`), or its exposed terms with compute split into
    matmuls and attention (`roofline`)."""
    terms = {k: float(v) for k, v in cost.breakdown_s().items()}
    parts = cost.parts
    assert parts is not None, "the analytic model gives the roofline's parts"
    if overlap == "none":
        full = {"compute": parts.matmul_compute_s, "attention": parts.attention_compute_s,
                "weights": parts.weight_read_s, "kv": parts.kv_read_s}
        terms.update({k: float(v) for k, v in full.items()})
    else:
        attention = float(parts.attention_exposed_s)
        terms.update(compute=terms["compute"] - attention, attention=attention)
    return {k: terms[k] for k in PARTS}


def calibrated_model(fit: Fit, source: str) -> CalibratedStepTime:
    """The fit as the step-time model a calibration file loads."""
    return CalibratedStepTime(
        ANALYTIC, tuple(sorted(fit.scale)), source, per_step_s=fit.fixed_s("per_step_s"),
        per_layer_s=fit.fixed_s("per_layer_s"),
        per_sequence_layer_s=fit.fixed_s("per_sequence_layer_s"), overlap=BASE_OVERLAP,
        efficiency=BASE_EFFICIENCY)


def calibrate_from(m: Measurement, statistic: str = "median") -> CalibrationResult:
    """Price, fit and price again every point of the measurement, each step's time taken
    by `statistic` (`timing.STATISTICS`: the median of its runs, or the best)."""
    chip = device_chip(m.device, m.device_kind, m.host, m.memory_bytes, m.flops_per_s,
                       m.bandwidth_bytes_per_s, m.how, m.date)
    deployments = {p.point.layers: device_deployment(chip, at_depth(m.model, p.point.layers),
                                                     m.dtype) for p in m.points}
    before = [ANALYTIC.step(deployments[p.point.layers], p.point.segments())
              for p in m.points]
    parts = [step_parts(c, BASE_OVERLAP) for c in before]
    terms = {k: np.array([p[k] for p in parts]) for k in PARTS}
    fixed = fixed_columns(np.array([float(p.point.layers) for p in m.points]),
                          np.array([float(c.parts.sequences) if c.parts is not None else 0.0
                                    for c in before]))
    measured = np.array([p.timing.seconds(statistic) for p in m.points])
    fitted = np.array([not p.held_out for p in m.points])
    fit = fit_calibration({k: v[fitted] for k, v in terms.items()},
                          {k: v[fitted] for k, v in fixed.items()}, measured[fitted])
    partial = CalibrationResult(m, chip, fit, (), BASE_OVERLAP, BASE_EFFICIENCY, statistic)
    model: StepTimeModel = calibrated_model(fit, partial.source)
    rows = []
    for p, cost in zip(m.points, before, strict=True):
        after = model.step(deployments[p.point.layers], p.point.segments())
        rows.append(Row(label=p.point.label(m.model.num_layers), point=p.point,
                        measured_s=p.timing.seconds(statistic), spread=p.timing.spread,
                        before_s=float(cost.latency_s), after_s=float(after.latency_s),
                        held_out=p.held_out, bound=str(cost.bound)))
    return CalibrationResult(m, chip, fit, tuple(rows), BASE_OVERLAP, BASE_EFFICIENCY,
                             statistic)
