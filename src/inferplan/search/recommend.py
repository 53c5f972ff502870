"""The smallest (or cheapest) deployment that serves a target throughput under the SLO.

Each feasible point is a replica design (tp × pp devices at its batch); replicas are
independent (data parallelism), so a target of X tokens/s needs ⌈X / r⌉ whole replicas
of a design that serves r tokens/s each. Latencies do not change with the replica
count, so the SLO a point meets holds for any number of its replicas.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from inferplan.search.result import SearchResult
from inferplan.units import InferplanError

TargetKind = Literal["tokens", "requests"]
By = Literal["chips", "cost"]
#: A target within this fraction of whole replicas counts as met (floating-point slack).
SLACK = 1e-12


@dataclass(frozen=True)
class Recommendation:
    """A replica design (a search point) scaled to the target."""

    index: int                          # the point in the search
    replicas: int
    chips: int
    usd_per_hour: float | None
    tokens_per_s: float                 # all replicas
    requests_per_s: float
    replica_tokens_per_s: float
    replica_chips: float                # tp·pp devices over the devices a chip holds


def replicas_needed(target: float, per_replica: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Whole replicas for a target: ⌈target / per_replica⌉ (at least 1).

    5,000 tok/s at 1,851 tok/s per replica: 3."""
    per = np.asarray(per_replica, dtype=np.float64)
    return np.asarray(np.maximum(1.0, np.ceil(target / per * (1 - SLACK))), dtype=np.float64)


def _group_columns(result: SearchResult) -> dict[str, npt.NDArray[np.float64]]:
    """Per group: data-parallel replicas, devices per replica, devices per chip, output
    tokens per request and USD per chip-hour (NaN: no price)."""
    cols: dict[str, list[float]] = {k: [] for k in ("dp", "mp", "cores", "out", "price")}
    for g in result.groups:
        dep = g.deployment
        if dep is None:
            for k in cols:
                cols[k].append(np.nan)
            continue
        cols["dp"].append(dep.layout.dp)
        cols["mp"].append(dep.layout.model_parallel)
        cols["cores"].append(dep.chip.cores_per_chip)
        cols["out"].append(g.workload.output_len)
        cols["price"].append(np.nan if dep.price is None else dep.price)
    return {k: np.asarray(v, dtype=np.float64) for k, v in cols.items()}


def recommend(result: SearchResult, target: float, kind: TargetKind = "tokens",
              by: By = "chips", top: int = 5) -> list[Recommendation]:
    """The best `top` designs for the target: fewest chips (then lowest cost, then most
    throughput, then lowest TPOT), or with by='cost' lowest USD per hour (then fewest
    chips). Points with no price are left out when ranking by cost."""
    if not 0 < target < math.inf:
        raise InferplanError("target", target, "must be a positive rate (a finite number)")
    idx = result.order
    g = _group_columns(result)
    pg = result.point_group[idx]
    dp, mp, cores, out, price = (g[k][pg] for k in ("dp", "mp", "cores", "out", "price"))
    per_tokens = result.cols.output_tokens_per_s[idx] / dp
    per_requests = per_tokens / out
    per = per_tokens if kind == "tokens" else per_requests
    replicas = replicas_needed(target, per)
    chips = np.ceil(replicas * mp / cores)
    usd = chips * price
    keep = ~np.isnan(usd) if by == "cost" else np.ones(idx.size, dtype=bool)
    if idx.size and not keep.any():
        raise InferplanError("--by", by, f"none of the {idx.size:,} feasible designs has a "
                             "price (hardware price_usd_per_chip_hour); rank with --by "
                             "chips or give the chip a price")
    usd_key = np.where(np.isnan(usd), np.inf, usd)
    lead = (usd_key, chips) if by == "cost" else (chips, usd_key)
    order = np.lexsort((np.arange(idx.size), result.cols.tpot_s[idx],
                        -replicas * per_tokens, lead[1], lead[0]))
    order = order[keep[order]][:top]
    return [Recommendation(
        index=int(idx[k]), replicas=int(replicas[k]), chips=int(chips[k]),
        usd_per_hour=None if np.isnan(usd[k]) else float(usd[k]),
        tokens_per_s=float(replicas[k] * per_tokens[k]),
        requests_per_s=float(replicas[k] * per_requests[k]),
        replica_tokens_per_s=float(per_tokens[k]), replica_chips=float(mp[k] / cores[k]))
        for k in order]
