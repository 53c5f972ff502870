"""Terminal rendering of `inferplan validate`: error tables, optional per-row list, skips."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from inferplan.validate import Case, ErrorStats, Skipped


def error_stats_table(stats: Sequence[ErrorStats], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for col, justify in (("group", "left"), ("rows", "right"), ("median APE", "right"),
                         ("p90 APE", "right"), ("bias", "right")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for s in stats:
        table.add_row(s.group, str(s.rows), f"{s.median_ape:.1%}", f"{s.p90_ape:.1%}",
                      f"{s.bias:+.1%}")
    return table


def rows_table(cases: Sequence[Case]) -> Table:
    table = Table(title="every mapped row", title_justify="left")
    for col in ("id", "model", "chips", "in/out", "batch", "metric", "measured",
                "predicted", "error"):
        table.add_column(col, justify="left" if col in ("id", "model", "metric") else "right")
    for c in cases:
        w = c.scenario["workload"]
        scale = 1e3 if c.kind in ("ttft", "tpot") else 1.0
        unit = " ms" if scale == 1e3 else ""
        table.add_row(c.row_id, c.scenario["model"], f"{c.scenario['chips']}x {c.hardware}",
                      f"{w['input_len']}/{w['output_len']}", str(w["batch"]),
                      c.field, f"{c.measured * scale:,.4g}{unit}",
                      f"{c.predicted * scale:,.4g}{unit}", f"{c.error:+.1%}")
    return table


def render_validation(all_stats: Sequence[ErrorStats], target_stats: Sequence[ErrorStats],
                      cases: Sequence[Case], skipped: Sequence[Skipped], efficiency: str,
                      console: Console, show_rows: bool = False) -> None:
    """Errors over every mapped row, over the target rows, then why rows were skipped."""
    console.print(f"{len(cases)} rows predicted ({efficiency}), {len(skipped)} skipped. "
                  "APE = |pred - meas| / meas; bias = median (pred - meas) / meas.")
    if show_rows:
        console.print(rows_table(cases))
    console.print(error_stats_table(
        target_stats, "static-batch throughput and TTFT rows (target: median APE <= 15%)"))
    console.print(error_stats_table(all_stats, "all mapped rows"))
    reasons = Counter(s.reason for s in skipped)
    if reasons:
        table = Table(title="skipped rows", title_justify="left")
        table.add_column("rows", justify="right")
        table.add_column("ids")
        table.add_column("reason")
        for reason, count in reasons.most_common():
            ids = [s.row_id for s in skipped if s.reason == reason]
            shown = ", ".join(ids[:3]) + (", ..." if len(ids) > 3 else "")
            table.add_row(str(count), shown, reason)
        console.print(table)
