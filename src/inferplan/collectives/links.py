"""The links a chip offers a collective: its scale-up interconnect and its scale-out
network, each with the error that says what to add when the chip lacks it.

Imports only `inferplan.units` and `inferplan.hardware`.
"""

from __future__ import annotations

from inferplan.hardware import ChipSpec, LinkSpec, ScaleOutSpec
from inferplan.units import InferplanError


def interconnect_link(chip: ChipSpec) -> LinkSpec:
    """The chip's scale-up link, or an error saying to add one."""
    if chip.interconnect is None:
        raise InferplanError(f"{chip.name}.interconnect", None,
                             "this chip has no scale-up link; add `interconnect` (bandwidth "
                             "per direction, links per chip, latency per step) to collect "
                             "over more than one chip")
    return chip.interconnect


def scale_out_link(chip: ChipSpec) -> ScaleOutSpec:
    """The chip's scale-out network, or an error saying to add one."""
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
    return 2.0 * interconnect_link(chip).bandwidth_bytes_per_s_per_direction
