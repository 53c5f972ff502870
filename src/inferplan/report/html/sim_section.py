"""The report's section for one scenario's `inferplan simulate`: the per-request
percentiles (mean, p50, p90, p99 of TTFT, TPOT, inter-token latency and end-to-end
latency), the throughput, and the closed form of the same loop beside them.

Everything comes from the `Simulation` (`sim.run`); this module formats it."""

from __future__ import annotations

from typing import Any

from inferplan.report.html.markup import figure, paragraph, table
from inferplan.report.html.page import Section
from inferplan.sim.metrics import Distribution
from inferplan.sim.run import Simulation, lengths_text

STATS = ("mean", "p50", "p90", "p99")


def _metrics(sim: Simulation) -> list[tuple[str, Distribution]]:
    s = sim.summary
    return [("TTFT", s.ttft_s), ("TPOT", s.tpot_s), ("ITL (per token)", s.itl_s),
            ("end-to-end", s.e2e_s)]


def percentile_table(sim: Simulation) -> str:
    """Mean and percentiles per request, in ms."""
    rows: list[list[str | int | float]] = [
        [name, *(f"{getattr(dist, stat) * 1e3:,.1f}" for stat in STATS)]
        for name, dist in _metrics(sim)]
    return table(["per request (ms)", *STATS], rows, caption="simulated percentiles")


def percentile_figure(sim: Simulation, div_id: str) -> str:
    """p50, p90 and p99 of each latency as grouped bars (ms), one panel per latency."""
    import plotly.graph_objects as go  # type: ignore[import-untyped]
    from plotly.subplots import make_subplots  # type: ignore[import-untyped]

    metrics = _metrics(sim)
    fig: Any = make_subplots(rows=1, cols=len(metrics),
                             subplot_titles=[name for name, _ in metrics])
    for col, (_, dist) in enumerate(metrics, start=1):
        fig.add_trace(go.Bar(x=list(STATS[1:]), y=[getattr(dist, s) * 1e3 for s in STATS[1:]],
                             marker={"color": ["#4c78a8", "#f58518", "#e45756"]},
                             showlegend=False,
                             hovertemplate="%{x}: %{y:,.1f} ms<extra></extra>"),
                      row=1, col=col)
    fig.update_yaxes(title_text="ms", row=1, col=1)
    fig.update_layout(title="per-request percentiles (ms)")
    return figure(fig, div_id, height_px=320)


def summary_line(sim: Simulation) -> str:
    """Load, throughput, steps, and the closed form of the same loop."""
    d, w, s = sim.deployment, sim.workload, sim.summary
    load = (f"{sim.concurrency} clients" if sim.concurrency is not None
            else f"{w.rate:g} requests/s ({w.arrival})" if w.rate is not None
            else f"trace {w.trace}" if w.trace is not None else "offline")
    text = (f"{d.model.name} on {sim.chips} chips of {d.chip.name}, "
            f"{d.engine.display_name} {d.engine.version}; {load}, {s.requests} requests of "
            f"{lengths_text(w)}, seed {sim.seed}: {s.output_tokens_per_s:,.0f} output tok/s "
            f"({s.output_tokens_per_s / sim.chips:,.1f} per chip), "
            f"{s.requests_per_s:,.2f} requests/s over {s.duration_s:,.1f} s, "
            f"{s.steps:,} steps, at most {s.max_running} running, "
            f"{s.preemptions} preemptions.")
    if sim.closed_form_ttft_s is not None and sim.closed_form_tpot_s is not None:
        text += (f" Closed form of the same loop: TTFT {sim.closed_form_ttft_s * 1e3:,.1f} ms,"
                 f" TPOT {sim.closed_form_tpot_s * 1e3:,.2f} ms.")
    return text


def sim_section(sim: Simulation, anchor: str, title: str) -> Section:
    """The section of one simulation; `anchor` also prefixes its figure's id."""
    body = "\n".join([paragraph(summary_line(sim)), percentile_table(sim),
                      percentile_figure(sim, f"{anchor}-percentiles")])
    return Section(anchor, title, body)
