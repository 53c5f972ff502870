"""Run a search: expand the space, evaluate every group, classify and rank the points.

`SearchResult` holds one entry per point of the buildable groups (columns of numpy
arrays), the drop counts of every point, and the feasible points best first. Any point
can be turned back into its scenario and its `serving.Estimate`.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from inferplan.deployment import Deployment, Workload
from inferplan.hardware import ChipSpec
from inferplan.models import ModelSpec
from inferplan.search.evaluate import (
    EVALUATORS,
    GroupMetrics,
    evaluate_static_groups,
    requests_per_s,
)
from inferplan.search.evaluate_speculative import evaluate_speculative
from inferplan.search.expand import Group, expand
from inferplan.search.objectives import OK, REASONS, Columns, classify, rank
from inferplan.search.rows import FamilyMetrics, evaluate_family, family_key, joined_key, rows_ready
from inferplan.search.space import SpaceIn
from inferplan.serving import Estimate, estimate
from inferplan.speculative import SpeculativeResult, speculative_result

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Axes a point is described by, with where the value sits in its scenario.
AXES: dict[str, tuple[str, ...]] = {
    "model": ("model",), "hardware": ("hardware",), "engine": ("engine",),
    "chips": ("chips",),
    "topology": ("topology",), "tp": ("parallelism", "tp"), "pp": ("parallelism", "pp"),
    "dp": ("parallelism", "dp"), "ep": ("parallelism", "ep"),
    "layout": ("parallelism", "layout"), "attention": ("parallelism", "attention"),
    "attention_dp": ("parallelism", "attention_dp"),
    "weights": ("dtypes", "weights"), "kv": ("dtypes", "kv"),
    "compute": ("dtypes", "compute"), "efficiency": ("efficiency",),
    "input_len": ("workload", "input_len"), "output_len": ("workload", "output_len"),
    "draft": ("speculative", "draft"), "alpha": ("speculative", "alpha"),
    "gamma": ("speculative", "gamma"),
}


def scenario_value(scenario: dict[str, Any], axis: str) -> Any:
    """The value of one axis in a point's scenario (None where absent: default topology,
    no `engine:` in the space)."""
    value: Any = scenario
    for key in AXES[axis]:
        value = value.get(key) if isinstance(value, dict) else None
    return value


@dataclass(frozen=True)
class SearchResult:
    """Every point of a space, evaluated; the feasible ones ranked by the objective."""

    space: SpaceIn
    groups: list[Group]
    point_group: IntArray              # group of each timed point
    point_value: IntArray              # its batch or concurrency value as the space gives it
    batch: IntArray                    # sequences in flight per replica
    gamma: IntArray                    # draft tokens per cycle (0: plain decoding)
    status: IntArray                   # OK or an index into REASONS
    cols: Columns
    dropped: dict[str, int]
    drop_examples: dict[str, str]
    evaluated: int
    order: IntArray                    # feasible points, best first
    elapsed_s: float

    @property
    def feasible(self) -> int:
        return int(self.order.size)

    @property
    def objective(self) -> str:
        return self.space.objective

    def group(self, i: int) -> Group:
        return self.groups[int(self.point_group[i])]

    def deployment(self, i: int) -> Deployment:
        dep = self.group(i).deployment
        assert dep is not None
        return dep

    def scenario(self, i: int) -> dict[str, Any]:
        """The point's scenario (feed it to `inferplan estimate`); a speculative point's
        `speculative` block holds the γ chosen for it."""
        s = self.group(i).point_scenario(int(self.point_value[i]))
        if "speculative" in s:
            s["speculative"] = {**s["speculative"], "gamma": int(self.gamma[i])}
        return s

    def workload(self, i: int) -> Workload:
        g, value = self.group(i), int(self.point_value[i])
        w = g.workload
        if g.mode == "concurrency":
            return replace(w, batch=None, concurrency=value)
        return replace(w, batch="max" if g.mode == "max" else value, concurrency=None)

    def estimate(self, i: int) -> Estimate:
        """`serving.estimate` of the point: the exact figures the report shows (plain
        decoding; see `speculative` for a speculative point)."""
        return estimate(self.deployment(i), self.workload(i))

    def speculative(self, i: int) -> SpeculativeResult | None:
        """`inferplan speculative` of a speculative point at its batch and γ; None for
        plain decoding."""
        spec = self.group(i).speculative
        if spec is None:
            return None
        w = self.workload(i)
        return speculative_result(self.deployment(i), spec.draft,
                                  replace(w, batch=int(self.batch[i])), spec.alpha,
                                  spec.gamma, spec.gamma_max)

    def value(self, i: int, axis: str) -> Any:
        return scenario_value(self.group(i).scenario, axis)

    def axis_values(self, axis: str) -> list[Any]:
        """The values this axis takes over the buildable groups, in order."""
        seen: list[Any] = []
        for g in self.groups:
            v = scenario_value(g.scenario, axis)
            if g.deployment is not None and v not in seen:
                seen.append(v)
        return seen

    @cached_property
    def varied_axes(self) -> frozenset[str]:
        """Axes whose value differs between groups of the space."""
        return frozenset(a for a in AXES if len({repr(scenario_value(g.scenario, a))
                                                 for g in self.groups}) > 1)

    def best(self, n: int) -> list[int]:
        return [int(i) for i in self.order[:n]]


def _drop_example(result_groups: list[Group], g: int, value: int, reason: str,
                  cols: Columns, i: int, slo: Any) -> str:
    what = "concurrency" if result_groups[g].mode == "concurrency" else "batch"
    if reason == "memory":
        return f"{what} {value} does not fit in memory"
    if reason == "no_price":
        return "the chip has no price (give price_per_chip_hour)"
    field, limit = {"slo_ttft": ("ttft_s", slo.ttft_s), "slo_tpot": ("tpot_s", slo.tpot_s),
                    "slo_e2e": ("e2e_latency_s", slo.e2e_latency_s)}[reason]
    return f"{what} {value}: {field} {getattr(cols, field)[i]:.4g} s > {limit} s"


def _plain_static(group: Group) -> bool:
    """A buildable group of static batches decoded plainly (no draft)."""
    return group.deployment is not None and group.mode == "static" \
        and group.speculative is None


def static_run(groups: list[Group], start: int) -> list[int]:
    """The indices of the plain static groups from `start` on that share its deployment
    (the same object: `expand` builds one per deployment and lists its workload shapes
    next to each other), up to the first group that does not; what
    `evaluate.evaluate_static_groups` times together. Two prompt lengths of one
    deployment at groups 6 and 7, another deployment at 8: static_run(groups, 6) →
    [6, 7]."""
    dep = groups[start].deployment
    run = [start]
    for j in range(start + 1, len(groups)):
        if groups[j].deployment is not dep or not _plain_static(groups[j]):
            break
        run.append(j)
    return run


#: Told before each group and once at the end: (points done, points in all the groups).
Progress = Callable[[int, int], None]

#: Points of rows-ready static groups gathered before their families are evaluated
#: (`rows.evaluate_family`): what one flush holds beside the result's columns.
FAMILY_POINTS = 1 << 18
#: Points per slice when the throughput column is filled (bounds its temporaries).
SLICE_POINTS = 1 << 20


@dataclass
class _Points:
    """The result's per-point columns, allocated once for every point of the buildable
    groups (`start[g]`: where group g's points begin) and filled group by group or, for a
    family of groups, at once."""

    start: dict[int, int]
    group: IntArray
    value: IntArray
    batch: IntArray
    gamma: IntArray
    fits: npt.NDArray[np.bool_]
    ttft: FloatArray
    tpot: FloatArray
    e2e: FloatArray

    @staticmethod
    def allocate(groups: list[Group]) -> _Points:
        built = [gi for gi, g in enumerate(groups) if g.deployment is not None]
        counts = np.asarray([groups[gi].points for gi in built], dtype=np.int64)
        n = int(counts.sum())
        value = (np.concatenate([groups[gi].values for gi in built]).astype(np.int64)
                 if built else np.zeros(0, dtype=np.int64))
        return _Points(dict(zip(built, (np.cumsum(counts) - counts).tolist(), strict=True)),
                       np.repeat(np.asarray(built, dtype=np.int64), counts), value,
                       value.copy(), np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool),
                       np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan))

    def put(self, gi: int, m: GroupMetrics) -> None:
        """One group's metrics at its points."""
        at = slice(self.start[gi], self.start[gi] + m.batch.size)
        self.batch[at] = m.batch
        if m.gamma is not None:
            self.gamma[at] = m.gamma
        self.fits[at], self.ttft[at] = m.fits, m.ttft_s
        self.tpot[at], self.e2e[at] = m.tpot_s, m.e2e_latency_s

    def put_family(self, gis: list[int], sizes: IntArray, m: FamilyMetrics) -> None:
        """A family's metrics (its groups' points in order) at those groups' points."""
        starts = np.asarray([self.start[gi] for gi in gis], dtype=np.int64)
        at = np.arange(int(sizes.sum())) + np.repeat(starts - (np.cumsum(sizes) - sizes), sizes)
        self.fits[at], self.ttft[at] = m.fits, m.ttft_s
        self.tpot[at], self.e2e[at] = m.tpot_s, m.e2e_latency_s


def _per_point(groups: list[Group], points: _Points) -> Columns:
    """Chips, $/hour and output tokens/s of every point: requests per second
    (`evaluate.requests_per_s`) times output_len, filled in slices of `SLICE_POINTS`."""
    nan = float("nan")
    dp, out_len = np.zeros(len(groups), dtype=np.int64), np.zeros(len(groups), dtype=np.int64)
    chips, usd = np.full(len(groups), nan), np.full(len(groups), nan)
    built = list(points.start)              # each column filled from a list at once
    deps = [dep for gi in built if (dep := groups[gi].deployment) is not None]
    assert len(deps) == len(built)
    dp[built] = [dep.layout.dp for dep in deps]
    out_len[built] = [groups[gi].workload.output_len for gi in built]
    chips[built] = [dep.chips for dep in deps]
    usd[built] = [nan if (price := dep.price) is None else price * dep.chips for dep in deps]
    tps = np.empty(points.group.size, dtype=np.float64)
    for lo in range(0, points.group.size, SLICE_POINTS):
        at = slice(lo, lo + SLICE_POINTS)
        g = points.group[at]
        tps[at] = requests_per_s(dp[g], points.batch[at], points.e2e[at]) * out_len[g]
    return Columns(chips=chips[points.group], usd_per_hour=usd[points.group],
                   ttft_s=points.ttft, tpot_s=points.tpot, e2e_latency_s=points.e2e,
                   output_tokens_per_s=tps)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for the block (restored as it was after).
    A search builds its groups, deployments and per-family arrays, objects that live
    until it returns and hold no reference cycles, so the collector's passes over them
    (several full ones a search: 0.35 of 5 s for 140,000 groups) find nothing."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def run_search(space: SpaceIn, resolve_model: Callable[[str], ModelSpec],
               resolve_chip: Callable[[str], ChipSpec],
               progress: Progress | None = None, *, step_time: object | None = None
               ) -> SearchResult:
    """Evaluate every point of the space and rank the feasible (`collector_paused`
    meanwhile); see `_run_search`."""
    with collector_paused():
        return _run_search(space, resolve_model, resolve_chip, progress, step_time)


def _run_search(space: SpaceIn, resolve_model: Callable[[str], ModelSpec],
                resolve_chip: Callable[[str], ChipSpec], progress: Progress | None,
                step_time: object | None) -> SearchResult:
    """Evaluate every point of the space and rank the feasible; `progress`, if given,
    hears how many points are done (a progress bar's seam); `step_time` prices every
    point's steps (`expand`).

    Static groups whose decode grids are small go by family, many deployments as rows of
    one numpy pass (`rows.evaluate_family`), gathered up to `FAMILY_POINTS` points at a
    time (keyed by `rows.family_key`, joined across dtypes by `rows.joined_key`); every
    other group is evaluated on its own deployment (a static run's groups together), all
    batch or concurrency values in one pass."""
    start = time.perf_counter()
    groups = expand(space, resolve_model, resolve_chip, step_time)
    group_points = [g.values.size for g in groups]
    total_points, done_points = sum(group_points), 0
    dropped = dict.fromkeys(REASONS, 0)
    examples: dict[str, str] = {}
    points = _Points.allocate(groups)
    families: dict[tuple[object, ...], list[int]] = {}
    held = 0
    # `rows_ready` once per (workload, values) pair of objects (`expand` shares them)
    ready: dict[tuple[int, int], bool] = {}

    def flush() -> None:
        joined: dict[tuple[object, ...], list[int]] = {}
        for key, gis in families.items():
            dep = groups[gis[0]].deployment
            assert dep is not None
            joined.setdefault(joined_key(key, dep), []).extend(gis)
        for gis in joined.values():
            items = [(dep, groups[j].workload, groups[j].values)
                     for j in gis if (dep := groups[j].deployment) is not None]
            sizes = np.asarray([v.size for _, _, v in items], dtype=np.int64)
            points.put_family(gis, sizes, evaluate_family(items))
        families.clear()

    pending: dict[int, GroupMetrics] = {}      # a static run's groups, evaluated together
    for gi, g in enumerate(groups):
        if progress is not None:
            progress(done_points, total_points)
        done_points += group_points[gi]
        if g.deployment is None:
            reason = g.drop_reason or "layout"
            dropped[reason] += group_points[gi]
            examples.setdefault(reason, g.drop_message or reason)
            continue
        dep = g.deployment
        pair = (id(g.workload), id(g.values))
        if pair not in ready:
            ready[pair] = rows_ready(g.workload, g.values)
        if ready[pair] and _plain_static(g):
            families.setdefault(family_key(dep, g.workload), []).append(gi)
            held += group_points[gi]
            if held >= FAMILY_POINTS:
                flush()
                held = 0
            continue
        if gi not in pending and _plain_static(g):
            run = [j for j in static_run(groups, gi)
                   if not rows_ready(groups[j].workload, groups[j].values)]
            pending = dict(zip(run, evaluate_static_groups(
                dep, [(groups[j].workload, groups[j].values) for j in run]), strict=True))
        points.put(gi, pending.pop(gi) if gi in pending
                   else evaluate_speculative(g, space.slo) if g.speculative is not None
                   else EVALUATORS[g.mode](dep, g.workload, g.values, space.slo))
    flush()
    if progress is not None:
        progress(done_points, total_points)

    cols = _per_point(groups, points)
    point_group, point_value = points.group, points.value
    status = classify(points.fits, cols, space.slo, space.objective)
    for k, reason in enumerate(REASONS):
        hits = np.nonzero(status == k)[0]
        dropped[reason] += int(hits.size)
        if hits.size and reason not in examples:
            i = int(hits[0])
            examples[reason] = _drop_example(groups, int(point_group[i]),
                                             int(point_value[i]), reason, cols, i, space.slo)
    order = rank(space.objective, cols, np.nonzero(status == OK)[0].astype(np.int64))
    return SearchResult(
        space=space, groups=groups, point_group=point_group, point_value=point_value,
        batch=points.batch, gamma=points.gamma, status=status, cols=cols,
        dropped={k: v for k, v in dropped.items() if v}, drop_examples=examples,
        evaluated=total_points, order=order,
        elapsed_s=time.perf_counter() - start)
