"""The report's section for a sweep's results (`inferplan sweep … --out DIR`, read back
by `inferplan.sweep.read_results`): every point's scenario fields and figures as a table,
and TPOT against output tokens/s per chip for the answered points, one marker per job.

The rows arrive as the sweep wrote them (SI units); this module formats them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from inferplan.report.html.markup import figure, paragraph, table
from inferplan.report.html.page import Section

#: rows shown in the table (all of them go into the chart)
MAX_TABLE_ROWS = 200


@dataclass(frozen=True)
class SweepRows:
    """A sweep's result rows (column → value, as `read_results` returns them) and where
    they were read from."""

    source: str
    rows: list[dict[str, Any]]


def _ms(value: Any) -> str:
    return "" if value is None else f"{float(value) * 1e3:,.1f}"


def _point(row: dict[str, Any]) -> str:
    """The point's deployment and workload, as the table's first cell."""
    return (f"{row.get('model')} on {row.get('chips')}x {row.get('hardware')}, "
            f"{row.get('engine')}, tp{row.get('tp')}; {row.get('input_len')}/"
            f"{row.get('output_len')} C={row.get('concurrency')}")


def sweep_table(sweep: SweepRows) -> str:
    """One row per point (at most MAX_TABLE_ROWS): job, TTFT and TPOT mean and p90 (ms),
    tokens/s per chip, and the reason for a point that could not be answered."""
    rows: list[list[str | int | float]] = [
        [_point(r), str(r.get("job")), _ms(r.get("ttft_s_mean")), _ms(r.get("ttft_s_p90")),
         _ms(r.get("tpot_s_mean")), _ms(r.get("tpot_s_p90")),
         "" if r.get("output_tokens_per_s_per_chip") is None
         else f"{float(r['output_tokens_per_s_per_chip']):,.1f}", str(r.get("error") or "")]
        for r in sweep.rows[:MAX_TABLE_ROWS]]
    caption = (f"{len(sweep.rows)} points" + (f", the first {MAX_TABLE_ROWS} shown"
                                                if len(sweep.rows) > MAX_TABLE_ROWS else ""))
    return table(["point", "job", "TTFT ms", "TTFT p90", "TPOT ms", "TPOT p90",
                  "tok/s/chip", "error"], rows, caption=caption, numeric={2, 3, 4, 5, 6})


def sweep_figure(sweep: SweepRows, div_id: str) -> str:
    """TPOT (mean, ms) against output tokens/s per chip of every answered point, a trace
    per job, the point's description on hover."""
    import plotly.graph_objects as go  # type: ignore[import-untyped]

    fig: Any = go.Figure()
    answered = [r for r in sweep.rows if r.get("error") is None
                and r.get("tpot_s_mean") is not None
                and r.get("output_tokens_per_s_per_chip") is not None]
    for job in sorted({str(r.get("job")) for r in answered}):
        mine = [r for r in answered if str(r.get("job")) == job]
        fig.add_trace(go.Scatter(
            x=[float(r["output_tokens_per_s_per_chip"]) for r in mine],
            y=[float(r["tpot_s_mean"]) * 1e3 for r in mine], mode="markers", name=job,
            text=[_point(r) for r in mine],
            hovertemplate="%{text}<br>%{x:,.1f} tok/s/chip, TPOT %{y:,.2f} ms<extra></extra>"))
    fig.update_layout(title="every answered point: TPOT against output tokens/s per chip",
                      xaxis_title="output tokens/s per chip", yaxis_title="TPOT (ms)")
    return figure(fig, div_id)


def sweep_section(sweep: SweepRows, anchor: str, title: str) -> Section:
    """The sweep's section: where it was read from, its chart and its table."""
    errors = sum(1 for r in sweep.rows if r.get("error"))
    intro = paragraph(f"{len(sweep.rows)} points read from {sweep.source}"
                      f" ({errors} could not be answered; their reason is in the table).")
    return Section(anchor, title, intro + sweep_figure(sweep, f"{anchor}-chart")
                   + sweep_table(sweep))
