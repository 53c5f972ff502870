"""Calibration from timed forward passes (`inferplan calibrate`).

A catalog model scaled down (`scaling`) is built in JAX with random weights
(`forward`) and timed on a device over a grid of prefill, decode and mixed steps
(`grid`, `timing`, `measure`), beside microbenchmarks of the device's matmul FLOP/s and
memory bandwidth (`micro`), which make its `ChipSpec` (`host`). The analytic step model
prices every step on that chip; the ratios and fixed costs that bring it to the
measurements are fitted on two thirds of the grid (`fit`) and checked on the rest
(`evaluate`); the result (`records`) writes a calibration file that
`inferplan.steptime.calibration_from_mapping` loads as a `StepTimeModel`.

JAX is an optional extra (`inferplan[jax]`), imported only by `forward`, `micro` and
`measure`, which nothing imports but the command that asked for a calibration; the rest
of this package, and nothing of the core, needs it.
"""

from inferplan.calibrate.grid import ACCELERATOR, FULL, QUICK, GridPoint, GridSpec
from inferplan.calibrate.scaling import Scaling, at_depth, scaled_model

#: jax platforms `inferplan calibrate --device` accepts (jax must see one).
DEVICES = ("cpu", "gpu", "tpu")

__all__ = ["ACCELERATOR", "DEVICES", "FULL", "QUICK", "GridPoint", "GridSpec", "Scaling",
           "at_depth", "scaled_model"]
