"""Static-batch groups of many deployments evaluated as rows of one array computation.

A *family* is the plain static groups whose deployments differ only in plain numbers
(`family_key`, `joined_key`: the same model, chip, engine, efficiency mode, rates the
engine lacks, step-time model, memory fraction, price and partitioning choice; tp, pp,
dp, slice, dtypes, prompt and output length vary). Each (deployment, batch) of a
family with a point that fits is a row of a `deployment.DeploymentRows`, and the
workload shapes are columns:

- memory: one `memory.memory_breakdown` call per shape over the family's points;
- TTFT: one `steptime.step_cost` call, rows × prompt lengths;
- TPOT: one call over rows × every shape's decode contexts side by side, meaned per
  shape, as `decode_mean` does for a full grid.

The cost is elementwise over rows and cells, so every number is the one the
per-deployment path (`evaluate.evaluate_static_groups`) gives; a group whose decode grid
is too large for a full grid (`decode_mean.full_grid`) keeps that path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from inferplan.communication import slice_key
from inferplan.deployment import Deployment, Workload
from inferplan.efficiency import missing_rates
from inferplan.lengths import prompt_work
from inferplan.memory import memory_breakdown
from inferplan.rows import DeploymentRows
from inferplan.search.decode_mean import decode_contexts, full_grid
from inferplan.search.vectorised import phase_label_is_inert
from inferplan.steptime import step_latency_s

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Most cells (rows × decode steps) one step-cost call of a family prices: a family's
#: rows are taken in slices of this many cells, so a call's temporaries stay bounded
#: (1 MiB each). Issue 12's space, 16 output tokens at 2 prompt lengths (30 decode
#: cells a row): 4,369 rows a call, 375 slices of rows where 2^16 cells took 638.
ROW_CELLS = 1 << 17


def rows_ready(workload: Workload, values: IntArray) -> bool:
    """Whether a static group can be evaluated as rows: its decode grid is a full one
    whatever fits (`decode_mean.full_grid` of all its batch values). 16 batches, 16
    output tokens: yes; 512 batches, 512 tokens: no (the separable form, per
    deployment)."""
    return full_grid(int(values.size), max(workload.output_len - 1, 0))


def family_key(deployment: Deployment, workload: Workload) -> tuple[object, ...]:
    """What the deployments of one family share (objects by identity, as `expand` builds
    one per space entry): model, chip, engine, efficiency mode, step-time model, memory
    fraction, price, partitioning, attention choice and DP-attention ranks, whether
    requests decode at all (output_len > 1: the prefill step is then priced under the
    label `vectorised.static_batch_latencies` gives it) and the prefill chunk; then,
    last, the weight, compute and expert dtypes, which `joined_key` drops. Prompt and
    output lengths and the KV cache dtype vary within a key."""
    d, lay, dt = deployment, deployment.layout, deployment.dtypes
    return (id(d.model), id(d.chip), id(d.engine), d.efficiency, id(d.step_time),
            d.memory_utilization, d.price_usd_per_chip_hour, lay.layout, lay.attention,
            lay.attention_dp,
            d.speculative is None, workload.output_len > 1, workload.prefill_chunk_tokens,
            dt.weights, dt.compute, dt.experts)


def joined_key(key: tuple[object, ...], deployment: Deployment) -> tuple[object, ...]:
    """The family of the deployments of one `family_key` (`deployment`, one of them):
    the key without its dtypes, with the optional rates the deployment's efficiency
    lacks (`efficiency.missing_rates`: a formula branches on them, so deployments that
    lack different ones are not rows of one family). Their dtypes vary within a family
    (`rows.per_dtypes`; the rates they set, per row: `efficiency.rows_efficiency`). A
    fleet search's bf16, fp8 and int4 weights of one model, chip and engine: one family
    where the engine states the same rates for the three (its keys: one per dtype)."""
    return (*key[:-3], missing_rates(deployment))


def design_key(deployment: Deployment) -> tuple[object, ...]:
    """What the memory and the steps of one replica read of a deployment beyond what its
    family shares (`family_key`), under the analytic roofline: its layout but the replica
    count (nothing per replica reads dp), its dtypes and its slice as far as its
    collectives read it (`communication.slice_key`: the shape on a torus, and whether it
    spans several scale-up domains). Deployments of a family with one key fit and price
    every step alike: LLaMA 3.1-8B at tp 2 on 4 and on 8 H100s (dp 2 and 4, one NVSwitch
    domain) share one; on 16 (two domains) another."""
    lay = deployment.layout
    return (lay.tp, lay.pp, lay.ep, lay.layout, lay.attention, lay.attention_dp,
            deployment.dtypes, slice_key(deployment.topology, full=True))


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

    Deployments of one replica design (`design_key`: replicas of one layout on
    slices no collective tells apart) are evaluated as the first of them, under the
    analytic roofline (a family with a step-time model of its own: each deployment).
    A row is one (design, batch) with a point that fits; the workload shapes are
    columns: the prefill step of each prompt length, then each shape's decode contexts
    side by side. Two prompt lengths × 26 layouts of Qwen3-8B bf16 under vLLM on H100s,
    16 batches each, 16 output tokens: 832 points, one memory call per prompt length,
    then ≤ 416 rows in one prefill call (× 2) and one decode call (× 30).
    """
    members: dict[int, int] = {}         # id(deployment) -> its design's place
    designs: dict[object, int] = {}
    deployments: list[Deployment] = []   # the first deployment of each design
    analytic = items[0][0].step_time is None if items else False
    for dep, _, _ in items:
        if (key := id(dep)) not in members:
            place = members[key] = designs.setdefault(design_key(dep) if analytic else key,
                                                      len(deployments))
            if place == len(deployments):
                deployments.append(dep)
    shapes: dict[Workload, int] = {}
    shape_of: dict[int, int] = {}        # id(workload) -> its shape (`expand` shares them)
    for _, w, _ in items:
        if (key := id(w)) not in shape_of:
            shape_of[key] = shapes.setdefault(w, len(shapes))
    sizes = np.asarray([v.size for _, _, v in items], dtype=np.int64)
    member = np.repeat(np.asarray([members[id(d)] for d, _, _ in items], dtype=np.intp), sizes)
    shape = np.repeat(np.asarray([shape_of[id(w)] for _, w, _ in items], dtype=np.intp), sizes)
    batch = np.concatenate([np.asarray(v, dtype=np.int64) for _, _, v in items])
    rows = DeploymentRows(tuple(deployments), member)
    fits = np.zeros(batch.size, dtype=bool)
    for w, s in shapes.items():
        at = np.nonzero(shape == s)[0]
        fits[at] = np.asarray(memory_breakdown(rows.take(member[at]), w, batch[at]).fits,
                              dtype=bool)
    # rows: the (member, batch) pairs with a fitting point, each once
    span = int(batch.max()) + 1 if batch.size else 1
    pair = member.astype(np.int64) * span + batch
    pairs, row_of = np.unique(pair[fits], return_inverse=True)
    workloads = list(shapes)
    ttft_rows, tpot_rows = _static_latencies(
        rows, (pairs // span).astype(np.intp), (pairs % span).astype(np.float64), workloads,
        "decode" if workloads[0].output_len > 1 and phase_label_is_inert(deployments[0])
        else "prefill")
    ttft, tpot = np.full(batch.size, np.nan), np.full(batch.size, np.nan)
    ttft[fits] = ttft_rows[row_of, shape[fits]]
    tpot[fits] = tpot_rows[row_of, shape[fits]]
    n = np.asarray([w.output_len for w in workloads], dtype=np.int64)[shape]
    return FamilyMetrics(fits, ttft, tpot, np.asarray(ttft + (n - 1) * tpot, dtype=np.float64))


def _static_latencies(rows: DeploymentRows, member: npt.NDArray[np.intp], B: FloatArray,
                      workloads: list[Workload], prefill_label: str
                      ) -> tuple[FloatArray, FloatArray]:
    """TTFT and TPOT of each (member, batch) row for each workload (arrays rows ×
    workloads): one prefill call per slice of rows, its columns the prompt lengths,
    priced under `prefill_label` (what `vectorised.static_batch_latencies` prices it
    under), and one decode call over every workload's decode contexts side by side,
    meaned per workload (0 with no decode step); at most `ROW_CELLS` decode cells a
    call."""
    # each prompt's computed and prefix-cached tokens (`lengths.prompt_work`), as
    # `serving.static_batch` prices them
    work = [prompt_work(w.input_len, w.prefix_hit_rate) for w in workloads]
    S = np.asarray([float(computed) for computed, _ in work])
    H = np.asarray([float(cached) for _, cached in work])
    contexts = [decode_contexts(w.input_len, w.output_len) for w in workloads]
    ends = np.cumsum([c.size for c in contexts])
    cached = np.concatenate(contexts)[None, :]
    ttft = np.empty((B.size, len(workloads)))
    tpot = np.zeros((B.size, len(workloads)))
    per_call = max(1, ROW_CELLS // max(cached.size, 1))
    for lo in range(0, B.size, per_call):
        at = slice(lo, lo + per_call)
        part, b = rows.take(member[at][:, None]), B[at][:, None]
        ttft[at] = step_latency_s(part, prefill_label, b, S[None, :], H[None, :])
        if cached.size == 0:
            continue
        decode = step_latency_s(part, "decode", b, 1.0, cached)
        for j, end in enumerate(ends):
            block = np.ascontiguousarray(decode[:, end - contexts[j].size:end])
            tpot[at, j] = np.mean(block, axis=1) if block.shape[1] else 0.0
    return ttft, tpot
