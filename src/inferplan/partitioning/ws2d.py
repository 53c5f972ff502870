"""Which 2D weight-stationary split a deployment uses: the search over X·YZ = n on the
topology by bandwidth time per token (cached per deployment), and the stored split the
weight-gathered layouts start from.

Imports units, collectives and deployment only (through `plan` and `transfers`).
"""

from __future__ import annotations

import math

import numpy as np

from inferplan.collectives import CollectiveTime, placement_key
from inferplan.deployment import Deployment
from inferplan.partitioning.plan import LayoutPlan, Split, disjoint_links, model_parallel_chips
from inferplan.partitioning.transfers import ws2d_transfers
from inferplan.partitioning.volumes import FloatArray
from inferplan.units import InferplanError


def ws2d_split(deployment: Deployment) -> Split | None:
    """The 2D weight-stationary split the deployment uses: among X·YZ = n with
    1 < X < n and YZ dividing the N query heads, both orders on the topology, the one
    with the least bandwidth time per token (the paper's X = √(n·E/F) when links are
    equal). YZ is split into Y and Z at the next torus axis, or as near √YZ as divides.
    None when no split exists (n < 4, or prime).

    PaLM 540B on a TPU v4 4x4x4: X = 4 (one axis of 4), Y = Z = 4.
    """
    chip, layout = deployment.chip, deployment.layout
    # what the split reads: the model, the chip's links, where groups sit on the slice,
    # tp and the attention choice, and the activations' dtype
    key = (deployment.model, chip.name, chip.interconnect, chip.scale_up, chip.scale_out,
           chip.cores_per_chip, placement_key(deployment.topology), layout.tp,
           layout.attention, deployment.dtypes.compute)
    if key not in _SPLITS:
        if len(_SPLITS) >= 256:
            _SPLITS.clear()
        _SPLITS[key] = _best_ws2d_split(deployment)
    return _SPLITS[key]


_SPLITS: dict[tuple[object, ...], Split | None] = {}


def _best_ws2d_split(deployment: Deployment) -> Split | None:
    """`ws2d_split` without the cache."""
    model, n = deployment.model, model_parallel_chips(deployment)
    best: tuple[float, Split] | None = None
    for x in range(2, n):
        if n % x or model.num_heads % (n // x):
            continue
        for x_inner in (True, False):
            split = _make_split(deployment, x, x_inner)
            if split is None:
                continue
            one = np.ones(())
            per_token = float(np.sum(_ws2d_time(deployment, split, one).bandwidth_s))
            if best is None or per_token < best[0] * (1 - 1e-12):
                best = (per_token, split)
    return None if best is None else best[1]


def _ws2d_time(dep: Deployment, split: Split, T: FloatArray) -> CollectiveTime:
    n = model_parallel_chips(dep)
    plan = LayoutPlan("ws2d", n, 1, ws2d_transfers(dep, split, T), T, split,
                      disjoint_links(dep, split, "x"))
    return plan.layer_time()


def _make_split(dep: Deployment, x: int, x_inner: bool) -> Split | None:
    """Split n = x·YZ with YZ cut into Y·Z, or None when the topology cannot place it."""
    n = model_parallel_chips(dep)
    yz = n // x
    try:
        probe = Split(x, yz, 1, x_inner)
        probe.group(dep.topology, "x")
        yz_group = probe.group(dep.topology, "yz")
        axes = yz_group.axes if dep.topology.chip.scale_up.topology == "torus" else ()
        if len(axes) >= 2:
            y = axes[0] if x_inner else axes[-1]
        else:
            y = max(d for d in range(1, math.isqrt(yz) + 1) if yz % d == 0)
        split = Split(x, y, yz // y, x_inner)
        for axes_name in ("x", "yz", "xy", "z"):
            if split.size(axes_name) > 1:
                split.group(dep.topology, axes_name)
        return split
    except InferplanError:
        return None


def wg_split(dep: Deployment) -> Split:
    """The stored layout the weight-gathered layouts start from: ws2d's split, as in
    the paper (weights E_x F_yz for prefill and decode alike), or all n chips as x when
    the group has no 2D split."""
    split = ws2d_split(dep)
    return split if split is not None else Split(model_parallel_chips(dep), 1, 1)
