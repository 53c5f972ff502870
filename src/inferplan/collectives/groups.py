"""Where the devices of one collective sit: `Group` (size, torus axis segments, wraps,
strides, scale-up domains spanned, the part inside one domain) and `place_group`, which
lays a group out on a topology (switched, PCIe, fully connected, ring or torus).

Imports only `inferplan.units` and `inferplan.hardware`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from inferplan.hardware import Topology
from inferplan.units import InferplanError


@dataclass(frozen=True)
class Group:
    """p devices taking part in one collective, placed on the topology.

    `axes`: on a torus, the lengths of the axis segments the group spans (product ==
    size); elsewhere (size,). `domains`: scale-up domains spanned (1 inside one NVSwitch
    box). `wraps`: per axis, whether the segment closes into a ring (torus: a whole
    axis with its wraparound link; ring fabrics: the whole ring). `strides`: per axis,
    chips between consecutive members. `local`: when the group spans several domains,
    its part inside one domain (a one-domain `Group`; the largest part when uneven).
    Build with `place_group`; the optional fields are derived when left out.
    """

    topology: Topology
    size: int
    axes: tuple[int, ...]
    domains: int
    wraps: tuple[bool, ...] = field(default=())
    strides: tuple[int, ...] = field(default=())
    local: Group | None = None

    def __post_init__(self) -> None:
        if self.size < 1:
            raise InferplanError("group.size", self.size, "a group has at least one device")
        if math.prod(self.axes) != self.size:
            raise InferplanError("group.axes", self.axes, f"their product must be {self.size}")
        if not 1 <= self.domains <= self.size:
            raise InferplanError("group.domains", self.domains, f"between 1 and {self.size}")
        if not self.strides:
            object.__setattr__(self, "strides", tuple(1 for _ in self.axes))
        if len(self.strides) != len(self.axes):
            raise InferplanError("group.strides", self.strides, "give one entry per axis")
        if not self.wraps:
            object.__setattr__(self, "wraps", tuple(
                _segment_wraps(self.topology, n, n * s, self.size)
                for n, s in zip(self.axes, self.strides, strict=True)))
        if len(self.wraps) != len(self.axes):
            raise InferplanError("group.wraps", self.wraps, "give one entry per axis")
        if self.domains > 1 and self.local is None:
            object.__setattr__(self, "local", _flat_local(
                self.topology, math.ceil(self.size / self.domains)))
        if self.local is not None and self.local.domains != 1:
            raise InferplanError("group.local", self.local.domains, "must lie in one domain")

    @property
    def local_size(self) -> int:
        """Members inside one scale-up domain (the most, when the split is uneven)."""
        return self.local.size if self.local is not None and self.domains > 1 else self.size

    @property
    def kind(self) -> str:
        """The scale-up topology kind of the chip ("switch", "torus", ...)."""
        return self.topology.chip.scale_up.topology

    def describe(self) -> str:
        dom = f" over {self.domains} domains" if self.domains > 1 else ""
        return f"{self.size} x {self.topology.chip.name} ({'x'.join(map(str, self.axes))}){dom}"


def _segment_wraps(topology: Topology, n: int, span: int, ring_members: int) -> bool:
    """Whether an axis segment of n members spanning `span` chips closes into a ring:
    on a torus when it is a whole slice axis with its wraparound link, on a ring fabric
    when the `ring_members` in the domain are the whole ring."""
    su = topology.chip.scale_up
    if n < 2:
        return False
    if su.topology == "torus":
        return span in topology.shape and topology.axis_has_wraparound(span)
    if su.topology == "ring":
        return ring_members == su.max_chips
    return False


def _flat_local(topology: Topology, size: int, stride: int = 1) -> Group:
    """The part of a group inside one domain of a switched/PCIe/ring system."""
    stride = stride if size > 1 else 1
    wrap = _segment_wraps(topology, size, size * stride, size)
    return Group(topology, size, (size,), 1, (wrap,), (stride,))


def placement_key(topology: Topology) -> tuple[int, ...] | None:
    """What `place_group` reads of a topology besides its chip, for groups that fit in
    it: the slice shape on a torus (groups follow its axes and wraparounds); elsewhere
    nothing (members fill the chip's scale-up domains in order, whatever the slice).
    A key for caches of anything built from placed groups. 16 H100s: None; a TPU v5e
    4x4: (4, 4)."""
    return topology.shape if topology.chip.scale_up.topology == "torus" else None


def place_group(topology: Topology, size: int, inner: int = 1) -> Group:
    """Where a group of `size` devices sits: consecutive devices, filling the scale-up
    domain first; `inner` = size of the groups already laid out inside it (the stride:
    a DP or PP group placed outside TP=8 has inner=8).

    Switched, PCIe, fully connected and ring systems: members are chips 0, inner,
    2·inner, …; domains = the distinct scale-up domains (max_chips each) they fall in.
    H100 (8 per NVSwitch box): size 8 → 1 domain; size 16 → 2 domains of 8; size 2
    with inner 8 → 2 domains of 1.

    Torus: the slice axes are filled in order (first axis fastest), `inner` first,
    then the group: a 4x2 slice, size 8 → axes (4, 2); size 4 → (4,); size 4 with
    inner 2 → (2, 2) with stride 2 on the first axis. A torus topology larger than one
    domain (Trainium2 instances of 16) is cut into domains of consecutive chips.

    Counts are in chips: on chips built of cores (RNGD) a group inside one chip sends
    nothing over the links, so pass the chips the group spans.
    """
    if size < 1 or inner < 1:
        raise InferplanError("group", (size, inner), "size and inner must be ≥ 1")
    if size * inner > topology.chips:
        raise InferplanError("group.size", size,
                             f"{size} groups' worth of {inner} devices need {size * inner} "
                             f"chips; the topology has {topology.chips}")
    su = topology.chip.scale_up
    if su.topology == "torus":
        return _place_on_torus(topology, size, inner)
    members = [i * inner for i in range(size)]
    per_domain = _count_per_domain(members, su.max_chips)
    domains, local = len(per_domain), max(per_domain.values())
    stride = inner if local > 1 else 1
    if domains == 1:
        return _flat_local(topology, size, stride)
    return Group(topology, size, (size,), domains, local=_flat_local(topology, local, stride))


def _count_per_domain(members: list[int], chips_per_domain: int) -> dict[int, int]:
    counts: dict[int, int] = {}
    for m in members:
        counts[m // chips_per_domain] = counts.get(m // chips_per_domain, 0) + 1
    return counts


def _place_on_torus(topology: Topology, size: int, inner: int) -> Group:
    shape = topology.shape
    used = [1] * len(shape)    # factor of each axis taken by the inner groups
    rest = inner
    for i, length in enumerate(shape):
        used[i] = _take(rest, length, topology, inner, "inner")
        rest //= used[i]
    takes: list[int] = []
    rest = size
    for i, length in enumerate(shape):
        takes.append(_take(rest, length // used[i], topology, size, "group.size"))
        rest //= takes[-1]
    if rest != 1:
        raise InferplanError("group.size", size, f"does not fit the "
                             f"{'x'.join(map(str, shape))} slice outside {inner}")
    kept = [i for i, t in enumerate(takes) if t > 1]
    axes = tuple(takes[i] for i in kept)
    strides = tuple(used[i] for i in kept)
    wraps = tuple(takes[i] * used[i] == shape[i] and topology.axis_has_wraparound(shape[i])
                  for i in kept)
    per_chip = topology.chip.scale_up.max_chips
    if topology.chips <= per_chip:
        return Group(topology, size, axes, 1, wraps, strides)
    # several domains: members in mixed radix (first axis fastest), domains of consecutive chips
    radix = [math.prod(shape[:i]) for i in range(len(shape))]
    coords = np.zeros(1, dtype=np.int64)
    for i in kept:
        coords = (coords[:, None] + np.arange(takes[i]) * used[i] * radix[i]).ravel()
    per_domain = _count_per_domain(coords.tolist(), per_chip)
    domains = len(per_domain)
    if domains == 1:
        return Group(topology, size, axes, 1, wraps, strides)
    domain = Topology(topology.chip, _domain_shape(topology))
    local_size = max(per_domain.values())
    local = (_place_on_torus(domain, local_size, inner) if local_size > 1
             else Group(domain, 1, (), 1))
    return Group(topology, size, axes, domains, wraps, strides, local)


def _domain_shape(topology: Topology) -> tuple[int, ...]:
    """The shape of one scale-up domain: the leading axes of the topology whose product
    is `max_chips` (an axis is cut when needed): (32,) with 16 per domain → (16,)."""
    rest, out = topology.chip.scale_up.max_chips, []
    for length in topology.shape:
        take = _take(rest, length, topology, topology.chip.scale_up.max_chips,
                     "scale_up.max_chips")
        out.append(take)
        rest //= take
    return tuple(out)


def _take(rest: int, avail: int, topology: Topology, value: int, what: str) -> int:
    """How much of an axis with `avail` free positions a remaining factor `rest` takes."""
    if rest == 1 or avail == 1:
        return 1
    if rest % avail == 0:
        return avail
    if avail % rest == 0:
        return rest
    raise InferplanError(what, value,
                         f"does not tile the {'x'.join(map(str, topology.shape))} slice axes "
                         "in order; use sizes that divide or are multiples of the axes")
