"""The records of a layout's communication: `Transfer` (one collective per layer),
`Split` (how n = X·Y·Z chips are factored onto the topology) and `LayoutPlan` (a
layout's transfers and their time per layer and per step), with the chips of one
model-parallel group and whether two of a split's groups use disjoint torus links.

Imports units, hardware, collectives and deployment only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from inferplan.collectives import (
    CollectiveTime,
    Group,
    all_gather_time,
    all_reduce_time,
    all_to_all_time,
    no_collective,
    place_group,
    reduce_scatter_time,
)
from inferplan.deployment import Deployment
from inferplan.hardware import Topology
from inferplan.partitioning.volumes import FloatArray
from inferplan.units import InferplanError

Collective = Literal["all_gather", "reduce_scatter", "all_reduce", "all_to_all"]


@dataclass(frozen=True, eq=False)
class Transfer:
    """One collective a layout runs every layer.

    `bytes_per_device` is the V that `inferplan.collectives` takes (all-gather: the
    gathered array per chip; reduce-scatter: the unreduced array; all-reduce: the
    array; all-to-all: what each chip holds). `per_layer` counts its repetitions in one
    layer (two blocks, or the query and output all-to-alls). Transfers of one `stage`
    belong to one looped collective einsum (Section 3.5) and may run at once (see
    `LayoutPlan.concurrent`); stages run one after the other.
    """

    what: str
    collective: Collective
    axes: str
    group: Group
    bytes_per_device: FloatArray
    per_layer: int = 1
    stage: int = 0

    @property
    def group_size(self) -> int:
        return self.group.size

    def volume_bytes(self) -> FloatArray:
        """The paper's count per layer: per_layer·V (2·V for an all-reduce = RS + AG),
        the (p−1)/p factor dropped as Appendix A does."""
        factor = 2.0 if self.collective == "all_reduce" else 1.0
        return np.asarray(self.per_layer * factor * self.bytes_per_device, dtype=np.float64)

    def sent_bytes(self) -> FloatArray:
        """Bytes each chip sends per layer: (p−1)/p of `volume_bytes` (ring count)."""
        p = self.group.size
        return np.asarray(self.volume_bytes() * (p - 1) / p, dtype=np.float64)

    def time(self, link_efficiency: float = 1.0) -> CollectiveTime:
        """α–β time of this transfer's `per_layer` repetitions in one layer."""
        run = {"all_gather": all_gather_time, "reduce_scatter": reduce_scatter_time,
               "all_reduce": all_reduce_time, "all_to_all": all_to_all_time}[self.collective]
        t = run(self.group, self.bytes_per_device, link_efficiency)
        return t.repeated(self.per_layer, t.algorithm) if self.per_layer > 1 else t


@dataclass(frozen=True)
class Split:
    """How a model-parallel group of n = x·y·z chips is factored, innermost factor
    first on the topology: `x_inner` lays x, then y, then z (x on the first torus
    axes); otherwise z, y, x. Contiguous runs of factors are groups `place_group` can
    place: x, yz, xy, z and xyz in either order.
    """

    x: int
    y: int
    z: int
    x_inner: bool = True

    @property
    def n(self) -> int:
        return self.x * self.y * self.z

    def size(self, axes: str) -> int:
        """Chips in the group over `axes` ('x', 'yz', 'xy', 'z', 'xyz')."""
        return math.prod({"x": self.x, "y": self.y, "z": self.z}[a] for a in axes)

    def group(self, topology: Topology, axes: str) -> Group:
        """The group over `axes` that holds chip 0, placed with `place_group`."""
        order = "xyz" if self.x_inner else "zyx"
        run = "".join(a for a in order if a in axes)
        start = order.index(run[0])
        if order[start:start + len(run)] != run:
            raise InferplanError("partitioning.axes", axes,
                                 f"not a contiguous run of the factor order {order}")
        inner = self.size(order[:start]) if start else 1
        return place_group(topology, self.size(axes), inner)

    def describe(self) -> str:
        return f"X={self.x} Y={self.y} Z={self.z}"


@dataclass(frozen=True, eq=False)
class LayoutPlan:
    """The per-layer collectives of one layout on one deployment for `tokens`.

    `concurrent`: the transfers of one stage use disjoint torus axes (ws2d's x and yz,
    or a weight gather and the activations' group, each made of whole axes), so a
    looped collective einsum runs them at once: the stage takes the longer of them.
    Otherwise (switches, shared axes, several domains) they add up.
    """

    layout: str
    chips: int                       # n, the model-parallel group in chips
    layers: int
    transfers: tuple[Transfer, ...]
    tokens: FloatArray
    split: Split | None = None
    concurrent: bool = False

    def volume_bytes(self) -> FloatArray:
        """The paper's per-chip volume per layer (Σ per_layer·V, see `Transfer`)."""
        total = np.zeros_like(self.tokens)
        for t in self.transfers:
            total = total + t.volume_bytes()
        return np.asarray(total, dtype=np.float64)

    def sent_bytes(self) -> FloatArray:
        """Bytes each chip sends per layer (ring count, (p−1)/p included)."""
        total = np.zeros_like(self.tokens)
        for t in self.transfers:
            total = total + t.sent_bytes()
        return np.asarray(total, dtype=np.float64)

    def layer_time(self, link_efficiency: float = 1.0) -> CollectiveTime:
        """α–β time of one layer's collectives: stages one after the other; inside a
        stage the sum, or with `concurrent` the larger bandwidth and latency parts."""
        total = no_collective(self.tokens)
        for stage in sorted({t.stage for t in self.transfers}):
            times = [t.time(link_efficiency) for t in self.transfers if t.stage == stage]
            if self.concurrent and len(times) > 1:
                both = CollectiveTime(
                    np.maximum.reduce([t.bandwidth_s for t in times]),
                    np.maximum.reduce([t.latency_s for t in times]),
                    " || ".join(t.algorithm for t in times), max(t.steps for t in times))
                total = total + both
            else:
                for t in times:
                    total = total + t
        return total

    def time_s(self, link_efficiency: float = 1.0) -> FloatArray:
        """Seconds per step: `layers` × the layer time (α and β)."""
        return np.asarray(self.layers * self.layer_time(link_efficiency).total_s,
                          dtype=np.float64)


def model_parallel_chips(deployment: Deployment) -> int:
    """Chips in one tensor-parallel group: tp / cores per chip (≥ 1), as `cost` counts
    them; a group inside one chip (RNGD PEs) sends nothing over links."""
    return max(1, deployment.layout.tp // deployment.chip.cores_per_chip)


def disjoint_links(dep: Deployment, split: Split, axes: str) -> bool:
    """Whether the group over `axes` and the group over the other factors use disjoint
    torus links: a torus in one domain where the inner of the two is made of whole
    leading axes of the slice (ws2d's x = one axis of a 4x4x4, yz = the other two)."""
    topology = dep.topology
    if topology.chip.scale_up.topology != "torus" or topology.domains > 1:
        return False
    order = "xyz" if split.x_inner else "zyx"
    inner = split.size(order[:len(axes)]) if order.startswith(axes) else split.size(
        "".join(a for a in order if a not in axes))
    prefixes = {math.prod(topology.shape[:k]) for k in range(len(topology.shape) + 1)}
    return inner in prefixes and inner > 1
