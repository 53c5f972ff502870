"""The latency/throughput frontier of a search, per workload shape, with the decode step
split along it.

Axes as in seed 001's figure: per-token latency (TPOT) against output tokens/s per
chip. A point is on the frontier when no feasible point of the same input and output
lengths has both a lower-or-equal TPOT and a higher-or-equal throughput per chip.
Along it the mean decode step is split into the roofline's exposed terms: weight
loading, KV loading, compute, communication and fixed overhead (`cost.StepCost`); for a
speculative point, the time per emitted token of draft and verify steps together.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from inferplan.search.pareto import pareto_front
from inferplan.search.result import SearchResult
from inferplan.search.vectorised import in_flight_decode_split_s, static_decode_split_s
from inferplan.serving import closed_loop
from inferplan.speculative import (
    cycle_for,
    draft_deployment,
    mean_decode_context,
    speculative_decode_split_s,
)

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class FrontierPoint:
    """One frontier point: its index in the search, figures, and mean decode split (s)."""

    index: int
    tpot_s: float
    tokens_per_s_per_chip: float
    ttft_s: float
    decode_split_s: dict[str, float]


@dataclass(frozen=True)
class Frontier:
    """The frontier of one workload shape, lowest TPOT first."""

    input_len: int
    output_len: int
    points: list[FrontierPoint]
    candidates: int                     # feasible points of this shape


def decode_splits(result: SearchResult, indices: IntArray) -> list[dict[str, float]]:
    """Mean exposed decode time per term for each point, evaluated group by group."""
    out: list[dict[str, float]] = [{} for _ in indices]
    by_group: dict[int, list[int]] = defaultdict(list)
    for k, i in enumerate(indices):
        by_group[int(result.point_group[i])].append(k)
    for g, ks in by_group.items():
        group = result.groups[g]
        assert group.deployment is not None
        batches = result.batch[indices[ks]]
        spec = group.speculative
        if spec is not None and group.mode != "static":
            draft = draft_deployment(group.deployment, spec.draft)
            split = closed_loop(group.deployment, group.workload, batches, cycle_for(
                group.deployment, draft, spec.alpha, spec.gamma, spec.gamma_max),
                draft).breakdown_s()
        elif spec is not None:
            split = speculative_decode_split_s(
                group.deployment, draft_deployment(group.deployment, spec.draft), batches,
                mean_decode_context(group.workload), spec.alpha, result.gamma[indices[ks]])
        else:
            split = (static_decode_split_s if group.mode == "static" else
                     in_flight_decode_split_s)(group.deployment, group.workload, batches)
        for j, k in enumerate(ks):
            out[k] = {term: float(v[j]) for term, v in split.items()}
    return out


def frontiers(result: SearchResult) -> list[Frontier]:
    """The Pareto frontier of each (input_len, output_len) in the space: the shapes come
    from each group's workload (one lookup per group, not per point) and the per-chip
    rate is computed once, so the cost is a sort per shape (`pareto_front`)."""
    feasible = result.order
    group_shapes = np.asarray([(g.workload.input_len, g.workload.output_len)
                               for g in result.groups], dtype=np.int64).reshape(-1, 2)
    shapes = group_shapes[result.point_group[feasible]]
    tpot_all = result.cols.tpot_s
    rate_all = result.cols.tokens_per_s_per_chip
    ttft_all = result.cols.ttft_s
    out: list[Frontier] = []
    w = result.space.workload
    for input_len in w.input_len:
        for output_len in w.output_len:
            mask = ((shapes[:, 0] == input_len) & (shapes[:, 1] == output_len)
                    if shapes.size else np.zeros(0, dtype=bool))
            members = feasible[mask]
            front = members[pareto_front(tpot_all[members], rate_all[members])]
            splits = decode_splits(result, front)
            points = [FrontierPoint(int(i), float(tpot_all[i]), float(rate_all[i]),
                                    float(ttft_all[i]), s)
                      for i, s in zip(front, splits, strict=True)]
            out.append(Frontier(input_len, output_len, points, int(members.size)))
    return out
