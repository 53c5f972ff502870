"""The layout each phase runs with and why: the least-communication choice under
`auto` (or the deployment's own), the communication time of a layout over all layers,
and the one-line reason.

Imports units and deployment only (and the package's lower modules).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from inferplan.deployment import Deployment
from inferplan.partitioning.layouts import (
    CANDIDATES,
    GATHER_AXES,
    check_layout_name,
    feasible_layouts,
    layout_plan,
)
from inferplan.partitioning.plan import model_parallel_chips
from inferplan.partitioning.volumes import FloatArray, as_tokens
from inferplan.partitioning.ws2d import wg_split, ws2d_split
from inferplan.units import InferplanError

#: Step kinds a layout is chosen for (one compiled program per phase, as in the paper).
PHASES: tuple[str, ...] = ("prefill", "chunk", "decode", "verify", "mixed")


def layout_communication_time_s(deployment: Deployment, layout_name: str,
                                tokens: npt.ArrayLike,
                                link_efficiency: float = 1.0) -> FloatArray:
    """Seconds of tensor-parallel communication per step over all L layers (α–β, the
    collectives one after another), for `tokens` = B·q of the step per micro-batch.
    EP all-to-alls, pipeline sends and the logits gather are not included.

    'auto' takes, for each token count, the least time among the feasible layouts.
    megatron and ws1d give exactly `cost.communication_time_s`'s TP all-reduces and
    batch-sharded attention all-to-alls.
    """
    check_layout_name(layout_name)
    if layout_name == "auto":
        times = _candidate_times(deployment, tokens, link_efficiency)
        return np.asarray(np.minimum.reduce(list(times.values())), dtype=np.float64)
    return layout_plan(deployment, layout_name, tokens).time_s(link_efficiency)


@dataclass(frozen=True, eq=False)
class LayoutChoice:
    """The layout a phase runs with, its communication time per step, and every
    feasible candidate's time (for the explanation)."""

    phase: str
    name: str
    time_s: FloatArray
    times_s: dict[str, FloatArray] = field(default_factory=dict)
    explicit: bool = False


def choose_layout(deployment: Deployment, phase: str, tokens: npt.ArrayLike,
                  link_efficiency: float = 1.0) -> LayoutChoice:
    """The layout of `phase` ('prefill', 'chunk', 'decode', 'verify', 'mixed') for steps
    of `tokens`: the deployment's own when it names one, else (layout 'auto') the
    feasible candidate with the least communication time summed over the given token
    counts. One layout per phase, as the paper compiles one program for prefill and one
    for decode; pass a single token count for the per-step choice.

    PaLM 540B bf16, TPU v4 4x4x4: decode at B = 64 → ws2d; prefill of 512 × 2048
    tokens → a weight-gathered layout.
    """
    if phase not in PHASES:
        raise InferplanError("phase", phase, f"allowed: {', '.join(PHASES)}")
    T = as_tokens(tokens)
    named = deployment.layout.layout
    check_layout_name(named)
    times = _candidate_times(deployment, T, link_efficiency)
    if named != "auto":
        if named not in times:
            times[named] = layout_communication_time_s(deployment, named, T, link_efficiency)
        return LayoutChoice(phase, named, times[named], times, explicit=True)
    best = min(times, key=lambda name: (float(np.sum(times[name])), CANDIDATES.index(name)))
    return LayoutChoice(phase, best, times[best], times)


def layout_reason(deployment: Deployment, phase: str, tokens: npt.ArrayLike,
                  link_efficiency: float = 1.0) -> str:
    """One line saying which layout `phase` runs at `tokens` (one count) and why, e.g.
    "decode at 64 tokens: ws2d (E/X and F/YZ slices over X=4, YZ=16) 1.9 ms per step vs
    ws1d 3.1 ms, wg_x 120 ms, ...".
    """
    T = as_tokens(tokens)
    if T.size != 1:
        raise InferplanError("tokens", tokens, "one token count for a reason")
    choice = choose_layout(deployment, phase, T, link_efficiency)
    how = _layout_summary(deployment, choice.name)
    t = float(np.sum(choice.time_s))
    others = sorted(((float(np.sum(v)), k) for k, v in choice.times_s.items()
                     if k != choice.name))
    vs = ", ".join(f"{k} {_ms(v)}" for v, k in others)
    why = "as the deployment names it" if choice.explicit else "the least communication"
    count = float(T.reshape(-1)[0])
    shown = f"{count:,.0f}" if count.is_integer() else f"{count:g}"
    line = f"{phase} at {shown} tokens: {choice.name} ({how}) {_ms(t)} per step, {why}"
    return f"{line}; vs {vs}" if vs else line


def _candidate_times(dep: Deployment, tokens: npt.ArrayLike,
                     link_efficiency: float) -> dict[str, FloatArray]:
    T = as_tokens(tokens)
    return {name: layout_plan(dep, name, T).time_s(link_efficiency)
            for name in feasible_layouts(dep)}


def _layout_summary(dep: Deployment, layout: str) -> str:
    n = model_parallel_chips(dep)
    if n == 1:
        return "one chip, no communication"
    if layout in ("megatron", "ws1d"):
        return f"T·E activations gathered and reduced over all {n} chips"
    split = ws2d_split(dep) if layout == "ws2d" else wg_split(dep)
    if layout == "ws2d" and split is not None:
        return (f"activations over 2 axes: E/X and F/YZ slices with X={split.x}, "
                f"YZ={n // split.x}")
    if split is not None and layout in GATHER_AXES:
        N = split.size(GATHER_AXES[layout])
        return f"weights all-gathered over {N} chips, batch split {N} ways"
    return layout


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3g} ms"
