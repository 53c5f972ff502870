"""Evaluate a speculative-decoding group: plain prefill of target and draft, then
draft-and-verify cycles (`speculative.py`) for every batch value in one pass.

Conventions of `inferplan speculative`: the cycle is costed at the mean decode context
S + n/2 (plain static batches average the step over every context; the decode step is
close to linear in the context, so the two agree closely), γ is the space's or, for
`auto`, the best of 1..gamma_max per batch (`speculative.best_gamma`), and memory holds
target and draft with their caches (`speculative.speculative_memory` at that γ).
`batch: max` is the largest batch that fits beside the draft at gamma_max (or the given γ),
served in flight like a plain `batch: max` point, and `concurrency` points are closed
loops: both through `serving.closed_loop` with the speculative cycle (`speculative.cycle_for`),
so a speculative point and its plain twin answer the same question.
"""

from __future__ import annotations

import numpy as np

from inferplan.search.evaluate import GroupMetrics
from inferplan.search.expand import Group
from inferplan.search.space import SLO
from inferplan.search.vectorised import static_prefill_s
from inferplan.serving import closed_loop
from inferplan.speculative import (
    chosen_cost,
    cycle_for,
    draft_deployment,
    max_batch_with_draft,
    mean_decode_context,
    speculative_memory,
)


def evaluate_speculative(group: Group, slo: SLO) -> GroupMetrics:
    """Per batch value: fit with the draft, TTFT = target + draft prefill of the B
    prompts, TPOT = (γ·t_draft + t_verify) / E, e2e = TTFT + (n−1)·TPOT, and γ.

    LLaMA-3.1-8B on one RNGD (tp=8) with a LLaMA-3.2-1B draft, α = 0.8, B = 1: the TPOT
    of `inferplan speculative` at the same batch and mean context (8.26 ms at T = 1152).
    """
    spec, target, wl = group.speculative, group.deployment, group.workload
    assert spec is not None and target is not None
    draft = draft_deployment(target, spec.draft)
    if group.mode == "max":
        largest = max_batch_with_draft(target, draft, wl, spec.gamma or spec.gamma_max)
        batches = np.asarray([max(largest, 1)], dtype=np.int64)
    else:
        batches = np.asarray(group.values, dtype=np.int64)
    B = batches.astype(np.float64)
    T = mean_decode_context(wl)
    cost = chosen_cost(target, draft, B, T, spec.alpha, spec.gamma, spec.gamma_max)
    gamma, tpot = np.asarray(cost.gamma, dtype=np.int64), cost.tpot_s
    fits = np.zeros(B.size, dtype=bool)
    for g in np.unique(gamma):
        rows = gamma == g
        fits[rows] = speculative_memory(target, draft, wl, batches[rows], int(g)).fits
    if group.mode == "static":
        ttft = static_prefill_s(target, wl, B) + static_prefill_s(draft, wl, B)
        e2e = ttft + (wl.output_len - 1) * tpot
    else:   # in flight: the closed loop of B clients with draft-and-verify cycles
        loop = closed_loop(target, wl, B, cycle_for(target, draft, spec.alpha, spec.gamma,
                                                     spec.gamma_max), draft)
        ttft, tpot, e2e = loop.ttft_s, loop.tpot_s, loop.e2e_latency_s
    nan = np.where(fits, 1.0, np.nan)
    return GroupMetrics(batches, fits, np.asarray(ttft * nan), np.asarray(tpot * nan),
                        np.asarray(e2e * nan), np.asarray(gamma, dtype=np.int64))
