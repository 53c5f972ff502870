"""Enumerate a space into groups: one deployment and workload shape each, with all the
batch (or concurrency) values evaluated together in one numpy pass.

A combination that cannot be built is a group with a drop reason, checked in the order
`scenario.build_deployment` checks: the slice shape (`topology`), the layout (`layout`:
dp: auto cannot fill the chips, or `parallel.check_layout` refuses it), the compute
dtype the chip has no rate for (`compute_dtype`).

The engine is a dimension like the chip: each of the space's engines is resolved to its
profile once (`space.space_engines`) and every point's `Deployment` carries it; points of
different engines are different groups. A space that names an engine puts it in each
point's scenario (`engine:` as the space gave it), so `inferplan estimate` reproduces it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal, NamedTuple

import numpy as np
import numpy.typing as npt

from inferplan.deployment import (
    Deployment,
    Dtypes,
    Workload,
    check_attention_gemms,
    scale_out_problem,
)
from inferplan.hardware import ChipSpec, Topology, parse_shape, topology_for
from inferplan.models import ModelSpec
from inferplan.parallel import Layout, check_layout
from inferplan.search.space import SpaceIn, space_engines, speculative_choices
from inferplan.speculative import draft_deployment
from inferplan.units import InferplanError

Mode = Literal["static", "concurrency", "max"]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Speculation:
    """A point's speculative decoding: the draft model, α, and γ (None: the best of
    1..gamma_max, chosen per batch)."""

    draft_name: str
    draft: ModelSpec
    alpha: float
    gamma: int | None
    gamma_max: int

    def scenario(self) -> dict[str, Any]:
        return {"draft": self.draft_name, "alpha": self.alpha,
                "gamma": "auto" if self.gamma is None else self.gamma}


class ScenarioParts(NamedTuple):
    """What a group's scenario is made of, as `expand` enumerates it: the slice's base
    entries (model, hardware, chips, topology, memory fraction, price), the parallelism
    entries, the dtypes, the efficiency mode, the engine as the space gave it (None: the
    space names none), the speculative block (None: plain) and the workload entries.
    Shared pieces are held, not copied (a tuple: 140,000 of them cost little);
    `scenario` builds the dict."""

    base: dict[str, Any]
    parallelism: dict[str, Any]
    dtypes: tuple[tuple[str, str], ...]     # (field, dtype): weights, kv, compute, then any apart
    efficiency: str
    engine: str | dict[str, Any] | None
    speculative: dict[str, Any] | None
    workload: dict[str, Any]

    def scenario(self) -> dict[str, Any]:
        """The scenario dict (fresh containers; the key order `inferplan estimate`
        reports in): base, parallelism, dtypes, efficiency, engine, speculative,
        workload."""
        s = {**self.base, "parallelism": dict(self.parallelism), "dtypes": dict(self.dtypes),
             "efficiency": self.efficiency}
        if self.engine is not None:
            s["engine"] = (self.engine if isinstance(self.engine, str)
                           else dict(self.engine))
        if self.speculative is not None:
            s["speculative"] = dict(self.speculative)
        s["workload"] = dict(self.workload)
        return s


@dataclass(frozen=True)
class Group:
    """One deployment × workload shape and its batch (or concurrency) values.

    `scenario` is the points' scenario without the batch/concurrency value, built from
    `parts` when first read (a fleet search lists 100,000+ groups and reads the
    scenarios of a few); a group that cannot be built has no deployment and says why
    (`drop_reason`, `drop_message`).
    """

    parts: ScenarioParts
    mode: Mode
    values: IntArray
    workload: Workload
    deployment: Deployment | None = None
    drop_reason: str | None = None
    drop_message: str | None = None
    speculative: Speculation | None = None

    @property
    def points(self) -> int:
        return int(self.values.size)

    @cached_property
    def scenario(self) -> dict[str, Any]:
        """The points' scenario without the batch/concurrency value (`ScenarioParts`)."""
        return self.parts.scenario()

    def point_scenario(self, value: int) -> dict[str, Any]:
        """The scenario of one point, ready for `inferplan estimate`."""
        wl = dict(self.scenario["workload"])
        if self.mode == "concurrency":
            wl["concurrency"] = int(value)
        else:
            wl["batch"] = "max" if self.mode == "max" else int(value)
        return {**self.scenario, "workload": wl}


def resolve_compute(compute: str, weights: str, chip: ChipSpec) -> str:
    """'auto': the weights' dtype where the chip computes in it, else bf16 (W4A16).
    fp8 weights on H100 → fp8; int4 on H100 → bf16; int8 on TPU v5e → int8."""
    if compute != "auto":
        return compute
    return weights if weights in chip.peak_flops_per_s else "bf16"


def _shapes_for(space: SpaceIn, chips: int) -> list[tuple[int, ...] | None]:
    """The listed slice shapes with `chips` chips, else the default (None)."""
    shapes = [parse_shape(t) for t in (space.topology or [])]
    matching = [s for s in shapes if math.prod(s) == chips]
    return list(matching) or [None]


def _check_topologies(space: SpaceIn) -> None:
    for t in space.topology or []:
        if math.prod(parse_shape(t)) not in space.chips:
            raise InferplanError("space.topology", t, f"has {math.prod(parse_shape(t))} chips; "
                                 f"none of chips {space.chips}")


def _workload_modes(space: SpaceIn) -> list[tuple[Mode, IntArray]]:
    w = space.workload
    if w.concurrency is not None:
        return [("concurrency", np.asarray(w.concurrency, dtype=np.int64))]
    values = w.batch or []
    ints = [int(v) for v in values if v != "max"]
    modes: list[tuple[Mode, IntArray]] = []
    if ints:
        modes.append(("static", np.asarray(ints, dtype=np.int64)))
    if "max" in values:
        modes.append(("max", np.zeros(1, dtype=np.int64)))
    return modes


def _base_scenario(space: SpaceIn, model: str, hardware: str, chips: int,
                   shape: tuple[int, ...] | None) -> dict[str, Any]:
    s: dict[str, Any] = {"model": model, "hardware": hardware, "chips": chips}
    if shape is not None:
        s["topology"] = "x".join(map(str, shape))
    if space.memory_utilization is not None:
        s["memory_utilization"] = space.memory_utilization
    if space.price_per_chip_hour is not None:
        s["price_per_chip_hour"] = space.price_per_chip_hour
    return s


def _workloads(space: SpaceIn) -> Iterator[tuple[dict[str, Any], Workload, Mode, IntArray]]:
    w = space.workload
    for input_len, output_len in itertools.product(w.input_len, w.output_len):
        wl_dict: dict[str, Any] = {"input_len": input_len, "output_len": output_len}
        if w.prefill_chunk_tokens is not None:
            wl_dict["prefill_chunk_tokens"] = w.prefill_chunk_tokens
        wl_dict.update(w.drawn())    # how the benchmark draws them, where the space says
        for mode, values in _workload_modes(space):
            workload = Workload(input_len=input_len, output_len=output_len,
                                batch=None if mode == "concurrency" else 1,
                                concurrency=1 if mode == "concurrency" else None,
                                prefill_chunk_tokens=w.prefill_chunk_tokens,
                                length_ratio=w.length_ratio,
                                prefix_hit_rate=w.prefix_hit_rate, requests=w.requests)
            yield wl_dict, workload, mode, values


def _layout(p: tuple[Any, ...], devices: int) -> Layout:
    """Layout from (tp, pp, dp, ep, layout, attention, attention_dp); raises for dp: auto
    that cannot fill."""
    tp, pp, dp, ep, layout, attention, attention_dp = p
    if dp == "auto":
        if devices % (tp * pp):
            raise InferplanError("parallelism", f"tp={tp} pp={pp}",
                                 f"tp*pp must divide the {devices} devices to fill them with dp")
        dp = devices // (tp * pp)
    return Layout(tp=tp, pp=pp, dp=int(dp), ep=ep, layout=layout, attention=attention,
                  attention_dp=attention_dp)


def _speculations(space: SpaceIn, resolve_model: Callable[[str], ModelSpec]
                  ) -> list[Speculation | None]:
    """Plain decoding and every (draft, α, γ) of the space's `speculative` block."""
    drafts: dict[str, ModelSpec] = {}
    out: list[Speculation | None] = []
    gamma_max = space.speculative.gamma_max if space.speculative is not None else 1
    for choice in speculative_choices(space):
        if choice is None:
            out.append(None)
            continue
        name, alpha, gamma = choice
        if name not in drafts:
            try:
                drafts[name] = resolve_model(name)
            except InferplanError as exc:
                raise InferplanError("speculative.draft", name, exc.allowed) from None
        out.append(Speculation(name, drafts[name], alpha, gamma, max(gamma_max, gamma or 1)))
    return out


def expand(space: SpaceIn, resolve_model: Callable[[str], ModelSpec],
           resolve_chip: Callable[[str], ChipSpec], step_time: object | None = None
           ) -> list[Group]:
    """Every group of the space, buildable or with its drop reason; each deployment
    priced with `step_time` (a `steptime.StepTimeModel`, e.g. `--calibration`; None:
    the analytic roofline)."""
    _check_topologies(space)
    models = {name: resolve_model(name) for name in space.model}
    chips_ = {name: resolve_chip(name) for name in space.hardware}
    p, d = space.parallelism, space.dtypes
    layouts = list(itertools.product(p.tp, p.pp, p.dp, p.ep, p.layout, p.attention,
                                     p.attention_dp))
    dtypes = list(itertools.product(d.weights, d.kv, d.compute, space.efficiency,
                                    space_engines(space)))
    workloads = list(_workloads(space))
    specs = _speculations(space, resolve_model)
    groups: list[Group] = []
    apart = d.stored_apart()                             # the checkpoint's, every point
    # per (weights, kv, compute): one Dtypes and one scenario entry, shared by every point
    combos: dict[tuple[str, str, str], tuple[Dtypes, tuple[tuple[str, str], ...]]] = {}

    def emit(parts: tuple[dict[str, Any], dict[str, Any], tuple[tuple[str, str], ...], str,
                          str | dict[str, Any] | None],
             deployment: Deployment | None, reason: str | None,
             message: str | None) -> None:
        """The groups of one (slice, layout, dtypes, efficiency, engine): each
        speculation × workload shape; `parts` the first five `ScenarioParts` fields."""
        for spec in specs:
            why, text = reason, message
            if spec is not None and deployment is not None and why is None:
                try:
                    draft_deployment(deployment, spec.draft)
                except InferplanError as exc:
                    why, text = "draft", str(exc)
            dep = deployment if why is None else None
            block = None if spec is None else spec.scenario()
            base, par, dts, eff, engine = parts
            for wl_dict, workload, mode, values in workloads:
                groups.append(Group(ScenarioParts(base, par, dts, eff, engine, block, wl_dict),
                                    mode, values, workload, dep, why, text, spec))

    for (mname, model), (hname, chip), n in itertools.product(
            models.items(), chips_.items(), space.chips):
        for shape in _shapes_for(space, n):
            base = _base_scenario(space, mname, hname, n, shape)
            try:
                topology: Topology | None = topology_for(chip, n, shape)
                topo_error = None
            except InferplanError as exc:
                topology, topo_error = None, str(exc)
            for lay in layouts:
                par = dict(zip(("tp", "pp", "dp", "ep", "layout", "attention",
                                "attention_dp"), lay, strict=True))
                layout: Layout | None = None
                error = topo_error
                reason = "topology" if topo_error else None
                if topology is not None:
                    try:
                        layout = _layout(lay, n * chip.cores_per_chip)
                        check_layout(model, chip, layout, n)
                        par["dp"] = layout.dp
                    except InferplanError as exc:
                        layout, error, reason = None, str(exc), "layout"
                    if layout is not None and (
                            problem := scale_out_problem(topology, layout)) is not None:
                        layout, error, reason = None, problem, "topology"
                for weights, kv, compute, eff, (engine_spec, engine) in dtypes:
                    comp = resolve_compute(compute, weights, chip)
                    kinds, named = combos.get((weights, kv, comp)) or combos.setdefault(
                        (weights, kv, comp),
                        (Dtypes(weights=weights, kv=kv, compute=comp, **dict(apart)),
                         (("weights", weights), ("kv", kv), ("compute", comp), *apart)))
                    scen = (base, par, named, eff, engine_spec)
                    if layout is None or topology is None:
                        emit(scen, None, reason, error)
                        continue
                    if comp not in chip.peak_flops_per_s:
                        emit(scen, None, "compute_dtype", str(InferplanError(
                            "dtypes.compute", comp,
                            f"{chip.name} computes in {', '.join(chip.peak_flops_per_s)}")))
                        continue
                    if apart:
                        try:
                            check_attention_gemms(kinds, chip)
                        except InferplanError as exc:
                            emit(scen, None, "compute_dtype", str(exc))
                            continue
                    dep = Deployment(
                        model=model, chip=chip, topology=topology, layout=layout,
                        dtypes=kinds,
                        efficiency="ideal" if eff == "ideal" else "realistic",
                        memory_utilization=space.memory_utilization,
                        price_usd_per_chip_hour=space.price_per_chip_hour, engine=engine,
                        step_time=step_time)
                    emit(scen, dep, None, None)
    return groups
