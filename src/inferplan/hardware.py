"""`ChipSpec` and `Topology`: accelerators, their links and their scale-up domains.

Every number in a catalog file carries a source (`sources: {field: "KEY or URL"}`);
a chip file without a source for a number it states is rejected. User chips are
YAML files with the same schema, validated here with messages naming the field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import resources
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
    model_validator,
)

from inferplan.units import DTYPES, InferplanError, parse_bundled_yaml, unknown_name_error
from inferplan.validation import first_error

TopologyKind = Literal["switch", "torus", "ring", "pcie", "fully_connected"]
Wraparound = Literal["always", "full_axis", "never"]


class _Frozen(BaseModel):
    """Every number finite (no .nan or .inf rates, sizes or latencies)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class LinkSpec(_Frozen):
    """The scale-up interconnect of one chip.

    For switched fabrics (NVSwitch) `bandwidth_bytes_per_s_per_direction` is the
    chip's whole egress (H100: 450e9). For tori and rings it is one link, one way
    (TPU v5e ICI: 4.5e10); `links_per_chip` says how many such links there are.
    """

    name: str
    bandwidth_bytes_per_s_per_direction: float = Field(gt=0)
    links_per_chip: StrictInt = Field(ge=1)
    latency_s: float = Field(ge=0, description="per hop (torus/ring) or per collective step")


class ScaleUpSpec(_Frozen):
    """The largest domain a chip's own links join, and its shape."""

    topology: TopologyKind
    max_chips: StrictInt = Field(ge=1)
    dims: StrictInt = Field(default=1, ge=1, le=3, description="torus dimensions")
    wraparound: Wraparound = "always"
    wraparound_axis_len: StrictInt | None = Field(
        default=None, ge=1, description="full_axis: an axis this long has its wraparound link")
    slice_shapes: tuple[tuple[Annotated[StrictInt, Field(ge=1)], ...], ...] = Field(
        default=(), description="legal slice shapes (TPU); empty: any divisor layout")
    chips_per_host: StrictInt = Field(default=1, ge=1)


class ScaleOutSpec(_Frozen):
    """Links that leave the scale-up domain (InfiniBand/Ethernet NICs, DCN)."""

    bandwidth_bytes_per_s_per_direction: float = Field(gt=0, description="per chip")
    latency_s: float = Field(ge=0)


class ChipSpec(_Frozen):
    """One accelerator chip (or GPU package) and the system it is sold in."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9.\-]*$")
    display_name: str
    vendor: str
    kind: Literal["gpu", "tpu", "npu", "cpu"]   # cpu: a host measured by `inferplan calibrate`
    aliases: tuple[str, ...] = ()
    memory_bytes: float = Field(gt=0)
    memory_bandwidth_bytes_per_s: float = Field(gt=0)
    peak_flops_per_s: dict[str, Annotated[float, Field(gt=0, allow_inf_nan=False)]] = Field(
        description="dense peak per compute dtype (int8 in OP/s)")
    sram_bytes: float | None = Field(default=None, gt=0)
    cores_per_chip: StrictInt = Field(default=1, ge=1)
    core_name: str | None = None
    interconnect: LinkSpec | None = None
    scale_up: ScaleUpSpec
    scale_out: ScaleOutSpec | None = None
    host_link_bytes_per_s_per_direction: float | None = Field(default=None, gt=0)
    tdp_watts: float | None = Field(default=None, gt=0)
    price_usd_per_chip_hour: float | None = Field(default=None, gt=0)
    price_note: str | None = None
    sources: dict[str, str]
    notes: str | None = None

    @model_validator(mode="after")
    def _check(self) -> ChipSpec:
        bad = [k for k in self.peak_flops_per_s if k not in DTYPES]
        if bad:
            raise ValueError(f"peak_flops_per_s: unknown dtype {bad[0]!r}; allowed: "
                             f"{', '.join(DTYPES)}")
        if "bf16" not in self.peak_flops_per_s:
            raise ValueError("peak_flops_per_s: needs at least a bf16 entry")
        stated = ["memory_bytes", "memory_bandwidth_bytes_per_s", "peak_flops_per_s"]
        stated += [f for f in ("sram_bytes", "interconnect", "scale_out", "tdp_watts",
                               "price_usd_per_chip_hour", "host_link_bytes_per_s_per_direction")
                   if getattr(self, f) is not None]
        missing = [f for f in stated if not self.sources.get(f)]
        if missing:
            raise ValueError(f"sources: no source for {', '.join(missing)}")
        for shape in self.scale_up.slice_shapes:
            if math.prod(shape) > self.scale_up.max_chips:
                raise ValueError(f"scale_up.slice_shapes: {shape} exceeds max_chips")
        return self

    # ---------------------------------------------------------------- helpers
    def flops_per_s(self, dtype: str) -> float:
        """Dense peak FLOP/s for `dtype`; a dtype the chip cannot compute in is an error
        naming the rates it has (TPU v5e bf16: 1.97e14)."""
        if dtype in self.peak_flops_per_s:
            return self.peak_flops_per_s[dtype]
        raise InferplanError("dtypes.compute", dtype,
                             f"{self.name} has no {dtype} rate; it has "
                             f"{', '.join(self.peak_flops_per_s)}")

    @property
    def core_memory_bytes(self) -> float:
        """Memory window of one core (RNGD PE): chip memory / cores."""
        return self.memory_bytes / self.cores_per_chip


def chip_from_dict(raw: Mapping[str, Any], origin: str = "hardware") -> ChipSpec:
    """Validate a chip description; errors name the field, the value and what is allowed."""
    if not isinstance(raw, Mapping):
        raise InferplanError(origin, type(raw).__name__, "must be a mapping of chip fields")
    try:
        return ChipSpec.model_validate(raw)
    except ValidationError as exc:
        raise first_error(exc, origin) from None


# ---------------------------------------------------------------------- catalog
#: A catalog chip's name, which is also its file's name (`h100-sxm` in `h100-sxm.yaml`).
_FILE_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*")


@cache
def _bundled_chip(file_name: str) -> ChipSpec:
    """One bundled chip file, parsed and validated once."""
    item = resources.files("inferplan") / "data" / "hardware" / file_name
    return chip_from_dict(parse_bundled_yaml(item.read_text(encoding="utf-8")),
                          origin=file_name)


@cache
def hardware_catalog() -> dict[str, ChipSpec]:
    """All bundled chips keyed by name."""
    chips: dict[str, ChipSpec] = {}
    folder = resources.files("inferplan") / "data" / "hardware"
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if item.name.endswith(".yaml"):
            chip = _bundled_chip(item.name)
            chips[chip.name] = chip
    return chips


def catalog_chip(name: str) -> ChipSpec:
    """The catalog chip called `name` (or one of its aliases, any case). An exact name is
    answered from its own file, without parsing the other catalog files."""
    if _FILE_NAME.fullmatch(name) and (
            resources.files("inferplan") / "data" / "hardware" / f"{name}.yaml").is_file():
        chip = _bundled_chip(f"{name}.yaml")
        if chip.name == name:
            return chip
    catalog = hardware_catalog()
    if name in catalog:
        return catalog[name]
    lowered = name.lower()
    for chip in catalog.values():
        if lowered == chip.name or lowered in (a.lower() for a in chip.aliases):
            return chip
    raise unknown_name_error("hardware", name, list(catalog))


# --------------------------------------------------------------------- topology
@dataclass(frozen=True)
class Topology:
    """The chips of one deployment and how they are wired.

    `shape` is the slice shape on a torus (e.g. (4, 2) on TPU v5e) or (chips,) for
    switched and PCIe systems. `domains` counts the scale-up domains spanned: a
    16-GPU H100 deployment is two 8-GPU NVSwitch domains joined by the scale-out
    network.
    """

    chip: ChipSpec
    shape: tuple[int, ...]

    @cached_property
    def chips(self) -> int:
        """Chips in the slice: the product of its shape (once per topology: a search reads
        it for every group)."""
        return math.prod(self.shape)

    @cached_property
    def domains(self) -> int:
        """Scale-up domains the slice spans (once per topology)."""
        return max(1, math.ceil(self.chips / self.chip.scale_up.max_chips))

    def axis_has_wraparound(self, axis_len: int) -> bool:
        """Whether a torus axis of this length closes into a ring (v5e: only at 16)."""
        su = self.chip.scale_up
        if su.topology != "torus":
            return True
        if su.wraparound == "always":
            return True
        if su.wraparound == "never":
            return False
        return su.wraparound_axis_len is not None and axis_len % su.wraparound_axis_len == 0

    def describe(self) -> str:
        su = self.chip.scale_up
        if su.topology == "torus":
            wrap = [("wrap" if self.axis_has_wraparound(a) else "no wrap") for a in self.shape]
            return f"{'x'.join(map(str, self.shape))} torus ({', '.join(wrap)})"
        dom = f", {self.domains} scale-up domains" if self.domains > 1 else ""
        return f"{self.chips} chips over {su.topology}{dom}"


def parse_shape(text: str | int) -> tuple[int, ...]:
    """'4x2' -> (4, 2); 8 -> (8,)."""
    if isinstance(text, int):
        return (text,)
    try:
        shape = tuple(int(p) for p in str(text).lower().split("x"))
    except ValueError:
        raise InferplanError("topology", text, "write a slice shape like 4x2 or 2x2x4") from None
    if not shape or min(shape) < 1:
        raise InferplanError("topology", text, "every axis must be a positive integer")
    return shape


def legal_chip_counts(chip: ChipSpec, limit: int = 4096) -> list[int]:
    """Deployment sizes a planner should consider, smallest first.

    Tori with listed slices: those slices. Otherwise powers of two inside the scale-up
    domain, the whole domain (12 Inferentia2, 72 GB200), then doublings of whole domains.
    GB200: 1, 2, 4, 8, 16, 32, 64, 72, 144, ...
    """
    su = chip.scale_up
    if su.slice_shapes:
        return sorted({math.prod(s) for s in su.slice_shapes if math.prod(s) <= limit})
    counts = {c for c in (2**i for i in range(13)) if c <= min(su.max_chips, limit)}
    n = su.max_chips
    while n <= limit:
        counts.add(n)
        n *= 2
    return sorted(counts)


def _torus_shape(chips: int, dims: int) -> tuple[int, ...]:
    """The most balanced `dims`-axis factorisation of `chips`: 16 over 2 axes -> (4, 4)."""
    if dims == 1 or chips == 1:
        return (chips,)
    best: tuple[int, ...] = (chips,) + (1,) * (dims - 1)
    for a in range(1, chips + 1):
        if chips % a == 0:
            rest = _torus_shape(chips // a, dims - 1)
            cand = tuple(sorted((a, *rest), reverse=True))
            if max(cand) - min(cand) < max(best) - min(best):
                best = cand
    return best


def default_topology(chip: ChipSpec, chips: int) -> Topology:
    """The usual shape for `chips` chips: the smallest legal slice shape with that many
    chips on a torus (most square), else a flat (chips,) system."""
    shapes = [s for s in chip.scale_up.slice_shapes if math.prod(s) == chips]
    if shapes:
        return Topology(chip, min(shapes, key=lambda s: (max(s) - min(s), s)))
    if chip.scale_up.slice_shapes:
        legal = ", ".join("x".join(map(str, s)) for s in chip.scale_up.slice_shapes)
        raise InferplanError("chips", chips, f"{chip.name} slices are: {legal}")
    if chip.scale_up.topology == "torus" and chips <= chip.scale_up.max_chips:
        return Topology(chip, _torus_shape(chips, chip.scale_up.dims))
    return Topology(chip, (chips,))


def topology_for(chip: ChipSpec, chips: int, shape: tuple[int, ...] | None) -> Topology:
    """Check a requested slice shape against the chip's rules and the chip count."""
    if shape is None:
        return default_topology(chip, chips)
    if math.prod(shape) != chips:
        raise InferplanError("topology", "x".join(map(str, shape)),
                             f"has {math.prod(shape)} chips but chips={chips}")
    su = chip.scale_up
    if su.slice_shapes:
        legal = {tuple(sorted(s)) for s in su.slice_shapes}
        if tuple(sorted(shape)) not in legal:
            names = ", ".join("x".join(map(str, s)) for s in su.slice_shapes)
            raise InferplanError("topology", "x".join(map(str, shape)),
                                 f"{chip.name} supports slices {names}")
    elif len(shape) > 1 and su.topology != "torus":
        raise InferplanError("topology", "x".join(map(str, shape)),
                             f"{chip.name} is a {su.topology} system; give a chip count")
    return Topology(chip, shape)
