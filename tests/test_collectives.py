"""Collective cost model: hand-computed golden numbers per topology kind, seed cases,
catalog spot checks and properties.

Golden tests build their chips here with `chip_from_dict`, so they do not depend on
the catalog files being edited concurrently; the catalog tests skip a chip whose
file is not there yet. Tolerance: rel 1e-9 on hand-computed values unless stated.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inferplan.collectives import (
    CollectiveTime,
    Group,
    all_gather_time,
    all_reduce_time,
    all_to_all_time,
    bidirectional_link_bandwidth,
    place_group,
    reduce_scatter_time,
    send_recv_time,
    torus_all_gather_time,
)
from inferplan.collectives.time import as_bytes
from inferplan.hardware import (
    ChipSpec,
    Topology,
    catalog_chip,
    chip_from_dict,
    default_topology,
    hardware_catalog,
    legal_chip_counts,
)
from inferplan.units import MIB, InferplanError

MiB = float(MIB)
US = 1e-6
REL = 1e-9


# ----------------------------------------------------------------- test chips
def make_chip(name: str, topology: str, max_chips: int, link_bw: float, links: int,
              latency_s: float, *, scale_out: tuple[float, float] | None = None,
              **scale_up: Any) -> ChipSpec:
    """A minimal valid chip with the given scale-up fabric."""
    raw: dict[str, Any] = {
        "name": name, "display_name": name, "vendor": "test", "kind": "gpu",
        "memory_bytes": 80e9, "memory_bandwidth_bytes_per_s": 3.35e12,
        "peak_flops_per_s": {"bf16": 1e15},
        "interconnect": {"name": f"{name} link", "links_per_chip": links,
                         "bandwidth_bytes_per_s_per_direction": link_bw,
                         "latency_s": latency_s},
        "scale_up": {"topology": topology, "max_chips": max_chips, **scale_up},
        "sources": {"memory_bytes": "test", "memory_bandwidth_bytes_per_s": "test",
                    "peak_flops_per_s": "test", "interconnect": "test"},
    }
    if scale_out is not None:
        raw["scale_out"] = {"bandwidth_bytes_per_s_per_direction": scale_out[0],
                            "latency_s": scale_out[1]}
        raw["sources"]["scale_out"] = "test"
    return chip_from_dict(raw)


#: H100 SXM: NVSwitch, 450e9 B/s egress per direction, 1 µs per step; NDR 5e10, 5 µs.
H100 = make_chip("t-h100", "switch", 8, 450e9, 18, 1e-6, scale_out=(5e10, 5e-6))
#: MI300X: 7 xGMI links of 6.4e10 B/s per direction, 2 µs per step.
MI300X = make_chip("t-mi300x", "fully_connected", 8, 6.4e10, 7, 2e-6, scale_out=(5e10, 5e-6))
#: TPU v5e as the Scaling Book has it: ICI 4.5e10 one way per link, 1 µs per hop,
#: wraparound only on 16-long axes.
V5E = chip_from_dict({
    "name": "t-v5e-book", "display_name": "v5e (book)", "vendor": "test", "kind": "tpu",
    "memory_bytes": 16e9, "memory_bandwidth_bytes_per_s": 8.1e11,
    "peak_flops_per_s": {"bf16": 1.97e14, "int8": 3.94e14},
    "interconnect": {"name": "ICI", "bandwidth_bytes_per_s_per_direction": 4.5e10,
                     "links_per_chip": 4, "latency_s": 1e-6},
    "scale_up": {"topology": "torus", "max_chips": 256, "dims": 2,
                 "wraparound": "full_axis", "wraparound_axis_len": 16,
                 "slice_shapes": [[1, 1], [2, 2], [2, 4], [4, 4], [4, 8], [8, 8], [8, 16],
                                  [16, 16]]},
    "scale_out": {"bandwidth_bytes_per_s_per_direction": 3.125e9, "latency_s": 1e-5},
    "sources": {k: "SB-TPU" for k in ("memory_bytes", "memory_bandwidth_bytes_per_s",
                                      "peak_flops_per_s", "interconnect", "scale_out")},
})
#: Trainium2-like: 16-chip instances (a wrapped torus, here a 16-ring), EFA between.
TRN = make_chip("t-trn", "torus", 16, 1e11, 4, 1e-6, scale_out=(2.5e10, 5e-6),
                wraparound="always")
#: RNGD-like card: PCIe Gen5 P2P 6.4e10 B/s per direction, 1.5 µs per step, no NIC.
RNGD = make_chip("t-rngd", "pcie", 8, 6.4e10, 1, 1.5e-6)
#: Inferentia2-like: 12 chips in a ring, 5e10 B/s per link one way, 2 µs per hop.
INF2 = make_chip("t-inf2", "ring", 12, 5e10, 2, 2e-6)


def approx(x: float) -> Any:
    return pytest.approx(x, rel=REL)


# ---------------------------------------------------------------- switch (H100)
def test_switch_h100_eight_gpus() -> None:
    g = place_group(Topology(H100, (8,)), 8)
    assert (g.axes, g.domains, g.local_size) == ((8,), 1, 8)
    ag = all_gather_time(g, MiB)
    assert float(ag.bandwidth_s) == approx(7 / 8 * MiB / 450e9)      # 2.039 µs
    assert float(ag.latency_s) == approx(7 * US)
    assert ag.steps == 7
    assert "ring over" in ag.algorithm
    rs = reduce_scatter_time(g, MiB)
    assert float(rs.total_s) == approx(float(ag.total_s))
    ar = all_reduce_time(g, MiB)
    assert float(ar.bandwidth_s) == approx(2 * 7 / 8 * MiB / 450e9)  # 4.078 µs
    assert float(ar.bandwidth_s) == pytest.approx(4.08e-6, abs=0.005e-6)
    assert float(ar.latency_s) == approx(14 * US)
    a2a = all_to_all_time(g, MiB)
    assert float(a2a.bandwidth_s) == approx(7 / 8 * MiB / 450e9)
    assert float(a2a.latency_s) == approx(7 * US)


def test_switch_subgroup_in_a_bigger_box() -> None:
    g = place_group(Topology(H100, (8,)), 4)
    assert float(all_gather_time(g, MiB).total_s) == approx(3 / 4 * MiB / 450e9 + 3 * US)


# ----------------------------------------------------------- hierarchical (16 H100)
def test_hierarchical_sixteen_h100() -> None:
    g = place_group(Topology(H100, (16,)), 16)
    assert (g.domains, g.local_size) == (2, 8)
    intra = 7 / 8 * MiB / 450e9                  # 2.039 µs per intra AG/RS
    inter = 1 / 2 * (MiB / 8) / 5e10             # 1.311 µs: ring of 2 domains on V/8
    ag = all_gather_time(g, MiB)
    assert float(ag.bandwidth_s) == approx(intra + inter)
    assert float(ag.latency_s) == approx(7 * US + 5 * US)
    assert "hierarchical" in ag.algorithm
    rs = reduce_scatter_time(g, MiB)
    assert float(rs.total_s) == approx(float(ag.total_s))
    ar = all_reduce_time(g, MiB)
    assert float(ar.bandwidth_s) == approx(2 * intra + 2 * inter)   # 6.699 µs
    assert float(ar.latency_s) == approx(14 * US + 10 * US)
    a2a = all_to_all_time(g, MiB)
    assert float(a2a.bandwidth_s) == approx(max(1 / 2 * MiB / 5e10, 7 / 16 * MiB / 450e9))
    assert float(a2a.latency_s) == approx(7 * US + 5 * US)


def test_group_outside_tp_crosses_boxes_only() -> None:
    """DP=2 placed outside TP=8 on 16 H100s: one GPU per box, all on the NICs."""
    g = place_group(Topology(H100, (16,)), 2, inner=8)
    assert (g.domains, g.local_size) == (2, 1)
    ar = all_reduce_time(g, MiB)
    assert float(ar.bandwidth_s) == approx(2 * 1 / 2 * MiB / 5e10)     # 20.97 µs
    assert float(ar.latency_s) == approx(2 * 5 * US)
    inside = place_group(Topology(H100, (16,)), 2, inner=4)           # GPUs 0 and 4
    assert inside.domains == 1


def test_no_scale_out_is_a_clear_error() -> None:
    g = place_group(Topology(RNGD, (16,)), 16)
    with pytest.raises(InferplanError, match="scale_out"):
        all_reduce_time(g, MiB)


# ------------------------------------------------------------------- torus (v5e)
def test_torus_axis_16_with_wrap_vs_4_without() -> None:
    wrap = place_group(Topology(V5E, (16, 16)), 16)
    assert (wrap.axes, wrap.wraps) == ((16,), (True,))
    ag = all_gather_time(wrap, MiB)
    assert float(ag.bandwidth_s) == approx(8 * (MiB / 16) / 4.5e10)   # = V / 9e10
    assert float(ag.latency_s) == approx(8 * US)                       # n/2 hops
    assert "(wrap)" in ag.algorithm
    line = place_group(Topology(V5E, (4, 4)), 4)
    assert (line.axes, line.wraps) == ((4,), (False,))
    ag4 = all_gather_time(line, MiB)
    assert float(ag4.bandwidth_s) == approx(3 * (MiB / 4) / 4.5e10)   # 17.48 µs
    assert float(ag4.latency_s) == approx(3 * US)                      # n−1 hops
    assert "no wrap" in ag4.algorithm
    # the missing wraparound costs 1.5x the per-byte time of a 16-long ring
    assert float(ag4.bandwidth_s / ag.bandwidth_s) == approx(1.5)
    ar = all_reduce_time(wrap, MiB)
    assert float(ar.bandwidth_s) == approx(2 * MiB / 9e10)
    assert float(ar.latency_s) == approx(16 * US)


def test_torus_all_to_all_is_a_quarter_of_all_gather() -> None:
    g = place_group(Topology(V5E, (16, 16)), 16)
    a2a = all_to_all_time(g, MiB)
    assert float(a2a.bandwidth_s) == approx(16 * MiB / 8 / 4.5e10)    # 46.6 µs
    assert float(a2a.bandwidth_s) == approx(float(all_gather_time(g, 16 * MiB).bandwidth_s) / 4)
    line = place_group(Topology(V5E, (4, 4)), 4)
    # middle link of a 4-long line carries 2·2 chunks of V/4
    assert float(all_to_all_time(line, MiB).bandwidth_s) == approx(4 * (MiB / 4) / 4.5e10)


def test_torus_4x2_slice_placement_and_two_axes() -> None:
    topo = Topology(V5E, (4, 2))
    assert place_group(topo, 8).axes == (4, 2)
    assert place_group(topo, 4).axes == (4,)
    assert place_group(topo, 2).axes == (2,)
    outside = place_group(topo, 4, inner=2)            # TP=2 inside, group of 4 outside
    assert (outside.axes, outside.strides) == ((2, 2), (2, 1))
    assert place_group(topo, 2, inner=4).axes == (2,)
    g = place_group(topo, 8)
    assert g.wraps == (False, False)
    ag = all_gather_time(g, MiB)
    w = 4.5e10
    phase1 = max(3 * (MiB / 16) / w, 1 * (MiB / 16) / w)     # 4.37 µs
    phase2 = max(1 * (MiB / 4) / w, 3 * (MiB / 8) / w)       # 8.74 µs
    assert float(ag.bandwidth_s) == approx(phase1 + phase2)  # 13.11 µs
    assert float(ag.latency_s) == approx((3 + 3) * US)
    assert "2 axes" in ag.algorithm
    # both axes at once beat one 4-long line carrying the whole array
    assert float(ag.bandwidth_s) < 3 * (MiB / 4) / w


def test_two_wrapped_axes_approach_the_books_k_axis_form() -> None:
    """Book: over k axes T ≈ V / (W_bidi · k). Here 16x16: V/(2·9e10) · (1 + 1/16)."""
    g = place_group(Topology(V5E, (16, 16)), 256)
    t = float(all_gather_time(g, MiB).bandwidth_s)
    assert t == approx(MiB / (2 * 9e10) * (1 + 1 / 16))
    assert t == pytest.approx(MiB / (2 * 9e10), rel=0.07)


def test_torus_spanning_domains_is_hierarchical() -> None:
    """32 chips = two 16-chip torus domains joined by scale-out (EFA)."""
    g = place_group(Topology(TRN, (32,)), 32)
    assert (g.domains, g.local_size) == (2, 16)
    assert g.local is not None and g.local.wraps == (True,)
    ag = all_gather_time(g, MiB)
    inter = 1 / 2 * (MiB / 16) / 2.5e10                  # ring of 2 domains on V/16
    intra = 8 * (MiB / 16) / 1e11                        # bidirectional 16-ring
    assert float(ag.bandwidth_s) == approx(inter + intra)
    assert float(ag.latency_s) == approx(5 * US + 8 * US)
    assert "hierarchical" in ag.algorithm
    outside = place_group(Topology(TRN, (64,)), 4, inner=16)   # one chip per domain
    assert (outside.domains, outside.local_size) == (4, 1)
    ar = all_reduce_time(outside, MiB)
    assert float(ar.bandwidth_s) == approx(2 * 3 / 4 * MiB / 2.5e10)
    assert float(ar.latency_s) == approx(2 * 3 * 5 * US)


def test_torus_tiling_errors() -> None:
    with pytest.raises(InferplanError, match="tile"):
        place_group(Topology(V5E, (4, 2)), 3)
    with pytest.raises(InferplanError, match="chips"):
        place_group(Topology(V5E, (4, 2)), 4, inner=4)


# ------------------------------------------------------- seeds (Scaling Book, v5e)
def test_seed_a30_t_ici() -> None:
    """A30: T_ici = 2·B·D / W_ici = 2·64·8192 / 9e10 = 11.65 µs, an all-gather of the
    bf16 [B, D] activations on a wraparound axis."""
    g = place_group(Topology(V5E, (16, 16)), 16)
    t = all_gather_time(g, 2 * 64 * 8192)
    assert float(t.bandwidth_s) == pytest.approx(11.65e-6, abs=0.005e-6)
    assert float(reduce_scatter_time(g, 2 * 64 * 8192).bandwidth_s) == pytest.approx(
        11.65e-6, abs=0.005e-6)


def test_seed_a12_ici_constant() -> None:
    """A12: C / W_ici = 1.97e14 / 9e10 = 2189 (the text's "2200")."""
    assert bidirectional_link_bandwidth(V5E) == 9e10
    assert V5E.flops_per_s("bf16") / bidirectional_link_bandwidth(V5E) == pytest.approx(
        2189, abs=0.5)


def test_seed_a29_beta() -> None:
    """A29: β = W_hbm / W_ici = 8.1e11 / 9e10 = 9.0."""
    beta = V5E.memory_bandwidth_bytes_per_s / bidirectional_link_bandwidth(V5E)
    assert beta == pytest.approx(9.0)


def test_seed_bq1_megatron_ici_bound() -> None:
    """B-Q1: 2 all-reduces of [B, D] bf16 per layer, L = 126, D = 16384:
    8·L·B·D / W_ici = 0.18 ms per unit of batch, halved (≈) over 2 axes."""
    layers, d_model = 126, 16384
    one_axis = place_group(Topology(V5E, (16, 16)), 16)
    step = all_reduce_time(one_axis, 2 * d_model).repeated(2 * layers, "Megatron step")
    assert float(step.bandwidth_s) == approx(8 * layers * d_model / 9e10)    # 0.1835 ms
    assert float(step.bandwidth_s) == pytest.approx(0.18e-3, rel=0.02)
    # latency: 252 all-reduces × 16 hops (8 per RS, 8 per AG) × 1 µs = 4.03 ms. The
    # seed's 7.6 ms counts 2(p−1) = 30 hops, a unidirectional ring.
    assert float(step.latency_s) == approx(252 * 16 * US)
    two_axes = place_group(Topology(V5E, (16, 16)), 256)
    ratio = float(all_reduce_time(two_axes, MiB).bandwidth_s
                  / all_reduce_time(one_axis, MiB).bandwidth_s)
    assert 0.5 <= ratio <= 0.55


# --------------------------------------------------------- fully connected (MI300X)
def test_fully_connected_mi300x() -> None:
    g = place_group(Topology(MI300X, (8,)), 8)
    ag = all_gather_time(g, MiB)
    assert float(ag.bandwidth_s) == approx(MiB / 8 / 6.4e10)     # 2.048 µs
    assert float(ag.latency_s) == approx(2 * US)                 # one step
    assert "direct" in ag.algorithm
    ar = all_reduce_time(g, MiB)
    assert float(ar.bandwidth_s) == approx(2 * MiB / 8 / 6.4e10)
    assert float(ar.latency_s) == approx(4 * US)
    a2a = all_to_all_time(g, MiB)
    assert float(a2a.bandwidth_s) == approx(MiB * 7 / 8 / (6.4e10 * 7))
    assert float(a2a.latency_s) == approx(2 * US)
    # a pair uses one of the 7 links: V/2 over one link
    pair = place_group(Topology(MI300X, (8,)), 2)
    assert float(all_gather_time(pair, MiB).bandwidth_s) == approx(MiB / 2 / 6.4e10)


def test_fully_connected_with_too_few_links_takes_rounds() -> None:
    chip = make_chip("t-fc3", "fully_connected", 8, 1e11, 3, 1e-6)
    g = place_group(Topology(chip, (8,)), 8)
    ag = all_gather_time(g, MiB)
    assert float(ag.bandwidth_s) == approx(7 * (MiB / 8) / (1e11 * 3))
    assert ag.steps == 3                                         # ⌈7/3⌉ rounds


# ------------------------------------------------------------------ PCIe (RNGD)
def test_pcie_ring_rngd() -> None:
    g = place_group(Topology(RNGD, (4,)), 4)
    ar = all_reduce_time(g, MiB)
    assert float(ar.bandwidth_s) == approx(2 * 3 / 4 * MiB / 6.4e10)   # 24.58 µs
    assert float(ar.latency_s) == approx(6 * 1.5e-6)
    assert float(all_to_all_time(g, MiB).bandwidth_s) == approx(3 / 4 * MiB / 6.4e10)


# ---------------------------------------------------------- ring (Inferentia2)
def test_ring_closes_only_over_the_whole_ring() -> None:
    full = place_group(Topology(INF2, (12,)), 12)
    assert full.wraps == (True,)
    ag = all_gather_time(full, MiB)
    assert float(ag.bandwidth_s) == approx(6 * (MiB / 12) / 5e10)      # ⌈11/2⌉ shards
    assert float(ag.latency_s) == approx(6 * 2e-6)
    part = place_group(Topology(INF2, (12,)), 4)
    assert part.wraps == (False,)
    assert float(all_gather_time(part, MiB).bandwidth_s) == approx(3 * (MiB / 4) / 5e10)


# -------------------------------------------------------------------- send/recv
def test_send_recv() -> None:
    topo = Topology(H100, (16,))
    out = send_recv_time(topo, MiB, crosses_domain=True)
    assert float(out.bandwidth_s) == approx(MiB / 5e10)       # 20.97 µs
    assert float(out.latency_s) == approx(5 * US)
    inside = send_recv_time(topo, MiB, crosses_domain=False)
    assert float(inside.total_s) == approx(MiB / 450e9 + 1 * US)
    ici = send_recv_time(Topology(V5E, (4, 2)), MiB, crosses_domain=False)
    assert float(ici.total_s) == approx(MiB / 4.5e10 + 1 * US)
    half = send_recv_time(topo, MiB, crosses_domain=True, link_efficiency=0.5)
    assert float(half.bandwidth_s) == approx(2 * MiB / 5e10)
    with pytest.raises(InferplanError, match="scale_out"):
        send_recv_time(Topology(RNGD, (16,)), MiB, crosses_domain=True)


# ------------------------------------------------------------- API behaviour
def test_vectorised_over_message_sizes() -> None:
    sizes = np.array([0.0, 1e3, MiB, 1e9])
    for topo, size in ((Topology(H100, (16,)), 16), (Topology(V5E, (4, 8)), 32),
                       (Topology(MI300X, (8,)), 8)):
        g = place_group(topo, size)
        for fn in (all_gather_time, reduce_scatter_time, all_reduce_time, all_to_all_time):
            many = fn(g, sizes)
            assert many.total_s.shape == sizes.shape
            one = [float(fn(g, s).total_s) for s in sizes]
            np.testing.assert_allclose(many.total_s, one, rtol=1e-12)


def test_link_efficiency_scales_bandwidth_only() -> None:
    g = place_group(Topology(H100, (8,)), 8)
    full, part = all_reduce_time(g, MiB), all_reduce_time(g, MiB, link_efficiency=0.88)
    assert float(part.bandwidth_s) == approx(float(full.bandwidth_s) / 0.88)
    assert float(part.latency_s) == approx(float(full.latency_s))
    for bad in (0.0, -1.0, 1.5):
        with pytest.raises(InferplanError, match="link_efficiency"):
            all_reduce_time(g, MiB, link_efficiency=bad)


def test_bad_inputs() -> None:
    g = place_group(Topology(H100, (8,)), 8)
    with pytest.raises(InferplanError):
        all_gather_time(g, -1.0)
    with pytest.raises(InferplanError, match="chips"):
        place_group(Topology(H100, (8,)), 16)
    with pytest.raises(InferplanError):
        Group(Topology(H100, (8,)), 8, (4,), 1)


def test_group_fields_are_derived_when_built_directly() -> None:
    g = Group(Topology(V5E, (16, 16)), 16, (16,), 1)
    assert (g.local_size, g.wraps, g.strides) == (16, (True,), (1,))
    assert float(all_gather_time(g, MiB).bandwidth_s) == approx(MiB / 9e10)


# ------------------------------------------------------------------ properties
CASES: list[tuple[Topology, int, int]] = [
    (Topology(H100, (8,)), 8, 1), (Topology(H100, (16,)), 16, 1),
    (Topology(H100, (32,)), 4, 8), (Topology(H100, (24,)), 12, 1),
    (Topology(MI300X, (8,)), 4, 1), (Topology(MI300X, (16,)), 16, 1),
    (Topology(V5E, (16, 16)), 16, 1), (Topology(V5E, (4, 2)), 8, 1),
    (Topology(V5E, (4, 8)), 32, 1), (Topology(V5E, (8, 16)), 16, 8),
    (Topology(V5E, (16, 16)), 32, 8), (Topology(RNGD, (8,)), 8, 1),
    (Topology(INF2, (12,)), 12, 1), (Topology(INF2, (12,)), 3, 4),
    (Topology(TRN, (32,)), 32, 1), (Topology(TRN, (64,)), 4, 16), (Topology(TRN, (64,)), 8, 8),
]
FUNCS = [all_gather_time, reduce_scatter_time, all_reduce_time, all_to_all_time]


def scaled(chip: ChipSpec, up: float, out: float) -> ChipSpec:
    """The same chip with scale-up links `up` times and scale-out `out` times faster."""
    assert chip.interconnect is not None
    link = chip.interconnect.model_copy(update={
        "bandwidth_bytes_per_s_per_direction":
            chip.interconnect.bandwidth_bytes_per_s_per_direction * up})
    update: dict[str, Any] = {"interconnect": link}
    if chip.scale_out is not None:
        update["scale_out"] = chip.scale_out.model_copy(update={
            "bandwidth_bytes_per_s_per_direction":
                chip.scale_out.bandwidth_bytes_per_s_per_direction * out})
    return chip.model_copy(update=update)


@settings(max_examples=200, deadline=None)
@given(case=st.sampled_from(CASES), fn=st.sampled_from(FUNCS),
       a=st.floats(0, 1e10), b=st.floats(0, 1e10))
def test_time_non_decreasing_in_bytes(case: tuple[Topology, int, int], fn: Any,
                                      a: float, b: float) -> None:
    topo, size, inner = case
    g = place_group(topo, size, inner)
    lo, hi = sorted((a, b))
    assert float(fn(g, lo).total_s) <= float(fn(g, hi).total_s)


@settings(max_examples=200, deadline=None)
@given(case=st.sampled_from(CASES), fn=st.sampled_from(FUNCS),
       v=st.floats(0, 1e10), up=st.floats(1, 100), out=st.floats(1, 100))
def test_more_link_bandwidth_never_slower(case: tuple[Topology, int, int], fn: Any,
                                          v: float, up: float, out: float) -> None:
    topo, size, inner = case
    slow = fn(place_group(topo, size, inner), v)
    fast = fn(place_group(Topology(scaled(topo.chip, up, out), topo.shape), size, inner), v)
    assert float(fast.total_s) <= float(slow.total_s) * (1 + 1e-12)


@settings(max_examples=100, deadline=None)
@given(case=st.sampled_from(CASES), fn=st.sampled_from(FUNCS), v=st.floats(0, 1e10),
       e1=st.floats(0.01, 1), e2=st.floats(0.01, 1))
def test_higher_link_efficiency_never_slower(case: tuple[Topology, int, int], fn: Any,
                                             v: float, e1: float, e2: float) -> None:
    topo, size, inner = case
    g = place_group(topo, size, inner)
    lo, hi = sorted((e1, e2))
    assert float(fn(g, v, link_efficiency=hi).total_s) <= float(
        fn(g, v, link_efficiency=lo).total_s) * (1 + 1e-12)


@pytest.mark.parametrize("topo", [c[0] for c in CASES],
                         ids=[f"{c[0].chip.name}-{'x'.join(map(str, c[0].shape))}" for c in CASES])
@pytest.mark.parametrize("fn", FUNCS)
def test_group_of_one_is_free(topo: Topology, fn: Any) -> None:
    t: CollectiveTime = fn(place_group(topo, 1), np.array([0.0, MiB, 1e9]))
    assert t.algorithm == "none"
    assert not np.any(t.total_s)


# ------------------------------------------------- catalog (once the files exist)
def catalog_or_skip(name: str) -> ChipSpec:
    try:
        return catalog_chip(name)
    except Exception as exc:  # file not written yet, or mid-edit by someone else
        pytest.skip(f"catalog chip {name!r} not available: {exc}")


def test_catalog_h100_sxm() -> None:
    chip = catalog_or_skip("h100-sxm")
    g = place_group(Topology(chip, (8,)), 8)
    assert float(all_reduce_time(g, MiB).bandwidth_s) == approx(2 * 7 / 8 * MiB / 450e9)
    assert place_group(Topology(chip, (16,)), 16).domains == 2


def test_catalog_gb200_is_one_72_gpu_domain() -> None:
    chip = catalog_or_skip("gb200")
    g = place_group(Topology(chip, (72,)), 72)
    assert g.domains == 1
    assert chip.interconnect is not None
    w = chip.interconnect.bandwidth_bytes_per_s_per_direction
    assert float(all_gather_time(g, MiB).bandwidth_s) == approx(71 / 72 * MiB / w)


def test_catalog_mi300x() -> None:
    chip = catalog_or_skip("mi300x")
    assert chip.scale_up.topology == "fully_connected" and chip.interconnect is not None
    w = chip.interconnect.bandwidth_bytes_per_s_per_direction
    g = place_group(Topology(chip, (8,)), 8)
    assert float(all_gather_time(g, MiB).bandwidth_s) == approx(MiB / 8 / w)
    assert all_gather_time(g, MiB).steps == 1


@pytest.mark.parametrize("name", ["tpu-v5e", "tpu-v5e-scaling-book"])
def test_catalog_v5e_seed_a30(name: str) -> None:
    chip = catalog_or_skip(name)
    g = place_group(Topology(chip, (16, 16)), 16)
    t = all_gather_time(g, 2 * 64 * 8192)
    assert float(t.bandwidth_s) == pytest.approx(11.65e-6, abs=0.005e-6)
    assert place_group(Topology(chip, (4, 4)), 4).wraps == (False,)


def test_catalog_v5p_three_axes() -> None:
    chip = catalog_or_skip("tpu-v5p")
    topo = default_topology(chip, 64)
    g = place_group(topo, 64)
    assert chip.interconnect is not None
    t = all_gather_time(g, MiB)
    expect = torus_all_gather_time(MiB, g.axes, g.wraps, g.strides,
                                   chip.interconnect.bandwidth_bytes_per_s_per_direction,
                                   chip.interconnect.latency_s)
    assert float(t.total_s) == approx(float(expect.total_s))
    assert f"{len(g.axes)} axes" in t.algorithm


@pytest.mark.parametrize("name", ["rngd", "l4", "l40s"])
def test_catalog_pcie_ring(name: str) -> None:
    chip = catalog_or_skip(name)
    assert chip.scale_up.topology == "pcie"
    if chip.interconnect is None:
        pytest.skip(f"{name} states no PCIe P2P interconnect")
    link = chip.interconnect
    p = min(4, chip.scale_up.max_chips)
    g = place_group(Topology(chip, (p,)), p)
    t = all_reduce_time(g, MiB)
    assert float(t.bandwidth_s) == approx(2 * (p - 1) / p * MiB
                                          / link.bandwidth_bytes_per_s_per_direction)
    assert float(t.latency_s) == approx(2 * (p - 1) * link.latency_s)


def test_catalog_inferentia2_ring() -> None:
    chip = catalog_or_skip("inferentia2")
    assert chip.scale_up.topology == "ring"
    n = chip.scale_up.max_chips
    g = place_group(Topology(chip, (n,)), n)
    assert g.wraps == (True,)
    assert "bidirectional ring" in all_gather_time(g, MiB).algorithm


def _catalog_names() -> list[str]:
    try:
        return sorted(hardware_catalog())
    except Exception:  # a file mid-edit: the spot tests above report it
        return []


@pytest.mark.parametrize("name", _catalog_names())
def test_every_catalog_chip_prices_its_collectives(name: str) -> None:
    """Every legal deployment size up to 4 scale-up domains: finite, non-negative times,
    or a clear error naming the missing field."""
    chip = catalog_or_skip(name)
    limit = max(4 * chip.scale_up.max_chips, 2)
    for chips in legal_chip_counts(chip, limit=min(limit, 512)):
        if chips == 1:
            continue
        topo = default_topology(chip, chips)
        g = place_group(topo, chips)
        for fn in FUNCS:
            try:
                t = fn(g, np.array([0.0, MiB]))
            except InferplanError as exc:
                assert "scale_out" in str(exc) or "interconnect" in str(exc)
                continue
            assert np.all(np.isfinite(t.total_s)) and np.all(t.total_s >= 0)
            assert t.algorithm and t.algorithm != "none"
            assert math.isfinite(float(t.total_s[1]))


@pytest.mark.parametrize("sizes", [[1.0, math.nan], [math.inf], [-1.0, 2.0], -math.inf,
                                   [[1.0, 2.0], [3.0, math.nan]], np.full(20, -1.0),
                                   np.r_[np.ones(20), math.inf]])
def test_message_sizes_must_be_finite_and_not_negative(sizes: Any) -> None:
    """`as_bytes` refuses NaN, ±inf and negative sizes, checked value by value for a
    few sizes and by reductions for many."""
    with pytest.raises(InferplanError, match="finite and"):
        as_bytes(sizes)
    assert as_bytes([0.0, 5.0]).tolist() == [0.0, 5.0] and as_bytes(np.ones((3, 4))).shape == (3, 4)
