"""The report's interactive roofline figure (seed 001's): the decode step's time by term
(compute, weights, kv, communication, overhead; stacked) against the decode batch, one
trace set per context length, and a slider over the context lengths that shows one set
at a time. The scenario's own context is where the slider starts.

Everything comes from the `StepGrid` (`roofline.decode_step_grid`); this module draws
it. A batch that does not fit at a context is NaN in the grid and left out of its set.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from inferplan.report.estimate_table import TERMS
from inferplan.report.html.estimate_section import TERM_COLOURS
from inferplan.report.html.markup import figure, paragraph
from inferplan.report.html.page import Section
from inferplan.roofline import StepGrid


def _title(grid: StepGrid, k: int) -> str:
    return (f"decode step time by term at {int(grid.context_tokens[k]):,} tokens of context "
            f"(batch 1..{int(grid.max_batch[k]):,} fits)")


def roofline_figure(grid: StepGrid, div_id: str) -> str:
    """Stacked step time (ms) against batch (log axis), a slider over context lengths."""
    import plotly.graph_objects as go  # type: ignore[import-untyped]

    fig: Any = go.Figure()
    active = grid.scenario_index
    n_terms = len(TERMS)
    for k, context in enumerate(grid.context_tokens):
        keep = ~np.isnan(grid.terms_s[TERMS[0]][:, k])
        for term in TERMS:
            fig.add_trace(go.Scatter(
                x=grid.batch[keep].tolist(), y=(grid.terms_s[term][keep, k] * 1e3).tolist(),
                mode="lines", stackgroup=f"context-{k}", name=term, legendgroup=term,
                line={"color": TERM_COLOURS[term], "width": 0.5},
                visible=k == active, showlegend=True,
                hovertemplate=(f"{term} at B=%{{x}}, T={int(context):,}: "
                               "%{y:.3f} ms<extra></extra>")))
    steps = []
    for k, context in enumerate(grid.context_tokens):
        visible = [j // n_terms == k for j in range(n_terms * grid.context_tokens.size)]
        steps.append({"method": "update", "label": f"{int(context):,}",
                      "args": [{"visible": visible}, {"title.text": _title(grid, k)}]})
    fig.update_layout(
        title=_title(grid, active), xaxis={"title": "decode batch (sequences)", "type": "log"},
        yaxis={"title": "ms per decode step"}, hovermode="x unified",
        legend={"orientation": "h", "y": -0.45},
        sliders=[{"active": active, "steps": steps, "pad": {"t": 60},
                  "currentvalue": {"prefix": "context (tokens): "}}])
    return figure(fig, div_id, height_px=520)


def roofline_section(grid: StepGrid, anchor: str, title: str) -> Section:
    """The section of one scenario's step-time grid; `anchor` prefixes its figure's id."""
    fits = ", ".join(f"{int(t):,}: {int(b):,}" for t, b in
                     zip(grid.context_tokens, grid.max_batch, strict=True))
    body = "\n".join([
        paragraph("The decode step (one new token per sequence) priced by the scenario's "
                  "step-time model at every batch that fits, by term; the slider picks the "
                  "context length each sequence holds (it starts at the scenario's "
                  f"{grid.scenario_context_tokens:,} tokens)."),
        roofline_figure(grid, f"{anchor}-roofline"),
        paragraph(f"Largest batch that fits and runs, by context (tokens: sequences): "
                  f"{fits}.", "note"),
    ])
    return Section(anchor, title, body)
