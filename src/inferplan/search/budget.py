"""How big a space is before it runs (issue 13): its points, an estimated time to evaluate
them and the memory their results take, against the memory the machine has free.

`run_search` keeps, per point, eleven columns while it evaluates (group, value, batch,
γ, fits, TTFT, TPOT, end-to-end, tokens/s, chips, USD/h) and builds the result's columns
from them before it lets them go; so the peak is about twice the result, and the size of
a space bounds it. `MAX_POINTS` (`space.py`) refuses a mistyped range whatever the
machine; `check_memory` refuses what this machine cannot hold.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from inferplan.search.space import SpaceIn, count_points
from inferplan.units import GIB, InferplanError

#: Spaces of more points than this announce their size and estimated time before they
#: run (on stderr) and show a progress bar over the evaluation groups.
ANNOUNCE_POINTS = 1_000_000

#: Points the vectorised evaluator runs per second on the 2-core development machine.
#: `make bench` (benchmarks/run_all.py) at commit c410b4b printed "search, 147,456
#: candidate points 0.1608" s (917,000 points/s, static batches) and "same, static, plain
#: + draft at 2 alphas, 98,304 points 0.1819" s (540,000 points/s, speculative); the
#: slower one, rounded down. (A 9,437,184-point space of 2,304 deployments and 8 input
#: lengths ran in 13.0 s, 724,000 points/s. The frontier adds ~0.1 s a million points.)
POINTS_PER_S = 500_000

#: Peak bytes of `run_search` per point of the space: Python's tracemalloc peak over the
#: search of a 2,048,000-point space (qwen3-8b on 8 H100, tp 1-8, bf16/fp8 weights and
#: KV, 64 input lengths, batch 1..2000; 88% feasible) was 441 MB, 216 B/point; a
#: 128,000-point space of the same shape 225 B/point. Rounded up: the 11 columns held
#: while evaluating (65 B/point: 7 of 8 B, fits 1 B; batch values shared) plus the
#: result's (97 B/point) plus ranking's temporaries.
BYTES_PER_POINT = 240


@dataclass(frozen=True)
class SpaceSize:
    """A space's points (an upper bound: topologies pair with their chip count only)
    and what evaluating them costs at `POINTS_PER_S` and `BYTES_PER_POINT`."""

    points: int

    @property
    def estimated_s(self) -> float:
        """Seconds to evaluate: 3,000,000 points / 500,000 points/s = 6 s."""
        return self.points / POINTS_PER_S

    @property
    def result_bytes(self) -> int:
        """Peak bytes of the per-point results: 3,000,000 × 240 B = 720 MB."""
        return self.points * BYTES_PER_POINT

    @property
    def large(self) -> bool:
        """Whether the space announces itself and shows a progress bar."""
        return self.points > ANNOUNCE_POINTS

    def announcement(self) -> str:
        """One line for stderr before a large space runs:
        'search: 3,000,000 points; about 6 s to evaluate (at 500,000 points/s), about
        0.67 GiB for the results'."""
        return (f"search: {self.points:,} points; about {self.estimated_s:,.0f} s to evaluate "
                f"(at {POINTS_PER_S:,} points/s), about {self.result_bytes / GIB:.2f} GiB "
                "for the results")


def space_size(space: SpaceIn) -> SpaceSize:
    """The size of a parsed space (`count_points`)."""
    return SpaceSize(count_points(space))


def available_memory_bytes() -> int | None:
    """Physical memory free now: page size × available pages (`os.sysconf`); None on a
    system that does not report them."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_AVPHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def check_memory(size: SpaceSize, available_bytes: int | None, origin: str = "space"
                 ) -> None:
    """Refuse (one `InferplanError` line) a space whose results would not fit in the
    memory free now; nothing when the system does not say how much is free."""
    if available_bytes is None or size.result_bytes <= available_bytes:
        return
    raise InferplanError(origin, f"{size.points:,} points", (
        f"its results need about {size.result_bytes / GIB:.2f} GiB ({BYTES_PER_POINT} B "
        f"per point), more than the {available_bytes / GIB:.2f} GiB of memory free; "
        "narrow a range or a list"))


def checked_size(space: SpaceIn, origin: str = "space") -> SpaceSize:
    """The space's size, refused when its results cannot fit in the memory free now."""
    size = space_size(space)
    check_memory(size, available_memory_bytes(), origin)
    return size
