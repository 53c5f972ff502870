"""Terminal rendering of `inferplan validate --serving`: per-group TPOT/TTFT errors beside
aiconfigurator's on the same rows, coverage and the reasons rows were skipped."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from inferplan.validate_serving import ServingSkip, ServingStats


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}"


def serving_stats_table(stats: Sequence[ServingStats]) -> Table:
    table = Table(title="closed-loop serving rows (disagg groups: simulated pools): MAPE, "
                        "and median pred/meas",
                  title_justify="left")
    for col in ("group", "rows", "TPOT", "TTFT", "TPOT p/m", "TTFT p/m", "peer rows",
                "ours TPOT", "ours TTFT", "aic TPOT", "aic TTFT"):
        table.add_column(col, justify="left" if col == "group" else "right")
    for s in stats:
        table.add_row(s.group, str(s.rows), _pct(s.tpot_mape), _pct(s.ttft_mape),
                      f"{s.tpot_ratio:.2f}", f"{s.ttft_ratio:.2f}", str(s.peer_rows),
                      _pct(s.ours_tpot_mape_on_peer), _pct(s.ours_ttft_mape_on_peer),
                      _pct(s.peer_tpot_mape), _pct(s.peer_ttft_mape))
    return table


def render_serving_validation(stats: Sequence[ServingStats], skipped: Sequence[ServingSkip],
                              evaluated: int, coverage: float, console: Console,
                              method: str = "closed form") -> None:
    """The group table, then coverage and the skip reasons with their counts."""
    console.print(f"{evaluated} serving rows predicted ({method}), {len(skipped)} skipped; "
                  "coverage of "
                  f"the agg rows {coverage:.0%}. MAPE = mean |pred - meas| / meas; 'peer "
                  "rows' are those aiconfigurator 0.12 predicts, scored for both.")
    console.print(serving_stats_table(stats))
    reasons = Counter(s.reason for s in skipped)
    table = Table(title="skipped rows", title_justify="left")
    table.add_column("rows", justify="right")
    table.add_column("reason")
    for reason, count in reasons.most_common():
        table.add_row(str(count), reason)
    console.print(table)
