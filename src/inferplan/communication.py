"""A step's collectives: the tensor-parallel group's (under the partitioning that runs),
the logits gather, the expert all-to-alls and the pipeline sends, each a bandwidth time
linear in the step's tokens plus a latency (`CommunicationPlan`, read once per
deployment), for one deployment or for rows of them (`deployment.DeploymentRows`: the
members' plans padded to one table and gathered per row, so many deployments' collectives
are one numpy pass).

`cost` adds this term to the step; nothing else prices a collective of a step.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from inferplan.collectives import (
    all_gather_time,
    all_to_all_time,
    place_group,
    placement_key,
    send_recv_time,
)
from inferplan.deployment import Deployment
from inferplan.efficiency import CacheKey, Efficiency
from inferplan.hardware import Topology
from inferplan.layout_plans import candidate_layouts, layout_linear_plan
from inferplan.models import ModelSpec
from inferplan.parallel import Layout
from inferplan.partitioning.linear import LinearPlan
from inferplan.partitioning.volumes import as_tokens
from inferplan.rows import DeploymentRows
from inferplan.units import InferplanError, activation_bytes, dtype_bytes

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
StrArray = npt.NDArray[np.str_]


def tensor_parallel_time_s(deployment: Deployment, tokens: npt.ArrayLike,
                           link_efficiency: float, per_collective_s: float = 0.0,
                           alpha_s: float | None = None, eff: Efficiency | None = None,
                           ) -> tuple[FloatArray, StrArray]:
    """Per-step collectives of the tensor-parallel group under `parallelism.layout`, and
    the layout that runs: the named one, or for 'auto' the feasible partitioning (Megatron
    or one of Pope et al.'s) with the least time at each token count
    (`inferplan.partitioning`). Each collective also pays `per_collective_s`; with an
    engine's per-call latency `alpha_s` a call costs its bandwidth time plus `alpha_s`
    instead of the link model's latency terms, and an all-reduce whose group size the
    engine's measured curve holds costs that curve's time (`Efficiency.allreduce_call_s`).
    The layouts' collectives are linear in the tokens (`partitioning.linear_plan`), read
    once per deployment (`communication_plan`) and evaluated for all layouts at once.

    Megatron on Qwen3-32B, tp=8 under TensorRT-LLM on H100, a decode step of 102 tokens
    (0.996 MiB of bf16 activations): 64 layers · 2 all-reduces · 25.9 µs = 3.32 ms.
    """
    T = as_tokens(tokens)
    time_s, names = communication_plan(deployment, link_efficiency).tensor_parallel(
        T, per_collective_s, alpha_s, eff)
    assert names is not None
    return time_s, names


@dataclass(frozen=True, eq=False)
class TransferTable:
    """The candidate layouts' transfers as (layout, transfer) arrays (`LinearTransfer`'s
    numbers; a layout with fewer transfers is padded with `per_layer` 0): what the
    engine's measured all-reduce curve prices call by call. Rows of plans add the rows'
    axes after these two.

    Megatron, LLaMA 3-70B bf16 on 8 H100s: one row, one transfer, per_layer 2,
    16,384 B per token, group 8, an all-reduce.
    """

    per_layer: FloatArray
    bytes_per_token: FloatArray
    fixed_bytes: FloatArray
    bandwidth_per_token_s: FloatArray
    fixed_bandwidth_s: FloatArray
    group_size: FloatArray
    all_reduce: BoolArray

    @staticmethod
    def of(plans: Sequence[LinearPlan]) -> TransferTable:
        """The table of one deployment's candidate layouts."""
        J, K = len(plans), max((len(p.transfers) for p in plans), default=0)
        cols: dict[str, Any] = {name: np.zeros((J, K)) for name in (
            "per_layer", "bytes_per_token", "fixed_bytes", "bandwidth_per_token_s",
            "fixed_bandwidth_s", "group_size")}
        cols["all_reduce"] = np.zeros((J, K), dtype=bool)
        for j, plan in enumerate(plans):
            for k, t in enumerate(plan.transfers):
                for name in ("per_layer", "bytes_per_token", "fixed_bytes",
                             "bandwidth_per_token_s", "fixed_bandwidth_s"):
                    cols[name][j, k] = getattr(t, name)
                cols["group_size"][j, k] = t.group_size
                cols["all_reduce"][j, k] = t.collective == "all_reduce"
        return TransferTable(**cols)


def _lead(a: npt.NDArray[Any], lead: int, ndim: int) -> npt.NDArray[Any]:
    """`a` (`lead` table axes, then the rows' axes) shaped to broadcast against an array
    of `ndim` axes: a single plan's (J,) against T of shape (B, C) becomes (J, 1, 1);
    rows' (J, R, 1) against (R, C) stays."""
    extra = ndim - (a.ndim - lead)
    return a.reshape(a.shape + (1,) * extra) if extra > 0 else a


@dataclass(frozen=True, eq=False)
class CommunicationPlan:
    """A deployment's collectives per step as linear functions of the step's tokens T
    (and of the logit tokens), read off the collectives' formulas once
    (`communication_plan`): each candidate tensor-parallel layout (`LinearPlan`), the
    logits all-gather over the tp group, the expert-parallel all-to-alls and the pipeline
    sends, each a bandwidth time per token plus a latency.

    The per-layout numbers are arrays over the candidates (J,); a plan of rows of
    deployments (`communication_plan` of rows) adds the rows' axes (J, *rows), pads
    members with fewer candidates (`valid` false), and holds its scalars as per-row
    arrays.

    LLaMA 3-70B bf16, tp=8 on H100 (ring, 450 GB/s, 1 µs a step): the fp32 logits gather
    costs 7/8 · 128,256 · 4 B / 4.5e11 B/s = 9.98e-7 s per logit token plus 7 µs.
    """

    tp_chips: int | FloatArray        # per row for rows
    names: StrArray
    slope_s: FloatArray               # per layout: one layer's bandwidth s per token
    fixed_s: FloatArray               # per layout: one layer's fixed bandwidth s
    latency_s: FloatArray             # per layout: one layer's latency
    layers: FloatArray
    launches: FloatArray
    concurrent: BoolArray             # per layout: its stages' transfers run at once
    #: the layouts' transfers (rows: the members' side by side, (J, K, members), read
    #: per row through `rows_index` when a measured curve prices them)
    transfer_table: TransferTable
    rows_index: npt.NDArray[np.intp] | None = None
    #: (layout slot, plan, its rows or None for all): layouts with stages of transfers
    #: that run at once and do not all scale with T (`LinearPlan.maxed`)
    maxed: tuple[tuple[int, LinearPlan, BoolArray | None], ...] = ()
    valid: BoolArray | None = None    # rows: which (layout, row) slots hold a layout
    logits_per_token_s: float | FloatArray = 0.0
    logits_latency_s: float | FloatArray = 0.0
    ep_calls: int | FloatArray = 0                 # expert all-to-alls per step (2 per MoE layer)
    ep_per_token_s: float | FloatArray = 0.0
    ep_latency_s: float | FloatArray = 0.0
    pp_sends: int | FloatArray = 0                 # pipeline sends per step (pp − 1)
    pp_per_token_s: float | FloatArray = 0.0
    pp_latency_s: float | FloatArray = 0.0

    def tensor_parallel(self, T: FloatArray, per_collective_s: float, alpha_s: Any,
                        eff: Efficiency | None, names: bool = True
                        ) -> tuple[FloatArray, StrArray | None]:
        """`tensor_parallel_time_s` at tokens T (validated): every layout's time, the least
        and its name per token count (the first of `CANDIDATES` on a tie; None when
        `names` is false: the time alone). Rows of deployments that repeat one another
        are priced once by `communication` (`_distinct_rows`), before they get here."""
        layers, launches = _lead(self.layers, 1, T.ndim), _lead(self.launches, 1, T.ndim)
        bandwidth = self._layer_bandwidth_s(T)
        if alpha_s is not None and eff is not None and eff.allreduce_curve_s:
            times = np.where(_lead(self.concurrent, 1, T.ndim),
                             layers * bandwidth + (alpha_s + per_collective_s) * launches,
                             self._with_curve(T, per_collective_s, alpha_s, eff))
        elif alpha_s is None:
            times = layers * (bandwidth + _lead(self.latency_s, 1, T.ndim)) \
                + per_collective_s * launches
        else:
            times = layers * bandwidth + (alpha_s + per_collective_s) * launches
        if self.valid is not None:
            times = np.where(_lead(self.valid, 1, T.ndim), times, np.inf)
        return self._least(np.asarray(times, dtype=np.float64), T, names)

    def _layer_bandwidth_s(self, T: FloatArray) -> FloatArray:
        """Each layout's one-layer bandwidth time at T: s·T + c, and for a layout with
        concurrent stages its `LinearPlan.layer_bandwidth_s`."""
        bandwidth = np.asarray(T * _lead(self.slope_s, 1, T.ndim)
                               + _lead(self.fixed_s, 1, T.ndim), dtype=np.float64)
        for j, plan, rows in self.maxed:
            if rows is None:
                bandwidth[j] = plan.layer_bandwidth_s(T)
            else:
                where = np.broadcast_to(rows, bandwidth.shape[1:])
                bandwidth[j][where] = plan.layer_bandwidth_s(
                    np.broadcast_to(T, bandwidth.shape[1:])[where])
        return bandwidth

    def _with_curve(self, T: FloatArray, per_collective_s: float, alpha_s: Any,
                    eff: Efficiency) -> FloatArray:
        """Layouts priced call by call, all-reduces from the engine's measured curve:
        layers · Σ_transfers per_layer · (call + per_collective_s), call the curve's time
        of the call's bytes, else its bandwidth time plus `alpha_s`. Every (layout,
        transfer) slot some member uses is priced at once; each layout's transfers are
        summed in order."""
        n, table, index = T.ndim, self.transfer_table, self.rows_index
        used = table.per_layer > 0
        js, ks = np.nonzero(used if index is None else used.any(axis=2))

        def at(name: str) -> npt.NDArray[Any]:
            values: npt.NDArray[Any] = getattr(table, name)[js, ks]
            return _lead(values if index is None else values[:, index], 1, n)
        per_layer = at("per_layer")
        with np.errstate(divide="ignore", invalid="ignore"):
            call = np.asarray((T * at("bandwidth_per_token_s") + at("fixed_bandwidth_s"))
                              / per_layer + alpha_s, dtype=np.float64)
        measured = np.nonzero(np.broadcast_to(at("all_reduce") & (per_layer > 0), call.shape))
        if measured[0].size:
            a, rows = measured[0], measured[1:]
            cell = np.broadcast_to(T, call.shape[1:])[rows]
            slot = (js[a], ks[a]) if index is None else (
                js[a], ks[a], np.broadcast_to(_lead(index, 0, n), call.shape[1:])[rows])
            message = cell * table.bytes_per_token[slot] + table.fixed_bytes[slot]
            group = table.group_size[slot]
            for g in np.unique(group):
                same = group == g
                curve = eff.allreduce_call_s(int(g), message[same])
                if curve is not None:
                    call[tuple(axis[same] for axis in measured)] = curve
        each = np.where(per_layer > 0, per_layer * (call + per_collective_s), 0.0)
        layer = np.zeros((table.per_layer.shape[0], *each.shape[1:]))
        for k in range(table.per_layer.shape[1]):
            at_k = ks == k
            layer[js[at_k]] = layer[js[at_k]] + each[at_k]
        return np.asarray(_lead(self.layers, 1, n) * layer, dtype=np.float64)

    def _least(self, times: FloatArray, T: FloatArray, names: bool = True
               ) -> tuple[FloatArray, StrArray | None]:
        """The least time over the layouts and its layout's name (the first on a tie;
        None when `names` is false)."""
        if times.shape[0] == 1:
            return (np.asarray(times[0], dtype=np.float64),
                    np.asarray(np.broadcast_to(_lead(self.names, 1, T.ndim)[0],
                                               times.shape[1:])) if names else None)
        if times[0].size <= 64:
            best = np.min(times, axis=0)
            index = np.argmin(times, axis=0) if names else None
        else:
            # long arrays: a running minimum, row by row (the first layout wins a tie)
            best = times[0]
            index = np.zeros(times.shape[1:], dtype=np.intp) if names else None
            for j in range(1, times.shape[0]):
                better = times[j] < best
                best = np.where(better, times[j], best)
                if index is not None:
                    index[better] = j
        if index is None:
            return np.asarray(best, dtype=np.float64), None
        if self.names.ndim == 1:
            return np.asarray(best, dtype=np.float64), np.asarray(self.names[index])
        layouts = np.broadcast_to(_lead(self.names, 1, T.ndim), times.shape)
        return (np.asarray(best, dtype=np.float64),
                np.asarray(np.take_along_axis(layouts, index[None], axis=0)[0]))


def communication_plan(deployment: Deployment | DeploymentRows,
                       link_efficiency: Any) -> CommunicationPlan:
    """The deployment's `CommunicationPlan` at `link_efficiency`, built once per model,
    layout, compute and weight dtypes, chip links and slice shape (what its collectives
    depend on; a bounded cache) and shared by every deployment that has them. For rows
    of deployments, each member's plan at its link efficiency (`link_efficiency` per
    row, constant over a member's rows), gathered per row (`_gathered`).

    LLaMA 3-70B int8 on a TPU v5e 4x2, tp=8: six feasible layouts (ws1d, ws2d, wg_x,
    wg_xy, wg_xyz, megatron).
    """
    if isinstance(deployment, DeploymentRows):
        rows = deployment
        key = ("communication_plan", rows.member_values(link_efficiency).tobytes())
        return rows.per_rows(key, lambda: _gathered(_rows_stacked(rows, link_efficiency),
                                                    rows.index))
    return _communication_plan(_PlanKey(deployment, link_efficiency, full=True))


def _rows_stacked(rows: DeploymentRows, link_efficiency: Any) -> dict[str, Any]:
    """The members' plans at their link efficiencies (`link_efficiency` per row,
    `_member_plans`), side by side (`_stacked`): built once per members and links,
    shared by every slice of the rows (`DeploymentRows.once`)."""
    links = rows.member_values(link_efficiency)
    # the links' bytes, not a tuple of floats: NaN (a member without rows) is not
    # equal to itself, so a tuple holding one would never be found again
    key = ("communication_plan", links.tobytes())
    return rows.once(("stacked", key), lambda: _stacked(_Members(rows.once(
        key, lambda: _member_plans(rows, links)))))


def _member_plans(rows: DeploymentRows, links: FloatArray) -> tuple[CommunicationPlan, ...]:
    """Each member's plan at its link efficiency; a member without rows (NaN) takes the
    first other member's plan (no row reads it). Members share model, chip and engine
    (`DeploymentRows`), so members of one layout and slice object (`expand` builds one
    per slice and degrees: a family's KV dtypes), compute and weight dtypes (what
    `_PlanKey` reads of the dtypes) and link efficiency share a key, looked up once per
    rows' members (shared by every slice of them: `DeploymentRows.once`)."""
    built: dict[tuple[int, int, str, str, float], CommunicationPlan] = rows.once(
        "member_plans", dict)
    plans: list[CommunicationPlan | None] = []
    for m, link in zip(rows.members, links.tolist(), strict=True):
        if math.isnan(link):
            plans.append(None)
            continue
        same = (id(m.layout), id(m.topology), m.dtypes.compute, m.dtypes.weights, link)
        if same not in built:
            built[same] = _communication_plan(_PlanKey(m, link, True))
        plans.append(built[same])
    some = next(p for p in plans if p is not None)
    return tuple(some if p is None else p for p in plans)


@dataclass(frozen=True, eq=False)
class _Members:
    """A tuple of plans as a cache key (plans compare by identity)."""

    plans: tuple[CommunicationPlan, ...]

    def __hash__(self) -> int:
        return hash(tuple(id(p) for p in self.plans))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Members) and len(other.plans) == len(self.plans) and all(
            a is b for a, b in zip(self.plans, other.plans, strict=True))


@lru_cache(maxsize=256)
def _stacked(members: _Members) -> dict[str, Any]:
    """The members' plans side by side: per-layout arrays (J, n), transfer arrays
    (J, K, n), scalars (n,), padded to the most layouts and transfers. Each distinct
    plan is laid out once and gathered per member (a family's KV dtypes and replica
    counts share plans)."""
    plans = members.plans
    place: dict[int, int] = {}               # id(plan) -> its column among the distinct
    distinct: list[CommunicationPlan] = []
    for p in plans:
        if id(p) not in place:
            place[id(p)] = len(distinct)
            distinct.append(p)
    code = np.asarray([place[id(p)] for p in plans], dtype=np.intp)
    n = len(distinct)
    J = max(p.names.size for p in distinct)
    K = max(p.transfer_table.per_layer.shape[1] for p in distinct)
    width = max([8] + [p.names.dtype.itemsize // 4 for p in distinct if p.names.size])
    out: dict[str, Any] = {"valid": np.zeros((J, n), dtype=bool),
                           "names": np.full((J, n), "", dtype=f"<U{width}")}
    for name in ("slope_s", "fixed_s", "latency_s", "launches"):
        out[name] = np.zeros((J, n))
    out["layers"] = np.ones((J, n))
    out["concurrent"] = np.zeros((J, n), dtype=bool)
    table = {name: np.zeros((J, K, n), dtype=bool if name == "all_reduce" else np.float64)
             for name in TransferTable.__dataclass_fields__}
    for i, p in enumerate(distinct):
        j = p.names.size
        out["valid"][:j, i] = True
        for name in ("names", "slope_s", "fixed_s", "latency_s", "launches", "layers",
                     "concurrent"):
            out[name][:j, i] = getattr(p, name)
        k = p.transfer_table.per_layer.shape[1]
        for name in table:
            table[name][:j, :k, i] = getattr(p.transfer_table, name)
    for name in ("valid", "names", "slope_s", "fixed_s", "latency_s", "launches", "layers",
                 "concurrent"):
        out[name] = out[name][:, code]
    out["transfers"] = TransferTable(**{name: a[:, :, code] for name, a in table.items()})
    out["code"] = code
    out["maxed"] = [(slot, plan, i) for i, p in enumerate(plans) for slot, plan, _ in p.maxed]
    for name in ("tp_chips", "logits_per_token_s", "logits_latency_s", "ep_calls",
                 "ep_per_token_s", "ep_latency_s", "pp_sends", "pp_per_token_s",
                 "pp_latency_s"):
        out[name] = np.asarray([getattr(p, name) for p in distinct], dtype=np.float64)[code]
    return out


def _gathered(s: dict[str, Any], index: npt.NDArray[np.intp]) -> CommunicationPlan:
    """One plan for rows of deployments: of stacked plans (`_stacked`), member m's at
    every row whose `index` is m. The per-layout arrays become (J, *index.shape), padded
    (`valid`) to the most candidates of any member; the scalars per row. Plans of 2 and
    6 candidates over rows [[0], [1]]: slopes of shape (6, 2, 1), the first member's last
    four invalid."""
    return CommunicationPlan(
        tp_chips=s["tp_chips"][index], names=s["names"][:, index],
        slope_s=s["slope_s"][:, index], fixed_s=s["fixed_s"][:, index],
        latency_s=s["latency_s"][:, index], layers=s["layers"][:, index],
        launches=s["launches"][:, index], concurrent=s["concurrent"][:, index],
        transfer_table=s["transfers"], rows_index=index,
        maxed=tuple((slot, plan, np.asarray(index == i)) for slot, plan, i in s["maxed"]),
        valid=s["valid"][:, index],
        **{k: s[k][index] for k in ("logits_per_token_s", "logits_latency_s", "ep_calls",
                                    "ep_per_token_s", "ep_latency_s", "pp_sends",
                                    "pp_per_token_s", "pp_latency_s")})


def slice_key(topology: Topology, full: bool) -> object:
    """What a step's collectives read of the slice beyond its chip: where its groups sit
    (`collectives.placement_key`: the shape on a torus, else nothing) and, for the full
    plan, whether the slice spans several scale-up domains, which the pipeline sends
    cross. 4, 8 or 16 H100s: the layouts None; the full plan (None, False), (None, False),
    (None, True). A TPU v5e 4x4: ((4, 4), False)."""
    where = placement_key(topology)
    return (where, topology.domains > 1) if full else where


class _PlanKey(CacheKey):
    """A deployment's hashable identity for its collectives (`key`), carrying the
    deployment a plan is built from: model and chip (by identity, as `layout_plans`
    keys hold them: the key carries the deployment, so their ids are not reused while
    it is cached), degrees, partitioning, the DP-attention ranks and the engine's
    `moe_exchange` (their transfers replace the layout's), the compute and weight
    dtypes, the slice as far as the collectives read it (`slice_key`) and the link
    efficiency. `full=False` leaves out what only the pipeline, expert and logits
    collectives read (pp, ep); no collective reads dp, so deployments that differ only in
    replicas share a plan."""

    __slots__ = ("_hash", "deployment", "full", "key", "link_efficiency")

    def __init__(self, deployment: Deployment, link_efficiency: float, full: bool) -> None:
        chip, lay = deployment.chip, deployment.layout
        degrees = (lay.tp, lay.pp, lay.ep) if full else (lay.tp,)
        self.deployment, self.link_efficiency, self.full = deployment, link_efficiency, full
        self.key = (id(deployment.model), degrees, lay.layout, lay.attention,
                    lay.attention_dp, deployment.engine.scheduler.moe_exchange,
                    deployment.dtypes.compute, deployment.dtypes.weights,
                    id(chip), slice_key(deployment.topology, full), link_efficiency)
        self._hash = hash(self.key)


@lru_cache(maxsize=4096)
def _tensor_parallel_part(key: _PlanKey) -> dict[str, Any]:
    """The tp group's part of a plan (`full=False` key): its candidate layouts (the named
    one, or every feasible one under auto) as linear plans (`layout_plans`, each shared
    by the deployments it does not tell apart), their arrays and transfer table, and the
    logits all-gather over the group."""
    dep, eff = key.deployment, key.link_efficiency
    plans = tuple(layout_linear_plan(dep, name, eff) for name in candidate_layouts(dep))
    gather = all_gather_time(place_group(dep.topology, max(1, dep.layout.tp
                                                           // dep.chip.cores_per_chip)),
                             np.ones(()) * dep.model.vocab_size * 4.0, eff)

    def column(values: list[float]) -> FloatArray:
        return np.asarray(values, dtype=np.float64)

    return dict(
        names=np.array([p.layout for p in plans]),
        slope_s=column([p.slope_s for p in plans]), fixed_s=column([p.fixed_s for p in plans]),
        latency_s=column([p.latency_s for p in plans]),
        layers=column([float(p.layers) for p in plans]),
        launches=column([float(p.launches) for p in plans]),
        concurrent=np.asarray([p.concurrent for p in plans], dtype=bool),
        transfer_table=TransferTable.of(plans),
        maxed=tuple((j, p, None) for j, p in enumerate(plans) if p.maxed),
        logits_per_token_s=float(gather.bandwidth_s), logits_latency_s=float(gather.latency_s))


_NO_LAYOUTS: dict[str, Any] = dict(
    names=np.array([], dtype="<U8"), slope_s=np.zeros(0), fixed_s=np.zeros(0),
    latency_s=np.zeros(0), layers=np.zeros(0), launches=np.zeros(0),
    concurrent=np.zeros(0, dtype=bool), transfer_table=TransferTable.of(()))


# Bounds that hold a fleet search's distinct keys (benchmarks/bench_search.py's 139,968
# deployments have 7,476 plans, 1,116 tp parts, 4,359 linear plans), so a search walking
# them in order does not evict what the next search in the process needs.
@lru_cache(maxsize=16384)
def _communication_plan(key: _PlanKey) -> CommunicationPlan:
    dep, eff = key.deployment, key.link_efficiency
    model, layout = dep.model, dep.layout
    act = activation_bytes(dep.dtypes.compute)
    cores = dep.chip.cores_per_chip
    tp_chips = max(1, layout.tp // cores)
    one = np.ones(())
    parts: dict[str, Any] = dict(_NO_LAYOUTS)
    if tp_chips > 1:
        parts.update(_tensor_parallel_part(_PlanKey(dep, eff, full=False)))
    share = expert_all_to_all_share(model, layout, dep.engine.scheduler.moe_exchange)
    if share > 0 and layout.ep // cores > 1:
        ep_group = place_group(dep.topology, max(1, layout.ep // cores))
        # dispatch in the GEMM dtype, combine in 16 bits (DeepEP: "dispatch FP8, combine
        # BF16"): the two calls' mean element size
        element = (dtype_bytes(dep.dtypes.compute, "dtypes.compute") + act) / 2.0
        a2a = all_to_all_time(ep_group, ep_all_to_all_bytes(model, one * share, element), eff)
        parts.update(ep_calls=model.num_moe_layers * 2, ep_per_token_s=float(a2a.bandwidth_s),
                     ep_latency_s=float(a2a.latency_s))
    if layout.pp > 1:
        send = send_recv_time(dep.topology, one * model.hidden_size * act / layout.pp,
                              dep.topology.domains > 1, eff)
        parts.update(pp_sends=layout.pp - 1, pp_per_token_s=float(send.bandwidth_s),
                     pp_latency_s=float(send.latency_s))
    return CommunicationPlan(tp_chips=tp_chips, **parts)


def expert_all_to_all_share(model: ModelSpec, layout: Layout, exchange: str) -> float:
    """Share of a replica's step tokens each device sends through the expert all-to-alls
    (dispatch and combine); 0 where the experts' tokens arrive another way.

    - No attention DP, experts inside the tp group (ep ≤ tp, "TEP"): the attention's
      all-reduce leaves every token on every device; each runs its experts on the tokens
      routed to them and the block's output all-reduce (already priced) sums the partial
      outputs: 0 (TensorRT-LLM `Deepseekv3MoE`, SGLang's and vLLM's MoE without DP
      attention all-reduce the layer output).
    - Experts beyond the tp group (ep > tp, over replicas that hold different tokens): 1.
    - A attention-DP ranks, `moe_exchange: gather` (every engine's default): the ranks
      gather all tokens before the MoE (priced with the DP-attention transfers): 0.
    - ... `all_to_all` (DeepEP, pplx, MNNVL): each device holds its rank's T/A tokens: 1/A.

    DeepSeek-R1 tp 8 ep 8: 0; with A = 8 and all_to_all: 0.125; Mixtral tp 2 ep 4: 1.
    """
    if model.moe is None or layout.ep <= 1:
        return 0.0
    if layout.attention_dp > 1:
        return 1.0 / layout.attention_dp if exchange == "all_to_all" else 0.0
    return 1.0 if layout.ep > layout.tp else 0.0


def ep_all_to_all_bytes(model: ModelSpec, tokens: npt.ArrayLike,
                        activation_bytes: float) -> FloatArray:
    """Bytes per device of one expert-parallel all-to-all (dispatch, or combine): each
    device sends its replica's `tokens` top-k times, V = T·k·D·b (capacity factor 1).

    DeepSeek-V3 (D = 7168, k = 8), 64 decode tokens per replica, bf16:
    64·8·7168·2 = 7,340,032 B. `inferplan verify-sharding` checks it against the
    all-to-alls of a GShard-style layer in XLA's HLO.
    """
    if model.moe is None:
        raise InferplanError("model.moe", None, "expert all-to-alls need a MoE model")
    T = np.asarray(tokens, dtype=np.float64)
    return np.asarray(T * model.moe.experts_per_token * model.hidden_size * activation_bytes,
                      dtype=np.float64)


def communication_time_s(deployment: Deployment, tokens: npt.ArrayLike,
                         logit_tokens: npt.ArrayLike, link_efficiency: float,
                         per_collective_s: float = 0.0) -> FloatArray:
    """Collective seconds of one step on the critical path (see `communication`)."""
    return communication(deployment, tokens, logit_tokens, link_efficiency,
                         per_collective_s)[0]


def communication(deployment: Deployment | DeploymentRows, tokens: npt.ArrayLike,
                  logit_tokens: npt.ArrayLike, link_efficiency: Any,
                  per_collective_s: float = 0.0, eff: Efficiency | None = None,
                  ) -> tuple[FloatArray, StrArray]:
    """Collective time of one step of `tokens` (B·q summed over the step's sequences) on
    the critical path.

    The tensor-parallel group's collectives follow the layout (`tensor_parallel_time_s`;
    Megatron: per layer one all-reduce of the tokens·D activations after attention and
    one after the FFN, one in all for parallel blocks; batch-sharded attention adds two
    all-to-alls of the queries/outputs); expert parallelism two all-to-alls
    (dispatch, combine) of top-k token copies; the vocab-parallel logits of
    `logit_tokens` are gathered; pipeline stages pass the activations pp−1 times. On
    chips built of cores, a tp group inside one chip fuses cores and pays no link traffic.
    Each collective also pays `per_collective_s` (launch and synchronisation, realistic);
    an engine that states per-call latencies (`eff.collective_alpha_s`) prices the
    tensor-parallel calls as bandwidth time plus that latency. Every collective's bytes
    grow linearly with the tokens, so each is a bandwidth time per token plus a latency,
    read once per deployment (`communication_plan`). Rows of deployments: each row's
    own collectives (`link_efficiency` per row).
    Returns the seconds and the tensor-parallel layout that runs ('none' without one).
    """
    total, chosen = _communication(deployment, tokens, logit_tokens, link_efficiency,
                                   per_collective_s, eff, names=True)
    assert chosen is not None
    return total, chosen


def communication_s(deployment: Deployment | DeploymentRows, tokens: npt.ArrayLike,
                    logit_tokens: npt.ArrayLike, link_efficiency: Any,
                    per_collective_s: float = 0.0, eff: Efficiency | None = None
                    ) -> FloatArray:
    """`communication`'s seconds alone, the same numbers, without naming the layout that
    runs (a step's latency reads no name; rows of deployments: no string array per
    row)."""
    return _communication(deployment, tokens, logit_tokens, link_efficiency,
                          per_collective_s, eff, names=False)[0]


def _communication(deployment: Deployment | DeploymentRows, tokens: npt.ArrayLike,
                   logit_tokens: npt.ArrayLike, link_efficiency: Any,
                   per_collective_s: float, eff: Efficiency | None, names: bool
                   ) -> tuple[FloatArray, StrArray | None]:
    """`communication`; the layout's name only where `names`. Rows of deployments that
    run one member plan at the same tokens and logit tokens (a family's KV dtypes and
    replica counts at one batch) are priced once, on a plan of the distinct rows
    (`_distinct_rows`), and spread back."""
    T = np.asarray(tokens, dtype=np.float64)
    logits = np.asarray(logit_tokens, dtype=np.float64)
    if isinstance(deployment, DeploymentRows) and np.ndim(per_collective_s) == 0:
        stacked = _rows_stacked(deployment, link_efficiency)
        distinct = _distinct_rows(stacked["code"], deployment.index, T, logits)
        if distinct is not None:
            first, inverse = distinct
            total, chosen = _plan_communication(
                _gathered(stacked, deployment.index[first]), T[first], logits[first],
                per_collective_s, eff, names)
            return total[inverse], None if chosen is None else chosen[inverse]
    return _plan_communication(communication_plan(deployment, link_efficiency), T, logits,
                               per_collective_s, eff, names)


def _distinct_rows(code: npt.NDArray[np.intp], index: npt.NDArray[np.intp], T: FloatArray,
                   logits: FloatArray
                   ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]] | None:
    """For rows (R, 1) of members whose plans are `code` (each member's place among the
    distinct plans, `_stacked`), at tokens and logit tokens of R rows each (R, C): the
    first row of each run of rows equal in plan and every column, in the order of plan
    and first token column, and each row's run; None when the rows are not laid out so
    or fewer than half of them repeat another (nothing to gain). Rows of members
    (plans) [0, 1, 0, 0] at tokens [8, 8, 8, 8]: first rows [0, 1], runs [0, 1, 0, 0];
    [0, 1, 0] (two runs of three rows): None."""
    R = index.shape[0] if index.ndim == 2 and index.shape[1] == 1 else 0
    if (R == 0 or T.ndim != 2 or logits.ndim != 2 or T.shape[0] != R
            or logits.shape[0] != R):
        return None
    plan = code[index[:, 0]]
    order = np.lexsort((T[:, 0], plan))
    new = np.empty(R, dtype=bool)
    new[:1] = True
    plans = plan[order]
    new[1:] = plans[1:] != plans[:-1]
    for values in (T, logits):
        ranked = values[order]
        new[1:] |= np.any(ranked[1:] != ranked[:-1], axis=1)
    runs = np.cumsum(new) - 1
    if 2 * (int(runs[-1]) + 1) > R:
        return None
    inverse = np.empty(R, dtype=np.intp)
    inverse[order] = runs
    return order[new], inverse


def _plan_communication(plan: CommunicationPlan, T: FloatArray, logits: FloatArray,
                        per_collective_s: float, eff: Efficiency | None, names: bool
                        ) -> tuple[FloatArray, StrArray | None]:
    """`_communication` on a plan (one deployment's, or rows' gathered per row) at
    tokens T and logit tokens."""
    total = np.zeros_like(T)
    chosen = np.asarray(np.full(np.shape(T), "none")) if names else None
    grouped = np.asarray(plan.tp_chips) > 1
    if grouped.any():
        alpha = None if eff is None else eff.collective_alpha_s(plan.tp_chips)
        tp_time, tp_chosen = plan.tensor_parallel(as_tokens(T), per_collective_s, alpha, eff,
                                                  names)
        gather = logits * plan.logits_per_token_s
        tp_total = total + tp_time
        tp_total = tp_total + per_collective_s + (gather + plan.logits_latency_s
                                                  if alpha is None else gather + alpha)
        if grouped.all():
            total, chosen = tp_total, tp_chosen
        else:
            total = np.where(grouped, tp_total, total)
            chosen = None if tp_chosen is None else np.asarray(
                np.where(grouped, tp_chosen, "none"))
    if np.any(plan.ep_calls):
        total = total + plan.ep_calls * (T * plan.ep_per_token_s + plan.ep_latency_s
                                         + per_collective_s)
    if np.any(plan.pp_sends):
        total = total + plan.pp_sends * (T * plan.pp_per_token_s + plan.pp_latency_s
                                         + per_collective_s)
    return np.asarray(total, dtype=np.float64), chosen
