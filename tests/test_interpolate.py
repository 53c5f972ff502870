"""`interpolate.log2_interp`: a per-size table read between its points, linear in log2 of
the size, its end values beyond them."""

from __future__ import annotations

import numpy as np
import pytest

from inferplan.interpolate import log2_interp

LINKS = ((2, 0.75), (4, 0.79), (8, 1.1))     # vLLM's link efficiency on H200


def test_worked_number_between_points_and_beyond_them() -> None:
    assert log2_interp(6, LINKS) == pytest.approx(0.79 + np.log2(1.5) * 0.31)   # 0.9713
    assert log2_interp(1, LINKS) == 0.75 and log2_interp(16, LINKS) == 1.1
    assert isinstance(log2_interp(6, LINKS), float)


def test_an_array_of_sizes_gives_an_array() -> None:
    out = log2_interp(np.array([2.0, 4.0, 6.0]), LINKS)
    assert isinstance(out, np.ndarray)
    assert out == pytest.approx([0.75, 0.79, 0.9713], abs=1e-4)
