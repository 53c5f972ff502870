"""`inferplan verify-sharding`: the HLO reader on hand-written replica groups, and the
model's per-layer collectives against XLA's compiled HLO (skipped without jax).

Agreement is the model's count and bytes per device per (collective, device group)
equal to the HLO's, the HLO's elements priced at the compute dtype (bf16). The
differences XLA shows (docs/verify-sharding.md) are asserted as what they are, not
widened into agreement.
"""

from __future__ import annotations

import pytest

from inferplan.hlo import Shape, parse_replica_groups, verify_sharding
from inferplan.hlo.parse import array_elements
from inferplan.units import InferplanError


def test_replica_groups_in_all_three_spellings() -> None:
    # explicit
    assert parse_replica_groups("replica_groups={{0,1},{2,3}}, x", 4) == ((0, 1), (2, 3))
    # iota: arange(8).reshape(4,2).T → rows [0,2,4,6], [1,3,5,7]
    assert parse_replica_groups("replica_groups=[2,4]<=[4,2]T(1,0), d", 8) == (
        (0, 2, 4, 6), (1, 3, 5, 7))
    # mesh a=2, b=4 over ids 0..7 row-major; groups along b: {0..3}, {4..7}
    assert parse_replica_groups("replica_groups=mesh['a'=2,'b'=4] {'b'}, u", 8) == (
        (0, 1, 2, 3), (4, 5, 6, 7))
    # the same mesh laid over device ids [4,2]T(1,0) = 0,2,4,6,1,3,5,7; groups along a
    assert parse_replica_groups(
        "replica_groups=mesh['a'=2,'b'=4], device_ids=([4,2]T(1,0)) {'a'}, u", 8) == (
        (0, 1), (2, 3), (4, 5), (6, 7))
    assert parse_replica_groups("no groups", 3) == ((0, 1, 2),)


def test_array_elements_of_tuples_and_scalars() -> None:
    assert array_elements("(bf16[2,3]{1,0}, f32[4]{0})") == [("bf16", 6), ("f32", 4)]
    assert array_elements("f32[]") == [("f32", 1)]


def test_one_device_is_refused() -> None:
    with pytest.raises(InferplanError, match="--devices"):
        verify_sharding([Shape(8, 8, 64, 128, 8, 8, 8)], 1)


SHAPES = [Shape(B=8, S=8, D=64, F=256, N=8, K=8, H=8),
          Shape(B=8, S=4, D=128, F=256, N=16, K=8, H=8)]


@pytest.mark.parametrize("devices", [2, 4, 8])
def test_megatron_ws1d_and_ep_agree_with_xla(devices: int) -> None:
    pytest.importorskip("jax")
    rows, skipped = verify_sharding(SHAPES, devices, ("megatron", "ws1d", "ep"))
    assert not skipped
    # megatron: 2 all-reduces of T·D·2 B; ws1d: 2 all-gathers and 2 reduce-scatters of it
    # (XLA:CPU: all-reduce + slice); ep: 2 all-to-alls of (T/n)·k·D·2 B
    kinds = {(r.layout, r.collective) for r in rows}
    assert kinds == {("megatron", "all_reduce"), ("ws1d", "all_gather"),
                     ("ws1d", "reduce_scatter"), ("ep", "all_to_all"), ("ep", "all_gather")}
    labels = {shape.label(): shape for shape in SHAPES}
    for r in rows:
        if (r.layout, r.collective) == ("ep", "all_gather"):
            # XLA gathers the router's probabilities for its unpartitioned top-k: all
            # B·S tokens × E experts on every device (bf16-priced); the model has none
            s = labels[r.shape]
            assert (r.model_count, r.hlo_count) == (0, 1)
            assert r.hlo_bytes == s.B * s.S * s.experts * 2
            continue
        assert r.agree == "yes", r
        assert r.group_size == devices


def test_ws2d_and_weight_gathered_on_8_devices() -> None:
    pytest.importorskip("jax")
    rows, skipped = verify_sharding(SHAPES[1:], 8, ("ws2d", "wg_x"))
    assert not skipped
    by = {(r.layout, r.collective, r.axes): r for r in rows}
    # ws2d (X = 2, YZ = 4): gathers over yz and x, scatters over x and yz all agree
    for key in [("ws2d", "all_gather", "yz"), ("ws2d", "reduce_scatter", "x"),
                ("ws2d", "all_gather", "x"), ("ws2d", "reduce_scatter", "yz")]:
        assert by[key].agree == "yes", by[key]
    # RMSNorm over the D/X slice: an all-reduce over x of the T = 32 per-token sums per
    # block, 2 blocks, bf16-priced: 2·32·2 = 128 B, which the model leaves out
    norm = by[("ws2d", "all_reduce", "x")]
    assert (norm.model_count, norm.hlo_count, norm.hlo_bytes) == (0, 2, 128)
    # wg_x: activations agree; weights agree in bytes, in twice the model's calls
    assert by[("wg_x", "all_gather", "yz")].agree == "yes"
    assert by[("wg_x", "reduce_scatter", "yz")].agree == "yes"
    weights = by[("wg_x", "all_gather", "x")]
    assert weights.agree == "bytes" and weights.hlo_count == 2 * weights.model_count
