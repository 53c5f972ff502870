#!/usr/bin/env python3
"""Derive per-op engine constants from aiconfigurator-core's per-op latency tables.

Usage::

    python derive_op_constants.py /tmp/aicwheel/x            # print every derived number
    python derive_op_constants.py /tmp/aicwheel/x --write /work/opdata/engines

The argument is the directory the ``aiconfigurator-core`` wheel was unzipped into
(it holds ``aiconfigurator_core/systems/data/<system>/<op>/<engine>/<version>/``).

Only per-op microbenchmark tables are read: ``comm/`` (custom all-reduce, NCCL),
``gemm/``, ``attention/`` (generation and context), ``quantize/`` (static fp8
quantisation, the only elementwise/memory-bound op table) and ``moe/``. No
end-to-end or serving result file is opened.

Every fit is stated in the docstring of the function that performs it. All table
latencies are in milliseconds; every output is in SI units (seconds, fractions).
Message sizes in the comm tables are element counts (fp16/bf16: 2 bytes each).
This follows from the NCCL table: at equal ``message_size`` the ``half`` rows take
about twice as long as the ``int8`` rows at large sizes.

Requires python >= 3.10, pandas, pyarrow and pyyaml.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

MS = 1e-3  # table latencies are milliseconds
KIB = 1024
MIB = 1024 * 1024

# --------------------------------------------------------------------------------------
# Hardware peaks (dense), copied from inferplan's src/inferplan/data/hardware/<chip>.yaml.
# gb300 has no inferplan hardware file: its numbers come from the header comment of
# b300.yaml ("GB300 NVL72 part (1,400 W): BF16 2.5 PF, FP8 5 PF, FP4 15 PF dense"),
# 8 TB/s HBM and 900 GB/s NVLink 5 per direction (as gb200/b300).
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Chip:
    """Peak numbers of one chip, dense, per GPU."""

    name: str  # inferplan chip name
    system: str  # aiconfigurator system directory
    hbm_bytes_per_s: float
    link_bytes_per_s: float  # NVLink egress per direction
    peak_flops: dict[str, float] = field(default_factory=dict)
    hw_source: str = ""


CHIPS: tuple[Chip, ...] = (
    Chip(
        "h100-sxm",
        "h100_sxm",
        3.35e12,
        4.5e11,
        {"bf16": 9.894e14, "fp8": 1.9789e15},
        "inferplan data/hardware/h100-sxm.yaml",
    ),
    Chip(
        "h200-sxm",
        "h200_sxm",
        4.8e12,
        4.5e11,
        {"bf16": 9.894e14, "fp8": 1.9789e15},
        "inferplan data/hardware/h200-sxm.yaml",
    ),
    Chip(
        "b200",
        "b200_sxm",
        7.7e12,
        9.0e11,
        {"bf16": 2.25e15, "fp8": 4.5e15, "fp4": 9.0e15},
        "inferplan data/hardware/b200.yaml",
    ),
    Chip(
        "b300",
        "b300_sxm",
        8.0e12,
        9.0e11,
        {"bf16": 2.25e15, "fp8": 4.5e15, "fp4": 1.35e16},
        "inferplan data/hardware/b300.yaml",
    ),
    Chip(
        "gb200",
        "gb200",
        8.0e12,
        9.0e11,
        {"bf16": 2.5e15, "fp8": 5.0e15, "fp4": 1.0e16},
        "inferplan data/hardware/gb200.yaml",
    ),
    Chip(
        "gb300",
        "gb300",
        8.0e12,
        9.0e11,
        {"bf16": 2.5e15, "fp8": 5.0e15, "fp4": 1.5e16},
        "no inferplan gb300.yaml: b300.yaml header (GB300 NVL72: BF16 2.5, FP8 5, FP4 15 PF "
        "dense), 8 TB/s HBM, 900 GB/s NVLink",
    ),
)

ENGINES: dict[str, str] = {"vllm": "vllm", "sglang": "sglang", "trtllm": "trtllm"}

# Graph-mode (CUDA-graph captured) custom all-reduce kernels per engine.
CUSTOM_AR_KERNELS: dict[str, tuple[str, ...]] = {
    "vllm": ("vLLM_custom_graph",),
    "sglang": ("SGLang_CustomAllReduce_graph",),
    "trtllm": ("TRTLLM", "TRTLLM_MNNVL_oneshot", "TRTLLM_MNNVL_twoshot"),
}
# Engines whose quantize table is not a usable elementwise proxy (reason recorded).
ELEMENTWISE_EXCLUDE: dict[str, str] = {
    "sglang": (
        "quantize/sglang scale_matrix (kernel 'sglang') streams at < 0.15 of HBM peak even at GB sizes, "
        "an unfused per-tensor quantisation path, not representative of SGLang's fused elementwise kernels "
        "(RMSNorm, SiLU-mul); omitted"
    ),
}
EAGER_AR_KERNELS: dict[str, tuple[str, ...]] = {
    "vllm": ("vLLM_custom_eager",),
    "sglang": ("SGLang_CustomAllReduce_eager",),
    "trtllm": (),
}

# GEMM dtype -> (yaml key, bytes per weight element incl. scales, peak key)
GEMM_DTYPES: dict[str, tuple[str, float, str]] = {
    "bfloat16": ("bf16", 2.0, "bf16"),
    "fp8": ("fp8", 1.0, "fp8"),
    "fp8_block": ("fp8_block", 1.0 + 4.0 / (128 * 128), "fp8"),  # fp32 scale per 128x128
    "nvfp4": ("fp4", 0.5 + 1.0 / 16, "fp4"),  # fp8 scale per 16 elements
}
MOE_BYTES_PER_ELEMENT: dict[str, float] = {
    "bfloat16": 2.0,
    "fp8": 1.0,
    "fp8_block": 1.0 + 4.0 / (128 * 128),
    "nvfp4": 0.5 + 1.0 / 16,
    "w4a16_mxfp4": 0.5 + 1.0 / 32,
    "w4a8_mxfp4_mxfp8": 0.5 + 1.0 / 32,
    "int4_wo": 0.5 + 2.0 / 128,
}

SMALL_M_MAX = 64
SMALL_M_MIN_WEIGHT_BYTES = 16 * MIB
SMALL_M_MIN_DIM = 1024
SMALL_M_MAX_K = 16384  # K = 51200/65536 rows run far slower (no split-K); not LLM shapes
LARGE_M = (4096, 8192, 16384)
LARGE_NK = (7168, 16384)  # "70B-class": both N and K in this range
MID_M = 512
AR_SMALL_BYTES = (16 * KIB, 32 * KIB, 64 * KIB)
AR_LARGE_MIN_BYTES = 64 * MIB
ATTN_HEAD_DIM = 128
ATTN_GQA_RATIOS = (4, 8)
ATTN_KV_HEADS = (1, 2, 4, 8)
ATTN_DECODE_MAX_BATCH = 256
ATTN_DECODE_MIN_LEN = 256
EW_LARGE_MIN_BYTES = 256 * MIB
EW_SMALL_MAX_BYTES = 256 * KIB
ATTN_CONTEXT_MIN_ISL = 8192


# --------------------------------------------------------------------------------------
# Table discovery
# --------------------------------------------------------------------------------------


def version_key(version: str) -> tuple:
    """Sort key for versions such as 0.24.0, 0.5.6.post2, 1.3.0rc20, 2.29.2, 0.1.dev19262."""
    m = re.match(r"^(\d+(?:\.\d+)*)(?:(rc|\.post|\.dev)(\d+))?$", version)
    if not m:
        return ((0,), -2, 0)
    nums = tuple(int(x) for x in m.group(1).split("."))
    nums = nums + (0,) * (4 - len(nums))
    tag = {"rc": -1, ".dev": -2, ".post": 1, None: 0}[m.group(2)]
    return (nums, tag, int(m.group(3) or 0))


def data_root(wheel_dir: Path) -> Path:
    """The ``systems/data`` directory inside the unzipped wheel."""
    root = wheel_dir / "aiconfigurator_core" / "systems" / "data"
    if not root.is_dir():
        raise SystemExit(f"not an unzipped aiconfigurator-core wheel: {wheel_dir}")
    return root


def newest_table(root: Path, system: str, op: str, engine: str, filename: str) -> Path | None:
    """Newest ``<system>/<op>/<engine>/<version>/<filename>`` that actually holds the table.

    Version directories that only carry a ``reuse.yaml`` (a declared reuse of an older
    collection) are skipped, so the file read is the real measurement.
    """
    base = root / system / op / engine
    if not base.is_dir():
        return None
    versions = sorted((p.name for p in base.iterdir() if (p / filename).is_file()), key=version_key)
    return base / versions[-1] / filename if versions else None


def rel(path: Path, wheel_dir: Path) -> str:
    """Path relative to the unzipped wheel, for source strings."""
    return str(path.relative_to(wheel_dir))


def table_version(path: Path) -> str:
    """The version directory a table lives in."""
    return path.parent.name


# --------------------------------------------------------------------------------------
# Fits
# --------------------------------------------------------------------------------------


@dataclass
class LinFit:
    """t = intercept + slope * x, fitted with relative (1/t) weights."""

    intercept: float
    slope: float
    rms_rel: float
    max_rel: float
    n: int


def fit_intercept_slope(x: np.ndarray, t: np.ndarray) -> LinFit:
    """Least squares on relative residuals: minimise sum(((t - a - b x) / t)^2).

    Equivalent to regressing 1 on [1/t, x/t]; relative weighting keeps the many small
    points from being swamped by the few large ones.
    """
    x = np.asarray(x, float)
    t = np.asarray(t, float)
    a_mat = np.column_stack([1.0 / t, x / t])
    (a, b), *_ = np.linalg.lstsq(a_mat, np.ones_like(t), rcond=None)
    res = (t - a - b * x) / t
    return LinFit(float(a), float(b), float(np.sqrt(np.mean(res**2))), float(np.max(np.abs(res))), len(t))


def fit_group_intercepts_common_slope(groups: np.ndarray, x: np.ndarray, t: np.ndarray) -> tuple[dict, float, float]:
    """t = a_g + b x with one intercept per group g and one common slope b (relative weights).

    Returns ({g: a_g}, b, rms relative residual).
    """
    keys = sorted(set(groups.tolist()))
    cols = [(groups == g).astype(float) / t for g in keys] + [x / t]
    sol, *_ = np.linalg.lstsq(np.column_stack(cols), np.ones_like(t), rcond=None)
    pred = sum(sol[i] * (groups == g) for i, g in enumerate(keys)) + sol[-1] * x
    res = (t - pred) / t
    return {g: float(sol[i]) for i, g in enumerate(keys)}, float(sol[-1]), float(np.sqrt(np.mean(res**2)))


# --------------------------------------------------------------------------------------
# All-reduce
# --------------------------------------------------------------------------------------


def allreduce_curves(path: Path, kernels: tuple[str, ...], dtype_col: str, dtype: str) -> pd.DataFrame:
    """Rows of one all-reduce table: columns p, bytes, t (s); min over the listed kernels."""
    df = pd.read_parquet(path)
    df = df[(df.op_name == "all_reduce") & (df[dtype_col] == dtype)]
    if kernels:
        df = df[df.kernel_source.isin(kernels)]
    out = pd.DataFrame({"p": df.num_gpus, "bytes": df.message_size * 2, "t": df.latency * MS})
    return out.groupby(["p", "bytes"], as_index=False).t.min()


AR_CURVE_BYTES = tuple(16 * KIB * 2**i for i in range(13))   # 16 KiB .. 64 MiB


def allreduce_curve(curves: pd.DataFrame) -> dict[int, dict[int, float]]:
    """The measured latency of one all-reduce call per p and message size (bytes, bf16),
    at the powers of two from 16 KiB to 64 MiB the table holds: {p: {bytes: s}} (3 digits)."""
    out: dict[int, dict[int, float]] = {}
    for p, g in curves.groupby("p"):
        if int(p) not in (2, 4, 8):
            continue
        row = {int(b): sig(float(t)) for b, t in zip(g.bytes, g.t, strict=True) if int(b) in AR_CURVE_BYTES}
        if len(row) >= 4:
            out[int(p)] = dict(sorted(row.items()))
    return out


def allreduce_constants(curves: pd.DataFrame, link_bw: float) -> dict[str, Any]:
    """Small-message latency per p and large-message ring efficiency.

    alpha_s(p) = median latency over messages of 16, 32 and 64 KiB (bf16).
    Large messages (>= 64 MiB): t = alpha_large(p) + 2(p-1)/p * V / (W_link * eff), fitted
    per p (eff_by_p) and jointly over all p with one eff and per-p intercepts (eff).
    """
    out: dict[str, Any] = {"alpha": {}, "points_us": {}, "eff_by_p": {}, "eff_rms_by_p": {}}
    for p, g in curves.groupby("p"):
        p = int(p)
        if p not in (2, 4, 8):
            continue
        small = g[g.bytes.isin(AR_SMALL_BYTES)]
        if len(small):
            out["alpha"][p] = float(small.t.median())
        shown = (16 * KIB, 64 * KIB, 256 * KIB, 1 * MIB)
        out["points_us"][p] = {
            int(b // KIB): round(float(v) * 1e6, 2) for b, v in zip(g.bytes, g.t, strict=True) if b in shown
        }
        big = g[g.bytes >= AR_LARGE_MIN_BYTES]
        if len(big) >= 2:
            x = 2 * (p - 1) / p * big.bytes.to_numpy() / link_bw
            f = fit_intercept_slope(x, big.t.to_numpy())
            out["eff_by_p"][p] = 1.0 / f.slope
            out["eff_rms_by_p"][p] = f.rms_rel
    big = curves[(curves.bytes >= AR_LARGE_MIN_BYTES) & curves.p.isin([2, 4, 8])]
    if big.p.nunique() >= 1 and len(big) >= 3:
        x = 2 * (big.p - 1) / big.p * big.bytes / link_bw
        _, slope, rms = fit_group_intercepts_common_slope(big.p.to_numpy(), x.to_numpy(), big.t.to_numpy())
        out["eff"] = 1.0 / slope
        out["eff_rms"] = rms
        out["large_n"] = len(big)
    return out


# --------------------------------------------------------------------------------------
# GEMM
# --------------------------------------------------------------------------------------


def load_gemm(path: Path) -> pd.DataFrame:
    """GEMM rows, one per (dtype, m, n, k): the fastest kernel listed for that shape (s)."""
    df = pd.read_parquet(path)
    df = df[df.gemm_dtype.isin(GEMM_DTYPES)]
    g = df.groupby(["gemm_dtype", "m", "n", "k"], as_index=False).latency.min()
    g["t"] = g.latency * MS
    return g


def gemm_small_m(df: pd.DataFrame, dtype: str, hbm: float) -> dict[str, Any] | None:
    """Small-M weight streaming: t = fixed_s + weight_bytes / (mem_frac * HBM_peak).

    Rows: M <= 64, N >= 1024, 1024 <= K <= 16384 and weight bytes >= 16 MiB (N*K*bytes per
    element, scales included; activations and outputs ignored). Relative-weighted least
    squares. A fitted mem_frac > 1 is unphysical: the latency is flat in the weight size
    (launch/host bound), so the result is flagged ``flat`` and the median latency of the
    rows is reported instead (``flat_median_s``).
    """
    _, bpe, _ = GEMM_DTYPES[dtype]
    d = df[
        (df.gemm_dtype == dtype)
        & (df.m <= SMALL_M_MAX)
        & (df.n >= SMALL_M_MIN_DIM)
        & df.k.between(SMALL_M_MIN_DIM, SMALL_M_MAX_K)
    ]
    wb = d.n * d.k * bpe
    d = d[wb >= SMALL_M_MIN_WEIGHT_BYTES]
    if len(d) < 10:
        return None
    f = fit_intercept_slope((d.n * d.k * bpe).to_numpy(), d.t.to_numpy())
    frac = 1.0 / (f.slope * hbm)
    return {
        "fixed_s": f.intercept,
        "mem_frac": frac,
        "rms_rel": f.rms_rel,
        "max_rel": f.max_rel,
        "n": f.n,
        "flat": bool(frac > 1.0),
        "flat_median_s": float(d.t.median()),
    }


def gemm_large_m(df: pd.DataFrame, dtype: str, peak: float) -> dict[str, Any] | None:
    """Large-M compute fraction: 2*M*N*K / t / dense peak of the dtype.

    Rows: M in {4096, 8192, 16384}, N and K both in [7168, 16384] (70B-class projections).
    Reports the median over rows and the min/max.
    """
    d = df[(df.gemm_dtype == dtype) & df.m.isin(LARGE_M) & df.n.between(*LARGE_NK) & df.k.between(*LARGE_NK)]
    if d.empty:
        return None
    frac = 2.0 * d.m * d.n * d.k / d.t / peak
    return {
        "compute_frac": float(frac.median()),
        "min": float(frac.min()),
        "max": float(frac.max()),
        "n": len(d),
        "tflops_median": float((2.0 * d.m * d.n * d.k / d.t).median() / 1e12),
    }


def gemm_mid_m(df: pd.DataFrame, dtype: str, peak: float, hbm: float) -> dict[str, Any] | None:
    """Mid-M (M = 512) on the same 70B-class shapes: roofline time / measured time.

    Roofline time = max(2MNK / peak, (weight + activation + output bytes) / HBM_peak).
    """
    _, bpe, _ = GEMM_DTYPES[dtype]
    d = df[(df.gemm_dtype == dtype) & (df.m == MID_M) & df.n.between(*LARGE_NK) & df.k.between(*LARGE_NK)]
    if d.empty:
        return None
    t_c = 2.0 * d.m * d.n * d.k / peak
    t_m = (d.n * d.k * bpe + d.m * d.k * 2 + d.m * d.n * 2) / hbm
    eff = np.maximum(t_c, t_m) / d.t
    return {"roofline_frac": float(eff.median()), "compute_frac": float((t_c / d.t).median()), "n": len(d)}


SHAPE_MIN_M = 2048          # compute-bound rows for the shape fit
SHAPE_NK = (1024, 16384)    # N and K of tensor-parallel shards of 7B-400B models
SHAPE_GRID = np.geomspace(8.0, 32768.0, 97)


def gemm_shape(df: pd.DataFrame, dtype: str, peak: float) -> dict[str, Any] | None:
    """Compute fraction by the GEMM's width and depth: eff = F * N/(N + n_half) * K/(K + k_half).

    n_half is a cost per element of the M x K input (activation quantisation and loading,
    whatever N), in columns of output; k_half a cost per element of the M x N output (the
    epilogue: scales, bf16 write, whatever K), in steps of the K loop. Rows: M >= 2048,
    N and K in [1024, 16384]. Fit in log: (n_half, k_half) on a log grid, F the geometric
    mean of eff / shape; rms of the log residual beside that of one constant (the median).
    None where the fit is not physical: F above 1 (the asymptote beyond the dense peak) or
    a half width at the grid's edge.
    """
    d = df[(df.gemm_dtype == dtype) & (df.m >= SHAPE_MIN_M) & df.n.between(*SHAPE_NK) & df.k.between(*SHAPE_NK)]
    if len(d) < 20:
        return None
    N = d.n.to_numpy(dtype=float)
    K = d.k.to_numpy(dtype=float)
    log_eff = np.log(2.0 * d.m.to_numpy(dtype=float) * N * K / d.t.to_numpy() / peak)
    best = None
    for nh in SHAPE_GRID:
        fn = np.log(N / (N + nh))
        for kh in SHAPE_GRID:
            shape = fn + np.log(K / (K + kh))
            log_f = float(np.mean(log_eff - shape))
            rms = float(np.sqrt(np.mean((log_eff - shape - log_f) ** 2)))
            if best is None or rms < best[0]:
                best = (rms, float(nh), float(kh), float(np.exp(log_f)))
    assert best is not None
    rms, nh, kh, f = best
    if f > 1.0 or max(nh, kh) >= SHAPE_GRID[-1]:
        return None         # the asymptote above peak, or a width at the grid's edge: no fit
    const = float(np.sqrt(np.mean((log_eff - np.median(log_eff)) ** 2)))
    return {"compute_frac": f, "n_half": nh, "k_half": kh, "rms_log": rms, "rms_log_const": const, "n": len(d)}


# --------------------------------------------------------------------------------------
# Attention
# --------------------------------------------------------------------------------------


def gqa_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Llama-style GQA shapes: head_dim 128, no sliding window, H/KV in {4, 8}, KV in {1,2,4,8}.

    Where the table lists several kernels for the same shape, only the kernel with the
    most rows in this selection (the engine's primary lane) is kept.
    """
    d = df[(df.head_dim == ATTN_HEAD_DIM) & (df.window_size == 0) & df.num_key_value_heads.isin(ATTN_KV_HEADS)]
    d = d[(d.num_heads % d.num_key_value_heads == 0) & (d.num_heads // d.num_key_value_heads).isin(ATTN_GQA_RATIOS)]
    if d.kernel_source.nunique() > 1:
        d = d[d.kernel_source == d.kernel_source.value_counts().idxmax()]
    return d


def attention_decode(path: Path, kv_dtype: str, hbm: float) -> dict[str, Any] | None:
    """Decode attention per layer: t = floor_s + kv_bytes / (frac * HBM_peak).

    kv_bytes = batch * (step + 1) * 2 (K and V) * KV heads * head_dim * bytes(kv dtype),
    with step+1 the cached length. Rows: GQA shapes (see gqa_rows), batch <= 256, cached
    length >= 256 (below it a per-sequence cost, not the KV bytes, sets the time at large
    batch). Relative-weighted least squares. Also a three-term fit over all lengths,
    t = floor + c_seq * batch + kv_bytes / (frac * HBM), exposing that per-sequence cost.
    """
    df = pd.read_parquet(path)
    d_all = gqa_rows(df[df.kv_cache_dtype == kv_dtype])
    d_all = d_all[d_all.batch_size <= ATTN_DECODE_MAX_BATCH]
    d_all = d_all.groupby(["batch_size", "num_heads", "num_key_value_heads", "step"], as_index=False).latency.median()
    bpe = 1.0 if kv_dtype == "fp8" else 2.0
    kv_all = d_all.batch_size * (d_all.step + 1) * 2 * d_all.num_key_value_heads * ATTN_HEAD_DIM * bpe
    d = d_all[d_all.step + 1 >= ATTN_DECODE_MIN_LEN]
    if len(d) < 20:
        return None
    kvb = d.batch_size * (d.step + 1) * 2 * d.num_key_value_heads * ATTN_HEAD_DIM * bpe
    f = fit_intercept_slope(kvb.to_numpy(), d.latency.to_numpy() * MS)
    t = d_all.latency.to_numpy() * MS
    a3 = np.column_stack([1 / t, d_all.batch_size / t, kv_all / t])
    (f0, cs, s3), *_ = np.linalg.lstsq(a3, np.ones_like(t), rcond=None)
    res3 = (t - f0 - cs * d_all.batch_size - s3 * kv_all) / t
    res2_all = (t - f.intercept - f.slope * kv_all) / t
    tiny = d_all[(d_all.batch_size == 1) & (d_all.step <= 127)]
    return {
        "floor_s": f.intercept,
        "frac": 1.0 / (f.slope * hbm),
        "rms_rel": f.rms_rel,
        "max_rel": f.max_rel,
        "n": f.n,
        "kernel": str(gqa_rows(df[df.kv_cache_dtype == kv_dtype]).kernel_source.iloc[0]),
        "rms_rel_all_lengths": float(np.sqrt(np.mean(res2_all**2))),
        "fit3": {
            "floor_s": float(f0),
            "per_seq_s": float(cs),
            "frac": float(1.0 / (s3 * hbm)),
            "rms_rel": float(np.sqrt(np.mean(res3**2))),
        },
        "tiny_batch1_s": float(tiny.latency.median() * MS) if len(tiny) else None,
    }


def attention_context(path: Path, kv_dtype: str, peak_bf16: float) -> dict[str, Any] | None:
    """Prefill attention at long sequences as a fraction of the 16-bit dense peak.

    FLOPs = 4 * head_dim * num_heads * batch * s(s+1)/2: QK^T and PV (2 FLOPs per MAC
    each) over the causal (query, key) pairs. Rows: GQA shapes, isl >= 8192. Median.
    """
    df = pd.read_parquet(path)
    d = gqa_rows(df[df.kv_cache_dtype == kv_dtype])
    d = d[d.isl >= ATTN_CONTEXT_MIN_ISL]
    if d.empty:
        return None
    d = d.groupby(["batch_size", "num_heads", "num_key_value_heads", "isl"], as_index=False).latency.median()
    flops = 4.0 * ATTN_HEAD_DIM * d.num_heads * d.batch_size * d.isl * (d.isl + 1) / 2
    frac = flops / (d.latency * MS) / peak_bf16
    return {
        "frac": float(frac.median()),
        "min": float(frac.min()),
        "max": float(frac.max()),
        "n": len(d),
        "tflops_median": float((flops / (d.latency * MS)).median() / 1e12),
        "kernel": str(gqa_rows(df[df.kv_cache_dtype == kv_dtype]).kernel_source.iloc[0]),
    }


# --------------------------------------------------------------------------------------
# Elementwise (static fp8 quantisation) and MoE
# --------------------------------------------------------------------------------------


def elementwise(path: Path, hbm: float) -> dict[str, Any] | None:
    """Static per-tensor fp8 quantisation of an M x K bf16 tensor as the elementwise proxy.

    Bytes = M*K*(2 read + 1 write). Two stages, because mid-size tensors (a few to ~100 MB)
    partly hit L2 when the benchmark repeats the op and would inflate a one-shot fit:
    frac from t = a + bytes/(frac * HBM_peak) over rows with bytes >= 256 MiB (relative
    weights); fixed_s = median latency of rows with bytes <= 256 KiB. Residuals of the
    combined model t = fixed_s + bytes/(frac * HBM_peak) are reported over all rows.
    """
    df = pd.read_parquet(path)
    g = df.groupby(["m", "k"], as_index=False).latency.median()
    b = (g.m * g.k * 3.0).to_numpy()
    t = g.latency.to_numpy() * MS
    big = b >= EW_LARGE_MIN_BYTES
    f = fit_intercept_slope(b[big], t[big])
    frac = 1.0 / (f.slope * hbm)
    fixed = float(np.median(t[b <= EW_SMALL_MAX_BYTES]))
    res = (t - fixed - b / (frac * hbm)) / t
    return {
        "fixed_s": fixed,
        "frac": frac,
        "rms_rel": float(np.sqrt(np.mean(res**2))),
        "max_rel": float(np.max(np.abs(res))),
        "rms_rel_large": f.rms_rel,
        "n": len(t),
        "n_large": int(big.sum()),
        "kernel": str(df.kernel_source.iloc[0]),
    }


#: MoE table dtypes -> inferplan expert dtypes, in order of preference (the first present wins).
#: fp8 experts run the block-scaled kernels: the fp8 MoE checkpoints served today (DeepSeek-V3/R1,
#: Qwen3-235B-A22B-FP8, MiniMax-M2.5, GLM-5-FP8) declare quant_method fp8 with weight_block_size
#: [128, 128] in their config.json; per-tensor fp8 MoE is a ModelOpt re-quantisation.
MOE_DTYPE_KEYS: tuple[tuple[str, str], ...] = (
    ("bfloat16", "bf16"), ("fp8_block", "fp8"), ("fp8", "fp8"), ("nvfp4", "fp4"),
    ("w4a16_mxfp4", "fp4"), ("int4_wo", "int4"),
)


#: The MoE kernels an MXFP4 checkpoint (openai/gpt-oss: config.json quant_method "mxfp4")
#: runs, by the activations it multiplies with, written as the expert dtype
#: keys "mxfp4" (BF16 activations: w4a16_mxfp4) and "mxfp4_mxfp8" (MXFP8 activations:
#: w4a8_mxfp4_mxfp8) beside "fp4" (NVFP4 where the chip has it); the engine profile's
#: `ops.mxfp4_activations` says which path runs. TensorRT-LLM (its GPT-OSS deployment
#: guide, "MoE Backend Support Matrix": MXFP8 activations with MXFP4 weights on
#: B200/GB200/B300/GB300, BF16 on H200) and vLLM (model_executor/layers/quantization/
#: mxfp4.py `get_mxfp4_backend`: SM100 with FlashInfer runs MXFP4 x BF16 unless
#: VLLM_USE_FLASHINFER_MOE_MXFP4_MXFP8 selects MXFP4 x MXFP8). SGLang picks its MXFP4
#: runner by flags; not sourced, so no key (its "fp4" constants apply).
MXFP4_MOE_KERNELS: dict[str, str] = {"mxfp4": "w4a16_mxfp4", "mxfp4_mxfp8": "w4a8_mxfp4_mxfp8"}
#: the engines whose MXFP4 path is sourced (above)
MXFP4_ENGINES = ("trtllm", "vllm")


def moe_small_tokens(path: Path, hbm: float) -> dict[str, dict[str, Any]]:
    """MoE layer at few tokens: t = fixed_s + expert_weight_bytes / (frac * HBM_peak).

    Rows: 'balanced' routing, gated kernels (no '_nongated'), num_tokens <= 64, primary
    kernel per dtype (most rows). Activated local experts = min(E/ep, T*topk/ep); bytes =
    activated * 3 * hidden * inter/tp * bytes/element (gate, up, down).
    """
    df = pd.read_parquet(path)
    df = df[(df.distribution == "balanced") & ~df.kernel_source.str.contains("nongated") & (df.num_tokens <= 64)]
    out: dict[str, dict[str, Any]] = {}
    for dtype, d in df.groupby("moe_dtype"):
        if dtype not in MOE_BYTES_PER_ELEMENT:
            continue
        d = d[d.kernel_source == d.kernel_source.value_counts().idxmax()]
        act = np.minimum(d.num_experts / d.moe_ep_size, np.ceil(d.num_tokens * d.topk / d.moe_ep_size))
        b = act * 3 * d.hidden_size * (d.inter_size / d.moe_tp_size) * MOE_BYTES_PER_ELEMENT[dtype]
        keep = b >= 16 * MIB
        if keep.sum() < 10:
            continue
        f = fit_intercept_slope(b[keep].to_numpy(), d.latency[keep].to_numpy() * MS)
        out[str(dtype)] = {
            "fixed_s": f.intercept,
            "frac": 1.0 / (f.slope * hbm),
            "rms_rel": f.rms_rel,
            "n": f.n,
            "kernel": str(d.kernel_source.iloc[0]),
        }
    return out


#: the peak a MoE kernel's math runs at, by table dtype (weight-only 4-bit multiplies in bf16)
MOE_PEAK_DTYPE: dict[str, str] = {
    "bfloat16": "bf16", "fp8": "fp8", "fp8_block": "fp8", "nvfp4": "fp4",
    "w4a16_mxfp4": "bf16", "w4a8_mxfp4_mxfp8": "fp8", "int4_wo": "bf16",
}
MOE_LARGE_MIN_TOKENS = 4096
#: The routing the many-token MoE fit reads. A prefill step's grouped GEMM finishes with its
#: most loaded expert, and a trained router does not spread tokens evenly: the tables'
#: power-law rows (alpha 1.01) take 1.05-1.3x the balanced rows' time at >= 4096 tokens.
#: aiconfigurator prices real models the same way (sdk/config.py workload_distribution
#: "power_law", sdk/models/deepseek.py alpha 1.01). The few-token (decode) fit keeps the
#: balanced rows: there inferplan counts the experts a step touches under uniform routing
#: (`cost.expected_distinct_experts`), which the balanced rows measure.
MOE_LARGE_DISTRIBUTION = "power_law_1.01"


def moe_large_tokens(path: Path, peak_flops: dict[str, float]) -> dict[str, dict[str, Any]]:
    """MoE layer at many tokens: FLOP/s = F_max * n / (n + n_half), n = inter/moe_tp.

    Rows: `MOE_LARGE_DISTRIBUTION` routing (power law, alpha 1.01), gated kernels,
    num_tokens >= 4096, moe_ep_size 1, primary kernel per dtype. FLOPs per device = 2 * T * topk * 3 * hidden * inter / tp (gate,
    up, down). A grouped GEMM whose experts are split tp ways runs narrow tiles; the
    fraction of the dtype's peak saturates with the local width n. Fit: n_half on a
    log grid, F_max the geometric mean of achieved / (n / (n + n_half)); rms in log.
    """
    df = pd.read_parquet(path)
    df = df[(df.distribution == MOE_LARGE_DISTRIBUTION)
            & ~df.kernel_source.str.contains("nongated")
            & (df.num_tokens >= MOE_LARGE_MIN_TOKENS) & (df.moe_ep_size == 1)]
    out: dict[str, dict[str, Any]] = {}
    for dtype, d in df.groupby("moe_dtype"):
        peak_key = MOE_PEAK_DTYPE.get(str(dtype))
        if peak_key is None or peak_key not in peak_flops:
            continue
        d = d[d.kernel_source == d.kernel_source.value_counts().idxmax()]
        if len(d) < 10:
            continue
        flops = 2.0 * d.num_tokens * d.topk * 3 * d.hidden_size * d.inter_size / d.moe_tp_size
        achieved = (flops / (d.latency * MS)).to_numpy()
        n = (d.inter_size / d.moe_tp_size).to_numpy()
        best: tuple[float, float, float] | None = None
        for n_half in np.geomspace(8.0, 8192.0, 241):
            r = np.log(achieved) - np.log(n / (n + n_half))
            rms = float(np.sqrt(np.mean((r - r.mean()) ** 2)))
            if best is None or rms < best[2]:
                best = (float(np.exp(r.mean())), float(n_half), rms)
        assert best is not None
        out[str(dtype)] = {
            "flops_per_s": best[0], "half_width": best[1], "rms_log": best[2], "n": len(d),
            "kernel": str(d.kernel_source.iloc[0]), "peak_key": peak_key,
            "frac_of_peak": best[0] / peak_flops[peak_key],
        }
    return out


#: A Gated DeltaNet prefill step's work, in tokens x value heads, above which the chunked
#: kernel runs at its throughput (the fit's rows): 2^22, a 8192-token prompt at 512 heads.
GDN_LARGE_UNITS = 2 ** 22


def linear_attention_context(path: Path) -> dict[str, Any]:
    """Gated DeltaNet prefill per layer: t = fixed + B*S*Nv * s_per_token_head.

    Rows: the 'context' phase; per (model, heads, batch, length) the layer's two kernels
    summed (the short causal convolution and the chunked gated delta rule). fixed = the
    median time of a one-token prompt (launch and chunk-loop floor); s_per_token_head =
    the median of (t - fixed) / (B*S*Nv) over rows of at least `GDN_LARGE_UNITS`, Nv the
    value heads the kernel ran (a rank's share under tp). The chunked kernel is latency and
    occupancy bound: a few % of the 16-bit peak, so its FLOPs would price it far too low.
    """
    df = pd.read_parquet(path)
    df = df[df.phase == "context"]
    if df.empty:
        return {}
    per = df.pivot_table(index=["model_name", "num_v_heads", "num_k_heads", "batch_size",
                                "seq_len"], columns="kernel_source", values="latency").dropna()
    kernels = sorted(str(k) for k in per.columns)
    per = per.assign(total=per.sum(axis=1)).reset_index()
    units = per.batch_size * per.seq_len * per.num_v_heads
    one = per[(per.batch_size == 1) & (per.seq_len == 1)].total
    big = per[units >= GDN_LARGE_UNITS]
    if one.empty or len(big) < 10:
        return {}
    fixed = float(one.median()) * MS
    slope = ((big.total * MS - fixed) / units[big.index]).to_numpy()
    rate = float(np.median(slope))
    return {"fixed_s": fixed, "s_per_token_head": rate, "n": len(big), "kernels": kernels,
            "spread": [float(x) for x in np.percentile(slope / rate, [10, 90])]}


MOE_EP_MIN_ROWS = 10


def moe_ep_imbalance(path: Path) -> dict[int, float]:
    """MoE layer at many tokens split over ep expert-parallel ranks: the extra time uneven
    routing costs there, over what it costs at ep = 1 (which `moe_large_tokens` reads).

    With ep > 1 each rank computes its own experts' tokens and the step waits for the
    rank that drew the most; a power-law router (alpha 1.01, `MOE_LARGE_DISTRIBUTION`)
    loads some ranks well above the mean, and the more ranks the larger the fullest one's
    excess. Rows: gated kernels, num_tokens >= 4096, every dtype, kernel and shape holding
    both routings; per row r = t(power law) / t(balanced); factor(ep) = median r at ep /
    median r at ep = 1 (at least `MOE_EP_MIN_ROWS` rows each), floored at 1.
    """
    df = pd.read_parquet(path)
    df = df[~df.kernel_source.str.contains("nongated") & (df.num_tokens >= MOE_LARGE_MIN_TOKENS)
            & df.distribution.isin(["balanced", MOE_LARGE_DISTRIBUTION])]
    key = ["moe_dtype", "kernel_source", "num_tokens", "hidden_size", "inter_size", "topk",
           "num_experts", "moe_tp_size", "moe_ep_size"]
    both = df.pivot_table(index=key, columns="distribution", values="latency").dropna()
    if both.empty or MOE_LARGE_DISTRIBUTION not in both:
        return {}
    ratio = (both[MOE_LARGE_DISTRIBUTION] / both["balanced"]).groupby(level="moe_ep_size")
    counts, medians = ratio.size(), ratio.median()
    if counts.get(1, 0) < MOE_EP_MIN_ROWS:
        return {}
    base = float(medians[1])
    return {int(ep): max(1.0, float(medians[ep]) / base) for ep in medians.index
            if ep > 1 and counts[ep] >= MOE_EP_MIN_ROWS}


def pick_moe_dtypes(fits: dict[str, dict[str, Any]], engine: str = ""
                    ) -> dict[str, tuple[str, dict[str, Any]]]:
    """Our dtype -> (table dtype, its fit): the first table dtype of MOE_DTYPE_KEYS that
    has a fit (fp8_block before fp8; nvfp4 before w4a16_mxfp4), and for an engine of
    MXFP4_ENGINES the MXFP4_MOE_KERNELS keys whose kernel has a fit."""
    out: dict[str, tuple[str, dict[str, Any]]] = {}
    for table_dtype, ours in MOE_DTYPE_KEYS:
        if ours not in out and table_dtype in fits:
            out[ours] = (table_dtype, fits[table_dtype])
    for ours, table_dtype in MXFP4_MOE_KERNELS.items():
        if engine in MXFP4_ENGINES and table_dtype in fits:
            out[ours] = (table_dtype, fits[table_dtype])
    return out


# --------------------------------------------------------------------------------------
# Assembly
# --------------------------------------------------------------------------------------


def sig(x: float, digits: int = 3) -> float:
    """Round to significant digits for the YAML."""
    return float(f"{x:.{digits}g}")


def derive_chip(wheel_dir: Path, engine: str, chip: Chip) -> tuple[dict[str, Any], dict[str, Any]]:
    """All constants for one engine on one chip: (yaml block, details for the report)."""
    root = data_root(wheel_dir)
    s = chip.system
    ymap: dict[str, Any] = {}
    src: dict[str, str] = {}
    det: dict[str, Any] = {"versions": {}}

    # ---- all-reduce
    ar_path = newest_table(root, s, "comm", engine, "custom_allreduce_perf.parquet")
    nccl_path = newest_table(root, s, "comm", "nccl", "nccl_perf.parquet")
    if ar_path is not None:
        det["versions"]["comm"] = table_version(ar_path)
        custom_curves = allreduce_curves(ar_path, CUSTOM_AR_KERNELS[engine], "allreduce_dtype", "bfloat16")
        ar = allreduce_constants(custom_curves, chip.link_bytes_per_s)
        det["allreduce_custom"] = ar
        if EAGER_AR_KERNELS[engine]:
            det["allreduce_eager"] = allreduce_constants(
                allreduce_curves(ar_path, EAGER_AR_KERNELS[engine], "allreduce_dtype", "bfloat16"),
                chip.link_bytes_per_s,
            )
        lat: dict[str, dict[int, float]] = {"custom": {p: sig(v) for p, v in sorted(ar["alpha"].items())}}
        curve: dict[str, dict[int, dict[int, float]]] = {"custom": allreduce_curve(custom_curves)}
        nccl_note = "no NCCL table"
        if nccl_path is not None:
            nccl_curves = allreduce_curves(nccl_path, (), "nccl_dtype", "half")
            nc = allreduce_constants(nccl_curves, chip.link_bytes_per_s)
            det["allreduce_nccl"] = nc
            det["versions"]["nccl"] = table_version(nccl_path)
            lat["nccl"] = {p: sig(v) for p, v in sorted(nc["alpha"].items())}
            curve["nccl"] = allreduce_curve(nccl_curves)
            nccl_note = (
                f"nccl: {rel(nccl_path, wheel_dir)}, op all_reduce, nccl_dtype half (same bytes as bf16), "
                "same 16/32/64 KiB median"
            )
        ymap["allreduce_latency_s"] = lat
        ymap["allreduce_curve_s"] = {k: v for k, v in curve.items() if v}
        src["allreduce_curve_s"] = (
            "the same tables and kernels as allreduce_latency_s: the latency of one call per group "
            "size and message size (bytes of bf16), powers of two from 16 KiB to 64 MiB; the min "
            "over the listed kernels at each size"
        )
        src["allreduce_latency_s"] = (
            f"custom: {rel(ar_path, wheel_dir)}, kernel_source {'/'.join(CUSTOM_AR_KERNELS[engine])} (CUDA graph), "
            f"bfloat16; median latency over 16, 32, 64 KiB messages (message_size = elements, x2 bytes); {nccl_note}"
        )
        if ar["eff_by_p"]:
            ymap["link_efficiency_by_p"] = {p: sig(v, 2) for p, v in sorted(ar["eff_by_p"].items())}
            src["link_efficiency_by_p"] = (
                f"{rel(ar_path, wheel_dir)}, graph-mode kernel, messages >= 64 MiB: t = a_p + 2(p-1)/p V/(W*eff_p) "
                f"fitted per p with W = {chip.link_bytes_per_s:.3g} B/s per direction ({chip.hw_source}); "
                "eff_p > 1 at p = 8 on NVSwitch: in-switch reduction (NVLS) moves less than the ring bound"
            )
        if "eff" in ar:
            ymap["link_efficiency"] = sig(ar["eff"], 2)
            per_p = ", ".join(f"p={p}: {v:.2f}" for p, v in sorted(ar["eff_by_p"].items()))
            src["link_efficiency"] = (
                f"{rel(ar_path, wheel_dir)}, graph-mode kernel, messages >= 64 MiB: t = a_p + 2(p-1)/p V/(W*eff) with "
                f"W = {chip.link_bytes_per_s:.3g} B/s per direction ({chip.hw_source}); one eff over all p, "
                f"intercept per p (rms rel. residual {ar['eff_rms']:.3f}, {ar['large_n']} points); per p: {per_p}"
            )

    # ---- GEMM
    gemm_path = newest_table(root, s, "gemm", engine, "gemm_perf.parquet")
    if gemm_path is not None:
        det["versions"]["gemm"] = table_version(gemm_path)
        g = load_gemm(gemm_path)
        fixed, mem, comp, gdet, widths = {}, {}, {}, {}, {}
        for dt, (key, _, peak_key) in GEMM_DTYPES.items():
            if dt not in set(g.gemm_dtype) or peak_key not in chip.peak_flops:
                continue
            sm = gemm_small_m(g, dt, chip.hbm_bytes_per_s)
            lm = gemm_large_m(g, dt, chip.peak_flops[peak_key])
            mm = gemm_mid_m(g, dt, chip.peak_flops[peak_key], chip.hbm_bytes_per_s)
            sh = gemm_shape(g, dt, chip.peak_flops[peak_key])
            gdet[key] = {"small_m": sm, "large_m": lm, "mid_m": mm, "shape": sh}
            if sm and not sm["flat"]:
                fixed[key] = sig(sm["fixed_s"])
                mem[key] = sig(sm["mem_frac"], 2)
            if sh:
                comp[key] = sig(sh["compute_frac"], 2)
                widths[key] = {"n": sig(sh["n_half"]), "k": sig(sh["k_half"])}
            elif lm:
                comp[key] = sig(lm["compute_frac"], 2)
        det["gemm"] = gdet
        ks = pd.read_parquet(gemm_path).groupby("gemm_dtype").kernel_source.unique()
        kern = "; ".join(f"{d}: {'/'.join(map(str, v))}" for d, v in ks.items() if d in GEMM_DTYPES)
        if fixed:
            ymap["gemm_fixed_s"] = fixed
            ymap["gemm_memory_fraction"] = mem
            fits = {k: v["small_m"] for k, v in gdet.items() if v["small_m"]}
            fitq = "; ".join(
                f"{k}: rms {v['rms_rel']:.3f}, max {v['max_rel']:.2f}, n={v['n']}"
                for k, v in fits.items()
                if not v["flat"]
            )
            flat = "; ".join(
                f"{k} omitted: latency flat in weight size (median {v['flat_median_s'] * 1e6:.0f} us "
                f"over the rows, fit gives frac {v['mem_frac']:.1f} > 1), launch/host bound"
                for k, v in fits.items()
                if v["flat"]
            )
            src["gemm_fixed_s"] = (
                f"{rel(gemm_path, wheel_dir)} (kernels {kern}); rows M <= 64, N >= 1024, 1024 <= K <= 16384, weight "
                f"bytes >= 16 MiB; fit t = fixed + N*K*bytes_per_weight / (frac * {chip.hbm_bytes_per_s:.3g} B/s), "
                f"relative-weighted least squares (bytes/weight: bf16 2, fp8 1, fp8_block 1+scales, nvfp4 0.5625); "
                f"residuals {fitq}" + (f"; {flat}" if flat else "")
            )
            src["gemm_memory_fraction"] = "same fit as gemm_fixed_s (frac = mem_frac)"
        if comp:
            ymap["gemm_compute_fraction"] = comp
            rng = "; ".join(
                f"{k}: {v['large_m']['min']:.2f}-{v['large_m']['max']:.2f} "
                f"({v['large_m']['tflops_median']:.0f} TFLOP/s median, n={v['large_m']['n']})"
                for k, v in gdet.items()
                if v["large_m"]
            )
            src["gemm_compute_fraction"] = (
                f"{rel(gemm_path, wheel_dir)}; median of 2MNK/t / dense peak ({chip.hw_source}: "
                f"{', '.join(f'{k} {v:.4g}' for k, v in chip.peak_flops.items())} FLOP/s) over M in 4096/8192/16384, "
                f"N and K in [7168, 16384]; range {rng}"
            )
        if widths:
            shapes = {k: v["shape"] for k, v in gdet.items() if v["shape"]}
            fitq = "; ".join(
                f"{k}: F {v['compute_frac']:.2f}, n_half {v['n_half']:.0f}, k_half {v['k_half']:.0f}, rms log "
                f"{v['rms_log']:.3f} (one constant: {v['rms_log_const']:.3f}), n={v['n']}"
                for k, v in shapes.items()
            )
            ymap["gemm_half_width"] = widths
            src["gemm_compute_fraction"] = (
                f"{rel(gemm_path, wheel_dir)}; the asymptote F of eff = 2MNK/t / dense peak = F N/(N+n_half) "
                f"K/(K+k_half) ({chip.hw_source}: "
                f"{', '.join(f'{k} {v:.4g}' for k, v in chip.peak_flops.items())} FLOP/s), fitted in log over M >= "
                f"{SHAPE_MIN_M}, N and K in [{SHAPE_NK[0]}, {SHAPE_NK[1]}] (dtypes without the fit: the median over "
                f"M in 4096/8192/16384, N and K in [7168, 16384]); {fitq}"
            )
            src["gemm_half_width"] = (
                "same fit as gemm_compute_fraction: n_half, a cost per element of the M x K input (activation "
                "quantisation and loading, whatever N) in columns of output; k_half, a cost per element of the "
                "M x N output (the epilogue: scales and the bf16 write, whatever K) in steps of the K loop"
            )

    # ---- attention
    gen_path = newest_table(root, s, "attention", engine, "generation_attention_perf.parquet")
    if gen_path is not None:
        det["versions"]["attention"] = table_version(gen_path)
        dec = {kv: attention_decode(gen_path, kv, chip.hbm_bytes_per_s) for kv in ("bfloat16", "fp8")}
        det["attention_decode"] = dec
        a = dec["bfloat16"]
        if a:
            ymap["attention_fixed_s"] = sig(a["floor_s"])
            ymap["attention_memory_fraction"] = sig(a["frac"], 2)
            fp8 = dec["fp8"]
            fp8_note = (
                f"; fp8 KV cache: floor {fp8['floor_s'] * 1e6:.1f} us, frac {fp8['frac']:.2f} "
                f"(rms {fp8['rms_rel']:.3f})"
                if fp8
                else ""
            )
            src["attention_fixed_s"] = (
                f"{rel(gen_path, wheel_dir)}, kernel {a['kernel']}, kv_cache_dtype bfloat16; GQA rows head_dim 128, "
                f"window 0, H/KV in 4/8, KV heads 1-8, batch 1-256, cached length step+1 = 256..131072; fit "
                f"t = floor + kv_bytes/(frac*{chip.hbm_bytes_per_s:.3g}) with kv_bytes = b*(step+1)*2*KV*128*2, "
                f"relative-weighted LSQ (rms {a['rms_rel']:.3f}, max {a['max_rel']:.2f}, n={a['n']}; rms "
                f"{a['rms_rel_all_lengths']:.3f} over all lengths 2..131072); a 3-term fit over all lengths adds "
                f"{a['fit3']['per_seq_s'] * 1e9:.0f} ns per sequence{fp8_note}"
            )
            src["attention_memory_fraction"] = "same fit as attention_fixed_s"
    ctx_path = newest_table(root, s, "attention", engine, "context_attention_perf.parquet")
    if ctx_path is not None:
        c = attention_context(ctx_path, "bfloat16", chip.peak_flops["bf16"])
        det["attention_context"] = {"bfloat16": c, "fp8": attention_context(ctx_path, "fp8", chip.peak_flops["bf16"])}
        if c:
            ymap["attention_compute_fraction"] = sig(c["frac"], 2)
            src["attention_compute_fraction"] = (
                f"{rel(ctx_path, wheel_dir)}, kernel {c['kernel']}, kv_cache_dtype bfloat16; GQA rows (head_dim 128, "
                f"window 0, H/KV 4/8), isl 8192-16384, all batches; FLOPs = 4*128*H*b*s(s+1)/2 (causal pairs, QK and "
                f"PV); median {c['tflops_median']:.0f} TFLOP/s / {chip.peak_flops['bf16']:.4g} = {c['frac']:.2f} "
                f"(range {c['min']:.2f}-{c['max']:.2f}, n={c['n']})"
            )

    gdn_path = newest_table(root, s, "linear_attention", engine, "gdn_perf.parquet")
    if gdn_path is not None:
        g = linear_attention_context(gdn_path)
        det["linear_attention"] = g
        if g:
            ymap["linear_attention_fixed_s"] = sig(g["fixed_s"])
            ymap["linear_attention_s_per_token_head"] = sig(g["s_per_token_head"])
            src["linear_attention_fixed_s"] = (
                f"{rel(gdn_path, wheel_dir)}, context phase, kernels {' + '.join(g['kernels'])} summed "
                f"per layer (Qwen3.5 shapes); the median time of a one-token prompt"
            )
            src["linear_attention_s_per_token_head"] = (
                f"same table: median (t - fixed)/(batch*length*value heads) over the {g['n']} rows of at "
                f">= {GDN_LARGE_UNITS} token-heads (10-90% of the rows within "
                f"{g['spread'][0]:.2f}-{g['spread'][1]:.2f}x)"
            )

    # ---- elementwise
    q_path = newest_table(root, s, "quantize", engine, "scale_matrix_perf.parquet")
    if q_path is not None:
        det["versions"]["quantize"] = table_version(q_path)
        e = elementwise(q_path, chip.hbm_bytes_per_s)
        det["elementwise"] = e
        if e and engine in ELEMENTWISE_EXCLUDE:
            e["excluded"] = ELEMENTWISE_EXCLUDE[engine]
        elif e:
            ymap["elementwise_fixed_s"] = sig(e["fixed_s"])
            ymap["elementwise_memory_fraction"] = sig(e["frac"], 2)
            src["elementwise_fixed_s"] = (
                f"{rel(q_path, wheel_dir)} (kernel {e['kernel']}): static fp8 quantisation of an M x K bf16 "
                f"tensor, the only elementwise table; bytes = 3*M*K (read bf16, write fp8), M 1-32768, K 32-65536; "
                f"frac from "
                f"t = a + bytes/(frac*{chip.hbm_bytes_per_s:.3g}) over the {e['n_large']} rows >= 256 MiB (rms "
                f"{e['rms_rel_large']:.3f}); fixed = median latency of rows <= 256 KiB; combined model over all "
                f"{e['n']} rows: rms {e['rms_rel']:.3f}, max {e['max_rel']:.2f} (mid sizes run faster, L2)"
            )
            src["elementwise_memory_fraction"] = "same fit as elementwise_fixed_s"

    # ---- MoE (report only)
    # A newer moe directory can be a delta (TRT-LLM 1.3.0rc23 holds only DeepSeek-V4 shapes and
    # declares reuse of rc20 for the rest), so the version of the GEMM table is preferred.
    moe_path = None
    if gemm_path is not None:
        cand = root / s / "moe" / engine / table_version(gemm_path) / "moe_perf.parquet"
        moe_path = cand if cand.is_file() else None
    moe_path = moe_path or newest_table(root, s, "moe", engine, "moe_perf.parquet")
    if moe_path is not None:
        det["versions"]["moe"] = table_version(moe_path)
        det["moe"] = moe_small_tokens(moe_path, chip.hbm_bytes_per_s)
        small = pick_moe_dtypes(det["moe"], engine)
        moe_fixed = {ours: sig(m["fixed_s"]) for ours, (_, m) in small.items()}
        moe_frac = {ours: sig(min(m["frac"], 1.0), 2) for ours, (_, m) in small.items()}
        picked = {ours: f"{td} ({m['kernel']}, rms {m['rms_rel']:.2f}, n={m['n']})"
                  for ours, (td, m) in small.items()}
        if moe_fixed:
            ymap["moe_fixed_s"] = moe_fixed
            ymap["moe_memory_fraction"] = moe_frac
            src["moe_fixed_s"] = (
                f"{rel(moe_path, wheel_dir)}: balanced routing, gated kernels, <= 64 tokens, expert "
                "bytes >= 16 MiB; fit t = fixed + expert_bytes / (frac * HBM peak) per MoE layer "
                "(gate-up, activation and down of the routed experts); "
                + "; ".join(f"{k}: {v}" for k, v in picked.items())
            )
            src["moe_memory_fraction"] = (
                "same fit as moe_fixed_s, capped at 1 (above 1 the activated-expert byte model "
                "counts more bytes than the kernel reads)"
            )
        det["moe_large"] = moe_large_tokens(moe_path, chip.peak_flops)
        large = pick_moe_dtypes(det["moe_large"], engine)
        moe_flops = {ours: sig(m["flops_per_s"]) for ours, (_, m) in large.items()}
        moe_half = {ours: sig(m["half_width"]) for ours, (_, m) in large.items()}
        picked = {ours: (f"{td} ({m['kernel']}, {m['frac_of_peak']:.2f} of the {m['peak_key']} "
                         f"peak, rms {m['rms_log']:.2f} in log, n={m['n']})")
                  for ours, (td, m) in large.items()}
        if moe_flops:
            ymap["moe_flops_per_s"] = moe_flops
            ymap["moe_half_width"] = moe_half
            src["moe_flops_per_s"] = (
                f"{rel(moe_path, wheel_dir)}: {MOE_LARGE_DISTRIBUTION} routing (a prefill's "
                "grouped GEMM waits for its most loaded expert), gated kernels, >= "
                f"{MOE_LARGE_MIN_TOKENS} tokens, moe_ep_size 1; fit FLOP/s = F_max * n / (n + n_half) "
                "with n = inter/moe_tp (the grouped GEMM's local width), FLOPs = 2 T topk 3 hidden "
                "inter/tp; " + "; ".join(f"{k}: {v}" for k, v in picked.items())
            )
            src["moe_half_width"] = "same fit as moe_flops_per_s (columns of an expert's local width)"
        det["moe_ep_imbalance"] = imbalance = moe_ep_imbalance(moe_path)
        if moe_flops and imbalance:
            ymap["moe_ep_imbalance"] = {ep: sig(f) for ep, f in sorted(imbalance.items())}
            src["moe_ep_imbalance"] = (
                f"{rel(moe_path, wheel_dir)}: >= {MOE_LARGE_MIN_TOKENS} tokens, gated kernels, "
                f"every dtype and shape with both routings; per ep the median of t({MOE_LARGE_DISTRIBUTION})"
                " / t(balanced) over that median at ep 1: the fullest expert-parallel rank's excess "
                "under uneven routing, beyond the ep-1 rate moe_flops_per_s already holds"
            )

    if ymap:
        ymap["sources"] = src
    return ymap, det


def derive_all(wheel_dir: Path) -> dict[str, dict[str, Any]]:
    """Every engine x chip: {'engine': {'chips': {...}, 'details': {...}}}."""
    out: dict[str, dict[str, Any]] = {}
    for engine in ENGINES:
        chips, details = {}, {}
        for chip in CHIPS:
            if not (data_root(wheel_dir) / chip.system).is_dir():
                continue
            ymap, det = derive_chip(wheel_dir, engine, chip)
            if ymap:
                chips[chip.name] = ymap
                details[chip.name] = det
        out[engine] = {"chips": chips, "details": details}
    return out


def wheel_version(wheel_dir: Path) -> str:
    """Version of the unzipped wheel, from its dist-info directory name."""
    for p in wheel_dir.glob("aiconfigurator_core-*.dist-info"):
        return p.name.removeprefix("aiconfigurator_core-").removesuffix(".dist-info")
    return "unknown"


def engine_yaml(engine: str, result: dict[str, Any], wheel_dir: Path) -> dict[str, Any]:
    """The YAML document for one engine."""
    versions: dict[str, set[str]] = {}
    for det in result["details"].values():
        for op, v in det["versions"].items():
            versions.setdefault(op, set()).add(v)
    main = sorted(versions.get("gemm", set()) | versions.get("attention", set()), key=version_key)
    per_op = "; ".join(f"{op} {'/'.join(sorted(v, key=version_key))}" for op, v in sorted(versions.items()))
    return {
        "name": engine,
        "version": main[-1] if main else "",
        "tables": (
            f"aiconfigurator-core {wheel_version(wheel_dir)}, systems/data/<system>/<op>/{engine}/<version>/ "
            f"(newest version directory holding the table, per op: {per_op}; NCCL from "
            "systems/data/<system>/comm/nccl/<version>/)"
        ),
        "chips": result["chips"],
    }


def print_summary(results: dict[str, dict[str, Any]]) -> None:
    """Human-readable dump of every derived number (and the report-only ones)."""
    for engine, res in results.items():
        print(f"\n===== {engine}")
        for chip, det in res["details"].items():
            y = res["chips"][chip]
            print(f"--- {chip}  versions {det['versions']}")
            for k, v in y.items():
                if k != "sources":
                    print(f"  {k}: {v}")
            for k in ("allreduce_custom", "allreduce_eager", "allreduce_nccl"):
                if k in det:
                    d = det[k]
                    print(
                        f"  [{k}] alpha_us {{{', '.join(f'{p}: {a * 1e6:.2f}' for p, a in d['alpha'].items())}}} "
                        f"eff {d.get('eff', float('nan')):.3f} by_p "
                        f"{ {p: round(v, 3) for p, v in d['eff_by_p'].items()} } points_us {d['points_us']}"
                    )
            for dt, g in det.get("gemm", {}).items():
                sm, lm, mm = g["small_m"], g["large_m"], g["mid_m"]
                print(
                    f"  [gemm {dt}] small-M fixed {sm['fixed_s'] * 1e6:.2f} us frac {sm['mem_frac']:.3f} "
                    f"rms {sm['rms_rel']:.3f} max {sm['max_rel']:.2f} n {sm['n']}"
                    + (f" FLAT median {sm['flat_median_s'] * 1e6:.1f} us" if sm["flat"] else "")
                    if sm
                    else f"  [gemm {dt}] -"
                )
                if lm:
                    print(
                        f"      large-M {lm['compute_frac']:.3f} ({lm['min']:.2f}-{lm['max']:.2f}) "
                        f"{lm['tflops_median']:.0f} TFLOP/s; mid-M(512) roofline {mm['roofline_frac']:.2f}"
                    )
            for kv, a in det.get("attention_decode", {}).items():
                if a:
                    print(
                        f"  [decode {kv} {a['kernel']}] floor {a['floor_s'] * 1e6:.2f} us frac {a['frac']:.3f} "
                        f"rms {a['rms_rel']:.3f} max {a['max_rel']:.2f} all {a['rms_rel_all_lengths']:.3f} | "
                        f"3-term floor {a['fit3']['floor_s'] * 1e6:.2f} us per-seq "
                        f"{a['fit3']['per_seq_s'] * 1e9:.0f} ns frac "
                        f"{a['fit3']['frac']:.3f} rms {a['fit3']['rms_rel']:.3f} | b=1 short ctx "
                        f"{(a['tiny_batch1_s'] or 0) * 1e6:.1f} us"
                    )
            for kv, c in det.get("attention_context", {}).items():
                if c:
                    print(
                        f"  [context {kv} {c['kernel']}] frac {c['frac']:.3f} ({c['min']:.2f}-{c['max']:.2f}) "
                        f"{c['tflops_median']:.0f} TFLOP/s"
                    )
            e = det.get("elementwise")
            if e:
                print(
                    f"  [elementwise {e['kernel']}] fixed {e['fixed_s'] * 1e6:.2f} us frac {e['frac']:.3f} "
                    f"rms {e['rms_rel']:.3f} max {e['max_rel']:.2f} rms_large {e['rms_rel_large']:.3f}"
                    + (" EXCLUDED" if "excluded" in e else "")
                )
            for dt, m in det.get("moe", {}).items():
                print(
                    f"  [moe {dt} {m['kernel']}] fixed {m['fixed_s'] * 1e6:.1f} us frac {m['frac']:.3f} "
                    f"rms {m['rms_rel']:.3f} n {m['n']}"
                )


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("wheel_dir", type=Path, help="directory the aiconfigurator-core wheel was unzipped into")
    ap.add_argument("--write", type=Path, help="write <engine>.yaml files into this directory")
    ap.add_argument("--details-json", type=Path, help="dump every intermediate number as JSON")
    args = ap.parse_args(argv)

    results = derive_all(args.wheel_dir)
    print_summary(results)
    if args.write:
        args.write.mkdir(parents=True, exist_ok=True)
        for engine, res in results.items():
            doc = engine_yaml(engine, res, args.wheel_dir)
            with open(args.write / f"{engine}.yaml", "w") as fh:
                fh.write(
                    "# Generated by derive_op_constants.py from aiconfigurator-core per-op tables; "
                    "do not edit by hand.\n"
                )
                yaml.safe_dump(doc, fh, sort_keys=False, width=110, allow_unicode=True)
    if args.details_json:
        args.details_json.write_text(json.dumps({e: r["details"] for e, r in results.items()}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
