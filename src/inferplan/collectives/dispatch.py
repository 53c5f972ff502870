"""The collectives of a placed `Group`: all-gather, reduce-scatter, all-reduce and
all-to-all, and send/recv on a topology. Inside one scale-up domain each goes to the
fabric's formula; over several domains it is hierarchical (intra-domain, then a ring
over the scale-out network).

Imports only `inferplan.units` and `inferplan.hardware` (through the package's modules).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from inferplan.collectives.formulas import (
    direct_all_gather_time,
    direct_all_to_all_time,
    point_to_point_time,
    ring_all_gather_time,
    ring_all_to_all_time,
    torus_all_gather_time,
    torus_all_to_all_time,
    torus_axis_all_gather_time,
    torus_axis_all_to_all_time,
)
from inferplan.collectives.groups import Group
from inferplan.collectives.links import interconnect_link, scale_out_link
from inferplan.collectives.time import (
    Bytes,
    CollectiveTime,
    Seconds,
    alpha_beta_time,
    as_bytes,
    check_efficiency,
    no_collective,
)
from inferplan.hardware import Topology


def _intra(group: Group, v: Seconds, eff: float, ring: Any, direct: Any, axis: Any,
           torus: Any) -> CollectiveTime:
    """Dispatch one collective among the members of one scale-up domain (`group.local`)
    to its formula for the fabric: ring on switches and PCIe, direct on fully connected
    boxes, a ring fabric's axis, or the torus form."""
    g = group.local if group.domains > 1 and group.local is not None else group
    p = g.size
    if p == 1:
        return no_collective(v)
    link = interconnect_link(g.topology.chip)
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
    out = scale_out_link(group.topology.chip)
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
    eff = check_efficiency(link_efficiency)
    v = as_bytes(gathered_bytes, "gathered_bytes")
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
    eff = check_efficiency(link_efficiency)
    v = as_bytes(full_bytes, "full_bytes")
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
    eff = check_efficiency(link_efficiency)
    v = as_bytes(bytes_, "bytes_")
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
    eff = check_efficiency(link_efficiency)
    v = as_bytes(bytes_per_device, "bytes_per_device")
    if group.size == 1:
        return no_collective(v)
    if group.domains == 1:
        return _intra_all_to_all(group, v, eff)
    p, local, d = group.size, group.local_size, group.domains
    out = scale_out_link(group.topology.chip)
    remote = (p - local) / p * v / (out.bandwidth_bytes_per_s_per_direction * eff)
    inter = alpha_beta_time(remote, d - 1, out.latency_s, f"all-to-all over scale-out, {d} domains")
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
    eff = check_efficiency(link_efficiency)
    chip = topology.chip
    if crosses_domain:
        out = scale_out_link(chip)
        return point_to_point_time(bytes_, out.bandwidth_bytes_per_s_per_direction * eff,
                                   out.latency_s, "scale-out")
    link = interconnect_link(chip)
    return point_to_point_time(bytes_, link.bandwidth_bytes_per_s_per_direction * eff,
                               link.latency_s, link.name)


def _hierarchical(group: Group, t: CollectiveTime, what: str = "all-gather") -> CollectiveTime:
    return CollectiveTime(t.bandwidth_s, t.latency_s,
                          f"hierarchical {what} over {group.domains} domains of "
                          f"{group.local_size}: {t.algorithm}", t.steps)
