"""Why the winner wins: what stops its batch from growing, and the best point of every
other value of every axis the space varies (with what it gives up, or why none of its
points were feasible)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from inferplan.search.objectives import OBJECTIVES, OK, REASONS
from inferplan.search.result import AXES, SearchResult, scenario_value


@dataclass(frozen=True)
class Alternative:
    """The best feasible point with `axis` = `value` (index None: none was feasible, and
    `reason` says what dropped most of them)."""

    axis: str
    value: Any
    index: int | None
    reason: str | None = None


@dataclass(frozen=True)
class Why:
    """The winner, its runner-up, what limits it, and the alternatives it beats."""

    objective: str
    winner: int
    runner_up: int | None
    limit: str
    alternatives: list[Alternative]


def batch_limit(result: SearchResult, i: int) -> str:
    """What stops point i's batch (or concurrency) from growing within its deployment."""
    g = result.group(i)
    value = int(result.point_value[i])
    if g.mode == "max":
        return f"the largest batch memory holds ({int(result.batch[i])})"
    what = "concurrency" if g.mode == "concurrency" else "batch"
    members = np.nonzero(result.point_group == result.point_group[i])[0]
    larger = members[result.point_value[members] > value]
    if larger.size == 0:
        return f"the space's largest {what} ({value})"
    nxt = int(larger[np.argmin(result.point_value[larger])])
    status = int(result.status[nxt])
    v = int(result.point_value[nxt])
    if status == OK:
        return f"{what} {v} is feasible but scores lower on {result.objective}"
    reason = REASONS[status]
    slo = result.space.slo
    if reason == "memory":
        return f"{what} {v} does not fit in memory"
    field, limit = {"slo_ttft": ("ttft_s", slo.ttft_s), "slo_tpot": ("tpot_s", slo.tpot_s),
                    "slo_e2e": ("e2e_latency_s", slo.e2e_latency_s)}.get(reason, ("", None))
    if limit is None:
        return f"{what} {v} is dropped ({reason})"
    got = float(getattr(result.cols, field)[nxt])
    return f"{what} {v} misses the {field} limit ({got:.4g} s > {limit} s)"


def alternatives(result: SearchResult, winner: int) -> list[Alternative]:
    """For each varied axis, the best point of each value other than the winner's."""
    out: list[Alternative] = []
    feasible_groups = result.point_group[result.order]
    for axis in (a for a in AXES if a in result.varied_axes):
        group_values = [repr(scenario_value(g.scenario, axis)) for g in result.groups]
        values: dict[str, Any] = {}
        for g in result.groups:
            values.setdefault(repr(scenario_value(g.scenario, axis)),
                              scenario_value(g.scenario, axis))
        codes = {v: k for k, v in enumerate(values)}
        group_code = np.asarray([codes[v] for v in group_values], dtype=np.int64)
        point_code = group_code[feasible_groups]
        mine = group_values[int(result.point_group[winner])]
        for key, value in values.items():
            if key == mine or value == "auto":      # dp: auto of a layout that failed
                continue
            hits = np.nonzero(point_code == codes[key])[0]
            if hits.size:
                out.append(Alternative(axis, value, int(result.order[hits[0]])))
            else:
                out.append(Alternative(axis, value, None,
                                       _main_reason(result, group_code, codes[key])))
    return out


def _main_reason(result: SearchResult, group_code: np.ndarray, code: int) -> str:
    counts = dict.fromkeys(REASONS, 0)
    for gi, g in enumerate(result.groups):
        if group_code[gi] == code and g.deployment is None:
            counts[g.drop_reason or "layout"] += g.points
    timed = np.nonzero(group_code[result.point_group] == code)[0]
    for s in result.status[timed]:
        if s != OK:
            counts[REASONS[int(s)]] += 1
    return max(counts, key=lambda r: counts[r])


def why(result: SearchResult) -> Why | None:
    """Why the best point wins (None when nothing is feasible)."""
    if result.feasible == 0:
        return None
    winner = int(result.order[0])
    runner = int(result.order[1]) if result.feasible > 1 else None
    assert result.objective in OBJECTIVES
    return Why(result.objective, winner, runner, batch_limit(result, winner),
               alternatives(result, winner))
