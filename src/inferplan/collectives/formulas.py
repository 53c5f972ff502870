"""Closed forms of each collective algorithm on one fabric: rings over a switch, PCIe or
NICs, direct sends on fully connected links, lines and bidirectional rings on torus axes,
k torus axes at once, and one point-to-point send. Each takes the group's size and the
link's bandwidth and latency; `dispatch` picks which one runs where.

Imports only `inferplan.units` (through `time`).
"""

from __future__ import annotations

import math

import numpy as np

from inferplan.collectives.time import Bytes, CollectiveTime, alpha_beta_time, as_bytes


# ------------------------------------------------------- formulas: rings and switches
def ring_all_gather_time(gathered_bytes: Bytes, p: int, bandwidth_bytes_per_s: float,
                         step_latency_s: float, over: str) -> CollectiveTime:
    """Unidirectional ring all-gather (or reduce-scatter) over a switch, PCIe or NICs.

    T = (p−1)/p · V / W + (p−1)·α, with W the per-direction egress of one device:
    each device forwards p−1 shards of V/p, one per step.

    H100 SXM, p = 8, V = 1 MiB: 7/8 · 1,048,576 / 450e9 = 2.039 µs + 7 × 1 µs.
    """
    v = as_bytes(gathered_bytes)
    bw = (p - 1) / p * v / bandwidth_bytes_per_s
    return alpha_beta_time(bw, p - 1, step_latency_s, f"ring over {over}, {p} devices")


def ring_all_to_all_time(bytes_per_device: Bytes, p: int, bandwidth_bytes_per_s: float,
                         step_latency_s: float, over: str) -> CollectiveTime:
    """All-to-all through a switch (or PCIe, or NICs): each device sends (p−1)/p of its
    buffer out through its own egress, one peer per step.

    T = (p−1)/p · V / W + (p−1)·α, V = bytes each device holds before the exchange.

    H100 SXM, p = 8, V = 1 MiB: 7/8 · 1,048,576 / 450e9 = 2.039 µs + 7 × 1 µs.
    """
    v = as_bytes(bytes_per_device)
    bw = (p - 1) / p * v / bandwidth_bytes_per_s
    return alpha_beta_time(bw, p - 1, step_latency_s, f"all-to-all over {over}, {p} devices")


def direct_all_gather_time(gathered_bytes: Bytes, p: int, link_bytes_per_s: float,
                           links: int, step_latency_s: float, over: str) -> CollectiveTime:
    """Fully connected all-gather (or reduce-scatter): each device sends its shard to the
    p−1 peers on separate links at once.

    T = (p−1)·(V/p) / (W_link · min(p−1, links)) + ⌈(p−1)/links⌉·α, which is
    V/p / W_link + α when p−1 ≤ links.

    MI300X, p = 8 (7 xGMI links of 64 GB/s per direction), V = 1 MiB:
    131,072 / 6.4e10 = 2.048 µs + 2 µs.
    """
    v = as_bytes(gathered_bytes)
    peers = p - 1
    lanes = min(peers, links)
    bw = peers * (v / p) / (link_bytes_per_s * lanes)
    rounds = math.ceil(peers / links)
    return alpha_beta_time(bw, rounds, step_latency_s, f"direct over {over}, {p} devices")


def direct_all_to_all_time(bytes_per_device: Bytes, p: int, link_bytes_per_s: float,
                           links: int, step_latency_s: float, over: str) -> CollectiveTime:
    """Fully connected all-to-all: V/p to each of p−1 peers, min(p−1, links) links at once.

    T = V·(p−1)/p / (W_link · min(p−1, links)) + ⌈(p−1)/links⌉·α.

    MI300X, p = 8, V = 1 MiB per device: 7/8 · 1,048,576 / (6.4e10 · 7) = 2.048 µs + 2 µs.
    """
    v = as_bytes(bytes_per_device)
    peers = p - 1
    bw = v * peers / p / (link_bytes_per_s * min(peers, links))
    rounds = math.ceil(peers / links)
    return alpha_beta_time(bw, rounds, step_latency_s,
                           f"direct all-to-all over {over}, {p} devices")


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
    v = as_bytes(gathered_bytes)
    shards = math.ceil((n - 1) / 2) if wrap else n - 1
    hops = (n // 2 if wrap else n - 1) * stride
    bw = shards * (v / n) / (link_bytes_per_s / stride)
    kind = "bidirectional ring" if wrap else "line"
    what = f"{kind} on {n}-long torus axis ({'wrap' if wrap else 'no wrap'})"
    if stride > 1:
        what += f", stride {stride}"
    return alpha_beta_time(bw, hops, hop_latency_s, what)


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
    v = as_bytes(bytes_per_device)
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
    return alpha_beta_time(bw, hops * stride, hop_latency_s, what)


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
    v = as_bytes(gathered_bytes)
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
    v = as_bytes(bytes_per_device)
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
    v = as_bytes(bytes_)
    return alpha_beta_time(v / bandwidth_bytes_per_s, 1, latency_s, f"send/recv over {over}")
