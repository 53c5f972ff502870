"""Static-batch groups of many deployments evaluated as rows of one array computation.

A *family* is the plain static groups whose deployments differ only in plain numbers
(`family_key`: the same model, chip, engine, dtypes, efficiency mode, step-time model,
memory fraction, price, partitioning choice and output length; tp, pp, dp, slice and
prompt length vary). Each (deployment, batch) point of a family is a row of a
`deployment.DeploymentRows`:

- memory: one `memory.memory_breakdown` call per prompt length over the family's points;
- TTFT: one `steptime.step_cost` call over the fitting rows (B, S), shape (R, 1);
- TPOT: one call over the rows × decode contexts, (R, 1) against (1, n−1), meaned per
  row, as `decode_mean` does for a full grid.

The cost is elementwise over rows and cells, so every number is the one the
per-deployment path (`evaluate.evaluate_static_groups`) gives; a group whose decode grid
is too large for a full grid (`decode_mean.full_grid`) keeps that path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from inferplan.deployment import Deployment, DeploymentRows, Workload
from inferplan.memory import memory_breakdown
from inferplan.search.decode_mean import decode_contexts, full_grid
from inferplan.search.vectorised import phase_label_is_inert
from inferplan.steptime import step_cost

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Most cells (rows × decode steps) one step-cost call of a family prices: a family's
#: rows are taken in slices of this many cells, so a call's temporaries stay bounded.
ROW_CELLS = 1 << 16


def rows_ready(workload: Workload, values: IntArray) -> bool:
    """Whether a static group can be evaluated as rows: its decode grid is a full one
    whatever fits (`decode_mean.full_grid` of all its batch values). 16 batches, 16
    output tokens: yes; 512 batches, 512 tokens: no (the separable form, per
    deployment)."""
    return full_grid(int(values.size), max(workload.output_len - 1, 0))


def family_key(deployment: Deployment, workload: Workload) -> tuple[object, ...]:
    """What the deployments of one family share (objects by identity, as `expand` builds
    one per space entry): model, chip, engine, dtypes, efficiency mode, step-time model,
    memory fraction, price, partitioning and attention choice, output length and
    prefill chunk."""
    d, lay = deployment, deployment.layout
    return (id(d.model), id(d.chip), id(d.engine), d.dtypes, d.efficiency, id(d.step_time),
            d.memory_utilization, d.price_usd_per_chip_hour, lay.layout, lay.attention,
            d.speculative is None, workload.output_len, workload.prefill_chunk_tokens)


@dataclass(frozen=True)
class FamilyMetrics:
    """Per point of a family's groups (their values, in order): fit and latencies (NaN
    where it does not fit)."""

    fits: BoolArray
    ttft_s: FloatArray
    tpot_s: FloatArray
    e2e_latency_s: FloatArray


def evaluate_family(items: Sequence[tuple[Deployment, Workload, IntArray]]
                    ) -> FamilyMetrics:
    """Static batching for every (deployment, workload, batch values) item of one family
    (`family_key`, each `rows_ready`), as rows: the points' fit, TTFT = prefill(B, S),
    TPOT = the mean decode step over contexts S..S+n−2 and e2e = TTFT + (n−1)·TPOT,
    `serving.static_batch`'s numbers.

    Two prompt lengths × 26 layouts of Qwen3-8B bf16 under vLLM on H100s, 16 batches
    each: 832 points, one memory call per prompt length, then the fitting rows in one
    prefill call (R × 1) and one decode call (R × 15).
    """
    members: dict[int, int] = {}
    deployments: list[Deployment] = []
    for dep, _, _ in items:
        if id(dep) not in members:
            members[id(dep)] = len(deployments)
            deployments.append(dep)
    sizes = np.asarray([v.size for _, _, v in items], dtype=np.int64)
    member = np.repeat(np.asarray([members[id(d)] for d, _, _ in items], dtype=np.intp), sizes)
    batch = np.concatenate([np.asarray(v, dtype=np.int64) for _, _, v in items])
    item = np.repeat(np.arange(len(items)), sizes)
    rows = DeploymentRows(tuple(deployments), member)
    shapes: dict[Workload, int] = {}
    for _, w, _ in items:
        shapes.setdefault(w, len(shapes))
    shape_of_item = np.asarray([shapes[w] for _, w, _ in items], dtype=np.int64)
    shape = shape_of_item[item]
    fits = np.zeros(batch.size, dtype=bool)
    input_len = np.zeros(batch.size, dtype=np.float64)
    for w, s in shapes.items():
        at = np.nonzero(shape == s)[0]
        fits[at] = np.asarray(memory_breakdown(rows.take(member[at]), w, batch[at]).fits,
                              dtype=bool)
        input_len[at] = float(w.input_len)
    n = items[0][1].output_len
    ttft, tpot = np.full(batch.size, np.nan), np.full(batch.size, np.nan)
    timed = np.nonzero(fits)[0]
    steps = max(n - 1, 0)
    per_row = max(1, ROW_CELLS // max(steps, 1))
    inert = steps > 0 and phase_label_is_inert(deployments[0])
    for start in range(0, timed.size, per_row):
        at = timed[start:start + per_row]
        ttft[at], tpot[at] = _static_latencies(
            rows.take(member[at][:, None]), batch[at][:, None].astype(np.float64),
            input_len[at][:, None], n, "decode" if inert else "prefill")
    return FamilyMetrics(fits, ttft, tpot, np.asarray(ttft + (n - 1) * tpot, dtype=np.float64))


def _static_latencies(rows: DeploymentRows, B: FloatArray, S: FloatArray, n: int,
                      prefill_label: str) -> tuple[FloatArray, FloatArray]:
    """TTFT and TPOT of rows (B and S of shape (R, 1)): one prefill call priced under
    `prefill_label` (what `vectorised.static_batch_latencies` prices it under) and one
    decode call over the (R, n−1) contexts, meaned per row (0 with no decode step)."""
    ttft = np.asarray(step_cost(rows, prefill_label, B, S, 0.0).latency_s,
                      dtype=np.float64)[:, 0]
    steps = decode_contexts(0, n)
    if steps.size == 0:
        return ttft, np.zeros(ttft.shape, dtype=np.float64)
    decode = np.asarray(step_cost(rows, "decode", B, 1.0, S + steps[None, :]).latency_s,
                        dtype=np.float64)
    return ttft, np.asarray(np.mean(decode, axis=1), dtype=np.float64)
