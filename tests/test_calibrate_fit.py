"""Fitting a calibration without timing anything: steps "measured" as known ratios of the
analytic parts plus known fixed costs are fitted back to those numbers, and the fitted
model, loaded the way every command loads a calibration file, predicts them.

On one model the weight bytes of a step depend only on its depth (a + b·L), so weight
streaming and a fixed cost per layer cannot be told apart: the synthetic steps carry no
per-layer cost, and the test that adds one checks it is reported unfitted."""

from __future__ import annotations

import numpy as np
import pytest

from inferplan.calibrate import FULL, GridSpec, scaled_model
from inferplan.calibrate.evaluate import (
    BASE_OVERLAP,
    calibrate_from,
    device_deployment,
    step_parts,
)
from inferplan.calibrate.fit import (
    PARTS,
    columns,
    fit_calibration,
    fixed_columns,
    least_absolute,
    nonnegative_lstsq,
)
from inferplan.calibrate.grid import held_out
from inferplan.calibrate.host import (
    HostInfo,
    _size_bytes,
    bandwidth_array_bytes,
    chip_name,
    device_chip,
)
from inferplan.calibrate.records import MeasuredPoint, Measurement
from inferplan.calibrate.scaling import at_depth
from inferplan.calibrate.timing import Timing
from inferplan.models import catalog_model
from inferplan.steptime import ANALYTIC, SCALED_PARTS

HOST = HostInfo("test cpu", 2, 24e9, 480 * 2**20)
RATIOS = {"compute": 1.3, "attention": 2.5, "weights": 0.6, "kv": 4.0}
FIXED = {"per_step_s": 2e-4, "per_sequence_layer_s": 3e-5}


def synthetic(grid: GridSpec, ratios: dict[str, float], fixed: dict[str, float],
              noise: float = 0.0, model: str = "llama-3.1-8b") -> Measurement:
    """A measurement whose every step takes Σ ratio·part + c_step + L·c_layer +
    L·n·c_sequence on the chip the measurement describes, times (1 + noise·u), u a fixed
    uniform draw in [-1, 1]."""
    spec, scaling = scaled_model(catalog_model(model), grid.hidden, grid.layers, grid.vocab)
    how = {"flops": "synthetic", "bandwidth": "synthetic"}
    flops, bandwidth = {"fp32": 1.5e11}, 2.0e10
    chip = device_chip("cpu", "cpu", HOST, HOST.memory_bytes, flops, bandwidth, how, "today")
    wobble = np.random.default_rng(0).uniform(-1, 1, len(grid.points()))
    points = []
    for i, point in enumerate(grid.points()):
        dep = device_deployment(chip, at_depth(spec, point.layers), "fp32")
        cost = ANALYTIC.step(dep, point.segments())
        assert cost.parts is not None
        parts = step_parts(cost, BASE_OVERLAP)
        columns_ = fixed_columns(np.array(float(point.layers)),
                                 np.array(float(cost.parts.sequences)))
        t = sum(ratios.get(k, 1.0) * v for k, v in parts.items()) + sum(
            fixed.get(k, 0.0) * float(v) for k, v in columns_.items())
        t *= 1 + noise * wobble[i]
        points.append(MeasuredPoint(point, Timing(t, 0.0, 5, t), held_out(i)))
    return Measurement(device="cpu", device_kind="cpu", host=HOST, memory_bytes=HOST.memory_bytes,
                       dtype="fp32", flops_per_s=flops, bandwidth_bytes_per_s=bandwidth,
                       how=how, model=spec, scaling=scaling, points=tuple(points),
                       software={"jax": "none"}, date="today", grid=grid.name)


def test_parts_are_the_calibration_parts() -> None:
    assert set(PARTS) == set(SCALED_PARTS)


def test_fit_recovers_known_ratios_and_fixed_costs() -> None:
    result = calibrate_from(synthetic(FULL, RATIOS, FIXED))
    assert dict(result.fit.scale) == pytest.approx(RATIOS, rel=1e-6)
    assert dict(result.fit.fixed) == pytest.approx(FIXED, rel=1e-6)
    # one device, ideal: no communication or overhead; per layer: see the module's doc
    assert set(result.fit.unfitted) == {"communication", "overhead", "per_layer_s"}
    assert result.median_error(held_out=True, after=True) < 1e-9
    assert result.median_error(held_out=True, after=False) > 0.1
    assert sum(r.held_out for r in result.rows) == len(FULL.points()) // 3


def test_noise_moves_the_fit_little() -> None:
    """±5% of deterministic noise: held-out median error stays near the noise."""
    result = calibrate_from(synthetic(FULL, RATIOS, FIXED, noise=0.05))
    assert result.median_error(held_out=True, after=True) < 0.06


def test_a_per_layer_cost_goes_to_the_weights_and_the_step() -> None:
    """c_layer·L = (c_layer/b)·(weight time − a): the fit finds the same steps with the
    weights ratio raised and the per-step cost lowered, and says per_layer_s is unfitted."""
    result = calibrate_from(synthetic(FULL, RATIOS, {**FIXED, "per_layer_s": 1e-4}))
    assert "per_layer_s" in result.fit.unfitted
    assert dict(result.fit.scale)["weights"] > RATIOS["weights"]
    assert result.median_error(held_out=True, after=True) < 1e-6


def test_moe_model_fits_too() -> None:
    result = calibrate_from(synthetic(FULL, RATIOS, FIXED, model="mixtral-8x7b"))
    assert result.median_error(held_out=True, after=True) < 1e-6


def test_docstring_examples() -> None:
    A = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    np.testing.assert_allclose(nonnegative_lstsq(A, np.array([2.0, -1.0, 1.0])), [1.5, 0.0])
    ones, y = np.ones((3, 1)), np.array([1.0, 1.0, 2.0])
    assert float(least_absolute(ones, y)[0]) == pytest.approx(1.0, abs=1e-5)
    assert float(nonnegative_lstsq(ones, y)[0]) == pytest.approx(4 / 3)
    terms = {"compute": np.array([1e-3, 2e-3, 0.0]), "weights": np.array([0.0, 0.0, 4e-3]),
             "kv": np.zeros(3)}
    fixed = fixed_columns(np.full(3, 4.0), np.full(3, 8.0))
    fit = fit_calibration(terms, fixed, np.array([2.1e-3, 4.1e-3, 6.1e-3]))
    assert dict(fit.scale) == pytest.approx({"compute": 2.0, "weights": 1.5})
    assert fit.fixed_s("per_step_s") == pytest.approx(1e-4)
    names, _, dropped = columns(terms, fixed)
    assert names == ["compute", "weights", "per_step_s"]
    assert dropped == ["kv", "per_layer_s", "per_sequence_layer_s"]
    t = Timing.of([1e-3, 2e-3, 3e-3, 4e-3, 10e-3])
    assert (t.median_s, t.iqr_s, t.repeats, t.best_s) == pytest.approx((3e-3, 2e-3, 5, 1e-3))
    assert (t.seconds("median"), t.seconds("best")) == (t.median_s, t.best_s)
    assert bandwidth_array_bytes(HOST) == 960 * 2**20
    assert _size_bytes("480M") == 503_316_480 and _size_bytes("4096K") == 4 * 2**20
    assert chip_name("gpu", "NVIDIA H100 80GB HBM3") == "nvidia-h100-80gb-hbm3"
    assert chip_name("cpu", "cpu") == "host-cpu"
