"""A layout's collectives as linear functions of the step's tokens, built once per
deployment and evaluated per step without building `Transfer`s again.

Every transfer of a layout moves β·T + w bytes per chip per call (T the step's tokens:
activations grow with T, a weight gather does not), and every collective of
`inferplan.collectives` is α–β: a bandwidth time linear in the bytes (rings, torus
axes and the k-axis torus forms are sums and maxima of shares of V, all proportional
to V ≥ 0) plus a latency that does not depend on them. So a transfer's bandwidth
time is s·T + c and its latency a constant, and a layer of stages one after the other
costs Σ (s·T + c) + Σ latency; a stage whose transfers run at once (`LayoutPlan.
concurrent`) costs the larger of them. `linear_plan` reads s, c and the latencies off
`layout_plan` at T = 0 and T = 1, so the numbers are the collectives' own formulas.

Imports units, collectives and deployment only (through the package's lower modules).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from inferplan.deployment import Deployment
from inferplan.partitioning.layouts import layout_plan
from inferplan.partitioning.plan import Collective
from inferplan.partitioning.volumes import FloatArray

#: The token counts a linear plan is read off at: T = 0 gives the fixed parts, T = 1
#: adds one token's worth.
_PROBE = np.asarray([0.0, 1.0])


@dataclass(frozen=True)
class LinearTransfer:
    """One transfer of a layout as a function of the step's tokens T: per call
    `bytes_per_token`·T + `fixed_bytes` bytes per chip; per layer (its `per_layer`
    calls) a bandwidth time `bandwidth_per_token_s`·T + `fixed_bandwidth_s` and a
    latency `latency_s`.

    Megatron on 8 H100s, LLaMA 3-70B bf16: the block all-reduce moves 16,384 B per token
    (8192 · 2 B), twice a layer.
    """

    what: str
    collective: Collective
    group_size: int
    per_layer: int
    stage: int
    bytes_per_token: float
    fixed_bytes: float
    bandwidth_per_token_s: float
    fixed_bandwidth_s: float
    latency_s: float

    def bytes_per_device(self, tokens: npt.ArrayLike) -> FloatArray:
        """V of one call at T tokens: β·T + w. 32 tokens of the all-reduce above: 524,288 B."""
        T = np.asarray(tokens, dtype=np.float64)
        return np.asarray(T * self.bytes_per_token + self.fixed_bytes, dtype=np.float64)

    def bandwidth_s(self, tokens: npt.ArrayLike) -> FloatArray:
        """Bandwidth seconds of the layer's `per_layer` calls at T tokens: s·T + c."""
        T = np.asarray(tokens, dtype=np.float64)
        return np.asarray(T * self.bandwidth_per_token_s + self.fixed_bandwidth_s,
                          dtype=np.float64)


@dataclass(frozen=True)
class LinearPlan:
    """A layout's per-layer collectives as functions of T (`LinearTransfer`), folded into
    one layer's bandwidth time `slope_s`·T + `fixed_s` + Σ_stages max_i(s_i·T + c_i)
    (`maxed`: stages whose transfers run at once and do not all scale with T) and one
    layer's latency `latency_s`; `launches` calls per step over the `layers` layers.

    Megatron, LLaMA 3-70B bf16 on 8 H100s (ring, 450 GB/s a direction, 1 µs a step): per
    token 2 all-reduces · 2·7/8·16,384 B / 4.5e11 B/s = 1.27e-7 s a layer, plus 2·14 µs.
    """

    layout: str
    chips: int
    layers: int
    concurrent: bool
    transfers: tuple[LinearTransfer, ...]
    slope_s: float
    fixed_s: float
    maxed: tuple[tuple[tuple[float, float], ...], ...]
    latency_s: float

    @property
    def launches(self) -> int:
        """Collective calls per step: layers · Σ per_layer (Megatron, 80 layers: 160)."""
        return self.layers * sum(t.per_layer for t in self.transfers)

    def layer_bandwidth_s(self, tokens: npt.ArrayLike) -> FloatArray:
        """Bandwidth seconds of one layer's collectives at T tokens (see the class)."""
        T = np.asarray(tokens, dtype=np.float64)
        total = T * self.slope_s + self.fixed_s
        for stage in self.maxed:
            total = total + np.maximum.reduce([T * s + c for s, c in stage])
        return np.asarray(total, dtype=np.float64)

    def time_s(self, tokens: npt.ArrayLike) -> FloatArray:
        """Seconds per step: `layers` × (one layer's bandwidth time + its latency), as
        `LayoutPlan.time_s`."""
        return np.asarray(self.layers * (self.layer_bandwidth_s(tokens) + self.latency_s),
                          dtype=np.float64)


def linear_plan(deployment: Deployment, layout: str,
                link_efficiency: float = 1.0) -> LinearPlan:
    """`layout_plan`'s collectives of `layout` on `deployment` as functions of the step's
    tokens, read off the plan at T = 0 and T = 1 with `link_efficiency` (see the module).
    `linear_plan(...).time_s(T)` equals `layout_plan(..., T).time_s(link_efficiency)` to
    rounding.

    Megatron, LLaMA 3-70B bf16 on 8 H100s: a step of 32 tokens costs 80 · (32 · 1.27e-7
    + 28e-6) = 2.57 ms.
    """
    plan = layout_plan(deployment, layout, _PROBE)
    transfers = []
    for tr in plan.transfers:
        v = _at_probe(tr.bytes_per_device)
        time = tr.time(link_efficiency)
        bw = _at_probe(time.bandwidth_s)
        transfers.append(LinearTransfer(
            tr.what, tr.collective, tr.group.size, tr.per_layer, tr.stage,
            float(v[1] - v[0]), float(v[0]), float(bw[1] - bw[0]), float(bw[0]),
            float(np.max(time.latency_s))))
    slope, fixed, latency = 0.0, 0.0, 0.0
    maxed: list[tuple[tuple[float, float], ...]] = []
    for stage in sorted({t.stage for t in transfers}):
        members = [t for t in transfers if t.stage == stage]
        if plan.concurrent and len(members) > 1:
            latency += max(t.latency_s for t in members)
            if all(t.fixed_bandwidth_s == 0.0 for t in members):
                slope += max(t.bandwidth_per_token_s for t in members)
            else:
                maxed.append(tuple((t.bandwidth_per_token_s, t.fixed_bandwidth_s)
                                   for t in members))
        else:
            for t in members:
                slope += t.bandwidth_per_token_s
                fixed += t.fixed_bandwidth_s
                latency += t.latency_s
    return LinearPlan(plan.layout, plan.chips, plan.layers, plan.concurrent,
                      tuple(transfers), slope, fixed, tuple(maxed), latency)


def _at_probe(values: npt.ArrayLike) -> FloatArray:
    """`values` at the probe's token counts: as they are where they have its shape (a
    transfer that grows with T), else broadcast to it (a weight gather's constant)."""
    a = np.asarray(values, dtype=np.float64)
    return a if a.shape == _PROBE.shape else np.broadcast_to(a, _PROBE.shape)
