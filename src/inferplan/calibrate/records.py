"""What a calibration measured and what it found, as plain data: the timed grid
(`Measurement`), each point predicted before and after the fit (`Row`), and the whole
(`CalibrationResult`), which writes the calibration file (`file_mapping`) that
`inferplan.steptime.calibration_from_mapping` reads back. No jax here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from inferplan.calibrate.fit import FIXED, Fit
from inferplan.calibrate.grid import GridPoint
from inferplan.calibrate.host import HostInfo
from inferplan.calibrate.scaling import Scaling
from inferplan.calibrate.timing import Timing
from inferplan.hardware import ChipSpec
from inferplan.models import ModelSpec


@dataclass(frozen=True)
class MeasuredPoint:
    point: GridPoint
    timing: Timing
    held_out: bool


@dataclass(frozen=True)
class Measurement:
    """A device's ceilings and a grid of timed steps of one scaled model."""

    device: str                          # jax platform: cpu, gpu, tpu
    device_kind: str                     # jax's name of the device
    host: HostInfo
    memory_bytes: float                  # the device's memory (the host's for cpu)
    dtype: str                           # inferplan dtype the model ran in
    flops_per_s: dict[str, float]        # achieved matmul FLOP/s per dtype
    bandwidth_bytes_per_s: float
    how: dict[str, str]                  # how each ceiling was measured
    model: ModelSpec                     # the timed model at full depth
    scaling: Scaling
    points: tuple[MeasuredPoint, ...]
    software: dict[str, str]
    date: str                            # ISO 8601, UTC
    grid: str                            # the grid's name: quick, full, accelerator


def relative_error(predicted_s: float, measured_s: float) -> float:
    """(predicted − measured) / measured: 11 ms against 10 ms is +0.10."""
    return (predicted_s - measured_s) / measured_s


def median_abs_error(errors: list[float]) -> float:
    """Median of |error|; NaN for no points."""
    return float(np.median(np.abs(errors))) if errors else float("nan")


@dataclass(frozen=True)
class Row:
    """One grid point: measured, predicted by the uncalibrated and the calibrated model,
    and whether the fit saw it."""

    label: str
    point: GridPoint
    measured_s: float
    spread: float
    before_s: float
    after_s: float
    held_out: bool
    bound: str

    @property
    def error_before(self) -> float:
        return relative_error(self.before_s, self.measured_s)

    @property
    def error_after(self) -> float:
        return relative_error(self.after_s, self.measured_s)

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label, **self.point.as_dict(), "measured_s": self.measured_s,
                "spread": self.spread, "predicted_before_s": self.before_s,
                "predicted_after_s": self.after_s, "error_before": self.error_before,
                "error_after": self.error_after, "held_out": self.held_out,
                "bound": self.bound}


@dataclass(frozen=True)
class CalibrationResult:
    """A measurement, the chip it made, the fit, and every point before and after."""

    measurement: Measurement
    chip: ChipSpec
    fit: Fit
    rows: tuple[Row, ...]
    #: how the calibrated model adds the parts, and the analytic mode it is relative to
    model_overlap: str = "none"
    model_efficiency: str = "ideal"
    #: what a step's measured time is: the median of its runs, or the best run
    statistic: str = "median"

    def median_error(self, held_out: bool, after: bool) -> float:
        """Median |relative error| of the held-out (or fitted) points, after the fit (or
        before)."""
        return median_abs_error([r.error_after if after else r.error_before
                                 for r in self.rows if r.held_out == held_out])

    @property
    def source(self) -> str:
        m = self.measurement
        flags = (" --quick" if m.grid == "quick" else "") + (
            f" --statistic {self.statistic}" if self.statistic != "median" else "")
        return (f"inferplan calibrate --device {m.device}{flags}"
                f" --model {m.scaling.source_model}: {len(self.rows)} timed steps of "
                f"{m.model.name} on {self.chip.display_name}, {m.date}")

    def achieved(self) -> list[dict[str, Any]]:
        """What each fitted ratio says the device achieves: the measured ceiling over the
        ratio (matmuls and attention in FLOP/s, weight and KV streaming in B/s), as a
        fraction of that ceiling too (1/ratio), the figure an engine profile states.
        A ratio of 0 (the part hides under the fixed costs on this grid) has no rate."""
        ratios = dict(self.fit.scale)
        flops = self.chip.flops_per_s(self.measurement.dtype)
        bandwidth = self.chip.memory_bandwidth_bytes_per_s
        out = []
        for part, what, ceiling, unit in (
                ("compute", "matmuls", flops, "FLOP/s"),
                ("attention", "attention math", flops, "FLOP/s"),
                ("weights", "weight streaming", bandwidth, "B/s"),
                ("kv", "KV cache reads", bandwidth, "B/s")):
            if part in ratios:
                ratio = ratios[part]
                out.append({"part": part, "what": what, "ratio": ratio, "unit": unit,
                            "ceiling": ceiling,
                            "achieved": ceiling / ratio if ratio > 0 else None,
                            "fraction_of_ceiling": 1.0 / ratio if ratio > 0 else None})
        return out

    def summary(self) -> dict[str, Any]:
        """Median errors (held-out and fitted, before and after) and the point counts."""
        return {
            "statistic": self.statistic,
            "repeats": min((p.timing.repeats for p in self.measurement.points), default=0),
            "held_out_points": sum(r.held_out for r in self.rows),
            "fit_points": sum(not r.held_out for r in self.rows),
            "median_error_held_out_before": self.median_error(True, False),
            "median_error_held_out_after": self.median_error(True, True),
            "median_error_fit_before": self.median_error(False, False),
            "median_error_fit_after": self.median_error(False, True),
            "unfitted": list(self.fit.unfitted),
            "achieved": self.achieved()}

    def file_mapping(self) -> dict[str, Any]:
        """The calibration file: the ratios, fixed costs and analytic mode the step model
        reads (`scale`, `fixed`, `efficiency`), then what was measured, on what, with
        which software, when, and how well it fits (recorded, not read)."""
        m = self.measurement
        spec = m.model
        return {
            "scale": dict(self.fit.scale),
            "fixed": {k: self.fit.fixed_s(k) for k in FIXED},
            "overlap": self.model_overlap,
            "efficiency": self.model_efficiency,
            "source": self.source,
            "date": m.date,
            "device": {"platform": m.device, "kind": m.device_kind, **m.host.as_dict(),
                       "chip": self.chip.model_dump(exclude_none=True),
                       "measured": m.how},
            "software": dict(m.software),
            "model": {**m.scaling.as_dict(), "name": spec.name, "dtype": m.dtype,
                      "L": spec.num_layers, "D": spec.hidden_size,
                      "F": spec.intermediate_size, "N": spec.num_heads,
                      "K": spec.num_kv_heads, "H": spec.head_dim, "V": spec.vocab_size,
                      **({"experts": spec.moe.num_experts, "top_k": spec.moe.experts_per_token,
                          "expert_ffn": spec.moe.expert_ffn} if spec.moe else {})},
            "fit": {"grid": m.grid, **self.summary()},
            "points": [r.as_dict() for r in self.rows],
        }
