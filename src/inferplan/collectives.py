"""α–β cost of the collectives a sharded model runs: all-gather, reduce-scatter,
all-reduce, all-to-all and point-to-point send/recv.

Every time has two parts (`CollectiveTime`): a bandwidth part that grows with the
message (bytes over the slowest link the algorithm must use) and a latency part
(α: ring steps or torus hops × the chip's per-step/per-hop latency). `total_s` is
their sum, which is conservative next to the Scaling Book's `max(latency, bandwidth)`.

Notation: `V` is the full (gathered / unreduced) array per device in bytes, `p` the
devices in the group, `W` a bandwidth in bytes/s per direction, `α` a latency in s.
All byte arguments broadcast as numpy arrays (vectorised over message sizes). α is
charged for every message, zero bytes included: a caller skips collectives that do
not happen. `link_efficiency` (measured fraction of peak, in (0, 1]) divides every
bandwidth term and leaves α alone.

Which algorithm runs where (from `ChipSpec.scale_up.topology`):

| topology | algorithm | AG / RS | AR |
|---|---|---|---|
| switch (NVSwitch) | ring on per-direction egress | (p−1)/p·V/W + (p−1)α | 2× |
| pcie (L4, L40S, RNGD) | ring over PCIe P2P | (p−1)/p·V/W + (p−1)α | 2× |
| fully_connected (xGMI) | direct sends on p−1 links at once | V/p/W_link + α | 2× |
| torus axis, wrap | bidirectional ring | ⌈(n−1)/2⌉·V/n/W_link + ⌊n/2⌋α | 2× |
| torus axis, no wrap | line | (n−1)·V/n/W_link + (n−1)α | 2× |
| torus, k axes | axes run concurrently on k slices of V | ≈ V/(k·W_bidi) | 2× |
| ring (Inferentia2) | as a torus axis; closed only over the whole ring | | |
| several domains | hierarchical: intra + ring over scale-out | | RS + AR(V/p_local) + AG |

Imports only `inferplan.units` and `inferplan.hardware`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from inferplan.hardware import ChipSpec, LinkSpec, ScaleOutSpec, Topology
from inferplan.units import InferplanError

Seconds = npt.NDArray[np.float64]
Bytes = npt.ArrayLike


# ------------------------------------------------------------------ results
@dataclass(frozen=True, eq=False)
class CollectiveTime:
    """Time of one collective, split into its α–β parts (arrays over message sizes).

    `steps` counts the latency terms summed into `latency_s` (ring steps or torus
    hops). Adding two times (`a + b`) runs them one after the other.
    """

    bandwidth_s: Seconds
    latency_s: Seconds
    algorithm: str
    steps: int = 0

    @property
    def total_s(self) -> Seconds:
        """bandwidth_s + latency_s."""
        return self.bandwidth_s + self.latency_s

    def __add__(self, other: CollectiveTime) -> CollectiveTime:
        """Run `self` then `other`."""
        if self.algorithm == "none":
            return other
        if other.algorithm == "none":
            return self
        return CollectiveTime(self.bandwidth_s + other.bandwidth_s,
                              self.latency_s + other.latency_s,
                              f"{self.algorithm} + {other.algorithm}",
                              self.steps + other.steps)

    def repeated(self, times: int, algorithm: str) -> CollectiveTime:
        """The same collective run `times` times in a row (RS + AG = 2× AG), renamed."""
        return CollectiveTime(self.bandwidth_s * times, self.latency_s * times, algorithm,
                              self.steps * times)


def no_collective(bytes_: Bytes) -> CollectiveTime:
    """A group of one device communicates nothing: zero time, algorithm "none"."""
    zeros = np.zeros_like(_as_bytes(bytes_))
    return CollectiveTime(zeros, zeros.copy(), "none", 0)


def _as_bytes(bytes_: Bytes, what: str = "bytes") -> Seconds:
    arr = np.asarray(bytes_, dtype=np.float64)
    if np.any(~np.isfinite(arr)) or np.any(arr < 0):
        raise InferplanError(what, bytes_, "message sizes must be finite and ≥ 0 bytes")
    return arr


def _check_efficiency(link_efficiency: float) -> float:
    if not (0.0 < link_efficiency <= 1.0):
        raise InferplanError("link_efficiency", link_efficiency,
                             "a fraction of the link's peak in (0, 1]")
    return float(link_efficiency)


def _time(bandwidth_s: Seconds, steps: int, alpha_s: float, algorithm: str) -> CollectiveTime:
    latency = np.full_like(bandwidth_s, steps * alpha_s)
    return CollectiveTime(bandwidth_s, latency, algorithm, steps)


# ------------------------------------------------------- formulas: rings and switches
def ring_all_gather_time(gathered_bytes: Bytes, p: int, bandwidth_bytes_per_s: float,
                         step_latency_s: float, over: str) -> CollectiveTime:
    """Unidirectional ring all-gather (or reduce-scatter) over a switch, PCIe or NICs.

    T = (p−1)/p · V / W + (p−1)·α, with W the per-direction egress of one device:
    each device forwards p−1 shards of V/p, one per step.

    H100 SXM, p = 8, V = 1 MiB: 7/8 · 1,048,576 / 450e9 = 2.039 µs + 7 × 1 µs.
    """
    v = _as_bytes(gathered_bytes)
    bw = (p - 1) / p * v / bandwidth_bytes_per_s
    return _time(bw, p - 1, step_latency_s, f"ring over {over}, {p} devices")


def ring_all_to_all_time(bytes_per_device: Bytes, p: int, bandwidth_bytes_per_s: float,
                         step_latency_s: float, over: str) -> CollectiveTime:
    """All-to-all through a switch (or PCIe, or NICs): each device sends (p−1)/p of its
    buffer out through its own egress, one peer per step.

    T = (p−1)/p · V / W + (p−1)·α, V = bytes each device holds before the exchange.

    H100 SXM, p = 8, V = 1 MiB: 7/8 · 1,048,576 / 450e9 = 2.039 µs + 7 × 1 µs.
    """
    v = _as_bytes(bytes_per_device)
    bw = (p - 1) / p * v / bandwidth_bytes_per_s
    return _time(bw, p - 1, step_latency_s, f"all-to-all over {over}, {p} devices")


def direct_all_gather_time(gathered_bytes: Bytes, p: int, link_bytes_per_s: float,
                           links: int, step_latency_s: float, over: str) -> CollectiveTime:
    """Fully connected all-gather (or reduce-scatter): each device sends its shard to the
    p−1 peers on separate links at once.

    T = (p−1)·(V/p) / (W_link · min(p−1, links)) + ⌈(p−1)/links⌉·α, which is
    V/p / W_link + α when p−1 ≤ links.

    MI300X, p = 8 (7 xGMI links of 64 GB/s per direction), V = 1 MiB:
    131,072 / 6.4e10 = 2.048 µs + 2 µs.
    """
    v = _as_bytes(gathered_bytes)
    peers = p - 1
    lanes = min(peers, links)
    bw = peers * (v / p) / (link_bytes_per_s * lanes)
    rounds = math.ceil(peers / links)
    return _time(bw, rounds, step_latency_s, f"direct over {over}, {p} devices")


def direct_all_to_all_time(bytes_per_device: Bytes, p: int, link_bytes_per_s: float,
                           links: int, step_latency_s: float, over: str) -> CollectiveTime:
    """Fully connected all-to-all: V/p to each of p−1 peers, min(p−1, links) links at once.

    T = V·(p−1)/p / (W_link · min(p−1, links)) + ⌈(p−1)/links⌉·α.

    MI300X, p = 8, V = 1 MiB per device: 7/8 · 1,048,576 / (6.4e10 · 7) = 2.048 µs + 2 µs.
    """
    v = _as_bytes(bytes_per_device)
    peers = p - 1
    bw = v * peers / p / (link_bytes_per_s * min(peers, links))
    rounds = math.ceil(peers / links)
    return _time(bw, rounds, step_latency_s, f"direct all-to-all over {over}, {p} devices")


# --------------------------------------------------------------- formulas: torus axes
def torus_axis_all_gather_time(gathered_bytes: Bytes, n: int, link_bytes_per_s: float,
                               hop_latency_s: float, wrap: bool, stride: int = 1
                               ) -> CollectiveTime:
    """All-gather (or reduce-scatter) along one torus axis (or ring) of n devices.

    With wraparound, a bidirectional ring: each shard of V/n travels the shorter way,
    so the busier direction of a link carries ⌈(n−1)/2⌉ shards:
        T = ⌈(n−1)/2⌉ · (V/n) / W_link + ⌊n/2⌋·α
    For odd n this is V·(n−1)/n / (2·W_link). For even n it is V / (2·W_link) =
    V / W_bidi, the Scaling Book's count (n/2 hops of V/n each way), which sends the
    opposite shard one way whole; splitting it over both ways would save a factor
    (n−1)/n. The book's count is kept so that its worked numbers (seed A30) come out.
    Without wraparound, a line: the end link carries n−1 shards one way:
        T = (n−1) · (V/n) / W_link + (n−1)·α   (the book's "typically doubles").
    `stride` > 1: the group's members sit `stride` chips apart on the axis, so
    `stride` interleaved groups share each link (W/stride) and each step is `stride` hops.

    TPU v5e (4.5e10 B/s per link one way, 1 µs per hop), V = 2·B·D = 2·64·8192 B
    (seed A30): 16-long axis with wrap 8 · 65,536 / 4.5e10 = 11.65 µs + 8 µs;
    4-long axis without wrap 3 · 262,144 / 4.5e10 = 17.48 µs + 3 µs.
    """
    v = _as_bytes(gathered_bytes)
    shards = math.ceil((n - 1) / 2) if wrap else n - 1
    hops = (n // 2 if wrap else n - 1) * stride
    bw = shards * (v / n) / (link_bytes_per_s / stride)
    kind = "bidirectional ring" if wrap else "line"
    what = f"{kind} on {n}-long torus axis ({'wrap' if wrap else 'no wrap'})"
    if stride > 1:
        what += f", stride {stride}"
    return _time(bw, hops, hop_latency_s, what)


def torus_axis_all_to_all_time(bytes_per_device: Bytes, n: int, link_bytes_per_s: float,
                               hop_latency_s: float, wrap: bool, stride: int = 1
                               ) -> CollectiveTime:
    """All-to-all along one torus axis of n devices, each holding V bytes (V/n per peer),
    every chunk routed the short way; time = the busiest link's load / W_link.

    With wrap, all links carry the same load S/(2n)·V with S = Σ_d min(d, n−d)
    (= n²/4 for even n), so T = n·V/8 / W_link + ⌊n/2⌋·α for even n: the book's
    "AllToAll ≈ AllGather/4" of the n·V array. Without wrap the middle link carries
    ⌊n/2⌋·⌈n/2⌉ chunks: T = ⌊n/2⌋⌈n/2⌉·(V/n) / W_link + (n−1)·α.
    `stride` as in `torus_axis_all_gather_time`.

    TPU v5e, 16-long axis with wrap, V = 1 MiB per device:
    16 · 1,048,576 / 8 / 4.5e10 = 46.6 µs + 8 µs (= AG of 16 MiB, 186.4 µs, / 4).
    """
    v = _as_bytes(bytes_per_device)
    if wrap:
        load_chunks = sum(min(d, n - d) for d in range(1, n)) / 2
        hops = n // 2
    else:
        load_chunks = (n // 2) * ((n + 1) // 2)
        hops = n - 1
    bw = load_chunks * (v / n) / (link_bytes_per_s / stride)
    kind = "bidirectional ring" if wrap else "line"
    what = f"all-to-all, {kind} on {n}-long torus axis ({'wrap' if wrap else 'no wrap'})"
    if stride > 1:
        what += f", stride {stride}"
    return _time(bw, hops * stride, hop_latency_s, what)


def torus_all_gather_time(gathered_bytes: Bytes, axes: tuple[int, ...],
                          wraps: tuple[bool, ...], strides: tuple[int, ...],
                          link_bytes_per_s: float, hop_latency_s: float) -> CollectiveTime:
    """All-gather (or reduce-scatter) over k torus axes at once.

    The book's multi-axis model, T ≈ V / (W_bidi · k), made concrete: V is cut into k
    parts; part j gathers along the axes in the order j, j+1, …, so in every phase
    the k parts use k different axes (disjoint links). Phase time = the slowest part
    (`torus_axis_all_gather_time` on that part's array so far); T = Σ phases. One
    axis reduces to `torus_axis_all_gather_time`.

    TPU v5e 4x2 slice (no wrap), group of 8, V = 1 MiB, W = 4.5e10: phase 1 max(part 0
    along 4 to V/4: 3·(V/16)/W, part 1 along 2 to V/8: 1·(V/16)/W) = 4.37 µs; phase 2
    max(part 0 along 2 to V/2: 1·(V/4)/W, part 1 along 4 to V/2: 3·(V/8)/W) = 8.74 µs;
    T = 13.11 µs + (3+3) × 1 µs (a lone 4-long line would take 17.48 µs + 3 µs).
    A single 16-long wrapped axis: V / 9e10 (seed A30: 11.65 µs for 1 MiB).
    """
    v = _as_bytes(gathered_bytes)
    k = len(axes)
    p = math.prod(axes)
    if k == 1:
        return torus_axis_all_gather_time(v, axes[0], link_bytes_per_s, hop_latency_s,
                                          wraps[0], strides[0])
    bandwidth = np.zeros_like(v)
    latency = np.zeros_like(v)
    steps = 0
    for phase in range(k):
        phase_bw = np.zeros_like(v)
        phase_lat = np.zeros_like(v)
        phase_steps = 0
        for part in range(k):
            done = [(part + i) % k for i in range(phase + 1)]
            gathered = (v / k) * math.prod(axes[m] for m in done) / p
            m = done[-1]
            t = torus_axis_all_gather_time(gathered, axes[m], link_bytes_per_s,
                                           hop_latency_s, wraps[m], strides[m])
            phase_bw = np.maximum(phase_bw, t.bandwidth_s)
            phase_lat = np.maximum(phase_lat, t.latency_s)
            phase_steps = max(phase_steps, t.steps)
        bandwidth += phase_bw
        latency += phase_lat
        steps += phase_steps
    each = ", ".join(
        f"{n}{'' if w else ' no wrap'}{f' stride {s}' if s > 1 else ''}"
        for n, w, s in zip(axes, wraps, strides, strict=True))
    return CollectiveTime(bandwidth, latency, f"{k}D torus, {k} axes concurrently ({each})",
                          steps)


def torus_all_to_all_time(bytes_per_device: Bytes, axes: tuple[int, ...],
                          wraps: tuple[bool, ...], strides: tuple[int, ...],
                          link_bytes_per_s: float, hop_latency_s: float) -> CollectiveTime:
    """All-to-all over k torus axes with dimension-ordered routing: each axis's links
    carry that axis's share of every chunk, all axes at once, so the bandwidth time is
    the slowest axis's `torus_axis_all_to_all_time` on the whole buffer V, and the
    latency the sum of the axes' hops (the route's length).

    TPU v5e 16x16 (wrap), V = 1 MiB per device: max(46.6, 46.6) µs + (8+8) µs.
    """
    v = _as_bytes(bytes_per_device)
    parts = [torus_axis_all_to_all_time(v, n, link_bytes_per_s, hop_latency_s, w, s)
             for n, w, s in zip(axes, wraps, strides, strict=True)]
    if len(parts) == 1:
        return parts[0]
    bandwidth = np.maximum.reduce([t.bandwidth_s for t in parts])
    latency = np.sum([t.latency_s for t in parts], axis=0)
    return CollectiveTime(bandwidth, latency,
                          f"all-to-all, {len(axes)}D torus, axes "
                          f"{'x'.join(map(str, axes))} concurrently",
                          sum(t.steps for t in parts))


def point_to_point_time(bytes_: Bytes, bandwidth_bytes_per_s: float, latency_s: float,
                        over: str) -> CollectiveTime:
    """One send/recv: T = V / W + α.

    H100 SXM between two nodes (400 Gb/s NIC = 5e10 B/s, α 5 µs), V = 1 MiB:
    1,048,576 / 5e10 = 20.97 µs + 5 µs; inside the NVSwitch box 2.33 µs + 1 µs.
    """
    v = _as_bytes(bytes_)
    return _time(v / bandwidth_bytes_per_s, 1, latency_s, f"send/recv over {over}")


# ------------------------------------------------------------------ the group
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


# --------------------------------------------------------------- link lookups
def _interconnect(chip: ChipSpec) -> LinkSpec:
    if chip.interconnect is None:
        raise InferplanError(f"{chip.name}.interconnect", None,
                             "this chip has no scale-up link; add `interconnect` (bandwidth "
                             "per direction, links per chip, latency per step) to collect "
                             "over more than one chip")
    return chip.interconnect


def _scale_out(chip: ChipSpec) -> ScaleOutSpec:
    if chip.scale_out is None:
        raise InferplanError(f"{chip.name}.scale_out", None,
                             f"the group spans more than one scale-up domain "
                             f"({chip.scale_up.max_chips} chips) but the chip has no "
                             "scale-out network; add `scale_out` or use a smaller group")
    return chip.scale_out


def bidirectional_link_bandwidth(chip: ChipSpec) -> float:
    """W_bidi = 2 × the per-direction bandwidth of one link (the book's W_ici).

    TPU v5e: 2 × 4.5e10 = 9e10 B/s; seed A12's ICI-bound constant C/W_ici =
    1.97e14 / 9e10 = 2189.
    """
    return 2.0 * _interconnect(chip).bandwidth_bytes_per_s_per_direction


# ------------------------------------------------------------ intra-domain dispatch
def _intra(group: Group, v: Seconds, eff: float, ring: Any, direct: Any, axis: Any,
           torus: Any) -> CollectiveTime:
    """Dispatch one collective among the members of one scale-up domain (`group.local`)
    to its formula for the fabric: ring on switches and PCIe, direct on fully connected
    boxes, a ring fabric's axis, or the torus form."""
    g = group.local if group.domains > 1 and group.local is not None else group
    p = g.size
    if p == 1:
        return no_collective(v)
    link = _interconnect(g.topology.chip)
    w = link.bandwidth_bytes_per_s_per_direction * eff
    kind = g.kind
    result: CollectiveTime
    if kind in ("switch", "pcie"):
        result = ring(v, p, w, link.latency_s, link.name)
    elif kind == "fully_connected":
        result = direct(v, p, w, link.links_per_chip, link.latency_s, link.name)
    elif kind == "ring":
        result = axis(v, p, w, link.latency_s, g.wraps[0], g.strides[0])
    else:
        result = torus(v, g.axes, g.wraps, g.strides, w, link.latency_s)
    return result


def _intra_all_gather(group: Group, v: Seconds, eff: float) -> CollectiveTime:
    """All-gather of V among the members of one scale-up domain."""
    return _intra(group, v, eff, ring_all_gather_time, direct_all_gather_time,
                  torus_axis_all_gather_time, torus_all_gather_time)


def _intra_all_to_all(group: Group, v: Seconds, eff: float) -> CollectiveTime:
    """All-to-all of V per device among the members of one scale-up domain."""
    return _intra(group, v, eff, ring_all_to_all_time, direct_all_to_all_time,
                  torus_axis_all_to_all_time, torus_all_to_all_time)


def _inter_all_gather(group: Group, v_local: Seconds, eff: float) -> CollectiveTime:
    """Ring all-gather across the domains, per local rank, of V/p_local on scale-out."""
    out = _scale_out(group.topology.chip)
    return ring_all_gather_time(v_local, group.domains,
                                out.bandwidth_bytes_per_s_per_direction * eff,
                                out.latency_s, "scale-out")


# ------------------------------------------------------------------ public API
def all_gather_time(group: Group, gathered_bytes: Bytes,
                    link_efficiency: float = 1.0) -> CollectiveTime:
    """All-gather: every device ends with the full array of V = `gathered_bytes` bytes.

    One domain: the topology's algorithm (see the module table). Several domains
    (hierarchical): a ring over scale-out among the d domains of each local rank's
    V/p_local, then the intra-domain all-gather of V:
        T = (d−1)/d · (V/p_local) / W_out + (d−1)·α_out + T_intra(V, p_local).
    `link_efficiency` multiplies every bandwidth (measured fraction of peak).

    H100 SXM, 8 GPUs, V = 1 MiB: 2.039 µs + 7 µs. 16 H100s (2 boxes): 1/2 · 131,072 /
    5e10 = 1.311 µs + 5 µs over the NICs, then 2.039 µs + 7 µs inside each box.
    """
    eff = _check_efficiency(link_efficiency)
    v = _as_bytes(gathered_bytes, "gathered_bytes")
    if group.size == 1:
        return no_collective(v)
    if group.domains == 1:
        return _intra_all_gather(group, v, eff)
    inter = _inter_all_gather(group, v / group.local_size, eff)
    return _hierarchical(group, inter + _intra_all_gather(group, v, eff))


def reduce_scatter_time(group: Group, full_bytes: Bytes,
                        link_efficiency: float = 1.0) -> CollectiveTime:
    """Reduce-scatter: each device starts with V = `full_bytes` unreduced and ends with
    its reduced V/p. The mirror of `all_gather_time`, same cost on every topology
    (hierarchical: intra-domain RS of V first, then across domains on V/p_local).

    TPU v5e, 16-long wrapped axis, V = 1 MiB: 8 · 65,536 / 4.5e10 = 11.65 µs + 8 µs.
    """
    eff = _check_efficiency(link_efficiency)
    v = _as_bytes(full_bytes, "full_bytes")
    if group.size == 1:
        return no_collective(v)
    if group.domains == 1:
        return _intra_all_gather(group, v, eff)
    inter = _inter_all_gather(group, v / group.local_size, eff)
    return _hierarchical(group, _intra_all_gather(group, v, eff) + inter, "reduce-scatter")


def all_reduce_time(group: Group, bytes_: Bytes,
                    link_efficiency: float = 1.0) -> CollectiveTime:
    """All-reduce = reduce-scatter + all-gather of V = `bytes_` (no in-network reduction).

    One domain: 2 × the all-gather. Several domains:
        T = RS_intra(V) + AR_inter(V/p_local) + AG_intra(V),
        AR_inter = 2 · [(d−1)/d · (V/p_local) / W_out + (d−1)·α_out].

    H100 SXM, 8 GPUs, V = 1 MiB: 2 · 7/8 · 1,048,576 / 450e9 = 4.078 µs + 14 µs.
    16 H100s: 4.078 µs + 14 µs inside the boxes + 2.621 µs + 10 µs over the NICs.
    Seed B-Q1: v5e 16-long wrapped axis, [B, D] bf16 (D = 16384, B = 1): 2 · 32,768 /
    9e10 = 0.728 µs; × 2 per layer × 126 layers = 0.18 ms per unit of batch.
    """
    eff = _check_efficiency(link_efficiency)
    v = _as_bytes(bytes_, "bytes_")
    if group.size == 1:
        return no_collective(v)
    if group.domains == 1:
        ag = _intra_all_gather(group, v, eff)
        return ag.repeated(2, f"reduce-scatter + all-gather, {ag.algorithm}")
    intra = _intra_all_gather(group, v, eff)
    inter = _inter_all_gather(group, v / group.local_size, eff)
    both = intra + inter.repeated(2, f"all-reduce {inter.algorithm}") + intra
    return _hierarchical(group, both, "all-reduce")


def all_to_all_time(group: Group, bytes_per_device: Bytes,
                    link_efficiency: float = 1.0) -> CollectiveTime:
    """All-to-all: each device holds V = `bytes_per_device` and sends V/p to every peer.

    One domain: switch/PCIe (p−1)/p · V / W + (p−1)·α; fully connected
    V·(p−1)/p / (W_link·min(p−1, links)) + α; torus ≈ AG/4 on a wrapped axis (see
    `torus_axis_all_to_all_time`). Several domains: the (p−p_local)/p·V bound for
    other domains leaves on the scale-out NIC while the intra-domain share moves on
    the scale-up links at the same time:
        T = max((p−p_local)/p · V / W_out, T_intra,bw) + latencies of both.

    H100 SXM, 8 GPUs, 1 MiB per device: 2.039 µs + 7 µs. 16 H100s: max(1/2 · 1 MiB /
    5e10 = 10.49 µs, 7/16 · 1 MiB / 450e9 = 1.02 µs) + 7 µs + 5 µs.
    """
    eff = _check_efficiency(link_efficiency)
    v = _as_bytes(bytes_per_device, "bytes_per_device")
    if group.size == 1:
        return no_collective(v)
    if group.domains == 1:
        return _intra_all_to_all(group, v, eff)
    p, local, d = group.size, group.local_size, group.domains
    out = _scale_out(group.topology.chip)
    remote = (p - local) / p * v / (out.bandwidth_bytes_per_s_per_direction * eff)
    inter = _time(remote, d - 1, out.latency_s, f"all-to-all over scale-out, {d} domains")
    intra = _intra_all_to_all(group, v * local / p, eff)
    if intra.algorithm == "none":
        return _hierarchical(group, inter, "all-to-all")
    bandwidth = np.maximum(inter.bandwidth_s, intra.bandwidth_s)
    return CollectiveTime(bandwidth, inter.latency_s + intra.latency_s,
                          f"hierarchical all-to-all: {intra.algorithm} with {inter.algorithm}",
                          inter.steps + intra.steps)


def send_recv_time(topology: Topology, bytes_: Bytes, crosses_domain: bool,
                   link_efficiency: float = 1.0) -> CollectiveTime:
    """Point-to-point transfer of V = `bytes_` (a pipeline stage boundary): V / W + α.

    Inside a domain W is the chip's scale-up bandwidth per direction (switch egress,
    one xGMI/ICI/PCIe link) and α its per-step latency; `crosses_domain` uses the
    scale-out NIC's bandwidth and latency. H100 SXM across nodes, 1 MiB: 20.97 µs + 5 µs.
    """
    eff = _check_efficiency(link_efficiency)
    chip = topology.chip
    if crosses_domain:
        out = _scale_out(chip)
        return point_to_point_time(bytes_, out.bandwidth_bytes_per_s_per_direction * eff,
                                   out.latency_s, "scale-out")
    link = _interconnect(chip)
    return point_to_point_time(bytes_, link.bandwidth_bytes_per_s_per_direction * eff,
                               link.latency_s, link.name)


def _hierarchical(group: Group, t: CollectiveTime, what: str = "all-gather") -> CollectiveTime:
    return CollectiveTime(t.bandwidth_s, t.latency_s,
                          f"hierarchical {what} over {group.domains} domains of "
                          f"{group.local_size}: {t.algorithm}", t.steps)
