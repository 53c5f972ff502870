"""Communication checked against the compiler: for one layer of a small model, the
collectives `inferplan.partitioning.layout_plan` (and `cost.ep_all_to_all_bytes` for
expert parallelism) predicts per layer, beside those in XLA's compiled HLO of the same
layer sharded the same way (`program`), compiled for N host CPU devices.

The JAX work runs in a child process (`python -m inferplan.hlo.worker`) whose
environment sets `XLA_FLAGS=--xla_force_host_platform_device_count=N` before jax is
imported, so the count holds whatever this process has imported; this module never
imports jax.

Rows are keyed by (collective, device group): the model's count per layer and bytes
per device (Σ per_layer·V) against the HLO's. The HLO's elements are priced at the
deployment's compute dtype: XLA:CPU carries bf16 collectives in f32 (it has no bf16
arithmetic and promotes them), which the `hlo_dtype` column shows. An all-reduce whose
result is cut to 1/p by a dynamic-slice is XLA:CPU's reduce-scatter (`parse`) and is
counted as one.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import combinations

import numpy as np

from inferplan.cost import ep_all_to_all_bytes
from inferplan.deployment import Deployment
from inferplan.hardware import catalog_chip
from inferplan.hlo.parse import HloCollective, parse_collectives
from inferplan.hlo.program import GATHERED, LayerProgram, Shape
from inferplan.models import ModelSpec, MoESpec
from inferplan.partitioning import Split, layout_plan, layout_problem, ws2d_split
from inferplan.partitioning.ws2d import wg_split
from inferplan.scenario import build_deployment, parse_scenario
from inferplan.units import InferplanError, dtype_bytes

#: Layouts checked, in table order.
VERIFY_LAYOUTS: tuple[str, ...] = ("megatron", "ws1d", "ws2d", "wg_x", "wg_xy", "wg_xyz",
                                   "ep")
#: HLO op name → the model's collective name.
_KIND = {"all-reduce": "all_reduce", "all-gather": "all_gather",
         "reduce-scatter": "reduce_scatter", "all-to-all": "all_to_all",
         "collective-permute": "collective_permute"}


DEFAULT_SHAPES: tuple[Shape, ...] = (
    Shape(B=8, S=16, D=128, F=256, N=16, K=8, H=8),
    Shape(B=8, S=8, D=256, F=1024, N=8, K=8, H=32),
)


@dataclass(frozen=True)
class Row:
    """One (collective, group) of one layout: the model's and the HLO's per layer."""

    layout: str
    shape: str
    devices: int
    collective: str
    axes: str
    group_size: int
    model_count: int
    model_bytes: float
    hlo_count: int
    hlo_bytes: float
    hlo_ops: str

    @property
    def agree(self) -> str:
        """'yes' (count and bytes), 'bytes' (bytes only: the calls are split or fused
        differently), or 'no'."""
        same = math.isclose(self.model_bytes, self.hlo_bytes, rel_tol=1e-9)
        if same and self.model_count == self.hlo_count:
            return "yes"
        return "bytes" if same else "no"

    def as_dict(self) -> dict[str, object]:
        return {"layout": self.layout, "shape": self.shape, "devices": self.devices,
                "collective": self.collective, "axes": self.axes,
                "group_size": self.group_size, "model_count": self.model_count,
                "model_bytes_per_device": self.model_bytes, "hlo_count": self.hlo_count,
                "hlo_bytes_per_device": self.hlo_bytes, "hlo_ops": self.hlo_ops,
                "agree": self.agree}


def verification_model(shape: Shape, moe: bool = False) -> ModelSpec:
    """The one-layer `ModelSpec` of `shape` (dense, or MoE with `shape.experts` experts
    of width F, top-k)."""
    return ModelSpec(
        name=f"verify-{'moe' if moe else 'dense'}-D{shape.D}", model_type="llama",
        num_layers=1, hidden_size=shape.D, intermediate_size=shape.F,
        num_heads=shape.N, num_kv_heads=shape.K, head_dim=shape.H, vocab_size=1024,
        layer_windows=(None,), layer_moe=(moe,),
        moe=MoESpec(shape.experts, shape.top_k, shape.F) if moe else None)


def verification_deployment(shape: Shape, layout: str, devices: int,
                            hardware: str = "h100-sxm") -> Deployment:
    """`shape` on `devices` chips of `hardware`, bf16 throughout: tp = devices under a
    tensor-parallel `layout`; for 'ep' tp = 1, dp = ep = devices (each replica's
    tokens dispatched over the expert group)."""
    moe = layout == "ep"
    model = verification_model(shape, moe)
    parallelism: dict[str, object] = (
        {"tp": 1, "dp": devices, "ep": devices, "layout": "megatron"} if moe
        else {"tp": devices, "layout": layout})
    raw = {"model": model.name, "hardware": hardware, "chips": devices,
           "parallelism": parallelism,
           "dtypes": {"weights": "bf16", "kv": "bf16", "compute": "bf16"},
           "workload": {"input_len": shape.S, "output_len": 1, "batch": shape.B}}
    dep, _ = build_deployment(parse_scenario(raw), lambda _: model, catalog_chip)
    return dep


def layout_split(dep: Deployment, layout: str) -> Split:
    """The mesh x·y·z the layout runs on: ws2d's split, the weight-gathered layouts'
    stored split, or all n chips as x (megatron, ws1d, ep)."""
    n = dep.layout.ep if layout == "ep" else dep.layout.tp
    if layout == "ws2d":
        split = ws2d_split(dep)
        return split if split is not None else Split(n, 1, 1)
    if layout in GATHERED:
        return wg_split(dep)
    return Split(n, 1, 1)


def axes_groups(split: Split, axes: str) -> frozenset[frozenset[int]]:
    """The device groups over `axes` of a mesh laid out row-major as (x, y, z), the
    order `program` builds it: mesh (2, 1, 2), axes 'x' → {0, 2}, {1, 3}."""
    ids = np.arange(split.n).reshape(split.x, split.y, split.z)
    inner = ["xyz".index(a) for a in axes]
    outer = [i for i in range(3) if i not in inner]
    moved = np.transpose(ids, outer + inner).reshape(-1, math.prod(
        ids.shape[i] for i in inner))
    return frozenset(frozenset(int(v) for v in row) for row in moved)


def _axes_name(split: Split, groups: Sequence[Sequence[int]]) -> str:
    """The shortest axes name ('x', 'yz', 'xyz', ...) whose groups are `groups`, else
    the group size as 'p=…'."""
    wanted = frozenset(frozenset(g) for g in groups)
    for size in (1, 2, 3):
        for axes in combinations("xyz", size):
            if axes_groups(split, "".join(axes)) == wanted:
                return "".join(axes)
    return f"p={len(groups[0])}"


def model_collectives(dep: Deployment, layout: str, shape: Shape
                      ) -> dict[tuple[str, str], tuple[int, float]]:
    """The model's (collective, axes) → (count, bytes per device) per layer."""
    tokens = shape.B * shape.S
    out: dict[tuple[str, str], tuple[int, float]] = {}
    split = layout_split(dep, layout)
    if layout == "ep":
        act = dtype_bytes(dep.dtypes.compute, "dtypes.compute")
        per_replica = tokens / dep.layout.dp
        V = float(ep_all_to_all_bytes(dep.model, per_replica, act))
        everyone = _axes_name(split, sorted(sorted(g) for g in axes_groups(split, "xyz")))
        return {("all_to_all", everyone): (2, 2 * V)}
    for t in layout_plan(dep, layout, tokens).transfers:
        axes = "xyz" if layout in ("megatron", "ws1d") else t.axes
        key = (t.collective, _axes_name(split, sorted(
            sorted(g) for g in axes_groups(split, axes))))
        count, total = out.get(key, (0, 0.0))
        out[key] = (count + t.per_layer, total + t.per_layer * float(t.bytes_per_device))
    return out


def hlo_collectives(dep: Deployment, layout: str, collectives: Sequence[HloCollective]
                    ) -> dict[tuple[str, str], tuple[int, float, set[str]]]:
    """The HLO's (collective, axes) → (count, bytes per device at the compute dtype,
    the ops and dtypes seen)."""
    act = dtype_bytes(dep.dtypes.compute, "dtypes.compute")
    split = layout_split(dep, layout)
    out: dict[tuple[str, str], tuple[int, float, set[str]]] = {}
    for c in collectives:
        kind = "reduce_scatter" if c.is_cpu_reduce_scatter else _KIND[c.op]
        seen = f"{c.op}+slice" if c.is_cpu_reduce_scatter else c.op
        key = (kind, _axes_name(split, c.groups))
        count, total, ops = out.get(key, (0, 0.0, set()))
        out[key] = (count + 1, total + c.elements * act, ops | {f"{seen} {c.dtype}"})
    return out


def layer_program(dep: Deployment, layout: str, shape: Shape) -> LayerProgram:
    """The `LayerProgram` that compiles `layout` on `dep`'s mesh."""
    split = layout_split(dep, layout)
    return LayerProgram(layout, (split.x, split.y, split.z),
                        shape if layout == "ep" else replace(shape, experts=0))


def compile_in_worker(programs: Sequence[LayerProgram], devices: int,
                      timeout_s: float = 300.0) -> list[str]:
    """HLO texts of `programs`, compiled in a child process with `devices` host CPU
    devices (XLA_FLAGS set before its jax import). An `InferplanError` when jax is not
    installed or the compile fails."""
    env = dict(os.environ)
    flag = f"--xla_force_host_platform_device_count={devices}"
    env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} {flag}".strip()
    env["JAX_PLATFORMS"] = "cpu"
    request = json.dumps([p.as_dict() for p in programs])
    try:
        done = subprocess.run([sys.executable, "-m", "inferplan.hlo.worker"], input=request,
                              capture_output=True, text=True, env=env, timeout=timeout_s,
                              check=False)
    except subprocess.TimeoutExpired:
        raise InferplanError("verify-sharding", f"{len(programs)} programs",
                             f"compiling took over {timeout_s:.0f} s") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise InferplanError("verify-sharding", "jax worker", last)
    texts: list[str] = json.loads(done.stdout)
    return texts


def verify_sharding(shapes: Sequence[Shape], devices: int,
                    layouts: Sequence[str] = VERIFY_LAYOUTS,
                    hardware: str = "h100-sxm") -> tuple[list[Row], list[str]]:
    """Rows comparing the model with XLA for every feasible (shape, layout) on
    `devices` chips, and one line per skipped case saying why."""
    if devices < 2:
        raise InferplanError("--devices", devices, "at least 2 devices to shard over")
    jobs: list[tuple[Shape, str, Deployment]] = []
    skipped: list[str] = []
    for shape in shapes:
        for layout in layouts:
            try:
                dep = verification_deployment(shape, layout, devices, hardware)
                problem = None if layout == "ep" else layout_problem(dep, layout)
            except InferplanError as exc:
                problem = str(exc)
            if problem is None:
                problem = _program_problem(dep, layout, shape)
            if problem is not None:
                skipped.append(f"{shape.label()} {layout}: {problem}")
                continue
            jobs.append((shape, layout, dep))
    texts = compile_in_worker([layer_program(d, lay, s) for s, lay, d in jobs], devices)
    rows: list[Row] = []
    for (shape, layout, dep), text in zip(jobs, texts, strict=True):
        split = layout_split(dep, layout)
        model = model_collectives(dep, layout, shape)
        hlo = hlo_collectives(dep, layout, parse_collectives(text, split.n))
        for key in sorted(set(model) | set(hlo)):
            mc, mb = model.get(key, (0, 0.0))
            hc, hb, ops = hlo.get(key, (0, 0.0, set()))
            size = len(next(iter(axes_groups(split, key[1])))) if not key[1].startswith(
                "p=") else int(key[1][2:])
            rows.append(Row(layout, shape.label(), split.n, key[0], key[1], size, mc, mb,
                            hc, hb, ", ".join(sorted(ops))))
    return rows, skipped


def _program_problem(dep: Deployment, layout: str, shape: Shape) -> str | None:
    """Why `program` cannot shard `shape` this way, or None: the KV heads must split
    over the head group, D over all chips, the batch over the gathered (ep: all) axes."""
    split = layout_split(dep, layout)
    n = split.n
    if shape.D % n or shape.F % n or shape.N % shape.K:
        return f"D and F must divide by {n}"
    if layout == "ep":
        if shape.B % n or (shape.B * shape.S // n * shape.top_k) % shape.experts:
            return f"B must divide by {n} and each group's top-k tokens by the experts"
        return None
    if shape.K % n:
        return f"the {shape.K} KV heads must divide by the {n} chips"
    if layout in GATHERED and shape.B % split.size(GATHERED[layout]):
        return f"B must divide by the {split.size(GATHERED[layout])} gathering chips"
    return None
