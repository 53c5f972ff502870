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

The modules, each importing only those above it: `time` (`CollectiveTime` and the
shared argument checks), `formulas` (each algorithm's closed form), `groups` (`Group`,
`place_group`), `links` (a chip's scale-up and scale-out links), `dispatch` (the
collectives of a placed group, hierarchical over several domains). This module
re-exports their public names.

Imports only `inferplan.units` and `inferplan.hardware`.
"""

from inferplan.collectives.dispatch import (
    all_gather_time,
    all_reduce_time,
    all_to_all_time,
    reduce_scatter_time,
    send_recv_time,
)
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
from inferplan.collectives.groups import Group, place_group, placement_key
from inferplan.collectives.links import bidirectional_link_bandwidth
from inferplan.collectives.time import Bytes, CollectiveTime, Seconds, no_collective

__all__ = [
    "Bytes", "CollectiveTime", "Group", "Seconds", "all_gather_time", "all_reduce_time",
    "all_to_all_time", "bidirectional_link_bandwidth", "direct_all_gather_time",
    "direct_all_to_all_time", "no_collective", "place_group", "placement_key",
    "point_to_point_time",
    "reduce_scatter_time", "ring_all_gather_time", "ring_all_to_all_time", "send_recv_time",
    "torus_all_gather_time", "torus_all_to_all_time", "torus_axis_all_gather_time",
    "torus_axis_all_to_all_time",
]
