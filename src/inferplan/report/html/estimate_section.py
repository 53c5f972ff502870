"""The report's section for one scenario's `inferplan estimate`: the headline figures,
every named term of TTFT and TPOT (the prefill and decode steps' exposed time by term,
the bound, MFU), a chart of that split, and the memory per chip.

Everything comes from the `Estimate` (`serving.estimate`) and its memory result; this
module formats it."""

from __future__ import annotations

from typing import Any

from inferplan.report.estimate_table import TERMS, describe
from inferplan.report.html.markup import figure, paragraph, table
from inferplan.report.html.page import Section
from inferplan.serving import Estimate, explain
from inferplan.units import GIB

#: What the prefill and decode columns are, by the estimate's mode.
PHASES = {"static": ("prefill step (TTFT)", "decode, mean step (TPOT)"),
          "concurrency": ("one prompt's prefill step", "decode, per output token (TPOT)"),
          "max": ("one prompt's prefill step", "decode, per output token (TPOT)")}
TERM_COLOURS = {"compute": "#4c78a8", "weights": "#f58518", "kv": "#54a24b",
                "communication": "#e45756", "overhead": "#9d755d"}
MEMORY_ROWS = (("weights", "weights_bytes_per_chip"), ("KV cache", "kv_bytes_per_chip"),
               ("working memory", "activation_bytes_per_chip"))


def headline_table(est: Estimate) -> str:
    """TTFT, TPOT, end-to-end latency, throughput and cost."""
    usd = est.usd_per_million_output_tokens
    return table(
        ["TTFT", "TPOT", "end-to-end", "output tok/s", "output tok/s per chip",
         "requests/s", "$ per M output tokens"],
        [[f"{est.ttft_s * 1e3:,.1f} ms", f"{est.tpot_s * 1e3:,.2f} ms",
          f"{est.e2e_latency_s:,.2f} s", f"{est.output_tokens_per_s:,.0f}",
          f"{est.output_tokens_per_s_per_chip:,.1f}", f"{est.requests_per_s:,.2f}",
          "n/a" if usd is None else f"${usd:,.3f}"]],
        numeric=range(7), css_class="headline")


def terms_table(est: Estimate) -> str:
    """Each named term of the prefill and decode steps (ms), their total, bound and MFU."""
    phases = (est.prefill, est.decode)
    rows: list[list[str | int | float]] = [
        [term, *(f"{p.breakdown_s[term] * 1e3:,.3f}" for p in phases)] for term in TERMS]
    rows.append(["total", *(f"{p.latency_s * 1e3:,.3f}" for p in phases)])
    rows.append(["bound", *(p.bound for p in phases)])
    rows.append(["MFU", *(f"{p.mfu:.1%}" for p in phases)])
    if est.deployment.layout.layout == "auto" and est.prefill.layout != "none":
        rows.append(["layout (auto)", est.prefill.layout, est.decode.layout])
    return table(["exposed time (ms)", *PHASES[est.mode]], rows,
                 caption="TTFT and TPOT by term")


def terms_figure(est: Estimate, div_id: str) -> str:
    """The split of the two steps as stacked bars, each phase on its own scale."""
    import plotly.graph_objects as go  # type: ignore[import-untyped]
    from plotly.subplots import make_subplots  # type: ignore[import-untyped]

    titles = PHASES[est.mode]
    fig = make_subplots(rows=1, cols=2, subplot_titles=titles, horizontal_spacing=0.12)
    for col, phase in enumerate((est.prefill, est.decode), start=1):
        for term in TERMS:
            fig.add_trace(go.Bar(x=[phase.breakdown_s[term] * 1e3], y=[titles[col - 1]],
                                 orientation="h", name=term, legendgroup=term,
                                 showlegend=col == 1,
                                 marker={"color": TERM_COLOURS[term]},
                                 hovertemplate=f"{term}: %{{x:.3f}} ms<extra></extra>"),
                          row=1, col=col)
        fig.update_xaxes(title_text="ms", row=1, col=col)
        fig.update_yaxes(showticklabels=False, row=1, col=col)
    fig.update_layout(barmode="stack", title="exposed step time by term",
                      legend={"orientation": "h", "y": -0.35})
    return figure(fig, div_id, height_px=300)


def memory_table(est: Estimate) -> str:
    """Bytes per chip by use, against the usable memory and the capacity."""
    mem = est.memory.memory_dict()
    usable = mem["usable_bytes_per_chip"]
    context = est.workload.context_len
    labels = {"kv_bytes_per_chip": f"KV cache ({est.batch} seq x {context} tok)"}
    keys = [*(key for _, key in MEMORY_ROWS), "total_bytes_per_chip", "usable_bytes_per_chip",
            "capacity_bytes_per_chip"]
    names = dict((key, name) for name, key in MEMORY_ROWS) | {
        "total_bytes_per_chip": "total",
        "usable_bytes_per_chip": f"usable ({est.deployment.usable_fraction:.0%} of capacity)",
        "capacity_bytes_per_chip": "capacity"}
    rows: list[list[str | int | float]] = [
        [labels.get(key, names[key]), f"{mem[key]:,.0f}", f"{mem[key] / GIB:,.2f}",
         f"{mem[key] / usable:.1%}"] for key in keys]
    return table(["per chip", "bytes", "GiB", "share of usable"], rows,
                 caption="memory per chip")


def memory_figure(est: Estimate, div_id: str) -> str:
    """Weights, KV cache and working memory stacked, against usable and capacity."""
    import plotly.graph_objects as go

    mem = est.memory.memory_dict()
    fig: Any = go.Figure()
    for name, key in MEMORY_ROWS:
        fig.add_trace(go.Bar(x=[mem[key] / GIB], y=["per chip"], orientation="h", name=name,
                             hovertemplate=f"{name}: %{{x:.2f}} GiB<extra></extra>"))
    # usable under the bar, capacity over it: apart when they coincide (`ideal`)
    for key, name, dash, y, shift in (("usable_bytes_per_chip", "usable", "dash", -0.5, -10),
                                      ("capacity_bytes_per_chip", "capacity", "solid", 0.5,
                                       10)):
        x = mem[key] / GIB
        fig.add_shape(type="line", x0=x, x1=x, y0=-0.5, y1=0.5, line={"dash": dash})
        fig.add_annotation(x=x, y=y, text=name, showarrow=False, yshift=shift)
    fig.update_layout(barmode="stack", title="memory per chip (GiB)",
                      xaxis_title="GiB", legend={"orientation": "h", "y": -0.5})
    return figure(fig, div_id, height_px=260)


def estimate_section(est: Estimate, anchor: str, title: str) -> Section:
    """The section of one estimate; `anchor` also prefixes its figures' ids."""
    fits = ("fits" if est.fits else "does not fit") + (
        f"; largest batch per replica at {est.workload.context_len} tokens: "
        f"{est.memory.max_batch}")
    body = "\n".join([
        paragraph(describe(est) + f"; {est.deployment.engine.display_name} "
                  f"{est.deployment.engine.version}"),
        headline_table(est),
        paragraph(explain(est)),
        terms_table(est),
        terms_figure(est, f"{anchor}-terms"),
        memory_table(est),
        paragraph(fits, "note"),
        memory_figure(est, f"{anchor}-memory"),
    ])
    return Section(anchor, title, body)
