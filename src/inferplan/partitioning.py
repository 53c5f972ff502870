"""Per-step communication of the partitionings of Pope et al. (2022), "Efficiently
Scaling Transformer Inference" (MLSys 2023), so that `cost` can charge the layout a
deployment names (`parallelism.layout`).

Notation (the paper's, Section 3.1): T = B·L tokens in the step (per replica, per
pipeline micro-batch, as `cost` counts them), E = D the model dimension, F the FFN
width, N query heads, K KV heads, H head dim, n the chips of one model-parallel
group (tp chips). A tensor BLE_xyz has E split over the chips of axes x, y, z;
partialsum-x means "summed locally, still to be reduced over x".

The layouts, per layer (Section 3.2, Appendix A.2):

- megatron (Shoeybi et al.): weights E F_xyz; per block an all-reduce(xyz) of T·E.
- ws1d: weights E F_xyz; per block all-gather(xyz) of the T·E input and
  reduce-scatter(xyz) of the T·E output: Megatron's time.
- ws2d: weights E_x F_yz; per block all-gather(yz) of T·E/X in, reduce-scatter(x) of
  the partialsum-x hidden (T·F/YZ per matrix), all-gather(x) of the hidden for the
  out-projection, reduce-scatter(yz) of T·E/X out.
- wg_x, wg_xy, wg_xyz: weights stored E_x F_yz, all-gathered over the N chips of x,
  xy or xyz (W·N/n per chip); activations batch-sharded N ways and 1D
  weight-stationary over the other n/N chips: all-gather + reduce-scatter of T·E/N.

Attention (Section 3.3): query heads are split like the FFN's F (over all n, over yz,
or over the n/N chips left by a weight gather). Where the layout's head group is
larger than K and the deployment shards attention by batch (`Layout.attention_mode`
'batch', the paper's multi-query layout), the queries go from head- to batch-sharding
and the outputs back: two all-to-alls of T·N·H/n per chip per layer.

The paper's closed forms (FFN only, two matrices, (p−1)/p dropped) are the `*_ffn_*`
functions below; the deployment-level plan generalises them to gated FFNs (three
matrices: the gate and up partial sums are both reduced), the attention projections
(Q and K/V widths join the partialsum-x hidden, O's input joins the gathered hidden),
sequential vs parallel blocks, dtypes, and exact group sizes, and times each
collective with `inferplan.collectives` on the deployment's topology.

Mapping onto the topology (`Split`): n = X·Y·Z, the factors laid on the slice axes in
order (x first, or z first), so that x, yz, xy and z are groups `place_group` can
place; on a 4x4x4 TPU v4 the paper's X = 4 is one axis and YZ = 16 the other two. The
two collectives of one looped collective einsum (Section 3.5: the in-projection's
all-gather over yz with its reduce-scatter over x; the out-projection's all-gather over
x with its reduce-scatter over yz) run at once when their groups use disjoint torus
links, so that stage costs the longer of the two; on a switch, or where the groups
share an axis, they add up. This is what lets 2D beat 1D on a torus, where a 1D
collective over all three axes already gets three axes' bandwidth.

What is left out: the KV cache's resharding between a prefill layout and a decode
layout, the transient memory of gathered weights, and overlap with compute (`cost`
decides what is exposed).

Imports units, models, hardware, collectives, parallel and deployment only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

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
from inferplan.parallel import LAYOUTS
from inferplan.units import InferplanError, dtype_bytes

FloatArray = npt.NDArray[np.float64]
Collective = Literal["all_gather", "reduce_scatter", "all_reduce", "all_to_all"]

#: Layouts `auto` chooses among, in order of preference on a tie. Megatron moves the same
#: volume as ws1d in half the calls (2 all-reduces per layer, not 2 all-gathers and 2
#: reduce-scatters), so it wins wherever a call has a fixed cost (every engine on NVLink).
CANDIDATES: tuple[str, ...] = ("ws1d", "ws2d", "wg_x", "wg_xy", "wg_xyz", "megatron")
#: Step kinds a layout is chosen for (one compiled program per phase, as in the paper).
PHASES: tuple[str, ...] = ("prefill", "chunk", "decode", "verify", "mixed")
#: The axes whose chips gather the weights in each weight-gathered layout.
GATHER_AXES: dict[str, str] = {"wg_x": "x", "wg_xy": "xy", "wg_xyz": "xyz"}


# ============================================================ the paper's closed forms
def ws1d_ffn_volume_elements(tokens: npt.ArrayLike, E: int) -> FloatArray:
    """1D weight-stationary feed-forward layer (Section 3.2.1): each chip all-gathers
    the B·L·E input and reduce-scatters the B·L·E output over all n chips:
        volume = 2·T·E elements per chip per layer, flat in n.

    PaLM 540B (E = 18432), T = 64 decode tokens: 2·64·18432 = 2,359,296 elements.
    """
    T = _tokens(tokens)
    return np.asarray(2.0 * T * E, dtype=np.float64)


def ws2d_ffn_volume_elements(tokens: npt.ArrayLike, E: int, F: int, X: int,
                             n: int) -> FloatArray:
    """2D weight-stationary feed-forward layer (Section 3.2.2, Appendix A.2.1), weights
    E_x F_yz with X·YZ = n: all-gather(yz) of T·E/X in and reduce-scatter(yz) of T·E/X
    out, reduce-scatter(x) of the T·F/YZ hidden and all-gather(x) of it back:
        volume = 2·T·(E/X + F·X/n) elements per chip per layer.

    E = 16384, F = 65536, n = 64, X = 4 (the paper's Figure 3 case), T = 1:
    2·(4096 + 4096) = 16,384 = 8·E/√n.
    """
    _positive("X", X)
    _positive("n", n)
    T = _tokens(tokens)
    return np.asarray(2.0 * T * (E / X + F * X / n), dtype=np.float64)


def ws2d_optimal_x(E: int, F: int, n: int) -> float:
    """The X minimising `ws2d_ffn_volume_elements` (Appendix A.2.1): X = √(n·E/F).

    F = 4E, n = 64: X = √16 = 4, YZ = 16 (the paper's 4x4x4 split: X = ½√n).
    """
    _positive("n", n)
    return math.sqrt(n * E / F)


def ws2d_min_ffn_volume_elements(tokens: npt.ArrayLike, E: int, F: int,
                                 n: int) -> FloatArray:
    """2D weight-stationary volume at the best X (Section 3.2.2):
        volume = 4·T·√(E·F/n) elements per chip per layer (= 8·T·E/√n at F = 4E).

    It falls as 1/√n; it beats the 1D layout's 2·T·E when n > 4·F/E (n > 16 at F = 4E).
    PaLM 540B (E = 18432, F = 73728), n = 64, T = 1: 4·√(18432·73728/64) = 18,432.
    """
    _positive("n", n)
    T = _tokens(tokens)
    return np.asarray(4.0 * T * math.sqrt(E * F / n), dtype=np.float64)


def weight_gathered_ffn_volume_elements(tokens: npt.ArrayLike, E: int, F: int, N: int,
                                        n: int) -> FloatArray:
    """Weight-gathered feed-forward layer (Section 3.2.3, Appendix A.2.2): the two E·F
    matrices stored E_x F_yz are all-gathered over N of the n chips (N = X, XY or
    XYZ), each chip ending with E·F·N/n of each; the activations, batch-sharded N ways,
    are all-gathered and reduce-scattered over the other n/N chips:
        volume = 2·E·F·N/n + 2·T·E/N elements per chip per layer.

    The weight term does not grow with the batch. E = 16384, F = 65536, n = 64, N = 4
    (X-weight-gathered), T = 16384: 2·16384·65536·4/64 + 2·16384·16384/4
    = 134,217,728 + 134,217,728 = 268,435,456 (= the 2D layout's at T = E).
    """
    _positive("N", N)
    _positive("n", n)
    T = _tokens(tokens)
    return np.asarray(2.0 * E * F * N / n + 2.0 * T * E / N, dtype=np.float64)


def weight_gathered_optimal_n(tokens: npt.ArrayLike, F: int, n: int) -> FloatArray:
    """The N minimising `weight_gathered_ffn_volume_elements` (Appendix A.2.2):
    N = √(T·n/F).

    n = 64, F = 65536: T = 65,536 → N = 8; T = 1,048,576 (512 × 2048) → N = 32.
    """
    _positive("n", n)
    T = _tokens(tokens)
    return np.asarray(np.sqrt(T * n / F), dtype=np.float64)


def weight_gathered_min_ffn_volume_elements(tokens: npt.ArrayLike, E: int, F: int,
                                            n: int) -> FloatArray:
    """Weight-gathered volume at the best N (Appendix A.2.2):
        volume = 4·E·√(T·F/n) elements per chip per layer, growing only as √T.

    E = 16384, F = 65536, n = 64, T = 65,536: 4·16384·√(65536·65536/64) = 536,870,912.
    """
    _positive("n", n)
    T = _tokens(tokens)
    return np.asarray(4.0 * E * np.sqrt(T * F / n), dtype=np.float64)


def ws2d_weight_gathered_crossover_tokens(E: int, weight_bytes: float = 2.0,
                                          activation_bytes: float = 2.0) -> float:
    """Tokens at which X-weight-gathering ties 2D weight-stationary with the same X.

    With the same split, both move T·E/X over yz-sized groups, so the tie is between
    the hidden 2·T·F·X/n (activations) and the weights 2·E·F·X/n: in bytes
    T·b_act = E·b_w, T* = E·b_w/b_act, independent of n and F. Beyond it the weights
    are cheaper to move than the activations; at the continuous optima too
    (4·T·√(EF/n) = 4·E·√(TF/n) ⇔ T = E).

    PaLM 540B bf16: T* = 18,432 tokens (9 sequences of 2048); int8 weights: 9,216.
    """
    _positive("E", E)
    return E * weight_bytes / activation_bytes


def attention_all_to_all_bytes(tokens: npt.ArrayLike, num_heads: int, head_dim: int,
                               shards: int, activation_bytes: float) -> FloatArray:
    """Bytes per chip of one all-to-all that moves the queries (or the attention
    outputs) between head-sharding and batch-sharding (Section 3.3, Figure 5b):
        V = T·N·H·b / shards.

    PaLM 540B (N = 48, H = 256), 64 chips, bf16, T = 64: 64·48·256·2/64 = 24,576 B.
    """
    _positive("shards", shards)
    T = _tokens(tokens)
    return np.asarray(T * num_heads * head_dim * activation_bytes / shards, dtype=np.float64)


# ============================================================ transfers and plans
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


# ============================================================ deployment-level plans
def model_parallel_chips(deployment: Deployment) -> int:
    """Chips in one tensor-parallel group: tp / cores per chip (≥ 1), as `cost` counts
    them; a group inside one chip (RNGD PEs) sends nothing over links."""
    return max(1, deployment.layout.tp // deployment.chip.cores_per_chip)


def layout_problem(deployment: Deployment, layout: str) -> str | None:
    """Why `layout` cannot run on `deployment`, or None when it can.

    megatron and ws1d run wherever the deployment does. ws2d and the weight-gathered
    layouts need a dense, non-MLA model (their volumes are written for Q/K/V/O and
    dense FFN matrices), one device per chip, and for ws2d a split X·YZ = n with
    1 < X < n, N divisible by YZ, that the topology can place.
    """
    _check_name(layout)
    if layout in ("auto", "megatron", "ws1d"):
        return None
    model, n = deployment.model, model_parallel_chips(deployment)
    if model.moe is not None or any(model.layer_moe):
        return f"{model.name} has expert layers; only megatron and ws1d are modelled for MoE"
    if model.mla is not None:
        return f"{model.name} uses MLA attention; only megatron and ws1d are modelled for it"
    if deployment.chip.cores_per_chip > 1:
        return (f"{deployment.chip.name} is built of cores; only megatron and ws1d are "
                "modelled on it")
    if n == 1:
        return None
    if layout == "ws2d" and ws2d_split(deployment) is None:
        return (f"no 2D split X·YZ = {n} with 1 < X < {n}, YZ dividing the {model.num_heads} "
                "heads, fits the topology")
    if layout.startswith("wg_"):
        split = _wg_split(deployment)
        rest = n // split.size(GATHER_AXES[layout])
        if model.num_heads % rest:
            return (f"the {rest} chips left after gathering over {GATHER_AXES[layout]} must "
                    f"divide the {model.num_heads} heads")
    return None


def feasible_layouts(deployment: Deployment) -> tuple[str, ...]:
    """The `CANDIDATES` that can run on `deployment` (ws1d always)."""
    return tuple(name for name in CANDIDATES if layout_problem(deployment, name) is None)


def ws2d_split(deployment: Deployment) -> Split | None:
    """The 2D weight-stationary split the deployment uses: among X·YZ = n with
    1 < X < n and YZ dividing the N query heads, both orders on the topology, the one
    with the least bandwidth time per token (the paper's X = √(n·E/F) when links are
    equal). YZ is split into Y and Z at the next torus axis, or as near √YZ as divides.
    None when no split exists (n < 4, or prime).

    PaLM 540B on a TPU v4 4x4x4: X = 4 (one axis of 4), Y = Z = 4.
    """
    chip = deployment.chip
    key = (deployment.model, chip.name, chip.interconnect, chip.scale_up, chip.scale_out,
           chip.cores_per_chip, deployment.topology.shape, deployment.layout,
           deployment.dtypes)
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


def layout_plan(deployment: Deployment, layout: str, tokens: npt.ArrayLike) -> LayoutPlan:
    """The per-layer collectives of `layout` ('megatron', 'ws1d', 'ws2d', 'wg_x',
    'wg_xy', 'wg_xyz') on `deployment` for a step of `tokens` (B·q per replica).

    LLaMA 3-70B bf16 on a TPU v5e 4x4 (tp = 16), ws1d, T = 32: per layer 2 all-gathers
    and 2 reduce-scatters of 32·8192·2 = 524,288 B, and (16 shards > 8 KV heads, batch-
    sharded attention) 2 all-to-alls of 32·64·128·2/16 = 32,768 B: volume 2,162,688 B.
    """
    _check_name(layout)
    if layout == "auto":
        raise InferplanError("layout", layout, "resolve 'auto' with choose_layout first")
    problem = layout_problem(deployment, layout)
    if problem is not None:
        raise InferplanError("parallelism.layout", layout, problem)
    T = _tokens(tokens)
    n = model_parallel_chips(deployment)
    layers = deployment.model.num_layers
    if n == 1:
        return LayoutPlan(layout, 1, layers, (), T)
    if layout in ("megatron", "ws1d"):
        return LayoutPlan(layout, n, layers, _ws1d_transfers(deployment, layout, T), T)
    if layout == "ws2d":
        split = ws2d_split(deployment)
        assert split is not None   # layout_problem checked it
        return LayoutPlan(layout, n, layers, _ws2d_transfers(deployment, split, T), T, split,
                          _disjoint(deployment, split, "x"))
    split = _wg_split(deployment)
    gathered = GATHER_AXES[layout]
    return LayoutPlan(layout, n, layers, _wg_transfers(deployment, split, gathered, T), T,
                      split, _disjoint(deployment, split, gathered))


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
    _check_name(layout_name)
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
    T = _tokens(tokens)
    named = deployment.layout.layout
    _check_name(named)
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
    T = _tokens(tokens)
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


# ============================================================ the layouts' transfers
def _ws1d_transfers(dep: Deployment, name: str, T: FloatArray) -> tuple[Transfer, ...]:
    """megatron: per block one all-reduce(xyz) of T·E; ws1d: all-gather(xyz) of the
    T·E input and reduce-scatter(xyz) of the T·E output (the same time). Plus the
    batch-sharded attention all-to-alls exactly as `cost.communication_time_s` has them."""
    model, layout = dep.model, dep.layout
    act = dtype_bytes(dep.dtypes.compute, "dtypes.compute")
    group = place_group(dep.topology, model_parallel_chips(dep))
    blocks = 1 if model.parallel_block else 2
    hidden = np.asarray(T * model.hidden_size * act, dtype=np.float64)
    out: list[Transfer] = []
    if name == "megatron":
        out.append(Transfer("block output all-reduce (T·E)", "all_reduce", "xyz", group,
                            hidden, blocks, 0))
    else:
        out.append(Transfer("block input all-gather (T·E)", "all_gather", "xyz", group,
                            hidden, blocks, 0))
        out.append(Transfer("block output reduce-scatter (T·E)", "reduce_scatter", "xyz",
                            group, hidden, blocks, 1))
    if layout.attention_mode(model) == "batch" and layout.kv_batch_shards(model) > 1:
        q = attention_all_to_all_bytes(T, model.num_heads, model.head_dim, layout.tp, act)
        out.append(Transfer("attention Q and output all-to-all (heads <-> batch)",
                            "all_to_all", "xyz", group, q, 2, 2))
    return tuple(out)


def _ws2d_transfers(dep: Deployment, split: Split, T: FloatArray) -> tuple[Transfer, ...]:
    """2D weight-stationary (Appendix A.2.1) with attention (Section 3.3):

    - all-gather(yz) of the T·E/X block input and reduce-scatter(yz) of the T·E/X
      partialsum-yz block output, once per block;
    - reduce-scatter(x) of the partialsum-x projections: T·(m·F + N·H)/YZ + T·2KH/k,
      with m = 2 matrices for a gated FFN (gate and up), k = min(K, YZ) KV-head shards;
    - all-gather(x) of the hidden feeding the out-projections: T·(F + N·H)/YZ;
    - batch-sharded attention with more yz chips than KV heads: two all-to-alls of
      T·N·H/n over yz.
    Parallel blocks fuse attention and FFN into one of each (PaLM). Stages: the in-
    projection einsum (AG yz with RS x), the attention all-to-alls, the out-projection
    einsum (AG x with RS yz).
    """
    model, layout = dep.model, dep.layout
    act = dtype_bytes(dep.dtypes.compute, "dtypes.compute")
    n, X = split.n, split.x
    YZ = n // X
    E, F, N, K, H = (model.hidden_size, model.intermediate_size, model.num_heads,
                     model.num_kv_heads, model.head_dim)
    x, yz = split.group(dep.topology, "x"), split.group(dep.topology, "yz")
    m = 2 if model.gated_mlp else 1
    edge = np.asarray(T * E / X * act, dtype=np.float64)
    attn_in = _f(T * (N * H / YZ + 2 * K * H / min(K, YZ)) * act)
    attn_out = _f(T * N * H / YZ * act)
    ffn_in = _f(T * m * F / YZ * act)
    ffn_out = _f(T * F / YZ * act)
    a2a: list[Transfer] = []
    if layout.attention_mode(model) == "batch" and YZ > K:
        q = attention_all_to_all_bytes(T, N, H, n, act)
        a2a.append(Transfer("attention Q and output all-to-all (heads <-> batch)",
                            "all_to_all", "yz", yz, q, 2, 1))
    if model.parallel_block:
        return (
            Transfer("block input all-gather (T·E/X)", "all_gather", "yz", yz, edge, 1, 0),
            Transfer("Q/K/V and FFN-in partial sums reduce-scatter (T·(mF+NH)/YZ + T·2KH/k)",
                     "reduce_scatter", "x", x, _f(attn_in + ffn_in), 1, 0),
            *a2a,
            Transfer("attention output and FFN hidden all-gather (T·(F+NH)/YZ)",
                     "all_gather", "x", x, _f(attn_out + ffn_out), 1, 2),
            Transfer("block output reduce-scatter (T·E/X)", "reduce_scatter", "yz", yz,
                     edge, 1, 2),
        )
    return (
        Transfer("attention input all-gather (T·E/X)", "all_gather", "yz", yz, edge, 1, 0),
        Transfer("Q/K/V partial sums reduce-scatter (T·NH/YZ + T·2KH/k)", "reduce_scatter",
                 "x", x, attn_in, 1, 0),
        *a2a,
        Transfer("attention output all-gather (T·NH/YZ)", "all_gather", "x", x, attn_out,
                 1, 2),
        Transfer("attention block reduce-scatter (T·E/X)", "reduce_scatter", "yz", yz, edge,
                 1, 2),
        Transfer("FFN input all-gather (T·E/X)", "all_gather", "yz", yz, edge, 1, 3),
        Transfer("FFN-in partial sums reduce-scatter (T·mF/YZ)", "reduce_scatter", "x", x,
                 ffn_in, 1, 3),
        Transfer("FFN hidden all-gather (T·F/YZ)", "all_gather", "x", x, ffn_out, 1, 4),
        Transfer("FFN block reduce-scatter (T·E/X)", "reduce_scatter", "yz", yz, edge, 1, 4),
    )


def _wg_transfers(dep: Deployment, split: Split, gathered: str,
                  T: FloatArray) -> tuple[Transfer, ...]:
    """Weight-gathered over the N chips of `gathered` (Appendix A.2.2): per block an
    all-gather of its weights, W·b_w·N/n per chip; the activations are batch-sharded
    N ways and 1D weight-stationary over the g = n/N chips left: all-gather and
    reduce-scatter of T·E/N per block, and the batch-sharded attention all-to-alls of
    T·N_heads·H/n when those chips outnumber the KV heads. XYZ-weight-gathered moves
    weights only. Stages per block: the weight gather with the input gather, then the
    output reduce-scatter (the attention all-to-alls between, in the attention block)."""
    model, layout = dep.model, dep.layout
    act = dtype_bytes(dep.dtypes.compute, "dtypes.compute")
    wb = dtype_bytes(dep.dtypes.weights, "dtypes.weights")
    n = split.n
    N = split.size(gathered)
    rest = "".join(a for a in "xyz" if a not in gathered)
    g = n // N
    wgroup = split.group(dep.topology, gathered)
    rgroup = split.group(dep.topology, rest) if g > 1 else None
    ones = np.ones_like(T)
    attn_w = _f(model.attention_params_per_layer * wb * N / n * ones)
    ffn_w = _f(model.dense_ffn_params * wb * N / n * ones)
    edge = np.asarray(T / N * model.hidden_size * act, dtype=np.float64)
    blocks: list[tuple[str, FloatArray, bool]] = (
        [("layer", _f(attn_w + ffn_w), True)] if model.parallel_block
        else [("attention", attn_w, True), ("FFN", ffn_w, False)])
    out: list[Transfer] = []
    stage = 0
    for name, weights, has_attention in blocks:
        out.append(Transfer(f"{name} weights all-gather over {gathered} (W·N/n)",
                            "all_gather", gathered, wgroup, weights, 1, stage))
        if rgroup is None:
            stage += 1
            continue
        out.append(Transfer(f"{name} input all-gather (T·E/N)", "all_gather", rest, rgroup,
                            edge, 1, stage))
        if (has_attention and layout.attention_mode(model) == "batch"
                and g > model.num_kv_heads):
            q = attention_all_to_all_bytes(T, model.num_heads, model.head_dim, n, act)
            out.append(Transfer("attention Q and output all-to-all (heads <-> batch)",
                                "all_to_all", rest, rgroup, q, 2, stage + 1))
        out.append(Transfer(f"{name} output reduce-scatter (T·E/N)", "reduce_scatter", rest,
                            rgroup, edge, 1, stage + 2))
        stage += 3
    return tuple(out)


# ============================================================ helpers
def _ws2d_time(dep: Deployment, split: Split, T: FloatArray) -> CollectiveTime:
    n = model_parallel_chips(dep)
    plan = LayoutPlan("ws2d", n, 1, _ws2d_transfers(dep, split, T), T, split,
                      _disjoint(dep, split, "x"))
    return plan.layer_time()


def _disjoint(dep: Deployment, split: Split, axes: str) -> bool:
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


def _wg_split(dep: Deployment) -> Split:
    """The stored layout the weight-gathered layouts start from: ws2d's split, as in
    the paper (weights E_x F_yz for prefill and decode alike), or all n chips as x when
    the group has no 2D split."""
    split = ws2d_split(dep)
    return split if split is not None else Split(model_parallel_chips(dep), 1, 1)


def _candidate_times(dep: Deployment, tokens: npt.ArrayLike,
                     link_efficiency: float) -> dict[str, FloatArray]:
    T = _tokens(tokens)
    return {name: layout_plan(dep, name, T).time_s(link_efficiency)
            for name in feasible_layouts(dep)}


def _layout_summary(dep: Deployment, layout: str) -> str:
    n = model_parallel_chips(dep)
    if n == 1:
        return "one chip, no communication"
    if layout in ("megatron", "ws1d"):
        return f"T·E activations gathered and reduced over all {n} chips"
    split = ws2d_split(dep) if layout == "ws2d" else _wg_split(dep)
    if layout == "ws2d" and split is not None:
        return (f"activations over 2 axes: E/X and F/YZ slices with X={split.x}, "
                f"YZ={n // split.x}")
    if split is not None and layout in GATHER_AXES:
        N = split.size(GATHER_AXES[layout])
        return f"weights all-gathered over {N} chips, batch split {N} ways"
    return layout


def _check_name(layout: str) -> None:
    if layout not in LAYOUTS:
        raise InferplanError("parallelism.layout", layout, f"allowed: {', '.join(LAYOUTS)}")


def _tokens(tokens: npt.ArrayLike) -> FloatArray:
    try:
        T = np.asarray(tokens, dtype=np.float64)
    except (TypeError, ValueError):
        raise InferplanError("tokens", tokens, "a number or array of token counts") from None
    if np.any(~np.isfinite(T)) or np.any(T < 0):
        raise InferplanError("tokens", tokens, "token counts must be finite and ≥ 0")
    return T


def _positive(name: str, value: float) -> None:
    if not value > 0:
        raise InferplanError(name, value, "must be > 0")


def _f(x: npt.ArrayLike) -> FloatArray:
    return np.asarray(x, dtype=np.float64)


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3g} ms"
