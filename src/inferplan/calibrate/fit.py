"""Fitting a calibration: measured step time t ≈ Σ_part ratio_part · part + c_step +
L · c_layer + L · n · c_sequence, the parts those of the uncalibrated step model (its
terms, with compute split into matmuls and attention: `steptime.SCALED_PARTS`), n the
step's sequences, all ≥ 0, minimising the sum of absolute relative errors over the
points not held out. numpy only.

Absolute rather than squared errors: the check is the median absolute error, and a few
steps slowed by other work on a shared machine should move the fit little (least
squares chases them; on six 2-core CPU runs the held-out median was 2-3 points lower).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
#: The parts (`steptime.SCALED_PARTS`) in the order columns are tried: matmul compute,
#: attention, then the memory, communication and overhead terms.
PARTS = ("compute", "attention", "weights", "kv", "communication", "overhead")
#: The fixed-cost columns after the parts (`steptime.FIXED_COSTS`): per step, per layer,
#: per sequence and layer.
FIXED = ("per_step_s", "per_layer_s", "per_sequence_layer_s")
#: A column whose values are all below this share of the largest is left out (a term no
#: point of the grid exposes, e.g. communication on one device).
NEGLIGIBLE = 1e-9
#: Iteratively reweighted least squares for the absolute errors: at most this many
#: rounds, stopping when no coefficient moves by more than TOLERANCE (relative); a
#: residual below RESIDUAL_FLOOR weighs as that floor (the weights are 1/√|r|).
IRLS_ROUNDS = 100
TOLERANCE = 1e-10
RESIDUAL_FLOOR = 1e-6


@dataclass(frozen=True)
class Fit:
    """Fitted ratios (part → measured ÷ modelled), fixed costs (FIXED → seconds), and the
    columns the grid could not tell apart or never exposed (left at ratio 1 or cost 0).
    `compute` here is the matmuls' part of the compute term."""

    scale: tuple[tuple[str, float], ...]
    fixed: tuple[tuple[str, float], ...]
    unfitted: tuple[str, ...]

    def fixed_s(self, name: str) -> float:
        """One fixed cost (0 when not fitted)."""
        return dict(self.fixed).get(name, 0.0)


def fixed_columns(layers: FloatArray, sequences: FloatArray) -> dict[str, FloatArray]:
    """What each fixed cost multiplies at each point: 1, L, L·n."""
    L = np.asarray(layers, dtype=np.float64)
    return {FIXED[0]: np.ones_like(L), FIXED[1]: L,
            FIXED[2]: L * np.asarray(sequences, dtype=np.float64)}


def columns(terms: Mapping[str, FloatArray], fixed: Mapping[str, FloatArray]
            ) -> tuple[list[str], FloatArray, list[str]]:
    """The design matrix's named columns (parts some point exposes, then the fixed
    costs' columns), keeping a column only when it adds to the rank of those before it;
    and the names left out. A grid of one depth makes the layer column a multiple of the
    ones: it is left out and its cost lands in the per-step cost."""
    candidates = [(k, np.asarray(terms[k], dtype=np.float64)) for k in PARTS if k in terms]
    candidates += [(k, np.asarray(fixed[k], dtype=np.float64)) for k in FIXED if k in fixed]
    kept: list[tuple[str, FloatArray]] = []
    dropped: list[str] = []
    for name, col in candidates:
        trial = np.column_stack([c for _, c in kept] + [col])
        scaled = trial / np.maximum(np.abs(trial).max(axis=0), 1e-300)
        if np.abs(col).max() > 0 and np.linalg.matrix_rank(scaled, tol=NEGLIGIBLE) == (
                len(kept) + 1):
            kept.append((name, col))
        else:
            dropped.append(name)
    return [n for n, _ in kept], np.column_stack([c for _, c in kept]), dropped


def nonnegative_lstsq(A: FloatArray, y: FloatArray) -> FloatArray:
    """argmin ‖Ax − y‖ over x ≥ 0, exactly, for the few columns a calibration has: the
    optimum is the unconstrained least squares on its support, so every support is tried
    and the best feasible one kept (2ⁿ small solves, n ≤ 7).

    A = [[1, 0], [0, 1], [1, 1]], y = [2, −1, 1]: unconstrained x = (2, −1); x ≥ 0 gives
    (1.5, 0) (residual² 0.5 + 1 + 0.25).
    """
    n = A.shape[1]
    best, best_rss = np.zeros(n), float(np.sum(y * y))
    for size in range(1, n + 1):
        for support in itertools.combinations(range(n), size):
            cols = list(support)
            x_s = np.linalg.lstsq(A[:, cols], y, rcond=None)[0]
            if np.any(x_s < 0):
                continue
            x = np.zeros(n)
            x[cols] = x_s
            rss = float(np.sum((A @ x - y) ** 2))
            if rss < best_rss:
                best, best_rss = x, rss
    return best


def least_absolute(A: FloatArray, y: FloatArray) -> FloatArray:
    """argmin Σ|Ax − y| over x ≥ 0, by iteratively reweighted non-negative least squares
    (weights 1/√|r| make Σ w²r² = Σ|r|), from the least-squares start.

    One column of ones against y = 1, 1, 2: x = 1 (|r| = 0, 0, 1), where least squares
    gives 4/3.
    """
    x = nonnegative_lstsq(A, y)
    for _ in range(IRLS_ROUNDS):
        w = 1.0 / np.sqrt(np.maximum(np.abs(A @ x - y), RESIDUAL_FLOOR))
        new = nonnegative_lstsq(A * w[:, None], y * w)
        done = bool(np.all(np.abs(new - x) <= TOLERANCE * np.maximum(np.abs(x), 1e-30)))
        x = new
        if done:
            break
    return x


def fit_calibration(terms: Mapping[str, FloatArray], fixed: Mapping[str, FloatArray],
                    measured_s: FloatArray) -> Fit:
    """Ratios and fixed costs minimising Σ |predicted − measured| / measured, all ≥ 0.

    Three points with compute 1, 2, 0 ms and weights 0, 0, 4 ms, measured 2.1, 4.1, 6.1
    ms at one depth and batch: compute ×2, weights ×1.5, 0.1 ms per step (every error 0).
    """
    names, A, dropped = columns(terms, fixed)
    y = np.asarray(measured_s, dtype=np.float64)
    x = least_absolute(A / y[:, None], np.ones_like(y))
    found = dict(zip(names, (float(v) for v in x), strict=True))
    return Fit(scale=tuple((k, found[k]) for k in PARTS if k in found),
               fixed=tuple((k, found[k]) for k in FIXED if k in found),
               unfitted=tuple(dropped))
